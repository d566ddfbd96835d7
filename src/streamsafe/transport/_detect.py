"""Keep-alive detection: does every route of an httpx client keep its sockets alive?

streamsafe's clients accept an httpx client built elsewhere, and warn (once)
when it would open sockets without TCP keep-alive. :func:`has_keepalive`
answers for every route of the client (its transport and each mount): the
transports of this package know their socket options, sharded transports are
looked through, and a plain ``httpx.HTTPTransport`` is judged by the options
its httpcore pool was given (read through :mod:`streamsafe._compat`, the one
module that touches httpx's and httpcore's internals). Anything else counts
as without keep-alive.
"""

from __future__ import annotations

import httpx

from .. import _compat
from ._async.http import AsyncKeepaliveTransport
from ._async.shard import AsyncShardedTransport
from ._keepalive import enables_keepalive
from ._sync.http import KeepaliveTransport
from ._sync.shard import ShardedTransport

__all__ = ["has_keepalive"]


def _transport_has_keepalive(transport: object) -> bool:
    if isinstance(transport, (AsyncShardedTransport, ShardedTransport)):
        return all(_transport_has_keepalive(inner) for inner in transport.transports)
    if isinstance(transport, (AsyncKeepaliveTransport, KeepaliveTransport)):
        settings = transport.settings
        return settings.uds is not None or enables_keepalive(settings.socket_options)
    # A plain httpx transport: look at what it handed to its httpcore pool.
    # Its proxy pools never count (httpcore 1.0 stores their socket_options
    # without applying them to the connections to the proxy).
    sockets = _compat.pool_sockets(_compat.transport_pool(transport))
    if sockets is None:
        return False
    if sockets.uds is not None:
        return True  # a Unix socket: no network path that could go idle and die
    return sockets.socket_options is not None and enables_keepalive(sockets.socket_options)


def has_keepalive(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Whether every route of ``client`` opens sockets with TCP keep-alive.

    Looks at the client's transport and at every mounted transport (proxy
    routes included): the keep-alive transports of :mod:`streamsafe.transport`
    by their socket options, sharded transports through their shards, and
    plain httpx transports by the socket options of their httpcore pool
    (``SO_KEEPALIVE`` on and this platform's idle / interval / count options
    present). A plain httpx proxy transport never counts: httpcore 1.0 does
    not apply its socket options. A Unix-socket transport always counts: it
    has no TCP path to keep alive. Anything else (a ``MockTransport``, an ASGI
    transport, a custom wrapper) counts as without keep-alive. Never raises.
    """
    try:
        routes = _compat.client_routes(client)
        return routes is not None and all(_transport_has_keepalive(t) for t in routes)
    except Exception:
        return False
