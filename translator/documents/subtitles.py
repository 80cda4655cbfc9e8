"""SubRip subtitles (``.srt``), read and written with the ``srt`` library: numbers and timings stay as they are.

A subtitle's lines are usually one sentence broken for the screen, so they are joined and translated as
one text, and the translation is broken again into as many lines of about equal length. A dialogue
(lines starting with a dash) keeps its lines, each translated without its dash, which is put back. Inline tags (``<i>``, ``<b>``, ``<font>``) go through the
tag placement of the HTML path; a leading positioning code such as ``{\\an8}`` is kept in front.
"""

from __future__ import annotations

import html
import re

import srt

from translator.documents.content import Content, TextFile
from translator.documents.safety import UnsupportedFormat

_TAG = re.compile(r"(<[^<>\n]+>)")
_POSITION = re.compile(r"^(\{\\[^}]*\})*")
_DASH = re.compile(r"^\s*-\s*")


def read_subtitles(file: TextFile, filename: str) -> Content:
    """Each subtitle's text as a segment."""
    try:
        subtitles = list(srt.parse(file.text))
    except srt.SRTParseError as error:
        raise UnsupportedFormat(f"{filename} is not SubRip (.srt) subtitles: {error}") from None
    prefixes = [_POSITION.match(subtitle.content).group(0) for subtitle in subtitles]
    lines = [subtitle.content[len(prefix):].split("\n") for subtitle, prefix in zip(subtitles, prefixes)]
    dashes = [[_DASH.match(line).group(0) if _DASH.match(line) else "" for line in text] for text in lines]
    dialogue = [any(marks) for marks in dashes]
    segments = [_escape("\n".join(line[len(mark):] for line, mark in zip(text, marks)) if spoken
                        else " ".join(line.strip() for line in text))
                for text, marks, spoken in zip(lines, dashes, dialogue)]

    def write(translated: list[str]) -> bytes:
        for subtitle, prefix, text, marks, spoken, rendered in zip(subtitles, prefixes, lines, dashes, dialogue,
                                                                   translated):
            content = _unescape(rendered)
            if spoken and content.count("\n") == len(marks) - 1:
                content = "\n".join(mark + line for mark, line in zip(marks, content.split("\n")))
            subtitle.content = prefix + (content if spoken else rewrap(content, len(text)))
        return file.encode(srt.compose(subtitles, reindex=False, strict=False))

    return Content(segments, write)


def rewrap(text: str, lines: int) -> str:
    """``text`` broken into ``lines`` lines of about equal length, at spaces outside tags."""
    if lines < 2:
        return text
    spaces = [match.start() for match in re.finditer(" ", text) if not _inside_tag(text, match.start())]
    breaks: list[int] = []
    for line in range(1, lines):
        target = len(text) * line / lines
        free = [space for space in spaces if space not in breaks and all(space > b for b in breaks)]
        if free:
            breaks.append(min(free, key=lambda space: abs(space - target)))
    out = list(text)
    for position in breaks:
        out[position] = "\n"
    return "".join(out)


def _inside_tag(text: str, position: int) -> bool:
    return text.rfind("<", 0, position) > text.rfind(">", 0, position)


def _escape(content: str) -> str:
    """Subtitle text as HTML: its tags kept, the text between them escaped."""
    return "".join(part if _TAG.fullmatch(part) else html.escape(part, quote=False) for part in _TAG.split(content))


def _unescape(rendered: str) -> str:
    return "".join(part if _TAG.fullmatch(part) else html.unescape(part) for part in _TAG.split(rendered))
