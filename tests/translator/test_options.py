"""SearchOptions: one typed object, its defaults used by the library, both CLIs and the service."""

from __future__ import annotations

import math

import pytest

from service.schemas import TranslateRequest
from training.cli import evaluate_main
from translator.cli import build_parser
from translator.options import DEFAULT_SEARCH, SearchOptions
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


def test_the_translate_command_defaults_are_the_library_defaults(tiny_model_dir):
    args = build_parser().parse_args([str(tiny_model_dir)])
    assert (args.beam_size, args.n_best, args.length_penalty, args.max_output_length, args.max_output_ratio) == (
        DEFAULT_SEARCH.beam_size, DEFAULT_SEARCH.n_best, DEFAULT_SEARCH.length_penalty,
        DEFAULT_SEARCH.max_output_length, DEFAULT_SEARCH.max_output_ratio)


def test_the_evaluate_command_passes_one_options_object_with_the_library_defaults(tmp_path, monkeypatch):
    seen = []

    def fake_evaluate(model_dir, src, ref, options, **kwargs):
        seen.append(options)
        return {"bleu_signature": "sig", "bleu": 1.0, "chrf": 2.0}

    monkeypatch.setattr("training.evaluate.evaluate", fake_evaluate)
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


def test_library_keywords_and_an_options_object_give_the_same_translations(translator):
    texts = ["a b c", "h g f e d"]
    options = SearchOptions(beam_size=3, n_best=2, max_output_ratio=1.5)
    by_object = translator.translate_detailed(texts, options)
    by_keywords = translator.translate_detailed(texts, beam_size=3, n_best=2, max_output_ratio=1.5)
    assert [(t.text, t.score) for t in by_object] == [(t.text, t.score) for t in by_keywords]
    with pytest.raises(TypeError, match="unknown search option"):
        translator.translate(texts, beam=3)
