"""Requests an attacker (or a broken client) sends, against a real translator-serve process: each is answered
with a JSON 4xx that says what is wrong, nothing in gives nothing out, and an unexpected error is a generic 500
whose traceback the server logs once.

The server runs the shipped de-en model (a real model, because an untrained one writes nothing for most input,
so it could not show invented text), with one fault planted for the last test: a text that is exactly
``FAULT`` makes the sentence splitter raise ``RuntimeError``, as a bug would.
"""

from __future__ import annotations

import os
import re

import httpx
import pytest

from tests.service.server_process import ROOT, ServerProcess

FAULT = "raise an unexpected error"
PLANTED_FAULT = f'''\
"""Loaded at the start of the test's server process: a planted bug for one input."""
import translator.text.segment as segment

_split_sentences = segment.split_sentences


def split_sentences(text, language):
    if text == {FAULT!r}:
        raise RuntimeError("planted fault")
    return _split_sentences(text, language)


segment.split_sentences = split_sentences
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    faults = tmp_path_factory.mktemp("faults")
    (faults / "sitecustomize.py").write_text(PLANTED_FAULT)
    with ServerProcess(tmp_path_factory.mktemp("hostile"), ROOT / "models" / "de-en",
                       PYTHONPATH=f"{faults}{os.pathsep}{ROOT}") as server:
        yield server


@pytest.fixture
def post(server):
    """POST raw bytes (JSON by default) to a path of the server; afterwards, the server must not have logged a
    traceback (the one test that expects one checks it itself)."""
    logged_before = server.log().count("Traceback")

    def send(path: str, body: bytes | str, content_type: str = "application/json") -> httpx.Response:
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        return httpx.post(server.url + path, content=data, headers={"content-type": content_type}, timeout=30)

    yield send
    assert server.log().count("Traceback") == logged_before, server.log()


def error_of(response: httpx.Response) -> str:
    """The message of a JSON error answer, in our shape ("detail") or LibreTranslate's ("error")."""
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    return body.get("detail") or body["error"]


def nested(depth: int, field: str) -> str:
    return f'{{"{field}": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [975, 100_000])
def test_json_nested_too_deeply_is_a_4xx_on_every_endpoint(post, depth):
    ours = post("/translate", nested(depth, "text"))
    assert ours.status_code == 422 and "nested too deeply" in error_of(ours)
    compatible = post("/libretranslate/translate", nested(depth, "q"))
    assert compatible.status_code == 400 and "nested too deeply" in error_of(compatible)
    detect = post("/detect", nested(depth, "q"))
    assert detect.status_code == 400 and "nested too deeply" in error_of(detect)
    # At the root the body cannot be read to tell LibreTranslate's shape from ours: our API answers it.
    root = post("/translate", nested(depth, "q"))
    assert root.status_code == 422 and "nested too deeply" in error_of(root)


@pytest.mark.parametrize("value", ["1e400", "-1e400", "NaN", '"1e400"'])
def test_alternatives_that_are_no_count_are_400(post, value):
    response = post("/translate", f'{{"q": "a b", "source": "de", "target": "en", "alternatives": {value}}}')
    assert response.status_code == 400 and "alternatives parameter is not a number" in error_of(response)


@pytest.mark.parametrize("path, body, name", [
    ("/detect", r'{"q": "Hund \ud800"}', "q"),
    ("/translate", r'{"q": "a b", "source": "de", "target": "en", "format": "\ud800"}', "format"),
    ("/translate", r'{"q": "a b", "source": "de\udfff", "target": "en"}', "source"),
    ("/translate", r'{"q": ["a b", "c \ud800"], "source": "de", "target": "en"}', "q"),
    ("/translate", r'{"q": "a b", "source": "de", "target": "en", "api_key": "\ud800"}', "api_key"),
])
def test_a_lone_surrogate_in_any_libretranslate_parameter_is_400_naming_it(post, path, body, name):
    response = post(path, body)
    assert response.status_code == 400
    assert f"{name} contains an unpaired surrogate" in error_of(response)


def test_detect_has_the_character_limit_of_a_text(post):
    response = post("/detect", f'{{"q": "{"a" * 5001}"}}')
    assert response.status_code == 400 and "5001 characters" in error_of(response)
    assert "max_text_chars" in error_of(response)


INVISIBLE = ["\u200b", "\x00\x00", "\ufeff", "\u200b\u200c\u200d\u2060", "\u00ad \x7f"]


@pytest.mark.parametrize("split", [True, False])
def test_only_invisible_characters_translate_to_nothing(server, split):
    response = httpx.post(server.url + "/translate", json={"texts": INVISIBLE, "split_sentences": split,
                                                           "source_lang": "de", "target_lang": "en"}, timeout=30)
    assert response.status_code == 200
    assert [t["text"] for t in response.json()["translations"]] == [""] * len(INVISIBLE)


def test_invisible_characters_add_no_sentence_to_a_text(server):
    def translate(text: str) -> dict:
        response = httpx.post(server.url + "/translate", json={"text": text, "source_lang": "de",
                                                               "target_lang": "en"}, timeout=30)
        assert response.status_code == 200
        return response.json()["translations"][0]

    plain = translate("Ein Hund läuft. Er bellt.")
    for text in ["Ein Hund läuft. Er bellt.\ufeff", "\ufeffEin Hund läuft.\u200b Er bellt.\x00"]:
        marked = translate(text)
        # The same two sentences, translated the same; the invisible characters stay where they were, between.
        assert [s["source"] for s in marked["sentences"]] == ["Ein Hund läuft.", "Er bellt."]
        assert [s["text"] for s in marked["sentences"]] == [s["text"] for s in plain["sentences"]]
        assert re.sub("[\ufeff\u200b\x00]", "", marked["text"]) == plain["text"]


def test_libretranslate_gives_nothing_for_invisible_input(server):
    for form in ({"q": "\u200b\ufeff", "source": "de", "target": "en"},
                 {"q": "<p>\u200b</p>", "source": "de", "target": "en", "format": "html"}):
        response = httpx.post(server.url + "/translate", json=form, timeout=30)
        assert response.status_code == 200
        assert re.sub("<[^>]+>", "", response.json()["translatedText"]) == ""


def test_an_unexpected_error_is_a_generic_500_logged_once_with_its_traceback(server):
    logged_before = server.log()
    response = httpx.post(server.url + "/translate", json={"text": FAULT}, timeout=30)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error; the server log has the details"}
    assert "planted fault" not in response.text
    # Everything the server logs about that request is in the log once a later request's line is there.
    httpx.get(server.url + "/health?after-the-fault", timeout=30)
    logged = server.log()[len(logged_before):]
    logged = logged[:logged.index("/health?after-the-fault")]
    assert logged.count("Traceback") == 1, logged
    assert logged.count("RuntimeError: planted fault") == 1
    assert "unhandled error while serving POST /translate" in logged
