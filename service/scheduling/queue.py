"""Scheduling translation work across requests: batching, fairness, cancellation and draining.

Requests submit a job (model, search options, texts) and await its answer. One worker thread runs
the model and decides what it works on; the event loop only hands jobs over and collects answers,
so it keeps answering (``/health`` included) while the model works. The policy:

- **Batching.** Each text is prepared (normalized, tokenized once: ``translator.seam``) when its job is
  accepted; a blank one is answered at once. The worker waits up to ``window_s`` for work to gather,
  then takes waiting sentences of jobs that share a model and search options into one model call, a
  real batch that the library searches as it is (at most ``max_sentences`` sentences and ``max_tokens``
  source positions, padding to the longest and EOS included: ``translator.seam.padded_tokens``). While a
  call runs, new work piles up and joins the next one, so batches grow with load.
- **Sentence-level fairness.** A batch takes its sentences round-robin across the waiting jobs of
  its group (the group of the oldest waiting job first), so a 64-text request shares every batch
  with the one-text requests beside it instead of going first.
- **Cheap work overtakes expensive work.** A request's cost is estimated per sentence as its
  beam size times its longest output cap (``max_output_length``, or ``max_output_ratio`` times
  the source length if smaller): the rows and steps its search may take. Between decoding steps
  (the search's step hook) a batch that has had the worker for ``slice_s`` while *cheaper* work
  waits hands it over: the worker runs a batch of the cheapest waiting group, then resumes the
  first one where it stopped (at most ``max_nesting`` deep), and then keeps the worker at least as
  long as the overtaking took before it can be overtaken again. So a cheap request waits about one
  slice behind an expensive one, the expensive one keeps at least half the worker while cheap work
  streams in, and expensive requests never overtake each other.
- **Cancellation.** A job whose request timed out or whose client hung up is cancelled: its
  waiting sentences are dropped, and its sentences in a running batch leave the search at the
  next decoding step. When every job of a batch is gone the batch ends, so the worker goes idle.
- **Bounded.** Sentences accepted and not yet answered are capped at ``max_pending_sentences``;
  past it :meth:`BatchingQueue.submit` answers :class:`~service.api.errors.Overloaded` (503) at once.
  One request's compute ends at its timeout, when it is cancelled.
- **Draining.** :meth:`BatchingQueue.drain` stops accepting work (503 + Retry-After), waits for
  every accepted job to be answered, and after its limit answers the rest with 503.

Every duration above is measured on the queue's :class:`~service.scheduling.clock.Clock` (the
real one unless a test gives another), and the worker's wait for the window is the clock's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass, field

import torch

from translator.search.hypotheses import output_limits
from translator.glossary import Glossary
from translator.search.options import SearchOptions
from translator.seam import PreparedText, Translation, padded_tokens

from service.api.errors import Overloaded
from service.ops.metrics import ServiceMetrics
from service.scheduling.clock import Clock, MonotonicClock
from service.scheduling.registry import LoadedModel

logger = logging.getLogger("service")


@dataclass(eq=False)
class _Job:
    """One request's texts: which wait for a batch, which are answered, and where the answer goes."""

    model: LoadedModel
    options: SearchOptions
    prepared: list[PreparedText]  # each text, tokenized once when the job was accepted
    future: asyncio.Future = field(repr=False)
    cost: float = 0.0  # estimated cost of one sentence (see the module docstring)
    waiting: deque[int] = field(default_factory=deque)  # indices of texts not yet in a batch
    results: list[Translation | None] = field(default_factory=list)
    unanswered: int = 0
    cancelled: bool = False  # set from the event loop, read by the worker between decoding steps

    @property
    def group(self) -> tuple[int, SearchOptions]:
        """Jobs of one group may share a model call."""
        return id(self.model), self.options


