"""Transport building blocks: TCP keep-alive, proxy-aware clients, sharded pools.

Below everything that speaks SSE, streamsafe's connections solve four
problems. *Dead connections*: every socket gets TCP keep-alive under the
platform's own option names (:func:`keepalive_socket_options`), so a silent
NAT path is probed and a dead peer detected. *Proxies*: the default clients
(:func:`default_async_client`, :func:`default_sync_client`) honour
``HTTPS_PROXY`` / ``NO_PROXY`` exactly as httpx does and give each proxy route
keep-alive too. *Many concurrent streams*: :class:`ShardedAsyncTransport` and
:class:`ShardedTransport` spread requests over several smaller pools. *A cost
per HTTP chunk*: :class:`AsyncKeepaliveTransport` and
:class:`KeepaliveTransport` (built by :func:`keepalive_transport` and
:func:`sync_keepalive_transport`) give direct HTTP/1.1 origins bulk
connections that de-chunk one whole socket read at a time. Bring your own
httpx client and keep the guarantee with ``transport=keepalive_transport()``;
:func:`has_keepalive` tells whether a client has it on every route.

Modules: ``_defaults`` (every default), ``_keepalive`` (socket options),
``_proxy`` (environment proxy routes), ``_http`` (the transports and their
pools), ``_exceptions`` (httpcore's errors as httpx's), ``_shard`` (sharding),
``_clients`` (the default clients), ``_detect`` (keep-alive detection).
"""

from ._clients import default_async_client, default_sync_client
from ._defaults import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_KEEPALIVE_COUNT,
    DEFAULT_KEEPALIVE_IDLE,
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_LIMITS,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_SHARDS,
    DEFAULT_TIMEOUT,
    HTTPX_LIMITS,
)
from ._detect import has_keepalive
from ._http import (
    AsyncKeepaliveTransport,
    KeepaliveTransport,
    TransportSettings,
    keepalive_transport,
    sync_keepalive_transport,
)
from ._keepalive import SocketOption, enables_keepalive, keepalive_socket_options
from ._proxy import environment_proxy_routes
from ._shard import ShardedAsyncTransport, ShardedTransport

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
    "AsyncKeepaliveTransport",
    "KeepaliveTransport",
    "ShardedAsyncTransport",
    "ShardedTransport",
    "SocketOption",
    "TransportSettings",
    "default_async_client",
    "default_sync_client",
    "enables_keepalive",
    "environment_proxy_routes",
    "has_keepalive",
    "keepalive_socket_options",
    "keepalive_transport",
    "sync_keepalive_transport",
]
