"""HTTP/1.1 connections that read response bodies in bulk, under httpcore's own pool.

This module holds what the async and sync twins share: the connection's state
and bookkeeping, its connect and TLS arguments, the body and replay records and
the pools' settings. The I/O shells, ``AsyncBulkConnection`` and
``AsyncBulkConnectionPool``, are written once in ``_async/connection.py``;
``BulkConnection`` and ``BulkConnectionPool`` in ``_sync/connection.py`` are
generated from them by ``scripts/unasync.py``.

The connections implement httpcore's connection interface, so httpcore's pool
keeps doing what it does well (limits, queueing, keep-alive expiry) and errors
are mapped as httpx maps them. What changes is the response body: instead of
one h11 event, one httpcore yield and one httpx yield per HTTP chunk, each
socket read becomes one piece of body, whatever number of chunks it held (see
:mod:`streamsafe._http11`, which holds all of the protocol logic; the
connections only move bytes).

The pools are httpcore's, built from httpcore's public arguments; they open
bulk connections for direct HTTP/1.1 origins (``http://``, ``https://``, Unix
sockets) and leave HTTP/2 to httpcore's own connection;
:mod:`streamsafe.transport` builds them (and httpcore's proxy pools for
proxied routes).

httpcore's ``trace`` extension sees the same events as from httpcore's own
connections (``connection.connect_tcp``, ``connection.start_tls``,
``http11.send_request_headers``, ``http11.receive_response_body``, ...), with
the same names and arguments, and they are logged the same way to the
``httpcore.connection`` and ``httpcore.http11`` loggers (see
:mod:`streamsafe._trace`). One difference in timing: the request head and a
small body go out in one write, so that write happens inside
``send_request_body``.

Other differences from httpcore's HTTP/1.1 connection, all deliberate: chunk
extensions and trailers are validated and dropped, as httpcore drops them;
see ``tests/test_connection_differential.py`` for the framing cases where the
two part and why.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import httpcore

from ._http11 import Exchange, ResponseHead

__all__ = ["READ_SIZE", "BodyCore", "BulkPoolCore", "ConnectSettings", "ConnectionCore", "Replay"]

READ_SIZE: Final = 64 * 1024
"""Bytes asked of the socket per read (httpcore's own value)."""

_NEW, _ACTIVE, _IDLE, _CLOSED = "NEW", "ACTIVE", "IDLE", "CLOSED"


_Stream = TypeVar("_Stream", httpcore.AsyncNetworkStream, httpcore.NetworkStream)
_Connection = TypeVar("_Connection")


@dataclass(frozen=True)
class ConnectSettings:
    """How a pool opens its connections (what httpcore's pool was configured with)."""

    ssl_context: ssl.SSLContext | None
    keepalive_expiry: float | None
    retries: int
    local_address: str | None
    uds: str | None
    socket_options: Any
    network_backend: Any


class ConnectionCore(Generic[_Stream]):
    """Everything the async and sync connections share: state, bookkeeping, arguments.

    States: NEW → ACTIVE ⇄ IDLE → CLOSED. The I/O shells only move bytes.
    """

    def __init__(self, origin: httpcore.Origin, settings: ConnectSettings) -> None:
        self._origin = origin
        self._settings = settings
        self._state = _NEW
        self._expire_at: float | None = None
        self._request_count = 0
        self._exchange: Exchange | None = None
        self._stream: _Stream | None = None
        self._lock = threading.Lock()

    def _claim(self, request: httpcore.Request) -> Exchange:
        """Take the connection for ``request`` (or raise ConnectionNotAvailable)."""
        if request.url.origin != self._origin:
            raise RuntimeError(
                f"Attempted to send request to {request.url.origin} on connection to {self._origin}"
            )
        with self._lock:
            if self._state not in (_NEW, _IDLE):
                raise httpcore.ConnectionNotAvailable()
            self._state = _ACTIVE
            self._expire_at = None
            self._request_count += 1
            exchange = Exchange(request.method, request.url.target, request.headers)
            self._exchange = exchange
            return exchange

    def _release(self, exchange: Exchange) -> _Stream | None:
        """The response of ``exchange`` is closed: the socket to close, if it cannot be reused."""
        with self._lock:
            if self._exchange is not exchange or self._state != _ACTIVE:
                return None  # released already
            self._exchange = None
            if exchange.reusable:
                self._state = _IDLE
                expiry = self._settings.keepalive_expiry
                if expiry is not None:
                    self._expire_at = time.monotonic() + expiry
                return None
        return self._detach()

    def _detach(self) -> _Stream | None:
        """Mark the connection closed; the socket to close (once)."""
        with self._lock:
            self._state = _CLOSED
            self._exchange = None
            stream, self._stream = self._stream, None
        return stream

    @staticmethod
    def _timeouts(request: httpcore.Request) -> dict[str, float | None]:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        return timeouts

    def _socket_call(self, timeout: float | None) -> tuple[str, dict[str, Any]]:
        """``connect_tcp`` (or ``connect_unix_socket``) and its arguments, as httpcore's."""
        settings = self._settings
        options = settings.socket_options
        if settings.uds is not None:
            return "connect_unix_socket", {
                "path": settings.uds,
                "timeout": timeout,
                "socket_options": options,
            }
        host = self._origin.host.decode("ascii")
        return "connect_tcp", {
            "host": host,
            "port": self._origin.port,
            "local_address": settings.local_address,
            "timeout": timeout,
            "socket_options": options,
        }

    def _tls_arguments(
        self, request: httpcore.Request, timeout: float | None
    ) -> dict[str, Any] | None:
        """Keyword arguments of ``start_tls``, or None for a plain-text origin."""
        if self._origin.scheme not in (b"https", b"wss"):
            return None
        context = self._settings.ssl_context or httpcore.default_ssl_context()
        context.set_alpn_protocols(["http/1.1"])
        sni: str | None = request.extensions.get("sni_hostname")
        return {
            "ssl_context": context,
            "server_hostname": sni or self._origin.host.decode("ascii"),
            "timeout": timeout,
        }

    @staticmethod
    def _head_trace(head: ResponseHead) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
        """What httpcore's ``receive_response_headers`` trace returns."""
        return b"HTTP/" + head.http_version, head.status, head.reason, head.headers

    def _response(
        self, head: ResponseHead, content: Any, network_stream: object
    ) -> httpcore.Response:
        return httpcore.Response(
            status=head.status,
            headers=head.headers,
            content=content,
            extensions={
                "http_version": b"HTTP/" + head.http_version,
                "reason_phrase": head.reason,
                "network_stream": network_stream,
            },
        )

    # -- the connection interface (shared by both twins) --------------------

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self._origin

    def is_available(self) -> bool:
        return self._state == _IDLE

    def is_idle(self) -> bool:
        return self._state == _IDLE

    def is_closed(self) -> bool:
        return self._state == _CLOSED

    def has_expired(self) -> bool:
        if self._state != _IDLE:
            return False
        # An idle connection whose socket is readable has been closed by the
        # server (or sent garbage): either way it cannot be reused.
        stream: Any = self._stream
        if stream is not None and stream.get_extra_info("is_readable"):
            return True
        return self._expire_at is not None and time.monotonic() > self._expire_at

    def info(self) -> str:
        origin = str(self._origin)
        return f"{origin!r}, HTTP/1.1 (bulk), {self._state}, Request Count: {self._request_count}"

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} [{str(self._origin)!r}, {self._state}, "
            f"Request Count: {self._request_count}]>"
        )


