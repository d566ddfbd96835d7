"""The only place streamsafe reads private attributes of httpx and httpcore objects.

Everything streamsafe builds, it builds through httpx's and httpcore's public
interfaces. Three things have no public way, and are done here: which
transports an ``httpx.Client`` routes to (its default transport and its
mounts) and which socket options the httpcore pool of a plain
``httpx.HTTPTransport`` opens its sockets with (both for
:func:`streamsafe.transport.has_keepalive`, which warns about a user's client
without TCP keep-alive), and keeping the first part of a rejected response's
body as its ``.content`` without reading the rest (:func:`keep_content`).
When a future httpx or httpcore no longer keeps these attributes, each
function falls back (to "unknown", or to leaving the body unread) and logs
one WARNING on the ``streamsafe`` logger per kind of fallback;
``tests/test_compat.py`` fails when any fallback happens with the installed
versions.
"""

from __future__ import annotations

import logging
from typing import Any, Final, NamedTuple

import httpcore
import httpx

__all__ = [
    "PoolSockets",
    "client_routes",
    "fallbacks",
    "keep_content",
    "pool_sockets",
    "transport_pool",
]

_log: Final = logging.getLogger("streamsafe")
_fallen_back: set[str] = set()

_DIRECT_POOLS: Final = (httpcore.ConnectionPool, httpcore.AsyncConnectionPool)


def _fall_back(what: str) -> None:
    if what not in _fallen_back:
        _fallen_back.add(what)
        _log.warning(
            "streamsafe cannot read %s with httpx %s / httpcore %s (their internals "
            "changed); it assumes the connections have no TCP keep-alive",
            what,
            httpx.__version__,
            httpcore.__version__,
        )


def fallbacks() -> frozenset[str]:
    """What could not be read so far (each was logged once)."""
    return frozenset(_fallen_back)


def client_routes(client: object) -> list[object] | None:
    """The transports of an httpx client: its default one, then its mounts (None: unknown)."""
    if not isinstance(client, (httpx.Client, httpx.AsyncClient)):
        return None
    try:
        default: object = client._transport
        mounts: dict[Any, Any] = client._mounts
    except AttributeError:
        _fall_back("the routes of an httpx client (_transport, _mounts)")
        return None
    return [default, *(t for t in mounts.values() if t is not None)]


def transport_pool(transport: object) -> object | None:
    """The httpcore pool of a plain httpx transport (None: not one, or unknown)."""
    if not isinstance(transport, (httpx.HTTPTransport, httpx.AsyncHTTPTransport)):
        return None
    try:
        pool: object = transport._pool
    except AttributeError:
        _fall_back("the pool of an httpx transport (_pool)")
        return None
    return pool


class PoolSockets(NamedTuple):
    """How a direct httpcore pool opens its sockets."""

    uds: str | None
    socket_options: list[Any] | None


def pool_sockets(pool: object) -> PoolSockets | None:
    """How a direct httpcore pool opens sockets (None: a proxy pool, another kind, or unknown)."""
    if type(pool) not in _DIRECT_POOLS:
        return None
    try:
        uds: str | None = pool._uds  # type: ignore[attr-defined]
        options: Any = pool._socket_options  # type: ignore[attr-defined]
    except AttributeError:
        _fall_back("the socket settings of an httpcore pool (_uds, _socket_options)")
        return None
    return PoolSockets(uds, None if options is None else list(options))


def keep_content(response: httpx.Response, content: bytes) -> None:
    """Make ``content`` (the part of the body that was read) the response's ``.content``.

    What ``Response.read()`` does once it has the whole body, for a body read
    only in part: ``.content`` and ``.text`` then work as usual.
    """
    response._content = content
    try:
        response.content  # noqa: B018 (checks that httpx still reads it there)
    except httpx.ResponseNotRead:
        _fall_back("the content of an httpx response (_content)")
