"""A LibreTranslate-compatible API, so LibreTranslate's clients, scripts and plug-ins work unchanged.

Served under ``/libretranslate/`` (``translate``, ``languages``, ``detect``, ``frontend/settings``; files:
:mod:`service.api.libretranslate_files`)
and at the root beside our own API: ``GET /languages``, ``POST /detect`` and
``GET /frontend/settings`` do not clash with it, and a ``POST /translate`` in LibreTranslate's shape
(form data, or a JSON object with its fields and none of ours) is routed to the compatible
endpoint by :class:`LibreTranslateDispatch`; a JSON object with ``text``/``texts`` stays ours.

Parameters come as form data or JSON (``q``, ``source`` or ``"auto"``, ``target``, ``format``,
``alternatives``, ``api_key``, and our extension ``glossary``: the terms as a JSON object or list, or the name of
a glossary stored with ``PUT /glossaries/{name}``); errors are ``{"error": "..."}`` with LibreTranslate's status codes:
400 for a bad request (missing parameter, unsupported language or format, over a limit), 403 for a
missing or wrong API key, 429 when the queue is full, 500 when the translation fails or times out.
Texts are translated sentence by sentence, through English when no direct model exists (the answer
then says ``"pivot": "en"``). A calibrated model's answer carries the extension field ``confidence``: each
text's probability of being acceptable, 0 to 1 (a list for a list ``q``; see :mod:`service.api.confidence`). With ``format: "html"`` the text between tags is translated and the
tags are kept (``translator.text.markup``). This module reads LibreTranslate's parameters and writes its
answers; the request itself runs through the one request path, :mod:`service.api.translation`.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from translator.documents import FORMATS

from service.api.errors import (
    JSON_TOO_DEEP, ClientDisconnected, ErrorJSONResponse, InvalidRequest, ServiceError, describe_validation_errors,
)
from service.api.schemas import TranslateRequest
from service.api.translation import TranslationJob, run_detection, run_translation
from service.ops.auth import key_owner, matching_key, presented_key
from service.ops.limits import replaying
from service.scheduling.detect import language_name
from service.scheduling.routing import languages, reachable
from service.settings import env_name
from service.state import ServiceState, service_state

BASE_URL = "/libretranslate"

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
LIBRETRANSLATE_FIELDS = {"q", "source", "target", "format", "alternatives", "api_key"}
OUR_FIELDS = {"text", "texts", "source_lang", "target_lang", "model"}

_TEXT = {"type": "string"}
_TRANSLATE_FIELDS = {
    "q": {"anyOf": [_TEXT, {"type": "array", "items": _TEXT}], "description": "Text, or a list of texts (JSON)."},
    "source": {"type": "string", "description": "Source language code, or auto to detect it.", "example": "auto"},
    "target": {"type": "string", "description": "Target language code.", "example": "en"},
    "format": {"type": "string", "enum": ["text", "html"], "default": "text"},
    "alternatives": {"type": "integer", "minimum": 0, "default": 0, "description": "Other candidates to return."},
    "api_key": {"type": "string", "description": "The API key, when the server has one."},
    "glossary": {"anyOf": [{"type": "object"}, {"type": "array"}, _TEXT],
                 "description": "Extension: terms the translation must use, {\"source term\": \"target term\"} "
                 "(null keeps a term as is), or the name of a glossary stored under this API key."},
}


def _request_body(fields: dict[str, dict], required: list[str]) -> dict[str, Any]:
    """OpenAPI requestBody: the same fields as JSON or as form data (the endpoints read the body themselves)."""
    schema = {"type": "object", "properties": fields, "required": required}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema}, "application/x-www-form-urlencoded": {"schema": schema}}}}


# Our errors' statuses in LibreTranslate's vocabulary (it answers 400, 403, 429 or 500).
STATUS_CODES = {401: 403, 404: 400, 408: 400, 413: 400, 415: 400, 422: 400, 503: 429, 504: 500}


class LibreTranslateError(Exception):
    """An error answered as LibreTranslate does: ``{"error": message}``."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code, self.message, self.headers = status_code, message, headers or {}


