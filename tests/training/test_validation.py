"""The validation policy (best-BLEU keeping, lr decay on plateaus, the stopping rule), and how validation translates."""

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


def test_validation_reads_a_german_source_as_its_released_checkpoint_does(tmp_path, monkeypatch):
    """German capitalises every noun: a checkpoint with its languages masks only the names its casing table lists,
    and the validation that chose it must translate the same input ids (it once masked every rare noun)."""
    import torch

    import translator.translate
    from tests.conftest import tiny_model
    from training.data.prepare import ValidationData
    from training.loop.validation import validate
    from translator.store.checkpoint import save_checkpoint
    from translator.text.casing import CaseRestorer
    from translator.text.protect import PLACEHOLDERS
    from translator.text.tokenizer import train_tokenizer
    from translator.translate import Translator

    lines = ["der mann liest die zeitung", "die frau sieht den hund", "ein kind spielt im park"] * 30
    tokenizer = train_tokenizer(lines, vocab_size=60, model_type="bpe", user_symbols=PLACEHOLDERS)
    sentence = "Der Mann liest den Zeitungsartikel."
    assert len(tokenizer.encode(["Zeitungsartikel"])[0]) >= 2  # a rare, capitalised word: a name by English rules
    seen: list[list[int]] = []
    search = translator.translate.search

    def recording(model, src_ids, src_lengths, options, *args, **kwargs):
        seen.extend(row[:length].tolist() for row, length in zip(src_ids, src_lengths))
        return search(model, src_ids, src_lengths, options, *args, **kwargs)

    monkeypatch.setattr(translator.translate, "search", recording)
    model, table = tiny_model(tokenizer.vocab_size), CaseRestorer.from_lines(lines + [sentence])
    data = ValidationData([sentence], ["The man reads the article."], batches=[])
    validate(model, [data], (tokenizer, tokenizer), 1, torch.device("cpu"), ("de", "en"), table)
    save_checkpoint(tmp_path / "de-en", model, tokenizer, tokenizer, {"source_language": "de", "target_language": "en"},
                    case_restorer=table)
    Translator.from_pretrained(tmp_path / "de-en").translate([sentence], beam_size=1)
    placeholder_ids = {ids[-1] for ids in tokenizer.encode(list(PLACEHOLDERS[:1]))}
    assert len(seen) == 2 and seen[0] == seen[1]
    assert not placeholder_ids & set(seen[0])
