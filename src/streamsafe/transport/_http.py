"""The httpx transports streamsafe owns: its pools, built from its own arguments.

:class:`AsyncKeepaliveTransport` (an ``httpx.AsyncBaseTransport``) and
:class:`KeepaliveTransport` (its sync twin) take the arguments of httpx's
``HTTPTransport`` plus the keep-alive timers and ``bulk_reads``, and build
their httpcore pool themselves through httpcore's public constructors: a
direct route gets the bulk HTTP/1.1 pool of :mod:`streamsafe._connection`
(httpcore's own pool with ``bulk_reads=False``; HTTP/2 connections are always
httpcore's), a proxied route httpcore's HTTP or SOCKS proxy pool. Every pool
opens its sockets through an options backend (:mod:`streamsafe._backends`)
handed over as ``network_backend=``, so direct, forwarded and tunnelled
sockets alike carry the keep-alive options. Requests and responses are
converted as httpx converts them, and httpcore's exceptions become httpx's as
in httpx (:mod:`._exceptions`). What a transport was built with is public:
:attr:`~AsyncKeepaliveTransport.settings` and
:attr:`~AsyncKeepaliveTransport.pool`.
"""

from __future__ import annotations

import importlib.util
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpcore
import httpx

from .._async.connection import AsyncBulkConnectionPool
from .._backends import AsyncOptionsBackend, OptionsBackend
from .._sync.connection import BulkConnectionPool
from ._defaults import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
    HTTPX_LIMITS,
)
from ._exceptions import httpx_error
from ._keepalive import transport_socket_options

__all__ = [
    "AsyncKeepaliveTransport",
    "KeepaliveTransport",
    "TransportSettings",
    "keepalive_transport",
    "sync_keepalive_transport",
]

_PROXY_SCHEMES = ("http", "https")
_SOCKS_SCHEMES = ("socks5", "socks5h")


@dataclass(frozen=True)
class TransportSettings:
    """What a keep-alive transport was built with (its pool was built from exactly this)."""

    ssl_context: ssl.SSLContext
    limits: httpx.Limits
    http1: bool
    http2: bool
    proxy: httpx.Proxy | None
    uds: str | None
    local_address: str | None
    retries: int
    socket_options: tuple[Any, ...]
    """Applied to every socket the pool opens (keep-alive first, then the caller's)."""
    bulk_reads: bool

    @property
    def bulk(self) -> bool:
        """Whether direct HTTP/1.1 connections read their bodies in bulk."""
        return self.bulk_reads and self.proxy is None


def _settings(
    *,
    verify: ssl.SSLContext | str | bool,
    cert: Any,
    trust_env: bool,
    http1: bool,
    http2: bool,
    limits: httpx.Limits | None,
    proxy: httpx.Proxy | httpx.URL | str | None,
    uds: str | None,
    local_address: str | None,
    retries: int,
    socket_options: Iterable[Any] | None,
    idle: float,
    interval: float,
    count: int,
    bulk_reads: bool,
) -> TransportSettings:
    options = transport_socket_options(idle, interval, count, socket_options, uds)
    if isinstance(verify, ssl.SSLContext) and cert is None:
        context = verify  # shared as it is (the shards of a route share one)
    else:
        context = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
    if isinstance(proxy, (str, httpx.URL)):
        proxy = httpx.Proxy(url=proxy)
    if proxy is not None:
        scheme = proxy.url.scheme
        if scheme in _SOCKS_SCHEMES:
            if importlib.util.find_spec("socksio") is None:
                raise ImportError(
                    "Using SOCKS proxy, but the 'socksio' package is not installed. "
                    "Make sure to install httpx using `pip install httpx[socks]`."
                )
        elif scheme not in _PROXY_SCHEMES:
            raise ValueError(
                "Proxy protocol must be either 'http', 'https', 'socks5', or 'socks5h',"
                f" but got {scheme!r}."
            )
    return TransportSettings(
        ssl_context=context,
        limits=HTTPX_LIMITS if limits is None else limits,
        http1=http1,
        http2=http2,
        proxy=proxy,
        uds=uds,
        local_address=local_address,
        retries=retries,
        socket_options=tuple(options),
        bulk_reads=bulk_reads,
    )


def _proxy_url(proxy: httpx.Proxy) -> httpcore.URL:
    url = proxy.url
    return httpcore.URL(
        scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
    )


