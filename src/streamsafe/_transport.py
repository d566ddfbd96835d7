"""Transport layer: TCP keep-alive, proxy-aware client factories, a sharded pool.

Three problems are solved here, below everything that speaks SSE:

* **Dead connections.** A streamed response can sit silent for minutes while a
  model thinks. NAT boxes and load balancers drop idle flows without telling
  either end, and the client then waits for bytes that never come. TCP
  keep-alive probes keep such paths open and detect a dead peer.
  :func:`keepalive_socket_options` builds the socket options under each
  platform's own names; :func:`keepalive_transport` /
  :func:`sync_keepalive_transport` build httpx transports that carry them,
  including on connections to a proxy (which httpcore 1.0 leaves out).

* **Proxies.** httpx reads ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` /
  ``NO_PROXY`` only when it builds its own transport: as soon as ``transport=``
  is passed to a client, the environment is ignored. :func:`default_async_client`
  and :func:`default_sync_client` read the environment the way httpx does and
  mount a keep-alive transport for every proxy route, so nothing bypasses a
  proxy and nothing loses keep-alive.

* **Many concurrent streams.** httpcore's connection pool re-examines every
  connection each time a request is queued or released, which is quadratic in
  the number of open connections. :class:`ShardedAsyncTransport` (and its sync
  twin :class:`ShardedTransport`) spreads requests over several smaller pools.

* **A cost per HTTP chunk.** The API sends each event as its own chunk, and
  the stock HTTP/1.1 connection hands each chunk up separately. The
  transports built here give direct HTTP/1.1 origins the bulk connections of
  :mod:`streamsafe._connection` (one body piece per socket read), unless
  ``bulk_reads=False``.

:func:`has_keepalive` tells whether every route of an httpx client carries the
keep-alive options (used by the client to warn about user-supplied clients).
"""

from __future__ import annotations

import ipaddress
import math
import socket
import sys
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import httpcore
import httpx

from ._connection import use_bulk_connections

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_KEEPALIVE_COUNT",
    "DEFAULT_KEEPALIVE_IDLE",
    "DEFAULT_KEEPALIVE_INTERVAL",
    "DEFAULT_LIMITS",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_SHARDS",
    "DEFAULT_TIMEOUT",
    "ShardedAsyncTransport",
    "ShardedTransport",
    "SocketOption",
    "default_async_client",
    "default_sync_client",
    "has_keepalive",
    "keepalive_socket_options",
    "keepalive_transport",
    "sync_keepalive_transport",
]

SocketOption = tuple[int, int, int]
"""One ``setsockopt(level, option, value)`` triple, as httpx's ``socket_options=`` takes it."""

DEFAULT_KEEPALIVE_IDLE: Final[float] = 60.0
"""Seconds a connection may sit idle before the first keep-alive probe."""
DEFAULT_KEEPALIVE_INTERVAL: Final[float] = 10.0
"""Seconds between unanswered keep-alive probes."""
DEFAULT_KEEPALIVE_COUNT: Final[int] = 5
"""Unanswered probes after which the kernel declares the connection dead."""

DEFAULT_CONNECT_TIMEOUT: Final[float] = 5.0
"""Seconds to establish a TCP (and TLS) connection."""
DEFAULT_READ_TIMEOUT: Final[float] = 600.0
"""Longest silence between two received bytes: it catches a dead connection.

It is not a bound on the whole response: a stream that keeps sending bytes
(even only pings) never trips it; the content watchdog above this layer does.
Write and pool-wait timeouts use the same value.
"""
DEFAULT_TIMEOUT: Final[httpx.Timeout] = httpx.Timeout(
    connect=DEFAULT_CONNECT_TIMEOUT,
    read=DEFAULT_READ_TIMEOUT,
    write=DEFAULT_READ_TIMEOUT,
    pool=DEFAULT_READ_TIMEOUT,
)

DEFAULT_LIMITS: Final[httpx.Limits] = httpx.Limits(
    max_connections=1000, max_keepalive_connections=100, keepalive_expiry=5.0
)
"""Connection limits of the default clients (the total over all shards).

httpx's own default (100 connections) would queue the 101st concurrent stream;
LLM streams hold their connection for minutes, so the default is higher.
"""

DEFAULT_SHARDS: Final[int] = 8
"""Number of inner connection pools of a sharded transport."""

# The tightest bounds among supported kernels (Linux: MAX_TCP_KEEPIDLE and
# MAX_TCP_KEEPINTVL are 32767 s, MAX_TCP_KEEPCNT is 127). Checking them here
# turns a bad value into one clear error instead of a failed setsockopt on
# every connection.
_MAX_KEEPALIVE_SECONDS: Final = 32767
_MAX_KEEPALIVE_COUNT: Final = 127

