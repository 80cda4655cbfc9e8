"""Dropout that draws its mask with ``torch.rand`` on the CPU.

``nn.Dropout`` on the CPU draws its mask with ``bernoulli_``, which in torch 2.13 costs about
2.3x a ``torch.rand`` of the same size (a (128, 22, 768) activation, 2 threads: 17.9 ms against
7.7 ms for the whole dropout), and training calls dropout five times per batch on tensors that
size. Keeping an element when a uniform draw is >= p has the same distribution. On CUDA the
fused native kernel is used.
"""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Module):
    """``nn.Dropout(p)``: in training, zero each element with probability p and scale the rest by 1 / (1 - p)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return inputs
        if inputs.device.type != "cpu":
            return nn.functional.dropout(inputs, self.p, training=True)
        keep = torch.rand(inputs.shape, dtype=inputs.dtype) >= self.p
        return inputs * keep.to(inputs.dtype).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"