class BodyCore(Generic[_Connection, _Stream]):
    """What the two body iterators share: where the body comes from."""

    def __init__(
        self,
        connection: _Connection,
        exchange: Exchange,
        stream: _Stream,
        request: httpcore.Request,
        timeout: float | None,
    ) -> None:
        self._connection = connection
        self._exchange = exchange
        self._stream: _Stream = stream
        self._request = request
        self._timeout = timeout
        self._closed = False


class Replay(Generic[_Stream]):
    """The socket after a protocol switch: bytes that arrived with the head come first."""

    def __init__(self, stream: _Stream, trailing: bytes) -> None:
        self._stream: _Stream = stream
        self._trailing = trailing

    def _replayed(self, max_bytes: int) -> bytes:
        data, self._trailing = self._trailing[:max_bytes], self._trailing[max_bytes:]
        return data

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


# ---------------------------------------------------------------------------
# Async


class BulkPoolCore:
    """What the two pools share: the settings their bulk connections are opened with."""

    def _bulk_init(
        self,
        ssl_context: ssl.SSLContext | None,
        keepalive_expiry: float | None,
        http1: bool,
        http2: bool,
        retries: int,
        local_address: str | None,
        uds: str | None,
        network_backend: Any,
        socket_options: Any,
    ) -> None:
        # HTTP/2 (and a pool without HTTP/1.1) needs httpcore's own connection.
        self._streamsafe_bulk: ConnectSettings | None = (
            ConnectSettings(
                ssl_context=ssl_context,
                keepalive_expiry=keepalive_expiry,
                retries=retries,
                local_address=local_address,
                uds=uds,
                socket_options=socket_options,
                network_backend=network_backend,
            )
            if http1 and not http2
            else None
        )
