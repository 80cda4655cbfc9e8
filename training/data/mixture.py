"""A weighted mixture of prepared corpora, batched as one: each epoch draws ``weight x pairs``
from every corpus (whole copies for the integer part, a fresh random subset for the rest), and
the drawn pairs of all corpora are bucketed by length and shuffled together, so one batch can
hold a caption, a UI string and a dictionary entry of the same length.

Each corpus stays its own memory-mapped cache (:class:`training.data.batching.TokenPairs`), prepared
once and shared by every run and mixture that uses the same files and tokenizers; a pair is
addressed by its global index (corpus offset + index in the corpus). Only the length arrays are
held in memory (a few bytes a pair). The draw of epoch e depends only on the seed and e, so a
resumed run replays the same batches.
"""

from __future__ import annotations

import numpy as np
import torch

from training.data.batching import Batch, EpochBatches, TokenPairs, padded_rows, plan_epoch
from translator.text.tokenizer import BOS_ID, EOS_ID, PAD_ID


class CorpusMixture:
    """Named corpora with weights, behaving like one :class:`TokenPairs` for the training loop."""

    def __init__(self, parts: list[TokenPairs], weights: list[float], names: list[str]) -> None:
        if not parts or len(parts) != len(weights) or len(parts) != len(names):
            raise ValueError("a mixture needs one weight and one name per corpus")
        self.parts, self.weights, self.names = parts, list(weights), list(names)
        sizes = [len(part) for part in parts]
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # corpus c: bounds[c]:bounds[c+1]
        self.src_lengths = np.concatenate([np.asarray(part.src_lengths) for part in parts])
        self.tgt_lengths = np.concatenate([np.asarray(part.tgt_lengths) for part in parts])

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def pairs_per_epoch(self) -> dict[str, int]:
        """How many pairs one epoch draws from each corpus."""
        return {name: _drawn(len(part), weight) for name, part, weight in zip(self.names, self.parts, self.weights)}

    def epoch_batches(self, batch_tokens: int, seed: int, rank: int = 0, world_size: int = 1) -> EpochBatches:
        """This rank's share of the batches of one epoch's weighted draw (seeded by ``seed``)."""
        rng = np.random.default_rng(seed)
        if len(self.parts) == 1 and self.weights[0] == 1.0:
            return plan_epoch(self.src_lengths, self.tgt_lengths, batch_tokens, rng, rank, world_size)
        draws = []
        for part, weight, first in zip(self.parts, self.weights, self.bounds[:-1]):
            draws.append(first + _draw(len(part), weight, rng))
        population = np.concatenate(draws)
        population = population.astype(np.int32 if len(self) < 1 << 31 else np.int64)
        return plan_epoch(self.src_lengths, self.tgt_lengths, batch_tokens, rng, rank, world_size, population)

    def make_batch(self, indices: np.ndarray) -> Batch:
        """The padded :class:`Batch` of the pairs at global ``indices``, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(self.parts) == 1:
            return self.parts[0].make_batch(indices)
        corpus = np.searchsorted(self.bounds, indices, side="right") - 1
        lengths = (self.src_lengths[indices].astype(np.int64), self.tgt_lengths[indices].astype(np.int64))
        src = np.full((len(indices), int(lengths[0].max()) + 1), PAD_ID, dtype=np.int64)
        tgt_out = np.full((len(indices), int(lengths[1].max()) + 1), PAD_ID, dtype=np.int64)
        tgt_in = np.full_like(tgt_out, PAD_ID)
        for number in np.unique(corpus):
            rows = np.flatnonzero(corpus == number)
            part, local = self.parts[number], indices[rows] - self.bounds[number]
            source, _ = padded_rows(part.src_ids, part.src_offsets[local], part.src_lengths[local], None, EOS_ID)
            target_out, _ = padded_rows(part.tgt_ids, part.tgt_offsets[local], part.tgt_lengths[local], None, EOS_ID)
            target_in, _ = padded_rows(part.tgt_ids, part.tgt_offsets[local], part.tgt_lengths[local], BOS_ID, None)
            src[rows, : source.shape[1]] = source
            tgt_out[rows, : target_out.shape[1]] = target_out
            tgt_in[rows, : target_in.shape[1]] = target_in
        return Batch(torch.from_numpy(src), torch.from_numpy(lengths[0] + 1), torch.from_numpy(tgt_in),
                     torch.from_numpy(tgt_out))


def _drawn(pairs: int, weight: float) -> int:
    """Pairs drawn per epoch from a corpus of ``pairs`` at ``weight``."""
    return int(weight) * pairs + int(round((weight - int(weight)) * pairs))


def _draw(pairs: int, weight: float, rng: np.random.Generator) -> np.ndarray:
    """Local indices drawn from a corpus: ``int(weight)`` copies of all, plus a random subset
    (without replacement) of the fractional part."""
    whole = np.tile(np.arange(pairs, dtype=np.int64), int(weight))
    extra = int(round((weight - int(weight)) * pairs))
    subset = np.sort(rng.choice(pairs, size=extra, replace=False)) if extra else np.zeros(0, np.int64)
    return np.concatenate([whole, subset])
