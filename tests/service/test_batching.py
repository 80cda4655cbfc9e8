"""Batching across requests, load shedding, timeouts, and a responsive event loop during model work.

Batching windows are timed on a clock the test moves (:class:`~tests.service.scheduling_fakes.FakeClock`):
that requests arrived within one window is something the test arranges, not a race it hopes to win.
"""

from __future__ import annotations

import asyncio

from service.app import create_app
from service.ops.metrics import ServiceMetrics
from service.scheduling.queue import BatchingQueue
from service.scheduling.registry import LoadedModel
from translator.search.options import SearchOptions
from translator.translate import Translator

from tests.service.scheduling_fakes import (STEP_S, FakeClock, StepwiseTranslator, eventually, run_scenario, running,
                                            waiting)

WINDOW_S = 0.25


def histogram_sum_and_count(app, name: str) -> tuple[float, float]:
    """(sum, count) of a histogram in the app's own metrics registry."""
    registry = app.state.service.metrics.registry
    return registry.get_sample_value(f"{name}_sum"), registry.get_sample_value(f"{name}_count")


def app_on(clock: FakeClock, make_settings, **settings):
    """An app whose batching window (``WINDOW_S``) is timed by ``clock``."""
    return create_app(make_settings(batch_window_ms=WINDOW_S * 1000, **settings), clock=clock)


async def close_window(queue: BatchingQueue, clock: FakeClock, sentences: int) -> None:
    """Once ``sentences`` sentences wait in the worker's batching window, let the window pass."""
    await eventually(lambda: waiting(queue) == sentences and clock.sleepers == 1,
                     f"{sentences} sentences wait in the batching window")
    clock.advance(WINDOW_S)


def test_requests_within_the_window_share_a_model_call_and_later_ones_wait_for_the_next():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 1)
    queue = BatchingQueue(ServiceMetrics(), window_s=WINDOW_S, clock=clock)
    opened_at = clock.now()

    async def scenario():
        async with running(queue):
            first = asyncio.create_task(queue.submit(model.loaded(), SearchOptions(), ["a"]))
            await eventually(lambda: clock.sleepers == 1, "the worker opened the window")
            clock.advance(WINDOW_S - STEP_S)
            second = asyncio.create_task(queue.submit(model.loaded(), SearchOptions(), ["b"]))
            await eventually(lambda: waiting(queue) == 2, "both requests wait")
            called_before_the_window_ended = list(model.calls)
            clock.advance(STEP_S)
            await asyncio.gather(first, second)
            third = asyncio.create_task(queue.submit(model.loaded(), SearchOptions(), ["c"]))
            await close_window(queue, clock, 1)
            return called_before_the_window_ended, await third

    called_before_the_window_ended, third = run_scenario(scenario())
    assert called_before_the_window_ended == []
    assert model.calls == [["a", "b"], ["c"]]
    assert model.called_at[0] == opened_at + WINDOW_S  # the window counts from the first request's arrival
    assert [translation.text for translation in third] == ["<c>"]


def test_a_full_batch_does_not_wait_for_the_window():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 1)
    queue = BatchingQueue(ServiceMetrics(), window_s=60.0, max_sentences=2, clock=clock)
    opened_at = clock.now()

    async def scenario():
        async with running(queue):
            return await asyncio.gather(*(queue.submit(model.loaded(), SearchOptions(), [text]) for text in "ab"))

    run_scenario(scenario())
    assert model.calls == [["a", "b"]] and model.called_at == [opened_at]


def test_a_batch_holds_at_most_max_tokens_source_pieces():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 1)
    queue = BatchingQueue(ServiceMetrics(), window_s=0.0, max_tokens=6, clock=clock)

    async def scenario():
        async with running(queue):
            return await queue.submit(model.loaded(), SearchOptions(), ["a b", "c d", "e f"])  # 2 pieces + eos each

    run_scenario(scenario())
    assert model.calls == [["a b", "c d"], ["e f"]]


def test_a_batchs_token_budget_counts_padding_to_its_longest_sentence():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 1)
    queue = BatchingQueue(ServiceMetrics(), window_s=0.0, max_tokens=10, clock=clock)

    async def scenario():
        async with running(queue):
            return await queue.submit(model.loaded(), SearchOptions(), ["a b c d", "e", "f"])

    run_scenario(scenario())
    assert model.calls == [["a b c d", "e"], ["f"]]  # 2 x (4 + 1) fits in 10 positions, 3 x (4 + 1) does not


def test_each_sentence_is_tokenized_once_however_the_batches_fall(tiny_model_dir, monkeypatch):
    translator = Translator.from_pretrained(tiny_model_dir, device="cpu")
    encoded = []
    encode = translator.source_tokenizer.encode
    monkeypatch.setattr(translator.source_tokenizer, "encode",
                        lambda texts: encoded.append(list(texts)) or encode(texts))
    model = LoadedModel("xx-yy", "xx", "yy", "v1", translator)
    queue = BatchingQueue(ServiceMetrics(), window_s=0.0, max_sentences=2)
    texts = ["a b c", "d e", "f g h a", "b"]

    async def scenario():
        async with running(queue):
            return await queue.submit(model, SearchOptions(beam_size=2), texts)

    results = run_scenario(scenario())
    assert encoded == [texts]
    assert queue.metrics.registry.get_sample_value("translator_batch_sentences_count") == 2
    assert [result.text for result in results] == translator.translate(texts, beam_size=2)


