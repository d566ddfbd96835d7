"""One HTTP/1.1 exchange, sans-IO: the request out, the response in, the body de-chunked in bulk.

Why this exists: h11 turns every HTTP chunk of a response into its own event,
and httpcore and httpx then hand each one up their stacks separately, about
7 µs per chunk. A server that flushes every SSE event (the Messages API does)
sends one chunk per event, so that cost lands on every event and dwarfs the
SSE parsing above it. :class:`Exchange` keeps h11 for what it is good at,
serialising the request and parsing and validating the response head, and
frames the response body itself: :class:`ChunkedBody` takes whatever one socket
read returned (often hundreds of chunks) and hands back their payload as one
``bytes``.

Nothing here does I/O. The connections in :mod:`streamsafe._connection` feed
it bytes from a socket and write out the bytes it returns; the async and sync
connections share all of the protocol logic.

Errors are httpcore's own (:class:`httpcore.RemoteProtocolError`,
:class:`httpcore.LocalProtocolError`), so httpx maps them exactly as it maps
errors from its stock connections.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import h11
import httpcore

__all__ = [
    "MAX_HEAD_BYTES",
    "ChunkedBody",
    "Exchange",
    "FixedLengthBody",
    "RequestWrites",
    "ResponseHead",
    "UntilCloseBody",
    "connect_delays",
]

MAX_HEAD_BYTES: Final = 100 * 1024
"""Largest response head (status line plus headers) accepted, as in httpcore."""

_MAX_CHUNK_LINE: Final = 4096
"""Largest chunk-size line (size plus chunk extensions) accepted."""

_MAX_TRAILERS: Final = 64 * 1024
"""Largest trailer section accepted after the last chunk."""

# A trailer line (without its line end), as h11 takes a header line: a field
# name, a colon and a value of visible characters, spaces and tabs; or, after
# a first field, an obsolete continuation line starting with a space or tab.
_TRAILER: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[ \t\x21-\x7e\x80-\xff]*")
_CONTINUATION: Final = re.compile(rb"[ \t]+[ \t\x21-\x7e\x80-\xff]*")

# A chunk-size line: hex size, optional whitespace and extensions, CRLF.
# At most 20 hex digits, as h11 allows (leading zeros pad some servers' sizes);
# the value itself is bounded by _MAX_CHUNK_SIZE.
_SIZE_LINE: Final = re.compile(rb"([0-9A-Fa-f]{1,20})[ \t]*(?:;[^\r\n]*)?\r\n")

_MAX_CHUNK_SIZE: Final = (1 << 64) - 1
"""Largest chunk size accepted: a size that does not fit 64 bits is an attack, not a chunk."""


def _incomplete(detail: str) -> httpcore.RemoteProtocolError:
    return httpcore.RemoteProtocolError(
        f"peer closed connection without sending complete message body: {detail}"
    )


class FixedLengthBody:
    """A body framed by ``Content-Length``."""

    def __init__(self, length: int) -> None:
        self._remaining = length
        self._received = 0
        self.done = length == 0
        self.leftover = b""

    def feed(self, data: bytes) -> bytes:
        """The body bytes in ``data``; anything past the body goes to :attr:`leftover`."""
        if self.done:
            self.leftover += data
            return b""
        take = self._remaining
        if len(data) > take:
            self.leftover += data[take:]
            data = data[:take]
        self._remaining -= len(data)
        self._received += len(data)
        self.done = self._remaining == 0
        return data

    def end(self) -> None:
        """The peer closed the connection: fine only if the body is complete."""
        if not self.done:
            expected = self._received + self._remaining
            raise _incomplete(f"received {self._received} bytes, expected {expected}")


class UntilCloseBody:
    """A body without framing (HTTP/1.0 style): it ends when the peer closes."""

    def __init__(self) -> None:
        self.done = False
        self.leftover = b""

    def feed(self, data: bytes) -> bytes:
        return data

    def end(self) -> None:
        self.done = True


class ChunkedBody:
    """A ``Transfer-Encoding: chunked`` body, de-chunked a whole buffer at a time.

    :meth:`feed` returns the payload of every chunk it completes or starts in
    one ``bytes`` (joined once), and keeps a partial size line or trailer for
    the next call. Chunk extensions and trailers are validated for shape and
    size, then dropped (as httpcore does). Line ends as h11 takes them: size
    lines and the end of each chunk's data must be CRLF; trailer lines and the
    empty line ending them may end in a bare LF (RFC 9112 §2.2).
    """

    _SIZE, _DATA, _DATA_END, _TRAILERS = range(4)

    def __init__(self) -> None:
        self.done = False
        self.leftover = b""
        self._state = self._SIZE
        self._remaining = 0  # bytes of chunk data still to come
        self._pending = b""  # an incomplete size line, chunk end or trailer section
        self._trailer_bytes = 0
        self._trailer_seen = False  # a field line has been read (continuations may follow)

    def feed(self, data: bytes) -> bytes:
        """Payload bytes in ``data`` (``b""`` if it held only framing)."""
        if self.done:
            self.leftover += data
            return b""
        buffer = self._pending + data if self._pending else data
        self._pending = b""
        out: list[bytes] = []
        position = self._consume(buffer, out)
        rest = buffer[position:]
        if self.done:
            self.leftover = rest
        else:
            self._pending = rest
            self._check_pending_size()
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def end(self) -> None:
        if not self.done:
            raise _incomplete("incomplete chunked read")

    def _consume(self, buffer: bytes, out: list[bytes]) -> int:
        """Parse as much of ``buffer`` as is complete; return where parsing stopped."""
        position = 0
        size = len(buffer)
        match = _SIZE_LINE.match
        while True:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, size - position)
                if take:
                    out.append(buffer[position : position + take])
                    position += take
                    self._remaining -= take
                if self._remaining:
                    return position
                self._state = state = self._DATA_END
            if state == self._DATA_END:
                if size - position < 2:
                    return position
                if buffer[position : position + 2] != b"\r\n":
                    raise httpcore.RemoteProtocolError("chunk data not followed by CRLF")
                position += 2
                self._state = state = self._SIZE
            if state == self._SIZE:
                # The hot loop: whole chunks (size line, data, CRLF) in a row.
                while True:
                    line = match(buffer, position)
                    if line is None:
                        break
                    chunk = int(line[1], 16)
                    if chunk > _MAX_CHUNK_SIZE:
                        raise httpcore.RemoteProtocolError("chunk size too large")
                    start = line.end()
                    if start - position > _MAX_CHUNK_LINE + 2:
                        raise httpcore.RemoteProtocolError("chunk size line too long")
                    stop = start + chunk
                    if chunk == 0 or stop + 2 > size:
                        break
                    if buffer[stop : stop + 2] != b"\r\n":
                        raise httpcore.RemoteProtocolError("chunk data not followed by CRLF")
                    out.append(buffer[start:stop])
                    position = stop + 2
                if line is None:
                    if buffer.find(b"\n", position) >= 0:
                        bad = buffer[position : position + 40]
                        raise httpcore.RemoteProtocolError(f"invalid chunk size line: {bad!r}")
                    return position
                position = line.end()
                if chunk == 0:
                    self._state = state = self._TRAILERS
                else:
                    self._remaining = chunk
                    self._state = self._DATA
                    continue
            # Trailers: header lines up to an empty line, all dropped. A line
            # ends in CRLF or a bare LF, as h11 accepts.
            while True:
                newline = buffer.find(b"\n", position)
                if newline < 0:
                    return position
                end = newline - 1 if newline > position and buffer[newline - 1] == 13 else newline
                self._trailer_bytes += end - position
                if self._trailer_bytes > _MAX_TRAILERS:
                    raise httpcore.RemoteProtocolError("chunked trailers too large")
                if end == position:
                    self.done = True
                    return newline + 1
                trailer = buffer[position:end]
                if _TRAILER.fullmatch(trailer):
                    self._trailer_seen = True
                elif not (self._trailer_seen and _CONTINUATION.fullmatch(trailer)):
                    raise httpcore.RemoteProtocolError("malformed chunked trailer")
                position = newline + 1

    def _check_pending_size(self) -> None:
        # Limits count lines without their CRLF: a CR waiting for its LF is not counted.
        pending = self._pending
        size = len(pending) - pending.endswith(b"\r")
        if self._state == self._TRAILERS:
            if self._trailer_bytes + size > _MAX_TRAILERS:
                raise httpcore.RemoteProtocolError("chunked trailers too large")
        elif size > _MAX_CHUNK_LINE:
            raise httpcore.RemoteProtocolError("chunk size line too long")


Body = FixedLengthBody | ChunkedBody | UntilCloseBody


@dataclass(frozen=True)
class ResponseHead:
    """Status line and headers of a final response (or of a protocol switch)."""

    status: int
    reason: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]
    #: ``101 Switching Protocols`` or a successful ``CONNECT``: the connection
    #: now carries another protocol, and :attr:`Exchange.trailing_data` is its start.
    upgraded: bool


def _tokens(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> set[bytes]:
    found: set[bytes] = set()
    for key, value in headers:
        if key.lower() == name:
            found.update(token.strip().lower() for token in value.split(b","))
    return found


class Exchange:
    """One request and its response on an HTTP/1.1 connection.

    Use: write :meth:`start`, then :meth:`send_body` per request body piece
    and :meth:`finish`; feed received bytes to :meth:`receive_head` until it
    returns the head; then feed them to :meth:`receive_body` until
    :attr:`body_done`. ``b""`` means the peer closed the connection.
    :attr:`reusable` says whether the connection can carry another exchange.
    """

    def __init__(
        self, method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> None:
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._method = method
        self._target = target
        self._headers = list(headers)
        self._request_finished = False  # finish() has framed the end of the request
        self._request_done = False  # ... and the bytes have been written
        self._head: ResponseHead | None = None
        self._body: Body | None = None
        self._first = b""
        #: Bytes received after a protocol switch (they belong to the new protocol).
        self.trailing_data = b""

    # -- request -----------------------------------------------------------

    def start(self) -> bytes:
        """The request line and headers."""
        try:
            request = h11.Request(method=self._method, target=self._target, headers=self._headers)
        except h11.LocalProtocolError as exc:  # an invalid header name or value, say
            raise httpcore.LocalProtocolError(str(exc)) from exc
        return self._send(request)

    def send_body(self, data: bytes) -> bytes:
        """One piece of the request body, framed as the headers say."""
        return self._send(h11.Data(data=data)) if data else b""

    def finish(self) -> bytes:
        """The end of the request (the last chunk, for a chunked request body).

        The request counts as sent only once :meth:`request_written` says the
        bytes went out: a request whose last write failed leaves the
        connection unusable.
        """
        data = self._send(h11.EndOfMessage())
        self._request_finished = True
        return data

    def request_written(self) -> None:
        """The whole request, up to what :meth:`finish` returned, has been written."""
        if not self._request_finished:
            raise httpcore.LocalProtocolError("request written before it was finished")
        self._request_done = True

    def _send(self, event: h11.Event) -> bytes:
        try:
            data = self._h11.send(event)
        except h11.LocalProtocolError as exc:
            raise httpcore.LocalProtocolError(str(exc)) from exc
        return data or b""

    # -- response ----------------------------------------------------------

    def receive_head(self, data: bytes) -> ResponseHead | None:
        """Feed received bytes; the head once it is complete (interim 1xx skipped)."""
        connection = self._h11
        if not data and connection.their_state is h11.SEND_RESPONSE:
            raise httpcore.RemoteProtocolError("Server disconnected without sending a response.")
        try:
            connection.receive_data(data)
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    return None
                if isinstance(event, h11.InformationalResponse) and event.status_code != 101:
                    continue
                if isinstance(event, (h11.Response, h11.InformationalResponse)):
                    return self._start_body(event)
                if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    raise httpcore.RemoteProtocolError(
                        "Server disconnected without sending a response."
                    )
                raise httpcore.RemoteProtocolError(f"unexpected {type(event).__name__} event")
        except h11.RemoteProtocolError as exc:
            raise httpcore.RemoteProtocolError(str(exc)) from exc

    def _start_body(self, event: h11.Response | h11.InformationalResponse) -> ResponseHead:
        status = event.status_code
        headers = list(event.headers.raw_items())
        upgraded = status == 101 or (self._method == b"CONNECT" and 200 <= status < 300)
        head = ResponseHead(status, event.reason, event.http_version, headers, upgraded)
        self._head = head
        trailing, _closed = self._h11.trailing_data
        if upgraded:
            self.trailing_data = trailing
            self._body = FixedLengthBody(0)
            return head
        self._body = body = self._framing(status, headers)
        self._first = body.feed(trailing) if trailing else b""
        return head

    def _framing(self, status: int, headers: list[tuple[bytes, bytes]]) -> Body:
        # RFC 9112 §6.3, in order. h11 has already refused a Transfer-Encoding
        # other than "chunked" and an invalid or conflicting Content-Length.
        if self._method == b"HEAD" or status in (204, 304):
            return FixedLengthBody(0)
        if b"chunked" in _tokens(headers, b"transfer-encoding"):
            return ChunkedBody()
        for key, value in headers:
            if key.lower() == b"content-length":
                return FixedLengthBody(int(value))
        return UntilCloseBody()

    def first_body_bytes(self) -> bytes:
        """Body payload that arrived together with the head."""
        first, self._first = self._first, b""
        return first

    def receive_body(self, data: bytes) -> bytes:
        """Payload bytes in ``data``; ``b""`` (end of stream) checks the body is complete."""
        body = self._body
        assert body is not None, "receive_head() has not returned the head yet"
        if not data:
            body.end()
            return b""
        return body.feed(data)

    @property
    def body_done(self) -> bool:
        return self._body is not None and self._body.done

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry another exchange after this one."""
        head, body = self._head, self._body
        if head is None or body is None or head.upgraded:
            return False
        if not (self._request_done and body.done) or body.leftover:
            return False
        if isinstance(body, UntilCloseBody) or head.http_version != b"1.1":
            return False
        return b"close" not in _tokens(head.headers, b"connection") | _tokens(
            self._headers, b"connection"
        )


