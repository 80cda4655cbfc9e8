"""Property test: whatever a client sends to /translate, the answer is never a 5xx.

Hypothesis builds request bodies around the real fields (right and wrong types, odd numbers, odd
Unicode, unknown keys) and raw byte bodies; every answer must be below 500, JSON, and either a
translation per text or an error with a message.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from service.app import create_app

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
texts = st.text(max_size=50) | st.sampled_from(["", " ", "a b c", "\ud800", "😀", "e\u0301", "\x00", "שלום"])
languages = st.sampled_from(["xx", "yy", "XX", " xx ", "", "de"]) | st.text(max_size=6)

FIELDS = {
    "text": texts | json_values,
    "texts": st.lists(texts, max_size=6) | json_values,
    "source_lang": languages | json_values,
    "target_lang": languages | json_values,
    "model": st.sampled_from(["xx-yy", "yy-xx", ""]) | json_values,
    "beam_size": st.integers(-3, 8) | st.integers() | json_values,
    "n_best": st.integers(-1, 8) | json_values,
    "max_output_length": st.integers(-1, 40) | st.integers() | json_values,
    "length_penalty": st.floats() | json_values,
    "return_scores": st.booleans() | json_values,
    "return_attention": st.booleans() | json_values,
}

# Anything goes: each field may be present with a right or wrong value, plus unknown keys.
wild_bodies = st.fixed_dictionaries({}, optional=FIELDS).flatmap(
    lambda body: st.dictionaries(st.text(max_size=8), json_values, max_size=2).map(lambda extra: {**extra, **body})
)
# Mostly right, so that the translation path itself is explored, not only validation.
valid_bodies = st.builds(
    lambda content, pair, options: {**content, **pair, **options},
    st.fixed_dictionaries({"text": texts}) | st.fixed_dictionaries({"texts": st.lists(texts, min_size=1, max_size=5)}),
    st.sampled_from([{}, {"source_lang": "xx", "target_lang": "yy"}, {"source_lang": " XX", "target_lang": "yY"},
                     {"model": "xx-yy"}]),
    st.fixed_dictionaries({}, optional={
        "beam_size": st.integers(1, 4), "n_best": st.integers(1, 2), "max_output_length": st.integers(1, 12),
        "length_penalty": st.floats(0, 10), "return_scores": st.booleans(), "return_attention": st.booleans(),
    }),
)
request_bodies = valid_bodies | wild_bodies


@pytest.fixture(scope="module")
def fuzz_client(make_settings) -> TestClient:
    """Small limits and short outputs keep each example fast on the tiny model."""
    settings = make_settings(max_texts=5, max_text_chars=40, max_total_chars=120, max_beam_size=4,
                             max_output_length=12, max_body_bytes=4000, batch_window_ms=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def assert_sane(response) -> None:
    assert response.status_code < 500, response.text
    event(f"status {response.status_code}")  # shown by --hypothesis-show-statistics
    body = response.json()
    # A body with "q" is a LibreTranslate request (POST /translate serves both shapes), answered in
    # LibreTranslate's shape: {"translatedText": ...} or {"error": message}.
    if response.status_code == 200 and "translatedText" in body:
        assert isinstance(body["translatedText"], (str, list))
    elif response.status_code == 200:
        assert all(isinstance(t["text"], str) for t in body["translations"])
    else:
        message = body.get("detail", body.get("error"))
        assert isinstance(message, str) and message


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=request_bodies)
def test_no_json_request_body_gets_a_5xx(fuzz_client, body):
    response = fuzz_client.post("/translate", content=json.dumps(body).encode("utf-8", "surrogatepass"),
                                headers={"content-type": "application/json"})
    assert_sane(response)
    if response.status_code == 200 and "translations" in response.json():
        sent = [body["text"]] if body.get("text") is not None else body["texts"]  # "text": null is absent
        assert len(response.json()["translations"]) == len(sent)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
       content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; charset=latin-1"]))
def test_no_raw_body_gets_a_5xx(fuzz_client, raw, content_type):
    headers = {"content-type": content_type} if content_type else {}
    assert_sane(fuzz_client.post("/translate", content=raw, headers=headers))
