"""Additive (Bahdanau) attention: score(s, h) = vᵀ tanh(W_q s + W_k h)."""

from __future__ import annotations

import torch
from torch import nn


class AdditiveAttention(nn.Module):
    """Bahdanau attention over encoder outputs.

    The keys (``W_k h``) do not depend on the decoder state, so :meth:`project_keys` computes them
    once per batch and every decoding step reuses them.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        self.key_layer = nn.Linear(key_size, attention_size, bias=False)
        self.query_layer = nn.Linear(query_size, attention_size, bias=True)
        self.energy_layer = nn.Linear(attention_size, 1, bias=False)

    def project_keys(self, encoder_outputs: torch.Tensor) -> torch.Tensor:
        """(batch, src_len, key_size) -> (batch, src_len, attention_size)."""
        return self.key_layer(encoder_outputs)

    def forward(
        self,
        query: torch.Tensor,
        projected_keys: torch.Tensor,
        values: torch.Tensor,
        src_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend with one or more queries per sentence.

        Args:
            query: (batch * beam, query_size), the decoder states; rows ``i * beam ... i * beam +
                beam - 1`` belong to sentence ``i`` (beam = 1 in training and greedy search).
            projected_keys: (batch, src_len, attention_size) from :meth:`project_keys`.
            values: (batch, src_len, value_size), the encoder outputs.
            src_mask: (batch, src_len) bool, True on real source positions.

        Returns:
            context (batch * beam, value_size) and weights (batch * beam, src_len); padded
            positions get weight 0.
        """
        return self.attend(self.query_layer(query), projected_keys, values, src_mask)

    def attend(
        self,
        projected_query: torch.Tensor,
        projected_keys: torch.Tensor,
        values: torch.Tensor,
        src_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` from an already projected query ``W_q s + b`` (batch * beam, attention_size)."""
        batch, src_len, attention_size = projected_keys.shape
        beam = projected_query.size(0) // batch
        # Beams of one sentence share its keys by broadcasting, so beam search never copies them.
        projected_query = projected_query.view(batch, beam, 1, attention_size)
        # (batch, beam, src_len, attention) is the largest tensor of a step: tanh in place, so it
        # is written once, not twice (autograd is fine with it: tanh's backward needs only its output).
        hidden = torch.tanh_(projected_query + projected_keys.unsqueeze(1))
        energies = self.energy_layer(hidden).squeeze(-1)  # (batch, beam, src_len)
        energies = energies.masked_fill(~src_mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(energies, dim=-1)
        context = torch.bmm(weights, values)  # (batch, beam, value_size)
        return context.view(batch * beam, -1), weights.view(batch * beam, src_len)
