"""Input limits from the settings: the request body size, and the size and options of a request.

Over a size limit the answer is 413, over an option limit 422; the message always names the limit
and the environment variable that sets it.
"""

from __future__ import annotations

from typing import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import InvalidRequest, LimitExceeded, error_response
from service.schemas import TranslateRequest
from service.settings import ServiceSettings, env_name


def check_request_limits(request: TranslateRequest, texts: list[str], settings: ServiceSettings) -> None:
    """Raise LimitExceeded (413) or InvalidRequest (422) when ``request`` is over a configured limit."""
    if len(texts) > settings.max_texts:
        raise LimitExceeded(
            f"the request has {len(texts)} texts; the limit is {settings.max_texts} texts per request "
            f"(max_texts, {env_name('max_texts')}); split it into several requests"
        )
    total = 0
    for index, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise LimitExceeded(
                f"text {index} has {len(text)} characters; the limit is {settings.max_text_chars} characters "
                f"per text (max_text_chars, {env_name('max_text_chars')}); split it into sentences"
            )
        total += len(text)
        _check_encodable(index, text)
    if total > settings.max_total_chars:
        raise LimitExceeded(
            f"the texts have {total} characters in all; the limit is {settings.max_total_chars} characters per "
            f"request (max_total_chars, {env_name('max_total_chars')}); split it into several requests"
        )
    if request.beam_size is not None and request.beam_size > settings.max_beam_size:
        raise InvalidRequest(
            f"beam_size {request.beam_size} is above this server's limit of {settings.max_beam_size} "
            f"(max_beam_size, {env_name('max_beam_size')})"
        )
    if request.n_best > settings.max_beam_size:
        raise InvalidRequest(
            f"n_best {request.n_best} is above this server's limit of {settings.max_beam_size} "
            f"(max_beam_size, {env_name('max_beam_size')})"
        )
    if request.max_output_length is not None and request.max_output_length > settings.max_output_length:
        raise InvalidRequest(
            f"max_output_length {request.max_output_length} is above this server's limit of "
            f"{settings.max_output_length} (max_output_length, {env_name('max_output_length')})"
        )


def _check_encodable(index: int, text: str) -> None:
    """Reject lone UTF-16 surrogates (valid in JSON escapes, not in text) before they reach the tokenizer."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidRequest(
            f"text {index} contains an unpaired surrogate U+{ord(text[error.start]):04X} at character "
            f"{error.start}; send valid Unicode"
        ) from None


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` (already read by a middleware), then defers to ``receive``."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class BodySizeLimitMiddleware:
    """Answer 413 when a request body is larger than ``max_bytes``, declared or streamed.

    The body is read here (it is small by construction) and replayed to the app, so chunked
    uploads without Content-Length are limited too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, count_error: Callable[[str], None]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.count_error = count_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send, f"{int(declared)} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._reject(scope, receive, send, f"more than {self.max_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, replaying(b"".join(chunks), receive), send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        self.count_error("too_large")
        response = error_response(
            413, f"the request body has {size}; the limit is {self.max_bytes} bytes "
            f"(max_body_bytes, {env_name('max_body_bytes')})", {"Connection": "close"},
        )
        await response(scope, receive, send)
