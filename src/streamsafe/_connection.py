"""HTTP/1.1 connections that read response bodies in bulk, under httpcore's own pool.

:class:`AsyncBulkConnection` and :class:`BulkConnection` implement httpcore's
connection interface, so httpcore's pool keeps doing what it does well
(limits, queueing, keep-alive expiry) and httpx maps every error as usual.
What changes is the response body: instead of one h11 event, one httpcore
yield and one httpx yield per HTTP chunk, each socket read becomes one piece of
body, whatever number of chunks it held (see :mod:`streamsafe._http11`, which
holds all of the protocol logic; the two classes here only move bytes).

:class:`BulkAsyncConnectionPool` / :class:`BulkConnectionPool` open these for
direct HTTP/1.1 origins (``http://``, ``https://``, Unix sockets) and leave
proxied, HTTP/2 and SOCKS connections to httpcore's own classes.
:func:`use_bulk_connections` swaps the pool of an httpx transport for one of
them.

Differences from httpcore's HTTP/1.1 connection, all deliberate: httpcore's
``trace`` extension sees no per-connection events; chunk extensions and
trailers are validated and dropped, as httpcore drops them.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Final

import anyio
import httpcore
import httpx

from ._http11 import Exchange, ResponseHead, connect_delays

__all__ = [
    "AsyncBulkConnection",
    "BulkAsyncConnectionPool",
    "BulkConnection",
    "BulkConnectionPool",
    "use_bulk_connections",
]

READ_SIZE: Final = 64 * 1024
"""Bytes asked of the socket per read (httpcore's own value)."""

_WRITE_BATCH: Final = 64 * 1024
"""Request bytes gathered before a write: head and a small body go out in one."""

_NEW, _ACTIVE, _IDLE, _CLOSED = "NEW", "ACTIVE", "IDLE", "CLOSED"


@dataclass(frozen=True)
class _ConnectSettings:
    """How a pool opens its connections (what httpcore's pool was configured with)."""

    ssl_context: ssl.SSLContext | None
    keepalive_expiry: float | None
    retries: int
    local_address: str | None
    uds: str | None
    socket_options: Any
    network_backend: Any


class _ConnectionCore:
    """State shared by the async and sync connections: NEW → ACTIVE ⇄ IDLE → CLOSED."""

    def __init__(self, origin: httpcore.Origin, settings: _ConnectSettings) -> None:
        self._origin = origin
        self._settings = settings
        self._state = _NEW
        self._expire_at: float | None = None
        self._request_count = 0
        self._exchange: Exchange | None = None
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

    def _release(self, exchange: Exchange) -> bool:
        """The response of ``exchange`` is closed: True when the socket must be closed."""
        with self._lock:
            if self._exchange is not exchange or self._state != _ACTIVE:
                return False  # released already
            self._exchange = None
            if exchange.reusable:
                self._state = _IDLE
                expiry = self._settings.keepalive_expiry
                if expiry is not None:
                    self._expire_at = time.monotonic() + expiry
                return False
            self._state = _CLOSED
            return True

    def _timeouts(self, request: httpcore.Request) -> dict[str, float | None]:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        return timeouts

    def _tls_context(self) -> ssl.SSLContext:
        context = self._settings.ssl_context or httpcore.default_ssl_context()
        context.set_alpn_protocols(["http/1.1"])
        return context

    def _server_hostname(self, request: httpcore.Request) -> str:
        sni: str | None = request.extensions.get("sni_hostname")
        return sni or self._origin.host.decode("ascii")

    def _needs_tls(self) -> bool:
        return self._origin.scheme in (b"https", b"wss")

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
        stream: Any = getattr(self, "_stream", None)
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


# ---------------------------------------------------------------------------
# Async
# ---------------------------------------------------------------------------


class AsyncBulkConnection(_ConnectionCore, httpcore.AsyncConnectionInterface):
    """One HTTP/1.1 connection to one origin; response bodies are read in bulk."""

    def __init__(self, origin: httpcore.Origin, settings: _ConnectSettings) -> None:
        super().__init__(origin, settings)
        self._stream: httpcore.AsyncNetworkStream | None = None

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        exchange = self._claim(request)
        timeouts = self._timeouts(request)
        try:
            stream = self._stream
            if stream is None:
                stream = self._stream = await self._connect(request, timeouts.get("connect"))
            await self._send(stream, exchange, request, timeouts.get("write"))
            head = await self._receive_head(stream, exchange, timeouts.get("read"))
        except BaseException:
            await self._force_close()
            raise
        if head.upgraded:
            upgraded = _AsyncUpgradedStream(stream, exchange.trailing_data)
            return self._response(head, _AsyncBody(self, exchange, stream, None), upgraded)
        body = _AsyncBody(self, exchange, stream, timeouts.get("read"))
        return self._response(head, body, stream)

    async def _connect(
        self, request: httpcore.Request, connect_timeout: float | None
    ) -> httpcore.AsyncNetworkStream:
        settings = self._settings
        backend = settings.network_backend
        delays = connect_delays(settings.retries)
        while True:
            try:
                if settings.uds is None:
                    stream: httpcore.AsyncNetworkStream = await backend.connect_tcp(
                        self._origin.host.decode("ascii"),
                        self._origin.port,
                        timeout=connect_timeout,
                        local_address=settings.local_address,
                        socket_options=settings.socket_options,
                    )
                else:
                    stream = await backend.connect_unix_socket(
                        settings.uds,
                        timeout=connect_timeout,
                        socket_options=settings.socket_options,
                    )
                if self._needs_tls():
                    stream = await stream.start_tls(
                        self._tls_context(),
                        server_hostname=self._server_hostname(request),
                        timeout=connect_timeout,
                    )
                return stream
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                delay = next(delays, None)
                if delay is None:
                    raise
                await backend.sleep(delay)

    async def _send(
        self,
        stream: httpcore.AsyncNetworkStream,
        exchange: Exchange,
        request: httpcore.Request,
        write_timeout: float | None,
    ) -> None:
        pending = [exchange.start()]
        size = len(pending[0])
        try:
            async for piece in request.stream:  # type: ignore[union-attr]
                data = exchange.send_body(piece)
                pending.append(data)
                size += len(data)
                if size >= _WRITE_BATCH:
                    await stream.write(b"".join(pending), timeout=write_timeout)
                    pending, size = [], 0
            pending.append(exchange.finish())
            await stream.write(b"".join(pending), timeout=write_timeout)
        except httpcore.WriteError:
            # The server may have answered early (a 413, say) and closed its
            # side: read what it said rather than report a broken pipe.
            pass

    async def _receive_head(
        self, stream: httpcore.AsyncNetworkStream, exchange: Exchange, read_timeout: float | None
    ) -> ResponseHead:
        while True:
            head = exchange.receive_head(await stream.read(READ_SIZE, timeout=read_timeout))
            if head is not None:
                return head

    async def _response_closed(self, exchange: Exchange) -> None:
        if self._release(exchange):
            await self._close_stream()

    async def _force_close(self) -> None:
        with self._lock:
            self._state = _CLOSED
            self._exchange = None
        await self._close_stream()

    async def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def aclose(self) -> None:
        await self._force_close()

    async def __aenter__(self) -> AsyncBulkConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _AsyncBody:
    """The body of one response: one ``bytes`` per socket read, however many chunks it held."""

    def __init__(
        self,
        connection: AsyncBulkConnection,
        exchange: Exchange,
        stream: httpcore.AsyncNetworkStream,
        timeout: float | None,
    ) -> None:
        self._connection = connection
        self._exchange = exchange
        self._stream = stream
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        first = exchange.first_body_bytes()
        if first:
            yield first
        read, timeout = self._stream.read, self._timeout
        while not exchange.body_done:
            payload = exchange.receive_body(await read(READ_SIZE, timeout=timeout))
            if payload:
                yield payload

    async def aclose(self) -> None:
        await self._connection._response_closed(self._exchange)


class _AsyncUpgradedStream(httpcore.AsyncNetworkStream):
    """The socket after a protocol switch, replaying bytes that arrived with the head."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, trailing: bytes) -> None:
        self._stream = stream
        self._trailing = trailing

    # httpcore's network stream interface takes its timeouts as arguments.
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        if self._trailing:
            data, self._trailing = self._trailing[:max_bytes], self._trailing[max_bytes:]
            return data
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        return await self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


# ---------------------------------------------------------------------------
# Sync
# ---------------------------------------------------------------------------


class BulkConnection(_ConnectionCore, httpcore.ConnectionInterface):
    """Synchronous twin of :class:`AsyncBulkConnection`."""

    def __init__(self, origin: httpcore.Origin, settings: _ConnectSettings) -> None:
        super().__init__(origin, settings)
        self._stream: httpcore.NetworkStream | None = None

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        exchange = self._claim(request)
        timeouts = self._timeouts(request)
        try:
            stream = self._stream
            if stream is None:
                stream = self._stream = self._connect(request, timeouts.get("connect"))
            self._send(stream, exchange, request, timeouts.get("write"))
            head = self._receive_head(stream, exchange, timeouts.get("read"))
        except BaseException:
            self._force_close()
            raise
        if head.upgraded:
            upgraded = _SyncUpgradedStream(stream, exchange.trailing_data)
            return self._response(head, _SyncBody(self, exchange, stream, None), upgraded)
        body = _SyncBody(self, exchange, stream, timeouts.get("read"))
        return self._response(head, body, stream)

    def _connect(self, request: httpcore.Request, timeout: float | None) -> httpcore.NetworkStream:
        settings = self._settings
        backend = settings.network_backend
        delays = connect_delays(settings.retries)
        while True:
            try:
                if settings.uds is None:
                    stream: httpcore.NetworkStream = backend.connect_tcp(
                        self._origin.host.decode("ascii"),
                        self._origin.port,
                        timeout=timeout,
                        local_address=settings.local_address,
                        socket_options=settings.socket_options,
                    )
                else:
                    stream = backend.connect_unix_socket(
                        settings.uds, timeout=timeout, socket_options=settings.socket_options
                    )
                if self._needs_tls():
                    stream = stream.start_tls(
                        self._tls_context(),
                        server_hostname=self._server_hostname(request),
                        timeout=timeout,
                    )
                return stream
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                delay = next(delays, None)
                if delay is None:
                    raise
                backend.sleep(delay)

    def _send(
        self,
        stream: httpcore.NetworkStream,
        exchange: Exchange,
        request: httpcore.Request,
        timeout: float | None,
    ) -> None:
        pending = [exchange.start()]
        size = len(pending[0])
        try:
            for piece in request.stream:  # type: ignore[union-attr]
                data = exchange.send_body(piece)
                pending.append(data)
                size += len(data)
                if size >= _WRITE_BATCH:
                    stream.write(b"".join(pending), timeout=timeout)
                    pending, size = [], 0
            pending.append(exchange.finish())
            stream.write(b"".join(pending), timeout=timeout)
        except httpcore.WriteError:
            pass  # as in the async twin: read the early answer instead

    def _receive_head(
        self, stream: httpcore.NetworkStream, exchange: Exchange, timeout: float | None
    ) -> ResponseHead:
        while True:
            head = exchange.receive_head(stream.read(READ_SIZE, timeout=timeout))
            if head is not None:
                return head

    def _response_closed(self, exchange: Exchange) -> None:
        if self._release(exchange):
            self._close_stream()

    def _force_close(self) -> None:
        with self._lock:
            self._state = _CLOSED
            self._exchange = None
        self._close_stream()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def close(self) -> None:
        self._force_close()

    def __enter__(self) -> BulkConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _SyncBody:
    """Synchronous twin of :class:`_AsyncBody`."""

    def __init__(
        self,
        connection: BulkConnection,
        exchange: Exchange,
        stream: httpcore.NetworkStream,
        timeout: float | None,
    ) -> None:
        self._connection = connection
        self._exchange = exchange
        self._stream = stream
        self._timeout = timeout

    def __iter__(self) -> Iterator[bytes]:
        exchange = self._exchange
        first = exchange.first_body_bytes()
        if first:
            yield first
        read, timeout = self._stream.read, self._timeout
        while not exchange.body_done:
            payload = exchange.receive_body(read(READ_SIZE, timeout=timeout))
            if payload:
                yield payload

    def close(self) -> None:
        self._connection._response_closed(self._exchange)


class _SyncUpgradedStream(httpcore.NetworkStream):
    """Synchronous twin of :class:`_AsyncUpgradedStream`."""

    def __init__(self, stream: httpcore.NetworkStream, trailing: bytes) -> None:
        self._stream = stream
        self._trailing = trailing

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._trailing:
            data, self._trailing = self._trailing[:max_bytes], self._trailing[max_bytes:]
            return data
        return self._stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


# ---------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------


def _pool_arguments(pool: Any) -> dict[str, Any]:
    """The arguments ``pool`` was built with (httpcore 1.0 keeps them as attributes)."""
    return {
        "ssl_context": pool._ssl_context,
        "proxy": pool._proxy,
        "max_connections": pool._max_connections,
        "max_keepalive_connections": pool._max_keepalive_connections,
        "keepalive_expiry": pool._keepalive_expiry,
        "http1": pool._http1,
        "http2": pool._http2,
        "retries": pool._retries,
        "local_address": pool._local_address,
        "uds": pool._uds,
        "network_backend": pool._network_backend,
        "socket_options": pool._socket_options,
    }


def _bulk_settings(pool: Any) -> _ConnectSettings | None:
    """Connect settings for a bulk connection, or None when httpcore's own is needed."""
    if pool._proxy is not None or pool._http2 or not pool._http1:
        return None
    return _ConnectSettings(
        ssl_context=pool._ssl_context,
        keepalive_expiry=pool._keepalive_expiry,
        retries=pool._retries,
        local_address=pool._local_address,
        uds=pool._uds,
        socket_options=pool._socket_options,
        network_backend=pool._network_backend,
    )


class BulkAsyncConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's async pool, opening :class:`AsyncBulkConnection` for direct HTTP/1.1."""

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        settings = _bulk_settings(self)
        if settings is None:
            return super().create_connection(origin)
        return AsyncBulkConnection(origin, settings)


class BulkConnectionPool(httpcore.ConnectionPool):
    """httpcore's sync pool, opening :class:`BulkConnection` for direct HTTP/1.1."""

    def create_connection(self, origin: httpcore.Origin) -> httpcore.ConnectionInterface:
        settings = _bulk_settings(self)
        if settings is None:
            return super().create_connection(origin)
        return BulkConnection(origin, settings)


def use_bulk_connections(transport: httpx.AsyncHTTPTransport | httpx.HTTPTransport) -> bool:
    """Give an httpx transport a bulk pool with the same settings; False if it cannot.

    Only a transport whose pool is exactly httpcore's direct pool is changed
    (not a proxy pool, not a pool of another kind), and only if that pool
    still exposes its settings the way httpcore 1.0 does.
    """
    pool: Any = getattr(transport, "_pool", None)
    replacement: type[httpcore.AsyncConnectionPool] | type[httpcore.ConnectionPool]
    if type(pool) is httpcore.AsyncConnectionPool:
        replacement = BulkAsyncConnectionPool
    elif type(pool) is httpcore.ConnectionPool:
        replacement = BulkConnectionPool
    else:
        return False
    try:
        arguments = _pool_arguments(pool)
    except AttributeError:
        return False
    transport._pool = replacement(**arguments)
    return True
