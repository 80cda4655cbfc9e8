"""The model's pieces: packed encoder, masked attention, step API for GRU and LSTM."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_config, tiny_model
from translator.model.attention import AdditiveAttention
from translator.model.config import ModelConfig
from translator.model.seq2seq import Seq2Seq
from translator.text.tokenizer import BOS_ID, PAD_ID


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_padding_never_changes_the_encoding(rnn_type):
    model = tiny_model(20, rnn_type, encoder_layers=2)
    sentence = torch.tensor([[5, 6, 7, 3]])
    alone, _ = model.encode(sentence, torch.tensor([4]))
    padded = torch.tensor([[5, 6, 7, 3, PAD_ID, PAD_ID], [8, 9, 10, 11, 12, 3]])
    batched, _ = model.encode(padded, torch.tensor([4, 6]))
    assert torch.allclose(alone.outputs[0], batched.outputs[0, :4], atol=1e-6)
    assert torch.all(batched.outputs[0, 4:] == 0)
    assert batched.src_mask.tolist()[0] == [True] * 4 + [False] * 2


def test_attention_gives_padded_positions_zero_weight():
    attention = AdditiveAttention(query_size=8, key_size=6, attention_size=5)
    values = torch.randn(2, 4, 6)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    context, weights = attention(torch.randn(2, 8), attention.project_keys(values), values, mask)
    assert context.shape == (2, 6)
    assert torch.all(weights[0, 2:] == 0)
    assert torch.allclose(weights.sum(dim=1), torch.ones(2))
    assert torch.allclose(context[0], weights[0, :2] @ values[0, :2], atol=1e-6)


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("decoder_layers", [1, 2])
def test_steps_reproduce_teacher_forced_logits(rnn_type, decoder_layers):
    model = tiny_model(20, rnn_type, decoder_layers=decoder_layers)
    src, lengths = torch.tensor([[5, 6, 7, 3], [8, 3, 0, 0]]), torch.tensor([4, 2])
    tgt_in = torch.tensor([[BOS_ID, 9, 10], [BOS_ID, 11, 12]])
    with torch.no_grad():
        forced = model(src, lengths, tgt_in)  # (batch, tgt_len, vocab)
        memory, state = model.encode(src, lengths)
        assert len(state) == (2 if rnn_type == "lstm" else 1)
        assert state[0].shape == (decoder_layers, 2, 64)
        for position in range(3):
            logits, state, weights = model.step(tgt_in[:, position], state, memory)
            assert torch.allclose(logits, forced[:, position], atol=1e-5)
            assert weights.shape == (2, 4)


def test_tied_output_layer_shares_the_target_embedding():
    model = Seq2Seq(tiny_config(20, tie_target_embeddings=True))
    assert model.decoder.output_projection.weight.data_ptr() == model.decoder.embedding.weight.data_ptr()
    untied = Seq2Seq(tiny_config(20, tie_target_embeddings=False, output_size=48))
    assert untied.decoder.output_projection.weight.shape == (20, 48)


def test_config_rejects_tying_with_different_sizes():
    with pytest.raises(ValueError, match="output_size == embedding_size"):
        ModelConfig(embedding_size=64, output_size=32, tie_target_embeddings=True)