def test_concurrent_requests_are_merged_into_one_model_call(make_settings, serving, fake_model):
    clock = FakeClock()
    app = app_on(clock, make_settings)
    texts = [f"a {symbol}" for symbol in "abcdefgh"]

    async def scenario():
        async with serving(app) as client:
            fake = fake_model()
            fake.install(app)
            responses = asyncio.gather(*(client.post("/translate", json={"text": t}) for t in texts))
            await close_window(app.state.service.queue, clock, len(texts))
            return fake, await responses

    fake, responses = run_scenario(scenario())
    assert [r.status_code for r in responses] == [200] * len(texts)
    assert [r.json()["translations"][0]["text"] for r in responses] == [f"<{t}>" for t in texts]
    assert len(fake.calls) == 1 and sorted(fake.calls[0]) == sorted(texts)
    assert histogram_sum_and_count(app, "translator_batch_requests") == (len(texts), 1)
    assert histogram_sum_and_count(app, "translator_batch_sentences") == (len(texts), 1)


def test_each_request_gets_its_own_slice_of_a_merged_batch(make_settings, serving, fake_model):
    clock = FakeClock()
    app = app_on(clock, make_settings)
    requests = [["a", "b", "c"], ["d"], ["", "e f"], ["g", "h", "a b", "c d"]]

    async def scenario():
        async with serving(app) as client:
            fake = fake_model()
            fake.install(app)
            responses = asyncio.gather(*(client.post("/translate", json={"texts": t}) for t in requests))
            await close_window(app.state.service.queue, clock, 9)  # the empty text has no sentence
            return fake, await responses

    fake, responses = run_scenario(scenario())
    assert len(fake.calls) == 1
    for texts, response in zip(requests, responses):
        # An empty text has no sentence: it is answered without the model.
        assert [t["text"] for t in response.json()["translations"]] == [f"<{t}>" if t else "" for t in texts]


def test_requests_with_different_search_options_are_not_merged(make_settings, serving, fake_model):
    clock = FakeClock()
    app = app_on(clock, make_settings)
    bodies = [{"text": f"a {i}", "beam_size": 2 if i % 2 else 3} for i in range(6)]

    async def scenario():
        async with serving(app) as client:
            fake = fake_model()
            fake.install(app)
            responses = asyncio.gather(*(client.post("/translate", json=b) for b in bodies))
            await close_window(app.state.service.queue, clock, 6)
            await close_window(app.state.service.queue, clock, 3)  # the other options wait for the next batch
            return fake, await responses

    fake, responses = run_scenario(scenario())
    assert all(r.status_code == 200 for r in responses)
    assert sorted(len(call) for call in fake.calls) == [3, 3]
    assert {frozenset(call) for call in fake.calls} == {
        frozenset(b["text"] for b in bodies if b["beam_size"] == 2),
        frozenset(b["text"] for b in bodies if b["beam_size"] == 3),
    }


def test_merged_batches_translate_like_separate_requests_on_the_real_model(make_settings, serving):
    clock = FakeClock()
    app = app_on(clock, make_settings)
    texts = ["a b c", "d e", "f g h a", "b"]

    async def scenario():
        async with serving(app) as client:
            queue = app.state.service.queue
            merged = asyncio.gather(*(client.post("/translate", json={"text": t, "beam_size": 2}) for t in texts))
            await close_window(queue, clock, len(texts))
            merged = await merged
            alone = []
            for text in texts:
                response = asyncio.create_task(client.post("/translate", json={"text": text, "beam_size": 2}))
                await close_window(queue, clock, 1)
                alone.append(await response)
            return merged, alone

    merged, alone = run_scenario(scenario())
    assert [r.json()["translations"] for r in merged] == [r.json()["translations"] for r in alone]
    assert histogram_sum_and_count(app, "translator_batch_requests") == (2 * len(texts), 1 + len(texts))


def test_health_answers_while_the_model_is_busy(make_settings, serving, fake_model):
    app = create_app(make_settings())

    async def scenario():
        async with serving(app) as client:
            fake = fake_model(block=True)
            fake.install(app)
            translation = asyncio.create_task(client.post("/translate", json={"text": "a"}))
            await asyncio.to_thread(fake.started.wait, 5)
            health = await client.get("/health")  # answered while the model is held: the event loop is free
            still_translating = not translation.done()
            fake.release.set()
            return health, still_translating, await translation

    health, still_translating, translation = asyncio.run(scenario())
    assert health.status_code == 200 and still_translating
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
    clock = FakeClock()
    app = app_on(clock, make_settings)

    async def scenario():
        async with serving(app) as client:
            fake = fake_model(fail_on="bad")
            fake.install(app)
            responses = asyncio.gather(*(client.post("/translate", json={"text": t}) for t in ["a", "bad", "b"]))
            await close_window(app.state.service.queue, clock, 3)
            return fake, await responses

    fake, (good, bad, other) = run_scenario(scenario())
    assert sorted(fake.calls[0]) == ["a", "b", "bad"]  # they were merged
    assert (good.status_code, bad.status_code, other.status_code) == (200, 422, 200)
    assert good.json()["translations"][0]["text"] == "<a>"
