"""Documents over HTTP: ``POST /documents`` answers the translated file (small documents), ``/documents/jobs``
translates a large one in the background (submit, poll with progress, cancel, download).

Both forms take ``multipart/form-data``: ``file``, ``source_lang`` (or ``auto``) and ``target_lang`` (or
``model``), optional ``beam_size``. The request path is the text one's (:mod:`service.api.translation`): the API
key, the loading check, routing (direct or through English), the search options within the server's limits,
then the batching queue, where a document's sentences share batches with everyone's. The document is read and
checked (format, size, zip bombs, XML entities: :mod:`translator.documents.safety`) before it is accepted, so a
bad file is answered at once: 415 for a format this server does not translate (the message lists the formats),
413 over a size limit, 422 for a damaged or hostile file. Each accepted document is a job of
:class:`service.scheduling.document_jobs.DocumentJobs` (the synchronous form waits for its own), so shutdown
drains them alike.
"""

from __future__ import annotations

import asyncio
import mimetypes
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask

from translator.documents import (Content, DocumentError, DocumentTooLarge, Limits, UnsupportedFormat,
                                  read_document)
from translator.glossary import Glossary
from translator.text.markup import parse_markup

from service.api.errors import (InvalidRequest, LimitExceeded, TimedOut, UnsupportedMediaType,
                                describe_validation_errors)
from service.api.schemas import DocumentJobResponse, DocumentProgress, ErrorResponse, TranslateRequest
from service.api.glossaries import form_glossary
from service.api.translation import check_direct_route, choose_route, is_auto, search_options
from service.api.uploads import Upload, read_upload
from service.ops.auth import key_owner, matching_key, presented_key, require_api_key
from service.ops.lifecycle import cancel_on_disconnect
from service.scheduling.document_jobs import DocumentJob, DocumentJobs, Progress
from service.scheduling.documents import translate_document_content
from service.scheduling.pipeline import detect_source
from service.settings import env_name
from service.state import ServiceState, service_state

UPLOAD_PATHS = frozenset({"/documents", "/documents/jobs"})
DETECTION_SAMPLE_CHARS = 5000

router = APIRouter(tags=["documents"], dependencies=[Depends(require_api_key)])


def _errors(*codes: int) -> dict[int | str, dict]:
    return {code: {"model": ErrorResponse} for code in codes}


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "The document (.docx .pptx .odt .odp .epub "
                 ".html .md .srt .txt)."},
        "source_lang": {"type": "string", "example": "de", "description": "Source language, or auto."},
        "target_lang": {"type": "string", "example": "en"},
        "model": {"type": "string", "description": "A model name from GET /models, instead of the languages."},
        "beam_size": {"type": "integer", "minimum": 1},
        "glossary": {"type": "string", "description": "Terms the translation must use, as JSON: "
                     "{\"source term\": \"target term\"} (null keeps a term) or a list of {source, target} entries "
                     "(docs/translating.md); or a stored glossary's name."},
        "glossary_name": {"type": "string", "description": "A glossary stored with PUT /glossaries/{name} under "
                          "this API key (instead of glossary)."},
    }}}}}}


@dataclass(frozen=True)
class AcceptedDocument:
    """A document read, checked and routed: what a job runs."""

    filename: str
    target_lang: str
    content: Content
    work: Callable[[Progress], Any]
    characters: int


