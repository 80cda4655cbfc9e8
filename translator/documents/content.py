"""What every format reader returns (:class:`Content`), and text files decoded with their encoding kept."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Callable

from translator.documents.safety import DocumentError, UnsupportedFormat


@dataclass(frozen=True)
class Content:
    """A document read for translation: its segments (HTML texts: markup with text escaped) and ``write``, which
    returns the document's bytes with each segment replaced by its translation (the same HTML, translated)."""

    segments: list[str]
    write: Callable[[list[str]], bytes]


_BOMS = [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]


@dataclass(frozen=True)
class TextFile:
    """A text file's content with ``\\n`` line breaks, and how to encode it back as it was (encoding, byte-order
    mark, ``\\r\\n`` line breaks)."""

    text: str
    encoding: str
    bom: bytes
    crlf: bool

    @classmethod
    def decode(cls, data: bytes, filename: str) -> "TextFile":
        """UTF-8 (with or without a byte-order mark) or UTF-16 with one; anything else is refused."""
        encoding, bom = "utf-8", b""
        for mark, name in _BOMS:
            if data.startswith(mark):
                encoding, bom = name, mark
                break
        if not bom and b"\x00" in data:
            raise UnsupportedFormat(f"{filename} is a binary file, not text")
        try:
            text = data[len(bom):].decode(encoding)
        except UnicodeDecodeError as error:
            raise DocumentError(f"{filename} is not UTF-8 text (byte {error.start} cannot be decoded); "
                                "save it as UTF-8") from None
        return cls(text.replace("\r\n", "\n"), encoding, bom, "\r\n" in text)

    def encode(self, text: str) -> bytes:
        """``text`` (with ``\\n`` line breaks) as this file was stored."""
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return self.bom + text.encode(self.encoding)
