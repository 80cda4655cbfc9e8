"""The trainer's one update (training_step): bf16 autocast when train.precision says so, fp32 master weights."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_model
from training.config import OptimConfig
from training.data.batching import make_batch
from training.loop.loss import LossModule, make_optimizer
from training.loop.trainer import training_step


def step_with_precision(precision: str) -> tuple[torch.Tensor, list[torch.dtype], torch.nn.Module, torch.optim.Optimizer]:
    """One update of a fresh tiny model; (plain loss, dtypes of the output projection's outputs, model, optimizer)."""
    model = tiny_model(20, seed=3).train()
    optimizer = make_optimizer(model, 1e-3, 0.0)
    seen: list[torch.dtype] = []
    model.decoder.output_projection.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    batch = make_batch([[4, 5, 6], [7, 8]], [[9, 10], [11, 12, 13]])
    plain = training_step(model, LossModule(model, 0.1), optimizer, batch, 1e-3,
                          OptimConfig(precision=precision), torch.device("cpu"))
    return plain, seen, model, optimizer


@pytest.mark.parametrize("precision, matmul_dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_the_step_runs_its_products_in_the_configured_precision(precision, matmul_dtype):
    _, seen, _, _ = step_with_precision(precision)
    assert seen == [matmul_dtype]


def test_bf16_step_keeps_float32_weights_gradients_and_optimizer_state():
    plain, _, model, optimizer = step_with_precision("bf16")
    assert plain.dtype == torch.float32 and torch.isfinite(plain)
    for parameter in model.parameters():
        assert parameter.dtype == torch.float32 and parameter.grad.dtype == torch.float32
        assert all(value.dtype == torch.float32 for value in optimizer.state[parameter].values()
                   if value.is_floating_point() and value.dim() > 0)


def test_bf16_loss_is_the_fp32_loss_up_to_bfloat16_rounding():
    fp32, _, _, _ = step_with_precision("fp32")
    bf16, _, _, _ = step_with_precision("bf16")
    assert bf16.item() == pytest.approx(fp32.item(), rel=0.02)
