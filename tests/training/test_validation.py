"""The validation policy: best-BLEU keeping, lr decay on plateaus and the stopping rule."""

from __future__ import annotations

from training.config import OptimConfig
from training.loop.run_state import TrainingState
from training.loop.validation import apply_validation


def test_better_bleu_resets_the_counters():
    state = TrainingState(best_bleu=10.0, validations_without_improvement=2, validations_since_decay=2)
    improved, reason = apply_validation(state, 11.0, OptimConfig())
    assert improved and reason == ""
    assert (state.best_bleu, state.validations_without_improvement, state.validations_since_decay) == (11.0, 0, 0)


def test_lr_decays_after_more_than_lr_decay_patience_flat_validations():
    opt = OptimConfig(lr_decay_patience=2, lr_decay_factor=0.5, patience=10)
    state = TrainingState(best_bleu=10.0)
    scales = []
    for _ in range(6):
        apply_validation(state, 9.0, opt)
        scales.append(state.lr_scale)
    assert scales == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert not state.stopped_early


def test_patience_stops_the_run():
    opt = OptimConfig(patience=3, lr_decay_patience=100)
    state = TrainingState(best_bleu=10.0)
    reasons = [apply_validation(state, 5.0, opt)[1] for _ in range(3)]
    assert reasons[:2] == ["", ""] and "no better validation BLEU for 3" in reasons[2]
    assert state.stopped_early


def test_lr_decayed_below_the_minimum_stops_the_run():
    opt = OptimConfig(learning_rate=1e-3, min_learning_rate=4e-4, lr_decay_patience=0, lr_decay_factor=0.5, patience=99)
    state = TrainingState(best_bleu=10.0)
    assert apply_validation(state, 1.0, opt)[1] == ""  # 5e-4
    assert "below min_learning_rate" in apply_validation(state, 1.0, opt)[1]  # 2.5e-4
    assert state.stopped_early
