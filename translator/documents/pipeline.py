"""A document's segments translated together: every text of the document in one call, tags placed by attention.

Each format reads its document into segments, HTML texts (:mod:`translator.documents.inline` makes them
from runs), and :class:`SegmentTranslation` translates them as the HTML path does
(:mod:`translator.text.markup`): the units of all segments (a sentence cut by inline tags whole, every other
text node alone) go to the translator in one call, with attention; the tags of each run are placed around
the words its words were translated into; only the runs where that fails have their text nodes translated
one by one, in a second call. Texts that are not language (numbers, dates, URLs, code-like tokens) and
repeated texts are not sent, and a text without a full stop (a heading, a table cell) gets none.

The two calls are steps of :class:`SegmentTranslation`, so a caller that translates asynchronously (the
service's queue) can run them itself; :func:`translate_document` runs them with a plain function.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from translator.documents.content import Content
from translator.documents.formats import read_document
from translator.documents.safety import Limits
from translator.text.markup import parse_markup
from translator.text.protect import protected_spans
from translator.text.segment import split_sentences
from translator.translate import Alignment, Translation

if TYPE_CHECKING:
    from translator.translate import Translator

Translate = Callable[[list[str]], list[Translation]]


def has_language(text: str) -> bool:
    """Whether ``text`` has letters outside numbers, dates, URLs, paths and code-like tokens."""
    cursor, rest = 0, []
    for start, end in protected_spans(text):
        rest.append(text[cursor:start])
        cursor = end
    rest.append(text[cursor:])
    return any(char.isalpha() for part in rest for char in part)


class SegmentTranslation:
    """The translation of a document's segments in two steps: :attr:`texts` → :meth:`place` → :meth:`finish`."""

    def __init__(self, segments: Sequence[str], language: str | None) -> None:
        self.language = language
        self.markups = [parse_markup(segment) for segment in segments]
        self._units = [markup.units for markup in self.markups]
        self.texts = _unique(unit for units in self._units for unit in units)
        self._translated: list[list[Translation]] = []
        self._placed: list[list[str | None]] = []
        self._failed: list[tuple[int, int]] = []
        self.fallback_texts: list[str] = []

    def place(self, translations: Sequence[Translation]) -> list[str]:
        """Take the translations of :attr:`texts` (with attention) and place every run's tags; returns the texts
        to translate one by one for the runs where that failed (also in :attr:`fallback_texts`)."""
        _check_count(self.texts, translations)
        found = {text: _without_added_period(text, translation) for text, translation in zip(self.texts, translations)}
        self._translated = [[found.get(unit) or Translation(unit, 0.0) for unit in units] for units in self._units]
        self._placed = [markup.place(translated, self.language)
                        for markup, translated in zip(self.markups, self._translated)]
        self._failed = [(number, run) for number, placed in enumerate(self._placed)
                        for run, text in enumerate(placed) if text is None]
        self.fallback_texts = _unique(text for number, run in self._failed
                                      for text in self.markups[number].run_node_texts(run))
        return self.fallback_texts

    def finish(self, translations: Sequence[Translation] = ()) -> list[str]:
        """The translated segments, given the translations of :attr:`fallback_texts`."""
        _check_count(self.fallback_texts, translations)
        found = {text: _without_added_period(text, translation).text
                 for text, translation in zip(self.fallback_texts, translations)}
        fallbacks: list[dict[int, list[str]]] = [{} for _ in self.markups]
        for number, run in self._failed:
            fallbacks[number][run] = [found.get(text, text) for text in self.markups[number].run_node_texts(run)]
        return [markup.render(translated, placed, fallback) for markup, translated, placed, fallback
                in zip(self.markups, self._translated, self._placed, fallbacks)]


def translate_document(data: bytes, filename: str, translate: Translate, *, language: str | None = None,
                       limits: Limits = Limits()) -> bytes:
    """Translate a document and return it in its own format, formatting kept.

    ``filename`` names the format by its extension (checked against the content); ``translate`` translates
    a list of texts with attention (e.g. :func:`paragraph_translator`), and is called once for the whole
    document, and a second time only for the runs whose formatting could not be placed by attention;
    ``language`` is the source language whose sentence rules ``translate`` splits by.

    Raises:
        DocumentError: the file is unsupported, mislabelled, over a limit, hostile or damaged.
    """
    return translate_content(read_document(data, filename, limits), translate, language=language)


def translate_content(content: Content, translate: Translate, *, language: str | None = None) -> bytes:
    """Translate a document already read (:func:`~translator.documents.formats.read_document`); see
    :func:`translate_document`."""
    job = SegmentTranslation(content.segments, language)
    fallback = job.place(translate(job.texts) if job.texts else [])
    return content.write(job.finish(translate(fallback) if fallback else []))


def paragraph_translator(translator: Translator, language: str | None = None, *,
                         planned: Callable[[int], None] | None = None, progress: Callable[[int], None] | None = None,
                         **options: Any) -> Translate:
    """A :data:`Translate` function over :meth:`Translator.translate_paragraphs` with attention: each text cut
    into sentences, all sentences of a call in shared batches. ``planned`` is told how many sentences a call
    will translate, ``progress`` how many are done after each batch; ``options`` go to the translator."""
    language = language or translator.metadata.get("source_language")

    def translate(texts: list[str]) -> list[Translation]:
        if planned is not None:
            planned(sum(len(split_sentences(text, language).sentences) for text in texts))
        return translator.translate_paragraphs(texts, language, return_attention=True, progress=progress, **options)

    return translate


def _without_added_period(source: str, translation: Translation) -> Translation:
    """A heading, table cell or title that has no full stop gets none: models trained on sentences add one.
    The attention loses the full stop's row with it, so tags are still placed."""
    text = translation.text
    if (translation.sentences or source.rstrip()[-1:] in ".!?…:;" or not text.rstrip().endswith(".")
            or text.rstrip().endswith("..")):
        return translation
    end = len(text.rstrip())
    alignment = translation.alignment
    if alignment is not None:
        rows = [i for i, piece in enumerate(alignment.target_pieces) if piece not in ("</s>", "\u2581")]
        if not rows or alignment.target_pieces[rows[-1]] not in (".", "\u2581."):
            return translation
        keep = [i for i in range(len(alignment.target_pieces)) if i != rows[-1]]
        alignment = Alignment(alignment.source_pieces, [alignment.target_pieces[i] for i in keep],
                              [alignment.weights[i] for i in keep])
    return replace(translation, text=text[:end - 1] + text[end:], alignment=alignment)


def _unique(texts: Any) -> list[str]:
    """The texts with language, each once, in first-seen order."""
    return list(dict.fromkeys(text for text in texts if has_language(text)))


def _check_count(texts: Sequence[str], translations: Sequence[Translation]) -> None:
    if len(translations) != len(texts):
        raise ValueError(f"the translate function returned {len(translations)} translations for {len(texts)} "
                            "texts")