class RequestWrites:
    """Groups a request into few writes: the head and a small body go out as one.

    :meth:`add` queues a piece of the body and returns a batch to write once
    :data:`WRITE_BATCH` bytes are queued (``b""`` until then); :meth:`finish`
    returns the rest, with the end of the request; :meth:`written` says that
    last batch was written, and only then is the request done.
    """

    WRITE_BATCH: Final = 64 * 1024

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._queued = [exchange.start()]
        self._size = len(self._queued[0])

    def add(self, piece: bytes) -> bytes:
        data = self._exchange.send_body(piece)
        self._queued.append(data)
        self._size += len(data)
        if self._size < self.WRITE_BATCH:
            return b""
        return self._flush()

    def finish(self) -> bytes:
        self._queued.append(self._exchange.finish())
        return self._flush()

    def written(self) -> None:
        """The batch :meth:`finish` returned was written: the request is done."""
        self._exchange.request_written()

    def _flush(self) -> bytes:
        batch = b"".join(self._queued)
        self._queued, self._size = [], 0
        return batch


def connect_delays(retries: int, factor: float = 0.5) -> Iterator[float]:
    """Seconds to wait before each connection retry: 0, then ``factor`` doubling (httpcore's)."""
    for attempt in range(retries):
        yield 0.0 if attempt == 0 else factor * 2 ** (attempt - 1)
