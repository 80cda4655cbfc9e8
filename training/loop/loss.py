"""The training objective and optimiser: label-smoothed cross-entropy over real target positions,
and fused AdamW."""

from __future__ import annotations

import torch
from torch import nn

from translator.model.seq2seq import Seq2Seq
from translator.text.tokenizer import PAD_ID


class LossModule(nn.Module):
    """Wraps the model so one forward returns the summed loss (what DDP needs to wrap)."""

    def __init__(self, model: Seq2Seq, label_smoothing: float) -> None:
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                tgt_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed (smoothed, and plain) cross-entropy over the real target positions."""
        pre_outputs, _ = self.model.pre_outputs(src, src_lengths, tgt_in)  # (batch, tgt_len, out)
        mask = tgt_out != PAD_ID
        # Project only real positions: padding would cost a full vocabulary matmul each.
        logits = self.model.decoder.output_projection(pre_outputs[mask])  # (tokens, vocab)
        targets = tgt_out[mask]
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        nll = -log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)  # (tokens,)
        # Label smoothing spreads epsilon uniformly over the vocabulary, as torch's own does.
        smoothed = ((1 - self.label_smoothing) * nll - self.label_smoothing * log_probs.mean(dim=-1)).sum()
        plain = nll.sum().detach()
        return smoothed, plain


def make_optimizer(model: nn.Module, learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over the model's parameters, fused: one kernel updates every parameter (on models/de-en's
    9.1M parameters, 2 CPU threads: 15 ms a step for torch's default implementation, 4.5 ms fused)."""
    return torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay, fused=True)
