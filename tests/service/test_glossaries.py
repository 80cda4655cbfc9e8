"""Glossaries over HTTP: named glossaries per API key (create, list, replace, delete; never another key's), inline
glossaries on /translate and the LibreTranslate endpoint, and a clear 4xx for every bad glossary."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from translator.glossary import MAX_ENTRIES, MAX_TERM_CHARS

from service.app import create_app
from tests.service.server_process import ServerProcess

FIRST, SECOND = {"X-API-Key": "key-one"}, {"X-API-Key": "key-two"}
TERMS = {"c": "h g", "d": None}


def written(term: str, text: str) -> bool:
    return f" {term} " in f" {text.rstrip('.')} "


@pytest.fixture(scope="module")
def client(make_settings, tmp_path_factory) -> TestClient:
    settings = make_settings(api_key="key-one,key-two", glossary_db=tmp_path_factory.mktemp("db") / "g.sqlite3",
                             max_glossaries=3)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_named_glossary_is_created_read_listed_replaced_and_deleted(client):
    assert client.put("/glossaries/legal", json=TERMS, headers=FIRST).status_code == 201
    assert client.get("/glossaries/legal", headers=FIRST).json() == {"name": "legal", "entries": TERMS}
    replaced = client.put("/glossaries/legal", json=[{"source": "c", "target": "e"}], headers=FIRST)
    assert replaced.status_code == 200 and replaced.json()["entries"] == {"c": "e"}
    listed = client.get("/glossaries", headers=FIRST).json()["glossaries"]
    assert [(g["name"], g["entries"]) for g in listed] == [("legal", 1)]
    assert client.delete("/glossaries/legal", headers=FIRST).status_code == 204
    assert client.get("/glossaries/legal", headers=FIRST).status_code == 404
    assert client.delete("/glossaries/legal", headers=FIRST).status_code == 404


def test_one_key_never_sees_another_keys_glossaries(client):
    client.put("/glossaries/mine", json={"c": "h"}, headers=FIRST)
    assert client.get("/glossaries", headers=SECOND).json() == {"glossaries": []}
    missing = client.get("/glossaries/mine", headers=SECOND)
    assert missing.status_code == 404 and "no glossary named 'mine' for this API key" in missing.json()["detail"]
    assert client.delete("/glossaries/mine", headers=SECOND).status_code == 404
    client.put("/glossaries/mine", json={"c": "e"}, headers=SECOND)
    assert client.get("/glossaries/mine", headers=FIRST).json()["entries"] == {"c": "h"}
    assert client.get("/glossaries/mine", headers=SECOND).json()["entries"] == {"c": "e"}
    text = {"text": "a c", "glossary_name": "mine"}
    assert written("h", client.post("/translate", json=text, headers=FIRST).json()["translations"][0]["text"])
    assert written("e", client.post("/translate", json=text, headers=SECOND).json()["translations"][0]["text"])
    assert client.get("/glossaries").status_code == 401
    assert client.get("/glossaries", headers={"X-API-Key": "key-three"}).status_code == 401


@pytest.mark.parametrize("body, message", [
    ({"": "x"}, "the source term is empty"),
    ({"c": "x" * (MAX_TERM_CHARS + 1)}, f"more than the limit of {MAX_TERM_CHARS}"),
    ([{"source": "c", "target": "h"}, {"source": "C", "target": "e"}], "'C' is given two targets"),
    ({f"t{i}": "h" for i in range(MAX_ENTRIES + 1)}, f"more than {MAX_ENTRIES} entries"),
    (["c"], "an entry is an object"),
    (42, "a glossary is an object"),
])
def test_a_bad_glossary_is_a_422_naming_what_is_wrong(client, body, message):
    for response in (client.put("/glossaries/bad", json=body, headers=FIRST),
                     client.post("/translate", json={"text": "a c", "glossary": body}, headers=FIRST)):
        assert response.status_code == 422, response.text
        assert message in str(response.json()["detail"])
    assert client.get("/glossaries/bad", headers=FIRST).status_code == 404


def test_names_and_counts_are_limited(client):
    assert client.put("/glossaries/no%20spaces", json=TERMS, headers=SECOND).status_code == 422
    for name in ("one", "two", "three"):
        client.put(f"/glossaries/{name}", json=TERMS, headers=SECOND)
    over = client.put("/glossaries/four", json=TERMS, headers=SECOND)
    assert over.status_code == 422 and "the limit (max_glossaries)" in over.json()["detail"]
    assert client.put("/glossaries/one", json={"c": "e"}, headers=SECOND).status_code == 200  # replacing is fine


def test_translate_writes_inline_terms_and_refuses_both_kinds_at_once(client):
    plain = client.post("/translate", json={"texts": ["a c b", "a b"]}, headers=FIRST).json()["translations"]
    steered = client.post("/translate", json={"texts": ["a c b", "a b"], "glossary": TERMS},
                          headers=FIRST).json()["translations"]
    assert written("h g", steered[0]["text"])
    assert steered[1] == plain[1]  # no term in it: translated as without the glossary
    both = client.post("/translate", json={"text": "a", "glossary": TERMS, "glossary_name": "x"}, headers=FIRST)
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    unknown = client.post("/translate", json={"text": "a", "glossary_name": "nope"}, headers=FIRST)
    assert unknown.status_code == 404


def test_libretranslate_takes_a_glossary_extension_field(client):
    answer = client.post("/translate", json={"q": "a c b", "source": "xx", "target": "yy", "api_key": "key-one",
                                             "glossary": {"c": "h g"}})
    assert answer.status_code == 200 and written("h g", answer.json()["translatedText"])
    form = client.post("/libretranslate/translate", data={"q": "a c b", "source": "xx", "target": "yy",
                                                          "api_key": "key-one", "glossary": '{"c": "h g"}'})
    assert written("h g", form.json()["translatedText"])
    bad = client.post("/translate", json={"q": "a c", "source": "xx", "target": "yy", "api_key": "key-one",
                                          "glossary": {"c": "h", "C": "e"}})
    assert bad.status_code == 400 and "given two targets" in bad.json()["error"]


def test_documents_take_a_glossary_inline_or_by_name_on_both_apis(client):
    document, languages = ("brief.txt", b"a c b\n\na b\n"), {"source_lang": "xx", "target_lang": "yy"}
    plain = client.post("/documents", files={"file": document}, data=languages, headers=FIRST).text.splitlines()
    inline = client.post("/documents", files={"file": document}, headers=FIRST,
                         data={**languages, "glossary": '{"c": "h g"}'}).text.splitlines()
    client.put("/glossaries/doc", json={"c": "e"}, headers=FIRST)
    named = client.post("/documents", files={"file": document}, headers=FIRST,
                        data={**languages, "glossary_name": "doc"}).text.splitlines()
    assert not written("h g", plain[0]) and written("h g", inline[0]) and written("e", named[0])
    assert inline[2] == named[2] == plain[2]  # no term in that paragraph: as without a glossary
    # LibreTranslate's file translation: the extension field holds the entries or a stored glossary's name.
    for glossary, term in (('{"c": "h g"}', "h g"), ("doc", "e")):
        answer = client.post("/translate_file", files={"file": document}, data={
            "source": "xx", "target": "yy", "api_key": "key-one", "glossary": glossary})
        assert answer.status_code == 200, answer.text
        download = client.get(answer.json()["translatedFileUrl"], params={"api_key": "key-one"})
        assert written(term, download.text.splitlines()[0])
    # Bad ones are refused before any translation: a glossary that is not JSON entries, both kinds, another
    # key's name.
    for data, status, message in (({"glossary": '{"c": "h", "C": "e"}'}, 422, "given two targets"),
                                  ({"glossary": '{"c": '}, 422, "not valid JSON"),
                                  ({"glossary": '{"c": "h"}', "glossary_name": "doc"}, 422, "not both")):
        refused = client.post("/documents/jobs", files={"file": document}, data={**languages, **data},
                              headers=FIRST)
        assert refused.status_code == status and message in refused.json()["detail"], refused.text
    stranger = client.post("/documents", files={"file": document}, data={**languages, "glossary_name": "doc"},
                           headers=SECOND)
    assert stranger.status_code == 404 and "no glossary named 'doc'" in stranger.json()["detail"]
    bad = client.post("/translate_file", files={"file": document}, data={
        "source": "xx", "target": "yy", "api_key": "key-one", "glossary": '{"c": "h", "C": "e"}'})
    assert bad.status_code == 400 and "given two targets" in bad.json()["error"]


def test_named_glossaries_survive_a_restart(tiny_model_dir, tmp_path):
    environment = dict(TRANSLATOR_API_KEY="key-one,key-two", TRANSLATOR_GLOSSARY_DB=str(tmp_path / "g.sqlite3"),
                       TRANSLATOR_WARMUP="false")
    with ServerProcess(tmp_path, tiny_model_dir, **environment) as server:
        assert httpx.put(server.url + "/glossaries/kept", json=TERMS, headers=FIRST).status_code == 201
    with ServerProcess(tmp_path, tiny_model_dir, **environment) as server:
        assert httpx.get(server.url + "/glossaries/kept", headers=FIRST).json()["entries"] == TERMS
        assert httpx.get(server.url + "/glossaries/kept", headers=SECOND).status_code == 404
        answer = httpx.post(server.url + "/translate", json={"text": "a c b", "glossary_name": "kept"},
                            headers=FIRST, timeout=60).json()
        assert written("h g", answer["translations"][0]["text"])
