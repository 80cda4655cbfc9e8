"""Markdown (``.md``): the text of paragraphs, headings, list items, quotes and table cells translated; the
syntax around it (markers, indentation, code blocks, front matter, link targets) kept as written.

Blocks are found line by line. A paragraph's lines are one sentence flow, so they are joined and its
translation written on one line (Markdown renders it the same). Inline syntax becomes inline elements
for the tag placement of the HTML path: ``**bold**`` ``<b>``, ``*em*`` ``<i>``, ``~~gone~~`` ``<s>``,
``[text](url)`` ``<a>`` (the text translated, the target kept); code spans, images and autolinks are
elements that get their original text back. Inline HTML goes through as HTML.
"""

from __future__ import annotations

import html
import re
from typing import Iterator

from translator.documents.content import Content, TextFile

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^( {0,3}#{1,6}[ \t]+)(.*?)([ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_ITEM = re.compile(r"^((?:[ \t]*>[ \t]?)*[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?)(.*)$")
_QUOTE = re.compile(r"^((?:[ \t]*>[ \t]?)+)(.*)$")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S")
_HTML_BLOCK = re.compile(r"^ {0,3}<(/?[A-Za-z][A-Za-z0-9-]*|!--)")
_INDENTED = re.compile(r"^( {4}|\t)")
_CELL = re.compile(r"((?:\\.|`[^`]*`|[^|\\`])+)")

_INLINE = re.compile(
    r"(?P<verbatim>(`+).+?\2|!\[[^\]]*\]\([^)]*\)|<(?:https?|ftp|mailto):[^>\s]+>|</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>)"
    r"|\[(?P<link>[^\]]+)(?P<target>\]\([^)\s]*(?:[ \t]+\"[^\"]*\")?\)|\]\[[^\]]*\])"
    r"|(?P<strong>\*\*|__)(?P<strong_body>\S(?:.*?\S)?)(?P=strong)"
    r"|\*(?P<em_body>[^*\s](?:[^*]*?[^*\s])?)\*|(?<!\w)_(?P<em_under>[^_\s](?:[^_]*?[^_\s])?)_(?!\w)"
    r"|~~(?P<strike>\S(?:.*?\S)?)~~")
_ELEMENT = re.compile(r'<(b|i|s|a|span) id="m(\d+)">|</(b|i|s|a|span)>')


def read_markdown(file: TextFile, filename: str) -> Content:
    """The text of each block (or table cell) as a segment."""
    template: list[str | int] = []  # the output: verbatim text, or the number of a segment
    segments: list[str] = []
    syntax: list[list[tuple[str, str | None]] | None] = []  # per text segment, its elements' markup; None: HTML
    for kind, parts in _blocks(file.text.split("\n")):
        for number, part in enumerate(parts):
            if kind == "verbatim" or number % 2 == 0:
                template.append(part)
                continue
            elements: list[tuple[str, str | None]] = []
            segments.append(part if kind == "html" else _to_html(part, elements))
            syntax.append(None if kind == "html" else elements)
            template.append(len(segments) - 1)

    def write(translated: list[str]) -> bytes:
        out = [part if isinstance(part, str) else translated[part] if syntax[part] is None
               else _from_html(translated[part], syntax[part]) for part in template]
        return file.encode("".join(out))

    return Content(segments, write)


def _blocks(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """The file as blocks: ``("verbatim", [text])``, or ``("text"|"html", [before, text, after, text, after...])``
    whose odd entries are translated (Markdown inline text, or HTML)."""
    ends = ["\n"] * (len(lines) - 1) + [""]
    index = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        closing = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if closing is not None:
            yield "verbatim", ["".join(line + end for line, end in zip(lines[:closing + 1], ends))]
            index = closing + 1
    in_list = False
    while index < len(lines):
        line, end = lines[index], ends[index]
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            closing = next((i for i in range(index + 1, len(lines)) if lines[i].strip().startswith(marker)),
                           len(lines) - 1)
            yield "verbatim", ["".join(l + e for l, e in zip(lines[index:closing + 1], ends[index:closing + 1]))]
            index = closing + 1
            continue
        if line.strip() and not line[:1].isspace() and not _ITEM.match(line):
            in_list = False
        if not line.strip() or _RULE.match(line) or _REFERENCE.match(line) or (_INDENTED.match(line) and not in_list):
            yield "verbatim", [line + end]
            index += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            yield "text", [heading.group(1), heading.group(2), line[heading.end(2):] + end]
            index += 1
            continue
        if _HTML_BLOCK.match(line):
            closing = next((i for i in range(index, len(lines)) if not lines[i].strip()), len(lines)) - 1
            yield "html", ["", "\n".join(lines[index:closing + 1]), ends[closing]]
            index = closing + 1
            continue
        if "|" in line and index + 1 < len(lines) and _TABLE_RULE.match(lines[index + 1]):
            closing = index + 2
            while closing < len(lines) and "|" in lines[closing] and lines[closing].strip():
                closing += 1
            for row in range(index, closing):
                if row == index + 1:
                    yield "verbatim", [lines[row] + ends[row]]
                else:
                    cells = _cells(lines[row])
                    if cells:
                        yield "text", cells[:-1] + [cells[-1] + ends[row]]
                    else:
                        yield "verbatim", [lines[row] + ends[row]]
            index = closing
            continue
        item = _ITEM.match(line) or _QUOTE.match(line)
        in_list = in_list or _ITEM.match(line) is not None
        prefix, text = (item.group(1), item.group(2)) if item else (line[:len(line) - len(line.lstrip())], line)
        joined = [text.strip()]
        while not _hard_break(lines[index]) and index + 1 < len(lines) and _continues(lines[index + 1]):
            index += 1
            quote = _QUOTE.match(lines[index])
            joined.append((quote.group(2) if quote else lines[index]).strip())
        trailing = lines[index][len(lines[index].rstrip()):] if _hard_break(lines[index]) else ""
        yield "text", [prefix, " ".join(joined), trailing + ends[index]]
        index += 1


def _continues(line: str) -> bool:
    """Whether ``line`` continues the paragraph above it (lazy continuation), rather than starting a block."""
    return bool(line.strip()) and not (_FENCE.match(line) or _HEADING.match(line) or _RULE.match(line) or
                                       _SETEXT.match(line) or _ITEM.match(line) or _HTML_BLOCK.match(line) or
                                       _REFERENCE.match(line))


def _hard_break(line: str) -> bool:
    return line.endswith("  ") or line.endswith("\\")


def _cells(row: str) -> list[str]:
    """A table row as [before, cell, between, cell, ..., after] (cells stripped of their padding); [] if it has
    no cell with text."""
    parts: list[str] = []
    verbatim = ""
    for chunk in _CELL.split(row):
        if not chunk:
            continue
        if chunk.strip() and _CELL.fullmatch(chunk) and chunk.strip() != "|":
            body = chunk.strip()
            start = chunk.index(body)
            parts += [verbatim + chunk[:start], body]
            verbatim = chunk[start + len(body):]
        else:
            verbatim += chunk
    return parts + [verbatim] if parts else []


def _to_html(text: str, elements: list[tuple[str, str | None]]) -> str:
    """Markdown inline text as HTML with inline elements; ``elements`` gets each element's opening and closing
    markup (a verbatim element: its whole text, and None)."""
    out, cursor = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[cursor:match.start()], quote=False))
        cursor = match.end()
        number = len(elements)
        if match.group("verbatim"):
            elements.append((match.group(0), None))
            out.append(f'<span id="m{number}">{html.escape(match.group(0), quote=False)}</span>')
            continue
        if match.group("link") is not None:
            name, opening, closing, body = "a", "[", match.group("target"), match.group("link")
        elif match.group("strong"):
            name, opening, body = "b", match.group("strong"), match.group("strong_body")
            closing = opening
        elif match.group("strike"):
            name, opening, closing, body = "s", "~~", "~~", match.group("strike")
        else:
            underscore = match.group("em_under")
            name, body = "i", underscore if underscore is not None else match.group("em_body")
            opening = closing = "_" if underscore is not None else "*"
        elements.append((opening, closing))
        out.append(f'<{name} id="m{number}">{_to_html(body, elements)}</{name}>')
    out.append(html.escape(text[cursor:], quote=False))
    return "".join(out)


def _from_html(rendered: str, elements: list[tuple[str, str | None]]) -> str:
    """A translated segment back as Markdown: each element's markup around its words, verbatim ones as written."""
    out, cursor, stack = [], 0, []
    for match in _ELEMENT.finditer(rendered):
        if not (stack and elements[stack[-1]][1] is None):
            out.append(html.unescape(rendered[cursor:match.start()]))
        cursor = match.end()
        if match.group(2) is not None:
            stack.append(int(match.group(2)))
            out.append(elements[stack[-1]][0])
        elif stack:
            out.append(elements[stack.pop()][1] or "")
    out.append(html.unescape(rendered[cursor:]))
    return "".join(out)
