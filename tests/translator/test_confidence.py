"""Confidence: the search's trace, the features taken from it, calibration files and the translator's confidence."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from tests.conftest import length_calibration, tiny_model
from translator.confidence import (FEATURE_NAMES, Calibration, Confidence, chain_confidences, combine_confidences,
                                   sentence_features)
from translator.confidence.calibration import CALIBRATION_FILE
from translator.search.beam import search
from translator.search.hypotheses import Hypothesis, length_normaliser
from translator.search.options import SearchOptions
from translator.store.checkpoint import CheckpointError, load_checkpoint
from translator.text.tokenizer import UNK_ID
from translator.translate import Translator


def _search(model, beam_size: int, return_attention: bool = True):
    torch.manual_seed(3)
    src = torch.randint(4, model.config.src_vocab_size, (5, 9))
    lengths = torch.tensor([9, 7, 5, 3, 2])
    for row, length in enumerate(lengths.tolist()):
        src[row, length:] = 0
    options = SearchOptions(beam_size=beam_size, n_best=min(2, beam_size), length_penalty=1.0, max_output_length=12)
    return search(model, src, lengths, options, return_attention).hypotheses


@pytest.mark.parametrize("beam_size", [1, 4])
def test_piece_log_probabilities_add_up_to_the_unnormalised_score(beam_size):
    model = tiny_model(30, seed=5)
    for hypotheses in _search(model, beam_size):
        for hypothesis in hypotheses:
            pieces = len(hypothesis.piece_log_probs)
            assert pieces == len(hypothesis.token_ids) + hypothesis.ended_with_eos
            normaliser = float(length_normaliser(torch.tensor(pieces), 1.0))
            assert sum(hypothesis.piece_log_probs) == pytest.approx(hypothesis.score * normaliser, abs=1e-4)
            assert all(value <= 0 for value in hypothesis.piece_log_probs)


@pytest.mark.parametrize("beam_size", [1, 4])
def test_coverage_is_the_attention_summed_over_output_steps(beam_size):
    model = tiny_model(30, seed=5)
    for hypotheses in _search(model, beam_size):
        best = hypotheses[0]
        assert best.attention is not None
        assert best.coverage == pytest.approx(best.attention.sum(0).tolist(), abs=1e-5)
        rows = best.attention.clamp_min(1e-12)
        entropy = float(-(best.attention * rows.log()).sum(1).mean())
        assert best.attention_entropy == pytest.approx(entropy, abs=1e-4)


def test_beam_search_keeps_the_runner_up_and_greedy_has_none():
    model = tiny_model(30, seed=5)
    for hypotheses in _search(model, 4, return_attention=False):
        best = hypotheses[0]
        assert best.runner_up is not None and best.runner_up.score <= best.score
        assert best.runner_up.token_ids == hypotheses[1].token_ids
    assert all(hypotheses[0].runner_up is None for hypotheses in _search(model, 1, return_attention=False))


def _hypothesis(tokens, log_probs, coverage, ended=True, runner_up=None, score=-1.0):
    return Hypothesis(tokens, score, None, ended, log_probs, coverage, 0.5, runner_up)


def test_features_of_a_hand_made_hypothesis():
    runner_up = _hypothesis([5, 6], [-1.0, -1.0, -1.0], [1, 1, 1, 1, 1], score=-1.5)
    hypothesis = _hypothesis([5, 6, 5, 6, 5, 6], [-0.1, -2.0, -0.1, -0.1, -0.1, -0.1, -0.3],
                             [1.2, 0.1, 0.4, 2.0, 1.0, 0.0], runner_up=runner_up)
    features = sentence_features([9, UNK_ID, 10, 11], hypothesis, fallback_ids={UNK_ID})
    assert set(features) == set(FEATURE_NAMES)
    assert features["mean_log_prob"] == pytest.approx(-2.8 / 7)
    assert features["min_log_prob"] == pytest.approx(-2.0)
    assert features["unattended"] == pytest.approx(2 / 4)  # 0.1 and 0.4 of the 4 source pieces; EOS not counted
    assert features["coverage_deficit"] == pytest.approx((0.9 + 0.6) / 4)
    assert features["length_ratio"] == pytest.approx(math.log(7 / 5))
    assert features["repetition"] == pytest.approx(3 / 5)  # (5,6) (6,5) (5,6) (6,5) (5,6): 3 repeats
    assert features["unknown_source"] == pytest.approx(1 / 4)
    assert features["truncated"] == 0.0
    assert features["margin"] == pytest.approx(0.5)
    assert features["disagreement"] == pytest.approx(4 / 6)
    assert sentence_features([9], _hypothesis([5], [-1.0], [1.0], ended=False))["truncated"] == 1.0


def test_a_glossary_terms_pieces_count_as_certain_in_the_log_probability_features():
    hypothesis = _hypothesis([5, 7, 8, 6], [-0.2, -6.0, -3.0, -0.4, -0.1], [1, 1, 1])
    plain = sentence_features([9, 10, 11], hypothesis)
    given = sentence_features([9, 10, 11], hypothesis, given=[(7, 8), (42,)])  # (42,) is not in the output
    assert plain["mean_log_prob"] == pytest.approx(-9.7 / 5) and plain["min_log_prob"] == pytest.approx(-6.0)
    assert given["mean_log_prob"] == pytest.approx(-0.7 / 5) and given["min_log_prob"] == pytest.approx(-0.4)
    assert {k: v for k, v in given.items() if "log_prob" not in k} == {k: v for k, v in plain.items()
                                                                       if "log_prob" not in k}


def test_a_hypothesis_without_the_search_trace_has_no_features():
    with pytest.raises(ValueError, match="did not come from search"):
        sentence_features([9], Hypothesis([5], -1.0))


def test_calibration_is_a_logistic_model_and_names_what_lowered_it():
    calibration = length_calibration()
    features = {name: 0.0 for name in FEATURE_NAMES}
    long, short = dict(features, source_length=math.log(11)), dict(features, source_length=math.log(3))
    assert calibration.probability(long) == pytest.approx(1 / (1 + math.exp(4 * (math.log(11) - 1.9) / 0.25)))
    assert calibration.probability(short) > 0.99
    assert calibration.reasons(long) == ["a very long source"]
    assert calibration.reasons(short) == []


def test_a_calibration_file_that_does_not_fit_is_refused_naming_it(tmp_path):
    raw = length_calibration().model_dump()
    with pytest.raises(ValueError, match=r"calibration.json is not a valid calibration file: .*unknown features"):
        Calibration.parse(json.dumps(dict(raw, features=["source_length", "magic"] + raw["features"][2:])),
                          tmp_path / CALIBRATION_FILE)
    with pytest.raises(ValueError, match="same length"):
        Calibration.parse(json.dumps(dict(raw, weights=raw["weights"][:-1])), "c.json")


def test_a_calibrated_checkpoint_loads_its_calibration_and_refuses_a_changed_one(calibrated_model_dir, tmp_path):
    assert load_checkpoint(calibrated_model_dir).calibration == length_calibration()
    copy = tmp_path / "copy"
    shutil.copytree(calibrated_model_dir, copy)
    data = json.loads((copy / CALIBRATION_FILE).read_text())
    (copy / CALIBRATION_FILE).write_text(json.dumps(dict(data, bias=5.0)))
    with pytest.raises(CheckpointError, match=CALIBRATION_FILE):
        load_checkpoint(copy)


def test_translations_of_a_calibrated_model_carry_confidence_per_sentence_and_text(calibrated_model_dir):
    translator = Translator.from_pretrained(calibrated_model_dir, device="cpu")
    short, long = translator.translate_detailed(["a b", "a b c d e f g h a b"], beam_size=2)
    assert short.confidence.probability > 0.99 and short.confidence.reasons == []
    assert long.confidence.probability < 0.01 and long.confidence.reasons == ["a very long source"]
    [text] = translator.translate_paragraphs(["a bb. Cc d e f g h a b c."], language="en", beam_size=2)
    first, second = text.sentences
    assert first.confidence.probability > 0.5 > second.confidence.probability
    weights = [len(first.source), len(second.source)]
    expected = (first.confidence.probability * weights[0] + second.confidence.probability * weights[1]) / sum(weights)
    assert text.confidence.probability == pytest.approx(expected)
    assert text.confidence.reasons == second.confidence.reasons
    assert translator.translate_detailed([" "])[0].confidence is None


def test_a_model_without_calibration_gives_no_confidence(tiny_model_dir):
    translator = Translator.from_pretrained(tiny_model_dir, device="cpu")
    assert translator.calibration is None
    assert translator.translate_detailed(["a b"])[0].confidence is None


def test_combining_and_chaining_confidences():
    low, high = Confidence(0.2, ["unusually short"]), Confidence(0.9, ["close alternatives"])
    combined = combine_confidences([low, high], [1.0, 3.0])
    assert combined.probability == pytest.approx(0.725) and combined.reasons == ["unusually short"]
    assert combine_confidences([low, None], [1.0, 1.0]) is None
    chained = chain_confidences(low, high)
    assert chained.probability == pytest.approx(0.18)
    assert chained.reasons == ["unusually short", "close alternatives"]
    assert chain_confidences(low, None) is None


def test_the_cli_shows_confidence_and_reasons_before_each_translation(calibrated_model_dir, tiny_model_dir,
                                                                      tmp_path, capsys):
    from translator.cli import main

    source = tmp_path / "in.txt"
    source.write_text("a b\na b c d e f g h a b\n")
    assert main([str(calibrated_model_dir), "--input", str(source), "--show-confidence", "--beam-size", "2",
                 "--no-progress"]) == 0
    short, long = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert float(short[0]) > 0.99 and short[1] == ""
    assert float(long[0]) < 0.01 and long[1] == "a very long source"
    expected = Translator.from_pretrained(calibrated_model_dir, device="cpu").translate(["a b"], beam_size=2)
    assert short[2] == expected[0]
    assert main([str(tiny_model_dir), "--input", str(source), "--show-confidence", "--no-progress"]) == 2
    assert "has no calibration.json" in capsys.readouterr().err
