"""Optional API key: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, compared in constant time.

Requests with a body (POST, PUT, PATCH) are checked by :class:`ApiKeyGateMiddleware` from their
headers, before a byte of the body is read: a wrong key is answered 401 at once; a request without
a key in its headers may only send a small body (``max_keyless_body_bytes``, read within
``body_timeout_s``), because LibreTranslate's clients send their ``api_key`` in the body, where
:mod:`service.api.libretranslate` checks it before any work. So keyless clients cost little memory and
no long-held slot. ``GET`` endpoints check the key with the :func:`require_api_key` dependency.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Callable, Sequence

from fastapi import Request
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.errors import Unauthorized, error_response
from service.ops.limits import KEYLESS

BODY_METHODS = ("POST", "PUT", "PATCH")
UNAUTHORIZED_MESSAGE = "missing or wrong API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


def presented_key(request: HTTPConnection) -> bytes | None:
    """The key a request carries, as the raw header bytes (Bearer token first, then X-API-Key)."""
    headers = request.headers
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip().encode("latin-1")  # headers are decoded as latin-1, so this never fails
    api_key = headers.get("x-api-key")
    return api_key.strip().encode("latin-1") if api_key else None


def key_matches(presented: bytes | None, expected: str) -> bool:
    """Whether ``presented`` equals ``expected``, taking the same time wherever they differ."""
    return presented is not None and hmac.compare_digest(presented, expected.encode("utf-8"))


def matching_key(presented: bytes | None, keys: Sequence[str]) -> str | None:
    """The key of ``keys`` that ``presented`` is (each compared in constant time), or None."""
    found = None
    for key in keys:
        if key_matches(presented, key):
            found = key
    return found


def key_owner(key: str | None) -> str:
    """Who owns what a key stores (named glossaries): a digest of the key, never the key itself; "" on a server
    without keys, where every client is the same owner."""
    return "" if key is None else hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


async def require_api_key(request: Request) -> None:
    """FastAPI dependency: pass when no key is configured or the request presents one of the keys, else 401."""
    keys = request.app.state.service.settings.api_keys
    if not keys:
        return
    if matching_key(presented_key(request), keys) is None:
        raise Unauthorized(UNAUTHORIZED_MESSAGE, {"WWW-Authenticate": "Bearer"})


async def request_owner(request: Request) -> str:
    """FastAPI dependency: :func:`require_api_key`, then the owner (:func:`key_owner`) of the key presented."""
    await require_api_key(request)
    keys = request.app.state.service.settings.api_keys
    return key_owner(matching_key(presented_key(request), keys) if keys else None)


class ApiKeyGateMiddleware:
    """Check the API key of a request with a body from its headers, before the body is read (module docstring).

    A wrong key is answered 401 at once; a request without one is marked keyless (``scope[KEYLESS]``)
    for the body-size limit, which then allows only ``max_keyless_body_bytes``.
    """

    def __init__(self, app: ASGIApp, api_keys: Sequence[str], count_error: Callable[[str], None]) -> None:
        self.app = app
        self.api_keys = list(api_keys)
        self.count_error = count_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.api_keys or scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        presented = presented_key(HTTPConnection(scope))
        if presented is None:
            await self.app({**scope, KEYLESS: True}, receive, send)
            return
        if matching_key(presented, self.api_keys) is not None:
            await self.app(scope, receive, send)
            return
        self.count_error("unauthorized")
        # Connection: close, so the unread body is never read: the server drops it with the connection.
        response = error_response(401, UNAUTHORIZED_MESSAGE, {"WWW-Authenticate": "Bearer", "Connection": "close"})
        await response(scope, receive, send)
