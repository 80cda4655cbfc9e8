"""Scheduling across requests, on a clock the test moves: cancelled work stops, cheap requests overtake
expensive ones for about a slice and pay it back, batches are fair, and draining answers everyone.

Each test holds the stand-in model at a known decoding step, does what a client would do there, and
lets it go on; nothing waits on the wall clock, so the orders asserted hold on a loaded machine.
"""

from __future__ import annotations

import asyncio

import pytest

from service.api.errors import Overloaded
from service.app import create_app
from service.ops.metrics import ServiceMetrics
from service.scheduling.queue import BatchingQueue
from translator.search.options import SearchOptions

from tests.service.scheduling_fakes import (STEP_S, FakeClock, StepwiseTranslator, eventually, run_scenario, running,
                                            waiting)

SLICE_S = 16 * STEP_S
EXPENSIVE = SearchOptions(beam_size=4)
CHEAP = SearchOptions(beam_size=1)


def queue_on(clock: FakeClock, **policy) -> BatchingQueue:
    """A queue timed by ``clock``, with no batching window and a slice of 16 decoding steps unless told."""
    return BatchingQueue(ServiceMetrics(), clock=clock, **{"window_s": 0.0, "slice_s": SLICE_S, **policy})


def metric(queue: BatchingQueue, name: str) -> float:
    return queue.metrics.registry.get_sample_value(name) or 0.0


def idle(queue: BatchingQueue) -> bool:
    return metric(queue, "translator_worker_busy") == 0


def test_a_cancelled_request_stops_costing_compute_at_the_next_step():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 2000)
    model.pause_after("long 1", 5)
    queue = queue_on(clock)

    async def scenario():
        async with running(queue):
            job = asyncio.create_task(queue.submit(model.loaded(), EXPENSIVE, ["long 1", "long 2"]))
            await eventually(model.paused.is_set, "the batch is at its 5th step")
            job.cancel()  # what a request's timeout or its client hanging up does
            await asyncio.gather(job, return_exceptions=True)
            model.resume()
            await eventually(lambda: idle(queue), "the worker is idle")
            return job

    job = run_scenario(scenario())
    assert job.cancelled()
    assert model.steps_done == {"long 1": 5, "long 2": 5} and model.finished == []
    assert model.returned == 1
    assert metric(queue, "translator_cancelled_sentences_total") == 2


def test_a_timed_out_request_gets_504_and_stops_costing_compute(make_settings, serving):
    clock = FakeClock()
    app = create_app(make_settings(request_timeout_s=0.2, batch_window_ms=0), clock=clock)
    model = StepwiseTranslator(clock, lambda text: 2000)
    model.pause_after("long 1", 5)

    async def scenario():
        async with serving(app) as client:
            model.install(app)
            # Held at step 5 until the answer is in: the request's own timeout, not the machine's speed, decides.
            response = await client.post("/translate", json={"texts": ["long 1", "long 2"]})
            model.resume()
            await eventually(lambda: model.returned == 1, "the model call ended")
            return response

    response = run_scenario(scenario())
    assert response.status_code == 504
    assert model.steps_done == {"long 1": 5, "long 2": 5}
    assert app.state.service.metrics.registry.get_sample_value("translator_cancelled_sentences_total") == 2


def test_a_cancelled_request_leaves_a_shared_batch_and_the_others_finish():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 2000 if text == "long" else 100)
    model.pause_after("long", 5)
    queue = queue_on(clock, window_s=0.25)

    async def scenario():
        async with running(queue):
            doomed = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["long"]))
            kept = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["short"]))
            await eventually(lambda: waiting(queue) == 2 and clock.sleepers == 1, "both wait in the window")
            clock.advance(0.25)
            await eventually(model.paused.is_set, "the shared batch is at its 5th step")
            doomed.cancel()
            await asyncio.gather(doomed, return_exceptions=True)
            model.resume()
            return await kept

    kept = run_scenario(scenario())
    assert [translation.text for translation in kept] == ["<short>"]
    assert model.calls == [["long", "short"]]  # they did share the batch
    assert model.steps_done == {"long": 5, "short": 100}
    assert model.finished == ["short"]


