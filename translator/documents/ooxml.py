"""Office Open XML: Word (``.docx``) and PowerPoint (``.pptx``), edited in their XML parts.

The parts that hold text are found by content type in ``[Content_Types].xml``: Word's body, headers,
footers, footnotes, endnotes and comments; PowerPoint's slides and speaker notes; SmartArt in both. Every
paragraph (``w:p``, and DrawingML's ``a:p`` in slides, shapes and diagrams) is read as runs
(:mod:`translator.documents.paragraphs`), so its place in a table, list, text box or slide layout and its
properties stay, and the translated runs take the formatting of the runs they came from.
"""

from __future__ import annotations

import copy

from lxml import etree

from translator.documents.archive import Archive
from translator.documents.content import Content
from translator.documents.paragraphs import Dialect, ParagraphSet, is_monospace

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
WORD_PARTS = ("wordprocessingml.document.main+xml", "wordprocessingml.template.main+xml",
              "ms-word.document.macroEnabled.main+xml", "ms-word.template.macroEnabledTemplate.main+xml",
              "wordprocessingml.header+xml", "wordprocessingml.footer+xml", "wordprocessingml.footnotes+xml",
              "wordprocessingml.endnotes+xml", "wordprocessingml.comments+xml")
SLIDE_PARTS = ("presentationml.slide+xml", "presentationml.notesSlide+xml")
DIAGRAM_PARTS = ("drawingml.diagramData+xml", "drawingml.diagramDrawing+xml")
_CODE_STYLES = {"htmlcode", "code", "sourcecode", "verbatimchar", "inlinecode", "htmlkeyboard", "htmltypewriter",
                "htmlpreformatted", "codeblock", "sourcetext", "preformattedtext"}
# Run properties that say nothing about how a run looks: runs that differ only in them are one style.
_IGNORED = {W + "lang", W + "noProof", W + "proofErr", W + "rPrChange"}
_IGNORED_DRAWING_ATTRIBUTES = {"lang", "altLang", "dirty", "err", "noProof", "smtClean", "smtId", "bmk"}


def read_docx(archive: Archive) -> Content:
    """A Word document's paragraphs (body, headers, footers, notes, comments, text boxes, SmartArt) as segments."""
    return _read(archive, WORD_PARTS + DIAGRAM_PARTS)


def read_pptx(archive: Archive) -> Content:
    """A presentation's paragraphs (slides, tables, speaker notes, SmartArt) as segments."""
    return _read(archive, SLIDE_PARTS + DIAGRAM_PARTS)


def _read(archive: Archive, kinds: tuple[str, ...]) -> Content:
    types = archive.xml("[Content_Types].xml")
    names = [element.get("PartName", "").lstrip("/") for element in types
             if element.get("PartName") and element.get("ContentType", "").endswith(kinds)]
    parts = [(name, archive.xml(name)) for name in names if name in archive.names]
    sets = []
    for _, root in parts:
        sets.append(ParagraphSet(list(root.iter(W + "p")), _WORD))
        sets.append(ParagraphSet(list(root.iter(A + "p")), _DRAWING))
    segments = [segment for paragraphs in sets for segment in paragraphs.segments]

    def write(translated: list[str]) -> bytes:
        position = 0
        for paragraphs in sets:
            paragraphs.write(translated[position:position + len(paragraphs.segments)])
            position += len(paragraphs.segments)
        for name, root in parts:
            archive.replace(name, root)
        return archive.write()

    return Content(segments, write)


def _word_text(run: etree._Element) -> str | None:
    """A ``w:r``'s text (tabs and line breaks as characters), or None if it holds more than text."""
    text = []
    for child in run:
        tag = child.tag
        if tag == W + "rPr" or tag in (W + "lastRenderedPageBreak", W + "softHyphen"):
            continue
        if tag == W + "t":
            text.append(child.text or "")
        elif tag == W + "tab":
            text.append("\t")
        elif tag == W + "cr" or (tag == W + "br" and child.get(W + "type") in (None, "textWrapping")):
            text.append("\n")
        elif tag == W + "noBreakHyphen":
            text.append("\u2011")
        else:
            return None
    return "".join(text)


