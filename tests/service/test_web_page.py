"""The web page at / and its static files, served by the app itself (the browser test drives it)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from service.app import create_app
from service.api.page import CONTENT_SECURITY_POLICY, STATIC_DIR


def test_root_serves_the_page_with_a_same_origin_content_security_policy(client):
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    page = answer.text
    assert '<script type="module" src="/static/app.js">' in page
    assert '<link rel="stylesheet" href="/static/style.css">' in page
    assert "http://" not in page and "https://" not in page  # nothing from a CDN


def test_the_page_script_and_stylesheet_are_served_with_their_types(client):
    script = client.get("/static/app.js")
    style = client.get("/static/style.css")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert script.text == (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    assert "fetch(" in script.text and "/translate" in script.text
    attention = client.get("/static/attention.js")  # imported by app.js as an ES module
    assert attention.status_code == 200 and "javascript" in attention.headers["content-type"]
    assert 'from "./attention.js"' in script.text


def test_a_missing_static_file_is_a_json_404(client):
    answer = client.get("/static/nothing.js")
    assert answer.status_code == 404
    assert "detail" in answer.json()


def test_every_control_of_the_page_has_a_label():
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    controls = re.findall(r"<(?:select|textarea|input)\b[^>]*\bid=\"([^\"]+)\"", page)
    labelled = set(re.findall(r"<label[^>]*\bfor=\"([^\"]+)\"", page))
    assert controls and set(controls) <= labelled


def test_the_page_is_not_part_of_the_api_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(path.startswith("/static") for path in paths)


def test_the_page_says_whether_the_server_wants_an_api_key(client, make_settings):
    assert '<meta name="translator-api-key" content="optional">' in client.get("/").text
    with TestClient(create_app(make_settings(api_key="secret"))) as keyed:
        page = keyed.get("/")  # the page itself needs no key
        assert page.status_code == 200
        assert '<meta name="translator-api-key" content="required">' in page.text
        assert "secret" not in page.text
