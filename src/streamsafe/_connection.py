"""HTTP/1.1 connections that read response bodies in bulk, under httpcore's own pool.

:class:`AsyncBulkConnection` and :class:`BulkConnection` implement httpcore's
connection interface, so httpcore's pool keeps doing what it does well
(limits, queueing, keep-alive expiry) and errors are mapped as httpx maps them.
What changes is the response body: instead of one h11 event, one httpcore
yield and one httpx yield per HTTP chunk, each socket read becomes one piece of
body, whatever number of chunks it held (see :mod:`streamsafe._http11`, which
holds all of the protocol logic; the two classes here only move bytes).

:class:`AsyncBulkConnectionPool` / :class:`BulkConnectionPool` are httpcore's
pools, built from httpcore's public arguments, that open these for direct
HTTP/1.1 origins (``http://``, ``https://``, Unix sockets) and leave HTTP/2 to
httpcore's own connection; :mod:`streamsafe.transport` builds them (and
httpcore's proxy pools for proxied routes).

httpcore's ``trace`` extension sees the same events as from httpcore's own
connections (``connection.connect_tcp``, ``connection.start_tls``,
``http11.send_request_headers``, ``http11.receive_response_body``, ...), with
the same names and arguments, and they are logged the same way to the
``httpcore.connection`` and ``httpcore.http11`` loggers. One difference in
timing: the request head and a small body go out in one write, so that write
happens inside ``send_request_body``.

Other differences from httpcore's HTTP/1.1 connection, all deliberate: chunk
extensions and trailers are validated and dropped, as httpcore drops them;
see ``tests/test_connection_differential.py`` for the framing cases where the
two part and why.
"""

from __future__ import annotations

import inspect
import logging
import ssl
import threading
import time
import types
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import anyio
import httpcore

from ._backends import AsyncOptionsBackend, OptionsBackend
from ._http11 import Exchange, RequestWrites, ResponseHead, connect_delays

__all__ = [
    "AsyncBulkConnection",
    "AsyncBulkConnectionPool",
    "BulkConnection",
    "BulkConnectionPool",
]

READ_SIZE: Final = 64 * 1024
"""Bytes asked of the socket per read (httpcore's own value)."""

_NEW, _ACTIVE, _IDLE, _CLOSED = "NEW", "ACTIVE", "IDLE", "CLOSED"

_CONNECTION_LOG: Final = logging.getLogger("httpcore.connection")
_HTTP11_LOG: Final = logging.getLogger("httpcore.http11")


