"""Document jobs: translations that outlive their request, with progress, cancellation, expiry and a drain.

A job is accepted with the work to do (a coroutine function that reports progress and returns the translated
document's bytes) and an owner (a hash of the API key that created it, or None on a server without a key). It
waits for one of ``document_jobs_running`` places, runs (its sentences go through the batching queue like any
request's), and its result is written to the store directory atomically (a temporary file renamed into place),
under the job's random id. A job is found only by its id *and* owner: another key gets a 404, as for an id that
never existed.

Results expire ``document_result_ttl_s`` after their job finishes (a sweeper deletes them and the job); a
downloaded result is deleted at once, its job kept until it expires so a poll still says what happened.

**Shutdown** (:meth:`DocumentJobs.drain`, called before the queue drains, see
:func:`service.ops.lifecycle.drain`): new jobs are refused (503); jobs accepted and unfinished when it began,
waiting or running, go on translating, and the drain waits until they are done *and downloaded* (polls and
downloads are answered while it lasts), for at most the drain limit. At the limit (or on a second SIGTERM) the
jobs still unfinished are cancelled and marked failed, saying the server shut down. The job table lives in memory: when the process exits every job and every stored file is gone (the
store directory is emptied at shutdown and at start), so a client polling afterwards gets a 404 and must
submit the document again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Literal

from service.api.errors import Gone, NotFound, Overloaded, ServiceError

logger = logging.getLogger("service")

Status = Literal["queued", "running", "done", "failed", "cancelled"]
Progress = Callable[[int, int], None]  # (sentences done, sentences in all)
Work = Callable[[Progress], Awaitable[bytes]]


@dataclass(eq=False)
class DocumentJob:
    """One document's translation: who asked, how far it is, and where its result is."""

    id: str
    owner: str | None
    filename: str
    download_name: str | None = None
    status: Status = "queued"
    done_sentences: int = 0
    total_sentences: int | None = None
    error: str | None = None
    error_status: int | None = None
    finished_at: float | None = None
    result: Path | None = None
    result_bytes: int = 0
    downloaded: bool = False
    handed_out: bool = False  # its result was given to a download (sent, then :meth:`DocumentJobs.downloaded`)
    task: asyncio.Task | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        """Done, failed or cancelled: nothing more will happen to it but expiry."""
        return self.status in ("done", "failed", "cancelled")


