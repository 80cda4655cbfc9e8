"""The service's life beyond single requests: clients that hang up, draining at shutdown, hot reload."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
from typing import TYPE_CHECKING, Awaitable, TypeVar

from fastapi import Request

from service.api.errors import ClientDisconnected
from service.scheduling.registry import LoadedModel, ModelRegistry, load_model, model_directories
from service.settings import ServiceSettings

if TYPE_CHECKING:
    from service.state import ServiceState

logger = logging.getLogger("service")

WARMUP_TEXT = "warm up"

T = TypeVar("T")


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; if the client hangs up first, cancel it (its queued sentences leave the batch).

    Raises:
        ClientDisconnected: the client went away (nobody reads the answer; it is counted in the metrics).
    """
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(client_disconnected(request))
    try:
        await asyncio.wait([task, gone], return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        gone.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    raise ClientDisconnected("the client closed the connection before the translation was done")


async def client_disconnected(request: Request) -> None:
    """Complete when the client closes the connection.

    Call it only once the request body has been read: from then on the server's next message on
    this connection is ``http.disconnect``, which arrives as soon as the client goes away.
    """
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def drain(state: "ServiceState", limit_s: float) -> int:
    """Take no new work and wait up to ``limit_s`` for accepted work; returns how many requests got a 503.

    ``/ready`` answers 503 from the first moment (see :class:`service.ops.server.TranslationServer` for
    the whole shutdown order). Accepted document jobs drain first, within the same limit
    (:meth:`service.scheduling.document_jobs.DocumentJobs.drain`); the ones cut short are marked failed.
    """
    state.draining = True
    if state.queue is None:
        return 0
    logger.info("draining: /ready is 503, new translations get 503; %d sentences and %d documents accepted, "
                "waiting up to %g s", state.queue.pending_sentences, state.documents.active(), limit_s)
    # Documents first: their jobs send their sentences in parts, which the queue still takes while they drain.
    state.queue.stop_accepting()
    started = asyncio.get_running_loop().time()
    await state.documents.drain(limit_s)
    late = await state.queue.drain(max(0.0, limit_s - (asyncio.get_running_loop().time() - started)))
    if late:
        logger.warning("drain limit of %g s reached: %d requests answered 503", limit_s, late)
    else:
        logger.info("drained: every accepted request has been answered")
    return late


async def reload_models(state: "ServiceState") -> None:
    """Load every model directory again off the event loop, then swap the new versions in at once.

    A directory that fails to load (or to translate a warm-up sentence) is refused with one log line
    and its old version keeps serving. Requests already queued finish on the model they started with.
    """
    async with state.reload_lock:
        if state.registry is None:
            logger.error("reload refused: the models have not finished loading")
            return
        models = await asyncio.to_thread(_load_new_versions, state.settings, state.registry)
        state.registry = ModelRegistry(models)
        await asyncio.to_thread(_release_memory)
        logger.info("reload done; serving %s", ", ".join(f"{m.name} {m.version}" for m in models))


def _load_new_versions(settings: ServiceSettings, current: ModelRegistry) -> list[LoadedModel]:
    """A model per directory: the new version where it loads and translates, else the one serving now."""
    old = {model.name: model for model in current.models}
    try:
        directories = model_directories(settings)
    except Exception as error:
        logger.error("reload refused: %s; still serving the current models", _one_line(error))
        return list(old.values())
    models = []
    for directory in directories:
        name = directory.resolve().name
        try:
            model = load_model(directory, settings)
            model.translator.translate([WARMUP_TEXT], beam_size=1, max_output_length=8)
        except Exception as error:
            if name in old:
                logger.error("reload refused for %s: %s; still serving version %s", directory, _one_line(error),
                             old[name].version)
                models.append(old[name])
            else:
                logger.error("reload refused for new model %s: %s", directory, _one_line(error))
            continue
        if name in old:
            logger.info("reload: %s version %s -> %s", name, old[name].version, model.version)
        models.append(model)
    return models or list(old.values())


def _release_memory() -> None:
    """Free the replaced models now and hand the freed heap back to the OS (glibc keeps it otherwise),
    so reloads do not ratchet the resident memory up. Queued work still holding an old model keeps it."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _one_line(error: Exception) -> str:
    """An exception as one log line."""
    return " ".join(f"{type(error).__name__}: {error}".split())
