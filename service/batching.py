"""Batching across requests: pending sentences of compatible requests share one model call.

Requests put a :class:`_Job` (their texts, model and search options) on a queue and await a future.
One dispatcher task takes the first waiting job, collects more for up to ``window_s`` seconds or until
``max_tokens`` source pieces are gathered, groups what it has by (model, search options), and runs
one ``translate_detailed`` call per group in a single worker thread, so the event loop keeps
answering (``/health`` included) while the model works. Each job gets its own slice of the results.

While a model call runs, new jobs pile up in the queue and join the next batch, so batches grow
with load. The queue is bounded by ``max_pending_sentences`` (waiting or running): past it,
:meth:`BatchingQueue.submit` raises :class:`~service.errors.Overloaded` at once instead of letting
latency grow without end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial

from translator.options import SearchOptions
from translator.translate import Translation

from service.errors import Overloaded
from service.metrics import ServiceMetrics
from service.registry import LoadedModel

logger = logging.getLogger("service")


@dataclass
class _Job:
    """One request's texts, waiting for the model."""

    model: LoadedModel
    options: SearchOptions
    texts: list[str]
    tokens: int
    future: asyncio.Future = field(repr=False)


class BatchingQueue:
    """Merges concurrent translation requests into shared model calls (see the module docstring)."""

    def __init__(self, metrics: ServiceMetrics, window_s: float = 0.005, max_tokens: int = 4096,
                 max_sentences: int = 64, max_pending_sentences: int = 1024, retry_after_s: int = 1) -> None:
        self.metrics = metrics
        self.window_s = window_s
        self.max_tokens = max_tokens
        self.max_sentences = max_sentences
        self.max_pending_sentences = max_pending_sentences
        self.retry_after_s = retry_after_s
        self.pending_sentences = 0  # accepted and not yet answered (waiting or in the model)
        self._waiting_sentences = 0
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="translator-model")
        self._dispatcher: asyncio.Task | None = None

    async def start(self) -> None:
        """Start the dispatcher task (call from the running event loop)."""
        if self._dispatcher is None:
            self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="translation-batcher")

    async def stop(self) -> None:
        """Stop dispatching; requests still waiting get a 503, a running model call is left to finish."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            try:
                await self._dispatcher
            except asyncio.CancelledError:
                pass
            self._dispatcher = None
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(Overloaded("the server is shutting down; retry on another instance"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, model: LoadedModel, options: SearchOptions, texts: list[str]) -> list[Translation]:
        """Translate ``texts`` as part of whatever batch forms; returns one Translation per text.

        Cancelling the await (e.g. a timeout) withdraws the job if the model has not started it.

        Raises:
            Overloaded: the queue already holds ``max_pending_sentences`` sentences.
            ValueError: the translator rejected the options or the input.
        """
        if self._dispatcher is None:
            raise Overloaded("the translation queue is not running; retry shortly",
                             {"Retry-After": str(self.retry_after_s)})
        if self.pending_sentences + len(texts) > self.max_pending_sentences:
            raise Overloaded(
                f"the server is overloaded: {self.pending_sentences} sentences are waiting and the queue holds at "
                f"most {self.max_pending_sentences} (queue_max_sentences); retry after {self.retry_after_s} s",
                {"Retry-After": str(self.retry_after_s)},
            )
        tokens = sum(len(ids) + 1 for ids in model.translator.source_tokenizer.encode(texts))
        job = _Job(model, options, list(texts), tokens, asyncio.get_running_loop().create_future())
        self.pending_sentences += len(texts)
        self._waiting_sentences += len(texts)
        self.metrics.queue_sentences.set(self._waiting_sentences)
        self._queue.put_nowait(job)
        try:
            return await job.future
        finally:
            self.pending_sentences -= len(texts)

    async def _dispatch_forever(self) -> None:
        """Collect a batch, run it, repeat; one failing batch never stops the loop."""
        while True:
            jobs = await self._collect()
            groups: dict[tuple[int, SearchOptions], list[_Job]] = {}
            for job in jobs:
                groups.setdefault((id(job.model), job.options), []).append(job)
            for group in groups.values():
                try:
                    await self._run_group(group)
                except Exception:  # never reached in normal operation: _run_group reports errors per job
                    logger.exception("batch dispatcher error")

    async def _collect(self) -> list[_Job]:
        """Wait for one job, then gather more for up to ``window_s`` or until the token budget is spent."""
        jobs = [await self._queue.get()]
        tokens, sentences = jobs[0].tokens, len(jobs[0].texts)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window_s
        while tokens < self.max_tokens and sentences < self.max_sentences:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            jobs.append(job)
            tokens += job.tokens
            sentences += len(job.texts)
        self._waiting_sentences -= sentences
        self.metrics.queue_sentences.set(self._waiting_sentences)
        return jobs

    async def _run_group(self, jobs: list[_Job]) -> None:
        """One model call for jobs sharing model and options; if it fails, retry each job alone."""
        jobs = [job for job in jobs if not job.future.done()]  # timed out or cancelled while waiting
        if not jobs:
            return
        model, options = jobs[0].model, jobs[0].options
        texts = [text for job in jobs for text in job.texts]
        try:
            results = await self._translate(model, options, texts)
        except Exception as error:
            if len(jobs) > 1:  # find the job that caused it; the others still get their translations
                for job in jobs:
                    await self._run_group([job])
                return
            if not jobs[0].future.done():
                jobs[0].future.set_exception(error)
            return
        self.metrics.batch_requests.observe(len(jobs))
        self.metrics.source_tokens.labels(model.name).inc(sum(job.tokens for job in jobs))
        self.metrics.sentences.labels(model.name).inc(len(texts))
        start = 0
        for job in jobs:
            if not job.future.done():
                job.future.set_result(results[start:start + len(job.texts)])
            start += len(job.texts)

    async def _translate(self, model: LoadedModel, options: SearchOptions, texts: list[str]) -> list[Translation]:
        """Run ``translate_detailed`` in the worker thread."""
        call = partial(model.translator.translate_detailed, texts, **asdict(options),
                       max_batch_sentences=self.max_sentences, max_batch_tokens=self.max_tokens)
        started = time.perf_counter()
        results = await asyncio.get_running_loop().run_in_executor(self._executor, call)
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        self.metrics.batch_sentences.observe(len(texts))
        return results
