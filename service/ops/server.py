"""The uvicorn server of ``translator-serve``, with the service's own signal handling.

SIGTERM or SIGINT (Kubernetes sends SIGTERM on every rolling update) shuts down without losing
accepted work, in this order:

1. ``/ready`` answers 503 at once, so load balancers and Kubernetes stop sending new work.
2. The listener stays open: requests that still arrive are answered 503 with ``Retry-After``
   (not refused), so clients and proxies retry elsewhere.
3. Accepted work drains: every request already accepted gets its answer (200, or its own error
   such as a 504 at its timeout), for at most ``drain_timeout_s`` (default: the request timeout
   plus 5 s, so nothing accepted is ever cut short by the drain limit). Accepted document jobs
   go on translating within the same limit; their results can be downloaded until the exit.
4. At the limit, requests still unanswered get 503 + ``Retry-After`` and their sentences leave
   the batch; document jobs still unfinished are marked failed ("the server shut down"). A second
   SIGTERM/SIGINT jumps here at once.
5. uvicorn stops listening, closes idle keep-alive connections, waits up to
   ``SHUTDOWN_WRITE_S`` for the answers to be written, runs the app's lifespan shutdown (stopping
   the model worker), and the process exits with status 0 at once (skipping the interpreter's
   teardown of torch and the language detector, which took 3-4 s and has nothing left to save).

Kubernetes' ``terminationGracePeriodSeconds`` must exceed the drain limit plus that write time
(``deploy/kubernetes/deployment.yaml`` does).

SIGHUP reloads the model directories in the background (:func:`service.ops.lifecycle.reload_models`):
each new version that loads and translates replaces the old one atomically; a broken one is
refused with a log line and the old version keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from contextlib import contextmanager
from types import FrameType
from typing import Generator

import uvicorn

from service.ops.lifecycle import drain, reload_models
from service.state import ServiceState

logger = logging.getLogger("service")

SHUTDOWN_WRITE_S = 5  # for answers already settled to be written once the drain has ended


class TranslationServer(uvicorn.Server):
    """uvicorn's Server, draining on SIGTERM/SIGINT and reloading models on SIGHUP (module docstring)."""

    def __init__(self, config: uvicorn.Config, state: ServiceState) -> None:
        super().__init__(config)
        self.state = state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()

    def run(self, sockets=None) -> None:  # noqa: ANN001 (uvicorn's signature)
        """uvicorn's run; after a clean shutdown (step 5) the process exits at once with status 0.

        Returns only when the app failed to start (``self.started`` is false; uvicorn has logged why).
        """
        super().run(sockets)
        if self.started:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    async def serve(self, sockets=None) -> None:  # noqa: ANN001 (uvicorn's signature)
        """Run the server; remembers the event loop so signal handlers can schedule work on it."""
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """uvicorn's SIGTERM/SIGINT handling (routed to :meth:`handle_exit`), plus SIGHUP for reloads."""
        previous = signal.signal(signal.SIGHUP, self._handle_reload)
        try:
            with super().capture_signals():
                yield
        finally:
            signal.signal(signal.SIGHUP, previous)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain, then exit (steps 1-5); a second one cuts the drain short (step 4)."""
        if self._loop is None or self.state.queue is None:  # nothing accepted yet: exit at once
            self.should_exit = True
            return
        if self._draining is None:
            logger.info("received %s: shutting down gracefully", signal.Signals(sig).name)
            self._loop.call_soon_threadsafe(self._start_drain)
        else:
            logger.warning("received %s again: answering the remaining requests 503 now", signal.Signals(sig).name)
            self.state.documents.cut_drain()
            self.state.queue.cut_drain()

    def _start_drain(self) -> None:
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        try:
            await drain(self.state, self.state.settings.drain_limit_s)
        finally:
            self.should_exit = True

    def _handle_reload(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is not None:
            logger.info("received SIGHUP: reloading the model directories in the background")
            self._loop.call_soon_threadsafe(self._start_reload)

    def _start_reload(self) -> None:
        task = asyncio.ensure_future(reload_models(self.state))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
