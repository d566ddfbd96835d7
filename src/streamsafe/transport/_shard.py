"""Sharding without I/O: the shard record, the dispatch policy, the split of limits.

httpcore's connection pool re-examines every connection each time a request is
queued or released, so its cost per request grows with the number of open
connections: with a thousand concurrent streams that dominates. The sharded
transports (:class:`~streamsafe.transport.AsyncShardedTransport`, written in
``_async/shard.py``, and its generated sync twin) spread requests over several
independent keep-alive transports, each with a share of the connection limits,
sending each request to the shard with the fewest requests in flight (ties to
the lowest index, so light sequential traffic keeps one warm connection). A
request counts as in flight from the moment it is sent until its response is
closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import httpx

__all__ = ["Shard", "check_shards", "pick", "shared_verify", "split_limits"]


_T = TypeVar("_T")


class Shard(Generic[_T]):
    __slots__ = ("in_flight", "transport")

    def __init__(self, transport: _T) -> None:
        self.transport = transport
        self.in_flight = 0


def pick(shards: Sequence[Shard[_T]]) -> Shard[_T]:
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


def split_limits(limits: httpx.Limits, shards: int) -> list[httpx.Limits]:
    """Divide ``limits`` over at most ``shards`` pools so the totals are unchanged.

    ``max_connections`` and ``max_keepalive_connections`` are split as evenly as
    possible, remainders going to the first shards (which :func:`pick` favours
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


def check_shards(shards: object) -> int:
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
