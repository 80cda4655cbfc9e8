"""Batches planned from the cache's length arrays and padded straight from the mapped ids."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from training.data.batching import TokenPairs, _batch_starts, make_batch
from training.data.cache import CacheSettings, build_cache, cache_directory, cache_key
from training.data.clean import read_parallel
from translator.text.tokenizer import train_tokenizer


@pytest.fixture
def pairs(corpus, tmp_path) -> TokenPairs:
    src, tgt = read_parallel(corpus["train_src"], corpus["train_tgt"])
    tokenizer = train_tokenizer(src + tgt, 40, "bpe")
    settings = CacheSettings(corpus["train_src"], corpus["train_tgt"], tokenizer.model_proto,
                             tokenizer.model_proto, 100, 3.0, 1)
    directory = cache_directory(tmp_path / "cache", cache_key(settings))
    meta = build_cache(settings, directory, progress=False)
    return TokenPairs(directory, meta)


def rows(ids, offsets, indices):
    return [ids[offsets[i] : offsets[i + 1]].tolist() for i in indices]


def greedy_reference(sizes, batch_tokens):
    """The list-based rule: add a pair while max(longest, size) x (count + 1) fits."""
    starts, count, longest = [0], 0, 0
    for position, size in enumerate(sizes):
        if count and max(longest, size) * (count + 1) > batch_tokens:
            starts.append(position)
            count, longest = 0, 0
        count += 1
        longest = max(longest, size)
    return starts + [len(sizes)]


@pytest.mark.parametrize("seed", range(5))
def test_batch_cuts_match_the_greedy_rule(seed):
    rng = random.Random(seed)
    sizes = sorted(rng.randint(2, 90) for _ in range(3000))
    sizes = [s + rng.randint(0, 30) for s in sizes]  # not monotone: the source can be the longer side
    for batch_tokens in (50, 300, 2500):
        assert _batch_starts(np.array(sizes), batch_tokens).tolist() == greedy_reference(sizes, batch_tokens)


def test_an_epoch_covers_every_pair_once_in_similar_length_batches_within_budget(pairs):
    batches = pairs.epoch_batches(batch_tokens=120, seed=3)
    covered = np.sort(np.concatenate([batches[j] for j in range(len(batches))]))
    assert covered.tolist() == list(range(len(pairs)))
    for j in range(len(batches)):
        indices = batches[j]
        longest = int(np.maximum(pairs.src_lengths[indices], pairs.tgt_lengths[indices]).max()) + 1
        assert longest * len(indices) <= 120 or len(indices) == 1
        assert int(np.ptp(pairs.tgt_lengths[indices])) <= 1  # bucketed by target length
    again = pairs.epoch_batches(batch_tokens=120, seed=3)
    assert all(np.array_equal(batches[j], again[j]) for j in range(len(batches)))  # one seed, one order
    other = pairs.epoch_batches(batch_tokens=120, seed=4)
    assert any(not np.array_equal(batches[j], other[j]) for j in range(min(len(batches), len(other))))


def test_ranks_get_equal_disjoint_shares(pairs):
    everything = pairs.epoch_batches(batch_tokens=120, seed=1)
    shares = [pairs.epoch_batches(batch_tokens=120, seed=1, rank=r, world_size=3) for r in range(3)]
    assert len({len(share) for share in shares}) == 1 and 3 * len(shares[0]) > len(everything) - 3
    seen = [tuple(share[j].tolist()) for share in shares for j in range(len(share))]
    assert len(seen) == len(set(seen))
    assert set(seen) <= {tuple(everything[j].tolist()) for j in range(len(everything))}


def test_a_mapped_batch_equals_the_list_batch(pairs):
    indices = np.array([5, 0, 17, 333, 2])
    expected = make_batch(rows(pairs.src_ids, pairs.src_offsets, indices),
                          rows(pairs.tgt_ids, pairs.tgt_offsets, indices))
    batch = pairs.make_batch(indices)
    for name in ("src", "src_lengths", "tgt_in", "tgt_out"):
        assert torch.equal(getattr(batch, name), getattr(expected, name)), name
        assert getattr(batch, name).dtype == torch.long


def test_the_training_pairs_are_memory_mapped_not_loaded(pairs):
    for array in (pairs.src_ids, pairs.tgt_ids, pairs.src_offsets, pairs.tgt_lengths):
        assert isinstance(array, np.memmap)
