"""The transport's defaults: timeouts, connection limits, shards and keep-alive timers.

Every default the transport layer uses is defined here, once, and re-exported
by :mod:`streamsafe.transport`; the other modules import them from here. The
values are chosen for LLM streams, which hold a connection for minutes and may
sit silent for a long time while a model thinks: a short connect timeout, a
long read timeout that only catches a dead connection (the content watchdog
above this layer catches a stream that only pings), room for a thousand
concurrent streams, and keep-alive probes that detect a dead peer in about two
minutes.
"""

from __future__ import annotations

from typing import Final

import httpx

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_KEEPALIVE_COUNT",
    "DEFAULT_KEEPALIVE_IDLE",
    "DEFAULT_KEEPALIVE_INTERVAL",
    "DEFAULT_LIMITS",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_SHARDS",
    "DEFAULT_TIMEOUT",
    "HTTPX_LIMITS",
]

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
"""The timeout of the default clients."""

DEFAULT_LIMITS: Final[httpx.Limits] = httpx.Limits(
    max_connections=1000, max_keepalive_connections=100, keepalive_expiry=5.0
)
"""Connection limits of the default clients (the total over all shards).

httpx's own default (100 connections) would queue the 101st concurrent stream;
LLM streams hold their connection for minutes, so the default is higher.
"""

HTTPX_LIMITS: Final[httpx.Limits] = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0
)
"""httpx's own default limits: those of a single keep-alive transport, as of
an ``httpx.AsyncHTTPTransport`` built without ``limits=``."""

DEFAULT_SHARDS: Final[int] = 8
"""Number of inner connection pools of a sharded transport."""
