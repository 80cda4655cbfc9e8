"""POST /translate builds the library's SearchOptions: max_output_ratio is exposed, validated and applied."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from translator.search.options import DEFAULT_SEARCH


class Recording:
    """A model's translator that records the SearchOptions of every batch it searches (and then searches)."""

    def __init__(self, translator, seen: list) -> None:
        self.translator, self.seen = translator, seen

    def __getattr__(self, name: str):
        return getattr(self.translator, name)

    def translate_ids(self, batch, options, step_hook=None, terms=None):
        self.seen.append(options)
        return self.translator.translate_ids(batch, options, step_hook)


@pytest.fixture(scope="module")
def recorded(make_settings):
    """A client whose models record the SearchOptions each model call searches with."""
    seen = []
    with TestClient(create_app(make_settings())) as client:
        for model in client.app.state.service.registry.models:
            model.translator = Recording(model.translator, seen)
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
