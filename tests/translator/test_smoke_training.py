"""A tiny model learns to reverse symbol sequences; greedy and beam search then solve the task."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from tests.conftest import tiny_model
from translator.search.beam import beam_search
from translator.search.greedy import greedy_search
from translator.search.options import SearchOptions
from translator.text.tokenizer import BOS_ID, EOS_ID, PAD_ID

SYMBOLS = list(range(4, 12))  # ids after the four special ids
STEPS = 400


def reverse_pairs(count: int, seed: int) -> list[tuple[list[int], list[int]]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        source = [rng.choice(SYMBOLS) for _ in range(rng.randint(3, 8))]
        pairs.append((source, source[::-1]))
    return pairs


def to_tensors(pairs):
    sources = [s + [EOS_ID] for s, _ in pairs]
    width, tgt_width = max(map(len, sources)), max(len(t) for _, t in pairs) + 1
    src = torch.full((len(pairs), width), PAD_ID)
    tgt_in = torch.full((len(pairs), tgt_width), PAD_ID)
    tgt_out = torch.full((len(pairs), tgt_width), PAD_ID)
    for row, (source, (_, target)) in enumerate(zip(sources, pairs)):
        src[row, : len(source)] = torch.tensor(source)
        tgt_in[row, : len(target) + 1] = torch.tensor([BOS_ID] + target)
        tgt_out[row, : len(target) + 1] = torch.tensor(target + [EOS_ID])
    return src, torch.tensor([len(s) for s in sources]), tgt_in, tgt_out


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_tiny_model_learns_to_reverse_and_search_solves_it(rnn_type):
    torch.manual_seed(0)
    model = tiny_model(12, rnn_type, seed=0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    train = reverse_pairs(64 * STEPS, seed=1)
    for step in range(STEPS):
        src, lengths, tgt_in, tgt_out = to_tensors(train[step * 64 : (step + 1) * 64])
        logits = model(src, lengths, tgt_in)
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), tgt_out, ignore_index=PAD_ID)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.eval()
    held_out = reverse_pairs(200, seed=2)
    src, lengths, _, _ = to_tensors(held_out)
    for search, beam_size in ((greedy_search, 1), (beam_search, 4)):
        result = search(model, src, lengths, SearchOptions(beam_size=beam_size, max_output_length=20))
        correct = sum(hyps[0].token_ids == target for hyps, (_, target) in zip(result.hypotheses, held_out))
        assert correct / len(held_out) >= 0.95, f"{search.__name__}: {correct}/200 exact"