class _Trace:
    """httpcore's ``trace`` extension events and debug log lines, for one step.

    Same event names (``<logger suffix>.<step>.started|complete|failed``) and
    info dicts as httpcore's own tracing, which is private to httpcore: the
    extension gets the step's arguments when it starts, then
    ``{"return_value": ...}`` or ``{"exception": ...}``. Use as ``with`` in
    sync code and ``async with`` (an async callback) in async code.
    """

    __slots__ = ("_callback", "_debug", "_info", "_log", "_name", "return_value")

    def __init__(
        self,
        name: str,
        log: logging.Logger,
        request: httpcore.Request | None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self._name = f"{log.name.rsplit('.', 1)[-1]}.{name}"
        self._log = log
        self._callback = None if request is None else request.extensions.get("trace")
        self._debug = log.isEnabledFor(logging.DEBUG)
        self._info = info or {}
        self.return_value: Any = None

    def _debug_line(self, event: str, info: dict[str, Any]) -> None:
        if not info or ("return_value" in info and info["return_value"] is None):
            self._log.debug(event.split(".", 1)[1])
        else:
            details = " ".join(f"{key}={value!r}" for key, value in info.items())
            self._log.debug("%s %s", event.split(".", 1)[1], details)

    def _outcome(self, exc: BaseException | None) -> tuple[str, dict[str, Any]]:
        if exc is None:
            return f"{self._name}.complete", {"return_value": self.return_value}
        return f"{self._name}.failed", {"exception": exc}

    def _sync(self, event: str, info: dict[str, Any]) -> None:
        if self._callback is not None and inspect.iscoroutine(
            result := self._callback(event, info)
        ):
            result.close()
            raise TypeError("a sync client needs a plain function as its trace callback")
        if self._debug:
            self._debug_line(event, info)

    async def _async(self, event: str, info: dict[str, Any]) -> None:
        if self._callback is not None:
            result = self._callback(event, info)
            if not inspect.iscoroutine(result):
                raise TypeError("an async client needs an async function as its trace callback")
            await result
        if self._debug:
            self._debug_line(event, info)

    def __enter__(self) -> _Trace:
        if self._callback is not None or self._debug:
            self._sync(f"{self._name}.started", self._info)
        return self

    def __exit__(
        self, exc_type: object, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        if self._callback is not None or self._debug:
            self._sync(*self._outcome(exc))

    async def __aenter__(self) -> _Trace:
        if self._callback is not None or self._debug:
            await self._async(f"{self._name}.started", self._info)
        return self

    async def __aexit__(
        self, exc_type: object, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        if self._callback is not None or self._debug:
            await self._async(*self._outcome(exc))


_Stream = TypeVar("_Stream", httpcore.AsyncNetworkStream, httpcore.NetworkStream)
_Connection = TypeVar("_Connection")


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


class _ConnectionCore(Generic[_Stream]):
    """Everything the async and sync connections share: state, bookkeeping, arguments.

    States: NEW → ACTIVE ⇄ IDLE → CLOSED. The twins below only move bytes.
    """

    def __init__(self, origin: httpcore.Origin, settings: _ConnectSettings) -> None:
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


class _BodyCore(Generic[_Connection, _Stream]):
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


class _Replay(Generic[_Stream]):
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
# ---------------------------------------------------------------------------


class AsyncBulkConnection(
    _ConnectionCore[httpcore.AsyncNetworkStream], httpcore.AsyncConnectionInterface
):
    """One HTTP/1.1 connection to one origin; response bodies are read in bulk."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        exchange = self._claim(request)
        timeouts = self._timeouts(request)
        try:
            stream = self._stream or await self._connect(request, timeouts.get("connect"))
            self._stream = stream
            await self._send(stream, exchange, request, timeouts.get("write"))
            async with _Trace(
                "receive_response_headers", _HTTP11_LOG, request, {"request": request}
            ) as trace:
                head = await self._receive_head(stream, exchange, timeouts.get("read"))
                trace.return_value = self._head_trace(head)
        except BaseException:
            with anyio.CancelScope(shield=True):
                async with _Trace("response_closed", _HTTP11_LOG, request):
                    await self.aclose()
            raise
        body = _AsyncBody(self, exchange, stream, request, timeouts.get("read"))
        switched = _AsyncReplay(stream, exchange.trailing_data) if head.upgraded else stream
        return self._response(head, body, switched)

    async def _connect(
        self, request: httpcore.Request, connect_timeout: float | None
    ) -> httpcore.AsyncNetworkStream:
        backend = self._settings.network_backend
        delays = connect_delays(self._settings.retries)
        while True:
            try:
                name, arguments = self._socket_call(connect_timeout)
                async with _Trace(name, _CONNECTION_LOG, request, arguments) as trace:
                    stream: httpcore.AsyncNetworkStream = await getattr(backend, name)(**arguments)
                    trace.return_value = stream
                tls = self._tls_arguments(request, connect_timeout)
                if tls is None:
                    return stream
                arguments = tls
                async with _Trace("start_tls", _CONNECTION_LOG, request, tls) as trace:
                    stream = await stream.start_tls(**tls)
                    trace.return_value = stream
                return stream
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                delay = next(delays, None)
                if delay is None:
                    raise
                async with _Trace("retry", _CONNECTION_LOG, request, arguments):
                    await backend.sleep(delay)

    async def _send(
        self,
        stream: httpcore.AsyncNetworkStream,
        exchange: Exchange,
        request: httpcore.Request,
        write_timeout: float | None,
    ) -> None:
        info = {"request": request}
        try:
            async with _Trace("send_request_headers", _HTTP11_LOG, request, info):
                writes = RequestWrites(exchange)  # written with the body: fewer writes
            async with _Trace("send_request_body", _HTTP11_LOG, request, info):
                async for piece in request.stream:  # type: ignore[union-attr]
                    if batch := writes.add(piece):
                        await stream.write(batch, timeout=write_timeout)
                await stream.write(writes.finish(), timeout=write_timeout)
                writes.written()
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

    async def response_done(self, exchange: Exchange) -> None:
        await _aclose_shielded(self._release(exchange))

    async def aclose(self) -> None:
        stream = self._detach()
        if stream is not None:
            with anyio.CancelScope(shield=True):
                async with _Trace("close", _CONNECTION_LOG, None):
                    await stream.aclose()

    async def __aenter__(self) -> AsyncBulkConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def _aclose_shielded(stream: httpcore.AsyncNetworkStream | None) -> None:
    if stream is not None:
        with anyio.CancelScope(shield=True):
            await stream.aclose()


class _AsyncBody(_BodyCore[AsyncBulkConnection, httpcore.AsyncNetworkStream]):
    """The body of one response: one ``bytes`` per socket read, however many chunks it held."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange, request = self._exchange, self._request
        async with _Trace("receive_response_body", _HTTP11_LOG, request, {"request": request}):
            first = exchange.first_body_bytes()
            if first:
                yield first
            read, timeout = self._stream.read, self._timeout
            while not exchange.body_done:
                payload = exchange.receive_body(await read(READ_SIZE, timeout=timeout))
                if payload:
                    yield payload

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            async with _Trace("response_closed", _HTTP11_LOG, self._request):
                await self._connection.response_done(self._exchange)


class _AsyncReplay(_Replay[httpcore.AsyncNetworkStream], httpcore.AsyncNetworkStream):
    # httpcore's network stream interface takes its timeouts as arguments.
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return self._replayed(max_bytes) or await self._stream.read(max_bytes, timeout)

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


# ---------------------------------------------------------------------------
# Sync
# ---------------------------------------------------------------------------


class BulkConnection(_ConnectionCore[httpcore.NetworkStream], httpcore.ConnectionInterface):
    """Synchronous twin of :class:`AsyncBulkConnection`."""

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        exchange = self._claim(request)
        timeouts = self._timeouts(request)
        try:
            stream = self._stream or self._connect(request, timeouts.get("connect"))
            self._stream = stream
            self._send(stream, exchange, request, timeouts.get("write"))
            with _Trace(
                "receive_response_headers", _HTTP11_LOG, request, {"request": request}
            ) as trace:
                head = self._receive_head(stream, exchange, timeouts.get("read"))
                trace.return_value = self._head_trace(head)
        except BaseException:
            with _Trace("response_closed", _HTTP11_LOG, request):
                self.close()
            raise
        body = _SyncBody(self, exchange, stream, request, timeouts.get("read"))
        switched = _SyncReplay(stream, exchange.trailing_data) if head.upgraded else stream
        return self._response(head, body, switched)

    def _connect(
        self, request: httpcore.Request, connect_timeout: float | None
    ) -> httpcore.NetworkStream:
        backend = self._settings.network_backend
        delays = connect_delays(self._settings.retries)
        while True:
            try:
                name, arguments = self._socket_call(connect_timeout)
                with _Trace(name, _CONNECTION_LOG, request, arguments) as trace:
                    stream: httpcore.NetworkStream = getattr(backend, name)(**arguments)
                    trace.return_value = stream
                tls = self._tls_arguments(request, connect_timeout)
                if tls is None:
                    return stream
                arguments = tls
                with _Trace("start_tls", _CONNECTION_LOG, request, tls) as trace:
                    stream = stream.start_tls(**tls)
                    trace.return_value = stream
                return stream
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                delay = next(delays, None)
                if delay is None:
                    raise
                with _Trace("retry", _CONNECTION_LOG, request, arguments):
                    backend.sleep(delay)

    def _send(
        self,
        stream: httpcore.NetworkStream,
        exchange: Exchange,
        request: httpcore.Request,
        write_timeout: float | None,
    ) -> None:
        info = {"request": request}
        try:
            with _Trace("send_request_headers", _HTTP11_LOG, request, info):
                writes = RequestWrites(exchange)
            with _Trace("send_request_body", _HTTP11_LOG, request, info):
                for piece in request.stream:  # type: ignore[union-attr]
                    if batch := writes.add(piece):
                        stream.write(batch, timeout=write_timeout)
                stream.write(writes.finish(), timeout=write_timeout)
                writes.written()
        except httpcore.WriteError:
            pass  # as in the async twin: read the early answer instead

    def _receive_head(
        self, stream: httpcore.NetworkStream, exchange: Exchange, read_timeout: float | None
    ) -> ResponseHead:
        while True:
            head = exchange.receive_head(stream.read(READ_SIZE, timeout=read_timeout))
            if head is not None:
                return head

    def response_done(self, exchange: Exchange) -> None:
        stream = self._release(exchange)
        if stream is not None:
            stream.close()

    def close(self) -> None:
        stream = self._detach()
        if stream is not None:
            with _Trace("close", _CONNECTION_LOG, None):
                stream.close()

    def __enter__(self) -> BulkConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _SyncBody(_BodyCore[BulkConnection, httpcore.NetworkStream]):
    """Synchronous twin of :class:`_AsyncBody`."""

    def __iter__(self) -> Iterator[bytes]:
        exchange, request = self._exchange, self._request
        with _Trace("receive_response_body", _HTTP11_LOG, request, {"request": request}):
            first = exchange.first_body_bytes()
            if first:
                yield first
            read, timeout = self._stream.read, self._timeout
            while not exchange.body_done:
                payload = exchange.receive_body(read(READ_SIZE, timeout=timeout))
                if payload:
                    yield payload

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with _Trace("response_closed", _HTTP11_LOG, self._request):
                self._connection.response_done(self._exchange)


class _SyncReplay(_Replay[httpcore.NetworkStream], httpcore.NetworkStream):
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._replayed(max_bytes) or self._stream.read(max_bytes, timeout)

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


# ---------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------


class _BulkPoolCore:
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
        self._streamsafe_bulk: _ConnectSettings | None = (
            _ConnectSettings(
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


class AsyncBulkConnectionPool(_BulkPoolCore, httpcore.AsyncConnectionPool):
    """httpcore's async pool, opening :class:`AsyncBulkConnection` for direct HTTP/1.1.

    Takes httpcore's ``AsyncConnectionPool`` arguments; ``network_backend``
    defaults to an :class:`~streamsafe._backends.AsyncOptionsBackend` without
    options (httpcore's own backend for the running event loop).
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = 10,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        retries: int = 0,
        local_address: str | None = None,
        uds: str | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> None:
        backend = AsyncOptionsBackend() if network_backend is None else network_backend
        super().__init__(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            local_address=local_address,
            uds=uds,
            network_backend=backend,
            socket_options=socket_options,
        )
        self._bulk_init(
            ssl_context,
            keepalive_expiry,
            http1,
            http2,
            retries,
            local_address,
            uds,
            backend,
            socket_options,
        )

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        settings = self._streamsafe_bulk
        if settings is None:
            return super().create_connection(origin)
        return AsyncBulkConnection(origin, settings)


class BulkConnectionPool(_BulkPoolCore, httpcore.ConnectionPool):
    """Synchronous twin of :class:`AsyncBulkConnectionPool` (backend: ``OptionsBackend``)."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = 10,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        retries: int = 0,
        local_address: str | None = None,
        uds: str | None = None,
        network_backend: httpcore.NetworkBackend | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> None:
        backend = OptionsBackend() if network_backend is None else network_backend
        super().__init__(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            local_address=local_address,
            uds=uds,
            network_backend=backend,
            socket_options=socket_options,
        )
        self._bulk_init(
            ssl_context,
            keepalive_expiry,
            http1,
            http2,
            retries,
            local_address,
            uds,
            backend,
            socket_options,
        )

    def create_connection(self, origin: httpcore.Origin) -> httpcore.ConnectionInterface:
        settings = self._streamsafe_bulk
        if settings is None:
            return super().create_connection(origin)
        return BulkConnection(origin, settings)