# Attribute set on transports built here, holding the keep-alive options they
# apply to every socket they open.
_KEEPALIVE_MARK: Final = "_streamsafe_keepalive_options"


# --------------------------------------------------------------------------
# Socket options
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlatformKeepalive:
    """Where one platform keeps its keep-alive knobs.

    Each TCP-level knob is ``(name in the socket module, numeric value)``. The
    numbers describe the platform when it is not the running one (so the table
    can be tested anywhere), and fill in a constant the running Python lacks
    when ``numeric_fallback`` says the kernel is known to have it.
    """

    sol_socket: int
    so_keepalive: int
    ipproto_tcp: int
    idle: tuple[str, int]
    interval: tuple[str, int]
    count: tuple[str, int]
    numeric_fallback: bool


_PLATFORMS: Final[Mapping[str, _PlatformKeepalive]] = {
    # <netinet/tcp.h>; present since Linux 2.4.
    "linux": _PlatformKeepalive(
        sol_socket=1,
        so_keepalive=9,
        ipproto_tcp=6,
        idle=("TCP_KEEPIDLE", 4),
        interval=("TCP_KEEPINTVL", 5),
        count=("TCP_KEEPCNT", 6),
        numeric_fallback=True,
    ),
    # macOS names the idle time TCP_KEEPALIVE (0x10); Python exposes the
    # constant since 3.10 only. Without it the first probe waits two hours.
    "darwin": _PlatformKeepalive(
        sol_socket=0xFFFF,
        so_keepalive=0x0008,
        ipproto_tcp=6,
        idle=("TCP_KEEPALIVE", 0x10),
        interval=("TCP_KEEPINTVL", 0x101),
        count=("TCP_KEEPCNT", 0x102),
        numeric_fallback=True,
    ),
    # Windows 10 1709+ accepts these as socket options (older releases only
    # have the SIO_KEEPALIVE_VALS ioctl, which httpx cannot apply). CPython
    # deletes the constants at import time on releases that reject them, so on
    # the running system only the names that exist are used: no numbers.
    "win32": _PlatformKeepalive(
        sol_socket=0xFFFF,
        so_keepalive=0x0008,
        ipproto_tcp=6,
        idle=("TCP_KEEPIDLE", 3),
        interval=("TCP_KEEPINTVL", 17),
        count=("TCP_KEEPCNT", 16),
        numeric_fallback=False,
    ),
}

# Any other running platform (FreeBSD, ...): whichever of these names exist.
_GENERIC_NAMES: Final = ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT")


def _platform_family(platform: str) -> str:
    return "linux" if platform.startswith("linux") else platform


def _whole_seconds(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    seconds = max(1, math.ceil(value))
    if seconds > _MAX_KEEPALIVE_SECONDS:
        raise ValueError(f"{name} must be at most {_MAX_KEEPALIVE_SECONDS} seconds, got {value!r}")
    return seconds


def _probe_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"count must be a positive integer, got {value!r}")
    if not 1 <= value <= _MAX_KEEPALIVE_COUNT:
        raise ValueError(f"count must be between 1 and {_MAX_KEEPALIVE_COUNT}, got {value!r}")
    return value


