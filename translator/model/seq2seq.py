"""The sequence-to-sequence model: encoder, additive attention, decoder.

Search code talks to it through :meth:`Seq2Seq.encode` once per batch, :meth:`Seq2Seq.step`
once per target position and two row selections (the
:class:`~translator.search.protocol.DecodingModel` protocol), so it never knows whether a GRU or an
LSTM is inside.
"""

from __future__ import annotations

import torch
from torch import nn

from translator.model.config import ModelConfig
from translator.model.decoder import Decoder, DecoderState, EncoderMemory, select_state
from translator.model.encoder import Encoder
from translator.text.tokenizer import PAD_ID


class Seq2Seq(nn.Module):
    """An RNN encoder-decoder with Bahdanau attention."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        # torch's N(0, 1) embeddings would make tied output logits ~sqrt(embedding_size) large.
        for embedding in (self.encoder.embedding, self.decoder.embedding):
            nn.init.normal_(embedding.weight, std=config.embedding_size**-0.5)
            with torch.no_grad():
                embedding.weight[PAD_ID].zero_()

    def encode(
        self, src_ids: torch.Tensor, src_lengths: torch.Tensor
    ) -> tuple[EncoderMemory, DecoderState]:
        """Encode a padded batch (batch, src_len) -> attention memory and initial decoder state."""
        outputs, final = self.encoder(src_ids, src_lengths)
        memory = EncoderMemory(
            outputs=outputs,
            projected_keys=self.decoder.attention.project_keys(outputs),
            src_mask=src_ids != PAD_ID,
        )
        return memory, self.decoder.init_state(final)

    def step(
        self, prev_ids: torch.Tensor, state: DecoderState, memory: EncoderMemory
    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """Score the next piece: prev_ids (batch,) -> logits (batch, tgt_vocab), state, weights."""
        pre_output, state, weights = self.decoder.step(self.decoder.embed(prev_ids), state, memory)
        return self.decoder.output_projection(pre_output), state, weights

    @property
    def vocab_size(self) -> int:
        """Target vocabulary size (the width of :meth:`step`'s logits)."""
        return self.config.tgt_vocab_size

    def select_state(self, state: DecoderState, rows: torch.Tensor) -> DecoderState:
        """Rows ``rows`` of a decoder state (search reorders beams with it)."""
        return select_state(state, rows)

    def select_memory(self, memory: EncoderMemory, sentences: torch.Tensor) -> EncoderMemory:
        """Sentences ``sentences`` of the attention memory."""
        return memory.index_select(sentences)

    def pre_outputs(
        self, src_ids: torch.Tensor, src_lengths: torch.Tensor, tgt_in_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced decoder features before the output projection.

        Args:
            src_ids: (batch, src_len); src_lengths: (batch,).
            tgt_in_ids: (batch, tgt_len) target pieces shifted right (starting with BOS).

        Returns:
            pre-outputs (batch, tgt_len, output_size) and attention (batch, tgt_len, src_len).
        """
        memory, state = self.encode(src_ids, src_lengths)
        embedded = self.decoder.embed(tgt_in_ids)  # (batch, tgt_len, emb), all positions at once
        outputs, contexts, weights = [], [], []
        # unbind rather than embedded[:, t]: the backward of a slice zero-fills a full-size gradient per step.
        for step_embedded in embedded.unbind(1):
            output, context, state, step_weights = self.decoder.recur(step_embedded, state, memory)
            outputs.append(output)
            contexts.append(context)
            weights.append(step_weights)
        pre_outputs = self.decoder.readout(torch.stack(outputs, 1), torch.stack(contexts, 1), embedded)
        return pre_outputs, torch.stack(weights, dim=1)

    def forward(
        self, src_ids: torch.Tensor, src_lengths: torch.Tensor, tgt_in_ids: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced logits (batch, tgt_len, tgt_vocab)."""
        pre_outputs, _ = self.pre_outputs(src_ids, src_lengths, tgt_in_ids)
        return self.decoder.output_projection(pre_outputs)
