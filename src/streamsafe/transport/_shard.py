"""Sharded transports: requests spread over several smaller connection pools.

httpcore's connection pool re-examines every connection each time a request is
queued or released, so its cost per request grows with the number of open
connections: with a thousand concurrent streams that dominates.
:class:`ShardedAsyncTransport` (and its sync twin :class:`ShardedTransport`)
spread requests over several independent keep-alive transports, each with a
share of the connection limits, sending each request to the shard with the
fewest requests in flight (ties to the lowest index, so light sequential
traffic keeps one warm connection). A request counts as in flight from the
moment it is sent until its response is closed.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import httpx

from ._defaults import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_LIMITS,
    DEFAULT_SHARDS,
)
from ._http import AsyncKeepaliveTransport, KeepaliveTransport
from ._keepalive import keepalive_socket_options

__all__ = ["ShardedAsyncTransport", "ShardedTransport", "shared_verify"]


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


def shared_verify(kwargs: dict[str, Any]) -> None:
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
        **kwargs: Passed to every inner :class:`AsyncKeepaliveTransport`
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
        shared_verify(kwargs)
        self._init_shards(
            AsyncKeepaliveTransport(
                idle=idle, interval=interval, count=count, limits=part, **kwargs
            )
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
        shared_verify(kwargs)
        self._init_shards(
            KeepaliveTransport(idle=idle, interval=interval, count=count, limits=part, **kwargs)
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