def keepalive_socket_options(
    idle: float = DEFAULT_KEEPALIVE_IDLE,
    interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    count: int = DEFAULT_KEEPALIVE_COUNT,
    platform: str = sys.platform,
) -> list[SocketOption]:
    """Return the ``(level, option, value)`` triples that turn on TCP keep-alive.

    The result always starts with ``SO_KEEPALIVE = 1``, followed by the idle
    time, probe interval and probe count under the platform's own names:

    * Linux: ``TCP_KEEPIDLE``, ``TCP_KEEPINTVL``, ``TCP_KEEPCNT``.
    * macOS: ``TCP_KEEPALIVE`` (the idle time; ``0x10`` when the running
      Python lacks the constant), ``TCP_KEEPINTVL``, ``TCP_KEEPCNT``.
    * Windows: ``TCP_KEEPIDLE``, ``TCP_KEEPINTVL``, ``TCP_KEEPCNT`` where the
      running Windows has them (10 1709 and later); ``SIO_KEEPALIVE_VALS`` is
      an ioctl, not a socket option, and is not used.
    * Other platforms: whichever of the Linux names the socket module has.

    Args:
        idle: Seconds of silence before the first probe (default 60).
        interval: Seconds between unanswered probes (default 10).
        count: Unanswered probes before the connection is declared dead
            (default 5). With the defaults a dead peer is detected about
            ``60 + 10 * 5 = 110`` seconds after the last byte.
        platform: A ``sys.platform`` value. For the running platform the
            socket module's constants are used; for any other of ``linux``,
            ``darwin`` and ``win32`` that platform's numeric values (useful to
            inspect or test what another platform gets).

    Times are rounded up to whole seconds, the kernels' unit.

    Raises:
        ValueError: ``idle`` or ``interval`` is not a positive number of at
            most 32767 seconds, ``count`` is not an integer in 1..127, or
            ``platform`` is neither the running platform nor a known one.
    """
    idle_s = _whole_seconds("idle", idle)
    interval_s = _whole_seconds("interval", interval)
    probes = _probe_count(count)

    family = _platform_family(platform)
    table = _PLATFORMS.get(family)
    running = family == _platform_family(sys.platform)

    if running:
        sol_socket, so_keepalive, ipproto_tcp = (
            socket.SOL_SOCKET,
            socket.SO_KEEPALIVE,
            socket.IPPROTO_TCP,
        )
    elif table is not None:
        sol_socket, so_keepalive, ipproto_tcp = (
            table.sol_socket,
            table.so_keepalive,
            table.ipproto_tcp,
        )
    else:
        known = ", ".join(sorted(_PLATFORMS))
        raise ValueError(
            f"no keep-alive option table for platform {platform!r} "
            f"(known: {known}; or the running platform {sys.platform!r})"
        )

    options: list[SocketOption] = [(sol_socket, so_keepalive, 1)]
    if table is None:
        knobs: list[tuple[str, int | None]] = [(name, None) for name in _GENERIC_NAMES]
    else:
        knobs = [table.idle, table.interval, table.count]
    for (name, number), value in zip(knobs, (idle_s, interval_s, probes), strict=True):
        if running:
            constant = getattr(socket, name, None)
            if constant is None and table is not None and table.numeric_fallback:
                constant = number
        else:
            constant = number
        if constant is not None:
            options.append((ipproto_tcp, int(constant), value))
    return options


def _options_with_extras(
    idle: float, interval: float, count: int, kwargs: dict[str, Any]
) -> list[SocketOption]:
    options = keepalive_socket_options(idle, interval, count)  # validated in any case
    if kwargs.get("uds") is not None:
        # A Unix socket has no TCP path to keep alive, and setting TCP options
        # on it fails (EOPNOTSUPP): only the caller's own options apply.
        options = []
    extra = kwargs.pop("socket_options", None)
    if extra is not None:
        # Applied after ours, so a caller's own value for the same option wins.
        options.extend(extra)
    return options


