"""Paragraphs made of run elements (Office Open XML's ``w:p`` and ``a:p``) read as runs and rebuilt from pieces.

A paragraph's children are walked in order: runs that hold only text become :class:`~translator.documents.inline.Run`s,
containers (a hyperlink, a content control, a tracked insertion) are walked into, and everything else is an
anchor (an image, a note reference, a field, a bookmark) that is kept as it is. Rebuilding replaces the text
runs by new runs, each a copy of the run its piece takes its formatting from, inside copies of that run's
containers; the anchors are moved, not copied, so paragraphs inside them (text boxes) stay the ones that are
translated. :mod:`translator.documents.ooxml` gives the dialects.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

from lxml import etree

from translator.documents.inline import Piece, Run, TaggedRuns

_MONOSPACE = ("mono", "courier", "consolas", "menlo", "monaco", "code", "lucida console", "fixedsys",
              "typewriter", "inconsolata")


def is_monospace(font: str) -> bool:
    """Whether a font name is a monospace (code) font."""
    return any(name in font.lower() for name in _MONOSPACE)


@dataclass(frozen=True)
class Dialect:
    """How one XML vocabulary keeps paragraph text: run tags, a run's text (None when it holds more than text),
    runs made from a template and a text, a run's style key and whether it is code, container tags, the
    paragraph's children that stay first (properties) or last, children that are dropped (proofing marks),
    and paragraphs that are code as a whole."""

    runs: frozenset[str]
    text: Callable[[etree._Element], str | None]
    make_runs: Callable[[etree._Element, str], list[etree._Element]]
    style: Callable[[etree._Element], tuple[str, bool]]
    containers: frozenset[str]
    first: frozenset[str]
    last: frozenset[str]
    dropped: frozenset[str]
    code_paragraph: Callable[[etree._Element], bool]
    range_starts: frozenset[str] = frozenset()
    range_ends: frozenset[str] = frozenset()
    field: Callable[[etree._Element], str | None] = lambda element: None


@dataclass
class _Paragraph:
    element: etree._Element
    texts: list[tuple[etree._Element, tuple[etree._Element, ...]]]  # each text run and its containers
    tagged: TaggedRuns
    before: list[etree._Element]  # anchors before the first text run, and range starts
    after: dict[int, list[etree._Element]]  # anchors after text run i (the last run's: at the end)
    end: list[etree._Element]  # range ends


class ParagraphSet:
    """The paragraphs of one XML part in one dialect: their :attr:`segments`, and :meth:`write` to put the
    translations in."""

    def __init__(self, paragraphs: Sequence[etree._Element], dialect: Dialect) -> None:
        self.dialect = dialect
        self._paragraphs = [p for p in (self._read(element) for element in paragraphs) if p is not None]
        self.segments = [paragraph.tagged.text for paragraph in self._paragraphs]

    def _read(self, element: etree._Element) -> _Paragraph | None:
        if self.dialect.code_paragraph(element):
            return None
        items: list[tuple[etree._Element, tuple[etree._Element, ...], str | None]] = []
        self._walk(element, (), items)
        fields = inside_fields([self.dialect.field(item) for item, _, _ in items])
        items = [(item, path, None if field else text) for (item, path, text), field in zip(items, fields)]
        texts = [(run, path) for run, path, text in items if text is not None]
        if not any((text or "").strip() for _, _, text in items):
            return None
        anchors = sort_anchors([None if text is not None else item for item, _, text in items],
                               self.dialect.range_starts, self.dialect.range_ends)
        runs: list[Run] = []
        for run, path, text in items:
            if text is not None:
                style, code = self.dialect.style(run)
                runs.append(Run(text, (tuple((c.tag, tuple(sorted(c.attrib.items()))) for c in path), style), code))
        runs = [Run(r.text, r.style, r.code, anchored=i in anchors.after and i < len(runs) - 1)
                for i, r in enumerate(runs)]
        return _Paragraph(element, texts, TaggedRuns(runs), anchors.before, anchors.after, anchors.end)

    def _walk(self, element: etree._Element, path: tuple[etree._Element, ...],
              items: list[tuple[etree._Element, tuple[etree._Element, ...], str | None]]) -> None:
        """Collect (element, containers, text or None for an anchor) for ``element``'s children, in order."""
        for child in element:
            tag = child.tag
            if isinstance(tag, str):
                if (not path and tag in self.dialect.first | self.dialect.last) or tag in self.dialect.dropped:
                    continue
                if tag in self.dialect.containers:
                    self._walk(child, path + (child,), items)
                    continue
                if path and _is_property(child):
                    continue  # a container's own properties: its copies keep them
                if tag in self.dialect.runs:
                    text = self.dialect.text(child)
                    if text is not None:
                        items.append((child, path, text))
                        continue
            items.append((child, path, None))

    def write(self, translated: Sequence[str]) -> None:
        """Rebuild every paragraph whose translation differs from its segment."""
        for paragraph, rendered in zip(self._paragraphs, translated, strict=True):
            if rendered != paragraph.tagged.text:
                self._rebuild(paragraph, paragraph.tagged.pieces(rendered))

    def _rebuild(self, paragraph: _Paragraph, pieces: list[Piece]) -> None:
        element, dialect = paragraph.element, self.dialect
        for child in list(element):
            if not (isinstance(child.tag, str) and child.tag in dialect.first | dialect.last):
                element.remove(child)
        placed: list[tuple[etree._Element, tuple[etree._Element, ...]]] = [(a, ()) for a in paragraph.before]
        last_run = len(paragraph.texts) - 1
        for piece in pieces:
            run, path = paragraph.texts[piece.run]
            if piece.text:
                placed += [(made, path) for made in dialect.make_runs(run, piece.text)]
            placed += [(anchor, ()) for run in piece.anchors for anchor in paragraph.after.get(run, [])]
        placed += [(anchor, ()) for anchor in paragraph.after.get(last_run, []) + paragraph.end]
        position = sum(1 for child in element if isinstance(child.tag, str) and child.tag in dialect.first)
        open_: list[tuple[etree._Element, etree._Element]] = []  # (original container, its copy)
        for child, path in placed:
            shared = 0
            while shared < min(len(open_), len(path)) and open_[shared][0] is path[shared]:
                shared += 1
            del open_[shared:]
            for container in path[shared:]:
                made = _shallow_copy(container, dialect)
                if open_:
                    open_[-1][1].append(made)
                else:
                    element.insert(position, made)
                    position += 1
                open_.append((container, made))
            if open_:
                open_[-1][1].append(child)
            else:
                element.insert(position, child)
                position += 1


