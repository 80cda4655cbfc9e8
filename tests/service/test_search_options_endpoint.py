"""POST /translate builds the library's SearchOptions: max_output_ratio is exposed, validated and applied."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from translator.search.options import DEFAULT_SEARCH, FIELD_NAMES


@pytest.fixture(scope="module")
def recorded(make_settings):
    """A client whose models record the SearchOptions each model call searches with (and then search)."""
    seen = []
    with TestClient(create_app(make_settings())) as client:
        for model in client.app.state.service.registry.models:
            def record(texts, options=None, *, _real=model.translator.translate_detailed, **keywords):
                search = {k: v for k, v in keywords.items() if k in FIELD_NAMES}
                seen.append((options or DEFAULT_SEARCH).updated(**search))
                return _real(texts, options, **keywords)

            model.translator.translate_detailed = record
        yield client, seen


def test_max_output_ratio_reaches_the_search(recorded):
    client, seen = recorded
    response = client.post("/translate", json={"text": "a b c", "model": "xx-yy", "max_output_ratio": 0.5})
    assert response.status_code == 200
    assert seen[-1].max_output_ratio == 0.5


def test_a_request_that_sets_no_option_searches_with_the_library_defaults(recorded):
    client, seen = recorded
    assert client.post("/translate", json={"text": "a b c", "model": "xx-yy"}).status_code == 200
    assert seen[-1] == DEFAULT_SEARCH


@pytest.mark.parametrize("ratio", [0, -1, 10.5, "2", True])
def test_an_out_of_range_or_mistyped_max_output_ratio_is_422_naming_it(client, ratio):
    response = client.post("/translate", json={"text": "a", "model": "xx-yy", "max_output_ratio": ratio})
    assert response.status_code == 422
    assert "max_output_ratio" in response.text
