"""The document job table on its own: owners, expiry that deletes files, atomic results, and the drain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from service.api.documents import job_view
from service.api.errors import NotFound, Overloaded
from service.ops.auth import key_owner
from service.scheduling.document_jobs import DocumentJobs


class Clock:
    """A clock that moves only when the test says."""

    def __init__(self) -> None:
        self.time = 1000.0

    def __call__(self) -> float:
        return self.time


def jobs_in(directory: Path, clock: Clock, **overrides) -> DocumentJobs:
    settings = dict(running=1, max_jobs=4, ttl_s=60.0, timeout_s=30.0)
    settings.update(overrides)
    return DocumentJobs(directory, now=clock, **settings)


async def translated(progress) -> bytes:
    progress(3, 3)
    return b"translated document"


def test_a_job_is_found_only_with_the_key_that_made_it(tmp_path):
    async def scenario() -> None:
        jobs = jobs_in(tmp_path, Clock())
        await jobs.start()
        job = jobs.submit(key_owner("key-a"), "a.docx", translated)
        await jobs.wait(job)
        assert jobs.get(job.id, key_owner("key-a")) is job
        for stranger in (key_owner("key-b"), None):
            with pytest.raises(NotFound, match="another API key"):
                jobs.get(job.id, stranger)
        await jobs.stop()

    asyncio.run(scenario())


def test_results_are_written_whole_and_deleted_with_their_job_when_they_expire(tmp_path):
    async def scenario() -> None:
        clock = Clock()
        jobs = jobs_in(tmp_path, clock)
        await jobs.start()
        job = jobs.submit(None, "a.docx", translated)
        await jobs.wait(job)
        assert job.status == "done" and job.result is not None
        assert job.result.read_bytes() == b"translated document"
        assert [path.name for path in tmp_path.iterdir()] == [f"{job.id}.result"]  # no temporary part left
        clock.time += 59
        assert jobs.sweep() == 0 and jobs.expires_in(job) == pytest.approx(1)
        clock.time += 1
        assert jobs.sweep() == 1
        assert list(tmp_path.iterdir()) == []
        with pytest.raises(NotFound):
            jobs.get(job.id, None)
        await jobs.stop()

    asyncio.run(scenario())


def test_the_store_is_emptied_at_start_and_at_stop(tmp_path):
    (tmp_path / "old.result").write_bytes(b"from an earlier process")
    (tmp_path / "keep.txt").write_bytes(b"not ours")

    async def scenario() -> None:
        jobs = jobs_in(tmp_path, Clock())
        await jobs.start()
        assert sorted(path.name for path in tmp_path.iterdir()) == ["keep.txt"]
        job = jobs.submit(None, "a.docx", translated)
        await jobs.wait(job)
        await jobs.stop()

    asyncio.run(scenario())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["keep.txt"]


def test_draining_lets_accepted_jobs_finish_refuses_new_ones_and_fails_the_late(tmp_path):
    async def scenario() -> None:
        jobs = jobs_in(tmp_path, Clock(), running=2)
        await jobs.start()
        slow_started = asyncio.Event()

        async def quick(progress) -> bytes:
            await asyncio.sleep(0.05)
            return b"quick"

        async def forever(progress) -> bytes:
            slow_started.set()
            await asyncio.sleep(3600)
            return b"never"

        finishing = jobs.submit(None, "quick.txt", quick)
        stuck = jobs.submit(None, "stuck.txt", forever)
        await slow_started.wait()
        drained = asyncio.ensure_future(jobs.drain(limit_s=3600))
        await asyncio.sleep(0.2)
        with pytest.raises(Overloaded, match="not accepting documents"):
            jobs.submit(None, "late.txt", quick)
        assert finishing.status == "done" and not drained.done()
        jobs.downloaded(finishing)
        jobs.cut_drain()  # a second SIGTERM
        assert await drained == 1
        assert stuck.status == "failed" and "shut down" in stuck.error and stuck.error_status == 503
        await jobs.stop()

    asyncio.run(scenario())


def test_more_jobs_than_the_limit_are_503(tmp_path):
    async def scenario() -> None:
        jobs = jobs_in(tmp_path, Clock(), max_jobs=2)
        await jobs.start()
        never = asyncio.Event()

        async def waiting(progress) -> bytes:
            await never.wait()
            return b""

        first = jobs.submit(None, "1.txt", waiting)
        jobs.submit(None, "2.txt", waiting)
        with pytest.raises(Overloaded, match="document_max_jobs"):
            jobs.submit(None, "3.txt", waiting)
        jobs.cancel(first)
        await asyncio.sleep(0)
        assert jobs.submit(None, "3.txt", waiting).status == "queued"
        await jobs.stop()

    asyncio.run(scenario())


def test_draining_waits_for_the_download_of_a_job_that_finished_during_it(tmp_path):
    async def scenario() -> None:
        jobs = jobs_in(tmp_path, Clock())
        await jobs.start()
        job = jobs.submit(None, "a.docx", translated)
        drained = asyncio.ensure_future(jobs.drain(limit_s=3600))
        await jobs.wait(job)
        await asyncio.sleep(0.2)
        assert job.status == "done" and not drained.done()
        jobs.downloaded(job)
        assert await asyncio.wait_for(drained, 5) == 0
        await jobs.stop()

    asyncio.run(scenario())


def test_a_job_whose_input_is_refused_fails_with_422_and_one_that_breaks_with_500(tmp_path):
    async def refused(progress) -> bytes:
        raise ValueError("source too long")

    async def broken(progress) -> bytes:
        raise RuntimeError("a bug")

    async def scenario() -> None:
        jobs = jobs_in(tmp_path, Clock())
        await jobs.start()
        first, second = jobs.submit(None, "a.txt", refused), jobs.submit(None, "b.txt", broken)
        await jobs.wait(first)
        await jobs.wait(second)
        assert (first.status, first.error_status) == ("failed", 422) and "source too long" in first.error
        assert (second.status, second.error_status) == ("failed", 500) and "a bug" not in second.error
        await jobs.stop()

    asyncio.run(scenario())


def test_a_result_is_handed_out_once_even_before_the_first_download_has_been_sent(tmp_path):
    """A second GET racing the first (whose file is deleted after it is sent) is told the result is gone, not sent a
    file being deleted."""
    async def scenario() -> None:
        jobs = jobs_in(tmp_path, Clock())
        await jobs.start()
        job = jobs.submit(None, "a.docx", translated)
        await jobs.wait(job)
        path = jobs.result(job)
        assert path.read_bytes() == b"translated document"
        with pytest.raises(Exception, match="downloaded already") as refused:
            jobs.result(job)  # the first download is still being sent
        assert refused.value.status_code == 410 and not job.downloaded
        assert job_view(jobs, job).result_url is None  # a poll no longer offers what it would refuse
        jobs.downloaded(job)  # sent
        assert not path.exists()
        await jobs.stop()

    asyncio.run(scenario())
