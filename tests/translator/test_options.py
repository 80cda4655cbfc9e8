"""SearchOptions: one typed object, its defaults used by the library, both CLIs and the service."""

from __future__ import annotations

import json
import math
import shutil
from types import SimpleNamespace

import pytest

from service.api.schemas import TranslateRequest
from training.cli import evaluate_main
from translator.cli import build_parser
from translator.store.checkpoint import CheckpointError, load_checkpoint, write_manifest
from translator.search.options import (DEFAULT_SEARCH, AboveLimit, SearchLimits, SearchOptions, model_search_defaults,
                                      resolve_search, search_options_from_args)
from translator.translate import Translator


@pytest.fixture(scope="module")
def translator(tiny_model_dir):
    return Translator.from_pretrained(tiny_model_dir, device="cpu")


@pytest.mark.parametrize("changes, message", [
    ({"beam_size": 0}, "beam_size must be >= 1"),
    ({"beam_size": True}, "beam_size must be an integer"),
    ({"beam_size": 2, "n_best": 3}, "n_best must be between 1 and beam_size"),
    ({"length_penalty": math.nan}, "length_penalty must be a finite number"),
    ({"max_output_ratio": math.inf}, "max_output_ratio must be a finite number"),
    ({"max_output_ratio": 0.0}, "max_output_ratio must be > 0"),
    ({"max_output_length": 0}, "max_output_length must be >= 1"),
])
def test_out_of_range_options_are_refused_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        SearchOptions(**changes)


def test_updated_validates_again_and_refuses_unknown_names():
    assert DEFAULT_SEARCH.updated(beam_size=2).beam_size == 2
    with pytest.raises(ValueError, match="beam_size"):
        DEFAULT_SEARCH.updated(beam_size=-1)
    with pytest.raises(TypeError, match="unknown search option"):
        DEFAULT_SEARCH.updated(beam=2)


def test_the_translate_command_defaults_are_the_library_defaults_or_the_models(tiny_model_dir):
    args = build_parser().parse_args([str(tiny_model_dir)])
    assert search_options_from_args(args) == DEFAULT_SEARCH
    greedy = DEFAULT_SEARCH.updated(beam_size=1, length_penalty=0.5)
    assert search_options_from_args(args, greedy) == greedy
    args = build_parser().parse_args([str(tiny_model_dir), "--beam-size", "3", "--length-penalty", "0"])
    assert search_options_from_args(args, greedy) == DEFAULT_SEARCH.updated(beam_size=3, length_penalty=0.0)


def test_the_evaluate_command_passes_one_options_object_with_the_library_defaults(tmp_path, monkeypatch):
    seen = []

    def fake_evaluate(model_dir, src, ref, options, **kwargs):
        seen.append(options)
        return {"bleu_signature": "sig", "bleu": 1.0, "chrf": 2.0}

    monkeypatch.setattr("training.release.evaluate.evaluate", fake_evaluate)
    assert evaluate_main([str(tmp_path), "--src", "s", "--ref", "r"]) == 0
    assert evaluate_main([str(tmp_path), "--src", "s", "--ref", "r", "--max-output-length", "9",
                          "--max-output-ratio", "1.5"]) == 0
    assert seen == [DEFAULT_SEARCH, DEFAULT_SEARCH.updated(max_output_length=9, max_output_ratio=1.5)]


def test_a_request_that_sets_nothing_searches_with_the_library_defaults():
    request = TranslateRequest(text="a", model="m")
    assert request.search_options(max_beam_size=100, max_output_length=10_000) == DEFAULT_SEARCH
    lowered = request.search_options(max_beam_size=2, max_output_length=40)
    assert (lowered.beam_size, lowered.max_output_length) == (2, 40)  # the server's limits, when smaller
    custom = TranslateRequest(text="a", model="m", beam_size=3, n_best=2, max_output_ratio=1.25,
                              return_attention=True).search_options(12, 512)
    assert custom == DEFAULT_SEARCH.updated(beam_size=3, n_best=2, max_output_ratio=1.25, return_attention=True)


def test_the_resolver_widens_an_unset_beam_to_the_n_best_list_and_keeps_a_set_one():
    greedy = DEFAULT_SEARCH.updated(beam_size=1)
    assert resolve_search({}, greedy) == greedy
    assert resolve_search({"n_best": 3}, greedy).beam_size == 3
    assert resolve_search({"n_best": 3, "beam_size": 4}, greedy).beam_size == 4
    with pytest.raises(ValueError, match="n_best \\(3\\) cannot be larger than beam_size \\(2\\)"):
        resolve_search({"n_best": 3, "beam_size": 2}, greedy)


