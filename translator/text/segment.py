"""Running text to sentences and back: split a paragraph, translate the sentences, rejoin them.

The shipped models were trained on single sentences (Multi30k captions): fed a whole paragraph,
they drop sentences. So running text is cut into sentences, every line break is a boundary, and
within a line the ``sentencex`` segmenter (Wikimedia's rule-based segmenter, ~300 languages, with
abbreviation lists for de/en/fr) finds the sentence ends. Whatever lies between sentences (spaces,
tabs, line breaks, and invisible characters such as a zero-width space or a byte-order mark) is kept
verbatim, so the translation is rejoined with the original layout:

    text        = separators[0] + sentences[0] + separators[1] + ... + sentences[-1] + separators[-1]
    translation = separators[0] + translated[0] + separators[1] + ... + translated[-1] + separators[-1]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from sentencex import segment

from translator.text.normalize import INVISIBLE_CHARACTERS, JOINERS

# What a sentence does not start or end with: whitespace, and the invisible characters that normalization
# drops (a zero-width space after a full stop, a trailing byte-order mark), which belong to the separators.
_BLANK_RUN = re.compile(f"[\\s{INVISIBLE_CHARACTERS}{JOINERS}]*")


@dataclass(frozen=True)
class SplitText:
    """A text cut into sentences; ``separators`` has one more entry than ``sentences`` (see module docstring)."""

    sentences: list[str]
    separators: list[str]

    def join(self, translated: Sequence[str]) -> str:
        """The text with sentence ``i`` replaced by ``translated[i]`` and every separator kept."""
        if len(translated) != len(self.sentences):
            raise ValueError(f"expected {len(self.sentences)} translated sentences, got {len(translated)}")
        parts = [self.separators[0]]
        for sentence, separator in zip(translated, self.separators[1:]):
            parts += [sentence, separator]
        return "".join(parts)


def split_sentences(text: str, language: str | None = None) -> SplitText:
    """Cut ``text`` into sentences: at every line break, and where ``sentencex`` ends a sentence.

    ``language`` is an ISO 639-1 code such as ``de``; unknown or missing codes use sentencex's
    generic rules (sentence-final punctuation followed by a capital). A text without any
    non-space character has no sentences: ``SplitText([], [text])``.
    """
    spans: list[tuple[int, int]] = []  # (start, end) of each sentence in text
    offset = 0
    for line in text.splitlines(keepends=True):
        position = offset
        for piece in segment(language or "en", line):
            start, end = _content(piece)
            if end > start:
                spans.append((position + start, position + end))
            position += len(piece)
        if position != offset + len(line):  # the segmenter did not cover the line: keep the line whole
            spans = [s for s in spans if s[0] < offset]
            start, end = _content(line)
            if end > start:
                spans.append((offset + start, offset + end))
        offset += len(line)
    sentences = [text[start:end] for start, end in spans]
    boundaries = [0] + [index for span in spans for index in span] + [len(text)]
    separators = [text[boundaries[i]:boundaries[i + 1]] for i in range(0, len(boundaries), 2)]
    return SplitText(sentences, separators)


def _content(text: str) -> tuple[int, int]:
    """Where ``text`` starts and ends without the whitespace and invisible characters around it
    (``start == end`` when it has nothing else). Linear time: the end is found in the reversed text."""
    start = _BLANK_RUN.match(text).end()
    return start, max(start, len(text) - _BLANK_RUN.match(text[::-1]).end())
