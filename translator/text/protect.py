"""Text that must pass through untouched: numbers, dates, URLs, e-mail addresses, file paths,
code-like tokens and emoji.

Before search, each such span of a sentence is replaced by a placeholder, a private-use character
that the tokenizer keeps as one piece (``tokenizer.placeholders`` in a training config); after
search, every placeholder in the output is replaced by its span again. Models learn to carry
placeholders across from training pairs in which the same span stands on both sides and was masked
on both (``data.placeholder_rate``). A span whose placeholder the model dropped is put back at the
place in the output that corresponds to its place in the source, so none is ever lost.

No torch here: training's preparation workers import this module.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Callable, Sequence

# Private-use characters: NFKC leaves them alone, so sentencepiece sees them as written.
PLACEHOLDERS = tuple(chr(0xE000 + i) for i in range(24))
_PLACEHOLDER_SET = frozenset(PLACEHOLDERS)

_TRAILING = ".,;:!?)]}'\"»“”’"
_SPAN = re.compile("|".join([
    r"(?:https?|ftp)://[^\s<>\"]+|www\.[^\s<>\"]+\.[^\s<>\"]+",                  # URLs
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",                                              # e-mail addresses
    r"(?<![\w/])(?:~|\.{1,2})?(?:/[\w.+-]+){2,}/?|(?<!\w)[A-Za-z]:\\[\w\\.+-]+",  # file paths
    r"`[^`\n]+`",                                                                 # inline code
    r"(?<!\w)--?[a-z][\w-]*(?:=[^\s,;]*[^\s,;.:!?])?(?=[\s.,;:!?)]|$)",          # command-line options
    r"(?<![\w%])%(?:\d+\$)?[-+#0]*\d*(?:\.\d+)?[sdifuxXeEgGc](?!\w)|%[A-Z][A-Z_]+%?",           # printf-style, %PRODUCTNAME
    r"\$\{?\w+\}?|\{\d*\}|\{\{\w+\}\}",                                          # ${VAR}, {0}, {{name}}
    r"(?<!\w)\w+(?:\.\w+)*\(\)",                                                  # calls: foo(), os.path.join()
    r"(?<!\w)[A-Za-z]+_\w+|(?<!\w)[a-z]+[A-Z]\w*|(?<!\w)\w+(?:\.\w+){2,}",        # snake_case, camelCase, a.b.c
    r"\d+(?:[.,:/-]\d+)*",                                                        # numbers, dates, times
    "[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]"                         # emoji and symbols,
    "(?:[\uFE0F\U0001F3FB-\U0001F3FF]|\u200D[\U0001F000-\U0001FAFF\u2600-\u27BF])*",  # with modifiers, ZWJ
    "[\uE000-\uF8FF]",                                                           # private use (placeholders)
]))


_DROPPED = "\x00"  # where unmask dropped a placeholder: its spaces go with it before punctuation
_DROPPED_BEFORE_PUNCTUATION = re.compile(r"\s*\x00\s*(?=[.,;:!?)\]]|$)")


@dataclass
class Masked:
    """A sentence with its protected spans replaced: ``spans[i]`` stands behind ``PLACEHOLDERS[i]``;
    ``positions[i]`` is where its first occurrence starts in the masked text, as a fraction of its length."""

    text: str
    spans: list[str]
    positions: list[float]


def protected_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every span of ``text`` that must pass through untouched, in order."""
    spans = []
    for match in _SPAN.finditer(text):
        start, end = match.span()
        if match.group(0)[0].isalpha() or match.group(0).startswith(("http", "ftp", "www")):
            while end > start + 1 and text[end - 1] in _TRAILING and not _balanced(text[start:end]):
                end -= 1
        spans.append((start, end))
    return spans


def _balanced(span: str) -> bool:
    """A span ending in ``)`` that opened one (``foo()``, a URL with parentheses) keeps it."""
    return span.endswith(")") and span.count("(") >= span.count(")")


