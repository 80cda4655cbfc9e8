"""The inference model (embedding products precomputed) decodes exactly like the plain model."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_model
from tests.translator.test_search import SOURCES, as_pairs, padded_batch
from translator.model import inference as inference
from translator.model.inference import InferenceModel
from translator.search.beam import beam_search
from translator.search.greedy import greedy_search
from translator.search.options import SearchOptions
from translator.text.tokenizer import BOS_ID
from translator.translate import Translator

VOCAB = 14


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("decoder_layers", [1, 2])
@pytest.mark.parametrize("beam", [1, 3])
def test_steps_match_the_plain_model(rnn_type, decoder_layers, beam):
    model = tiny_model(20, rnn_type, seed=5, decoder_layers=decoder_layers, tie_target_embeddings=False)
    prepared = InferenceModel(model)
    src, lengths = torch.tensor([[5, 6, 7, 3], [8, 3, 0, 0]]), torch.tensor([4, 2])
    with torch.no_grad():
        memory, state = model.encode(src, lengths)
        prepared_memory, _ = prepared.encode(src, lengths)
        state = tuple(part.repeat_interleave(beam, dim=1) for part in state)  # beam rows per sentence
        plain_state, prepared_state = state, state
        prev_ids = torch.full((2 * beam,), BOS_ID)
        for next_ids in ([9, 10], [11, 4], [7, 7]):
            plain_logits, plain_state, plain_weights = model.step(prev_ids, plain_state, memory)
            logits, prepared_state, weights = prepared.step(prev_ids, prepared_state, prepared_memory)
            assert logits.size(1) % inference.OUTPUT_ALIGNMENT == 0  # padded width...
            assert torch.allclose(logits[:, :20], plain_logits, atol=1e-5)
            assert torch.all(logits[:, 20:] == float("-inf"))  # ...that no search can choose
            assert torch.allclose(weights, plain_weights, atol=1e-6)
            assert len(prepared_state) == len(plain_state)
            for part, plain_part in zip(prepared_state, plain_state):
                assert part.shape == plain_part.shape
                assert torch.allclose(part, plain_part, atol=1e-6)
            prev_ids = torch.tensor(next_ids).repeat_interleave(beam)


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_searches_give_the_same_hypotheses_and_scores(rnn_type):
    model = tiny_model(VOCAB, rnn_type, seed=6).double()  # double: no near-ties decided by rounding
    src, lengths = padded_batch(SOURCES)
    for search, beam_size in ((greedy_search, 1), (beam_search, 4)):
        options = SearchOptions(beam_size=beam_size, n_best=beam_size, max_output_length=10)
        expected = as_pairs(search(model, src, lengths, options))
        assert as_pairs(search(InferenceModel(model), src, lengths, options)) == expected
        assert any(hyps[0][0] for hyps in expected)  # not a comparison of empty outputs


def test_tables_are_only_built_where_they_pay(monkeypatch):
    model = tiny_model(VOCAB)
    assert InferenceModel.supports(model)
    quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear, torch.nn.GRU}, dtype=torch.qint8)
    assert not InferenceModel.supports(quantized)
    table_bytes = VOCAB * (3 * 64 + 32) * 4  # (gates + output_size) floats per vocabulary entry
    monkeypatch.setattr(inference, "MAX_TABLE_BYTES", table_bytes - 1)
    assert not InferenceModel.supports(model)


def test_translator_decodes_with_the_prepared_model_unless_quantized(tiny_model_dir):
    assert isinstance(Translator.from_pretrained(tiny_model_dir, device="cpu").decoding_model, InferenceModel)
    quantized = Translator.from_pretrained(tiny_model_dir, device="cpu", quantize=True)
    assert quantized.decoding_model is quantized.model