class _KeepaliveAsyncBackend(httpcore.AsyncNetworkBackend):
    """Network backend that adds the keep-alive options to every TCP connect.

    httpcore 1.0's HTTP proxy pool stores ``socket_options`` but never hands them
    to the connections it opens to the proxy (forwarding and CONNECT tunnels
    alike), and its SOCKS pool takes none at all. Both pass their network
    backend down to those connections, so wrapping the backend is how a proxied
    connection gets keep-alive.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend, options: Sequence[SocketOption]):
        self.inner = inner
        self.options = tuple(options)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=[*self.options, *(socket_options or ())],
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _KeepaliveSyncBackend(httpcore.NetworkBackend):
    """Synchronous twin of :class:`_KeepaliveAsyncBackend`."""

    def __init__(self, inner: httpcore.NetworkBackend, options: Sequence[SocketOption]):
        self.inner = inner
        self.options = tuple(options)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return self.inner.connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=[*self.options, *(socket_options or ())],
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return self.inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def _finish(
    transport: httpx.AsyncHTTPTransport | httpx.HTTPTransport,
    options: Sequence[SocketOption],
    proxy: object,
    bulk_reads: bool,
) -> None:
    """Make sure proxied connections get the options too; mark the transport if they all do.

    With ``bulk_reads``, direct HTTP/1.1 connections read response bodies in
    bulk (see :mod:`streamsafe._connection`).
    """
    if bulk_reads and proxy is None:
        use_bulk_connections(transport)
    if proxy is not None:
        pool: Any = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.AsyncNetworkBackend):
            wrapper: object = _KeepaliveAsyncBackend(backend, options)
        elif isinstance(backend, httpcore.NetworkBackend):
            wrapper = _KeepaliveSyncBackend(backend, options)
        else:  # httpcore internals changed: do not claim keep-alive
            return
        pool._network_backend = wrapper
    setattr(transport, _KEEPALIVE_MARK, tuple(options))


def keepalive_transport(
    *,
    idle: float = DEFAULT_KEEPALIVE_IDLE,
    interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    count: int = DEFAULT_KEEPALIVE_COUNT,
    bulk_reads: bool = True,
    **kwargs: Any,
) -> httpx.AsyncHTTPTransport:
    """Build an ``httpx.AsyncHTTPTransport`` whose sockets use TCP keep-alive.

    Defaults: first probe after ``idle=60`` s of silence, then every
    ``interval=10`` s, connection declared dead after ``count=5`` unanswered
    probes (see :func:`keepalive_socket_options` for the per-platform names).

    Other keyword arguments go to ``httpx.AsyncHTTPTransport`` unchanged
    (``limits``, ``verify``, ``http2``, ``proxy``, ``retries`` ...). Extra
    ``socket_options`` are applied after the keep-alive ones.

    Passing the result as ``transport=`` makes httpx ignore proxy environment
    variables; use :func:`default_async_client` to keep both.

    ``bulk_reads`` (default True): direct HTTP/1.1 connections de-chunk
    response bodies in bulk, one piece per socket read instead of one per HTTP
    chunk (see :mod:`streamsafe._connection`). Proxied and HTTP/2 connections
    always use httpcore's own.

    With ``proxy=``: httpcore 1.0 keeps ``socket_options`` on its proxy pools
    but never applies them to the connections it opens to the proxy, so the
    pool's network backend is wrapped to add them at connect time (HTTP
    forwarding, CONNECT tunnels and SOCKS alike).

    Raises:
        ValueError: invalid ``idle``, ``interval`` or ``count``.
    """
    options = _options_with_extras(idle, interval, count, kwargs)
    transport = httpx.AsyncHTTPTransport(socket_options=options, **kwargs)
    _finish(transport, options, kwargs.get("proxy"), bulk_reads)
    return transport


def sync_keepalive_transport(
    *,
    idle: float = DEFAULT_KEEPALIVE_IDLE,
    interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    count: int = DEFAULT_KEEPALIVE_COUNT,
    bulk_reads: bool = True,
    **kwargs: Any,
) -> httpx.HTTPTransport:
    """Synchronous twin of :func:`keepalive_transport` (an ``httpx.HTTPTransport``).

    Defaults: ``idle=60`` s, ``interval=10`` s, ``count=5`` probes, ``bulk_reads=True``.
    """
    options = _options_with_extras(idle, interval, count, kwargs)
    transport = httpx.HTTPTransport(socket_options=options, **kwargs)
    _finish(transport, options, kwargs.get("proxy"), bulk_reads)
    return transport


# --------------------------------------------------------------------------
# Sharded transports
# --------------------------------------------------------------------------

_T = TypeVar("_T")


class _Shard(Generic[_T]):
    __slots__ = ("in_flight", "transport")

    def __init__(self, transport: _T) -> None:
        self.transport = transport
        self.in_flight = 0


def _pick(shards: Sequence[_Shard[_T]]) -> _Shard[_T]:
    """The shard with the fewest in-flight requests; ties go to the lowest index.

    Preferring low indices (rather than rotating) keeps light, sequential
    traffic on the first shard, so it keeps reusing one warm connection instead
    of cycling through every pool and letting each idle connection expire.
    """
    best = shards[0]
    if best.in_flight == 0:
        return best
    for shard in shards:
        if shard.in_flight < best.in_flight:
            best = shard
            if best.in_flight == 0:
                break
    return best


def _spread(total: int | None, parts: int) -> list[int | None]:
    if total is None:
        return [None] * parts
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def _split_limits(limits: httpx.Limits, shards: int) -> list[httpx.Limits]:
    """Divide ``limits`` over at most ``shards`` pools so the totals are unchanged.

    ``max_connections`` and ``max_keepalive_connections`` are split as evenly as
    possible, remainders going to the first shards (which :func:`_pick` favours
    when idle). There are never more shards than allowed connections, so every
    shard can open at least one. ``keepalive_expiry`` applies to each shard.
    """
    parts = shards
    if limits.max_connections is not None:
        parts = max(1, min(shards, limits.max_connections))
    connections = _spread(limits.max_connections, parts)
    keepalive = _spread(limits.max_keepalive_connections, parts)
    return [
        httpx.Limits(
            max_connections=c,
            max_keepalive_connections=k,
            keepalive_expiry=limits.keepalive_expiry,
        )
        for c, k in zip(connections, keepalive, strict=True)
    ]


def _check_shards(shards: object) -> int:
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be a positive integer, got {shards!r}")
    return shards


def _shared_verify(kwargs: dict[str, Any]) -> None:
    """Build the SSL context once for all shards (it costs ~20 ms to load CAs)."""
    verify = kwargs.get("verify", True)
    cert = kwargs.pop("cert", None)
    kwargs["verify"] = httpx.create_ssl_context(
        verify=verify, cert=cert, trust_env=kwargs.get("trust_env", True)
    )


class _TrackedAsyncStream(httpx.AsyncByteStream):
    """Response body that gives its shard's in-flight slot back when closed."""

    def __init__(self, stream: httpx.AsyncByteStream, shard: _Shard[Any]) -> None:
        self._stream = stream
        self._shard: _Shard[Any] | None = shard

    def __aiter__(self) -> AsyncIterator[bytes]:
        # Hand out the inner iterator itself: no extra generator per chunk.
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            shard, self._shard = self._shard, None
            if shard is not None:
                shard.in_flight -= 1


