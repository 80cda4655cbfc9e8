"""Scheduling across requests: cancelled work stops, cheap requests overtake expensive ones, fair batches."""

from __future__ import annotations

import asyncio
import time

from service.app import create_app


def metric(app, name: str) -> float:
    return app.state.service.metrics.registry.get_sample_value(name) or 0.0


def long_texts_are_slow(text: str) -> int:
    return 2000 if text.startswith("long") else 3


def test_a_timed_out_request_stops_costing_compute(make_settings, serving, stepwise_model):
    app = create_app(make_settings(request_timeout_s=0.5))
    model = stepwise_model(long_texts_are_slow)

    async def scenario():
        async with serving(app) as client:
            model.install(app)
            response = await client.post("/translate", json={"texts": ["long 1", "long 2"]})
            timed_out_at = time.monotonic()
            while metric(app, "translator_worker_busy") and time.monotonic() - timed_out_at < 5:
                await asyncio.sleep(0.01)
            return response, time.monotonic() - timed_out_at

    response, idle_after = asyncio.run(scenario())
    assert response.status_code == 504
    assert idle_after < 1.0
    assert model.steps_done["long 1"] < 200  # 0.5 s of 10 ms steps, not the 2000 it would take
    assert metric(app, "translator_cancelled_sentences_total") == 2


def test_a_cancelled_request_leaves_a_shared_batch_and_the_others_finish(make_settings, serving, stepwise_model):
    app = create_app(make_settings(batch_window_ms=200))
    model = stepwise_model(lambda text: 2000 if text.startswith("long") else 100)

    async def scenario():
        async with serving(app) as client:
            model.install(app)
            doomed = asyncio.create_task(client.post("/translate", json={"text": "long"}))
            kept = asyncio.create_task(client.post("/translate", json={"text": "short"}))
            await asyncio.sleep(0.4)
            doomed.cancel()  # what the server sees when the handler is cancelled
            return await kept

    kept = asyncio.run(scenario())
    assert kept.status_code == 200 and kept.json()["translations"][0]["text"] == "<short>"
    assert model.calls == [["long", "short"]]  # they did share the batch
    assert model.steps_done["long"] < 100 and "long" not in model.finished


def test_a_cheap_request_overtakes_a_long_batch(make_settings, serving, stepwise_model):
    app = create_app(make_settings(batch_slice_ms=100))
    model = stepwise_model(lambda text: 150 if text.startswith("long") else 3)

    async def scenario():
        async with serving(app) as client:
            model.install(app)
            long = asyncio.create_task(client.post("/translate", json={"text": "long", "beam_size": 4}))
            await asyncio.sleep(0.2)  # the long batch is running
            cheap = await client.post("/translate", json={"text": "cheap", "beam_size": 1})
            long_done_then = long.done()
            return cheap, long_done_then, await long

    cheap, long_done_then, long = asyncio.run(scenario())
    assert cheap.status_code == 200 and long.status_code == 200
    assert not long_done_then
    assert model.finished == ["cheap", "long"]
    assert metric(app, "translator_preemptions_total") >= 1


def test_expensive_requests_do_not_overtake_each_other(make_settings, serving, stepwise_model):
    app = create_app(make_settings(batch_slice_ms=50))
    model = stepwise_model(lambda text: 60)

    async def scenario():
        async with serving(app) as client:
            model.install(app)
            first = asyncio.create_task(client.post("/translate", json={"text": "first", "beam_size": 4}))
            await asyncio.sleep(0.2)
            second = asyncio.create_task(client.post("/translate", json={"text": "second", "beam_size": 4}))
            return await first, await second

    first, second = asyncio.run(scenario())
    assert first.status_code == second.status_code == 200
    assert model.finished == ["first", "second"]
    assert metric(app, "translator_preemptions_total") == 0


def test_batches_take_sentences_round_robin_across_requests(make_settings, serving, stepwise_model):
    app = create_app(make_settings(batch_max_sentences=4, batch_slice_ms=60_000))
    model = stepwise_model(lambda text: 40 if text == "first" else 1)

    async def scenario():
        async with serving(app) as client:
            model.install(app)
            first = asyncio.create_task(client.post("/translate", json={"text": "first"}))
            await asyncio.sleep(0.1)  # the worker is busy with "first"; the next two wait together
            big = asyncio.create_task(client.post("/translate", json={"texts": [f"big {i}" for i in range(8)]}))
            await asyncio.sleep(0.05)
            small = asyncio.create_task(client.post("/translate", json={"text": "small"}))
            return await first, await big, await small

    first, big, small = asyncio.run(scenario())
    assert first.status_code == big.status_code == small.status_code == 200
    assert [t["text"] for t in big.json()["translations"]] == [f"<big {i}>" for i in range(8)]
    assert model.calls[1] == ["big 0", "small", "big 1", "big 2"]
