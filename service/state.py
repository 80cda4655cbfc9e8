"""What every request handler shares: the service's state (settings, metrics, and once loaded the
models and the queue), found from the request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fastapi import Request

from service.api.errors import Overloaded
from service.ops.glossary_store import GlossaryStore
from service.ops.metrics import ServiceMetrics
from service.scheduling.document_jobs import DocumentJobs
from service.scheduling.queue import BatchingQueue
from service.scheduling.registry import ModelRegistry
from service.settings import ServiceSettings


@dataclass
class ServiceState:
    """What the routes share: settings, metrics, the document jobs, and (once the lifespan has loaded them) models
    and queue."""

    settings: ServiceSettings
    metrics: ServiceMetrics
    documents: DocumentJobs
    registry: ModelRegistry | None = None
    queue: BatchingQueue | None = None
    ready: bool = False
    draining: bool = False
    warmup_error: str | None = None
    background: set[asyncio.Task] = field(default_factory=set)
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    glossaries: GlossaryStore | None = None  # opened on first use (service.api.glossaries)

    def serving(self) -> tuple[ModelRegistry, BatchingQueue]:
        """The loaded models and the queue that feeds them.

        Raises:
            Overloaded: the lifespan has not loaded them yet (503 with Retry-After).
        """
        if self.registry is None or self.queue is None:
            raise Overloaded("the models are still loading; retry shortly",
                             {"Retry-After": str(self.settings.retry_after_s)})
        return self.registry, self.queue


def service_state(request: Request) -> ServiceState:
    """The state of the app serving ``request``."""
    return request.app.state.service
