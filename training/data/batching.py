"""Padded batches: from lists of piece ids (validation, benchmarks) or from the memory-mapped
training cache (token-bucketed, shuffled per epoch from the seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from translator.text.tokenizer import BOS_ID, EOS_ID, PAD_ID


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


class TokenPairs:
    """The training pairs of a cache directory (see :mod:`training.data.cache`), memory-mapped.

    Nothing corpus-sized is read into memory until an epoch's batches are planned, and then only
    the lengths arrays and the batch plan (a few bytes per pair).
    """

    def __init__(self, directory, meta: dict) -> None:
        pairs = int(meta["pairs"])

        def mapped(name: str, dtype, count: int) -> np.ndarray:
            if count == 0:
                return np.zeros(0, dtype)
            return np.memmap(directory / name, dtype=dtype, mode="r", shape=(count,))

        self.src_ids = mapped("src.ids", meta["ids_dtype"]["src"], int(meta["tokens"]["src"]))
        self.tgt_ids = mapped("tgt.ids", meta["ids_dtype"]["tgt"], int(meta["tokens"]["tgt"]))
        self.src_offsets = mapped("src.offsets", np.int64, pairs + 1)
        self.tgt_offsets = mapped("tgt.offsets", np.int64, pairs + 1)
        self.src_lengths = mapped("src.lengths", meta["lengths_dtype"], pairs)
        self.tgt_lengths = mapped("tgt.lengths", meta["lengths_dtype"], pairs)

    def __len__(self) -> int:
        return len(self.src_lengths)

    def epoch_batches(self, batch_tokens: int, seed: int, rank: int = 0, world_size: int = 1) -> "EpochBatches":
        """This rank's share of one epoch's batches over every pair (see :func:`plan_epoch`)."""
        return plan_epoch(self.src_lengths, self.tgt_lengths, batch_tokens, np.random.default_rng(seed), rank,
                          world_size)

    def make_batch(self, indices: np.ndarray) -> Batch:
        """The padded :class:`Batch` of the pairs at ``indices`` (EOS appended, targets shifted)."""
        src, src_lengths = padded_rows(self.src_ids, self.src_offsets[indices], self.src_lengths[indices], None, EOS_ID)
        tgt_out, _ = padded_rows(self.tgt_ids, self.tgt_offsets[indices], self.tgt_lengths[indices], None, EOS_ID)
        tgt_in, _ = padded_rows(self.tgt_ids, self.tgt_offsets[indices], self.tgt_lengths[indices], BOS_ID, None)
        return Batch(torch.from_numpy(src), torch.from_numpy(src_lengths + 1), torch.from_numpy(tgt_in),
                     torch.from_numpy(tgt_out))


def plan_epoch(src_lengths: np.ndarray, tgt_lengths: np.ndarray, batch_tokens: int, rng: np.random.Generator,
               rank: int = 0, world_size: int = 1, population: np.ndarray | None = None) -> "EpochBatches":
    """One rank's share of an epoch's batches over ``population`` (pair indices, repeats allowed;
    default: every pair once); every rank gets the same number.

    Pairs are sorted by target length, then source length, ties broken at random from ``rng``;
    consecutive pairs form a batch while (pairs x longest side + 1) stays within ``batch_tokens``
    (a longer single pair is a batch of its own). The batch order is then shuffled from ``rng``,
    and rank r takes batches r, r + world_size, ...
    """
    if population is not None:
        src_lengths, tgt_lengths = src_lengths[population], tgt_lengths[population]
    count = len(src_lengths)
    ties = rng.integers(0, 1 << 32, size=count, dtype=np.uint64)
    if src_lengths.dtype.itemsize <= 2:
        # One 64-bit key (target | source | tie) sorts faster than lexsort's passes; built in
        # place, so planning costs ~20 bytes a pair at its peak (20M pairs: ~0.4 GB).
        key = tgt_lengths.astype(np.uint64)
        key <<= np.uint64(16)
        key |= src_lengths
        key <<= np.uint64(32)
        key |= ties
        del ties
        order = np.argsort(key, kind="stable")
        del key
    else:
        order = np.lexsort((ties, src_lengths, tgt_lengths))
        del ties
    order = order.astype(np.int32 if count < 1 << 31 else np.int64)
    sizes = src_lengths[order].astype(np.int32)
    np.maximum(sizes, tgt_lengths[order], out=sizes)
    sizes += 1
    starts = _batch_starts(sizes, batch_tokens)
    permutation = rng.permutation(len(starts) - 1)
    per_rank = (len(starts) - 1) // world_size
    if population is not None:
        order = population[order]
    return EpochBatches(order, starts, permutation[rank::world_size][:per_rank])


@dataclass
class EpochBatches:
    """One epoch's batches for one rank: ``batches[j]`` is an array of pair indices."""

    order: np.ndarray  # pair indices sorted by length
    starts: np.ndarray  # batch b is order[starts[b]:starts[b + 1]]
    selected: np.ndarray  # this rank's batch numbers, in training order

    def __len__(self) -> int:
        return len(self.selected)

    def __getitem__(self, position: int) -> np.ndarray:
        batch = self.selected[position]
        return self.order[self.starts[batch] : self.starts[batch + 1]]


def _batch_starts(sizes: np.ndarray, batch_tokens: int) -> np.ndarray:
    """Greedy cuts of length-sorted pairs: a batch grows while count x its longest size fits.

    ``sizes`` (pairs,) is each pair's longest side + 1. Within one batch the running maximum
    times the count only grows, so the cut is the first position where it exceeds the budget;
    a batch can hold at most ``batch_tokens // sizes[start]`` pairs, which bounds the window.
    Returns (batches + 1,) start positions, the last one ``len(sizes)``.
    """
    starts = [0]
    position, total = 0, len(sizes)
    while position < total:
        window = sizes[position : position + max(1, batch_tokens // int(sizes[position]))].astype(np.int64)
        costs = np.maximum.accumulate(window) * np.arange(1, len(window) + 1)
        count = max(1, int(np.searchsorted(costs > batch_tokens, True)))
        position += count
        starts.append(position)
    return np.asarray(starts, dtype=np.int64)


def padded_rows(ids: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, first: int | None,
            last: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``ids[offsets[i] : offsets[i] + lengths[i]]``, with ``first`` prepended and ``last``
    appended when given, padded with PAD_ID: (batch, longest + extras) int64, and the lengths."""
    lengths = lengths.astype(np.int64)
    lead = 0 if first is None else 1
    width = int(lengths.max()) + lead + (last is not None)
    positions = np.arange(width - lead)  # (width - lead,)
    inside = positions[None, :] < lengths[:, None]  # (batch, width - lead)
    gather = np.where(inside, offsets[:, None] + positions[None, :], 0)
    rows = np.full((len(lengths), width), PAD_ID, dtype=np.int64)
    rows[:, lead:] = np.where(inside, ids[gather] if len(ids) else 0, PAD_ID)
    if first is not None:
        rows[:, 0] = first
    if last is not None:
        rows[np.arange(len(lengths)), lengths + lead] = last
    return rows, lengths
