"""HTML: translate the text between tags, keep the markup (the compatible API's ``format: "html"``, documents).

The markup is cut into tags (with comments, CDATA and doctype) and the text between them; character
references are decoded for translation and ``&``, ``<``, ``>`` escaped again after; every tag comes
back byte for byte. The contents of ``script``, ``style``, ``code``, ``pre`` and ``textarea`` are
not prose and are left as they are.

A sentence cut by inline elements (``Ein <b>großer Hund</b> läuft.``) is translated whole, as one
:class:`Run`, and its inline tags are put back around the target words that the source words inside
them were translated into, found from the decoder's attention (each target piece belongs to the
text node its attention weighs most): "A <b>big dog</b> runs.". When that cannot be done (pieces
that do not spell the text, an element whose words got no target word, elements that would overlap),
the run's text nodes are translated one by one instead, as every other text node is.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from translator.alignment import piece_spans
from translator.text.segment import split_sentences
from translator.translate import Alignment, Translation

_TOKENS = re.compile(r"(<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[!?/]?[A-Za-z][^>]*>)", re.S)
_TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)")
UNTRANSLATED = {"script", "style", "code", "pre", "textarea"}
# Elements that sit inside a sentence; any other tag (and a comment) ends the text a run can span.
INLINE = frozenset({"a", "abbr", "b", "bdi", "bdo", "cite", "del", "dfn", "em", "font", "i", "ins", "kbd", "mark",
                    "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"})


@dataclass(frozen=True)
class Run:
    """Text nodes joined by inline elements, translated as one text.

    ``parts`` is the slice ``start:end`` of the markup's parts; ``nodes`` gives each text part's index
    and its character span in ``text`` (their decoded concatenation); ``elements`` the part indices of
    each inline element's opening and closing tag, in opening order, with the index of the element
    it sits in (or -1).
    """

    start: int
    end: int
    text: str
    nodes: list[tuple[int, int, int]]
    elements: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Markup:
    """An HTML text as ``parts`` (tags and text, in order); ``texts[i]`` is the decoded text of ``parts[text_parts[i]]``."""

    parts: list[str]
    text_parts: list[int]
    texts: list[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def units(self) -> list[str]:
        """What to translate when tags are placed by attention: each run whole, every other text node alone."""
        return [text for _, _, text in self._units()]

    def _units(self) -> list[tuple[bool, int, str]]:
        """``(True, run number, run text)`` or ``(False, part index, node text)`` for each unit, in order."""
        in_run = {index for run in self.runs for index, _, _ in run.nodes}
        starts = {run.nodes[0][0]: number for number, run in enumerate(self.runs)}
        units: list[tuple[bool, int, str]] = []
        for index, text in zip(self.text_parts, self.texts):
            if index in starts:
                units.append((True, starts[index], self.runs[starts[index]].text))
            elif index not in in_run:
                units.append((False, index, text))
        return units

    def place(self, translations: Sequence[Translation], language: str | None) -> list[str | None]:
        """Each run's translation with its tags placed (:func:`place_tags`), or None where they cannot be;
        ``translations`` are of :attr:`units`, in order, with attention."""
        placed: list[str | None] = [None] * len(self.runs)
        for (is_run, key, _), translation in zip(self._units(), translations, strict=True):
            if is_run:
                placed[key] = place_tags(self.parts, self.runs[key], translation, language)
        return placed

    def render(self, translations: Sequence[Translation], placed: Sequence[str | None],
               fallback: Mapping[int, Sequence[str]] | None = None) -> str:
        """The markup with every unit replaced by its translation (``translations`` of :attr:`units`).

        Run ``r`` takes ``placed[r]`` (from :meth:`place`); where that is None, ``fallback[r]``: the
        translations of its text nodes, one by one (from :meth:`run_node_texts`).
        """
        fallback = fallback or {}
        parts = list(self.parts)
        for (is_run, key, _), translation in zip(self._units(), translations, strict=True):
            if not is_run:
                parts[key] = html.escape(translation.text, quote=False)
                continue
            run = self.runs[key]
            if placed[key] is None:
                for (index, _, _), text in zip(run.nodes, fallback[key], strict=True):
                    parts[index] = html.escape(text, quote=False) if self.parts[index].strip() else self.parts[index]
                continue
            parts[run.start] = placed[key]
            for index in range(run.start + 1, run.end):
                parts[index] = ""
        return "".join(parts)

    def run_node_texts(self, run: int) -> list[str]:
        """The decoded text nodes of run ``run``, to translate one by one when its tags cannot be placed."""
        return [self.runs[run].text[start:end] for _, start, end in self.runs[run].nodes]

    def join(self, translated: Sequence[str]) -> str:
        """The markup with each translatable text node replaced by its (escaped) translation."""
        if len(translated) != len(self.texts):
            raise ValueError(f"expected {len(self.texts)} translated text nodes, got {len(translated)}")
        parts = list(self.parts)
        for index, text in zip(self.text_parts, translated):
            parts[index] = html.escape(text, quote=False)
        return "".join(parts)


def parse_markup(markup: str) -> Markup:
    """Cut ``markup`` into tags and text nodes; whitespace-only nodes and code-like elements stay as they are."""
    parts = [part for part in _TOKENS.split(markup) if part]
    text_parts: list[int] = []
    inside: str | None = None  # the untranslated element we are in, if any
    for index, part in enumerate(parts):
        if _is_tag(part):  # a tag, comment, CDATA section or doctype
            tag = _TAG_NAME.match(part)
            if tag is None:
                continue
            closing, name = tag.group(1) == "/", tag.group(2).lower()
            if inside is None and not closing and name in UNTRANSLATED and not part.rstrip(">").endswith("/"):
                inside = name
            elif inside == name and closing:
                inside = None
        elif inside is None and part.strip():
            text_parts.append(index)
    texts = [html.unescape(parts[index]) for index in text_parts]
    return Markup(parts, text_parts, texts, _runs(parts, set(text_parts)))


def _is_tag(part: str) -> bool:
    return part.startswith("<") and _TOKENS.fullmatch(part) is not None


def _inline(part: str) -> tuple[str, bool] | None:
    """``(name, closing)`` of an inline element's opening or closing tag; None for anything else."""
    if not _is_tag(part) or part.rstrip(">").endswith("/"):
        return None
    tag = _TAG_NAME.match(part)
    if tag is None or tag.group(2).lower() not in INLINE:
        return None
    return tag.group(2).lower(), tag.group(1) == "/"


