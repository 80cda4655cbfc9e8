"""HTML for the compatible API's ``format: "html"``: translate the text between tags, keep the markup.

The markup is cut into tags (with comments, CDATA and doctype) and the text between them. Each
text node is translated as running text (sentence by sentence, spaces and line breaks kept), with
its character references decoded first and ``&``, ``<``, ``>`` escaped again after; every tag comes
back byte for byte. The contents of ``script``, ``style``, ``code``, ``pre`` and ``textarea`` are
not prose and are left as they are. A sentence cut by inline markup (``Ein <b>Hund</b> läuft.``)
is translated in pieces, one per text node.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Sequence

_TOKENS = re.compile(r"(<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[!?/]?[A-Za-z][^>]*>)", re.S)
_TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)")
UNTRANSLATED = {"script", "style", "code", "pre", "textarea"}


@dataclass(frozen=True)
class Markup:
    """An HTML text as ``parts`` (tags and text, in order); ``texts[i]`` is the decoded text of ``parts[text_parts[i]]``."""

    parts: list[str]
    text_parts: list[int]
    texts: list[str]

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
        if part.startswith("<") and _TOKENS.fullmatch(part):  # a tag, comment, CDATA section or doctype
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
    return Markup(parts, text_parts, [html.unescape(parts[index]) for index in text_parts])
