"""The app factory: ``create_app(settings)`` builds a FastAPI app that loads its models in its lifespan.

Start-up loads every model directory (off the event loop), starts the batching queue, and warms
each model up with one translation in the background; ``/ready`` turns 200 when that is done.
Shut-down stops the queue (requests still unanswered get a 503); the graceful drain before it is
:class:`service.ops.server.TranslationServer`'s job.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

import torch
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from translator import __version__

from service.ops.auth import ApiKeyGateMiddleware
from service.scheduling.clock import Clock
from service.scheduling.queue import BatchingQueue, SearchOptions
from service.scheduling.detect import detector_for
from service.api.documents import UPLOAD_PATHS, router as documents_router
from service.api.errors import UnexpectedErrors, install_error_handlers
from service.api.libretranslate import install_libretranslate
from service.api.libretranslate_files import FILE_UPLOAD_PATHS, install_libretranslate_files
from service.api.uploads import upload_body_bytes
from service.scheduling.document_jobs import DocumentJobs
from service.ops.lifecycle import WARMUP_TEXT
from service.ops.limits import BodySizeLimitMiddleware, HeaderSizeLimitMiddleware
from service.ops.metrics import RequestMetricsMiddleware, ServiceMetrics
from service.api.page import install_page
from service.scheduling.registry import load_registry
from service.api.routes import router
from service.api.glossaries import router as glossary_router
from service.state import ServiceState
from service.scheduling.routing import languages
from service.settings import ServiceSettings

logger = logging.getLogger("service")

DOCS_ASSETS_URL = "/docs-assets"  # Swagger UI's and ReDoc's scripts, stylesheet and icon

DESCRIPTION = """\
Neural machine translation over HTTP. `POST /translate` with `text` (or `texts`) and `source_lang` /
`target_lang` (or a `model` name from `GET /models`). Concurrent requests are batched together.
When the server has an API key, send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
Errors are JSON `{"detail": "..."}` naming the field or limit at fault.
"""


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the translation service; ``settings`` default to the ``TRANSLATOR_*`` environment, ``clock``
    (what the batching queue times its windows and slices by) to the real one."""
    settings = settings if settings is not None else ServiceSettings()
    metrics = ServiceMetrics()
    documents = DocumentJobs(settings.document_dir, settings.document_jobs_running, settings.document_max_jobs,
                             settings.document_result_ttl_s, settings.document_job_timeout_s, settings.retry_after_s)
    state = ServiceState(settings, metrics, documents)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        state.registry = await asyncio.to_thread(load_registry, settings)
        devices = sorted({str(model.translator.device) for model in state.registry.models})
        logger.info("serving %s on %s", state.registry.available(), ", ".join(devices))
        state.queue = BatchingQueue(
            metrics, window_s=settings.batch_window_ms / 1000, max_tokens=settings.batch_max_tokens,
            max_sentences=settings.batch_max_sentences, max_pending_sentences=settings.queue_max_sentences,
            retry_after_s=settings.retry_after_s, slice_s=settings.batch_slice_ms / 1000, clock=clock,
        )
        await state.queue.start()
        await documents.start()
        if settings.warmup:
            task = asyncio.create_task(_warm_up(state), name="warm-up")
            state.background.add(task)
            task.add_done_callback(state.background.discard)
        else:
            state.ready = True
        try:
            yield
        finally:
            state.ready = False
            for task in list(state.background):
                task.cancel()
            await documents.stop()
            await state.queue.stop()

    # /docs and /redoc with Swagger UI's and ReDoc's files served from the fastapi-offline package, not a CDN:
    # they work offline and behind a firewall, and load nothing from elsewhere.
    app = FastAPIOffline(title="Translation service", version=__version__, description=DESCRIPTION,
                         lifespan=lifespan, static_url=DOCS_ASSETS_URL)
    app.state.service = state

    def count_error(kind: str) -> None:
        metrics.errors.labels(kind).inc()

    install_error_handlers(app, count_error)
    app.include_router(router)
    app.include_router(documents_router)
    app.include_router(glossary_router)
    install_page(app)
    install_libretranslate(app)  # before the body-size limit is added, so that limit runs first
    install_libretranslate_files(app)
    # Documents are not read whole by the limit but counted as their endpoint reads them (service.api.uploads).
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, count_error=count_error,
                       timeout_s=settings.body_timeout_s, keyless_max_bytes=settings.max_keyless_body_bytes,
                       upload_paths=UPLOAD_PATHS | FILE_UPLOAD_PATHS, upload_max_bytes=upload_body_bytes(settings),
                       upload_timeout_s=settings.document_upload_timeout_s)
    app.add_middleware(ApiKeyGateMiddleware, api_keys=settings.api_keys, count_error=count_error)  # before the body is read
    app.add_middleware(HeaderSizeLimitMiddleware, max_bytes=settings.max_header_bytes, count_error=count_error)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)  # sees every answer, a 500 included
    app.add_middleware(UnexpectedErrors, count_error=count_error)  # added last: outermost, catches everything
    return app


async def _warm_up(state: ServiceState) -> None:
    """Translate one short sentence per model and detect its language, so the first client does not pay for
    lazy initialisation (lingua loads its language models, about 100 MiB for two languages, on its first detection)."""
    assert state.registry is not None and state.queue is not None
    try:
        for model in state.registry.models:
            await state.queue.submit(model, SearchOptions(beam_size=1, max_output_length=8), [WARMUP_TEXT])
        await asyncio.to_thread(detector_for(frozenset(languages(state.registry))).detect, WARMUP_TEXT)
    except Exception:
        logger.exception("warm-up translation failed; /ready stays 503")
        state.warmup_error = "see the server log"
        return
    state.ready = True
    logger.info("warm-up done; ready")
