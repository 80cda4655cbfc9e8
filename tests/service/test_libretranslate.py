"""The LibreTranslate-compatible API in process: request shapes, answers, and errors in its format."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app

GERMAN = "Ein Mann fährt Fahrrad. Eine Frau liest ein Buch im Park.\nZwei Kinder spielen Fußball im Schnee."


@pytest.fixture(scope="module")
def client(languages_client):
    return languages_client


@pytest.fixture(scope="module")
def ours(client):
    """Our own API's answer for a text, to compare with the compatible one."""
    def translate(text: str, source: str, target: str, **options) -> dict:
        response = client.post("/translate", json={"text": text, "source_lang": source, "target_lang": target,
                                                   **options})
        assert response.status_code == 200, response.text
        return response.json()["translations"][0]
    return translate


@pytest.mark.parametrize("path", ["/translate", "/libretranslate/translate"])
def test_form_data_at_the_root_or_the_base_url_translates_like_our_api(client, ours, path):
    response = client.post(path, data={"q": GERMAN, "source": "de", "target": "en"})
    assert response.status_code == 200
    assert response.json() == {"translatedText": ours(GERMAN, "de", "en")["text"]}


def test_json_with_a_list_in_q_and_source_auto(client, ours):
    texts = [GERMAN, "Zwei Hunde spielen im Schnee."]
    response = client.post("/translate", json={"q": texts, "source": "auto", "target": "en", "format": "text"})
    assert response.status_code == 200
    body = response.json()
    assert body["translatedText"] == [ours(text, "de", "en")["text"] for text in texts]
    assert [d["language"] for d in body["detectedLanguage"]] == ["de", "de"]
    assert all(50 < d["confidence"] <= 100 for d in body["detectedLanguage"])


def test_alternatives_are_the_n_best_list_without_the_translation(client, ours):
    response = client.post("/translate", json={"q": "Hunde spielen.", "source": "de", "target": "en",
                                               "alternatives": 2})
    body = response.json()
    n_best = [c["text"] for c in ours("Hunde spielen.", "de", "en", n_best=3, beam_size=5)["n_best"]]
    assert body["translatedText"] == n_best[0]
    assert body["alternatives"] == [text for text in dict.fromkeys(n_best[1:]) if text != n_best[0]]


def test_a_pivoted_translation_says_so(client, ours):
    body = client.post("/translate", data={"q": "Hunde spielen.", "source": "de", "target": "fr"}).json()
    assert body["pivot"] == "en"
    assert body["translatedText"] == ours("Hunde spielen.", "de", "fr")["text"]


def test_text_already_in_the_target_language_comes_back_unchanged(client):
    body = client.post("/translate", json={"q": "Two dogs play in the snow.", "source": "auto", "target": "en"})
    assert body.json() == {"translatedText": "Two dogs play in the snow.",
                           "detectedLanguage": {"confidence": pytest.approx(100, abs=50), "language": "en"}}


def test_html_keeps_every_tag_and_translates_the_text_between(client, ours):
    # The tiny models' pieces do not spell German words, so "Zwei <b>Hunde</b> & Katzen" cannot have its
    # tags placed by attention and falls back to its text nodes one by one (tests/translator/test_markup.py places them).
    markup = ('<p class="lead">Ein Mann fährt Fahrrad. Eine Frau liest.</p>\n<ul><li>Zwei <b>Hunde</b> &amp; '
              'Katzen</li></ul><script>var text = "Hund";</script><!-- Hund -->')
    body = client.post("/translate", json={"q": markup, "source": "de", "target": "en", "format": "html"}).json()
    expected = ('<p class="lead">{}</p>\n<ul><li>{}<b>{}</b>{}</li></ul><script>var text = "Hund";</script>'
                '<!-- Hund -->').format(*(ours(text, "de", "en")["text"].replace("&", "&amp;")
                                          for text in ["Ein Mann fährt Fahrrad. Eine Frau liest.", "Zwei ", "Hunde",
                                                       " & Katzen"]))
    assert body == {"translatedText": expected}


def test_our_own_json_shape_at_the_root_still_reaches_our_api(client):
    response = client.post("/translate", json={"text": "Hunde.", "source_lang": "de", "target_lang": "en"})
    assert response.status_code == 200 and response.json()["model"] == "de-en"


