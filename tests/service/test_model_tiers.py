"""Several models for one language pair (e.g. a model and its distilled fast tier): which one answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app


@pytest.fixture(scope="module")
def tiers_client(tiers_models_root, make_settings) -> TestClient:
    settings = make_settings(model_dirs=sorted(tiers_models_root.iterdir()))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def translate(client: TestClient, **body) -> dict:
    response = client.post("/translate", json={"text": "a b c d", "split_sentences": False, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_languages_alone_get_the_model_named_after_the_pair_and_a_name_gets_the_other(tiers_client):
    assert translate(tiers_client, source_lang="de", target_lang="en")["model"] == "de-en"
    assert translate(tiers_client, model="compact-de-en")["model"] == "compact-de-en"
    assert translate(tiers_client, model="compact-de-en", source_lang="de", target_lang="en")["model"] == "compact-de-en"
    assert translate(tiers_client, source_lang="de", target_lang="fr")["pivot"] == "en"


def test_models_lists_both_and_each_direction_once(tiers_client):
    body = tiers_client.get("/models").json()
    assert [m["name"] for m in body["models"]] == ["compact-de-en", "de-en", "en-fr"]
    assert [(d["source_lang"], d["target_lang"], d["models"]) for d in body["directions"]] == [
        ("de", "en", ["de-en"]), ("de", "fr", ["de-en", "en-fr"]), ("en", "fr", ["en-fr"]),
    ]


def test_libretranslate_languages_list_each_target_once(tiers_client):
    languages = {entry["code"]: entry["targets"] for entry in tiers_client.get("/languages").json()}
    assert languages["de"] == ["en", "fr"]


def test_error_messages_say_which_model_of_a_pair_is_the_default(tiers_client):
    response = tiers_client.post("/translate", json={"text": "a", "model": "nope"})
    assert response.status_code == 404
    assert "de->en (model 'compact-de-en'), de->en (model 'de-en', the default), en->fr (model 'en-fr')" in \
        response.json()["detail"]


def test_a_model_made_for_greedy_search_gets_it_unless_the_request_asks_for_a_beam(tiers_client, beam_sizes):
    translate(tiers_client, model="compact-de-en")
    assert set(beam_sizes) == {1}
    beam_sizes.clear()
    translate(tiers_client, model="compact-de-en", beam_size=4)
    translate(tiers_client, model="compact-de-en", n_best=3)  # alternatives need a beam that wide
    assert set(beam_sizes) == {4, 3}
    beam_sizes.clear()
    translate(tiers_client, source_lang="de", target_lang="en")  # de-en states no default: the library's
    translate(tiers_client, source_lang="de", target_lang="fr")  # through de-en and en-fr
    assert set(beam_sizes) == {5}


def test_models_shows_each_models_default_search(tiers_client):
    defaults = {m["name"]: m["default_search"] for m in tiers_client.get("/models").json()["models"]}
    assert defaults == {"compact-de-en": {"beam_size": 1, "length_penalty": 1.0},
                        "de-en": {"beam_size": 5, "length_penalty": 1.0},
                        "en-fr": {"beam_size": 5, "length_penalty": 1.0}}