class _TrackedSyncStream(httpx.SyncByteStream):
    def __init__(
        self, stream: httpx.SyncByteStream, shard: _Shard[Any], lock: threading.Lock
    ) -> None:
        self._stream = stream
        self._shard: _Shard[Any] | None = shard
        self._lock = lock

    def __iter__(self) -> Iterator[bytes]:
        return self._stream.__iter__()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            with self._lock:
                shard, self._shard = self._shard, None
                if shard is not None:
                    shard.in_flight -= 1


_SA = TypeVar("_SA", bound="ShardedAsyncTransport")
_SS = TypeVar("_SS", bound="ShardedTransport")


class ShardedAsyncTransport(httpx.AsyncBaseTransport):
    """An async transport that spreads requests over several keep-alive pools.

    httpcore's pool re-scans all of its connections whenever a request is
    queued or finishes, so its cost per request grows with the number of open
    connections; with a thousand concurrent streams that dominates. Splitting
    the connections over ``shards`` independent pools divides that work.

    Dispatch: each request goes to the shard with the fewest requests in
    flight (a request counts from the moment it is sent until its response is
    closed); ties go to the lowest-numbered shard, so light sequential traffic
    keeps reusing one warm connection.

    Limits: ``limits`` is the total over all shards (default
    :data:`DEFAULT_LIMITS`). ``max_connections`` and
    ``max_keepalive_connections`` are divided as evenly as possible (the first
    shards get the remainder) and there are never more shards than
    ``max_connections``. Since each shard can only use its own share, a shard
    may queue while another has a free connection; the least-in-flight policy
    keeps the shares evenly used. With ``http2=True`` each shard opens its own
    HTTP/2 connection per origin.

    Args:
        shards: Number of inner pools (default 8).
        limits: Total connection limits.
        idle, interval, count: TCP keep-alive settings, as in
            :func:`keepalive_transport`.
        **kwargs: Passed to every inner ``httpx.AsyncHTTPTransport``
            (``verify``, ``cert``, ``http2``, ``proxy``, ``trust_env`` ...). The
            SSL context is built once and shared.

    :meth:`from_transports` shards over transports you built yourself.
    """

    def __init__(
        self,
        shards: int = DEFAULT_SHARDS,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        idle: float = DEFAULT_KEEPALIVE_IDLE,
        interval: float = DEFAULT_KEEPALIVE_INTERVAL,
        count: int = DEFAULT_KEEPALIVE_COUNT,
        **kwargs: Any,
    ) -> None:
        _check_shards(shards)
        keepalive_socket_options(idle, interval, count)  # validate before building
        _shared_verify(kwargs)
        self._init_shards(
            keepalive_transport(idle=idle, interval=interval, count=count, limits=part, **kwargs)
            for part in _split_limits(limits, shards)
        )

    @classmethod
    def from_transports(cls: type[_SA], transports: Iterable[httpx.AsyncBaseTransport]) -> _SA:
        """Shard over existing transports (closed together with this one)."""
        self = cls.__new__(cls)
        self._init_shards(transports)
        return self

    def _init_shards(self, transports: Iterable[httpx.AsyncBaseTransport]) -> None:
        shards = tuple(_Shard(transport) for transport in transports)
        if not shards:
            raise ValueError("a sharded transport needs at least one transport")
        self._shards = shards

    @property
    def transports(self) -> tuple[httpx.AsyncBaseTransport, ...]:
        """The inner transports, in shard order."""
        return tuple(shard.transport for shard in self._shards)

    @property
    def in_flight(self) -> tuple[int, ...]:
        """Requests currently in flight on each shard (sent, response not closed)."""
        return tuple(shard.in_flight for shard in self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = _pick(self._shards)
        shard.in_flight += 1
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            shard.in_flight -= 1
            raise
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream) and not response.is_closed:
            response.stream = _TrackedAsyncStream(stream, shard)
        else:
            # Already read and closed (a response built from bytes): nobody
            # will close its stream again, so give the slot back now.
            shard.in_flight -= 1
        return response

    async def __aenter__(self: _SA) -> _SA:
        for shard in self._shards:
            await shard.transport.__aenter__()
        return self

    async def aclose(self) -> None:
        """Close every shard, even if closing one of them fails."""
        error: BaseException | None = None
        for shard in self._shards:
            try:
                await shard.transport.aclose()
            except BaseException as exc:
                error = error or exc
        if error is not None:
            raise error

    def __repr__(self) -> str:
        return f"<{type(self).__name__} shards={len(self._shards)} in_flight={self.in_flight}>"


