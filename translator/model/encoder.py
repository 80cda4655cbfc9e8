"""The recurrent encoder: embeddings, then a (bi)directional GRU or LSTM over packed sequences."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from translator.model.config import ModelConfig
from translator.model.dropout import Dropout
from translator.text.tokenizer import PAD_ID

RNN_CLASSES = {"gru": nn.GRU, "lstm": nn.LSTM}


class Encoder(nn.Module):
    """Encode padded source ids; padding never influences the result (packed sequences)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.src_vocab_size, config.embedding_size, padding_idx=PAD_ID)
        self.embedding_dropout = Dropout(config.embedding_dropout)
        self.rnn = RNN_CLASSES[config.rnn_type](
            config.embedding_size,
            config.encoder_hidden_size,
            num_layers=config.encoder_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.encoder_layers > 1 else 0.0,
        )
        self.output_dropout = Dropout(config.dropout)
        self.directions = 2 if config.bidirectional else 1

    def forward(
        self, src_ids: torch.Tensor, src_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the encoder.

        Args:
            src_ids: (batch, src_len) piece ids, padded with PAD_ID.
            src_lengths: (batch,) true lengths, each >= 1.

        Returns:
            outputs (batch, src_len, directions * hidden), zero at padded positions, and the final
            state of the top layer (batch, directions * hidden).
        """
        embedded = self.embedding_dropout(self.embedding(src_ids))  # (batch, src_len, emb)
        packed = pack_padded_sequence(
            embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        packed_outputs, final = self.rnn(packed)
        if isinstance(final, tuple):  # LSTM: (h_n, c_n); the bridge uses h_n
            final = final[0]
        outputs, _ = pad_packed_sequence(
            packed_outputs, batch_first=True, total_length=src_ids.size(1)
        )
        # final: (layers * directions, batch, hidden) -> top layer, directions concatenated
        top = final[-self.directions :].transpose(0, 1).reshape(src_ids.size(0), -1)
        return self.output_dropout(outputs), top
