"""POST /translate on running text: sentence splitting by default, source_lang auto, pivoting through English."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from service.app import create_app

GERMAN = "Ein Mann fährt Fahrrad. Eine Frau liest ein Buch im Park.\nZwei Kinder spielen Fußball im Schnee."
ENGLISH = "A man is riding a bicycle down the street."


def translate(client, **body):
    response = client.post("/translate", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_sentence_of_a_paragraph_translates_as_it_does_alone_and_lines_are_kept(client):
    text = "a bb cc. Dd e f!  \nGg h a bb.\n\nc d e"
    sentences = ["a bb cc.", "Dd e f!", "Gg h a bb.", "c d e"]
    alone = [translate(client, text=s, beam_size=3, return_attention=True)["translations"][0] for s in sentences]
    [result] = translate(client, text=text, beam_size=3, return_attention=True)["translations"]
    a, b, c, d = (one["text"] for one in alone)
    assert result["text"] == f"{a} {b}  \n{c}\n\n{d}"
    assert [s["source"] for s in result["sentences"]] == sentences
    for sentence, one in zip(result["sentences"], alone):
        assert sentence["alignment"]["target_pieces"] == one["alignment"]["target_pieces"]
        # the same up to float rounding: a batch of four sentences pads and sums in another order than one
        assert sentence["alignment"]["weights"] == [pytest.approx(row, abs=1e-5) for row in one["alignment"]["weights"]]
    assert "alignment" not in result  # a text of several sentences has attention per sentence only


def test_all_sentences_of_all_texts_go_to_the_model_together(make_settings, serving, fake_model):
    app = create_app(make_settings(batch_window_ms=1))

    async def scenario():
        async with serving(app) as client:
            fake = fake_model()
            fake.install(app)
            response = await client.post("/translate", json={"texts": ["Aa bb. Cc dd.\nEe", "", " Ff gg! "]})
            return fake, response.json()

    fake, body = asyncio.run(scenario())
    assert fake.calls == [["Aa bb.", "Cc dd.", "Ee", "Ff gg!"]]
    assert [t["text"] for t in body["translations"]] == ["<Aa bb.> <Cc dd.>\n<Ee>", "", " <Ff gg!> "]


def test_a_text_of_more_sentences_than_the_queue_takes_is_413_not_a_503_forever(make_settings):
    with TestClient(create_app(make_settings(queue_max_sentences=64)), raise_server_exceptions=False) as small:
        response = small.post("/translate", json={"text": "Aa bb. " * 65})
    assert response.status_code == 413
    assert "65 sentences" in response.json()["detail"] and "TRANSLATOR_QUEUE_MAX_SENTENCES" in response.json()["detail"]


def test_split_sentences_false_sends_each_text_whole(make_settings, serving, fake_model):
    app = create_app(make_settings())

    async def scenario():
        async with serving(app) as client:
            fake = fake_model()
            fake.install(app)
            response = await client.post("/translate", json={"text": "Aa bb. Cc dd.", "split_sentences": False})
            return fake, response.json()

    fake, body = asyncio.run(scenario())
    assert fake.calls == [["Aa bb. Cc dd."]]
    assert body["translations"][0]["text"] == "<Aa bb. Cc dd.>" and "sentences" not in body["translations"][0]


@pytest.mark.parametrize("text", [GERMAN, GERMAN.lower(), GERMAN.upper()])
def test_source_auto_detects_german_in_any_case(languages_client, text):
    body = translate(languages_client, text=text, source_lang="auto", target_lang="en")
    assert (body["model"], body["source_lang"], body["target_lang"]) == ("de-en", "de", "en")
    assert body["detected_language"]["language"] == "de" and 0.5 < body["detected_language"]["confidence"] <= 1


def test_source_auto_detects_english(languages_client):
    body = translate(languages_client, texts=[ENGLISH, "Two dogs play in the snow."], source_lang="auto",
                     target_lang="de")
    assert body["model"] == "en-de" and body["detected_language"]["language"] == "en"


def test_explicit_source_has_no_detected_language(languages_client):
    assert "detected_language" not in translate(languages_client, text=GERMAN, source_lang="de", target_lang="en")


def test_source_auto_rejects_text_already_in_the_target_language(languages_client):
    response = languages_client.post("/translate", json={"text": ENGLISH, "source_lang": "auto", "target_lang": "en"})
    assert response.status_code == 422 and "detected as en" in response.json()["detail"]


def test_source_auto_rejects_text_without_letters(languages_client):
    response = languages_client.post("/translate", json={"text": "12 34!", "source_lang": "auto", "target_lang": "en"})
    assert response.status_code == 422 and "cannot detect" in response.json()["detail"]


def test_source_auto_with_undetectable_languages_is_a_clear_422(client, second_model_dir):
    response = client.post("/translate", json={"text": "a b", "source_lang": "auto", "target_lang": "yy"})
    assert response.status_code == 422 and "give the source language" in response.json()["detail"]


def test_without_a_direct_model_the_translation_goes_through_english(languages_client):
    body = translate(languages_client, text="a b c d", source_lang="de", target_lang="fr", return_scores=True,
                     split_sentences=False)
    assert (body["model"], body["pivot"], body["source_lang"], body["target_lang"]) == ("de-en+en-fr", "en", "de", "fr")
    english = translate(languages_client, text="a b c d", source_lang="de", target_lang="en", return_scores=True,
                        split_sentences=False)["translations"][0]
    french = translate(languages_client, text=english["text"], source_lang="en", target_lang="fr",
                       return_scores=True, split_sentences=False)["translations"][0]
    assert body["translations"][0]["text"] == french["text"]
    assert body["translations"][0]["score"] == pytest.approx(english["score"] + french["score"])


def test_a_pivoted_translation_has_attention_from_the_source_through_english(languages_client):
    body = translate(languages_client, text="a b c d", source_lang="de", target_lang="fr", return_attention=True,
                     split_sentences=False)
    alignment = body["translations"][0]["alignment"]
    german = translate(languages_client, text="a b c d", source_lang="de", target_lang="en", return_attention=True,
                       split_sentences=False)["translations"][0]["alignment"]
    assert alignment["source_pieces"] == german["source_pieces"]  # the German pieces, not the English ones
    assert all(sum(row) == pytest.approx(1.0) for row in alignment["weights"])


def test_a_direct_model_is_not_marked_as_pivoted(languages_client):
    assert "pivot" not in translate(languages_client, text="a b", source_lang="de", target_lang="en")


def test_models_lists_every_reachable_direction(languages_client):
    directions = languages_client.get("/models").json()["directions"]
    assert [(d["source_lang"], d["target_lang"], d["models"], d.get("pivot")) for d in directions] == [
        ("de", "en", ["de-en"], None), ("de", "fr", ["de-en", "en-fr"], "en"),
        ("en", "de", ["en-de"], None), ("en", "fr", ["en-fr"], None),
    ]


def test_an_unreachable_pair_is_404_listing_the_pivots_too(languages_client):
    response = languages_client.post("/translate", json={"text": "a", "source_lang": "fr", "target_lang": "de"})
    assert response.status_code == 404
    assert "de->fr (through en: models 'de-en' and 'en-fr')" in response.json()["detail"]
