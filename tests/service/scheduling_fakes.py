"""Stand-ins that let scheduling tests decide when time passes: a clock that moves only when told, a
model whose decoding steps move that clock and can stop at a chosen step, and a wait for a state.
The models implement the library's token-level protocol (:class:`EchoTranslator`), as the queue drives it.

With them a test says "the long batch is at its 20th step, now a cheap request arrives" instead of
sleeping and hoping the worker got that far; what it asserts holds however loaded the machine is.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Coroutine, Sequence, TypeVar

import torch
from fastapi import FastAPI

from service.scheduling.queue import BatchingQueue
from service.scheduling.registry import LoadedModel
from translator.search.hypotheses import Hypothesis, StepHook
from translator.search.options import SearchOptions
from translator.seam import Candidate, PreparedText, TokenTranslation, Translation

T = TypeVar("T")

STEP_S = 2 ** -7  # seconds of fake time per decoding step; a power of two, so sums of steps are exact
HANG_S = 30.0  # real seconds after which a wait that should have ended fails the test instead of hanging it


class FakeClock:
    """A :class:`service.scheduling.clock.Clock` that moves only by :meth:`advance`.

    A thread that waits on it (the queue's worker in its batching window) sleeps until it is notified
    or someone advances the clock; :attr:`sleepers` counts such threads, so a test can advance the
    clock once the worker has started its window, not before.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._waiting: list[threading.Condition] = []

    def now(self) -> float:
        """The time: ``start`` plus everything advanced so far."""
        with self._lock:
            return self._now

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        """Wait on ``condition`` (held) until it is notified or the clock is advanced, whatever ``seconds`` says:
        the caller re-checks the time left. (A real ``HANG_S`` bound only keeps a forgotten worker from sleeping
        forever; it then re-checks and waits again.)"""
        with self._lock:
            self._waiting.append(condition)
        try:
            condition.wait(HANG_S)
        finally:
            with self._lock:
                self._waiting.remove(condition)

    @property
    def sleepers(self) -> int:
        """How many threads wait on this clock now."""
        with self._lock:
            return len(self._waiting)

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` and wake every thread waiting on it."""
        with self._lock:
            self._now += seconds
            conditions = set(self._waiting)
        for condition in conditions:
            with condition:
                condition.notify_all()


class Words:
    """A fake's tokenizer: one id per distinct word, so the fake reads back the text it was given."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._words: list[str] = []

    def encode(self, text: str) -> list[int]:
        """One id per word."""
        for word in text.split():
            if word not in self._ids:
                self._ids[word] = len(self._words)
                self._words.append(word)
        return [self._ids[word] for word in text.split()]

    def decode(self, ids: Sequence[int]) -> str:
        """The words of ``ids``, joined by spaces."""
        return " ".join(self._words[i] for i in ids)


class EchoTranslator:
    """The token-level protocol (:class:`translator.seam.BatchTranslator`) of a model that echoes its input:
    :meth:`prepare` makes one piece per word, and a hypothesis of the same pieces (:meth:`echo`) finishes as
    ``<text>``. Subclasses decide how :meth:`translate_ids` gets there."""

    default_search = SearchOptions()
    device = "cpu"  # for the server's start-up log

    def __init__(self) -> None:
        self.words = Words()
        self._loaded: LoadedModel | None = None

    def prepare(self, texts: Sequence[str], restore_case: bool = True, glossary=None) -> list[PreparedText]:
        return [PreparedText(self.words.encode(text), blank=not text.strip()) for text in texts]

    def finish(self, prepared: PreparedText, result: TokenTranslation | None = None) -> Translation:
        if prepared.blank:
            return Translation("", 0.0, [Candidate("", 0.0)])
        assert result is not None
        text = f"<{self.words.decode(result.hypotheses[0].token_ids)}>"
        return Translation(text, -1.0, [Candidate(text, -1.0)])

    @staticmethod
    def echo(ids: Sequence[int]) -> TokenTranslation:
        """The search result that finishes as ``<text>`` for the text of ``ids``."""
        return TokenTranslation([Hypothesis(list(ids), -1.0)])

    def loaded(self) -> LoadedModel:
        """This stand-in as a servable model (the same one every time: requests for it may share a batch)."""
        if self._loaded is None:
            self._loaded = LoadedModel("xx-yy", "xx", "yy", "fake", self)  # type: ignore[arg-type]
        return self._loaded


    def install(self, app: FastAPI) -> None:
        """Serve with this stand-in in place of every translator of ``app`` (after its lifespan loaded them)."""
        for model in app.state.service.registry.models:
            model.translator = self


class StepwiseTranslator(EchoTranslator):
    """Stands in for the translator the queue calls: text ``t`` takes ``steps(t)`` decoding steps, each
    moving ``clock`` on by ``step_s``, and the search's step hook is called between steps as the real
    search calls it. Every text's translation is ``<text>``.

    Records the texts (``calls``) and start time (``called_at``) of every call, the steps each text got
    (``steps_done``), and the texts in the order (``finished``) and at the time (``finished_at``) their
    translations were done. :meth:`pause_after` holds the worker at a chosen step until :meth:`resume`,
    so a test acts at a known point of the search.
    """

    def __init__(self, clock: FakeClock, steps: Callable[[str], int], step_s: float = STEP_S) -> None:
        super().__init__()
        self.clock, self.steps, self.step_s = clock, steps, step_s
        self.calls: list[list[str]] = []
        self.called_at: list[float] = []
        self.steps_done: dict[str, int] = {}
        self.finished: list[str] = []
        self.finished_at: dict[str, float] = {}
        self.returned = 0  # calls that have returned
        self.paused = threading.Event()  # set while the worker is held at a pause
        self._resume = threading.Event()
        self._pauses: set[tuple[str, int]] = set()

    def pause_after(self, text: str, step: int) -> None:
        """Hold the worker once, when ``text`` has done ``step`` steps, before the step hook runs."""
        self._pauses.add((text, step))

    def resume(self) -> None:
        """Let a held worker go on."""
        self.paused.clear()
        self._resume.set()

    def translate_ids(self, batch: Sequence[Sequence[int]], options: SearchOptions,
                      step_hook: StepHook | None = None, terms=None) -> list[TokenTranslation | None]:
        """Decode the batch step by step; abandoned texts get None, as from the real search."""
        texts = [self.words.decode(ids) for ids in batch]
        self.calls.append(texts)
        self.called_at.append(self.clock.now())
        results: list[TokenTranslation | None] = [None] * len(texts)
        active = list(range(len(texts)))
        while active:
            self.clock.advance(self.step_s)
            stepped = [(texts[index], self._count_step(texts[index])) for index in active]
            for index in [i for i in active if self.steps_done[texts[i]] >= self.steps(texts[i])]:
                results[index] = self.echo(batch[index])
                self.finished.append(texts[index])
                self.finished_at[texts[index]] = self.clock.now()
                active.remove(index)
            for pause in self._pauses.intersection(stepped):
                self._pauses.discard(pause)
                self._hold()
            if step_hook is not None and active:
                abandoned = step_hook(torch.tensor(active))
                if abandoned is not None:
                    active = [index for index, drop in zip(active, abandoned.tolist()) if not drop]
        self.returned += 1
        return results

    def _count_step(self, text: str) -> int:
        self.steps_done[text] = self.steps_done.get(text, 0) + 1
        return self.steps_done[text]

    def _hold(self) -> None:
        self._resume.clear()
        self.paused.set()
        if not self._resume.wait(HANG_S):
            raise RuntimeError("StepwiseTranslator was paused and never resumed")


@asynccontextmanager
async def running(queue: BatchingQueue) -> AsyncIterator[BatchingQueue]:
    """``async with running(queue)``: the queue's worker runs inside, and is stopped after."""
    await queue.start()
    try:
        yield queue
    finally:
        await queue.stop()


def waiting(queue: BatchingQueue) -> float:
    """Sentences waiting for a batch (the queue's own gauge)."""
    return queue.metrics.registry.get_sample_value("translator_queue_sentences") or 0.0


def run_scenario(scenario: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(scenario)``, failing instead of hanging if it has not ended in twice ``HANG_S`` real seconds
    (twice, so that a stuck :func:`eventually` fails first, saying what never happened)."""
    return asyncio.run(asyncio.wait_for(scenario, 2 * HANG_S))


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Give the event loop (and the worker thread) turns until ``condition()`` holds.

    This waits for a state, not for a length of time: however slow the machine, the test goes on
    when the state is reached. Fails naming ``what`` if it is not reached in ``HANG_S`` real seconds.
    """
    deadline = time.monotonic() + HANG_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.001)
