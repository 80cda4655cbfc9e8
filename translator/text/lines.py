"""Line-oriented text input: lines end at ``\\n`` (or ``\\r\\n``) only.

``str.splitlines`` also breaks at ``\\r``, U+2028, U+0085, form feeds and more, so a file whose
sentences contain one of those gives more "lines" than the file has, and output written one line
per input line no longer lines up with the input. Every command that reads one sentence per line
uses these helpers instead.
"""

from __future__ import annotations

from pathlib import Path


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, split at ``\\n`` only, without their ``\\n`` or ``\\r\\n`` ending.

    Any other character (``\\r`` alone, U+2028, ...) stays inside its line. A final line ending
    does not start another line.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def decode_lines(raw: bytes, name: str) -> list[str]:
    """The lines of UTF-8 bytes read from ``name`` (a path, or e.g. ``stdin``).

    Raises:
        ValueError: naming ``name`` and the line that is not valid UTF-8.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ValueError(f"{name}, line {line}: not valid UTF-8 ({error.reason})") from None
    return split_lines(text)


def read_lines(path: str | Path) -> list[str]:
    """All lines of a UTF-8 text file, without line endings (see :func:`split_lines`).

    Raises:
        ValueError: naming the file (and line) that is missing, a directory, or not UTF-8.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, expected a text file") from None
    return decode_lines(raw, str(path))
