"""The HTTP connections of ``translator-serve``: uvicorn's h11 protocol with the service's bounds.

uvicorn closes a keep-alive connection that stays idle ``timeout_keep_alive`` seconds after an answer,
but the first byte that arrives cancels that timer, and nothing limits a connection before its first
request: a client that connects and sends nothing, or trickles a header byte every few seconds,
holds a connection (and a file descriptor) for ever. Nor is the number of connections bounded, and
malformed HTTP is answered in text/plain. :class:`GuardedH11Protocol` adds, per connection:

- **A deadline for the request head.** From the moment a connection may send a request (it opened, or
  its last answer was written) its request line and headers must have arrived within
  ``header_timeout_s``; bytes trickling in do not extend it. Past it the connection is closed, with a
  JSON 408 when part of a head had arrived. A request being served is not affected: its body has
  ``body_timeout_s`` and its translation ``request_timeout_s``.
- **A connection limit.** A request that arrives while more than ``max_connections`` connections are
  open (its own included) gets a JSON 503 with ``Retry-After``, and its connection is closed. Idle
  connections count, so the head deadline is what frees them.
- **JSON for malformed HTTP.** What h11 cannot parse (or a head still arriving past
  ``max_header_bytes``) gets a JSON 400, as every other error is JSON.

These bound what one client costs; they do not stop a flood from many addresses. Where untrusted
clients can reach the service, put it behind a proxy or ingress that limits connections per client
(docs/operations.md).
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass
from typing import Any, Callable

import h11
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.errors import error_response
from service.settings import ServiceSettings, env_name


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds :class:`GuardedH11Protocol` keeps (see the module docstring)."""

    header_timeout_s: float
    max_connections: int
    max_header_bytes: int
    retry_after_s: int

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "ConnectionLimits":
        return cls(settings.header_timeout_s, settings.max_connections, settings.max_header_bytes,
                   settings.retry_after_s)


def guarded_protocol(settings: ServiceSettings) -> Callable[..., GuardedH11Protocol]:
    """The ``http`` protocol to give ``uvicorn.Config``: h11, with ``settings``' connection bounds."""
    return functools.partial(GuardedH11Protocol, limits=ConnectionLimits.from_settings(settings))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a head deadline, a connection limit and JSON parse errors (module docstring)."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.app = self._within_connection_limit(self.app)
        self._head_deadline: asyncio.TimerHandle | None = None

    # The head deadline: set when the connection may send a request, checked when it fires.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        self._head_deadline = self.loop.call_later(self.limits.header_timeout_s, self._head_overdue)

    def _head_overdue(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return  # closed already, or a request is being served (its own limits apply)
        partial_head, _ = self.conn.trailing_data
        if not partial_head:  # idle: close as an expired keep-alive connection is closed
            self.transport.close()
            return
        self._answer_and_close(408, f"the request line and headers did not arrive within "
                               f"{self.limits.header_timeout_s:g} s (header_timeout_s, {env_name('header_timeout_s')})")

    # Malformed HTTP: uvicorn calls this when h11 cannot parse what arrived.

    def send_400_response(self, msg: str) -> None:
        partial_head, _ = self.conn.trailing_data
        if len(partial_head) > self.limits.max_header_bytes:
            detail = (f"the request line and headers are longer than {self.limits.max_header_bytes} bytes "
                      f"(max_header_bytes, {env_name('max_header_bytes')})")
        else:
            detail = "malformed HTTP request: the request line or headers could not be parsed"
        self._answer_and_close(400, detail)

    def _answer_and_close(self, status: int, detail: str) -> None:
        """Write a JSON error outside any request cycle, then close the connection."""
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            output = self.conn.send(h11.Response(status_code=status, headers=headers, reason=STATUS_PHRASES[status]))
            output = (output or b"") + (self.conn.send(h11.Data(data=body)) or b"")
            output += self.conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:  # an answer had begun on this connection: closing is all that is left
            output = b""
        if output:
            self.transport.write(output)
        self.transport.close()

    # The connection limit, checked when a request arrives.

    def _within_connection_limit(self, app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and len(self.connections) > self.limits.max_connections:
                response = error_response(
                    503, f"the server has {len(self.connections)} connections open, more than its limit of "
                    f"{self.limits.max_connections} (max_connections, {env_name('max_connections')}); retry shortly",
                    {"Retry-After": str(self.limits.retry_after_s), "Connection": "close"},
                )
                await response(scope, receive, send)
                return
            await app(scope, receive, send)

        return guarded
