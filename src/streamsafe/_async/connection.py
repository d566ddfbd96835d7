"""The bulk HTTP/1.1 connection and its pool: the I/O, written once.

Everything that is not I/O (state, bookkeeping, arguments) is in
``streamsafe/_connection.py``, which also describes how these connections
differ from httpcore's.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpcore

from .._backends import AsyncOptionsBackend
from .._connection import READ_SIZE, BodyCore, BulkPoolCore, ConnectionCore, Replay
from .._http11 import Exchange, RequestWrites, ResponseHead, connect_delays
from .._trace import CONNECTION_LOG, HTTP11_LOG, Trace
from .._twins import AsyncShield

__all__ = ["AsyncBulkConnection", "AsyncBulkConnectionPool"]


class AsyncBulkConnection(
    ConnectionCore[httpcore.AsyncNetworkStream], httpcore.AsyncConnectionInterface
):
    """One HTTP/1.1 connection to one origin; response bodies are read in bulk."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        exchange = self._claim(request)
        timeouts = self._timeouts(request)
        try:
            stream = self._stream or await self._connect(request, timeouts.get("connect"))
            self._stream = stream
            await self._send(stream, exchange, request, timeouts.get("write"))
            async with Trace(
                "receive_response_headers", HTTP11_LOG, request, {"request": request}
            ) as trace:
                head = await self._receive_head(stream, exchange, timeouts.get("read"))
                trace.return_value = self._head_trace(head)
        except BaseException:
            with AsyncShield():
                async with Trace("response_closed", HTTP11_LOG, request):
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
                async with Trace(name, CONNECTION_LOG, request, arguments) as trace:
                    stream: httpcore.AsyncNetworkStream = await getattr(backend, name)(**arguments)
                    trace.return_value = stream
                tls = self._tls_arguments(request, connect_timeout)
                if tls is None:
                    return stream
                arguments = tls
                async with Trace("start_tls", CONNECTION_LOG, request, tls) as trace:
                    stream = await stream.start_tls(**tls)
                    trace.return_value = stream
                return stream
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                delay = next(delays, None)
                if delay is None:
                    raise
                async with Trace("retry", CONNECTION_LOG, request, arguments):
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
            async with Trace("send_request_headers", HTTP11_LOG, request, info):
                writes = RequestWrites(exchange)  # written with the body: fewer writes
            async with Trace("send_request_body", HTTP11_LOG, request, info):
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
            with AsyncShield():
                async with Trace("close", CONNECTION_LOG, None):
                    await stream.aclose()

    async def __aenter__(self) -> AsyncBulkConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def _aclose_shielded(stream: httpcore.AsyncNetworkStream | None) -> None:
    if stream is not None:
        with AsyncShield():
            await stream.aclose()


class _AsyncBody(BodyCore[AsyncBulkConnection, httpcore.AsyncNetworkStream]):
    """The body of one response: one ``bytes`` per socket read, however many chunks it held."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange, request = self._exchange, self._request
        async with Trace("receive_response_body", HTTP11_LOG, request, {"request": request}):
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
            async with Trace("response_closed", HTTP11_LOG, self._request):
                await self._connection.response_done(self._exchange)


class _AsyncReplay(Replay[httpcore.AsyncNetworkStream], httpcore.AsyncNetworkStream):
    # httpcore's network stream interface takes its timeouts as arguments.
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._replayed(max_bytes) or await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._stream.start_tls(ssl_context, server_hostname, timeout)


class AsyncBulkConnectionPool(BulkPoolCore, httpcore.AsyncConnectionPool):
    """httpcore's pool, opening :class:`AsyncBulkConnection` for direct HTTP/1.1.

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