async def accept_document(state: ServiceState, upload: Upload, source: str | None, target: str | None,
                          model: str | None = None, beam_size: int | None = None,
                          glossary: Glossary | None = None) -> AcceptedDocument:
    """Read and check ``upload``, detect its language for ``auto``, and route it; nothing is translated yet.
    ``glossary``: terms every segment must use (:func:`~service.api.glossaries.form_glossary`); it needs a direct
    model, as on ``/translate``.

    Raises:
        ServiceError: UnsupportedMediaType (415), LimitExceeded (413), InvalidRequest (422), ModelNotFound (404),
            Overloaded (503 while loading).
    """
    registry, queue = state.serving()
    limits = Limits(max_file_bytes=state.settings.max_document_bytes)
    try:
        content = await asyncio.to_thread(read_document, upload.data, upload.filename, limits)
    except UnsupportedFormat as error:
        raise UnsupportedMediaType(str(error)) from None
    except DocumentTooLarge as error:
        raise LimitExceeded(str(error)) from None
    except DocumentError as error:
        raise InvalidRequest(str(error)) from None
    try:
        body = TranslateRequest(text="", source_lang=source, target_lang=target, model=model, beam_size=beam_size)
    except ValidationError as error:
        raise InvalidRequest(describe_validation_errors(list(error.errors()))[0]) from None
    texts = await asyncio.to_thread(_plain_texts, content)
    detected = await detect_source(registry, _sample(texts)) if is_auto(body.source_lang) else None
    route = choose_route(registry, body, detected)
    options = search_options(body, route, state.settings)
    check_direct_route(glossary, route)

    def work(progress: Progress) -> Any:
        return translate_document_content(queue, route, options, content, progress, glossary=glossary)

    return AcceptedDocument(upload.filename, route.target_lang, content, work, sum(len(text) for text in texts))


def _plain_texts(content: Content) -> list[str]:
    return [text for segment in content.segments for text in parse_markup(segment).texts if text.strip()]


def _sample(texts: list[str]) -> list[str]:
    """The first texts, up to DETECTION_SAMPLE_CHARS characters: enough to tell the language."""
    sample, size = [], 0
    for text in texts:
        if size >= DETECTION_SAMPLE_CHARS:
            break
        sample.append(text[:DETECTION_SAMPLE_CHARS])
        size += len(sample[-1])
    if not sample:
        raise InvalidRequest("the document has no text to translate, so its language cannot be detected; "
                             "give the source language")
    return sample


def document_jobs(request: Request) -> DocumentJobs:
    """The service's document jobs."""
    return service_state(request).documents


def request_owner(state: ServiceState, key: bytes | None) -> str | None:
    """Whose jobs a request may see: its key's (:func:`~service.ops.auth.key_owner`, the owner its named glossaries
    are stored under too), on a server with keys; everyone's (by id) without. A key that is none of the server's
    owns nothing."""
    keys = state.settings.api_keys
    return key_owner(matching_key(key, keys)) if keys else None


async def _our_upload(request: Request) -> tuple[ServiceState, AcceptedDocument]:
    state = service_state(request)
    upload = await read_upload(request, state.settings.max_document_bytes)  # the key came in a header
    fields = upload.fields
    beam = fields.get("beam_size")
    try:
        beam_size = int(beam) if beam else None
    except ValueError:
        raise InvalidRequest(f"beam_size must be a whole number, not {beam[:20]!r}") from None
    glossary = await form_glossary(request, request_owner(state, presented_key(request)) or "",
                                   fields.get("glossary"), fields.get("glossary_name"))
    accepted = await accept_document(state, upload, fields.get("source_lang") or None,
                                     fields.get("target_lang") or None, fields.get("model") or None, beam_size,
                                     glossary)
    return state, accepted


@router.post("/documents", response_class=FileResponse, openapi_extra=_UPLOAD_BODY,
             responses={200: {"content": {"application/octet-stream": {}}, "description": "The translated document"},
                        **_errors(401, 404, 408, 413, 415, 422, 503, 504)},
             summary="Translate a document and answer it (small documents)")
async def translate_document(request: Request) -> FileResponse:
    """Translate the uploaded document and answer it in its own format, formatting kept.

    For documents up to ``document_sync_max_chars`` characters of text, translated within the request timeout;
    larger ones go to ``POST /documents/jobs``.
    """
    state, accepted = await _our_upload(request)
    limit = state.settings.document_sync_max_chars
    if accepted.characters > limit:
        raise LimitExceeded(f"{accepted.filename} has {accepted.characters} characters of text; POST /documents "
                            f"translates at most {limit} while the client waits (document_sync_max_chars, "
                            f"{env_name('document_sync_max_chars')}); send it to POST /documents/jobs")
    jobs = state.documents
    job = jobs.submit(None, accepted.filename, accepted.work)  # nobody else learns its id
    try:
        await asyncio.wait_for(cancel_on_disconnect(request, jobs.wait(job)), state.settings.request_timeout_s)
    except asyncio.TimeoutError:
        jobs.cancel(job)
        raise TimedOut(f"the document was not translated within {state.settings.request_timeout_s:g} s "
                       f"(request_timeout_s, {env_name('request_timeout_s')}); send it to POST /documents/jobs",
                       {"Retry-After": str(state.settings.retry_after_s)}) from None
    except BaseException:
        jobs.cancel(job)
        raise
    return result_response(jobs, job, translated_name(accepted.filename, accepted.target_lang))