def test_a_cheap_request_overtakes_a_long_batch_within_a_slice():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 150 if text == "long" else 3)
    model.pause_after("long", 24)  # half-way through its second slice
    model.pause_after("long", 33)  # its first step after the slice it hands over (steps 17-32)
    queue = queue_on(clock)

    async def scenario():
        async with running(queue):
            long = asyncio.create_task(queue.submit(model.loaded(), EXPENSIVE, ["long"]))
            await eventually(model.paused.is_set, "the long batch is at its 24th step")
            arrived = clock.now()
            cheap = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["cheap"]))
            await eventually(lambda: waiting(queue) == 1, "the cheap request waits")
            model.resume()
            cheap_result = await cheap
            long_done_then = long.done()
            await eventually(model.paused.is_set, "the long batch resumed and is at its 33rd step")
            model.resume()
            return arrived, cheap_result, long_done_then, await long

    arrived, cheap, long_done_then, long = run_scenario(scenario())
    assert [cheap[0].text, long[0].text] == ["<cheap>", "<long>"]
    assert not long_done_then
    assert model.calls == [["long"], ["cheap"]]
    assert model.finished == ["cheap", "long"]
    assert model.finished_at["cheap"] - arrived <= SLICE_S + 3 * STEP_S  # about a slice, not the long batch's 150 steps
    assert model.steps_done["long"] == 150  # resumed where it stopped
    assert metric(queue, "translator_preemptions_total") == 1


def test_an_overtaken_batch_keeps_the_worker_as_long_as_the_overtaking_took():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 400 if text == "long" else 40)  # a cheap one outlasts a slice
    model.pause_after("long", 24)
    model.pause_after("cheap 1", 10)
    queue = queue_on(clock)

    async def scenario():
        async with running(queue):
            long = asyncio.create_task(queue.submit(model.loaded(), EXPENSIVE, ["long"]))
            await eventually(model.paused.is_set, "the long batch is at its 24th step")
            first = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["cheap 1"]))
            await eventually(lambda: waiting(queue) == 1, "the first cheap request waits")
            model.resume()
            await eventually(model.paused.is_set, "the first cheap request has overtaken and is at its 10th step")
            second = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["cheap 2"]))
            await eventually(lambda: waiting(queue) == 1, "the second cheap request waits")
            model.resume()
            return await asyncio.gather(long, first, second)

    run_scenario(scenario())
    assert model.calls == [["long"], ["cheap 1"], ["cheap 2"]]
    assert model.finished == ["cheap 1", "cheap 2", "long"]
    overtaking_took = model.finished_at["cheap 1"] - model.called_at[1]
    assert overtaking_took == 40 * STEP_S > SLICE_S
    # The second cheap request waited a slice behind the first, but the long batch paid itself back first.
    assert model.called_at[2] - model.finished_at["cheap 1"] == overtaking_took
    assert metric(queue, "translator_preemptions_total") == 2


def test_expensive_requests_do_not_overtake_each_other():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 60)
    model.pause_after("first", 20)  # past its first slice
    queue = queue_on(clock)

    async def scenario():
        async with running(queue):
            first = asyncio.create_task(queue.submit(model.loaded(), EXPENSIVE, ["first"]))
            await eventually(model.paused.is_set, "the first batch is at its 20th step")
            second = asyncio.create_task(queue.submit(model.loaded(), EXPENSIVE, ["second"]))
            await eventually(lambda: waiting(queue) == 1, "the second request waits")
            model.resume()
            return await asyncio.gather(first, second)

    run_scenario(scenario())
    assert model.calls == [["first"], ["second"]]
    assert model.finished == ["first", "second"]
    assert metric(queue, "translator_preemptions_total") == 0
    assert metric(queue, "translator_batch_duration_seconds_sum") == 2 * 60 * STEP_S  # timed on the queue's clock