def _answers_like_libretranslate(
    endpoint: Callable[[Request], Awaitable[JSONResponse]],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Turn our errors (limits, unknown languages, a full queue) into LibreTranslate's ``{"error"}`` answers."""

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> JSONResponse:
        try:
            return await endpoint(request)
        except ClientDisconnected:
            raise  # nobody reads the answer; counted as a hang-up, not as a LibreTranslate error
        except ServiceError as error:
            raise LibreTranslateError(STATUS_CODES.get(error.status_code, 500), error.message, error.headers) from None

    return wrapped


@_answers_like_libretranslate
async def translate(request: Request) -> JSONResponse:
    """LibreTranslate's ``POST /translate``: ``q`` (a string or a list), ``source``, ``target``."""
    state, params, owner = await _authorized(request)
    q = params.get("q")
    texts = q if isinstance(q, list) else [q]
    if not q or not all(isinstance(text, str) for text in texts):
        raise LibreTranslateError(400, "Invalid request: missing q parameter (a string or a list of strings)")
    source, target = _required(params, "source"), _required(params, "target")
    text_format = params.get("format") or "text"
    if text_format not in ("text", "html"):
        raise LibreTranslateError(400, f"{_shown(text_format)} format is not supported; send format text or html")
    alternatives = _alternatives(params.get("alternatives", 0), state)
    job = TranslationJob(_as_our_request(texts, source, target, alternatives, params.get("glossary")),
                         html=text_format == "html", keep_target_language=True,  # such text comes back as it is
                         owner=owner)
    outcome = await run_translation(request, job)
    results_text = [result.text for result in outcome.translations]
    alternatives_lists = [_unique([c.text for c in result.n_best[1:]], result.text)[:alternatives]
                          for result in outcome.translations]  # none for HTML (nor has LibreTranslate)
    answer: dict[str, Any] = {"translatedText": results_text if isinstance(q, list) else results_text[0]}
    if outcome.detected is not None:
        detection = {"confidence": round(100 * outcome.detected.confidence, 1), "language": outcome.detected.language}
        answer["detectedLanguage"] = [detection] * len(texts) if isinstance(q, list) else detection
    if alternatives > 0:
        answer["alternatives"] = alternatives_lists if isinstance(q, list) else alternatives_lists[0]
    if outcome.route is not None and outcome.route.pivot is not None:
        answer["pivot"] = outcome.route.pivot
    confidences = [None if result.confidence is None else round(result.confidence.probability, 4)
                   for result in outcome.translations]
    if any(confidence is not None for confidence in confidences):  # an extension: calibrated models only
        answer["confidence"] = confidences if isinstance(q, list) else confidences[0]
    return JSONResponse(answer)


@_answers_like_libretranslate
async def languages_list(request: Request) -> JSONResponse:
    """LibreTranslate's ``GET /languages``: every language with the targets reachable from it."""
    state, _, _ = await _authorized(request)
    registry, _ = state.serving()
    routes = reachable(registry)
    return JSONResponse([
        {"code": code, "name": language_name(code),
         "targets": sorted(route.target_lang for route in routes if route.source_lang == code)}
        for code in languages(registry)
    ])


@_answers_like_libretranslate
async def detect(request: Request) -> JSONResponse:
    """LibreTranslate's ``POST /detect``: candidate languages of ``q``, most likely first, confidence 0–100."""
    _, params, _ = await _authorized(request)
    q = params.get("q")
    if not q or not isinstance(q, str):
        raise LibreTranslateError(400, "Invalid request: missing q parameter (a string)")
    found = await run_detection(request, q)
    candidates = [{"confidence": round(100 * d.confidence, 1), "language": d.language} for d in found]
    return JSONResponse([c for c in candidates if c["confidence"] > 0])  # not the languages it surely is not


@_answers_like_libretranslate
async def frontend_settings(request: Request) -> JSONResponse:
    """LibreTranslate's ``GET /frontend/settings``: limits and defaults a LibreTranslate front end reads."""
    state = service_state(request)
    registry, _ = state.serving()
    targets = [route.target_lang for route in reachable(registry)]
    target = "en" if "en" in targets else targets[0]
    keyed = bool(state.settings.api_keys)
    return JSONResponse({
        "charLimit": state.settings.max_text_chars, "frontendTimeout": 500, "apiKeys": keyed, "keyRequired": keyed,
        "suggestions": False, "filesTranslation": True, "supportedFilesFormat": sorted(FORMATS),
        "language": {"source": {"code": "auto", "name": "Auto Detect"},
                     "target": {"code": target, "name": language_name(target)}},
    })


def install_libretranslate(app: FastAPI) -> None:
    """Serve the compatible API under ``/libretranslate/`` and at the root (see the module docstring)."""
    router = APIRouter(tags=["LibreTranslate-compatible"])
    for prefix in (BASE_URL, ""):
        if prefix:  # at the root, POST /translate reaches this endpoint through LibreTranslateDispatch
            router.add_api_route(f"{prefix}/translate", translate, methods=["POST"],
                                 summary="Translate (LibreTranslate-compatible)",
                                 openapi_extra=_request_body(_TRANSLATE_FIELDS, ["q", "source", "target"]))
        router.add_api_route(f"{prefix}/languages", languages_list, methods=["GET"],
                             summary="Languages and their targets (LibreTranslate-compatible)")
        router.add_api_route(f"{prefix}/detect", detect, methods=["POST"],
                             summary="Detect the language (LibreTranslate-compatible)",
                             openapi_extra=_request_body({"q": _TEXT, "api_key": _TRANSLATE_FIELDS["api_key"]}, ["q"]))
        router.add_api_route(f"{prefix}/frontend/settings", frontend_settings, methods=["GET"],
                             summary="Front-end settings (LibreTranslate-compatible)")
    app.include_router(router)

    @app.exception_handler(LibreTranslateError)
    async def _error(request: Request, error: LibreTranslateError) -> JSONResponse:
        app.state.service.metrics.errors.labels("invalid" if error.status_code == 400 else "http").inc()
        return ErrorJSONResponse({"error": error.message}, status_code=error.status_code, headers=error.headers)

    app.add_middleware(LibreTranslateDispatch)


class LibreTranslateDispatch:
    """Sends a ``POST /translate`` in LibreTranslate's shape to ``/libretranslate/translate``.

    LibreTranslate's shape is form data, or a JSON object with one of its fields (``q``, ``source``,
    ``target``, ``format``, ``alternatives``, ``api_key``) and none of ours (``text``, ``texts``,
    ``source_lang``, ``target_lang``, ``model``). The body is read here and replayed to the app (the body-size limit, outside this
    middleware, has already bounded it).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != "/translate":
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").decode("latin-1").lower()
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if content_type.startswith(FORM_TYPES) or _is_libretranslate_json(body):
            scope = {**scope, "path": f"{BASE_URL}/translate", "raw_path": f"{BASE_URL}/translate".encode()}
        await self.app(scope, replaying(body, receive), send)


def _is_libretranslate_json(body: bytes) -> bool:
    try:
        parsed = _json_value(body)
    except ValueError:
        return False  # our API answers what is not JSON
    return isinstance(parsed, dict) and bool(parsed.keys() & LIBRETRANSLATE_FIELDS) and not parsed.keys() & OUR_FIELDS


async def _authorized(request: Request) -> tuple[ServiceState, dict[str, Any], str]:
    """The app state, the request's parameters and the key's owner (:func:`~service.ops.auth.key_owner`), once the
    API key (if the server has one) is checked."""
    state = service_state(request)
    params = await _parameters(request)
    keys = state.settings.api_keys
    if not keys:
        return state, params, key_owner(None)
    given = params.get("api_key")
    presented = given.encode("utf-8") if isinstance(given, str) and given else presented_key(request)
    if presented is None:
        raise LibreTranslateError(403, "Missing API key: send api_key (or an Authorization: Bearer header)")
    key = matching_key(presented, keys)
    if key is None:
        raise LibreTranslateError(403, "Invalid API key")
    return state, params, key_owner(key)


async def _parameters(request: Request) -> dict[str, Any]:
    """Query parameters, overlaid with the form or JSON body (as LibreTranslate reads them)."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(FORM_TYPES):
        form = await request.form()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    elif content_type.startswith("application/json") or (request.method == "POST" and await request.body()):
        try:
            parsed = _json_value(await request.body())
        except ValueError as error:
            raise LibreTranslateError(400, f"Invalid JSON format: {error}") from None
        if not isinstance(parsed, dict):
            raise LibreTranslateError(400, "Invalid JSON format: send a JSON object such as {\"q\": \"...\"}")
        params.update(parsed)
    _check_unicode(params)
    return params


def _json_value(body: bytes) -> Any:
    """The JSON value in ``body``.

    Raises:
        ValueError: not JSON in UTF-8, or nested too deeply to parse (the message says which).
    """
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError(JSON_TOO_DEEP) from None
    except json.JSONDecodeError as error:
        raise ValueError(f"the body is not valid JSON (error at character {error.pos})") from None
    except UnicodeDecodeError:
        raise ValueError("the body is not text in UTF-8") from None


def _check_unicode(params: dict[str, Any]) -> None:
    """Refuse a parameter holding a lone UTF-16 surrogate (a valid JSON escape, but not text) before anything
    tries to encode it: the tokenizer, the language detector, the API-key check or an error message."""
    for name in LIBRETRANSLATE_FIELDS & params.keys():
        values = params[name] if isinstance(params[name], list) else [params[name]]
        for text in values:
            if not isinstance(text, str):
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise LibreTranslateError(
                    400, f"Invalid request: {name} contains an unpaired surrogate U+{ord(text[error.start]):04X} "
                    f"at character {error.start}; send valid Unicode") from None


def _required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not value or not isinstance(value, str):
        raise LibreTranslateError(400, f"Invalid request: missing {name} parameter")
    return value.strip().lower()


def _alternatives(value: Any, state: ServiceState) -> int:
    try:
        count = max(0, int(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is read as infinity
        raise LibreTranslateError(400, "Invalid request: alternatives parameter is not a number") from None
    limit = state.settings.max_beam_size - 1
    if count > limit:
        raise LibreTranslateError(400, f"Invalid request: alternatives parameter must be <= {limit} "
                                  f"(max_beam_size - 1, {env_name('max_beam_size')})")
    return count


def _as_our_request(texts: list[str], source: str, target: str, alternatives: int,
                    glossary: Any = None) -> TranslateRequest:
    """The same request in our API's shape, for the one request path (service.api.translation). ``glossary`` is
    the extension field: entries (a JSON object or list, or such JSON in a form field) or a stored glossary's name."""
    fields: dict[str, Any] = {}
    if isinstance(glossary, str) and glossary.strip()[:1] in ("{", "["):
        try:
            glossary = json.loads(glossary)
        except ValueError:
            raise LibreTranslateError(400, "Invalid request: glossary is not valid JSON") from None
    if isinstance(glossary, str) and glossary.strip():
        fields["glossary_name"] = glossary.strip()
    elif glossary not in (None, ""):
        fields["glossary"] = glossary
    try:
        return TranslateRequest(texts=texts, source_lang=source, target_lang=target, n_best=alternatives + 1,
                                **fields)
    except ValidationError as error:
        raise InvalidRequest(describe_validation_errors(list(error.errors()))[0]) from None


def _shown(value: str, limit: int = 40) -> str:
    """A client's value quoted back in a message: cut short, so a message never grows with the input."""
    return value if len(value) <= limit else value[:limit] + "..."


def _unique(candidates: list[str], best: str) -> list[str]:
    """``candidates`` without repeats and without ``best``, in order."""
    seen = {best}
    return [c for c in candidates if not (c in seen or seen.add(c))]

