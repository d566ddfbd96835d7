"""The httpx transports streamsafe owns: its pools, built from its own arguments.

This module holds what the twins share (their settings, the pool they build,
the request conversion); the transports are written once in
``_async/http.py``, and ``_sync/http.py`` is generated from it by
``scripts/unasync.py``.

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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import httpcore
import httpx

from .._backends import AsyncOptionsBackend, OptionsBackend
from ._defaults import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
    HTTPX_LIMITS,
)
from ._keepalive import transport_socket_options

__all__ = ["PoolClasses", "TransportCore", "TransportSettings", "core_request"]

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


@dataclass(frozen=True)
class PoolClasses:
    """The httpcore pool classes of one twin (async or sync)."""

    bulk: Any
    """A direct route with ``bulk_reads``: streamsafe's bulk HTTP/1.1 pool."""
    direct: Any
    """A direct route without: httpcore's own ``ConnectionPool``."""
    socks: Any
    forward: Any


def _build_pool(settings: TransportSettings, backend: Any, classes: PoolClasses) -> Any:
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
        pool_class = classes.bulk if settings.bulk_reads else classes.direct
        return pool_class(
            uds=settings.uds,
            local_address=settings.local_address,
            retries=settings.retries,
            **common,
        )
    # As httpx: a proxy pool gets neither uds, local_address nor retries.
    if proxy.url.scheme in _SOCKS_SCHEMES:
        return classes.socks(proxy_url=_proxy_url(proxy), proxy_auth=proxy.raw_auth, **common)
    return classes.forward(
        proxy_url=_proxy_url(proxy),
        proxy_auth=proxy.raw_auth,
        proxy_headers=proxy.headers.raw,
        proxy_ssl_context=proxy.ssl_context,
        **common,
    )


def core_request(request: httpx.Request) -> httpcore.Request:
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


class TransportCore:
    """What both transports share: the settings and the pool built from them."""

    _backend_class: ClassVar[type[AsyncOptionsBackend] | type[OptionsBackend]]
    _pool_classes: ClassVar[PoolClasses]

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
        self.network_backend: AsyncOptionsBackend | OptionsBackend = self._backend_class(options)
        """Opens every socket of the pool, applying :attr:`socket_options`."""
        self.pool: Any = _build_pool(self.settings, self.network_backend, self._pool_classes)
        """The httpcore pool requests go to (public httpcore interface only)."""

    @property
    def socket_options(self) -> tuple[Any, ...]:
        """The options applied to every socket this transport opens."""
        return self.settings.socket_options

    def __repr__(self) -> str:
        route = "direct" if self.settings.proxy is None else f"proxy={self.settings.proxy.url}"
        return f"<{type(self).__name__} {route} pool={type(self.pool).__name__}>"
