"""The default httpx client: a sharded keep-alive transport on every route."""

from __future__ import annotations

from typing import Any

import httpx

from .._clients import routes
from .._defaults import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_SHARDS,
    DEFAULT_TIMEOUT,
)
from .shard import AsyncShardedTransport

__all__ = ["default_async_client"]


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
      :class:`AsyncShardedTransport`.

    ``verify``, ``cert``, ``http1``, ``http2``, ``limits`` and ``proxy`` configure
    the transports; ``mounts`` are added over the proxy routes (yours win);
    other keyword arguments go to ``httpx.AsyncClient``. ``transport=`` is
    refused (TypeError): build the client yourself instead.
    """
    direct, mounts = routes(
        AsyncShardedTransport,
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
