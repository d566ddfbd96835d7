"""Connection resets: reaching a connection's socket and aborting it with a TCP RST.

An RST is produced by closing the socket with ``SO_LINGER = (on, 0 s)``. The
socket comes from the asyncio transport of the connection,
``transport.get_extra_info("socket")``. The transport is found through the
ASGI ``receive`` callable: uvicorn hands the bound method of its per-request
cycle object, which holds the connection's ``transport``. When that is not
available (another server, a wrapped ``receive``), the transport is looked up
among the server's open connections by the client's address.

Before the reset, the response waits (up to a second) until the transport
has handed everything written so far to the kernel and, where the kernel
tells (Linux: ``TIOCOUTQ``), until the client has acknowledged every byte:
an RST discards the sender's unsent queue, and on a reused keep-alive
connection slow start after idle plus delayed ACKs keep part of a response
there for tens of milliseconds. The client then reads the events that
preceded the fault, then ``ECONNRESET``.
"""

from __future__ import annotations

import array
import asyncio
import socket
import struct
import sys
from collections.abc import Callable, Iterable

import anyio
from starlette.types import Receive, Scope

try:  # POSIX only
    import fcntl
    import termios
except ImportError:  # pragma: no cover - Windows
    fcntl = termios = None  # type: ignore[assignment]

__all__ = ["ConnectionsGetter", "abort", "arm_reset", "find_transport", "unacknowledged_bytes"]

#: Lists the server's open connections (objects with a ``transport`` attribute).
ConnectionsGetter = Callable[[], Iterable[object]]


def find_transport(
    receive: Receive, scope: Scope, connections: ConnectionsGetter
) -> asyncio.BaseTransport | None:
    """The asyncio transport of the request's connection (None: out of reach)."""
    owner = getattr(receive, "__self__", None)
    transport = getattr(owner, "transport", None)
    if isinstance(transport, asyncio.BaseTransport):
        return transport
    client = scope.get("client")
    if not client:
        return None
    for connection in connections():
        candidate = getattr(connection, "transport", None)
        if not isinstance(candidate, asyncio.BaseTransport):
            continue
        peer = candidate.get_extra_info("peername")
        if peer is not None and tuple(peer)[:2] == tuple(client)[:2]:
            return candidate
    return None


async def arm_reset(transport: asyncio.BaseTransport) -> None:
    """Wait (up to a second) until what was written reached the client, then set
    ``SO_LINGER = (on, 0 s)`` so that closing the socket sends an RST."""
    sock = transport.get_extra_info("socket")
    with anyio.move_on_after(1.0):
        if isinstance(transport, asyncio.WriteTransport):
            # asyncio has no "write buffer drained" event outside its protocols.
            while transport.get_write_buffer_size() > 0 and not transport.is_closing():  # noqa: ASYNC110
                await anyio.sleep(0.001)
        # The RST would discard what the kernel has not delivered yet.
        while sock is not None and unacknowledged_bytes(sock):  # noqa: ASYNC110
            await anyio.sleep(0.001)
    if sock is not None:
        linger = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)


def abort(transport: asyncio.BaseTransport) -> None:
    """Close the connection at once (with the RST once :func:`arm_reset` ran)."""
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    else:  # pragma: no cover - every stream transport is a WriteTransport
        transport.close()


def unacknowledged_bytes(sock: socket.socket) -> int:
    """Bytes written to ``sock`` that the peer has not acknowledged (0 where unknown)."""
    request = getattr(termios, "TIOCOUTQ", None)
    if fcntl is None or request is None or sys.platform != "linux":
        return 0
    count = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), request, count)
    except OSError:
        return 0
    return count[0]
