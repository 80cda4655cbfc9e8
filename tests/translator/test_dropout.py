"""The CPU dropout behaves like nn.Dropout."""

from __future__ import annotations

import pytest
import torch

from translator.model.dropout import Dropout


def test_training_zeroes_a_fraction_p_and_rescales_the_rest():
    torch.manual_seed(0)
    dropout = Dropout(0.3).train()
    inputs = torch.full((1000, 1000), 2.0, requires_grad=True)
    outputs = dropout(inputs)
    kept = outputs != 0
    assert abs(1 - kept.float().mean().item() - 0.3) < 0.003
    assert torch.allclose(outputs[kept], torch.tensor(2.0 / 0.7))
    outputs.sum().backward()  # the gradient is the same mask and scale
    assert torch.equal(inputs.grad != 0, kept)
    assert torch.allclose(inputs.grad[kept], torch.tensor(1 / 0.7))


def test_masks_follow_the_torch_seed():
    dropout = Dropout(0.5).train()
    inputs = torch.ones(64, 64)
    torch.manual_seed(3)
    first = dropout(inputs)
    torch.manual_seed(3)
    assert torch.equal(dropout(inputs), first)
    assert not torch.equal(dropout(inputs), first)


def test_eval_mode_and_zero_probability_pass_inputs_through():
    inputs = torch.randn(8, 8)
    assert Dropout(0.3).eval()(inputs) is inputs
    assert Dropout(0.0).train()(inputs) is inputs


def test_invalid_probabilities_are_rejected():
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.0)
