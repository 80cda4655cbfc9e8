"""Every bad-input path of the API answers 4xx with a message naming the problem, never a stack trace."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app


@pytest.fixture(scope="module")
def limited(make_settings) -> TestClient:
    """An app with small limits, so each is easy to cross."""
    settings = make_settings(max_texts=3, max_text_chars=20, max_total_chars=30, max_body_bytes=2000,
                             max_beam_size=4, max_output_length=50)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def assert_error(response, status: int, *phrases: str) -> None:
    """The answer has ``status``, the JSON error shape, and a detail containing every phrase."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for phrase in phrases:
        assert phrase in detail, detail
    assert "Traceback" not in response.text


def test_too_many_texts_is_413_naming_max_texts(limited):
    assert_error(limited.post("/translate", json={"texts": ["a"] * 4}), 413,
                 "4 texts", "max_texts", "TRANSLATOR_MAX_TEXTS")


def test_a_too_long_text_is_413_naming_max_text_chars_and_its_index(limited):
    assert_error(limited.post("/translate", json={"texts": ["a", "b" * 21]}), 413,
                 "text 1 has 21 characters", "max_text_chars")


def test_too_many_characters_in_all_is_413_naming_max_total_chars(limited):
    assert_error(limited.post("/translate", json={"texts": ["a" * 20, "b" * 20]}), 413,
                 "40 characters", "max_total_chars")


def test_a_body_declared_too_large_is_413_naming_max_body_bytes(limited):
    response = limited.post("/translate", content=b'{"text": "' + b"a" * 3000 + b'"}',
                            headers={"content-type": "application/json"})
    assert_error(response, 413, "max_body_bytes", "2000 bytes")


def test_a_streamed_body_without_length_is_cut_at_max_body_bytes(limited):
    def chunks():
        yield b'{"text": "'
        for _ in range(30):
            yield b"a" * 100
        yield b'"}'

    response = limited.post("/translate", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "max_body_bytes")


def test_a_beam_size_above_the_server_limit_is_422_naming_max_beam_size(limited):
    assert_error(limited.post("/translate", json={"text": "a", "beam_size": 5}), 422,
                 "beam_size 5", "max_beam_size")


def test_a_max_output_length_above_the_server_limit_is_422_naming_it(limited):
    assert_error(limited.post("/translate", json={"text": "a", "max_output_length": 51}), 422,
                 "max_output_length 51", "TRANSLATOR_MAX_OUTPUT_LENGTH")


def test_an_unknown_language_pair_is_404_listing_available_pairs(client):
    assert_error(client.post("/translate", json={"text": "a", "source_lang": "fr", "target_lang": "en"}), 404,
                 "fr->en", "available: xx->yy (model 'xx-yy')")


def test_an_unknown_model_name_is_404_listing_available_models(client):
    assert_error(client.post("/translate", json={"text": "a", "model": "de-en"}), 404,
                 "'de-en'", "xx->yy (model 'xx-yy')")


def test_a_model_name_with_languages_it_does_not_translate_is_404(client):
    assert_error(client.post("/translate", json={"text": "a", "model": "xx-yy", "source_lang": "yy",
                                                 "target_lang": "xx"}), 404, "translates xx->yy")


@pytest.mark.parametrize("body, phrase", [
    (b'{"text": "a"', "not valid JSON"),
    (b"", "has no body"),
    (b'["a"]', "must be a JSON object"),
    (b'"a"', "must be a JSON object"),
    (b"\xff\xfe{", "not valid JSON"),
], ids=["truncated", "empty", "array", "string", "not utf-8"])
def test_a_body_that_is_not_a_json_object_is_422(client, body, phrase):
    response = client.post("/translate", content=body, headers={"content-type": "application/json"})
    assert_error(response, 422, phrase)


def test_a_body_sent_without_json_content_type_is_422(client):
    response = client.post("/translate", content=b'{"text": "a"}', headers={"content-type": "text/plain"})
    assert_error(response, 422, "application/json")


@pytest.mark.parametrize("body, phrase", [
    ({"text": 5}, "body.text"),
    ({"texts": "a"}, "body.texts"),
    ({"texts": ["a", None]}, "body.texts.1"),
    ({"text": "a", "beam_size": "5"}, "body.beam_size"),
    ({"text": "a", "beam_size": 2.5}, "body.beam_size"),
    ({"text": "a", "return_scores": 1}, "body.return_scores"),
    ({"text": "a", "length_penalty": "high"}, "body.length_penalty"),
], ids=["text int", "texts string", "texts null item", "beam string", "beam float", "flag int", "penalty string"])
def test_wrong_types_are_422_naming_the_field(client, body, phrase):
    assert_error(client.post("/translate", json=body), 422, phrase)


@pytest.mark.parametrize("body, phrase", [
    ({"text": "a", "temperature": 0.7}, "body.temperature: Extra inputs are not permitted"),
    ({"text": "a", "texts": ["b"]}, "exactly one of text"),
    ({}, "exactly one of text"),
    ({"texts": []}, "body.texts"),
    ({"text": "a", "beam_size": 0}, "body.beam_size"),
    ({"text": "a", "beam_size": 2, "n_best": 3}, "n_best (3) cannot be larger than beam_size (2)"),
    ({"text": "a", "length_penalty": -1}, "body.length_penalty"),
    ({"text": "a", "max_output_length": 0}, "body.max_output_length"),
    ({"text": "a", "source_lang": "xx"}, "give both source_lang and target_lang"),
], ids=["unknown option", "text and texts", "neither", "empty list", "beam 0", "n_best > beam", "negative penalty",
        "output length 0", "one language"])
def test_unsupported_options_and_shapes_are_422_with_a_reason(client, body, phrase):
    assert_error(client.post("/translate", json=body), 422, phrase)


def test_non_finite_numbers_are_422(client):
    response = client.post("/translate", content=b'{"text": "a", "length_penalty": NaN}',
                           headers={"content-type": "application/json"})
    assert_error(response, 422, "length_penalty")


def test_an_unpaired_surrogate_is_422_naming_the_text(client):
    response = client.post("/translate", content=b'{"texts": ["a", "b\\ud800"]}',
                           headers={"content-type": "application/json"})
    assert_error(response, 422, "text 1 contains an unpaired surrogate U+D800")


def test_an_unknown_path_is_a_json_404(client):
    assert_error(client.get("/translations"), 404, "no such endpoint")


def test_a_wrong_method_is_a_json_405(client):
    assert_error(client.get("/translate"), 405, "Method Not Allowed")


def test_an_unexpected_error_is_a_generic_500_without_internals(make_settings, fake_model):
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as client:
        fake_model(fail_on="a", error=RuntimeError).install(client.app)
        response = client.post("/translate", json={"text": "a"})
    assert_error(response, 500, "internal server error")
    assert "RuntimeError" not in response.text and "cannot translate" not in response.text


def test_a_value_error_from_the_translator_is_422_with_its_message(make_settings, fake_model):
    with TestClient(create_app(make_settings()), raise_server_exceptions=False) as client:
        fake_model(fail_on="a").install(client.app)
        response = client.post("/translate", json={"text": "a"})
    assert_error(response, 422, "cannot translate this request", "cannot translate 'a'")