def sentence_cost(options: SearchOptions, source_length: int) -> float:
    """Beam rows times decoding steps that one sentence of ``source_length`` pieces (EOS not included, as in
    ``PreparedText.ids``) may take. The steps are the search's own cap (``output_limits``), not a copy of its
    rule: a copy in Python floats once disagreed with the search's float32 by a step."""
    with_eos = torch.tensor([padded_tokens(source_length, 1)])  # the source positions the search sees
    steps = int(output_limits(with_eos, options)[0])
    return float(options.beam_size * steps)


@dataclass
class _Slice:
    """When the running batch last got the worker, and how long it keeps it before cheaper work may overtake."""

    started: float
    length: float = 0.0


class BatchingQueue:
    """Runs translation jobs in one worker thread by the policy of the module docstring."""

    def __init__(self, metrics: ServiceMetrics, window_s: float = 0.005, max_tokens: int = 4096,
                 max_sentences: int = 64, max_pending_sentences: int = 1024, retry_after_s: int = 1,
                 slice_s: float = 0.25, max_nesting: int = 4, clock: Clock | None = None) -> None:
        self.metrics = metrics
        self.clock = clock if clock is not None else MonotonicClock()
        self.window_s = window_s
        self.max_tokens = max_tokens
        self.max_sentences = max_sentences
        self.max_pending_sentences = max_pending_sentences
        self.retry_after_s = retry_after_s
        self.slice_s = slice_s
        self.max_nesting = max_nesting
        self.pending_sentences = 0  # accepted and not yet answered (waiting or in the model)
        self.accepting = False
        self._jobs: list[_Job] = []  # jobs with waiting sentences, oldest first (guarded by _lock)
        self._waiting_sentences = 0
        self._unanswered: set[_Job] = set()  # touched on the event loop only
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._stopping = False
        self._drain_deadline = float("inf")
        self._worker: threading.Thread | None = None

    # --- the event loop's side -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker thread and accept work."""
        if self._worker is None:
            self._stopping = False
            self._worker = threading.Thread(target=self._work, name="translator-model", daemon=True)
            self._worker.start()
        self.accepting = True

    async def submit(self, model: LoadedModel, options: SearchOptions, texts: list[str],
                     admitted: bool = False, glossary: Glossary | None = None) -> list[Translation]:
        """Translate ``texts`` as part of whatever batches form; returns one Translation per text. With a
        ``glossary`` each text carries the terms it holds (found here, once); it shares batches with texts of
        other glossaries or none, since search takes each sentence's terms (``translator.search.constraints``).

        Cancelling this await (the request timed out, or its client hung up: see
        :func:`service.ops.lifecycle.cancel_on_disconnect`) cancels the job: its sentences stop costing compute.
        ``admitted``: the texts are part of work the service accepted before a drain began (a document job sends
        its sentences in parts), so they are taken while draining, until the drain limit.

        Raises:
            Overloaded: not accepting work (starting, draining), or ``max_pending_sentences`` reached.
            ValueError: the translator rejected the options, the input or the glossary.
        """
        retry = {"Retry-After": str(self.retry_after_s)}
        if not self.takes(admitted):
            raise Overloaded("the server is not accepting work (starting up or shutting down); retry shortly, "
                             "or on another instance", retry)
        if self.pending_sentences + len(texts) > self.max_pending_sentences:
            raise Overloaded(
                f"the server is overloaded: {self.pending_sentences} sentences are waiting and the queue holds at "
                f"most {self.max_pending_sentences} (queue_max_sentences); retry after {self.retry_after_s} s", retry,
            )
        translator = model.translator
        # Each text is tokenized here, once, and its glossary terms found.
        prepared = translator.prepare(texts, glossary=glossary)
        waiting = deque(index for index, text in enumerate(prepared) if not text.blank)
        results = [translator.finish(text) if text.blank else None for text in prepared]  # blank: no search
        cost = sentence_cost(options, max((len(prepared[index].ids) for index in waiting), default=0))
        job = _Job(model, options, prepared, asyncio.get_running_loop().create_future(), cost, waiting, results,
                   len(waiting))
        self.pending_sentences += len(texts)
        self._unanswered.add(job)
        self.metrics.accepted_requests.inc()
        self.metrics.sentences.labels(model.name).inc(len(texts) - len(waiting))
        if not waiting:
            job.future.set_result(list(job.results))
        else:
            with self._wakeup:
                self._jobs.append(job)
                self._waiting_sentences += len(waiting)
                self.metrics.queue_sentences.set(self._waiting_sentences)
                self._wakeup.notify()
        try:
            return await asyncio.shield(job.future)
        finally:
            if not job.future.done():
                self._cancel(job)
            self.pending_sentences -= len(texts)
            self._unanswered.discard(job)

    def _cancel(self, job: _Job) -> None:
        """Withdraw a job: its waiting sentences go, its running ones leave the search at the next step."""
        self.metrics.cancelled_sentences.inc(job.unanswered)
        self._withdraw(job)
        job.future.cancel()

    def _withdraw(self, job: _Job) -> None:
        """Mark ``job`` cancelled and drop its waiting sentences (from either thread)."""
        job.cancelled = True
        with self._lock:
            if job in self._jobs:
                self._jobs.remove(job)
            self._waiting_sentences -= len(job.waiting)
            job.waiting.clear()
            self.metrics.queue_sentences.set(self._waiting_sentences)

    async def drain(self, limit_s: float) -> int:
        """Stop accepting work and wait up to ``limit_s`` for every accepted job to be answered.

        Jobs still unanswered at the limit get a 503 and are cancelled. Returns how many that was.
        """
        self.accepting = False
        self._drain_deadline = min(self._drain_deadline, self.clock.now() + limit_s)
        while self._unanswered and self.clock.now() < self._drain_deadline:
            await asyncio.sleep(0.05)
        late = [job for job in self._unanswered if not job.future.done()]
        for job in late:
            job.future.set_exception(Overloaded(
                f"the server is shutting down and this translation did not finish within the drain limit "
                f"({limit_s:g} s); retry on another instance", {"Retry-After": str(self.retry_after_s)},
            ))
            self._cancel(job)
        return len(late)

    def takes(self, admitted: bool = False) -> bool:
        """Whether :meth:`submit` takes work now (when the queue is not full): new work while accepting,
        admitted work also while a drain runs, until its limit."""
        return self.accepting or (admitted and self._worker is not None and not self._stopping
                                  and self.clock.now() < self._drain_deadline)

    def stop_accepting(self) -> None:
        """Take no new work (503) from now on; admitted work is still taken (see :meth:`submit`)."""
        self.accepting = False

    def cut_drain(self) -> None:
        """End a running :meth:`drain` now, as if its limit had been reached."""
        self._drain_deadline = 0.0

    async def stop(self) -> None:
        """Stop the worker: unanswered jobs get a 503, a running batch is abandoned at its next step."""
        await self.drain(0)
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.join, 5)
            self._worker = None

    # --- the worker thread's side ----------------------------------------------------------------

    def _work(self) -> None:
        """Wait for work, gather a batch, run it; repeat until stopped."""
        while True:
            with self._wakeup:
                while not self._jobs and not self._stopping:
                    self._wakeup.wait()
                if self._stopping:
                    return
                self._wait_for_the_window()
                batch = self._take_batch()
            if batch:
                self.metrics.worker_busy.set(1)
                try:
                    self._run(batch, depth=0)
                finally:
                    self.metrics.worker_busy.set(0)

    def _wait_for_the_window(self) -> None:
        """Let work gather for ``window_s`` unless a full batch is waiting first. Call it holding ``_lock``."""
        window_ends = self.clock.now() + self.window_s
        while self._waiting_sentences < self.max_sentences and not self._stopping:
            left = window_ends - self.clock.now()
            if left <= 0:
                return
            self.clock.wait(self._wakeup, left)

    def _take_batch(self, cheaper_than: float | None = None) -> list[tuple[_Job, int]]:
        """Waiting sentences of the oldest job's group (or, with ``cheaper_than``, of the cheapest job's group if
        it costs less than that), round-robin across the group's jobs. Call it holding ``_lock``."""
        if not self._jobs:
            return []
        first = self._jobs[0] if cheaper_than is None else min(self._jobs, key=lambda job: job.cost)
        if cheaper_than is not None and first.cost >= cheaper_than:
            return []
        group = first.group
        jobs = [job for job in self._jobs if job.group == group]
        batch: list[tuple[_Job, int]] = []
        longest = 0
        while jobs and len(batch) < self.max_sentences:
            for job in list(jobs):
                index = job.waiting[0]
                length = len(job.prepared[index].ids)
                if batch and padded_tokens(max(longest, length), len(batch) + 1) > self.max_tokens:
                    jobs = []
                    break
                job.waiting.popleft()
                batch.append((job, index))
                longest = max(longest, length)
                if not job.waiting:
                    jobs.remove(job)
                    self._jobs.remove(job)
                if len(batch) >= self.max_sentences:
                    break
        self._waiting_sentences -= len(batch)
        self.metrics.queue_sentences.set(self._waiting_sentences)
        return batch

    def _run(self, batch: list[tuple[_Job, int]], depth: int) -> None:
        """One model call for ``batch``; if it fails with several jobs in it, each job's part runs alone."""
        batch = [(job, index) for job, index in batch if not job.cancelled]
        if not batch:
            return
        jobs = list(dict.fromkeys(job for job, _ in batch))
        model, options = jobs[0].model, jobs[0].options
        prepared = [job.prepared[index] for job, index in batch]
        cost = max(job.cost for job in jobs)
        current = _Slice(started=self.clock.now())

        def between_steps(active: torch.Tensor) -> torch.Tensor | None:
            """The step hook: let cheaper work run when the slice is used up, then drop cancelled sentences."""
            if depth < self.max_nesting and self.clock.now() - current.started >= max(self.slice_s, current.length):
                with self._lock:
                    overtaking = self._take_batch(cheaper_than=cost)
                if overtaking:
                    overtaken_at = self.clock.now()
                    self._run(overtaking, depth + 1)
                    self.metrics.preemptions.inc()
                    current.length = self.clock.now() - overtaken_at  # paid back before the next overtaking
                current.started = self.clock.now()
            if not any(job.cancelled for job in jobs):
                return None
            return torch.tensor([batch[i][0].cancelled for i in active.tolist()], dtype=torch.bool)

        started = self.clock.now()
        try:
            found = model.translator.translate_ids([text.ids for text in prepared], options, between_steps,
                                                   [text.terms for text in prepared])
            results = [None if result is None else model.translator.finish(text, result)
                       for text, result in zip(prepared, found)]
        except Exception as error:
            if len(jobs) > 1:  # find the job that caused it; the others still get their translations
                for job in jobs:
                    self._run([(j, index) for j, index in batch if j is job], depth)
            else:
                self._fail(jobs[0], error)
            return
        self.metrics.batch_duration.observe(self.clock.now() - started)
        self.metrics.batch_sentences.observe(len(batch))
        self.metrics.batch_requests.observe(len(jobs))
        self.metrics.source_tokens.labels(model.name).inc(sum(len(text.ids) + 1 for text in prepared))
        self.metrics.sentences.labels(model.name).inc(sum(result is not None for result in results))
        for (job, index), result in zip(batch, results):
            if result is not None and not job.cancelled:
                job.results[index] = result
                job.unanswered -= 1
                if job.unanswered == 0:
                    self._answer(job, job.results)

    def _fail(self, job: _Job, error: Exception) -> None:
        """Answer ``job`` with ``error`` and drop the rest of its sentences."""
        self._withdraw(job)
        self._answer(job, error)

    @staticmethod
    def _answer(job: _Job, outcome: list[Translation | None] | Exception) -> None:
        """Settle the job's future on its event loop (from the worker thread)."""

        def settle() -> None:
            if job.future.done():
                return
            if isinstance(outcome, Exception):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(list(outcome))

        try:
            job.future.get_loop().call_soon_threadsafe(settle)
        except RuntimeError:  # the event loop has closed: nobody is waiting any more
            pass
