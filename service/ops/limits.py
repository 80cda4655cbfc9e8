"""Input limits from the settings: the request body size and read time, and the size of a request's texts.

Over a size limit the answer is 413, a body that does not arrive in time 408; the message always names
the limit and the environment variable that sets it. (Search options over ``max_beam_size`` and
``max_output_length`` are refused where they are resolved: ``translator.search.options.resolve_search``.)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import BodyTimedOut, InvalidRequest, LimitExceeded, error_response
from service.settings import ServiceSettings, env_name


def check_texts(texts: list[str], settings: ServiceSettings) -> None:
    """Raise LimitExceeded (413) when ``texts`` are more or longer than the limits allow, InvalidRequest (422)
    when one is not valid Unicode (holds a lone surrogate)."""
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


KEYLESS = "translator.keyless"  # scope key: the request's headers carry no API key (set by the key gate)
ALLOWANCE = "translator.upload_allowance"  # scope key of an upload's UploadAllowance (set by the body-size limit)


@dataclass
class UploadAllowance:
    """How many bytes an upload may send: the keyless limit until the endpoint has seen a right API key in the
    body's fields before the file (:meth:`grant`), the document limit after. ``received`` counts what came."""

    limit: int
    full: int
    received: int = 0

    def grant(self) -> None:
        """The upload's key is right: it may send up to the document limit."""
        self.limit = self.full


class HeaderSizeLimitMiddleware:
    """Answer 431 when the request line and headers together exceed ``max_bytes``.

    The HTTP parser (h11, set up by ``translator-serve``) already refuses a head that is still
    incomplete past that size with a 400; this catches one that arrived complete in a single read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, count_error: Callable[[str], None]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.count_error = count_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + sum(
                len(name) + len(value) + 4 for name, value in scope.get("headers") or [])
            if size > self.max_bytes:
                self.count_error("too_large")
                response = error_response(
                    431, f"the request line and headers have about {size} bytes; the limit is {self.max_bytes} "
                    f"(max_header_bytes, {env_name('max_header_bytes')})", {"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    """Answer 413 when a request body is larger than ``max_bytes``, declared or streamed, and 408 when
    it has not arrived in full within ``timeout_s``. A request the API-key gate marked keyless
    (``scope[KEYLESS]``) may only send ``keyless_max_bytes``.

    The body is read here (it is small by construction) and replayed to the app, so chunked
    uploads without Content-Length are limited too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, count_error: Callable[[str], None],
                 timeout_s: float | None = None, keyless_max_bytes: int | None = None,
                 upload_paths: frozenset[str] = frozenset(), upload_max_bytes: int = 0,
                 upload_timeout_s: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.count_error = count_error
        self.timeout_s = timeout_s
        self.keyless_max_bytes = keyless_max_bytes if keyless_max_bytes is not None else max_bytes
        self.upload_paths = upload_paths
        self.upload_max_bytes = upload_max_bytes
        self.upload_timeout_s = upload_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        keyless = bool(scope.get(KEYLESS))
        if scope.get("path") in self.upload_paths:
            await self._stream_upload(scope, receive, send, keyless)
            return
        limit, setting = (self.keyless_max_bytes, "max_keyless_body_bytes") if keyless else (self.max_bytes, "max_body_bytes")
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, f"{int(declared)} bytes", limit, setting)
            return
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.timeout_s if self.timeout_s is not None else None
        while True:
            try:
                message = await asyncio.wait_for(receive(), None if deadline is None else deadline - time.monotonic())
            except asyncio.TimeoutError:
                await self._too_slow(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await self._reject(scope, receive, send, f"more than {limit} bytes", limit, setting)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, replaying(b"".join(chunks), receive), send)

    async def _stream_upload(self, scope: Scope, receive: Receive, send: Send, keyless: bool) -> None:
        """An upload (a document) is not read here but counted as the endpoint reads it: past the allowance the
        endpoint's next read raises LimitExceeded (413), past ``upload_timeout_s`` BodyTimedOut (408). So a
        document is never held in memory beyond its limit, and its parser spools it to disk as it arrives."""
        limit, setting = self.upload_max_bytes, "max_document_bytes"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(scope, receive, send, f"{int(declared)} bytes", limit, setting)
            return
        allowance = UploadAllowance(self.keyless_max_bytes if keyless else limit, limit)
        deadline = None if self.upload_timeout_s is None else time.monotonic() + self.upload_timeout_s
        complete = False

        async def counted() -> Message:
            nonlocal complete
            if complete:  # the body is in: what comes now is the client hanging up, at any time
                return await receive()
            if allowance.received > allowance.limit:
                self.count_error("too_large")
                raise LimitExceeded(_too_large(f"more than {allowance.limit} bytes", allowance.limit,
                                               setting if allowance.limit == limit else "max_keyless_body_bytes"),
                                    {"Connection": "close"})
            try:
                message = await asyncio.wait_for(receive(), None if deadline is None else deadline - time.monotonic())
            except asyncio.TimeoutError:
                self.count_error("timeout")
                raise BodyTimedOut(f"the upload did not arrive within {self.upload_timeout_s:g} s "
                                   f"(document_upload_timeout_s, {env_name('document_upload_timeout_s')})",
                                   {"Connection": "close"}) from None
            if message["type"] == "http.request":
                allowance.received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if allowance.received > limit:
                    self.count_error("too_large")
                    raise LimitExceeded(_too_large(f"more than {limit} bytes", limit, setting), {"Connection": "close"})
            return message

        await self.app({**scope, ALLOWANCE: allowance}, counted, send)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.count_error("timeout")
        response = error_response(
            408, f"the request body did not arrive within {self.timeout_s:g} s (body_timeout_s, "
            f"{env_name('body_timeout_s')})", {"Connection": "close"},
        )
        await response(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, size: str, limit: int, setting: str) -> None:
        self.count_error("too_large")
        response = error_response(413, _too_large(size, limit, setting), {"Connection": "close"})
        await response(scope, receive, send)


def _too_large(size: str, limit: int, setting: str) -> str:
    """The message of a 413 for a body of ``size`` over ``limit`` bytes, set by ``setting``."""
    advice = ("; send the API key in a header (or, in a form, before the file) to send more"
              if setting == "max_keyless_body_bytes" else "")
    return f"the request body has {size}; the limit is {limit} bytes ({setting}, {env_name(setting)}){advice}"