def test_languages_lists_every_language_with_its_reachable_targets(client):
    for path in ("/languages", "/libretranslate/languages"):
        assert client.get(path).json() == [
            {"code": "de", "name": "German", "targets": ["en", "fr"]},
            {"code": "en", "name": "English", "targets": ["de", "fr"]},
            {"code": "fr", "name": "French", "targets": []},
        ]


@pytest.mark.parametrize("text, language", [("Zwei Hunde spielen im Schnee.", "de"),
                                            ("deux chiens jouent dans la neige", "fr"),
                                            ("TWO DOGS ARE PLAYING IN THE SNOW", "en")])
def test_detect_puts_the_right_language_first(client, text, language):
    candidates = client.post("/detect", data={"q": text}).json()
    assert candidates[0]["language"] == language and candidates[0]["confidence"] > 50
    assert all(c["confidence"] > 0 for c in candidates)
    assert [c["confidence"] for c in candidates] == sorted((c["confidence"] for c in candidates), reverse=True)


def test_openapi_documents_the_compatible_parameters(client):
    paths = client.get("/openapi.json").json()["paths"]
    body = paths["/libretranslate/translate"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/x-www-form-urlencoded"}
    assert {"q", "source", "target", "format", "alternatives", "api_key", "glossary"} == set(
        body["application/json"]["schema"]["properties"])
    assert "requestBody" in paths["/detect"]["post"]


def test_frontend_settings(client):
    settings = client.get("/frontend/settings").json()
    assert settings["charLimit"] == 5000 and settings["keyRequired"] is False
    assert settings["language"] == {"source": {"code": "auto", "name": "Auto Detect"},
                                    "target": {"code": "en", "name": "English"}}


@pytest.mark.parametrize("body, message", [
    ({"source": "de", "target": "en"}, "missing q"),
    ({"q": "Hallo", "target": "en"}, "missing source"),
    ({"q": "Hallo", "source": "de"}, "missing target"),
    ({"q": [1, 2], "source": "de", "target": "en"}, "missing q"),
    ({"q": "Hallo", "source": "de", "target": "en", "format": "markdown"}, "markdown format is not supported"),
    ({"q": "Hallo", "source": "de", "target": "en", "alternatives": "many"}, "not a number"),
    ({"q": "Hallo", "source": "de", "target": "en", "alternatives": 50}, "must be <= 11"),
    ({"q": "Hallo", "source": "fr", "target": "de"}, "no model translates fr->de"),
    ({"q": "Hallo", "source": "xx", "target": "en"}, "no model translates xx->en"),
    ({"q": "1234", "source": "auto", "target": "en"}, "cannot detect"),
    ({"q": "x" * 5001, "source": "de", "target": "en"}, "5001 characters"),
    ({"q": ["Hallo"] * 65, "source": "de", "target": "en"}, "65 texts"),
])
def test_bad_requests_are_400_with_an_error_field(client, body, message):
    response = client.post("/translate", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_invalid_json_is_400(client):
    response = client.post("/libretranslate/translate", content=b"[1, 2]", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "Invalid JSON" in response.json()["error"]


def test_detect_without_q_is_400(client):
    response = client.post("/detect", json={})
    assert response.status_code == 400 and "missing q" in response.json()["error"]


def test_api_key_goes_in_the_body_or_a_header(make_settings, language_models_root):
    settings = make_settings(model_dirs=sorted(language_models_root.iterdir()), api_key="sesame")
    with TestClient(create_app(settings), raise_server_exceptions=False) as keyed:
        form = {"q": "Hunde.", "source": "de", "target": "en"}
        assert keyed.post("/translate", data=form).status_code == 403
        wrong = keyed.post("/translate", data={**form, "api_key": "nope"})
        assert wrong.status_code == 403 and wrong.json() == {"error": "Invalid API key"}
        assert keyed.post("/translate", data={**form, "api_key": "sesame"}).status_code == 200
        assert keyed.post("/translate", data=form, headers={"X-API-Key": "sesame"}).status_code == 200
        assert keyed.get("/languages", params={"api_key": "sesame"}).status_code == 200
        assert keyed.get("/languages").status_code == 403
        assert keyed.get("/frontend/settings").json()["keyRequired"] is True
