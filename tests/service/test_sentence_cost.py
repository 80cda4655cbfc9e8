"""The queue's cost of a sentence is the rows and steps the library's search really gives it."""

from __future__ import annotations

import pytest
import torch

from service.scheduling.queue import sentence_cost
from translator.search.greedy import greedy_search
from translator.search.options import SearchOptions
from translator.text.tokenizer import EOS_ID, PAD_ID

from tests.conftest import tiny_model

VOCAB = 14


@pytest.mark.parametrize("ratio", [None, 0.3, 1.1, 1.5, 2.0])
def test_a_sentence_costs_its_beam_times_the_steps_the_search_takes(ratio):
    model = tiny_model(VOCAB, "gru", seed=6)
    with torch.no_grad():  # never emit EOS, so only the output caps stop the search
        model.decoder.output_projection.bias[EOS_ID] = -1e4
    sources = [[4 + n % 10] * n for n in range(1, 100)]  # as PreparedText.ids: EOS not included
    lengths = torch.tensor([len(ids) + 1 for ids in sources])
    src = torch.full((len(sources), int(lengths.max())), PAD_ID, dtype=torch.long)
    for row, ids in enumerate(sources):
        src[row, : len(ids) + 1] = torch.tensor(ids + [EOS_ID])
    options = SearchOptions(beam_size=1, max_output_length=64, max_output_ratio=ratio)
    steps = [len(hypotheses[0].token_ids) for hypotheses in greedy_search(model, src, lengths, options).hypotheses]
    assert [sentence_cost(options, len(ids)) for ids in sources] == [float(step) for step in steps]
    wide = options.updated(beam_size=4)
    assert [sentence_cost(wide, len(ids)) for ids in sources] == [4.0 * step for step in steps]
