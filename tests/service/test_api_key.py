"""The optional API key: required where configured, accepted in either header, /health always open."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.ops.auth import key_matches

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def guarded(make_settings) -> TestClient:
    with TestClient(create_app(make_settings(api_key=KEY)), raise_server_exceptions=False) as client:
        yield client


def test_translate_without_a_key_is_401_saying_how_to_send_one(guarded):
    response = guarded.post("/translate", json={"text": "a"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "X-API-Key" in response.json()["detail"] and "Bearer" in response.json()["detail"]


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer wrong"},
    {"X-API-Key": "wrong"},
    {"X-API-Key": KEY + "x"},
    {"Authorization": f"Basic {KEY}"},
    {"Authorization": "Bearer "},
    {"X-API-Key": "clé".encode("latin-1")},
], ids=["wrong bearer", "wrong header", "longer key", "basic scheme", "empty bearer", "non-ascii"])
def test_a_wrong_key_is_401(guarded, headers):
    assert guarded.post("/translate", json={"text": "a"}, headers=headers).status_code == 401


def test_the_key_works_as_a_bearer_token(guarded):
    response = guarded.post("/translate", json={"text": "a"}, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200


def test_the_key_works_in_the_x_api_key_header(guarded):
    response = guarded.post("/translate", json={"text": "a"}, headers={"X-API-Key": KEY})
    assert response.status_code == 200


def test_models_and_metrics_need_the_key_too(guarded):
    assert guarded.get("/models").status_code == 401
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/models", headers={"X-API-Key": KEY}).status_code == 200
    assert guarded.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200


def test_health_and_ready_stay_open(guarded):
    assert guarded.get("/health").status_code == 200
    assert guarded.get("/ready").status_code == 200


def test_without_a_configured_key_no_key_is_needed(client):
    assert client.post("/translate", json={"text": "a"}).status_code == 200


def test_an_empty_key_setting_means_no_key(make_settings):
    assert make_settings(api_key="  ").api_key is None


def test_key_comparison_handles_utf8_keys_and_missing_keys():
    assert key_matches("clé".encode("utf-8"), "clé")
    assert not key_matches("clé".encode("latin-1"), "clé")
    assert not key_matches(None, "clé")
    assert not key_matches(b"", "clé")
