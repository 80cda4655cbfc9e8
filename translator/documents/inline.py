"""A paragraph's runs as one HTML text with inline tags, and its translation back as runs.

Office formats keep a paragraph as runs of text, each with its formatting (bold, a link, a colour).
The runs are joined into one text in which every stretch of one formatting that is not the paragraph's
main one is an inline element: ``Ein <span id="g1">großer Hund</span> läuft.``. That text goes
through the same translation as an HTML page (:mod:`translator.text.markup`: the sentence is translated
whole and the element put around the words its words were translated into), and :meth:`TaggedRuns.pieces`
reads the translation back as pieces of text, each with the run whose formatting it takes:
``A`` (main), ``big dog`` (run 1), ``runs.`` (main).

Some runs hold no language: code (a monospace font), and URLs or e-mail addresses inside a run. They stay
elements of the sentence, so it is translated whole, and get their own text back in the translation,
whatever words were placed in them (a paragraph of nothing but code is a ``<code>`` element, which is not
translated at all). Something that is not text inside a
paragraph (a note reference, an image, a field) is an anchor: it stays right after the words of the
run before it, so that run is always an element of its own.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Hashable, Sequence

from translator.text.protect import protected_spans

TAB = "<x-tab/>"  # not an inline element: a tab ends the text that is translated as one sentence
_TOKEN = re.compile(r'<(/?)(span|code)(?: id="g(\d+)")?>|<x-tab/>')


@dataclass(frozen=True)
class Run:
    """One run of a paragraph: its text, a key that is equal for runs formatted alike, whether it is code, and
    whether an anchor follows it (with more text after the anchor)."""

    text: str
    style: Hashable
    code: bool = False
    anchored: bool = False


@dataclass(frozen=True)
class Piece:
    """A stretch of the translated paragraph with the index of the run whose formatting it takes; ``anchors``
    holds the indices of the runs whose anchors follow this piece."""

    text: str
    run: int
    anchors: tuple[int, ...] = ()


@dataclass
class _Group:
    """Consecutive runs of one formatting: the run that formats them, the runs whose anchors follow them, code
    or not, their text, and whether they are an element."""

    run: int
    code: bool
    text: str = ""
    anchors: list[int] = field(default_factory=list)
    tagged: bool = True


class TaggedRuns:
    """The runs of one paragraph as one text with inline tags (:attr:`text`)."""

    def __init__(self, runs: Sequence[Run]) -> None:
        self.runs = list(runs)
        groups: list[_Group] = []
        for index, run in enumerate(self.runs):
            for text, code in _split_code(run.text, run.code):
                last = groups[-1] if groups else None
                if last is not None and not last.anchors and not last.code and not last.text.strip():
                    last.text, last.run, last.code = last.text + text, index, code  # leading spaces join the text
                elif last is not None and not last.anchors and (
                        (not text.strip() and not code) or
                        (not code and not last.code and self.runs[last.run].style == run.style)):
                    last.text += text
                else:
                    groups.append(_Group(index, code, text))
            if run.anchored:
                groups[-1].anchors.append(index)
        groups = _anchor_to_words(groups)
        prose = [g for g in groups if not g.code and g.text.strip()]
        self._prose = bool(prose)
        if prose:
            weight: dict[Hashable, int] = {}
            for group in prose:
                weight[self.runs[group.run].style] = weight.get(self.runs[group.run].style, 0) + len(group.text)
            main = max(weight, key=weight.__getitem__)  # the first of the heaviest, dicts keep their order
            for group in groups:
                group.tagged = group.code or bool(group.anchors) or self.runs[group.run].style != main
        self._groups = groups
        self.main = next((number for number, group in enumerate(groups) if not group.tagged), None)
        self.text = "".join(self._tagged(number, group) for number, group in enumerate(groups))

    def _tagged(self, number: int, group: _Group) -> str:
        body = html.escape(group.text, quote=False).replace("\t", TAB)
        if not group.tagged:
            return body
        name = "span" if self._prose else "code"  # <code>: a paragraph of nothing but code is not translated
        return f'<{name} id="g{number}">{body}</{name}>'

    def pieces(self, rendered: str) -> list[Piece]:
        """The translated :attr:`text` (as :class:`translator.text.markup.Markup` renders it) as pieces; text
        outside every element takes the main formatting (or the formatting of the element before it). A code
        element gets its own text back, whatever was translated into it; an element that came back empty still
        gives an empty piece, so its run's anchors keep their place."""
        pieces: list[tuple[str, int]] = []
        current: int | None = None
        previous = self.main if self.main is not None else 0
        position = opened_at = 0
        for match in _TOKEN.finditer(rendered):
            if current is None or not self._groups[current].code:
                _add(pieces, html.unescape(rendered[position:match.start()]),
                     current if current is not None else (self.main if self.main is not None else previous))
            position = match.end()
            if match.group(0) == TAB:
                if current is None or not self._groups[current].code:
                    _add(pieces, "\t", current if current is not None else previous)
            elif match.group(1):  # a closing tag
                if current is not None and self._groups[current].code:
                    pieces.append((self._groups[current].text, current))
                elif current is not None and not any(group == current for _, group in pieces[opened_at:]):
                    pieces.append(("", current))
                current = None
            else:
                current = previous = int(match.group(3))
                opened_at = len(pieces)
        _add(pieces, html.unescape(rendered[position:]), self.main if self.main is not None else previous)
        last_of = {group: index for index, (_, group) in enumerate(pieces)}
        return [Piece(text, self._groups[number].run, tuple(self._groups[number].anchors) if last_of[number] == index
                      else ()) for index, (text, number) in enumerate(pieces)]


def _add(pieces: list[tuple[str, int]], text: str, group: int) -> None:
    """Append ``text`` of ``group``, joining it to the piece before when that is of the same group."""
    if not text:
        return
    if pieces and pieces[-1][1] == group:
        pieces[-1] = (pieces[-1][0] + text, group)
    else:
        pieces.append((text, group))


def _split_code(text: str, code: bool) -> list[tuple[str, bool]]:
    """``text`` cut around the URLs and e-mail addresses in it, which are code (left as they are)."""
    if code:
        return [(text, True)]
    chunks, cursor = [], 0
    for start, end in protected_spans(text):
        span = text[start:end]
        if "@" in span or span.startswith(("http", "ftp", "www.")):
            if start > cursor:
                chunks.append((text[cursor:start], False))
            chunks.append((span, True))
            cursor = end
    if cursor < len(text) or not chunks:
        chunks.append((text[cursor:], False))
    return chunks


_LAST_WORD = re.compile(r"\w[^\s]*\s*$")


def _anchor_to_words(groups: list[_Group]) -> list[_Group]:
    """Anchors follow the last word before them: an anchored group keeps only that word (the text before it
    becomes a group of its own), and an anchored group without a word hands its anchors to the group before."""
    out: list[_Group] = []
    for group in groups:
        if group.anchors and not group.code:
            word = _LAST_WORD.search(group.text)
            if word is None and out:
                out[-1].anchors += group.anchors
                group.anchors = []
            elif word is not None and word.start() > 0:
                out.append(_Group(group.run, False, group.text[:word.start()]))
                group.text = group.text[word.start():]
        out.append(group)
    return out
