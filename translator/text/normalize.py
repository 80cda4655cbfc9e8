"""The one text normalization that training data and requests share, so a model sees at serving
time the same characters it learnt from: HTML character references decoded (``&amp;`` is ``&``;
16 lines of Multi30k's ``train.en`` hold a literal ``&amp;``), Unicode NFC (a precomposed ``ü``
and ``u`` + combining diaeresis are one letter), and runs of whitespace as one space.

No torch here: training's preparation workers import this module.
"""

from __future__ import annotations

import html
import re
import unicodedata

_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def normalize_text(text: str) -> str:
    """``text`` with HTML character references decoded, in NFC, whitespace runs collapsed.

    Only complete references (ending in ``;``) are decoded: ``AT&T`` and ``a & b`` stay as they are.
    """
    if "&" in text:
        text = _ENTITY.sub(lambda match: html.unescape(match.group(0)), text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())