class ShardedTransport(httpx.BaseTransport):
    """Synchronous twin of :class:`ShardedAsyncTransport` (thread-safe counters)."""

    def __init__(
        self,
        shards: int = DEFAULT_SHARDS,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        idle: float = DEFAULT_KEEPALIVE_IDLE,
        interval: float = DEFAULT_KEEPALIVE_INTERVAL,
        count: int = DEFAULT_KEEPALIVE_COUNT,
        **kwargs: Any,
    ) -> None:
        _check_shards(shards)
        keepalive_socket_options(idle, interval, count)
        _shared_verify(kwargs)
        self._init_shards(
            sync_keepalive_transport(
                idle=idle, interval=interval, count=count, limits=part, **kwargs
            )
            for part in _split_limits(limits, shards)
        )

    @classmethod
    def from_transports(cls: type[_SS], transports: Iterable[httpx.BaseTransport]) -> _SS:
        """Shard over existing transports (closed together with this one)."""
        self = cls.__new__(cls)
        self._init_shards(transports)
        return self

    def _init_shards(self, transports: Iterable[httpx.BaseTransport]) -> None:
        shards = tuple(_Shard(transport) for transport in transports)
        if not shards:
            raise ValueError("a sharded transport needs at least one transport")
        self._shards = shards
        self._lock = threading.Lock()

    @property
    def transports(self) -> tuple[httpx.BaseTransport, ...]:
        """The inner transports, in shard order."""
        return tuple(shard.transport for shard in self._shards)

    @property
    def in_flight(self) -> tuple[int, ...]:
        """Requests currently in flight on each shard (sent, response not closed)."""
        with self._lock:
            return tuple(shard.in_flight for shard in self._shards)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            shard = _pick(self._shards)
            shard.in_flight += 1
        try:
            response = shard.transport.handle_request(request)
        except BaseException:
            with self._lock:
                shard.in_flight -= 1
            raise
        stream = response.stream
        if isinstance(stream, httpx.SyncByteStream) and not response.is_closed:
            response.stream = _TrackedSyncStream(stream, shard, self._lock)
        else:
            with self._lock:
                shard.in_flight -= 1
        return response

    def __enter__(self: _SS) -> _SS:
        for shard in self._shards:
            shard.transport.__enter__()
        return self

    def close(self) -> None:
        """Close every shard, even if closing one of them fails."""
        error: BaseException | None = None
        for shard in self._shards:
            try:
                shard.transport.close()
            except BaseException as exc:
                error = error or exc
        if error is not None:
            raise error

    def __repr__(self) -> str:
        return f"<{type(self).__name__} shards={len(self._shards)} in_flight={self.in_flight}>"


# --------------------------------------------------------------------------
# Proxy routes from the environment
# --------------------------------------------------------------------------


