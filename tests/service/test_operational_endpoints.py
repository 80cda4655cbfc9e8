"""GET /models, /health, /ready, /metrics and the OpenAPI docs."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from service.app import create_app
from service.scheduling.registry import ModelRegistry


def test_models_lists_languages_version_device_scores_and_domain(make_settings, tiny_model_dir, second_model_dir):
    with TestClient(create_app(make_settings(model_dirs=[tiny_model_dir, second_model_dir]))) as client:
        models = client.get("/models").json()["models"]
    assert [(m["name"], m["source_lang"], m["target_lang"]) for m in models] == [
        ("xx-yy", "xx", "yy"), ("yy-xx", "yy", "xx")]
    assert models[0]["device"] == "cpu" and models[0]["dtype"] == "float32"
    assert models[0]["version"].startswith("sha256:") and models[0]["library_version"]
    assert models[0]["scores"] == {}
    assert models[1]["scores"] == {"validation": {"valid_bleu": 12.5}}
    assert models[0]["domain"] is None
    assert models[1]["domain"]["description"] == "symbol strings"
    assert models[1]["domain"]["out_of_domain_examples"][0]["source"] == "Wie spät ist es?"
    assert models[0]["case_restoration"] is False


def test_health_reports_ok(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_turns_200_after_the_warm_up_translation(make_settings, serving):
    app = create_app(make_settings(warmup=True))

    async def run():
        async with serving(app) as client:
            for _ in range(500):
                ready = await client.get("/ready")
                if ready.status_code == 200:
                    return ready
                await asyncio.sleep(0.01)
            return ready

    ready = asyncio.run(run())
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert app.state.service.metrics.registry.get_sample_value("translator_sentences_total", {"model": "xx-yy"}) == 1


def test_ready_is_503_while_the_warm_up_is_still_running(make_settings, serving, fake_model, monkeypatch):
    fake = fake_model(block=True)
    monkeypatch.setattr("service.app.load_registry", lambda settings: ModelRegistry([fake.loaded()]))
    app = create_app(make_settings(warmup=True))

    async def run():
        async with serving(app) as client:
            await asyncio.to_thread(fake.started.wait, 5)
            waiting = await client.get("/ready")
            health = await client.get("/health")
            fake.release.set()
            for _ in range(200):
                ready = await client.get("/ready")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.01)
            return waiting, health, ready

    waiting, health, ready = asyncio.run(run())
    assert waiting.status_code == 503 and "warming up" in waiting.json()["detail"]
    assert health.status_code == 200
    assert ready.status_code == 200
    assert fake.calls == [["warm up"]]


def test_metrics_count_requests_errors_batches_and_tokens(make_settings):
    with TestClient(create_app(make_settings())) as client:
        client.post("/translate", json={"texts": ["a b", "c"]})
        client.post("/translate", json={"text": "a", "model": "nope"})
        text = client.get("/metrics").text
    assert 'translator_http_requests_total{method="POST",route="/translate",status="200"} 1.0' in text
    assert 'translator_http_requests_total{method="POST",route="/translate",status="404"} 1.0' in text
    assert 'translator_errors_total{kind="not_found"} 1.0' in text
    assert "translator_http_request_duration_seconds_bucket" in text
    assert "translator_batch_sentences_sum 2.0" in text
    assert "translator_queue_sentences 0.0" in text
    assert 'translator_sentences_total{model="xx-yy"} 2.0' in text
    tokens = [line for line in text.splitlines() if line.startswith('translator_source_tokens_total{model="xx-yy"}')]
    assert tokens and float(tokens[0].split()[-1]) >= 4  # "a b" and "c" plus an end-of-sentence each


def test_two_apps_in_one_process_keep_separate_metrics(make_settings):
    first, second = create_app(make_settings()), create_app(make_settings())
    with TestClient(first) as one, TestClient(second) as two:
        one.post("/translate", json={"text": "a"})
        assert 'route="/translate",status="200"} 1.0' in one.get("/metrics").text
        assert 'route="/translate"' not in two.get("/metrics").text


def test_openapi_page_documents_the_endpoints_with_examples(client):
    schema = client.get("/openapi.json").json()
    assert {"/translate", "/models", "/health", "/ready", "/metrics"} <= set(schema["paths"])
    examples = schema["paths"]["/translate"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert "one text" in examples
    assert client.get("/docs").status_code == 200
