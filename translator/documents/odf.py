"""OpenDocument text and presentations (``.odt``, ``.odp``), edited in ``content.xml`` and ``styles.xml`` with lxml.

Every ``text:p`` and ``text:h`` of the body (tables, lists, frames, slides, speaker notes, footnotes) and of
the page headers and footers is read as runs: text in the same ``text:span``/``text:a`` elements is one run;
``text:s``, ``text:tab`` and ``text:line-break`` are its spaces, tabs and line breaks; anything else (a note,
a frame, a field, a bookmark) is an anchor that keeps its place after the words before it. Runs in a
monospace font, and paragraphs in a preformatted style, are code and are not translated.
"""

from __future__ import annotations

import re

from lxml import etree

from translator.documents.archive import Archive
from translator.documents.content import Content
from translator.documents.inline import Piece, Run, TaggedRuns
from translator.documents.paragraphs import Anchors, is_monospace, sort_anchors

TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
SVG = "{urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0}"
FO = "{urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0}"
_PARAGRAPHS = (TEXT + "p", TEXT + "h")
_CONTAINERS = {TEXT + "span", TEXT + "a"}
_HEADERS = {STYLE + name for name in ("header", "footer", "header-left", "footer-left", "header-first",
                                      "footer-first")}
_RANGE_STARTS = frozenset({TEXT + "bookmark-start", TEXT + "reference-mark-start", TEXT + "toc-mark-start",
                           TEXT + "alphabetical-index-mark-start", TEXT + "user-index-mark-start",
                           OFFICE + "annotation"})
_RANGE_ENDS = frozenset({TEXT + "bookmark-end", TEXT + "reference-mark-end", TEXT + "toc-mark-end",
                         TEXT + "alphabetical-index-mark-end", TEXT + "user-index-mark-end", OFFICE + "annotation-end"})
_CODE_STYLES = {"source_20_text", "teletype", "example", "preformatted_20_text", "code"}
_SPACES = re.compile(r"[ \t\r\n]+")
_WHITESPACE = re.compile(r"( +|\t|\n)")

Path = tuple[etree._Element, ...]


def read_odf(archive: Archive) -> Content:
    """The paragraphs of the body and of the page headers and footers as segments."""
    content, styles = archive.xml("content.xml"), archive.xml("styles.xml") if "styles.xml" in archive.names else None
    code = _code_styles([root for root in (content, styles) if root is not None])
    paragraphs = list(content.iter(*_PARAGRAPHS))
    if styles is not None:
        paragraphs += [p for header in styles.iter(*_HEADERS) for p in header.iter(*_PARAGRAPHS)]
    read = [r for r in (_read(p, code) for p in paragraphs if p.get(TEXT + "style-name") not in code) if r]

    def write(translated: list[str]) -> bytes:
        for (paragraph, tagged, paths, anchors), rendered in zip(read, translated, strict=True):
            if rendered != tagged.text:
                _rebuild(paragraph, tagged.pieces(rendered), paths, anchors)
        archive.replace("content.xml", content)
        if styles is not None:
            archive.replace("styles.xml", styles)
        return archive.write()

    return Content([r[1].text for r in read], write)


def _read(paragraph: etree._Element, code: set[str]):
    """(paragraph, its tagged runs, each run's containers, its anchors), or None for a paragraph without text."""
    items: list[tuple[str | None, Path, etree._Element | None]] = []  # (text, containers) or (None, (), anchor)
    _walk(paragraph, (), items)
    entries: list[tuple[str, Path] | etree._Element] = []  # text of one run (same containers), or an anchor
    for text, path, anchor in items:
        if text is None:
            entries.append(anchor)
        elif entries and isinstance(entries[-1], tuple) and entries[-1][1] == path:
            entries[-1] = (entries[-1][0] + text, path)
        else:
            entries.append((text, path))
    texts = [entry for entry in entries if isinstance(entry, tuple)]
    if not any(text.strip() for text, _ in texts):
        return None
    anchors = sort_anchors([None if isinstance(entry, tuple) else entry for entry in entries], _RANGE_STARTS,
                           _RANGE_ENDS)
    runs = [Run(text, tuple((c.tag, tuple(sorted(c.attrib.items()))) for c in path),
                any(c.get(TEXT + "style-name") in code for c in path), anchored=i in anchors.after and i < len(texts) - 1)
            for i, (text, path) in enumerate(texts)]
    return paragraph, TaggedRuns(runs), [path for _, path in texts], anchors