class DocumentJobs:
    """The job table, its store directory and its sweeper (module docstring)."""

    def __init__(self, directory: Path | None, running: int, max_jobs: int, ttl_s: float, timeout_s: float,
                 retry_after_s: int = 1, now: Callable[[], float] = time.monotonic) -> None:
        self.configured_directory = directory
        self.directory: Path | None = None
        self.max_jobs = max_jobs
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.now = now
        self.accepting = False
        self._places = asyncio.Semaphore(running)
        self._jobs: dict[str, DocumentJob] = {}
        self._sweeper: asyncio.Task | None = None
        self._drain_cut = asyncio.Event()

    # --- life ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Make (or empty) the store directory, start the sweeper and accept jobs."""
        if self.configured_directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="translator-documents-"))
        else:
            self.directory = self.configured_directory
            self.directory.mkdir(parents=True, exist_ok=True)
            _empty(self.directory)  # results of an earlier process: their jobs are gone with it
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="document-sweeper")
        self.accepting = True

    async def drain(self, limit_s: float) -> int:
        """Refuse new jobs; let the jobs unfinished now finish and their results be downloaded, for up to
        ``limit_s``; then cancel the rest (marked failed: the server shut down). Returns how many were cut short.

        Results that were ready before the drain began are not waited for: their clients had their time."""
        self.accepting = False
        deadline = self.now() + limit_s
        unfinished = [job for job in self._jobs.values() if not job.finished]

        def waited_for(job: DocumentJob) -> bool:
            return not job.finished or (job.status == "done" and not job.downloaded)

        while any(waited_for(job) for job in unfinished) and self.now() < deadline and not self._drain_cut.is_set():
            await asyncio.sleep(0.05)
        late = [job for job in self._jobs.values() if not job.finished]
        for job in late:
            self._stop(job, "failed", "the server shut down before this document was translated; submit it again",
                       503)
        if late:
            logger.warning("shutdown: %d document jobs did not finish within the drain limit", len(late))
        return len(late)

    def cut_drain(self) -> None:
        """End a running :meth:`drain` now."""
        self._drain_cut.set()

    async def stop(self) -> None:
        """Cancel whatever still runs, stop the sweeper and delete every stored file."""
        self.accepting = False
        for job in list(self._jobs.values()):
            if not job.finished:
                self._stop(job, "failed", "the server shut down", 503)
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.directory is not None:
            if self.configured_directory is None:
                shutil.rmtree(self.directory, ignore_errors=True)
            else:
                _empty(self.directory)
        self._jobs.clear()

    # --- jobs ------------------------------------------------------------------------------------

    def submit(self, owner: str | None, filename: str, work: Work, download_name: str | None = None) -> DocumentJob:
        """Accept a job and start it (it waits for a place); ``download_name`` names its result.

        Raises:
            Overloaded: shutting down, or ``document_max_jobs`` jobs are waiting or running.
        """
        retry = {"Retry-After": str(self.retry_after_s)}
        if not self.accepting:
            raise Overloaded("the server is not accepting documents (starting up or shutting down); retry shortly, "
                             "or on another instance", retry)
        active = sum(not job.finished for job in self._jobs.values())
        if active >= self.max_jobs:
            raise Overloaded(f"{active} documents are being translated, the most this server takes at once "
                             f"(document_max_jobs); retry later", retry)
        job = DocumentJob(secrets.token_urlsafe(16), owner, filename, download_name)
        self._jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, work), name=f"document-{job.id[:6]}")
        return job

    def get(self, job_id: str, owner: str | None) -> DocumentJob:
        """The job ``job_id`` of ``owner``.

        Raises:
            NotFound: no such job, or not this owner's, or expired.
        """
        job = self._jobs.get(job_id)
        if job is None or not secrets.compare_digest(job.owner or "", owner or "") or self._expired(job):
            raise NotFound(f"no document job {job_id[:40]!r}: it never existed, has expired (results are kept "
                           f"{self.ttl_s:g} s, document_result_ttl_s), or was made with another API key")
        return job

    async def wait(self, job: DocumentJob) -> None:
        """Until ``job`` has finished (cancelling this await cancels the job)."""
        assert job.task is not None
        try:
            await asyncio.shield(job.task)
        except asyncio.CancelledError:
            self.cancel(job)
            raise

    def cancel(self, job: DocumentJob) -> None:
        """Stop ``job`` if it has not finished, and delete its result if it has one."""
        if not job.finished:
            self._stop(job, "cancelled", "cancelled by the client", None)
        self._delete_result(job)

    def result(self, job: DocumentJob) -> Path:
        """The path of ``job``'s translated document, handed out once: the caller sends it and then calls
        :meth:`downloaded`, which deletes it. From this call on a second request is told the result is gone, even
        while the first is still being sent (it used to find the path, then a file being deleted: a 500)
        (``downloaded``, which a drain waits for, stays false until the first has been sent).

        Raises:
            ServiceError: the job is not done (409 while running, its own status when it failed), or its result
                was handed out or cancelled (410).
        """
        if job.handed_out:  # downloaded too: only a handed-out result is downloaded
            raise Gone("this translated document was downloaded already and has been deleted; submit it again")
        if job.status == "done" and job.result is not None:
            job.handed_out = True
            return job.result
        if job.status == "cancelled":
            raise Gone("this document job was cancelled; its result was deleted")
        if job.status == "failed":
            error = ServiceError(f"the document could not be translated: {job.error}")
            error.status_code = job.error_status or 500
            raise error
        not_yet = ServiceError(f"the document is still being translated ({job.status}); poll the job and "
                               "download once its status is done")
        not_yet.status_code, not_yet.kind = 409, "invalid"
        raise not_yet

    def downloaded(self, job: DocumentJob) -> None:
        """The client has the result: delete it."""
        job.downloaded = True
        self._delete_result(job)

    def expires_in(self, job: DocumentJob) -> float | None:
        """Seconds until a finished job and its result are deleted (None while it runs)."""
        return None if job.finished_at is None else max(0.0, job.finished_at + self.ttl_s - self.now())

    def active(self) -> int:
        """Jobs waiting or running."""
        return sum(not job.finished for job in self._jobs.values())

    async def _run(self, job: DocumentJob, work: Work) -> None:
        def progress(done: int, total: int) -> None:
            job.done_sentences, job.total_sentences = done, total

        try:
            async with self._places:
                if job.finished:
                    return
                job.status = "running"
                data = await asyncio.wait_for(work(progress), self.timeout_s)
                job.result = await asyncio.to_thread(self._write, job.id, data)
                job.result_bytes = len(data)
                job.status = "done"
        except asyncio.CancelledError:
            return  # cancelled by the client or the shutdown, which recorded why
        except asyncio.TimeoutError:
            job.status, job.error_status = "failed", 504
            job.error = (f"the translation did not finish within {self.timeout_s:g} s (document_job_timeout_s); "
                         "split the document or retry when the server is less busy")
        except ServiceError as error:
            job.status, job.error, job.error_status = "failed", error.message, error.status_code
        except ValueError as error:  # the translator or the document's writer refused the input, as for a text: 422
            job.status, job.error, job.error_status = "failed", f"cannot translate this document: {error}", 422
        except Exception:
            logger.exception("document job %s failed", job.id[:6])
            job.status, job.error, job.error_status = "failed", "internal error; the server log has the details", 500
        job.finished_at = self.now()

    def _stop(self, job: DocumentJob, status: Status, why: str, error_status: int | None) -> None:
        job.status, job.error, job.error_status = status, why if status == "failed" else None, error_status
        job.finished_at = self.now()
        if job.task is not None:
            job.task.cancel()

    def _write(self, job_id: str, data: bytes) -> Path:
        """Write a result atomically: a temporary file in the store, flushed to disk, renamed into place."""
        assert self.directory is not None
        final = self.directory / f"{job_id}.result"
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{job_id}.", suffix=".part")
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, final)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return final

    def _delete_result(self, job: DocumentJob) -> None:
        if job.result is not None:
            job.result.unlink(missing_ok=True)
            job.result = None

    def _expired(self, job: DocumentJob) -> bool:
        return job.finished_at is not None and self.now() >= job.finished_at + self.ttl_s

    def sweep(self) -> int:
        """Delete expired jobs and their results; returns how many."""
        expired = [job for job in self._jobs.values() if self._expired(job)]
        for job in expired:
            self._delete_result(job)
            del self._jobs[job.id]
        return len(expired)

    async def _sweep_forever(self) -> None:
        interval = min(60.0, max(0.5, self.ttl_s / 4))
        while True:
            await asyncio.sleep(interval)
            swept = self.sweep()
            if swept:
                logger.info("deleted %d expired document jobs and their results", swept)


def _empty(directory: Path) -> None:
    """Delete the files this service stores (results and their temporary parts) in ``directory``."""
    for path in directory.iterdir():
        if path.is_file() and (path.name.endswith(".result") or path.name.endswith(".part")):
            path.unlink(missing_ok=True)
