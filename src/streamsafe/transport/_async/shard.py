"""The sharded transport: requests spread over several keep-alive pools.

The dispatch policy and the split of limits live in ``transport/_shard.py`` (no
I/O); this module moves requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, TypeVar

import httpx

from ..._twins import AsyncSectionLock
from .._defaults import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_LIMITS,
    DEFAULT_SHARDS,
)
from .._keepalive import keepalive_socket_options
from .._shard import Shard, check_shards, pick, shared_verify, split_limits
from .http import AsyncKeepaliveTransport

__all__ = ["AsyncShardedTransport"]


class _AsyncTrackedStream(httpx.AsyncByteStream):
    """Response body that gives its shard's in-flight slot back when closed."""

    def __init__(
        self, stream: httpx.AsyncByteStream, shard: Shard[Any], lock: AsyncSectionLock
    ) -> None:
        self._stream = stream
        self._shard: Shard[Any] | None = shard
        self._lock = lock

    def __aiter__(self) -> AsyncIterator[bytes]:
        # Hand out the inner iterator itself: no extra generator per chunk.
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            with self._lock:
                shard, self._shard = self._shard, None
                if shard is not None:
                    shard.in_flight -= 1


_Self = TypeVar("_Self", bound="AsyncShardedTransport")


class AsyncShardedTransport(httpx.AsyncBaseTransport):
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
        check_shards(shards)
        keepalive_socket_options(idle, interval, count)  # validate before building
        shared_verify(kwargs)
        self._init_shards(
            AsyncKeepaliveTransport(
                idle=idle, interval=interval, count=count, limits=part, **kwargs
            )
            for part in split_limits(limits, shards)
        )

    @classmethod
    def from_transports(cls: type[_Self], transports: Iterable[httpx.AsyncBaseTransport]) -> _Self:
        """Shard over existing transports (closed together with this one)."""
        self = cls.__new__(cls)
        self._init_shards(transports)
        return self

    def _init_shards(self, transports: Iterable[httpx.AsyncBaseTransport]) -> None:
        shards = tuple(Shard(transport) for transport in transports)
        if not shards:
            raise ValueError("a sharded transport needs at least one transport")
        self._shards = shards
        self._lock = AsyncSectionLock()

    @property
    def transports(self) -> tuple[httpx.AsyncBaseTransport, ...]:
        """The inner transports, in shard order."""
        return tuple(shard.transport for shard in self._shards)

    @property
    def in_flight(self) -> tuple[int, ...]:
        """Requests currently in flight on each shard (sent, response not closed)."""
        with self._lock:
            return tuple(shard.in_flight for shard in self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            shard = pick(self._shards)
            shard.in_flight += 1
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            with self._lock:
                shard.in_flight -= 1
            raise
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream) and not response.is_closed:
            response.stream = _AsyncTrackedStream(stream, shard, self._lock)
        else:
            # Already read and closed (a response built from bytes): nobody
            # will close its stream again, so give the slot back now.
            with self._lock:
                shard.in_flight -= 1
        return response

    async def __aenter__(self: _Self) -> _Self:
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
