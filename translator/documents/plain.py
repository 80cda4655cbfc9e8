"""Plain text (``.txt``): every line is translated on its own, so the layout (line breaks, blank lines,
indentation) stays exactly as it was."""

from __future__ import annotations

import html

from translator.documents.content import Content, TextFile


def read_plain(file: TextFile, filename: str) -> Content:
    """Each line of the file as a segment."""
    lines = file.text.split("\n")

    def write(translated: list[str]) -> bytes:
        return file.encode("\n".join(html.unescape(line) for line in translated))

    return Content([html.escape(line, quote=False) for line in lines], write)
