"""A document's segments through the batching queue, as :func:`translator.documents.translate_content` does
with a plain function, but in parts, so a job can report progress and others' requests keep their turn.

The texts of :class:`translator.documents.SegmentTranslation` (every segment's units, each once) are cut into
parts of about ``part_sentences`` sentences; ``in_flight`` parts wait in the queue at a time (each a queue job
of its own, sharing model batches with each other and with concurrent requests of the same options), so a
large document neither fills the queue (``queue_max_sentences``) nor takes every batch. The parts are sent with
attention, for the tags' placement; the runs whose tags cannot be placed are translated one node at a time in a
second pass, as in the library. A part refused because the queue is full is retried after ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from translator.documents import Content, SegmentTranslation
from translator.glossary import Glossary
from translator.search.options import SearchOptions
from translator.text.segment import split_sentences
from translator.translate import Translation

from service.api.errors import Overloaded
from service.scheduling.pipeline import translate_texts
from service.scheduling.queue import BatchingQueue
from service.scheduling.routing import Route

Progress = Callable[[int, int], None]


async def translate_document_content(queue: BatchingQueue, route: Route, options: SearchOptions, content: Content,
                                     progress: Progress | None = None, *, admitted: bool = True,
                                     glossary: Glossary | None = None, part_sentences: int = 16,
                                     in_flight: int = 4) -> bytes:
    """The document ``content`` translated along ``route``, as its own format's bytes.

    ``progress(done, total)`` is told the sentences translated so far and in all (the total grows when the
    second pass is needed). ``admitted``: see :meth:`BatchingQueue.submit`. ``glossary``: terms every
    segment must use (a direct route only, see :func:`~service.scheduling.pipeline.translate_texts`).

    Raises:
        Overloaded: the queue stopped accepting work (the server is shutting down).
        ValueError: the translator rejected the input.
    """
    language = route.source_lang
    segments = await asyncio.to_thread(SegmentTranslation, content.segments, language)
    counted = _Counter(progress)
    attended = options.updated(return_attention=True)
    parts = _Parts(queue, route, counted, admitted, glossary, part_sentences, in_flight)
    first = await parts.translate(attended, segments.texts, language)
    fallback = segments.place(first)
    second = await parts.translate(options, fallback, language)
    return await asyncio.to_thread(lambda: content.write(segments.finish(second)))


class _Counter:
    """Sentences done and planned, told to a progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.done = 0
        self.total = 0

    def plan(self, sentences: int) -> None:
        self.total += sentences
        self._tell()

    def add(self, sentences: int) -> None:
        self.done += sentences
        self._tell()

    def _tell(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)


@dataclass
class _Parts:
    """How a document's texts go to the queue: along ``route``, in parts of about ``part_sentences`` sentences,
    ``in_flight`` at a time, counted by ``counter``."""

    queue: BatchingQueue
    route: Route
    counter: _Counter
    admitted: bool
    glossary: Glossary | None
    part_sentences: int
    in_flight: int

    async def translate(self, options: SearchOptions, texts: list[str], language: str) -> list[Translation]:
        """``texts`` translated part by part, in order."""
        if not texts:
            return []
        counts = await asyncio.to_thread(lambda: [max(1, len(split_sentences(text, language).sentences))
                                                  for text in texts])
        self.counter.plan(sum(counts))
        places = asyncio.Semaphore(self.in_flight)

        async def translate_part(start: int, end: int) -> list[Translation]:
            async with places:
                while True:
                    try:
                        results = await translate_texts(self.queue, self.route, options, texts[start:end],
                                                        glossary=self.glossary, admitted=self.admitted)
                        break
                    except Overloaded:
                        if not self.queue.takes(self.admitted):  # closed (shutting down), not full: waiting won't help
                            raise
                        await asyncio.sleep(max(0.1, float(self.queue.retry_after_s)))
            self.counter.add(sum(counts[start:end]))
            return results

        tasks = [asyncio.ensure_future(translate_part(start, end)) for start, end in _parts(counts, self.part_sentences)]
        try:
            translated = await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        return [translation for part in translated for translation in part]


def _parts(counts: list[int], part_sentences: int) -> list[tuple[int, int]]:
    """Consecutive ranges of texts holding about ``part_sentences`` sentences each (a longer text alone)."""
    parts, start, size = [], 0, 0
    for index, count in enumerate(counts):
        if index > start and size + count > part_sentences:
            parts.append((start, index))
            start, size = index, 0
        size += count
    parts.append((start, len(counts)))
    return parts