def test_batches_take_sentences_round_robin_across_requests():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 40 if text == "first" else 1)
    model.pause_after("first", 1)
    queue = queue_on(clock, max_sentences=4, slice_s=60.0)

    async def scenario():
        async with running(queue):
            first = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["first"]))
            await eventually(model.paused.is_set, "the worker is busy with the first request")
            big = asyncio.create_task(queue.submit(model.loaded(), CHEAP, [f"big {i}" for i in range(8)]))
            await eventually(lambda: waiting(queue) == 8, "the big request waits")
            small = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["small"]))
            await eventually(lambda: waiting(queue) == 9, "the small request waits")
            model.resume()
            return await asyncio.gather(first, big, small)

    first, big, small = run_scenario(scenario())
    assert [translation.text for translation in big] == [f"<big {i}>" for i in range(8)]
    assert model.calls[1:] == [["big 0", "small", "big 1", "big 2"], ["big 3", "big 4", "big 5", "big 6"], ["big 7"]]


def test_drain_refuses_new_work_and_waits_for_accepted_work():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 10)
    model.pause_after("accepted", 5)
    queue = queue_on(clock, retry_after_s=7)

    async def scenario():
        async with running(queue):
            accepted = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["accepted"]))
            await eventually(model.paused.is_set, "the accepted request is at its 5th step")
            drain = asyncio.create_task(queue.drain(limit_s=30.0))
            await eventually(lambda: not queue.accepting, "the queue stopped accepting work")
            with pytest.raises(Overloaded) as refused:
                await queue.submit(model.loaded(), CHEAP, ["late"])
            drain_done_then = drain.done()
            model.resume()
            return await accepted, await drain, refused.value, drain_done_then

    accepted, late, refused, drain_done_then = run_scenario(scenario())
    assert [translation.text for translation in accepted] == ["<accepted>"]
    assert late == 0 and not drain_done_then
    assert refused.headers == {"Retry-After": "7"} and "shutting down" in refused.message
    assert model.calls == [["accepted"]]


def test_drain_answers_503_to_work_unfinished_at_its_limit_and_stops_it():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 2000)
    model.pause_after("slow", 5)
    queue = queue_on(clock)

    async def scenario():
        async with running(queue):
            slow = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["slow"]))
            await eventually(model.paused.is_set, "the slow request is at its 5th step")
            drain = asyncio.create_task(queue.drain(limit_s=30.0))
            await eventually(lambda: not queue.accepting, "the drain began")
            clock.advance(30.0)
            late = await drain
            outcome = (await asyncio.gather(slow, return_exceptions=True))[0]
            model.resume()
            await eventually(lambda: idle(queue), "the worker is idle")
            return late, outcome

    late, outcome = run_scenario(scenario())
    assert late == 1
    assert isinstance(outcome, Overloaded) and "drain limit (30 s)" in outcome.message
    assert model.steps_done == {"slow": 5}
    assert metric(queue, "translator_cancelled_sentences_total") == 1


def test_cut_drain_answers_the_unfinished_work_at_once():
    clock = FakeClock()
    model = StepwiseTranslator(clock, lambda text: 2000)
    model.pause_after("slow", 5)
    queue = queue_on(clock)

    async def scenario():
        async with running(queue):
            slow = asyncio.create_task(queue.submit(model.loaded(), CHEAP, ["slow"]))
            await eventually(model.paused.is_set, "the slow request is at its 5th step")
            drain = asyncio.create_task(queue.drain(limit_s=30.0))
            await eventually(lambda: not queue.accepting, "the drain began")
            queue.cut_drain()  # a second SIGTERM
            late = await drain
            outcome = (await asyncio.gather(slow, return_exceptions=True))[0]
            model.resume()
            return late, outcome

    late, outcome = run_scenario(scenario())
    assert late == 1 and isinstance(outcome, Overloaded)
