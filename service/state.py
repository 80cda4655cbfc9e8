"""What every request handler shares: the service's state (settings, metrics, and once loaded the
models and the queue), found from the request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import Request

from service.ops.metrics import ServiceMetrics
from service.scheduling.queue import BatchingQueue
from service.scheduling.registry import ModelRegistry
from service.settings import ServiceSettings


@dataclass
class ServiceState:
    """What the routes share: settings, metrics, and (once the lifespan has loaded them) models and queue."""

    settings: ServiceSettings
    metrics: ServiceMetrics
    registry: ModelRegistry | None = None
    queue: BatchingQueue | None = None
    ready: bool = False
    draining: bool = False
    warmup_error: str | None = None
    background: set[asyncio.Task] = field(default_factory=set)
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def service_state(request: Request) -> ServiceState:
    """The state of the app serving ``request``."""
    return request.app.state.service
