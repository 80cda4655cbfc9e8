"""Confidence in the service: per sentence and text in /translate, the LibreTranslate extension, min_confidence
flagging and refusing, /models, pivots, and a real server process refusing by its settings.

The tiny model's hand-set calibration (tests.conftest.length_calibration) gives two-symbol texts a confidence near
1 and ten-symbol texts one near 0, with the reason "a very long source".
"""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.scheduling.pipeline import _chained
from tests.service.server_process import ServerProcess
from translator.confidence import Confidence
from translator.translate import Translation

SHORT, LONG = "a b", "a b c d e f g h a b"
PARAGRAPH = "a bb. Cc d e f g h a b c."


@pytest.fixture(scope="module")
def calibrated(make_settings, calibrated_model_dir) -> TestClient:
    with TestClient(create_app(make_settings(model_dirs=[calibrated_model_dir])),
                    raise_server_exceptions=False) as test_client:
        yield test_client


def translations(client: TestClient, **body) -> list[dict]:
    response = client.post("/translate", json={"beam_size": 2, **body})
    assert response.status_code == 200, response.text
    return response.json()["translations"]


def test_each_text_and_sentence_has_a_confidence_and_low_ones_say_why(calibrated):
    short, long = translations(calibrated, texts=[SHORT, LONG])
    assert short["confidence"] > 0.99 and "confidence_reasons" not in short
    assert long["confidence"] < 0.01 and long["confidence_reasons"] == ["a very long source"]
    assert "low_confidence" not in short  # no threshold asked for
    [paragraph] = translations(calibrated, text=PARAGRAPH, source_lang="xx", target_lang="yy")
    first, second = paragraph["sentences"]
    assert first["confidence"] > 0.5 > second["confidence"]
    weights = [len(first["source"]), len(second["source"])]
    mean = (first["confidence"] * weights[0] + second["confidence"] * weights[1]) / sum(weights)
    assert paragraph["confidence"] == pytest.approx(mean, abs=1e-3)


def test_min_confidence_flags_the_sentences_below_it(calibrated):
    short, long = translations(calibrated, texts=[SHORT, LONG], min_confidence=0.5)
    assert short["low_confidence"] is False and long["low_confidence"] is True
    [paragraph] = translations(calibrated, text=PARAGRAPH, min_confidence=0.5)
    assert paragraph["low_confidence"] is True
    assert [s["low_confidence"] for s in paragraph["sentences"]] == [False, True]


def test_refusing_answers_422_naming_every_low_sentence(calibrated):
    response = calibrated.post("/translate", json={"texts": [SHORT, PARAGRAPH, LONG], "beam_size": 2,
                                                   "min_confidence": 0.5, "low_confidence": "refuse"})
    assert response.status_code == 422
    body = response.json()
    assert "min_confidence 0.5" in body["detail"]
    assert [(low["text"], low["sentence"]) for low in body["low_confidence"]] == [(1, 1), (2, 0)]
    assert body["low_confidence"][1]["source"] == LONG
    assert body["low_confidence"][1]["reasons"] == ["a very long source"]
    assert all(low["confidence"] < 0.5 for low in body["low_confidence"])
    ok = calibrated.post("/translate", json={"text": SHORT, "min_confidence": 0.5, "low_confidence": "refuse"})
    assert ok.status_code == 200 and ok.json()["translations"][0]["low_confidence"] is False


def test_a_threshold_for_an_uncalibrated_model_is_refused_and_it_reports_no_confidence(client):
    [plain] = translations(client, text=SHORT)
    assert "confidence" not in plain
    response = client.post("/translate", json={"text": SHORT, "min_confidence": 0.5})
    assert response.status_code == 422 and "has no calibration.json" in response.json()["detail"]


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.5"])
def test_min_confidence_outside_zero_to_one_is_a_422(calibrated, value):
    assert calibrated.post("/translate", json={"text": SHORT, "min_confidence": value}).status_code == 422


def test_libretranslate_answers_carry_confidence_as_an_extension(calibrated):
    one = calibrated.post("/translate", json={"q": LONG, "source": "xx", "target": "yy"})
    assert one.status_code == 200, one.text
    assert one.json()["confidence"] < 0.01
    several = calibrated.post("/libretranslate/translate", data={"q": SHORT, "source": "xx", "target": "yy"})
    assert several.json()["confidence"] > 0.99


def test_models_lists_the_calibration_of_a_calibrated_model(calibrated, client):
    assert calibrated.get("/models").json()["models"][0]["confidence"]["acceptable_chrf"] == 50.0
    assert client.get("/models").json()["models"][0]["confidence"] is None


def test_a_pivoted_translation_is_as_confident_as_both_legs_together():
    first = Translation("pivot", -1.0, confidence=Confidence(0.8, ["unusually short"]))
    second = Translation("target", -2.0, confidence=Confidence(0.5, ["repeats itself"]))
    chained = _chained(first, second)
    assert chained.confidence.probability == pytest.approx(0.4)
    assert chained.confidence.reasons == ["unusually short", "repeats itself"]
    assert _chained(first, Translation("target", -2.0)).confidence is None


def test_a_server_set_to_refuse_refuses_low_sentences_and_serves_the_rest(tmp_path, calibrated_model_dir):
    with ServerProcess(tmp_path, calibrated_model_dir, TRANSLATOR_MIN_CONFIDENCE="0.5",
                       TRANSLATOR_LOW_CONFIDENCE="refuse") as server:
        good = httpx.post(server.url + "/translate", json={"text": SHORT, "beam_size": 2}, timeout=60)
        assert good.status_code == 200
        assert good.json()["translations"][0]["confidence"] > 0.99
        assert good.json()["translations"][0]["low_confidence"] is False
        bad = httpx.post(server.url + "/translate", json={"texts": [SHORT, LONG], "beam_size": 2}, timeout=60)
        assert bad.status_code == 422
        assert [low["text"] for low in bad.json()["low_confidence"]] == [1]
        flagged = httpx.post(server.url + "/translate", json={"text": LONG, "low_confidence": "flag"}, timeout=60)
        assert flagged.status_code == 200 and flagged.json()["translations"][0]["low_confidence"] is True
        libre = httpx.post(server.url + "/translate", data={"q": LONG, "source": "xx", "target": "yy"}, timeout=60)
        assert libre.status_code == 400 and "min_confidence" in libre.json()["error"]
