"""LibreTranslate's file translation: ``POST /translate_file`` and ``GET /download_file/<name>``, at the root
and under ``/libretranslate/``, as LibreTranslate's clients and its web page use them.

``POST /translate_file`` takes ``multipart/form-data`` with ``file``, ``source`` (a code or ``auto``), ``target``
and ``api_key``, translates the document while the client waits (as LibreTranslate does; it is a document job
of :mod:`service.scheduling.document_jobs`, so shutdown drains it), and answers
``{"translatedFileUrl": "<this server>/download_file/<random id>.<file name>"}``. The download answers the file
under its own name and deletes it; results expire after ``document_result_ttl_s``. Only the random id before the
first dot finds the file: the name never reaches the file system. On a server with an API key the download
needs the same key as the upload (``api_key`` in the query, or the usual headers): a file is never served to
another key (LibreTranslate itself serves any file to anyone with its URL).

Errors are ``{"error": "..."}`` with LibreTranslate's status codes: 400 for an unsupported format (the
message lists the supported ones), a damaged or hostile file or a file over the size limit, 403 for a missing
or wrong key, 404 for an unknown or expired download, 429 when busy, 500 when the translation fails. A body
declared larger than the limit is refused with a 413 before it is read, in our format, as for ``/translate``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse

from translator.documents import FORMATS

from service.api.documents import accept_document, request_owner, result_response
from service.api.glossaries import form_glossary
from service.api.errors import ServiceError
from service.api.libretranslate import (BASE_URL, STATUS_CODES, LibreTranslateError, _answers_like_libretranslate,
                                        _check_unicode, _required)
from service.api.uploads import read_upload
from service.ops.auth import matching_key, presented_key
from service.ops.lifecycle import cancel_on_disconnect
from service.ops.limits import KEYLESS
from service.state import ServiceState, service_state

FILE_UPLOAD_PATHS = frozenset({"/translate_file", f"{BASE_URL}/translate_file"})
SUPPORTED_FILES_FORMAT = sorted(FORMATS)
_DOWNLOAD_NAME = re.compile(r"([A-Za-z0-9_-]{16,64})\.(.+)")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^\w .()\[\]-]+")

_FILE_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "source", "target"], "properties": {
        "file": {"type": "string", "format": "binary", "description": f"The file ({', '.join(SUPPORTED_FILES_FORMAT)})."},
        "source": {"type": "string", "example": "auto", "description": "Source language code, or auto."},
        "target": {"type": "string", "example": "en"},
        "api_key": {"type": "string", "description": "The API key, when the server has one (before the file)."},
    }}}}}}


@_answers_like_libretranslate
async def translate_file(request: Request) -> JSONResponse:
    """LibreTranslate's ``POST /translate_file``: the translated file's URL, once it is translated."""
    state = service_state(request)
    keys = state.settings.api_keys  # any of them; each owns its own files
    header_key = None if request.scope.get(KEYLESS) else presented_key(request)

    def check_key(fields: dict[str, str]) -> bool:
        """The key of a keyless request's form: refused at once when wrong; True when right."""
        if not keys or header_key is not None:
            return True
        given = fields.get("api_key")
        if given and matching_key(given.encode("utf-8"), keys) is None:
            raise LibreTranslateError(403, "Invalid API key")
        return bool(given)

    upload = await read_upload(request, state.settings.max_document_bytes, check_key)
    _check_unicode(upload.fields)
    key = header_key
    if keys and key is None:
        given = upload.fields.get("api_key")
        if not given:
            raise LibreTranslateError(403, "Missing API key: send api_key (or an Authorization: Bearer header)")
        check_key(upload.fields)
        key = given.encode("utf-8")
    source, target = _required(upload.fields, "source"), _required(upload.fields, "target")
    if not upload.filename or "." + upload.filename.rsplit(".", 1)[-1].lower() not in FORMATS:
        raise LibreTranslateError(400, f"Invalid request: file format not supported; supported formats: "
                                  f"{', '.join(SUPPORTED_FILES_FORMAT)}")
    glossary = await form_glossary(request, request_owner(state, key) or "", upload.fields.get("glossary"), None)
    accepted = await accept_document(state, upload, source, target, glossary=glossary)
    jobs = state.documents
    job = jobs.submit(request_owner(state, key), accepted.filename, accepted.work, _safe_name(upload.filename))
    try:
        await cancel_on_disconnect(request, jobs.wait(job))
    except BaseException:
        jobs.cancel(job)
        raise
    if job.status != "done":
        raise LibreTranslateError(STATUS_CODES.get(job.error_status or 500, 500),
                                  f"Cannot translate the file: {job.error}")
    prefix = BASE_URL if request.url.path.startswith(BASE_URL + "/") else ""
    url = str(request.base_url).rstrip("/") + f"{prefix}/download_file/{job.id}.{quote(job.download_name or 'document')}"
    return JSONResponse({"translatedFileUrl": url})


@_answers_like_libretranslate
async def download_file(request: Request) -> FileResponse:
    """LibreTranslate's ``GET /download_file/<name>``: the translated file, once; then it is deleted."""
    state = service_state(request)
    name = request.path_params["name"]
    found = _DOWNLOAD_NAME.fullmatch(name)
    if found is None:
        raise LibreTranslateError(400, "Invalid filename")
    owner = request_owner(state, _download_key(state, request))
    try:
        job = state.documents.get(found.group(1), owner)
        return result_response(state.documents, job, job.download_name or found.group(2))
    except ServiceError as error:  # unknown, expired, another key's, or downloaded already: 404 all
        raise LibreTranslateError(404 if error.status_code in (404, 410) else STATUS_CODES.get(error.status_code, 500),
                                  error.message) from None


def _download_key(state: ServiceState, request: Request) -> bytes | None:
    """The key a download presents (query ``api_key`` or the headers), checked when the server has one."""
    keys = state.settings.api_keys
    if not keys:
        return None
    given = request.query_params.get("api_key")
    key = given.encode("utf-8") if given else presented_key(request)
    if key is None:
        raise LibreTranslateError(403, "Missing API key: send api_key (or an Authorization: Bearer header)")
    if matching_key(key, keys) is None:
        raise LibreTranslateError(403, "Invalid API key")
    return key


def _safe_name(filename: str) -> str:
    """The uploaded name for the download URL and answer: its characters limited, never a path."""
    cleaned = _UNSAFE_NAME_CHARACTERS.sub("_", filename).strip(" .") or "document"
    return cleaned[-120:]


def install_libretranslate_files(app: FastAPI) -> None:
    """Serve ``/translate_file`` and ``/download_file/<name>`` at the root and under ``/libretranslate/``."""
    router = APIRouter(tags=["LibreTranslate-compatible"])
    for prefix in ("", BASE_URL):
        router.add_api_route(f"{prefix}/translate_file", translate_file, methods=["POST"], openapi_extra=_FILE_BODY,
                             summary="Translate a file (LibreTranslate-compatible)")
        router.add_api_route(f"{prefix}/download_file/{{name}}", download_file, methods=["GET"],
                             summary="Download a translated file (LibreTranslate-compatible)",
                             response_class=FileResponse)
    app.include_router(router)