def test_the_resolver_lowers_unset_options_to_the_limits_and_refuses_set_ones_above_them():
    limits = SearchLimits(max_beam_size=3, max_output_length=40)
    lowered = resolve_search({}, DEFAULT_SEARCH, limits)
    assert (lowered.beam_size, lowered.max_output_length) == (3, 40)
    for asked, limit_name in [({"beam_size": 4}, "max_beam_size"), ({"n_best": 4}, "max_beam_size"),
                              ({"max_output_length": 41}, "max_output_length")]:
        with pytest.raises(AboveLimit) as refused:
            resolve_search(asked, DEFAULT_SEARCH, limits)
        assert refused.value.limit_name == limit_name and str(refused.value).startswith(next(iter(asked)))


def test_library_keywords_and_an_options_object_give_the_same_translations(translator):
    texts = ["a b c", "h g f e d"]
    options = SearchOptions(beam_size=3, n_best=2, max_output_ratio=1.5)
    by_object = translator.translate_detailed(texts, options)
    by_keywords = translator.translate_detailed(texts, beam_size=3, n_best=2, max_output_ratio=1.5)
    assert [(t.text, t.score) for t in by_object] == [(t.text, t.score) for t in by_keywords]
    with pytest.raises(TypeError, match="unknown search option"):
        translator.translate(texts, beam=3)


@pytest.fixture
def greedy_model_dir(tiny_model_dir, tmp_path):
    """The tiny model, stating in its metadata that it is meant for greedy search (as a distilled student)."""
    directory = tmp_path / "greedy"
    shutil.copytree(tiny_model_dir, directory)
    metadata = json.loads((directory / "metadata.json").read_text())
    (directory / "metadata.json").write_text(json.dumps({**metadata, "default_search": {"beam_size": 1}}))
    write_manifest(directory)
    return directory


def test_a_checkpoints_default_search_applies_where_a_caller_says_nothing(greedy_model_dir, beam_sizes):
    translator = Translator.from_pretrained(greedy_model_dir, device="cpu")
    assert translator.default_search == DEFAULT_SEARCH.updated(beam_size=1)
    translator.translate(["a b c"])
    translator.translate(["a b c"], beam_size=3)
    translator.translate(["a b c"], SearchOptions(beam_size=2))
    assert beam_sizes == [1, 3, 2]
    [result] = translator.translate_detailed(["a b c"], n_best=3)  # the default beam widens to the n-best list
    assert beam_sizes[-1] == 3 and len(result.n_best) == 3


def test_the_commands_use_the_models_default_search_unless_a_flag_says_otherwise(
        greedy_model_dir, beam_sizes, tmp_path, capsys):
    from translator.cli import main as translate_main

    source = tmp_path / "in.txt"
    source.write_text("a b c\n")
    assert translate_main([str(greedy_model_dir), "-i", str(source), "--no-progress"]) == 0
    assert translate_main([str(greedy_model_dir), "-i", str(source), "--no-progress", "--beam-size", "2"]) == 0
    assert evaluate_main([str(greedy_model_dir), "--src", str(source), "--ref", str(source)]) == 0
    assert translate_main([str(greedy_model_dir), "-i", str(source), "--no-progress", "--n-best", "3"]) == 0
    assert beam_sizes == [1, 2, 1, 3]
    assert len(capsys.readouterr().out.splitlines()[-1].split("\t")) == 6  # three candidates, each with a score


@pytest.mark.parametrize("default_search, message", [
    ({"beam": 1}, "default_search.beam"),
    ({"beam_size": 0}, "default_search.beam_size"),
    ({"length_penalty": -1}, "default_search.length_penalty"),
])
def test_a_checkpoint_with_a_bad_default_search_is_refused_naming_the_field(
        greedy_model_dir, default_search, message):
    metadata = json.loads((greedy_model_dir / "metadata.json").read_text())
    (greedy_model_dir / "metadata.json").write_text(json.dumps({**metadata, "default_search": default_search}))
    write_manifest(greedy_model_dir)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(greedy_model_dir)


def test_model_search_defaults_refuse_what_a_model_may_not_set():
    assert model_search_defaults({}) == DEFAULT_SEARCH
    assert model_search_defaults({"default_search": {"beam_size": 1, "length_penalty": None}}) == \
        DEFAULT_SEARCH.updated(beam_size=1)
    with pytest.raises(ValueError, match="not \\['n_best'\\]"):
        model_search_defaults({"default_search": {"n_best": 2}})


def test_a_pivot_whose_models_disagree_searches_with_the_library_defaults():
    from service.scheduling.routing import Route

    def leg(options):
        return SimpleNamespace(translator=SimpleNamespace(default_search=options))

    greedy = DEFAULT_SEARCH.updated(beam_size=1)
    assert Route((leg(greedy),)).default_search == greedy
    assert Route((leg(greedy), leg(greedy))).default_search == greedy
    assert Route((leg(greedy), leg(DEFAULT_SEARCH))).default_search == DEFAULT_SEARCH
