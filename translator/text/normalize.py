"""The one text normalization that training data and requests share, so a model sees at serving
time the same characters it learnt from: HTML character references decoded (``&amp;`` is ``&``;
16 lines of Multi30k's ``train.en`` hold a literal ``&amp;``), Unicode NFC (a precomposed ``ü``
and ``u`` + combining diaeresis are one letter), invisible characters that carry no text dropped
(control characters such as NUL, the byte-order mark U+FEFF, zero-width spaces), and runs of
whitespace as one space. Joiners (U+200C, U+200D) stay where they join something (emoji sequences,
Indic and Arabic scripts), but a text of nothing else is empty: nothing in gives nothing out.

No torch here: training's preparation workers import this module.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Cc controls (tab, newline etc. are whitespace and collapse anyway), the BOM / zero-width no-break space,
# zero-width space, word joiner and the invisible operators, soft hyphen.
INVISIBLE_CHARACTERS = "\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufeff\u200b\u2060-\u2064\u00ad"  # a regex class
JOINERS = "\u200c\u200d"
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}]")
_JOINERS = re.compile(f"[{JOINERS}]")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def normalize_text(text: str) -> str:
    """``text`` with HTML character references decoded, invisible characters dropped, in NFC,
    whitespace runs collapsed.

    Only complete references (ending in ``;``) are decoded: ``AT&T`` and ``a & b`` stay as they are.
    """
    if "&" in text:
        text = _ENTITY.sub(lambda match: html.unescape(match.group(0)), text)
    text = _INVISIBLE.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    text = " ".join(text.split())
    if _JOINERS.search(text) and not _JOINERS.sub("", text).strip():
        return ""
    return text