@dataclass
class Anchors:
    """Where a paragraph's anchors go when it is rebuilt: at its start (those before any text, and the marks that
    open a range, such as a bookmark's start), after the words of text run i, or at its end (the marks that
    close a range). Ranges widen to the whole paragraph, but never come out reversed."""

    before: list[etree._Element]
    after: dict[int, list[etree._Element]]
    end: list[etree._Element]


def sort_anchors(items: Sequence[etree._Element | None], range_starts: frozenset[str],
                 range_ends: frozenset[str]) -> Anchors:
    """``items`` in order: None for a text run, an element for an anchor."""
    anchors = Anchors([], {}, [])
    runs = 0
    for item in items:
        if item is None:
            runs += 1
        elif item.tag in range_starts or not runs:
            anchors.before.append(item)
        elif item.tag in range_ends:
            anchors.end.append(item)
        else:
            anchors.after.setdefault(runs - 1, []).append(item)
    return anchors


def inside_fields(kinds: Sequence[str | None]) -> list[bool]:
    """Which items belong to a complex field (``kinds``: each item's "begin", "separate", "end" or None): they
    stay together and untranslated, so a field never comes out with its end before its start. A field that
    began in an earlier paragraph takes everything before its end; one that goes on takes everything after
    its start."""
    inside, depth = [False] * len(kinds), 0
    for index, kind in enumerate(kinds):
        if kind == "begin":
            depth += 1
        if depth or kind is not None:
            inside[index] = True
        if kind == "end":
            if depth:
                depth -= 1
            else:
                inside[:index + 1] = [True] * (index + 1)
    return inside


def _is_property(element: etree._Element) -> bool:
    return etree.QName(element).localname.endswith("Pr")


def _shallow_copy(container: etree._Element, dialect: Dialect) -> etree._Element:
    """``container`` with its attributes and properties, without its content."""
    made = etree.Element(container.tag, attrib=dict(container.attrib), nsmap=container.nsmap)
    for child in container:
        if isinstance(child.tag, str) and _is_property(child) and child.tag not in dialect.containers:
            made.append(copy.deepcopy(child))
            made[-1].tail = None
    return made
