"""The attention decoder: one recurrent step per target position, Bahdanau style.

At step t the previous decoder state queries the encoder outputs; the resulting context and the
embedding of the previous target piece feed the RNN; a "deep output" layer combines the new
state, the context and the embedding before the projection onto the target vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from translator.model.attention import AdditiveAttention
from translator.model.config import ModelConfig
from translator.model.dropout import Dropout
from translator.model.encoder import RNN_CLASSES
from translator.text.tokenizer import PAD_ID

# Decoder state: (h,) for a GRU, (h, c) for an LSTM; each tensor is (layers, batch, hidden).
DecoderState = tuple[torch.Tensor, ...]


@dataclass
class EncoderMemory:
    """What the decoder attends to, computed once per batch by ``Seq2Seq.encode``."""

    outputs: torch.Tensor  # (batch, src_len, encoder_output_size)
    projected_keys: torch.Tensor  # (batch, src_len, attention_size)
    src_mask: torch.Tensor  # (batch, src_len) bool, True on real positions

    def index_select(self, indices: torch.Tensor) -> "EncoderMemory":
        """Rows ``indices`` of every tensor, e.g. the sentences still being decoded."""
        return EncoderMemory(
            self.outputs.index_select(0, indices),
            self.projected_keys.index_select(0, indices),
            self.src_mask.index_select(0, indices),
        )


def select_state(state: DecoderState, indices: torch.Tensor) -> DecoderState:
    """Rows ``indices`` (batch dimension) of a decoder state."""
    return tuple(part.index_select(1, indices) for part in state)


class Decoder(nn.Module):
    """GRU/LSTM decoder with additive attention and an optionally tied output layer."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        memory_size = config.encoder_output_size
        self.rnn_type = config.rnn_type
        self.layers = config.decoder_layers
        self.hidden_size = config.decoder_hidden_size
        self.embedding = nn.Embedding(config.tgt_vocab_size, config.embedding_size, padding_idx=PAD_ID)
        self.embedding_dropout = Dropout(config.embedding_dropout)
        self.attention = AdditiveAttention(self.hidden_size, memory_size, config.attention_size)
        self.bridge = nn.Linear(memory_size, self.hidden_size * self.layers)
        self.rnn = RNN_CLASSES[config.rnn_type](
            config.embedding_size + memory_size,
            self.hidden_size,
            num_layers=self.layers,
            batch_first=True,
            dropout=config.dropout if self.layers > 1 else 0.0,
        )
        self.dropout = Dropout(config.dropout)
        self.pre_output = nn.Linear(
            self.hidden_size + memory_size + config.embedding_size, config.output_size
        )
        self.output_projection = nn.Linear(config.output_size, config.tgt_vocab_size)
        if config.tie_target_embeddings:
            self.output_projection.weight = self.embedding.weight

    def init_state(self, encoder_final: torch.Tensor) -> DecoderState:
        """(batch, encoder_output_size) -> initial state, (layers, batch, hidden) per part."""
        batch = encoder_final.size(0)
        hidden = torch.tanh(self.bridge(encoder_final))  # (batch, layers * hidden)
        hidden = hidden.view(batch, self.layers, self.hidden_size).transpose(0, 1).contiguous()
        if self.rnn_type == "lstm":
            return (hidden, torch.zeros_like(hidden))
        return (hidden,)

    def step(
        self, prev_embedded: torch.Tensor, state: DecoderState, memory: EncoderMemory
    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """One target position.

        Args:
            prev_embedded: (batch, embedding_size), embedding of the previous target piece.
            state: decoder state before this step.
            memory: encoder outputs of the batch.

        Returns:
            pre-output (batch, output_size), new state, attention weights (batch, src_len).
        """
        output, context, state, weights = self.recur(prev_embedded, state, memory)
        return self.readout(output, context, prev_embedded), state, weights

    def recur(
        self, prev_embedded: torch.Tensor, state: DecoderState, memory: EncoderMemory
    ) -> tuple[torch.Tensor, torch.Tensor, DecoderState, torch.Tensor]:
        """The recurrent part of a step: attend with the previous state, then advance the RNN.

        Returns:
            RNN output (batch, hidden), context (batch, encoder_output_size), new state, and
            attention weights (batch, src_len).
        """
        query = state[0][-1]  # top layer's hidden state, (batch, hidden)
        context, weights = self.attention(query, memory.projected_keys, memory.outputs, memory.src_mask)
        rnn_input = torch.cat([prev_embedded, context], dim=-1).unsqueeze(1)
        rnn_state = state if self.rnn_type == "lstm" else state[0]
        output, new_rnn_state = self.rnn(rnn_input, rnn_state)
        new_state = new_rnn_state if self.rnn_type == "lstm" else (new_rnn_state,)
        return output.squeeze(1), context, new_state, weights

    def readout(self, output: torch.Tensor, context: torch.Tensor, prev_embedded: torch.Tensor) -> torch.Tensor:
        """Deep output layer: (..., hidden), (..., memory), (..., emb) -> (..., output_size).

        Nothing here feeds back into the recurrence, so teacher forcing runs it once over all
        positions instead of once per step.
        """
        features = torch.cat([self.dropout(output), context, prev_embedded], dim=-1)
        return self.dropout(torch.tanh(self.pre_output(features)))

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Target ids of any shape -> embeddings with dropout applied (in training)."""
        return self.embedding_dropout(self.embedding(ids))