def _is_ip(host: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        kind(host.split("/")[0])
    except ValueError:
        return False
    return True


def _no_proxy_pattern(host: str) -> str:
    """The mount pattern that sends ``host`` (one NO_PROXY entry) direct."""
    if "://" in host:
        return host
    if _is_ip(host, ipaddress.IPv4Address):
        return f"all://{host}"
    if _is_ip(host, ipaddress.IPv6Address):
        return f"all://[{host}]"
    if host.lower() == "localhost":
        return f"all://{host}"
    # "example.com" covers example.com and its subdomains; ".example.com" only
    # the subdomains (a leading "*" in a mount pattern means "this or a
    # subdomain", "*." means "a subdomain").
    return f"all://*{host}"


def _environment_proxy_routes() -> dict[str, str | None]:
    """Mount patterns from the proxy environment, as httpx derives them.

    Same source (``urllib.request.getproxies()``: the environment, and the
    system settings on macOS and Windows), same keys: ``http://``, ``https://``
    and ``all://`` map to a proxy URL (``http://`` prefixed when the value has
    no scheme); every NO_PROXY entry maps to ``None`` (go direct); a ``*`` entry
    disables proxies altogether. Precedence between the patterns is httpx's
    own, since the result is handed to the client as ``mounts``.
    """
    found = urllib.request.getproxies()
    routes: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            routes[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for entry in found.get("no", "").split(","):
        host = entry.strip()
        if host == "*":
            return {}
        if host:
            routes[_no_proxy_pattern(host)] = None
    return routes


def _proxy_routes(proxy: Any, trust_env: bool) -> dict[str, Any]:
    # Mirrors httpx: an explicit proxy wins over (and disables) the environment.
    if proxy is not None:
        return {"all://": proxy}
    if trust_env:
        return dict(_environment_proxy_routes())
    return {}


# --------------------------------------------------------------------------
# Client factories
# --------------------------------------------------------------------------

_TRANSPORT_KWARGS: Final = ("verify", "cert", "http1", "http2")


def _split_client_kwargs(
    client_kwargs: dict[str, Any], trust_env: bool, factory: str
) -> tuple[dict[str, Any], Any, Any]:
    if "transport" in client_kwargs:
        raise TypeError(
            f"{factory}() builds its own transports; to use your own, create the httpx "
            "client directly (keepalive_transport() keeps TCP keep-alive, but then "
            "httpx ignores proxy environment variables)"
        )
    transport_kwargs: dict[str, Any] = {
        k: client_kwargs.pop(k) for k in _TRANSPORT_KWARGS if k in client_kwargs
    }
    transport_kwargs["limits"] = client_kwargs.pop("limits", DEFAULT_LIMITS)
    transport_kwargs["trust_env"] = trust_env
    _shared_verify(transport_kwargs)  # one SSL context for every route
    return transport_kwargs, client_kwargs.pop("proxy", None), client_kwargs.pop("mounts", None)


_ShardedT = TypeVar("_ShardedT", "ShardedAsyncTransport", "ShardedTransport")


def _routes(
    sharded: type[_ShardedT],
    client_kwargs: dict[str, Any],
    trust_env: bool,
    caller: str,
    **keepalive: Any,
) -> tuple[_ShardedT, dict[str, Any]]:
    """The direct transport and the proxy mounts of a default client.

    Takes the transport options out of ``client_kwargs`` (what is left goes to
    the httpx client); every route gets its own sharded keep-alive transport.
    """
    transport_kwargs, proxy, user_mounts = _split_client_kwargs(client_kwargs, trust_env, caller)

    def build(proxy_url: Any) -> _ShardedT:
        return sharded(proxy=proxy_url, **keepalive, **transport_kwargs)

    mounts: dict[str, Any] = {
        pattern: None if target is None else build(target)
        for pattern, target in _proxy_routes(proxy, trust_env).items()
    }
    if user_mounts:
        mounts.update(user_mounts)
    return build(None), mounts


def default_async_client(
    *,
    timeout: httpx.Timeout | None = None,
    trust_env: bool = True,
    shards: int = DEFAULT_SHARDS,
    keepalive_idle: float = DEFAULT_KEEPALIVE_IDLE,
    keepalive_interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    keepalive_count: int = DEFAULT_KEEPALIVE_COUNT,
    **client_kwargs: Any,
) -> httpx.AsyncClient:
    """Build the ``httpx.AsyncClient`` streamsafe uses by default.

    * Every connection has TCP keep-alive (``keepalive_*``: see
      :func:`keepalive_transport`; defaults 60 s idle, 10 s interval, 5 probes).
    * Proxies behave as in a plain ``httpx.AsyncClient``: with ``trust_env``
      (default) ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``
      (and the system settings on macOS and Windows) are honoured; an explicit
      ``proxy=`` replaces them. Each proxy route gets its own sharded
      keep-alive transport, so proxied connections are neither bypassed nor
      left without keep-alive.
    * Timeout: :data:`DEFAULT_TIMEOUT` unless ``timeout`` is given (connect 5 s;
      read, write and pool 600 s).
    * Connections: ``limits`` (default :data:`DEFAULT_LIMITS`, 1000
      connections) is the total over the ``shards`` pools of each route; see
      :class:`ShardedAsyncTransport`.

    ``verify``, ``cert``, ``http1``, ``http2``, ``limits`` and ``proxy`` configure
    the transports; ``mounts`` are added over the proxy routes (yours win);
    other keyword arguments go to ``httpx.AsyncClient``. ``transport=`` is
    refused (TypeError): build the client yourself instead.
    """
    direct, mounts = _routes(
        ShardedAsyncTransport,
        client_kwargs,
        trust_env,
        "default_async_client",
        shards=shards,
        idle=keepalive_idle,
        interval=keepalive_interval,
        count=keepalive_count,
    )
    return httpx.AsyncClient(
        transport=direct,
        mounts=mounts,
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        trust_env=trust_env,
        **client_kwargs,
    )


def default_sync_client(
    *,
    timeout: httpx.Timeout | None = None,
    trust_env: bool = True,
    shards: int = DEFAULT_SHARDS,
    keepalive_idle: float = DEFAULT_KEEPALIVE_IDLE,
    keepalive_interval: float = DEFAULT_KEEPALIVE_INTERVAL,
    keepalive_count: int = DEFAULT_KEEPALIVE_COUNT,
    **client_kwargs: Any,
) -> httpx.Client:
    """Synchronous twin of :func:`default_async_client` (an ``httpx.Client``)."""
    direct, mounts = _routes(
        ShardedTransport,
        client_kwargs,
        trust_env,
        "default_sync_client",
        shards=shards,
        idle=keepalive_idle,
        interval=keepalive_interval,
        count=keepalive_count,
    )
    return httpx.Client(
        transport=direct,
        mounts=mounts,
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        trust_env=trust_env,
        **client_kwargs,
    )


# --------------------------------------------------------------------------
# Inspection
# --------------------------------------------------------------------------


def _options_enable_keepalive(options: Iterable[Any]) -> bool:
    """Whether socket options turn keep-alive on with this platform's timers set."""
    given: dict[tuple[int, int], object] = {}
    for option in options:
        if isinstance(option, tuple) and len(option) == 3:
            given[(option[0], option[1])] = option[2]
    wanted = keepalive_socket_options()
    switch = given.get((wanted[0][0], wanted[0][1]))
    if not isinstance(switch, int) or switch == 0:
        return False
    return all((level, name) in given for level, name, _ in wanted[1:])


_PROXY_POOLS: Final = (
    httpcore.AsyncHTTPProxy,
    httpcore.HTTPProxy,
    httpcore.AsyncSOCKSProxy,
    httpcore.SOCKSProxy,
)


def _transport_has_keepalive(transport: object) -> bool:
    if isinstance(transport, (ShardedAsyncTransport, ShardedTransport)):
        return all(_transport_has_keepalive(inner) for inner in transport.transports)
    if getattr(transport, _KEEPALIVE_MARK, None):
        return True
    # Not built here: look at what httpx handed to the httpcore pool.
    pool = getattr(transport, "_pool", None)
    if getattr(pool, "_uds", None) is not None:
        return True  # a Unix socket: no network path that could go idle and die
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, (_KeepaliveAsyncBackend, _KeepaliveSyncBackend)):
        return _options_enable_keepalive(backend.options)
    if isinstance(pool, _PROXY_POOLS):
        # httpcore 1.0 stores socket_options on proxy pools without applying
        # them to the connections it opens to the proxy.
        return False
    options = getattr(pool, "_socket_options", None)
    return options is not None and _options_enable_keepalive(options)


def has_keepalive(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Whether every route of ``client`` opens sockets with TCP keep-alive.

    Looks at the client's transport and at every mounted transport (proxy
    routes included): transports built by this module are recognised by a
    mark, sharded transports are looked through, and plain httpx transports
    by the socket options of their httpcore pool (``SO_KEEPALIVE`` on and this
    platform's idle / interval / count options present). A plain httpx proxy
    transport never counts: httpcore 1.0 does not apply its socket options. A
    Unix-socket transport always counts: it has no TCP path to keep alive.
    Anything else (a ``MockTransport``, an ASGI transport, a custom wrapper)
    counts as without keep-alive. Never raises.
    """
    try:
        routes: list[object] = [getattr(client, "_transport", None)]
        mounts = getattr(client, "_mounts", None) or {}
        routes.extend(t for t in mounts.values() if t is not None)
        return all(_transport_has_keepalive(t) for t in routes)
    except Exception:
        return False