def _walk(element: etree._Element, path: Path, items: list) -> None:
    """Collect the text (spaces collapsed as ODF displays them) and anchors inside ``element``, in order."""
    if element.text:
        items.append((_SPACES.sub(" ", element.text), path, None))
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _CONTAINERS:
            _walk(child, path + (child,), items)
        elif tag == TEXT + "s":
            items.append((" " * int(child.get(TEXT + "c") or 1), path, None))
        elif tag == TEXT + "tab":
            items.append(("\t", path, None))
        elif tag == TEXT + "line-break":
            items.append(("\n", path, None))
        elif tag != TEXT + "soft-page-break":  # a layout hint; the application puts it back
            items.append((None, (), child))
        if child.tail:
            items.append((_SPACES.sub(" ", child.tail), path, None))


def _rebuild(paragraph: etree._Element, pieces: list[Piece], paths: list[Path], anchors: Anchors) -> None:
    """Replace the paragraph's content by the pieces, each in copies of its run's containers, anchors in place."""
    paragraph.text = None
    for child in list(paragraph):
        paragraph.remove(child)
    placed: list[tuple[str | etree._Element, Path]] = [(anchor, ()) for anchor in anchors.before]
    for piece in pieces:
        if piece.text:
            placed.append((piece.text, paths[piece.run]))
        placed += [(anchor, ()) for run in piece.anchors for anchor in anchors.after.get(run, [])]
    placed += [(anchor, ()) for anchor in anchors.after.get(len(paths) - 1, []) + anchors.end]
    open_: list[tuple[etree._Element, etree._Element]] = []
    at_start = True
    for item, path in placed:
        shared = 0
        while shared < min(len(open_), len(path)) and open_[shared][0] is path[shared]:
            shared += 1
        del open_[shared:]
        for container in path[shared:]:
            made = etree.Element(container.tag, attrib=dict(container.attrib), nsmap=container.nsmap)
            (open_[-1][1] if open_ else paragraph).append(made)
            open_.append((container, made))
        parent = open_[-1][1] if open_ else paragraph
        if isinstance(item, str):
            _append_text(parent, item, at_start)
            at_start = False
        else:
            item.tail = None
            parent.append(item)
            at_start = False


def _append_text(parent: etree._Element, text: str, at_start: bool) -> None:
    """Append ``text`` to ``parent``: spaces that ODF would collapse (several, or one that starts the paragraph) as
    ``text:s``, tabs and line breaks as ``text:tab`` and ``text:line-break``."""
    for part in _WHITESPACE.split(text):
        if part in ("\t", "\n"):
            parent.append(etree.Element(TEXT + ("tab" if part == "\t" else "line-break")))
        elif part.startswith(" ") and (at_start or len(part) > 1):
            if not at_start:
                _add_string(parent, " ")
            space = etree.SubElement(parent, TEXT + "s")
            count = len(part) - (0 if at_start else 1)
            if count > 1:
                space.set(TEXT + "c", str(count))
        elif part:
            _add_string(parent, part)
        at_start = at_start and not part


def _add_string(parent: etree._Element, text: str) -> None:
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _code_styles(roots: list[etree._Element]) -> set[str]:
    """The names of the styles (paragraph and text) that are code: a code style's name, a monospace font, or a
    parent that is code."""
    fixed = {face.get(STYLE + "name") for root in roots for face in root.iter(STYLE + "font-face")
             if face.get(STYLE + "font-pitch") == "fixed" or is_monospace(face.get(SVG + "font-family") or "")}
    parents: dict[str, str | None] = {}
    code: set[str] = set()
    for root in roots:
        for style in root.iter(STYLE + "style"):
            name = style.get(STYLE + "name")
            if name is None:
                continue
            parents[name] = style.get(STYLE + "parent-style-name")
            properties = style.find(STYLE + "text-properties")
            font = None if properties is None else (properties.get(STYLE + "font-name") or
                                                    properties.get(FO + "font-family") or "")
            if name.lower() in _CODE_STYLES or (font and (font in fixed or is_monospace(font))):
                code.add(name)
    changed = True
    while changed:
        changed = False
        for name, parent in parents.items():
            if name not in code and parent in code:
                code.add(name)
                changed = True
    return code