def _word_runs(template: etree._Element, text: str) -> list[etree._Element]:
    """A ``w:r`` like ``template`` (its properties) holding ``text``."""
    run = etree.Element(W + "r", nsmap=template.nsmap)
    run.attrib.update(template.attrib)
    properties = template.find(W + "rPr")
    if properties is not None:
        run.append(copy.deepcopy(properties))
    for index, line in enumerate(text.split("\n")):
        if index:
            etree.SubElement(run, W + "br")
        for number, chunk in enumerate(line.split("\t")):
            if number:
                etree.SubElement(run, W + "tab")
            if chunk:
                element = etree.SubElement(run, W + "t")
                element.text = chunk
                if chunk != chunk.strip():
                    element.set(_XML_SPACE, "preserve")
    return [run]


def _word_style(run: etree._Element) -> tuple[str, bool]:
    """A ``w:r``'s properties as a key (without language and proofing marks), and whether it is code."""
    properties = run.find(W + "rPr")
    if properties is None:
        return "", False
    kept = copy.deepcopy(properties)
    for child in list(kept):
        if child.tag in _IGNORED:
            kept.remove(child)
    fonts = properties.find(W + "rFonts")
    style = properties.find(W + "rStyle")
    code = (fonts is not None and is_monospace(fonts.get(W + "ascii") or fonts.get(W + "hAnsi") or "")) or (
        style is not None and (style.get(W + "val") or "").lower() in _CODE_STYLES)
    return etree.tostring(kept, encoding="unicode"), code


def _word_code_paragraph(paragraph: etree._Element) -> bool:
    style = paragraph.find(f"{W}pPr/{W}pStyle")
    return style is not None and (style.get(W + "val") or "").lower() in _CODE_STYLES


def _drawing_text(run: etree._Element) -> str | None:
    if run.tag == A + "br":
        return "\n"
    if any(child.tag not in (A + "rPr", A + "t") for child in run):
        return None
    return "".join(child.text or "" for child in run if child.tag == A + "t")


def _drawing_runs(template: etree._Element, text: str) -> list[etree._Element]:
    """``a:r`` elements like ``template`` holding ``text``, with an ``a:br`` at each line break."""
    properties = template.find(A + "rPr")
    elements = []
    for index, line in enumerate(text.split("\n")):
        if index:
            brk = etree.Element(A + "br", nsmap=template.nsmap)
            if properties is not None:
                brk.append(copy.deepcopy(properties))
            elements.append(brk)
        if line or not index:
            run = etree.Element(A + "r", nsmap=template.nsmap)
            if properties is not None:
                run.append(copy.deepcopy(properties))
            etree.SubElement(run, A + "t").text = line
            elements.append(run)
    return elements


def _drawing_style(run: etree._Element) -> tuple[str, bool]:
    properties = run.find(A + "rPr")
    if properties is None:
        return "", False
    kept = copy.deepcopy(properties)
    for name in _IGNORED_DRAWING_ATTRIBUTES:
        kept.attrib.pop(name, None)
    latin = properties.find(A + "latin")
    return etree.tostring(kept, encoding="unicode"), latin is not None and is_monospace(latin.get("typeface") or "")


_WORD = Dialect(
    runs=frozenset({W + "r"}), text=_word_text, make_runs=_word_runs, style=_word_style,
    containers=frozenset({W + "hyperlink", W + "smartTag", W + "ins", W + "customXml", W + "sdt", W + "sdtContent",
                          W + "dir", W + "bdo", W + "moveTo"}),
    first=frozenset({W + "pPr"}), last=frozenset(), dropped=frozenset({W + "proofErr"}),
    code_paragraph=_word_code_paragraph,
    range_starts=frozenset(W + name for name in ("bookmarkStart", "commentRangeStart", "permStart",
                                                 "moveFromRangeStart", "moveToRangeStart")),
    range_ends=frozenset(W + name for name in ("bookmarkEnd", "commentRangeEnd", "permEnd", "moveFromRangeEnd",
                                               "moveToRangeEnd")),
    field=lambda run: next((c.get(W + "fldCharType") for c in run if c.tag == W + "fldChar"), None),
)
_DRAWING = Dialect(
    runs=frozenset({A + "r", A + "br"}), text=_drawing_text, make_runs=_drawing_runs, style=_drawing_style,
    containers=frozenset(), first=frozenset({A + "pPr"}), last=frozenset({A + "endParaRPr"}), dropped=frozenset(),
    code_paragraph=lambda paragraph: False,
)
