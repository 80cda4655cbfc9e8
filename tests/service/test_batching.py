"""Batching across requests, load shedding, timeouts, and a responsive event loop during model work."""

from __future__ import annotations

import asyncio
import time

from service.app import create_app


def histogram_sum_and_count(app, name: str) -> tuple[float, float]:
    """(sum, count) of a histogram in the app's own metrics registry."""
    registry = app.state.service.metrics.registry
    return registry.get_sample_value(f"{name}_sum"), registry.get_sample_value(f"{name}_count")


def test_concurrent_requests_are_merged_into_one_model_call(make_settings, serving, fake_model):
    app = create_app(make_settings(batch_window_ms=300))
    texts = [f"a {symbol}" for symbol in "abcdefgh"]

    async def scenario():
        async with serving(app) as client:
            fake = fake_model()
            fake.install(app)
            responses = await asyncio.gather(*(client.post("/translate", json={"text": t}) for t in texts))
            return fake, responses

    fake, responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200] * len(texts)
    assert [r.json()["translations"][0]["text"] for r in responses] == [f"<{t}>" for t in texts]
    assert len(fake.calls) == 1 and sorted(fake.calls[0]) == sorted(texts)
    assert histogram_sum_and_count(app, "translator_batch_requests") == (len(texts), 1)
    assert histogram_sum_and_count(app, "translator_batch_sentences") == (len(texts), 1)


def test_each_request_gets_its_own_slice_of_a_merged_batch(make_settings, serving, fake_model):
    app = create_app(make_settings(batch_window_ms=300))
    requests = [["a", "b", "c"], ["d"], ["", "e f"], ["g", "h", "a b", "c d"]]

    async def scenario():
        async with serving(app) as client:
            fake = fake_model()
            fake.install(app)
            responses = await asyncio.gather(*(client.post("/translate", json={"texts": t}) for t in requests))
            return fake, responses

    fake, responses = asyncio.run(scenario())
    assert len(fake.calls) == 1
    for texts, response in zip(requests, responses):
        # An empty text has no sentence: it is answered without the model.
        assert [t["text"] for t in response.json()["translations"]] == [f"<{t}>" if t else "" for t in texts]


def test_requests_with_different_search_options_are_not_merged(make_settings, serving, fake_model):
    app = create_app(make_settings(batch_window_ms=300))
    bodies = [{"text": f"a {i}", "beam_size": 2 if i % 2 else 3} for i in range(6)]

    async def scenario():
        async with serving(app) as client:
            fake = fake_model()
            fake.install(app)
            responses = await asyncio.gather(*(client.post("/translate", json=b) for b in bodies))
            return fake, responses

    fake, responses = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in responses)
    assert sorted(len(call) for call in fake.calls) == [3, 3]
    assert {frozenset(call) for call in fake.calls} == {
        frozenset(b["text"] for b in bodies if b["beam_size"] == 2),
        frozenset(b["text"] for b in bodies if b["beam_size"] == 3),
    }


def test_merged_batches_translate_like_separate_requests_on_the_real_model(make_settings, serving):
    app = create_app(make_settings(batch_window_ms=300))
    texts = ["a b c", "d e", "f g h a", "b"]

    async def scenario():
        async with serving(app) as client:
            merged = await asyncio.gather(*(client.post("/translate", json={"text": t, "beam_size": 2}) for t in texts))
            alone = [await client.post("/translate", json={"text": t, "beam_size": 2}) for t in texts]
            return merged, alone

    merged, alone = asyncio.run(scenario())
    assert [r.json()["translations"] for r in merged] == [r.json()["translations"] for r in alone]


def test_health_answers_while_the_model_is_busy(make_settings, serving, fake_model):
    app = create_app(make_settings())

    async def scenario():
        async with serving(app) as client:
            fake = fake_model(block=True)
            fake.install(app)
            translation = asyncio.create_task(client.post("/translate", json={"text": "a"}))
            await asyncio.to_thread(fake.started.wait, 5)
            started = time.perf_counter()
            health = await client.get("/health")
            health_seconds = time.perf_counter() - started
            still_translating = not translation.done()
            fake.release.set()
            return health, health_seconds, still_translating, await translation

    health, health_seconds, still_translating, translation = asyncio.run(scenario())
    assert health.status_code == 200 and still_translating
    assert health_seconds < 1.0
    assert translation.status_code == 200


def test_a_full_queue_answers_503_with_retry_after(make_settings, serving, fake_model):
    app = create_app(make_settings(queue_max_sentences=4, max_texts=4, retry_after_s=7))

    async def scenario():
        async with serving(app) as client:
            fake = fake_model(block=True)
            fake.install(app)
            first = asyncio.create_task(client.post("/translate", json={"texts": ["a", "b", "c", "d"]}))
            await asyncio.to_thread(fake.started.wait, 5)
            rejected = await client.post("/translate", json={"text": "e"})
            fake.release.set()
            return await first, rejected, await client.post("/translate", json={"text": "e"})

    first, rejected, later = asyncio.run(scenario())
    assert first.status_code == 200
    assert rejected.status_code == 503
    assert rejected.headers["retry-after"] == "7"
    assert "overloaded" in rejected.json()["detail"] and "queue_max_sentences" in rejected.json()["detail"]
    assert later.status_code == 200  # shedding load is temporary
    assert app.state.service.metrics.registry.get_sample_value(
        "translator_errors_total", {"kind": "overloaded"}) == 1


def test_a_request_that_waits_too_long_gets_504_naming_the_timeout(make_settings, serving, fake_model):
    app = create_app(make_settings(request_timeout_s=0.2))

    async def scenario():
        async with serving(app) as client:
            fake = fake_model(block=True)
            fake.install(app)
            blocked = asyncio.create_task(client.post("/translate", json={"text": "a"}))
            await asyncio.to_thread(fake.started.wait, 5)
            queued = await client.post("/translate", json={"text": "b"})
            fake.release.set()
            first = await blocked
            after = await client.post("/translate", json={"text": "c"})
            return first, queued, after, fake

    first, queued, after, fake = asyncio.run(scenario())
    assert first.status_code == 504 and queued.status_code == 504
    assert "0.2 s" in queued.json()["detail"] and "request_timeout_s" in queued.json()["detail"]
    assert after.status_code == 200
    assert ["b"] not in fake.calls  # a request that gave up waiting is not translated for nobody


def test_one_failing_request_does_not_fail_the_requests_merged_with_it(make_settings, serving, fake_model):
    app = create_app(make_settings(batch_window_ms=300))

    async def scenario():
        async with serving(app) as client:
            fake_model(fail_on="bad").install(app)
            return await asyncio.gather(*(client.post("/translate", json={"text": t}) for t in ["a", "bad", "b"]))

    good, bad, other = asyncio.run(scenario())
    assert (good.status_code, bad.status_code, other.status_code) == (200, 422, 200)
    assert good.json()["translations"][0]["text"] == "<a>"
