"""POST /translate on the tiny model: response shape, options, empty input and Unicode edge cases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app


def test_one_text_gives_one_translation_with_model_name_and_version(client):
    response = client.post("/translate", json={"text": "a b c", "source_lang": "xx", "target_lang": "yy"})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "xx-yy"
    assert body["model_version"].startswith("sha256:")
    assert (body["source_lang"], body["target_lang"]) == ("xx", "yy")
    assert len(body["translations"]) == 1
    assert isinstance(body["translations"][0]["text"], str)
    assert set(body["translations"][0]) == {"text"}  # nothing that was not asked for


def test_texts_come_back_in_input_order(client):
    texts = ["a b c d e f g h a b", "", "c", "   ", "d e f"]
    response = client.post("/translate", json={"texts": texts, "beam_size": 2})
    assert response.status_code == 200
    translations = response.json()["translations"]
    assert len(translations) == len(texts)
    one_by_one = [client.post("/translate", json={"text": t, "beam_size": 2}).json()["translations"][0]["text"]
                  for t in texts]
    assert [t["text"] for t in translations] == one_by_one


def test_empty_and_whitespace_texts_translate_to_empty_strings_with_score_zero(client):
    response = client.post("/translate", json={"texts": ["", " ", "\t\n  "], "return_scores": True})
    assert response.status_code == 200
    assert response.json()["translations"] == [{"text": "", "score": 0.0}] * 3


def test_return_scores_adds_a_negative_log_probability(client):
    response = client.post("/translate", json={"text": "a b", "return_scores": True})
    score = response.json()["translations"][0]["score"]
    assert isinstance(score, float) and score <= 0.0


def test_n_best_returns_that_many_candidates_best_first(client):
    response = client.post("/translate", json={"text": "a b c", "beam_size": 4, "n_best": 3, "return_scores": True})
    result = response.json()["translations"][0]
    assert len(result["n_best"]) == 3
    assert result["n_best"][0]["text"] == result["text"]
    scores = [candidate["score"] for candidate in result["n_best"]]
    assert scores == sorted(scores, reverse=True)


def test_return_attention_gives_a_weight_row_per_target_piece_over_source_pieces(client):
    response = client.post("/translate", json={"text": "a b c", "return_attention": True, "beam_size": 1})
    alignment = response.json()["translations"][0]["alignment"]
    assert alignment["source_pieces"][-1] == "</s>"
    assert len(alignment["weights"]) == len(alignment["target_pieces"])
    for row in alignment["weights"]:
        assert len(row) == len(alignment["source_pieces"])
        assert sum(row) == pytest.approx(1.0, abs=1e-4)


def test_max_output_length_bounds_the_number_of_target_pieces(client):
    response = client.post("/translate", json={"text": "a b c d", "beam_size": 1, "max_output_length": 3,
                                               "return_attention": True})
    assert len(response.json()["translations"][0]["alignment"]["target_pieces"]) <= 3


def test_language_codes_are_case_and_space_insensitive(client):
    response = client.post("/translate", json={"text": "a", "source_lang": " XX", "target_lang": "Yy "})
    assert response.status_code == 200
    assert response.json()["model"] == "xx-yy"


def test_model_can_be_chosen_by_name(client):
    response = client.post("/translate", json={"text": "a", "model": "xx-yy"})
    assert response.status_code == 200 and response.json()["model"] == "xx-yy"


def test_with_two_models_the_language_pair_picks_the_model(make_settings, tiny_model_dir, second_model_dir):
    settings = make_settings(model_dirs=[tiny_model_dir, second_model_dir])
    with TestClient(create_app(settings)) as client:
        forward = client.post("/translate", json={"text": "a", "source_lang": "xx", "target_lang": "yy"})
        backward = client.post("/translate", json={"text": "a", "source_lang": "yy", "target_lang": "xx"})
        unspecified = client.post("/translate", json={"text": "a"})
    assert forward.json()["model"] == "xx-yy"
    assert backward.json()["model"] == "yy-xx"
    assert unspecified.status_code == 422
    assert "xx->yy" in unspecified.json()["detail"] and "yy->xx" in unspecified.json()["detail"]


UNICODE_CASES = {
    "emoji": "a 😀 b 👍🏽 c 👨‍👩‍👧",
    "combining marks": "e\u0301 a\u0308 o\u0303\u0323 Z\u0351\u0352\u0353",
    "right-to-left": "שלום עולם a مرحبا b",
    "bidi overrides": "\u202ea b\u202c \u2067c\u2069",
    "control characters": "a\x00b\x07c\x1b[31m d\x7f\x85",
    "zero-width and BOM": "\ufeffa\u200bb\u200dc\u2060",
    "CJK and astral plane": "漢字 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 a",
    "only unknown symbols": "€∑∫√",
    "line and paragraph separators": "a\u2028b\u2029c\r\nd",
}


@pytest.mark.parametrize("text", UNICODE_CASES.values(), ids=UNICODE_CASES.keys())
def test_unicode_edge_cases_translate_to_a_string(client, text):
    response = client.post("/translate", json={"texts": [text, "a b"], "beam_size": 2, "return_attention": True})
    assert response.status_code == 200, response.text
    translations = response.json()["translations"]
    assert len(translations) == 2
    assert all(isinstance(t["text"], str) for t in translations)


def test_a_10000_character_word_is_over_the_default_text_limit_and_says_so(client):
    response = client.post("/translate", json={"text": "a" * 10_000})
    assert response.status_code == 413
    assert "max_text_chars" in response.json()["detail"] and "10000 characters" in response.json()["detail"]


def test_a_10000_character_word_translates_when_the_limit_allows_it(make_settings):
    with TestClient(create_app(make_settings(max_text_chars=10_000))) as client:
        response = client.post("/translate", json={"text": "ab" * 5_000, "beam_size": 1, "max_output_length": 4})
    assert response.status_code == 200
    assert isinstance(response.json()["translations"][0]["text"], str)
