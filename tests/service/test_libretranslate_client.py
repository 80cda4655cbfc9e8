"""The real ``libretranslatepy`` client, and raw JSON requests, against a running ``translator-serve`` process.

The server runs the shipped de-en and en-de models plus a tiny en-fr model (so de->fr is reachable
only through English), with an API key, in a uvicorn subprocess on a free loopback port.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from libretranslatepy import LibreTranslateAPI

from tests.service.server_process import ROOT, ServerProcess
API_KEY = "lt-test-key"
PARAGRAPH = "Ein Mann fährt Fahrrad. Eine Frau liest ein Buch im Park.\nZwei Kinder spielen Fußball im Schnee."


@pytest.fixture(scope="module")
def server(tmp_path_factory, language_models_root) -> str:
    """``translator-serve`` in a subprocess with an API key; its base URL once /ready answers 200."""
    models = [ROOT / "models/de-en", ROOT / "models/en-de", language_models_root / "en-fr"]
    arguments = [argument for model in models for argument in ("--model-dir", str(model))]
    with ServerProcess(tmp_path_factory.mktemp("lt-server"), args=arguments, TRANSLATOR_API_KEY=API_KEY) as server:
        yield server.url


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.parametrize("base_path", ["", "/libretranslate"])
def test_libretranslatepy_translates_a_paragraph_keeping_every_sentence_and_the_line_break(server, base_path):
    client = LibreTranslateAPI(server + base_path, api_key=API_KEY)
    translation = client.translate(PARAGRAPH, "de", "en")
    first_line, second_line = translation.split("\n")
    assert "man" in first_line and "woman" in first_line and "book" in first_line
    assert "children" in second_line.lower() and "snow" in second_line
    assert client.translate("Zwei Hunde spielen im Schnee.", "auto", "en") == client.translate(
        "Zwei Hunde spielen im Schnee.", "de", "en")


def test_libretranslatepy_lists_languages_with_pivoted_targets(server):
    languages = LibreTranslateAPI(server, api_key=API_KEY).languages()
    assert {"code": "de", "name": "German", "targets": ["en", "fr"]} in languages
    assert {"code": "en", "name": "English", "targets": ["de", "fr"]} in languages


def test_libretranslatepy_detects_german_and_english(server):
    client = LibreTranslateAPI(server, api_key=API_KEY)
    assert client.detect("zwei hunde spielen im schnee")[0]["language"] == "de"
    assert client.detect("A WOMAN IS READING A BOOK.")[0]["language"] == "en"


def test_libretranslatepy_with_a_wrong_key_gets_403(server):
    with pytest.raises(urllib.error.HTTPError) as failure:
        LibreTranslateAPI(server, api_key="wrong").translate("Hallo", "de", "en")
    assert failure.value.code == 403 and json.load(failure.value) == {"error": "Invalid API key"}


def test_raw_json_with_a_list_in_q_and_source_auto(server):
    status, body = post_json(server + "/translate", {
        "q": ["Zwei Hunde spielen im Schnee.", "Ein Mann fährt Fahrrad."], "source": "auto", "target": "en",
        "format": "text", "alternatives": 2, "api_key": API_KEY,
    })
    assert status == 200
    assert len(body["translatedText"]) == 2 and "dogs" in body["translatedText"][0]
    assert [d["language"] for d in body["detectedLanguage"]] == ["de", "de"]
    assert len(body["alternatives"]) == 2 and all(len(a) <= 2 for a in body["alternatives"])


def test_raw_json_through_english_is_marked_pivoted(server):
    status, body = post_json(server + "/translate", {"q": "Zwei Hunde.", "source": "de", "target": "fr",
                                                     "api_key": API_KEY})
    assert status == 200 and body["pivot"] == "en" and isinstance(body["translatedText"], str)


def test_raw_json_html_keeps_the_tags(server):
    status, body = post_json(server + "/translate", {"q": "<p>Zwei Hunde spielen im Schnee.</p>\n<p><i>Hallo</i></p>",
                                                     "source": "de", "target": "en", "format": "html",
                                                     "api_key": API_KEY})
    assert status == 200
    assert re.fullmatch(r"<p>[^<>]*dogs[^<>]*</p>\n<p><i>[^<>]+</i></p>", body["translatedText"])


def test_a_sentence_cut_by_inline_tags_is_translated_whole_with_the_tags_around_their_words(server):
    sentence = 'Eine <b>Frau</b> und ein <b>Mann</b> sitzen auf einer <a href="#x">Bank</a>.'
    status, body = post_json(server + "/translate", {"q": f"<p>{sentence}</p>", "source": "de", "target": "en",
                                                     "format": "html", "api_key": API_KEY})
    _, plain = post_json(server + "/translate", {"q": re.sub("<[^>]+>", "", sentence), "source": "de",
                                                 "target": "en", "api_key": API_KEY})
    assert status == 200
    assert re.sub("<[^>]+>", "", body["translatedText"]) == plain["translatedText"]  # one sentence, not five pieces
    assert re.findall("<[^>]+>", body["translatedText"]) == ["<p>", "<b>", "</b>", "<b>", "</b>", '<a href="#x">',
                                                              "</a>", "</p>"]
    assert "<b>woman</b>" in body["translatedText"] and "<b>man</b>" in body["translatedText"]
    assert '<a href="#x">bench</a>' in body["translatedText"]


def test_raw_json_errors_use_libretranslate_shape(server):
    status, body = post_json(server + "/translate", {"q": "Hallo", "source": "de", "target": "en",
                                                     "format": "markdown", "api_key": API_KEY})
    assert status == 400 and "markdown format is not supported" in body["error"]