def _runs(parts: list[str], text_parts: set[int]) -> list[Run]:
    """Every stretch of text nodes and balanced inline elements holding at least two text nodes."""
    runs = []
    index = 0
    while index < len(parts):
        end = index
        while end < len(parts) and (_inline(parts[end]) is not None or not _is_tag(parts[end])):
            end += 1
        if end > index:
            run = _run(parts, text_parts, index, end)
            if run is not None:
                runs.append(run)
        index = end + 1
    return runs


def _run(parts: list[str], text_parts: set[int], start: int, end: int) -> Run | None:
    """The run of ``parts[start:end]`` (text and inline tags only), or None: unbalanced, or one text node."""
    if any(not _is_tag(parts[i]) and parts[i].strip() and i not in text_parts for i in range(start, end)):
        return None  # text the markup leaves untranslated
    stack: list[tuple[str, int, int]] = []  # (name, opening part, element index)
    elements: list[tuple[int, int, int]] = []
    nodes: list[tuple[int, int, int]] = []
    text = ""
    for index in range(start, end):
        inline = _inline(parts[index])
        if inline is None:
            decoded = html.unescape(parts[index])
            nodes.append((index, len(text), len(text) + len(decoded)))
            text += decoded
        elif not inline[1]:
            elements.append((index, -1, stack[-1][2] if stack else -1))
            stack.append((inline[0], index, len(elements) - 1))
        elif stack and stack[-1][0] == inline[0]:
            _, opening, element = stack.pop()
            elements[element] = (opening, index, elements[element][2])
        else:
            return None
    if stack or sum(1 for i, _, _ in nodes if i in text_parts) < 2:
        return None
    return Run(start, end, text, nodes, elements)


