"""translator-calibrate: the logistic fit, AUROC and ECE, the seeded split, and the calibration it writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.release.calibrate import main, split_set
from training.release.logistic import auroc, expected_calibration_error, fit_logistic
from training.release.named_sets import NamedSet
from translator.confidence import CALIBRATION_FILE
from translator.store.checkpoint import load_checkpoint
from translator.translate import Translator


def test_the_fit_recovers_the_weights_of_synthetic_logistic_data():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(20000, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -1.0]
    true_weights, true_bias = np.array([1.5, -0.75, 0.0]), 0.3
    logits = true_bias + features @ true_weights
    labels = (rng.random(20000) < 1 / (1 + np.exp(-logits))).astype(float)
    model = fit_logistic(features, labels, l2=0.0)
    raw_weights = model.weights / model.scales  # back to the unstandardized features
    assert raw_weights == pytest.approx(true_weights, abs=0.06)
    assert model.bias - (model.means / model.scales) @ model.weights == pytest.approx(true_bias, abs=0.06)
    assert expected_calibration_error(model.predict(features), labels) < 0.02


def test_a_constant_feature_gets_no_weight_and_one_class_alone_is_refused():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=500)
    features = np.column_stack([signal, np.full(500, 3.0)])
    model = fit_logistic(features, (signal > 0).astype(float))
    assert model.weights[1] == 0.0 and model.weights[0] > 0
    with pytest.raises(ValueError, match="at least 2 acceptable and 2 unacceptable"):
        fit_logistic(features, np.ones(500))


def test_auroc_is_the_share_of_positive_negative_pairs_ranked_right_ties_half():
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.9])
    labels = np.array([0, 0, 1, 1, 1, 0])
    pairs = [(p, n) for p in scores[labels == 1] for n in scores[labels == 0]]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert auroc(scores, labels) == pytest.approx(expected)
    assert auroc(np.array([0.2, 0.9]), np.array([0, 1])) == 1.0
    assert np.isnan(auroc(np.array([0.2, 0.9]), np.array([1, 1])))


def test_expected_calibration_error_weighs_each_bins_gap_by_its_size():
    probabilities = np.array([0.05, 0.05, 0.95, 0.95, 0.55, 0.55, 0.55, 0.55])
    labels = np.array([0, 0, 1, 0, 1, 1, 1, 1])
    # bins: 0.0-0.1 gap 0.05 (2 of 8); 0.9-1.0 gap 0.45 (2); 0.5-0.6 gap 0.45 (4)
    assert expected_calibration_error(probabilities, labels) == pytest.approx((2 * 0.05 + 2 * 0.45 + 4 * 0.45) / 8)


def test_the_split_is_seeded_disjoint_and_within_the_sample_size(tmp_path):
    (tmp_path / "s.txt").write_text("".join(f"source {i}\n" for i in range(100)))
    (tmp_path / "r.txt").write_text("".join(f"reference {i}\n" for i in range(100)))
    named = NamedSet("set", tmp_path / "s.txt", tmp_path / "r.txt")
    fit, held_out = split_set(named, max_sentences=40, fit_share=0.25, seed=7)
    assert (len(fit), len(held_out)) == (10, 30)
    assert not {s for s, _ in fit} & {s for s, _ in held_out}
    assert all(s.split()[1] == r.split()[1] for s, r in fit + held_out)  # pairs stay pairs
    assert split_set(named, 40, 0.25, 7) == (fit, held_out)
    assert split_set(named, 40, 0.25, 8) != (fit, held_out)


def test_the_command_writes_a_calibration_the_manifest_covers(calibrated_model_dir, tmp_path, capsys):
    import shutil

    model = tmp_path / "xx-yy"
    shutil.copytree(calibrated_model_dir, model)  # a model whose outputs are not empty; its calibration is replaced
    sources = [" ".join("abcdefgh"[(i * 3 + j) % 8] for j in range(2 + i % 6)) for i in range(80)]
    outputs = Translator.from_pretrained(model, device="cpu").translate(sources)
    # Half the references are the model's own output (acceptable), half something else (not).
    references = [output if i % 2 else "zz yy xx ww" for i, output in enumerate(outputs)]
    (tmp_path / "val.src").write_text("\n".join(sources) + "\n")
    (tmp_path / "val.ref").write_text("\n".join(references) + "\n")
    code = main([str(model), "--set", "val", str(tmp_path / "val.src"), str(tmp_path / "val.ref"),
                 "--max-sentences", "80", "--threads", "1"])
    assert code == 0
    assert "held-out set" in capsys.readouterr().out
    checkpoint = load_checkpoint(model)  # the manifest verifies with the new files
    calibration = checkpoint.calibration
    assert calibration is not None and calibration.fitted["fitting_sentences"] == 40
    assert calibration.bias != 0.0 and "translator-calibrate" in calibration.fitted["command"]
    assert calibration.fitted["held_out"]["val"]["sentences"] == 40
    assert json.loads((model / "manifest.json").read_text())["files"][CALIBRATION_FILE]["bytes"] > 0
    assert checkpoint.metadata["confidence"]["held_out"] == calibration.fitted["held_out"]
    assert Translator.from_pretrained(model, device="cpu").translate_detailed(["a b"])[0].confidence is not None
