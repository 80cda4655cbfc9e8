"""Reading, cleaning, tokenizing and batching parallel text."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from translator.lines import read_lines  # one sentence per line, split at \n only (shared with the CLIs)
from translator.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer


def read_parallel(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """Line-aligned source and target texts; the two files must have the same number of lines."""
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise ValueError(
            f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
            "parallel files must be line-aligned"
        )
    return src, tgt


@dataclass
class CleaningReport:
    """How many pairs were kept and why the others were dropped."""

    total: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """One human-readable line."""
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.dropped.items()))
        return f"kept {self.kept} of {self.total} pairs" + (f"; dropped {reasons}" if reasons else "")


def clean_pairs(src: list[str], tgt: list[str]) -> tuple[list[str], list[str], CleaningReport]:
    """Normalise whitespace and drop pairs with an empty side."""
    report = CleaningReport(total=len(src))
    kept_src, kept_tgt = [], []
    for source, target in zip(src, tgt):
        source, target = " ".join(source.split()), " ".join(target.split())
        if not source or not target:
            report.dropped["empty"] += 1
            continue
        kept_src.append(source)
        kept_tgt.append(target)
    report.kept = len(kept_src)
    return kept_src, kept_tgt, report


def filter_by_length(
    src_ids: list[list[int]],
    tgt_ids: list[list[int]],
    max_length: int,
    max_ratio: float,
    report: CleaningReport,
) -> tuple[list[list[int]], list[list[int]]]:
    """Drop tokenized pairs that are too long or whose lengths are too unequal."""
    kept_src, kept_tgt = [], []
    for source, target in zip(src_ids, tgt_ids):
        if len(source) > max_length or len(target) > max_length:
            report.dropped["too long"] += 1
        elif max(len(source), len(target)) > max_ratio * max(1, min(len(source), len(target))):
            report.dropped["length ratio"] += 1
        else:
            kept_src.append(source)
            kept_tgt.append(target)
    report.kept = len(kept_src)
    return kept_src, kept_tgt


@dataclass
class Batch:
    """A padded batch. src: (batch, src_len) ending in EOS; tgt_in: BOS + target; tgt_out: target + EOS."""

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor

    @property
    def target_tokens(self) -> int:
        """Number of real (non-pad) target positions, EOS included."""
        return int((self.tgt_out != PAD_ID).sum())

    def to(self, device: torch.device) -> "Batch":
        """The same batch on ``device``."""
        return Batch(self.src.to(device), self.src_lengths, self.tgt_in.to(device), self.tgt_out.to(device))


def make_batch(src_ids: list[list[int]], tgt_ids: list[list[int]]) -> Batch:
    """Pad tokenized pairs into a :class:`Batch` (EOS appended to sources and targets)."""
    sources = [ids + [EOS_ID] for ids in src_ids]
    src_len, tgt_len = max(map(len, sources)), max(map(len, tgt_ids)) + 1
    src = torch.full((len(sources), src_len), PAD_ID, dtype=torch.long)
    tgt_in = torch.full((len(tgt_ids), tgt_len), PAD_ID, dtype=torch.long)
    tgt_out = torch.full((len(tgt_ids), tgt_len), PAD_ID, dtype=torch.long)
    for row, (source, target) in enumerate(zip(sources, tgt_ids)):
        src[row, : len(source)] = torch.tensor(source)
        tgt_in[row, : len(target) + 1] = torch.tensor([BOS_ID] + target)
        tgt_out[row, : len(target) + 1] = torch.tensor(target + [EOS_ID])
    return Batch(src, torch.tensor([len(s) for s in sources]), tgt_in, tgt_out)


def token_batches(
    src_ids: list[list[int]], tgt_ids: list[list[int]], batch_tokens: int, seed: int
) -> list[list[int]]:
    """Indices grouped into batches of similar length, each within ``batch_tokens``.

    Lengths are bucketed (pairs sorted by length with random tie-breaking from ``seed``), so a
    batch holds little padding; the cost of a batch is its size times its longest side. The
    batch order is shuffled with the same seed, so one seed gives one epoch's exact order.
    """
    rng = random.Random(seed)
    order = sorted(
        range(len(src_ids)),
        key=lambda i: (len(tgt_ids[i]), len(src_ids[i]), rng.random()),
    )
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        size = max(len(src_ids[index]), len(tgt_ids[index])) + 1
        if current and max(longest, size) * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(index)
        longest = max(longest, size)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def tokenize_pairs(
    src: list[str], tgt: list[str], src_tokenizer: Tokenizer, tgt_tokenizer: Tokenizer
) -> tuple[list[list[int]], list[list[int]]]:
    """Piece ids of both sides."""
    return src_tokenizer.encode(src), tgt_tokenizer.encode(tgt)