def _build_pool(settings: TransportSettings, backend: Any, sync: bool) -> Any:
    """The httpcore pool for ``settings``: direct (bulk or httpcore's), HTTP proxy or SOCKS."""
    limits = settings.limits
    common: dict[str, Any] = {
        "ssl_context": settings.ssl_context,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "http1": settings.http1,
        "http2": settings.http2,
        "network_backend": backend,
    }
    proxy = settings.proxy
    if proxy is None:
        pool_class: Any
        if settings.bulk_reads:
            pool_class = BulkConnectionPool if sync else AsyncBulkConnectionPool
        else:
            pool_class = httpcore.ConnectionPool if sync else httpcore.AsyncConnectionPool
        return pool_class(
            uds=settings.uds,
            local_address=settings.local_address,
            retries=settings.retries,
            **common,
        )
    # As httpx: a proxy pool gets neither uds, local_address nor retries.
    if proxy.url.scheme in _SOCKS_SCHEMES:
        socks: Any = httpcore.SOCKSProxy if sync else httpcore.AsyncSOCKSProxy
        return socks(proxy_url=_proxy_url(proxy), proxy_auth=proxy.raw_auth, **common)
    forward: Any = httpcore.HTTPProxy if sync else httpcore.AsyncHTTPProxy
    return forward(
        proxy_url=_proxy_url(proxy),
        proxy_auth=proxy.raw_auth,
        proxy_headers=proxy.headers.raw,
        proxy_ssl_context=proxy.ssl_context,
        **common,
    )


def _core_request(request: httpx.Request) -> httpcore.Request:
    url = request.url
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        ),
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )


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


class _SyncBody(httpx.SyncByteStream):
    """Synchronous twin of :class:`_AsyncBody`."""

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


class _TransportCore:
    """What both transports share: the settings and the pool built from them."""

    _sync: bool

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits | None = None,
        proxy: httpx.Proxy | httpx.URL | str | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Iterable[Any] | None = None,
        idle: float = DEFAULT_KEEPALIVE_IDLE,
        interval: float = DEFAULT_KEEPALIVE_INTERVAL,
        count: int = DEFAULT_KEEPALIVE_COUNT,
        bulk_reads: bool = True,
    ) -> None:
        self.settings = _settings(
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            http1=http1,
            http2=http2,
            limits=limits,
            proxy=proxy,
            uds=uds,
            local_address=local_address,
            retries=retries,
            socket_options=socket_options,
            idle=idle,
            interval=interval,
            count=count,
            bulk_reads=bulk_reads,
        )
        options = self.settings.socket_options
        self.network_backend: AsyncOptionsBackend | OptionsBackend = (
            OptionsBackend(options) if self._sync else AsyncOptionsBackend(options)
        )
        """Opens every socket of the pool, applying :attr:`socket_options`."""
        self.pool: Any = _build_pool(self.settings, self.network_backend, self._sync)
        """The httpcore pool requests go to (public httpcore interface only)."""

    @property
    def socket_options(self) -> tuple[Any, ...]:
        """The options applied to every socket this transport opens."""
        return self.settings.socket_options

    def __repr__(self) -> str:
        route = "direct" if self.settings.proxy is None else f"proxy={self.settings.proxy.url}"
        return f"<{type(self).__name__} {route} pool={type(self.pool).__name__}>"


_A = TypeVar("_A", bound="AsyncKeepaliveTransport")
_S = TypeVar("_S", bound="KeepaliveTransport")


class AsyncKeepaliveTransport(_TransportCore, httpx.AsyncBaseTransport):
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

    _sync = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("an async transport needs a request with an async body")
        try:
            response = await self.pool.handle_async_request(_core_request(request))
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

    async def __aenter__(self: _A) -> _A:
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


class KeepaliveTransport(_TransportCore, httpx.BaseTransport):
    """Synchronous twin of :class:`AsyncKeepaliveTransport` (an ``httpx.BaseTransport``)."""

    _sync = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("a sync transport needs a request with a sync body")
        try:
            response = self.pool.handle_request(_core_request(request))
        except Exception as exc:
            error = httpx_error(exc)
            if error is None:
                raise
            raise error from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_SyncBody(response.stream),
            extensions=response.extensions,
        )

    def __enter__(self: _S) -> _S:
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


def sync_keepalive_transport(
    *,
    idle: float = DEFAULT_KEEPALIVE_IDLE,
    interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    count: int = DEFAULT_KEEPALIVE_COUNT,
    bulk_reads: bool = True,
    **kwargs: Any,
) -> KeepaliveTransport:
    """Synchronous twin of :func:`keepalive_transport` (a :class:`KeepaliveTransport`).

    Defaults: ``idle=60`` s, ``interval=10`` s, ``count=5`` probes, ``bulk_reads=True``.
    """
    return KeepaliveTransport(
        idle=idle, interval=interval, count=count, bulk_reads=bulk_reads, **kwargs
    )
