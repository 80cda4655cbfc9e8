"""From request texts to translations: sentence splitting, the batching queue, and pivoting.

Both APIs (ours and the LibreTranslate-compatible one) translate through :func:`translate_texts`.
With ``split_sentences`` every text is cut into sentences (``translator.text.segment``) and all the
sentences of all texts go to the queue as one job, so they share model batches with each other
and with concurrent requests; the translations are rejoined with the original spaces and line
breaks. A pivoted route sends the first leg's best translations through the second model.
"""

from __future__ import annotations

import asyncio

from translator.alignment import compose
from translator.confidence import chain_confidences
from translator.glossary import Glossary
from translator.search.options import SearchOptions
from translator.text.segment import split_sentences
from translator.translate import Candidate, Translation, combine_sentences

from service.scheduling.queue import BatchingQueue
from service.scheduling.detect import Detection, detector_for
from service.api.errors import InvalidRequest, LimitExceeded
from service.scheduling.registry import ModelRegistry
from service.scheduling.routing import Route, languages
from service.settings import env_name


async def detect_languages(registry: ModelRegistry, texts: list[str]) -> list[Detection]:
    """Candidate languages of ``texts`` (taken together) among the loaded models' languages, most likely first.

    Raises:
        InvalidRequest: no language can be told (no letters, or no detectable language loaded).
    """
    detector = detector_for(frozenset(languages(registry)))
    found = await asyncio.to_thread(detector.detect, "\n".join(texts))  # the first call loads lingua's models
    if not found:
        raise InvalidRequest(
            f"cannot detect the language of the text (the server detects {', '.join(detector.languages)}); "
            "give the source language instead of auto"
        )
    return found


async def detect_source(registry: ModelRegistry, texts: list[str]) -> Detection:
    """The most likely language of ``texts`` (see :func:`detect_languages`)."""
    return (await detect_languages(registry, texts))[0]


async def translate_texts(queue: BatchingQueue, route: Route, options: SearchOptions, texts: list[str],
                          split_sentences_first: bool = True, glossary: Glossary | None = None,
                          admitted: bool = False) -> list[Translation]:
    """Translate ``texts`` along ``route``; one Translation per text, in order. A ``glossary`` applies to the
    route's first leg (the caller allows one only on a direct route). ``admitted``: the texts belong to
    work accepted before a drain began (a document job), see :meth:`BatchingQueue.submit`.

    Raises:
        LimitExceeded: the texts hold more sentences than the queue ever takes at once.
        Overloaded, ValueError: as :meth:`BatchingQueue.submit`.
    """
    if not split_sentences_first:
        return await _along_route(queue, route, options, texts, glossary, admitted)
    splits = [split_sentences(text, route.source_lang) for text in texts]
    sentences = [sentence for split in splits for sentence in split.sentences]
    if len(sentences) > queue.max_pending_sentences:  # the queue would refuse it with a 503 however long one waits
        raise LimitExceeded(
            f"the texts hold {len(sentences)} sentences; the limit is {queue.max_pending_sentences} sentences per "
            f"request (queue_max_sentences, {env_name('queue_max_sentences')}); split it into several requests"
        )
    results = iter(await _along_route(queue, route, options, sentences, glossary, admitted) if sentences else [])
    return [combine_sentences(split, [next(results) for _ in split.sentences]) for split in splits]


async def _along_route(queue: BatchingQueue, route: Route, options: SearchOptions, texts: list[str],
                       glossary: Glossary | None = None, admitted: bool = False) -> list[Translation]:
    results = await queue.submit(route.legs[0], options, texts, admitted=admitted, glossary=glossary)
    for model in route.legs[1:]:
        following = await queue.submit(model, options, [result.text for result in results], admitted=admitted)
        # Composing attention is a few matrix products per sentence: off the event loop.
        results = await asyncio.to_thread(lambda pairs: [_chained(a, b) for a, b in pairs], list(zip(results, following)))
    return results


def _chained(first: Translation, second: Translation) -> Translation:
    """A pivoted translation: the second leg's output, scored with both legs' log-probabilities.

    Its alignment goes from the source to the target through the pivot text (both legs' attention
    composed, translator.alignment.compose); None when the legs' pieces cannot be related. Its confidence is
    the product of the legs' (translator.confidence.chain_confidences).
    """
    alignment = None
    if first.alignment is not None and second.alignment is not None:
        alignment = compose(first.text, first.alignment, second.alignment)
    return Translation(
        second.text, first.score + second.score,
        [Candidate(candidate.text, first.score + candidate.score) for candidate in second.n_best],
        alignment, confidence=chain_confidences(first.confidence, second.confidence),
    )
