"""The keep-alive transport: requests and responses between httpx and its pool.

What is not I/O (settings, the pool, the request conversion) is in
``transport/_http.py``, which also says how the pool is built.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType
from typing import Any, TypeVar

import httpcore
import httpx

from ..._async.connection import AsyncBulkConnectionPool
from ..._backends import AsyncOptionsBackend
from .._defaults import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
)
from .._exceptions import httpx_error
from .._http import PoolClasses, TransportCore, core_request

__all__ = ["AsyncKeepaliveTransport", "keepalive_transport"]


class _AsyncBody(httpx.AsyncByteStream):
    """A response body from httpcore, its failures raised as httpx's."""

    __slots__ = ("_body",)

    def __init__(self, body: AsyncIterable[bytes]) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._body:
                yield part
        except Exception as exc:
            error = httpx_error(exc)
            if error is None:
                raise
            raise error from exc

    async def aclose(self) -> None:
        close = getattr(self._body, "aclose", None)
        if close is not None:
            await close()


_Self = TypeVar("_Self", bound="AsyncKeepaliveTransport")


class AsyncKeepaliveTransport(TransportCore, httpx.AsyncBaseTransport):
    """An httpx async transport whose every socket has TCP keep-alive.

    Takes the arguments of ``httpx.AsyncHTTPTransport`` (``verify``, ``cert``,
    ``trust_env``, ``http1``, ``http2``, ``limits``, ``proxy``, ``uds``,
    ``local_address``, ``retries``, ``socket_options``: ``limits`` defaults to
    httpx's own) plus ``idle``, ``interval`` and ``count`` (see
    :func:`~streamsafe.transport.keepalive_socket_options`) and ``bulk_reads``
    (default True: direct HTTP/1.1 connections de-chunk response bodies in
    bulk, one piece per socket read). Extra ``socket_options`` are applied
    after the keep-alive ones; a Unix socket (``uds``) gets only those.
    Keyword-only.

    Raises:
        ValueError: invalid ``idle``, ``interval`` or ``count``, or a proxy
            scheme other than http, https, socks5 and socks5h.
    """

    _backend_class = AsyncOptionsBackend
    _pool_classes = PoolClasses(
        bulk=AsyncBulkConnectionPool,
        direct=httpcore.AsyncConnectionPool,
        socks=httpcore.AsyncSOCKSProxy,
        forward=httpcore.AsyncHTTPProxy,
    )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("an async transport needs a request with an async body")
        try:
            response = await self.pool.handle_async_request(core_request(request))
        except Exception as exc:
            error = httpx_error(exc)
            if error is None:
                raise
            raise error from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_AsyncBody(response.stream),
            extensions=response.extensions,
        )

    async def __aenter__(self: _Self) -> _Self:
        await self.pool.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            await self.pool.__aexit__(exc_type, exc_value, traceback)
        except Exception as exc:
            error = httpx_error(exc)
            if error is None:
                raise
            raise error from exc

    async def aclose(self) -> None:
        await self.pool.aclose()


def keepalive_transport(
    *,
    idle: float = DEFAULT_KEEPALIVE_IDLE,
    interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    count: int = DEFAULT_KEEPALIVE_COUNT,
    bulk_reads: bool = True,
    **kwargs: Any,
) -> AsyncKeepaliveTransport:
    """Build an async httpx transport whose sockets use TCP keep-alive.

    Defaults: first probe after ``idle=60`` s of silence, then every
    ``interval=10`` s, connection declared dead after ``count=5`` unanswered
    probes (see :func:`~streamsafe.transport.keepalive_socket_options` for the
    per-platform names). Other keyword arguments are those of
    ``httpx.AsyncHTTPTransport`` (``limits``, ``verify``, ``http2``,
    ``proxy``, ``retries`` ...); extra ``socket_options`` are applied after the
    keep-alive ones. Proxied connections (HTTP forwarding, CONNECT tunnels and
    SOCKS alike) get the options too.

    Passing the result as ``transport=`` makes httpx ignore proxy environment
    variables; use :func:`~streamsafe.transport.default_async_client` to keep
    both.

    ``bulk_reads`` (default True): direct HTTP/1.1 connections de-chunk
    response bodies in bulk, one piece per socket read instead of one per HTTP
    chunk (see :mod:`streamsafe._connection`). Proxied and HTTP/2 connections
    always use httpcore's own.

    Raises:
        ValueError: invalid ``idle``, ``interval`` or ``count``.
    """
    return AsyncKeepaliveTransport(
        idle=idle, interval=interval, count=count, bulk_reads=bulk_reads, **kwargs
    )