def place_tags(parts: list[str], run: Run, translation: Translation, language: str | None) -> str | None:
    """The run's translation (escaped) with its inline tags around the words they hold; None if impossible.

    ``translation`` is of ``run.text``, translated sentence by sentence (split as
    :func:`translator.text.segment.split_sentences` splits it for ``language``) with attention.
    """
    split = split_sentences(run.text, language)
    sentences = [translation] if len(split.sentences) == 1 else (translation.sentences or [])
    if len(sentences) != len(split.sentences) or split.join([s.text for s in sentences]) != translation.text:
        return None
    node_at: list[int | None] = [None] * len(run.text)
    for number, (_, start, end) in enumerate(run.nodes):
        node_at[start:end] = [number] * (end - start)
    links: list[tuple[tuple[int, int], dict[int, float]]] = []  # each target piece: span, attention per node
    source_offset, target_offset = len(split.separators[0]), len(split.separators[0])
    for source, result, separator in zip(split.sentences, sentences, split.separators[1:]):
        if result.alignment is None:
            return None
        found = _piece_links(source, result.text, result.alignment, node_at, source_offset)
        if found is None:
            return None
        links += [((target_offset + start, target_offset + end), totals) for (start, end), totals in found]
        source_offset += len(source) + len(separator)
        target_offset += len(result.text) + len(separator)
    owner = [max(totals, key=totals.get) if totals else None for _, totals in links]
    number_of = {index: number for number, (index, _, _) in enumerate(run.nodes)}
    held = [{number_of[i] for i in range(opening + 1, closing) if i in number_of} for opening, closing, _ in run.elements]
    for nodes in held:  # an element whose words own no target piece takes the piece that attends to them most
        if not any(node in nodes for node in owner):
            mass = [sum(totals.get(node, 0.0) for node in nodes) for _, totals in links]
            if not mass or max(mass) <= 0:
                return None
            best = mass.index(max(mass))
            owner[best] = max(nodes, key=lambda node: links[best][1].get(node, 0.0))
    element_spans: list[list[int]] = []
    for nodes in held:
        pieces = [links[k][0] for k in range(len(links)) if owner[k] in nodes]
        words = [(start, end) for start, end in pieces if any(c.isalnum() for c in translation.text[start:end])]
        inside = words or pieces  # punctuation at an element's edge stays outside it
        if not inside:  # its only piece went to another element
            return None
        element_spans.append(_whole_words(translation.text, min(start for start, _ in inside),
                                          max(end for _, end in inside)))
    for element in reversed(range(len(run.elements))):  # children open after their parents: widen parents
        parent = run.elements[element][2]
        if parent >= 0:
            element_spans[parent][0] = min(element_spans[parent][0], element_spans[element][0])
            element_spans[parent][1] = max(element_spans[parent][1], element_spans[element][1])
    for parent in {parent for _, _, parent in run.elements}:
        siblings = sorted(element_spans[e] for e in range(len(run.elements)) if run.elements[e][2] == parent)
        if any(before[1] > after[0] for before, after in zip(siblings, siblings[1:])):
            return None  # two elements' words interleave in the translation
    events = sorted([(end, 0, -number, parts[run.elements[number][1]]) for number, (_, end) in enumerate(element_spans)]
                    + [(start, 1, number, parts[run.elements[number][0]])
                       for number, (start, _) in enumerate(element_spans)])
    out, position = [], 0
    for at, _, _, tag in events:
        out += [html.escape(translation.text[position:at], quote=False), tag]
        position = at
    out.append(html.escape(translation.text[position:], quote=False))
    return "".join(out)


def _whole_words(text: str, start: int, end: int) -> list[int]:
    """``[start, end]`` widened to whole words: a word cut into pieces ("▁on" "to") is not cut by a tag."""
    while 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return [start, end]


def _piece_links(source: str, target: str, alignment: Alignment, node_at: list[int | None],
                 source_offset: int) -> list[tuple[tuple[int, int], dict[int, float]]] | None:
    """Each target piece's character span in ``target`` and its attention summed per source text node."""
    source_spans = piece_spans(source, alignment.source_pieces)
    target_spans = piece_spans(target, alignment.target_pieces)
    if source_spans is None or target_spans is None:
        return None
    source_nodes = [None if span is None else node_at[source_offset + span[0]] for span in source_spans]
    links = []
    for span, weights in zip(target_spans, alignment.weights):
        if span is None:
            continue
        totals: dict[int, float] = {}
        for node, weight in zip(source_nodes, weights):
            if node is not None:
                totals[node] = totals.get(node, 0.0) + weight
        links.append((span, totals))
    return links