@router.post("/documents/jobs", status_code=202, response_model=DocumentJobResponse,
             response_model_exclude_none=True, openapi_extra=_UPLOAD_BODY,
             responses=_errors(401, 404, 408, 413, 415, 422, 503), summary="Start translating a document")
async def submit_job(request: Request) -> JSONResponse:
    """Accept a document for translation in the background; answers its job (202, ``Location`` to poll)."""
    state, accepted = await _our_upload(request)
    owner = request_owner(state, presented_key(request))
    job = state.documents.submit(owner, accepted.filename, accepted.work,
                                 translated_name(accepted.filename, accepted.target_lang))
    url = f"/documents/jobs/{job.id}"
    return JSONResponse(job_view(state.documents, job).model_dump(exclude_none=True), status_code=202,
                        headers={"Location": url})


@router.get("/documents/jobs/{job_id}", response_model=DocumentJobResponse, response_model_exclude_none=True,
            responses=_errors(401, 404), summary="A document job's status and progress")
async def job_status(request: Request, job_id: str) -> DocumentJobResponse:
    """The job's status, progress, and once done where to download the result."""
    return job_view(document_jobs(request), _own_job(request, job_id))


@router.delete("/documents/jobs/{job_id}", response_model=DocumentJobResponse, response_model_exclude_none=True,
               responses=_errors(401, 404), summary="Cancel a document job")
async def cancel_job(request: Request, job_id: str) -> DocumentJobResponse:
    """Stop the job's translation and delete its result; when this answers, its sentences have left the queue."""
    jobs = document_jobs(request)
    job = _own_job(request, job_id)
    jobs.cancel(job)
    if job.task is not None:
        await asyncio.wait([job.task])
    return job_view(jobs, job)


@router.get("/documents/jobs/{job_id}/result", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "The translated document"},
                       **_errors(401, 404, 409, 410)}, summary="Download a translated document")
async def job_result(request: Request, job_id: str) -> FileResponse:
    """The translated document (deleted once downloaded); 409 while it is still being translated."""
    jobs = document_jobs(request)
    job = _own_job(request, job_id)
    return result_response(jobs, job, job.download_name or job.filename)


def _own_job(request: Request, job_id: str) -> DocumentJob:
    state = service_state(request)
    return state.documents.get(job_id, request_owner(state, presented_key(request)))


def result_response(jobs: DocumentJobs, job: DocumentJob, filename: str) -> FileResponse:
    """The job's result as a download named ``filename``, deleted once sent."""
    path = jobs.result(job)
    media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=filename,
                        background=BackgroundTask(jobs.downloaded, job),
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def translated_name(filename: str, target_lang: str) -> str:
    """``report.docx`` translated into English is ``report.en.docx``."""
    path = PurePath(filename or "document")
    return f"{path.stem}.{target_lang}{path.suffix}"


def job_view(jobs: DocumentJobs, job: DocumentJob) -> DocumentJobResponse:
    """What the job's owner is told about it."""
    total = job.total_sentences
    fraction = 1.0 if job.status == "done" else (job.done_sentences / total if total else 0.0)
    return DocumentJobResponse(
        id=job.id, status=job.status, filename=job.filename,
        progress=DocumentProgress(done_sentences=job.done_sentences, total_sentences=total,
                                  fraction=round(fraction, 4)),
        result_url=f"/documents/jobs/{job.id}/result" if job.status == "done" and not job.handed_out else None,
        downloaded=job.downloaded, expires_in_s=None if (left := jobs.expires_in(job)) is None else round(left, 1),
        error=job.error, error_status=job.error_status,
    )
