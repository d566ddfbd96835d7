# generated from src/streamsafe/transport/_async/http.py by scripts/unasync.py: do not edit
"""The keep-alive transport: requests and responses between httpx and its pool.

What is not I/O (settings, the pool, the request conversion) is in
``transport/_http.py``, which also says how the pool is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpcore
import httpx

from ..._backends import OptionsBackend
from ..._sync.connection import BulkConnectionPool
from .._defaults import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
)
from .._exceptions import httpx_error
from .._http import PoolClasses, TransportCore, core_request

__all__ = ["KeepaliveTransport", "sync_keepalive_transport"]


class _Body(httpx.SyncByteStream):
    """A response body from httpcore, its failures raised as httpx's."""

    __slots__ = ("_body",)

    def __init__(self, body: Iterable[bytes]) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except Exception as exc:
            error = httpx_error(exc)
            if error is None:
                raise
            raise error from exc

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


_Self = TypeVar("_Self", bound="KeepaliveTransport")


class KeepaliveTransport(TransportCore, httpx.BaseTransport):
    """An httpx async transport whose every socket has TCP keep-alive.

    Takes the arguments of ``httpx.HTTPTransport`` (``verify``, ``cert``,
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

    _backend_class = OptionsBackend
    _pool_classes = PoolClasses(
        bulk=BulkConnectionPool,
        direct=httpcore.ConnectionPool,
        socks=httpcore.SOCKSProxy,
        forward=httpcore.HTTPProxy,
    )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("a sync transport needs a request with a sync body")
        try:
            response = self.pool.handle_request(core_request(request))
        except Exception as exc:
            error = httpx_error(exc)
            if error is None:
                raise
            raise error from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    def __enter__(self: _Self) -> _Self:
        self.pool.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            self.pool.__exit__(exc_type, exc_value, traceback)
        except Exception as exc:
            error = httpx_error(exc)
            if error is None:
                raise
            raise error from exc

    def close(self) -> None:
        self.pool.close()


def sync_keepalive_transport(
    *,
    idle: float = DEFAULT_KEEPALIVE_IDLE,
    interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    count: int = DEFAULT_KEEPALIVE_COUNT,
    bulk_reads: bool = True,
    **kwargs: Any,
) -> KeepaliveTransport:
    """Build a sync httpx transport whose sockets use TCP keep-alive.

    Defaults: first probe after ``idle=60`` s of silence, then every
    ``interval=10`` s, connection declared dead after ``count=5`` unanswered
    probes (see :func:`~streamsafe.transport.keepalive_socket_options` for the
    per-platform names). Other keyword arguments are those of
    ``httpx.HTTPTransport`` (``limits``, ``verify``, ``http2``,
    ``proxy``, ``retries`` ...); extra ``socket_options`` are applied after the
    keep-alive ones. Proxied connections (HTTP forwarding, CONNECT tunnels and
    SOCKS alike) get the options too.

    Passing the result as ``transport=`` makes httpx ignore proxy environment
    variables; use :func:`~streamsafe.transport.default_sync_client` to keep
    both.

    ``bulk_reads`` (default True): direct HTTP/1.1 connections de-chunk
    response bodies in bulk, one piece per socket read instead of one per HTTP
    chunk (see :mod:`streamsafe._connection`). Proxied and HTTP/2 connections
    always use httpcore's own.

    Raises:
        ValueError: invalid ``idle``, ``interval`` or ``count``.
    """
    return KeepaliveTransport(
        idle=idle, interval=interval, count=count, bulk_reads=bulk_reads, **kwargs
    )
