"""Streaming through a parallel corpus without holding it: line-aligned chunks for the
preparation workers, and a bounded random sample to train sentencepiece on."""

from __future__ import annotations

import math
import random
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Iterator

from training.data.clean import clean_pairs


def _open(path: Path) -> BinaryIO:
    path = Path(path)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, expected a text file") from None


def _misaligned(src_path: Path, tgt_path: Path, src_lines: int, tgt_lines: int) -> ValueError:
    return ValueError(f"{src_path} has {src_lines} lines but {tgt_path} has {tgt_lines}; "
                      "parallel files must be line-aligned")


def line_chunks(src_path: Path, tgt_path: Path, chunk_pairs: int) -> Iterator[tuple[int, bytes, bytes]]:
    """(first line number, source bytes, target bytes) of successive ``chunk_pairs`` line pairs.

    Raises:
        ValueError: naming both files and their line counts when they are not line-aligned.
    """
    with _open(src_path) as src_file, _open(tgt_path) as tgt_file:
        first_line = 1
        while True:
            src_lines, tgt_lines = list(islice(src_file, chunk_pairs)), list(islice(tgt_file, chunk_pairs))
            if len(src_lines) != len(tgt_lines):
                before = first_line - 1
                raise _misaligned(src_path, tgt_path, before + len(src_lines) + sum(1 for _ in src_file),
                                  before + len(tgt_lines) + sum(1 for _ in tgt_file))
            if not src_lines:
                return
            yield first_line, b"".join(src_lines), b"".join(tgt_lines)
            first_line += len(src_lines)


def decode_lines(blob: bytes, path: Path, first_line: int) -> list[str]:
    """The lines of a chunk of ``path`` that starts at ``first_line``, without line endings.

    Raises:
        ValueError: naming the file and line that is not UTF-8.
    """
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + blob[: error.start].count(b"\n")
        raise ValueError(f"{path}, line {line}: not valid UTF-8 ({error.reason})") from None
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    # translator.text.lines.split_lines's rule (a test keeps them equal); importing it here would
    # import torch into every preparation worker.
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def count_lines(path: Path) -> int:
    """Lines in ``path`` as :func:`training.data.clean.read_lines` counts them (a last line may lack its newline)."""
    lines, last = 0, b"\n"
    with _open(path) as handle:
        while block := handle.read(1 << 22):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def check_aligned(src_path: Path, tgt_path: Path) -> int:
    """The number of line pairs; a clear error when the files are missing or not line-aligned."""
    src_lines, tgt_lines = count_lines(src_path), count_lines(tgt_path)
    if src_lines != tgt_lines:
        raise _misaligned(src_path, tgt_path, src_lines, tgt_lines)
    return src_lines


def sample_pairs(src_path: Path, tgt_path: Path, sample_size: int, seed: int) -> tuple[list[str], list[str]]:
    """Up to ``sample_size`` cleaned pairs drawn uniformly from the (line-aligned) corpus, in file order.

    Reservoir sampling (Li's algorithm L) keeps memory bounded by the sample and decodes only the
    sampled lines; a corpus no larger than the sample is returned whole, so small corpora train
    exactly the sentencepiece models they trained before sampling existed.

    Raises:
        ValueError: for a sampled line that is not UTF-8, or when no sampled pair survives cleaning.
    """
    rng = random.Random(seed)
    with _open(src_path) as src_file, _open(tgt_path) as tgt_file:
        pairs = zip(src_file, tgt_file)
        reservoir = [(index, s, t) for index, (s, t) in enumerate(islice(pairs, sample_size))]
        seen = len(reservoir)
        weight = math.exp(math.log(_unit(rng)) / sample_size)
        while seen >= sample_size and weight < 1.0:
            position = seen + int(math.log(_unit(rng)) / math.log(1.0 - weight))
            pair = next(islice(pairs, position - seen, None), None)
            if pair is None:
                break
            reservoir[rng.randrange(sample_size)] = (position, *pair)
            seen = position + 1
            weight *= math.exp(math.log(_unit(rng)) / sample_size)
    reservoir.sort()
    src = [decode_lines(s, src_path, index + 1)[0] for index, s, _ in reservoir]
    tgt = [decode_lines(t, tgt_path, index + 1)[0] for index, _, t in reservoir]
    src, tgt, _ = clean_pairs(src, tgt)
    if not src:
        raise ValueError(f"no training pairs left in {src_path} / {tgt_path} after cleaning")
    return src, tgt


def _unit(rng: random.Random) -> float:
    """A uniform draw from the open interval (0, 1) (algorithm L takes its logarithm)."""
    value = 0.0
    while value == 0.0:
        value = rng.random()
    return value
