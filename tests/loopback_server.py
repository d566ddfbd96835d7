"""The one raw-socket HTTP/1.1 test server: threaded, on real loopback TCP (or a Unix socket).

Every test that needs a server speaking exact bytes uses :class:`ScriptedServer`:

* a script: each request is answered with the next :class:`Reply`, byte for
  byte (each write its own ``sendall``, ``CLOSE`` hangs up, ``pause`` stalls
  between writes, ``early`` answers before the request body is read), so
  framing, reuse and failures are exact;
* once the script is used up, ``respond`` (if given) answers every further
  request from what it received (:func:`always_ok`: 200 and a body, also as
  an HTTP proxy); without it the server hangs up;
* what came in: ``requests`` (each request as received, head and body),
  ``request_lines`` and ``connections`` (how many were accepted);
* TLS (``tls=``, a server-side context) or a Unix socket (``unix_path=``).

It is a context manager; ``close()`` stops it and hangs up every connection.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "CLOSE",
    "HEAD_CHUNKED",
    "Reply",
    "ScriptedServer",
    "chunked",
    "always_ok",
    "sized",
]

CLOSE = b"<close>"  # in a reply: the server closes the connection here


@dataclass
class Reply:
    """Bytes written in order (each its own ``sendall``); ``CLOSE`` hangs up."""

    writes: list[bytes]
    pause: float = 0.0  # seconds between writes
    #: Answer as soon as the request head is in, without reading its body (an
    #: early 413, say); without a ``CLOSE`` the server then reads and drops
    #: whatever comes until the client hangs up, and answers nothing more.
    early: bool = False


@dataclass
class ScriptedServer:
    """Loopback HTTP/1.1 server answering each request with the next scripted reply."""

    replies: list[Reply] = field(default_factory=list)
    #: Answers a request (all its bytes) once ``replies`` is used up; None: hang up.
    respond: Callable[[bytes], Reply] | None = None
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    tls: ssl.SSLContext | None = None
    unix_path: str | None = None  # listen on a Unix socket instead of TCP
    host: str = "localhost"  # the host name in ``url`` (the server listens on 127.0.0.1)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if self.unix_path is not None:
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(self.unix_path)
            self._listener.listen()
            self.port = 80
        else:
            self._listener = socket.create_server(("127.0.0.1", 0))
            self.port = self._listener.getsockname()[1]
        self._listener.settimeout(0.05)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://{self.host}:{self.port}"
        self._conns: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def request_lines(self) -> list[str]:
        """The first line of each request, in order (``GET /a HTTP/1.1``)."""
        with self._lock:
            requests = list(self.requests)
        return [request.split(b"\r\n", 1)[0].decode("ascii") for request in requests]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except OSError:
                    conn.close()
                    continue
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _read_head(self, conn: socket.socket, buffer: bytes) -> tuple[bytes, bytes] | None:
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        return head, rest

    def _read_request(
        self, conn: socket.socket, head: bytes, rest: bytes
    ) -> tuple[bytes, bytes] | None:
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            while b"\r\n0\r\n\r\n" not in b"\r\n" + rest:
                rest += conn.recv(65536)
            body, _, rest = (b"\r\n" + rest).partition(b"\r\n0\r\n\r\n")
            return head + b"\r\n\r\n" + body[2:] + b"\r\n0\r\n\r\n", rest
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += conn.recv(65536)
        return head + b"\r\n\r\n" + rest[:length], rest[length:]

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn, contextlib.suppress(OSError):
            while True:
                got = self._read_head(conn, buffer)
                if got is None:
                    return
                head, rest = got
                with self._lock:
                    reply = self.replies[0] if self.replies else None
                if reply is not None and reply.early:
                    with self._lock:
                        self.requests.append(head + b"\r\n\r\n")
                        self.replies.pop(0)
                    if not self._send(conn, reply):
                        while conn.recv(65536):
                            pass
                    return
                got = self._read_request(conn, head, rest)
                if got is None:
                    return
                request, buffer = got
                with self._lock:
                    self.requests.append(request)
                    reply = self.replies.pop(0) if self.replies else None
                if reply is None and self.respond is not None:
                    reply = self.respond(request)
                if reply is None or self._send(conn, reply):
                    return

    @staticmethod
    def _send(conn: socket.socket, reply: Reply) -> bool:
        """Write ``reply``; True if it hung up."""
        for index, data in enumerate(reply.writes):
            if data == CLOSE:
                return True
            if index and reply.pause:
                time.sleep(reply.pause)
            conn.sendall(data)
        return False

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


HEAD_CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


def sized(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)


def always_ok(body: bytes) -> Callable[[bytes], Reply]:
    """A ``respond`` answering every request with ``200`` and ``body``, also as an HTTP proxy.

    A plain-``http://`` request sent through an HTTP proxy arrives in absolute
    form (``GET http://host/path HTTP/1.1``), so the same server can play the
    proxy: its request lines tell which route a request took. A ``CONNECT`` is
    accepted, then the server hangs up (it speaks no TLS inside the tunnel).
    """

    def respond(request: bytes) -> Reply:
        if request.startswith(b"CONNECT "):
            return Reply([b"HTTP/1.1 200 Connection established\r\n\r\n", CLOSE])
        return Reply([sized(body, b"Content-Type: text/plain")])

    return respond
