"""Errors a client can act on, and the handlers that turn every failure into a JSON answer.

Each :class:`ServiceError` carries its HTTP status and a message written for the client. Anything
else that escapes the app is caught by :class:`UnexpectedErrors`, logged once with its traceback and
answered with a generic 500, so no stack trace or internal detail ever reaches a client. Every error
body has the same shape: ``{"detail": "<message>"}`` (validation errors add ``"errors"``, one entry per
problem), and it can always be written, whatever a message quotes of the request.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("service")

BODY_PARSE_ERROR = "There was an error parsing the body"
JSON_TOO_DEEP = "the JSON is nested too deeply (arrays or objects within each other); send a flatter body"


class ServiceError(Exception):
    """A failure with a status code and a message meant for the client."""

    status_code = 500
    kind = "internal"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.extra: dict[str, Any] = {}  # more fields of the error body, e.g. the low-confidence sentences


class InvalidRequest(ServiceError):
    """The request is well-formed JSON but asks for something this server does not do (422)."""

    status_code = 422
    kind = "invalid"


class LimitExceeded(ServiceError):
    """The request is larger than a configured limit (413)."""

    status_code = 413
    kind = "too_large"


class UnsupportedMediaType(ServiceError):
    """An uploaded document of a format this server does not translate, or not what its name says (415)."""

    status_code = 415
    kind = "unsupported"


class BodyTimedOut(ServiceError):
    """A request body (an uploaded document) did not arrive within its time limit (408)."""

    status_code = 408
    kind = "timeout"


class NotFound(ServiceError):
    """No such document job or translated file, or not one of this API key's (404)."""

    status_code = 404
    kind = "not_found"


class Gone(ServiceError):
    """A translated document that was downloaded already, or cancelled, and so deleted (410)."""

    status_code = 410
    kind = "not_found"


class ModelNotFound(ServiceError):
    """No loaded model matches the requested model name or language pair (404)."""

    status_code = 404
    kind = "not_found"


class Unauthorized(ServiceError):
    """An API key is configured and the request did not present it (401)."""

    status_code = 401
    kind = "unauthorized"


class Overloaded(ServiceError):
    """The translation queue is full or the service is not accepting work (503 + Retry-After)."""

    status_code = 503
    kind = "overloaded"


class TimedOut(ServiceError):
    """The translation did not finish within the per-request timeout (504)."""

    status_code = 504
    kind = "timeout"


class ClientDisconnected(ServiceError):
    """The client hung up before its answer was ready (499, nginx's code; nobody reads it)."""

    status_code = 499
    kind = "disconnected"


class ErrorJSONResponse(JSONResponse):
    """A JSON answer that can always be written: text that UTF-8 cannot encode (a lone surrogate quoted
    from the request) is sent as a JSON ``\\u`` escape instead of failing the answer."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    """The JSON body every error uses."""
    return ErrorJSONResponse({"detail": message, **extra}, status_code=status_code, headers=headers)


def describe_validation_errors(errors: list[dict[str, Any]], limit: int = 5) -> tuple[str, list[dict[str, Any]]]:
    """A one-line summary and a JSON-safe list of pydantic errors (without echoing the input back)."""
    cleaned = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        kind = str(error.get("type", ""))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if kind == "json_invalid":
            position = location[1] if len(location) > 1 else "?"
            location, message = ["body"], f"the body is not valid JSON (error at character {position})"
        elif kind == "missing" and location == ["body"]:
            message = 'the request has no body; send a JSON object such as {"text": "..."}'
        elif kind == "model_attributes_type" and location == ["body"]:
            message = 'the body must be a JSON object such as {"text": "..."}, sent as application/json'
        cleaned.append({"loc": location, "msg": message, "type": kind})
    parts = [f"{'.'.join(e['loc']) or 'body'}: {e['msg']}" for e in cleaned[:limit]]
    if len(cleaned) > limit:
        parts.append(f"and {len(cleaned) - limit} more")
    return "invalid request: " + "; ".join(parts), cleaned


def install_error_handlers(app: FastAPI, count_error: Callable[[str], None]) -> None:
    """Register the handlers on ``app``; ``count_error(kind)`` feeds the error metric."""

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, error: ServiceError) -> JSONResponse:
        count_error(error.kind)
        return error_response(error.status_code, error.message, error.headers, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        count_error("invalid")
        message, errors = describe_validation_errors(list(error.errors()))
        return error_response(422, message, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else "request failed"
        if error.status_code == 400 and message == BODY_PARSE_ERROR:  # FastAPI's answer to undecodable bytes
            count_error("invalid")
            if isinstance(error.__cause__, RecursionError):
                return error_response(422, f"invalid request: body: {JSON_TOO_DEEP}")
            return error_response(422, "invalid request: body: the body is not valid JSON in UTF-8")
        count_error("not_found" if error.status_code == 404 else "http")
        if error.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}; see /docs"
        return error_response(error.status_code, message, getattr(error, "headers", None))


class UnexpectedErrors:
    """The outermost layer of the app: an exception that nothing else answered is logged once, with its
    traceback, and answered with a generic JSON 500 (or, when the answer had already begun, the connection
    is closed).

    Starlette's own last-resort handler re-raises after answering, so that the server logs the
    exception too: every 500 would log its traceback twice. This layer does not re-raise.
    """

    def __init__(self, app: ASGIApp, count_error: Callable[[str], None]) -> None:
        self.app = app
        self.count_error = count_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        except Exception:
            self.count_error("internal")
            logger.exception("unhandled error while serving %s %s", scope.get("method"), scope.get("path"))
            if not started:
                response = error_response(500, "internal server error; the server log has the details")
                await response(scope, receive, send)