def mask(text: str, also: Sequence[tuple[int, int]] = ()) -> Masked:
    """Replace each protected span by a placeholder (the same span always by the same one); spans
    beyond the number of placeholders stay as they are. ``also``: more (start, end) spans to mask, the
    proper names of :func:`translator.text.names.name_spans`, where they do not overlap a protected one."""
    protected = protected_spans(text)
    extra = [(start, end) for start, end in also
             if not any(start < other_end and other_start < end for other_start, other_end in protected)]
    pieces, spans, positions, cursor = [], [], [], 0
    for start, end in sorted(protected + extra):
        span = text[start:end]
        if span in spans:
            index = spans.index(span)
        elif len(spans) < len(PLACEHOLDERS):
            index = len(spans)
            spans.append(span)
            positions.append(start / max(1, len(text)))
        else:
            continue
        pieces.append(text[cursor:start])
        pieces.append(PLACEHOLDERS[index])
        cursor = end
    pieces.append(text[cursor:])
    return Masked("".join(pieces), spans, positions)


def unmask(output: str, masked: Masked) -> str:
    """``output`` with every placeholder replaced by its span; placeholders the source did not have
    are dropped, as are the repeats of one the output has more often than the source (a model can write
    one twice: *de 10:30 à 10:30* for *at 10:30*), and a span whose placeholder is missing is inserted
    between the words at the place that corresponds to its place in the source."""
    fill = _filler(masked)
    parts = [(fill(char) or _DROPPED) if char in _PLACEHOLDER_SET else char for char in output]
    text = _DROPPED_BEFORE_PUNCTUATION.sub("", "".join(parts)).replace(_DROPPED, " ")
    text = " ".join(text.split())
    for index, span in enumerate(masked.spans):
        if PLACEHOLDERS[index] in output:
            continue
        words = text.split(" ") if text else []
        at = round(masked.positions[index] * len(words))
        words.insert(at, span)
        text = " ".join(words)
    return text


def unmask_pieces(pieces: Sequence[str], masked: Masked) -> list[str]:
    """``pieces`` (a source's, or a translation's before :func:`unmask`) with each placeholder replaced by its
    span as :func:`unmask` replaces it in text (one the source did not have, or a repeat, by nothing), so that an
    alignment's pieces spell the text the user wrote and the translation they read."""
    fill = _filler(masked)
    return ["".join(fill(char) if char in _PLACEHOLDER_SET else char for char in piece) for piece in pieces]


def _filler(masked: Masked) -> Callable[[str], str]:
    """Placeholder → its span, as many times as the source has it; then, and for one the source lacks, ``""``."""
    left = {PLACEHOLDERS[index]: masked.text.count(PLACEHOLDERS[index]) for index in range(len(masked.spans))}

    def fill(char: str) -> str:
        if left.get(char, 0) <= 0:
            return ""
        left[char] -= 1
        return masked.spans[PLACEHOLDERS.index(char)]

    return fill


def mask_pair(source: str, target: str, rng: random.Random, rate: float) -> tuple[str, str]:
    """With probability ``rate``, the pair with every protected span of the source that also stands,
    as written, in the target replaced by the same placeholder on both sides (training data)."""
    if rate <= 0 or rng.random() >= rate:
        return source, target
    shared = []
    for start, end in protected_spans(source):
        span = source[start:end]
        if span not in shared and len(shared) < len(PLACEHOLDERS) and _stands_in(span, target):
            shared.append(span)
    if not shared:
        return source, target
    for index, span in sorted(enumerate(shared), key=lambda item: -len(item[1])):  # longest first
        pattern = re.compile(r"(?<![\w.])" + re.escape(span) + r"(?![\w])" if span[:1].isalnum() else re.escape(span))
        source = pattern.sub(PLACEHOLDERS[index], source)
        target = pattern.sub(PLACEHOLDERS[index], target)
    return source, target


def _stands_in(span: str, text: str) -> bool:
    """``span`` occurs in ``text`` as a whole token (``3`` does not stand in ``13``)."""
    if not span[:1].isalnum():
        return span in text
    return re.search(r"(?<![\w.])" + re.escape(span) + r"(?![\w])", text) is not None
