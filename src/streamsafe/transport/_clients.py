"""The httpx clients streamsafe builds by default: keep-alive and proxies on every route.

:func:`default_async_client` and :func:`default_sync_client` build an httpx
client whose direct route is a sharded keep-alive transport and which mounts
one more for every proxy route httpx itself would use (``HTTP_PROXY`` /
``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` and the system settings, or an
explicit ``proxy=``), so nothing bypasses a proxy and nothing loses
keep-alive. TLS settings are turned into one SSL context shared by every
route; ``limits`` is divided over the shards of each route.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import httpx

from ._async.shard import AsyncShardedTransport
from ._defaults import (
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_LIMITS,
    DEFAULT_SHARDS,
    DEFAULT_TIMEOUT,
)
from ._proxy import proxy_routes
from ._shard import shared_verify
from ._sync.shard import ShardedTransport

__all__ = ["default_async_client", "default_sync_client"]

_TRANSPORT_KWARGS: Final = ("verify", "cert", "http1", "http2")


def _split_client_kwargs(
    client_kwargs: dict[str, Any], trust_env: bool, factory: str
) -> tuple[dict[str, Any], Any, Any]:
    if "transport" in client_kwargs:
        raise TypeError(
            f"{factory}() builds its own transports; to use your own, create the httpx "
            "client directly (streamsafe.transport.keepalive_transport() keeps TCP keep-alive, "
            "but then "
            "httpx ignores proxy environment variables)"
        )
    transport_kwargs: dict[str, Any] = {
        k: client_kwargs.pop(k) for k in _TRANSPORT_KWARGS if k in client_kwargs
    }
    transport_kwargs["limits"] = client_kwargs.pop("limits", DEFAULT_LIMITS)
    transport_kwargs["trust_env"] = trust_env
    shared_verify(transport_kwargs)  # one SSL context for every route
    return transport_kwargs, client_kwargs.pop("proxy", None), client_kwargs.pop("mounts", None)


_ShardedT = TypeVar("_ShardedT", "AsyncShardedTransport", "ShardedTransport")


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
        for pattern, target in proxy_routes(proxy, trust_env).items()
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
      :class:`AsyncShardedTransport`.

    ``verify``, ``cert``, ``http1``, ``http2``, ``limits`` and ``proxy`` configure
    the transports; ``mounts`` are added over the proxy routes (yours win);
    other keyword arguments go to ``httpx.AsyncClient``. ``transport=`` is
    refused (TypeError): build the client yourself instead.
    """
    direct, mounts = _routes(
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
