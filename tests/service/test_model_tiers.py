"""Several models for one language pair (e.g. a model and its distilled fast tier): which one answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import tiny_model
from translator.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def tiers_client(tmp_path_factory, symbol_tokenizer, make_settings) -> TestClient:
    """de-en, a second de->en model that sorts before it by name, and en-fr (for a pivot de->fr)."""
    root = tmp_path_factory.mktemp("tiers")
    for seed, (name, source, target) in enumerate([("compact-de-en", "de", "en"), ("de-en", "de", "en"),
                                                   ("en-fr", "en", "fr")]):
        save_checkpoint(root / name, tiny_model(symbol_tokenizer.vocab_size, seed=seed + 1), symbol_tokenizer,
                        symbol_tokenizer, {"source_language": source, "target_language": target})
    with TestClient(create_app(make_settings(model_dirs=sorted(root.iterdir()))), raise_server_exceptions=False) as client:
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
