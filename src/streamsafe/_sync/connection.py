# generated from src/streamsafe/_async/connection.py by scripts/unasync.py: do not edit
"""The bulk HTTP/1.1 connection and its pool: the I/O, written once.

Everything that is not I/O (state, bookkeeping, arguments) is in
``streamsafe/_connection.py``, which also describes how these connections
differ from httpcore's.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore

from .._backends import OptionsBackend
from .._connection import READ_SIZE, BodyCore, BulkPoolCore, ConnectionCore, Replay
from .._http11 import Exchange, RequestWrites, ResponseHead, connect_delays
from .._trace import CONNECTION_LOG, HTTP11_LOG, Trace
from .._twins import Shield

__all__ = ["BulkConnection", "BulkConnectionPool"]


class BulkConnection(ConnectionCore[httpcore.NetworkStream], httpcore.ConnectionInterface):
    """One HTTP/1.1 connection to one origin; response bodies are read in bulk."""

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        exchange = self._claim(request)
        timeouts = self._timeouts(request)
        try:
            stream = self._stream or self._connect(request, timeouts.get("connect"))
            self._stream = stream
            self._send(stream, exchange, request, timeouts.get("write"))
            with Trace(
                "receive_response_headers", HTTP11_LOG, request, {"request": request}
            ) as trace:
                head = self._receive_head(stream, exchange, timeouts.get("read"))
                trace.return_value = self._head_trace(head)
        except BaseException:
            with Shield(), Trace("response_closed", HTTP11_LOG, request):
                self.close()
            raise
        body = _Body(self, exchange, stream, request, timeouts.get("read"))
        switched = _Replay(stream, exchange.trailing_data) if head.upgraded else stream
        return self._response(head, body, switched)

    def _connect(
        self, request: httpcore.Request, connect_timeout: float | None
    ) -> httpcore.NetworkStream:
        backend = self._settings.network_backend
        delays = connect_delays(self._settings.retries)
        while True:
            try:
                name, arguments = self._socket_call(connect_timeout)
                with Trace(name, CONNECTION_LOG, request, arguments) as trace:
                    stream: httpcore.NetworkStream = getattr(backend, name)(**arguments)
                    trace.return_value = stream
                tls = self._tls_arguments(request, connect_timeout)
                if tls is None:
                    return stream
                arguments = tls
                with Trace("start_tls", CONNECTION_LOG, request, tls) as trace:
                    stream = stream.start_tls(**tls)
                    trace.return_value = stream
                return stream
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                delay = next(delays, None)
                if delay is None:
                    raise
                with Trace("retry", CONNECTION_LOG, request, arguments):
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
            with Trace("send_request_headers", HTTP11_LOG, request, info):
                writes = RequestWrites(exchange)  # written with the body: fewer writes
            with Trace("send_request_body", HTTP11_LOG, request, info):
                for piece in request.stream:  # type: ignore[union-attr]
                    if batch := writes.add(piece):
                        stream.write(batch, timeout=write_timeout)
                stream.write(writes.finish(), timeout=write_timeout)
                writes.written()
        except httpcore.WriteError:
            # The server may have answered early (a 413, say) and closed its
            # side: read what it said rather than report a broken pipe.
            pass

    def _receive_head(
        self, stream: httpcore.NetworkStream, exchange: Exchange, read_timeout: float | None
    ) -> ResponseHead:
        while True:
            head = exchange.receive_head(stream.read(READ_SIZE, timeout=read_timeout))
            if head is not None:
                return head

    def response_done(self, exchange: Exchange) -> None:
        _close_shielded(self._release(exchange))

    def close(self) -> None:
        stream = self._detach()
        if stream is not None:
            with Shield(), Trace("close", CONNECTION_LOG, None):
                stream.close()

    def __enter__(self) -> BulkConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _close_shielded(stream: httpcore.NetworkStream | None) -> None:
    if stream is not None:
        with Shield():
            stream.close()


class _Body(BodyCore[BulkConnection, httpcore.NetworkStream]):
    """The body of one response: one ``bytes`` per socket read, however many chunks it held."""

    def __iter__(self) -> Iterator[bytes]:
        exchange, request = self._exchange, self._request
        with Trace("receive_response_body", HTTP11_LOG, request, {"request": request}):
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
            with Trace("response_closed", HTTP11_LOG, self._request):
                self._connection.response_done(self._exchange)


class _Replay(Replay[httpcore.NetworkStream], httpcore.NetworkStream):
    # httpcore's network stream interface takes its timeouts as arguments.
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


class BulkConnectionPool(BulkPoolCore, httpcore.ConnectionPool):
    """httpcore's pool, opening :class:`BulkConnection` for direct HTTP/1.1.

    Takes httpcore's ``ConnectionPool`` arguments; ``network_backend``
    defaults to an :class:`~streamsafe._backends.OptionsBackend` without
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
