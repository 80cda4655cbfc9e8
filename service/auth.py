"""Optional API key: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request

from service.errors import Unauthorized


def presented_key(request: Request) -> bytes | None:
    """The key a request carries, as the raw header bytes (Bearer token first, then X-API-Key)."""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip().encode("latin-1")  # headers are decoded as latin-1, so this never fails
    api_key = request.headers.get("x-api-key")
    return api_key.strip().encode("latin-1") if api_key else None


def key_matches(presented: bytes | None, expected: str) -> bool:
    """Whether ``presented`` equals ``expected``, taking the same time wherever they differ."""
    return presented is not None and hmac.compare_digest(presented, expected.encode("utf-8"))


async def require_api_key(request: Request) -> None:
    """FastAPI dependency: pass when no key is configured or the request presents it, else 401."""
    expected = request.app.state.service.settings.api_key
    if expected is None:
        return
    if not key_matches(presented_key(request), expected.get_secret_value()):
        raise Unauthorized(
            "missing or wrong API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            {"WWW-Authenticate": "Bearer"},
        )
