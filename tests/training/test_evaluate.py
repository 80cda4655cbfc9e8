"""translator-evaluate: several named test sets in one call, one table, one JSON report; the
single-set flags as before."""

from __future__ import annotations

import json

import pytest

from tests.conftest import symbol_sentences
from tests.training.conftest import write_config, write_set
from training.cli import evaluate_main
from translator.translate import Translator


@pytest.fixture
def two_sets(tmp_path, tiny_model_dir):
    """'own': references the tiny model produces itself (BLEU 100); 'reversed': the symbols reversed."""
    own_sources, other_sources = symbol_sentences(8, seed=11), symbol_sentences(5, seed=12)
    own = Translator.from_pretrained(tiny_model_dir, device="cpu").translate(own_sources, beam_size=1)
    return {
        "own": write_set(tmp_path / "own", own_sources, own),
        "reversed": write_set(tmp_path / "data" / "reversed", other_sources,
                              [" ".join(reversed(s.split())) for s in other_sources]),
    }


def test_named_sets_are_scored_in_one_call_into_one_table_and_one_report(
        tmp_path, tiny_model_dir, two_sets, capsys):
    own_src, own_ref = two_sets["own"]
    report_path = tmp_path / "eval" / "xx-yy.json"
    assert evaluate_main([str(tiny_model_dir), "--set", "own", str(own_src), str(own_ref),
                          "--set", "reversed", str(tmp_path / "data" / "reversed"),  # PREFIX.xx, PREFIX.yy
                          "--weight", "reversed=3", "--beam-size", "1", "--device", "cpu",
                          "--report", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    sets = report["sets"]
    assert list(sets) == ["own", "reversed"]
    assert (sets["own"]["sentences"], sets["reversed"]["sentences"]) == (8, 5)
    assert sets["own"]["bleu"] == 100.0 and sets["reversed"]["bleu"] < 100.0
    assert sets["reversed"]["src"] == str(tmp_path / "data" / "reversed.xx")
    assert report["weighted_mean_bleu"] == round((100.0 + 3 * sets["reversed"]["bleu"]) / 4, 2)
    assert report["weighting"] == "0.25 x own + 0.75 x reversed"
    assert report["beam_size"] == 1
    hypotheses = (tmp_path / "eval" / "xx-yy.own.hyp").read_text()
    assert hypotheses == own_ref.read_text()

    table = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in table}
    assert rows["own"][1:4] == ["8", "100.00", f"{sets['own']['chrf']:.2f}"]
    assert rows["reversed"][1:3] == ["5", f"{sets['reversed']['bleu']:.2f}"]
    assert rows["weighted"][2:4] == ["13", f"{report['weighted_mean_bleu']:.2f}"]
    assert sum(line.startswith("bleu: nrefs:1|case:mixed") for line in table) == 1  # one signature for all


def test_the_sets_of_a_training_config_come_with_its_names_and_weights(tmp_path, tiny_model_dir, two_sets):
    config = write_config(tmp_path / "config.yaml", [("own", *two_sets["own"], 3.0),
                                                     ("reversed", *two_sets["reversed"], 1.0)])
    report_path = tmp_path / "report.json"
    assert evaluate_main([str(tiny_model_dir), "--sets-from", str(config), "--beam-size", "1",
                          "--report", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert {name: one["weight"] for name, one in report["sets"].items()} == {"own": 3.0, "reversed": 1.0}
    assert report["weighted_mean_bleu"] == round((3 * 100.0 + report["sets"]["reversed"]["bleu"]) / 4, 2)

    assert evaluate_main([str(tiny_model_dir), "--sets-from", str(config), "--weight", "own=0", "--beam-size", "1",
                          "--report", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["weighted_mean_bleu"] == report["sets"]["reversed"]["bleu"]


@pytest.mark.parametrize("arguments, message", [
    (["--set", "own", "{own_src}", "{own_ref}", "--set", "bad", "{own_src}", "{short}"],
     "set bad: {own_src} has 8 lines but {short} has 1; parallel files must be line-aligned"),
    (["--set", "own", "{own_src}", "{own_ref}", "--set", "own", "{own_src}", "{own_ref}"],
     "set names must be unique; given more than once: own"),
    (["--set", "own", "{tmp}/missing"], "set own: {tmp}/missing.xx does not exist"),
    (["--set", "own", "a", "b", "c"], "--set takes NAME SRC REF or NAME PREFIX, got 4 values: own a b c"),
    (["--set", "own", "{own_src}", "{own_ref}", "--weight", "other=2"],
     "--weight other=2: there is no set named 'other'; the sets are own"),
    (["--sets-from", "{other_pair}"],
     "--sets-from {other_pair}: its validation sets are yy->xx, the model translates xx->yy"),
    (["--src", "{own_src}", "--ref", "{own_ref}", "--set", "own", "{own_src}", "{own_ref}"],
     "give one test set as --src/--ref, or named sets as --set/--sets-from, not both (name the --src/--ref set "
     "with --set NAME SRC REF to score it with the others)"),
    ([], "nothing to score: give --set NAME SRC REF (or NAME PREFIX), --sets-from CONFIG, or one set's "
         "--src and --ref"),
])
def test_a_wrong_set_is_refused_in_one_line_before_anything_is_translated(
        tmp_path, tiny_model_dir, two_sets, beam_sizes, capsys, arguments, message):
    own_src, own_ref = two_sets["own"]
    short = tmp_path / "short.yy"
    short.write_text("a\n")
    other_pair = write_config(tmp_path / "other.yaml", [("own", own_ref, own_src, 1.0)], languages=("yy", "xx"))
    names = {"own_src": own_src, "own_ref": own_ref, "short": short, "tmp": tmp_path, "other_pair": other_pair}
    assert evaluate_main([str(tiny_model_dir)] + [a.format(**names) for a in arguments]) == 2
    assert capsys.readouterr().err == f"translator-evaluate: error: {message.format(**names)}\n"
    assert beam_sizes == []  # nothing was translated


def test_the_single_set_flags_print_and_report_as_before(tmp_path, tiny_model_dir, two_sets, capsys):
    own_src, own_ref = two_sets["own"]
    report_path = tmp_path / "single.json"
    assert evaluate_main([str(tiny_model_dir), "--src", str(own_src), "--ref", str(own_ref), "--beam-size", "1",
                          "--report", str(report_path)]) == 0
    signature, scores = capsys.readouterr().out.splitlines()
    report = json.loads(report_path.read_text())
    assert signature == report["bleu_signature"]
    assert scores == f"BLEU 100.00  chrF {report['chrf']:.2f}"
    assert (report["bleu"], report["sentences"], report["src"]) == (100.0, 8, str(own_src))
    assert (tmp_path / "single.hyp").read_text() == own_ref.read_text()
