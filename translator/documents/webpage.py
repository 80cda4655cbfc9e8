"""HTML pages (``.html``): the whole page is one segment, translated as the HTML path translates it
(:mod:`translator.text.markup`: tags, comments, scripts and styles kept byte for byte)."""

from __future__ import annotations

from translator.documents.content import Content, TextFile


def read_webpage(file: TextFile, filename: str) -> Content:
    """The page as one segment."""
    return Content([file.text], lambda translated: file.encode(translated[0]))
