"""A sans-IO Server-Sent Events decoder: bytes in, :class:`ServerSentEvent` out.

The decoder implements the WHATWG event-stream parsing rules (summarised rule by
rule in ``docs/sse.md``):

* the stream is always UTF-8 (any ``charset`` is irrelevant: the decoder only
  sees bytes); invalid sequences become U+FFFD, one per maximal subpart;
* one leading byte-order mark is removed, only at the very start of the stream
  (also when it arrives split over several chunks); any other BOM is content;
* a line ends at CRLF, LF or a lone CR and nowhere else. A CR ends its line at
  once, so an event whose blank line is a chunk-final CR is returned by that
  same :meth:`SSEDecoder.feed` call; an LF at the start of the next chunk is
  then swallowed as the second half of the CRLF;
* a blank line dispatches; a block without any ``data`` field dispatches
  nothing (but still moves :attr:`SSEDecoder.last_event_id` and resets the
  event type);
* field names are compared literally, one U+0020 after the colon is removed,
  an ``id`` containing NUL is ignored, ``retry`` accepts ASCII digits only;
* at the end of the stream an unfinished block is discarded, never dispatched.

How it works: lines are split at the byte level (CR and LF never occur inside a
multi-byte UTF-8 sequence, so this is safe) and each value is decoded once.
CR line endings are rewritten to LF per chunk, so the rest of the decoder only
deals with LF. Runs of blocks of the shapes that make up nearly every LLM
stream -- ``event: X`` + ``data: Y``, ``data: Y`` alone, and either of them
after an ``id: I`` line -- are recognised with one regular-expression match and
decoded in bulk; everything else goes through the general line-by-line path.
Both paths give the same events (the tests check this against a direct
transcription of the standard, for every chunking).

Memory is bounded: a line, or the data of one event, longer than
``max_event_bytes`` raises :class:`~streamsafe.EventTooLargeError`; a partial
line is never buffered beyond that limit.
"""

from __future__ import annotations

import contextlib
import re
from typing import Final, TypeAlias

from httpx_sse import ServerSentEvent

from ._errors import EventTooLargeError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "RawEvent", "SSEDecoder"]

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024

RawEvent: TypeAlias = tuple[str, str, str, int | None]
"""One event as ``(event, data, id, retry)``: the fields of a ``ServerSentEvent``."""

_BOM: Final = b"\xef\xbb\xbf"
_LF: Final = 0x0A
_COLON: Final = 0x3A

# A run of complete ``event: X`` / ``data: Y`` / blank-line blocks, and a run of
# complete ``data: Y`` / blank-line blocks. Applied only to LF-only text whose
# every line is complete, and only when no block is pending, so each match is a
# sequence of whole blocks that the general rules would decode identically.
_EVENT_DATA_RUN: Final = re.compile(rb"(?:event: [^\n]*\ndata: [^\n]*\n\n)*")
# A chunk that is exactly one such block, straight off the wire (servers that
# flush every event send these): decoded without the general machinery.
_ONE_EVENT: Final = re.compile(rb"(event: [^\r\n]*)\ndata: ([^\r\n]*)\n\n")
_DATA_RUN: Final = re.compile(rb"(?:data: [^\n]*\n\n)*")

# Blocks with an optional ``id`` line (without NUL) and an optional ``event``
# line before one ``data`` line. Decoded with findall() once the run regex has
# shown that the blocks tile the text.
_MIXED_RUN: Final = re.compile(rb"(?:(?:id: [^\n\0]*\n)?(?:event: [^\n]*\n)?data: [^\n]*\n\n)*")
_MIXED_BLOCK: Final = re.compile(rb"(?:(id: [^\n\0]*)\n)?(?:(event: [^\n]*)\n)?data: ([^\n]*)\n\n")
_BLANK_LINES: Final = re.compile(rb"\n+")
_LONE_CR: Final = re.compile(rb"\r(?!\n)")

# Decoded event types, keyed by the whole ``event: X`` line. Bounded: a server
# that invents a new type per event just stops being cached.
_MAX_CACHED_NAMES: Final = 256
_MAX_CACHED_NAME_LINE: Final = 128


def _run_end(run: re.Pattern[bytes], buf: bytes, pos: int, end: int) -> int:
    match = run.match(buf, pos, end)
    return pos if match is None else match.end()


class SSEDecoder:
    """Incremental, sans-IO decoder for one ``text/event-stream`` body.

    Feed the raw bytes of the response body, in whatever chunks they arrive, to
    :meth:`feed`; each call returns the events completed by that chunk, in
    order. Call :meth:`end` when the body is exhausted, then look at
    :attr:`ended_cleanly` to tell a complete stream from one that stopped in
    the middle of an event.

    Each event is an :class:`httpx_sse.ServerSentEvent` (or, from
    :meth:`feed_raw`, a tuple of the same four fields): ``event`` is the event
    type (``"message"`` when none was given), ``data`` the data lines joined by
    LF, ``id`` the last event ID string at dispatch (it persists from event to
    event until an ``id`` field changes it) and ``retry`` the stream's
    reconnection time in milliseconds as of that event, or ``None`` if no valid
    ``retry`` field has been seen.

    ``max_event_bytes`` bounds memory: a single line, or the accumulated data of
    one event, longer than this raises :class:`~streamsafe.EventTooLargeError`.
    Events completed before the offending line are still returned; the error is
    then raised by the next :meth:`feed` or :meth:`end` call. The decoder stays
    failed: every later :meth:`feed` raises it again, :meth:`end` raises it only
    if it has not been raised yet, and :attr:`ended_cleanly` is False.
    """

    __slots__ = (
        "_clean_at_end",
        "_data",
        "_ended",
        "_event_type",
        "_failure",
        "_failure_reported",
        "_head",
        "_id_buffer",
        "_last_event_id",
        "_limit",
        "_names",
        "_open",
        "_partial",
        "_partial_len",
        "_retry",
        "_skip_lf",
    )

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
            raise TypeError("max_event_bytes must be an int")
        if max_event_bytes < 1:
            raise ValueError("max_event_bytes must be positive")
        self._limit: int = max_event_bytes
        # Bytes seen so far while the stream start may still be a BOM; None
        # once the question is settled.
        self._head: bytes | None = b""
        # The last chunk ended with CR: an LF starting the next one is the
        # second half of that CRLF and must be dropped.
        self._skip_lf: bool = False
        # The unterminated last line, as pieces (joined once a line ending
        # arrives, so a line fed byte by byte costs linear time).
        self._partial: list[bytes] = []
        self._partial_len: int = 0
        # The block being parsed: data buffer (every value followed by LF) and
        # event type buffer; ``_open`` is set by any field line of the block.
        self._data: bytearray = bytearray()
        self._event_type: str = ""
        self._open: bool = False
        self._id_buffer: str = ""
        self._last_event_id: str = ""
        self._retry: int | None = None
        self._names: dict[bytes, str] = {b"": "message", b"event: ": "message"}
        self._ended: bool = False
        self._clean_at_end: bool = True
        self._failure: str | None = None
        self._failure_reported: bool = False

    # ------------------------------------------------------------------
    # Public state

    @property
    def last_event_id(self) -> str:
        """The last event ID string, as set by the most recent dispatch.

        Every blank line sets it from the ``id`` buffer, even when no event is
        dispatched; an ``id`` in a block that never got its blank line does not
        count.
        """
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """Reconnection time in milliseconds from the last valid ``retry`` field."""
        return self._retry

    @property
    def ended_cleanly(self) -> bool:
        """Whether the stream stopped between events.

        True when no partial line and no field line of an undispatched block
        is buffered (comment lines do not count). After :meth:`end` this
        reports the state at the moment :meth:`end` was called; after an
        :class:`~streamsafe.EventTooLargeError` it is False. A False value at
        the end of the body means the stream was cut in the middle of an event.
        """
        if self._failure is not None:
            return False
        if self._ended:
            return self._clean_at_end
        return not (self._partial_len or self._open or self._head)

    @property
    def pending_bytes(self) -> int:
        """Bytes currently buffered: the partial line plus the pending data."""
        return self._partial_len + len(self._data) + len(self._head or b"")

    # ------------------------------------------------------------------
    # Feeding

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk``; return the events it completed, in order."""
        return [ServerSentEvent(*event) for event in self.feed_raw(chunk)]

    def end(self) -> list[ServerSentEvent]:
        """Signal the end of the stream (see :meth:`end_raw`, which this wraps)."""
        return [ServerSentEvent(*event) for event in self.end_raw()]

    def feed_raw(self, chunk: bytes) -> list[RawEvent]:
        """:meth:`feed`, with each event as a plain ``(event, data, id, retry)`` tuple.

        The same events, several times cheaper to build and to hold (the
        garbage collector does not track them): streamsafe's own streams use it.
        """
        if self._failure is not None:
            self._failure_reported = True
            raise EventTooLargeError(self._failure)
        if self._ended:
            raise RuntimeError("SSEDecoder.feed() called after end()")
        if not chunk:
            return []
        if type(chunk) is not bytes:  # bytearray / memoryview: work on bytes
            chunk = bytes(chunk)
        if (
            self._head is None
            and not self._partial
            and not self._skip_lf
            and not self._data
            and not self._event_type
            and len(chunk) <= self._limit
        ):
            one = _ONE_EVENT.fullmatch(chunk)
            if one is not None:
                event_line, data = one.groups()
                self._last_event_id = self._id_buffer
                self._open = False
                name = self._names.get(event_line) or self._name(event_line)
                return [(name, data.decode("utf-8", "replace"), self._last_event_id, self._retry)]
        head = self._head
        if head is not None:
            chunk = head + chunk
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._head = chunk
                return []
            self._head = None
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
                if not chunk:
                    return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if b"\r" in chunk:
            self._skip_lf = chunk.endswith(b"\r")
            if _LONE_CR.search(chunk) is None:
                chunk = chunk.translate(None, b"\r")  # CRLF only: cheaper than replace()
            else:
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

        last = chunk.rfind(b"\n")
        if last < 0:
            size = self._partial_len + len(chunk)
            if size > self._limit:
                return self._fail(self._line_error("line without a line ending"), [])
            self._partial.append(chunk)
            self._partial_len = size
            return []

        if self._partial:
            last += self._partial_len
            self._partial.append(chunk)
            buf = b"".join(self._partial)
            self._partial = []
            self._partial_len = 0
        else:
            buf = chunk
        end = last + 1
        out: list[RawEvent] = []
        try:
            self._decode_lines(buf, end, out)
        except EventTooLargeError as exc:
            return self._fail(exc, out)
        rest = len(buf) - end
        if rest:
            if rest > self._limit:
                return self._fail(self._line_error("line without a line ending"), out)
            self._partial.append(buf[end:])
            self._partial_len = rest
        return out

    def end_raw(self) -> list[RawEvent]:
        """Signal the end of the stream.

        Per the standard, an unfinished block (a partial line, or field lines
        without their closing blank line) is discarded, never dispatched, and
        its ``id`` never becomes :attr:`last_event_id`. A chunk-final CR has
        already ended its line in :meth:`feed`, so nothing is ever left to
        dispatch and this returns ``[]``. Check :attr:`ended_cleanly`
        afterwards to detect a truncated stream. Further :meth:`feed` calls
        raise ``RuntimeError``; :meth:`end` itself may be called again.

        Raises :class:`~streamsafe.EventTooLargeError` if an oversize line or
        event was found and that error has not been raised yet.
        """
        if self._failure is not None:
            if not self._failure_reported:
                self._failure_reported = True
                raise EventTooLargeError(self._failure)
            return []
        if not self._ended:
            self._clean_at_end = self.ended_cleanly
            self._ended = True
            self._reset_block()
        return []

    # ------------------------------------------------------------------
    # Internals

    def _decode_lines(self, buf: bytes, end: int, out: list[RawEvent]) -> None:
        """Decode the complete LF-terminated lines ``buf[:end]`` into ``out``."""
        limit = self._limit
        big = end > limit
        pos = 0
        # Bulk runs are only valid at a block boundary with nothing pending.
        bulk = not self._data and not self._event_type
        while pos < end:
            if bulk:
                bulk = False
                stop = _run_end(_EVENT_DATA_RUN, buf, pos, end)
                if stop > pos:
                    lines = (buf if pos == 0 and stop == len(buf) else buf[pos:stop]).split(b"\n")
                    if not big or max(map(len, lines)) <= limit:
                        self._emit_event_data_run(lines, out)
                        pos = stop
                        bulk = True
                        continue
                elif (stop := _run_end(_DATA_RUN, buf, pos, end)) > pos:
                    lines = (buf if pos == 0 and stop == len(buf) else buf[pos:stop]).split(b"\n")
                    if not big or max(map(len, lines)) <= limit:
                        self._emit_data_run(lines, out)
                        pos = stop
                        bulk = True
                        continue
                elif (stop := _run_end(_MIXED_RUN, buf, pos, end)) > pos and (
                    not big or max(map(len, buf[pos:stop].split(b"\n"))) <= limit
                ):
                    self._emit_mixed_run(buf, pos, stop, out)
                    pos = stop
                    bulk = True
                    continue
            if buf[pos] == _LF:
                # A blank line. Further blank lines right after it change
                # nothing (the buffers are empty by then): skip them at once.
                event = self._dispatch()
                if event is not None:
                    out.append(event)
                pos = _run_end(_BLANK_LINES, buf, pos, end)
                bulk = True
                continue
            # General path: the non-blank lines up to the next blank line (or
            # to the end of the complete text), then that blank line.
            blank = buf.find(b"\n\n", pos, end)
            stop = end - 1 if blank < 0 else blank
            self._fields(buf[pos:stop].split(b"\n"))
            if blank < 0:
                return
            event = self._dispatch()
            if event is not None:
                out.append(event)
            pos = blank + 2
            bulk = True

    def _fields(self, lines: list[bytes]) -> None:
        """Apply non-blank lines (no line endings) to the block's buffers."""
        limit = self._limit
        data = self._data
        opened = False
        for line in lines:
            if len(line) > limit:
                raise self._line_error(f"line of {len(line)} bytes")
            # ``name:`` prefixes: the name is exactly the text before the first colon.
            if line.startswith(b"data:"):
                data += line[6:] if line.startswith(b"data: ") else line[5:]
                data.append(_LF)
                if len(data) > limit:
                    raise EventTooLargeError(
                        f"SSE event exceeds max_event_bytes={limit} "
                        f"(data of one event grew to {len(data)} bytes)"
                    )
            elif line.startswith(b"event:"):
                value = line[7:] if line.startswith(b"event: ") else line[6:]
                self._event_type = value.decode("utf-8", "replace")
            elif line.startswith(b"id:"):
                value = line[4:] if line.startswith(b"id: ") else line[3:]
                if b"\0" not in value:
                    self._id_buffer = value.decode("utf-8", "replace")
            elif line[0] == _COLON:
                continue  # a comment
            else:
                self._field(line)
            opened = True
        if opened:
            self._open = True

    def _emit_event_data_run(self, lines: list[bytes], out: list[RawEvent]) -> None:
        # lines: [event: X, data: Y, "", event: X, data: Y, "", ..., ""]
        event_id = self._last_event_id = self._id_buffer
        retry = self._retry
        self._open = False
        cached = self._names.get
        name = self._name
        out += [
            (
                cached(event_line) or name(event_line),
                data_line[6:].decode("utf-8", "replace"),
                event_id,
                retry,
            )
            for event_line, data_line in zip(lines[0:-1:3], lines[1::3], strict=True)
        ]

    def _emit_data_run(self, lines: list[bytes], out: list[RawEvent]) -> None:
        # lines: [data: Y, "", data: Y, "", ..., ""]
        event_id = self._last_event_id = self._id_buffer
        retry = self._retry
        self._open = False
        out += [
            ("message", data_line[6:].decode("utf-8", "replace"), event_id, retry)
            for data_line in lines[0:-1:2]
        ]

    def _emit_mixed_run(self, buf: bytes, pos: int, stop: int, out: list[RawEvent]) -> None:
        # Blocks of [id: I] [event: X] data: Y; an absent line is captured as b"".
        event_id = self._id_buffer
        retry = self._retry
        cached = self._names.get
        name = self._name
        append = out.append
        for id_line, event_line, data in _MIXED_BLOCK.findall(buf, pos, stop):
            if id_line:
                event_id = id_line[4:].decode("utf-8", "replace")
            append(
                (
                    cached(event_line) or name(event_line),
                    data.decode("utf-8", "replace"),
                    event_id,
                    retry,
                )
            )
        self._id_buffer = self._last_event_id = event_id
        self._open = False

    def _name(self, event_line: bytes) -> str:
        """Decode (and cache) the type of an ``event: X`` line."""
        name = event_line[7:].decode("utf-8", "replace") or "message"
        if len(self._names) < _MAX_CACHED_NAMES and len(event_line) <= _MAX_CACHED_NAME_LINE:
            self._names[event_line] = name
        return name

    def _field(self, line: bytes) -> None:
        """Apply one non-blank, non-comment line to the buffers."""
        self._open = True
        colon = line.find(b":")
        if colon < 0:
            name = line
            value = b""
        else:
            name = line[:colon]
            start = colon + 2 if line[colon + 1 : colon + 2] == b" " else colon + 1
            value = line[start:]
        if name == b"data":
            data = self._data
            data += value
            data.append(_LF)
            if len(data) > self._limit:
                raise EventTooLargeError(
                    f"SSE event exceeds max_event_bytes={self._limit} "
                    f"(data of one event grew to {len(data)} bytes)"
                )
        elif name == b"event":
            self._event_type = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._id_buffer = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():  # bytes.isdigit: ASCII 0-9 only
            # Leading zeros are fine (base ten, never octal). A value with more
            # digits than int() accepts is no usable delay: it is ignored.
            with contextlib.suppress(ValueError):
                self._retry = int(value.lstrip(b"0") or b"0")
        # Any other name is ignored.

    def _dispatch(self) -> RawEvent | None:
        """Handle a blank line (the standard's "dispatch the event")."""
        event_id = self._last_event_id = self._id_buffer
        self._open = False
        data = self._data
        if not data:
            self._event_type = ""
            return None
        del data[-1]
        event = (
            self._event_type or "message",
            data.decode("utf-8", "replace"),
            event_id,
            self._retry,
        )
        self._data = bytearray()
        self._event_type = ""
        return event

    def _reset_block(self) -> None:
        """Forget the partial line and the unfinished block."""
        self._partial = []
        self._partial_len = 0
        self._head = None
        self._data = bytearray()
        self._event_type = ""
        self._open = False
        self._id_buffer = self._last_event_id

    def _line_error(self, what: str) -> EventTooLargeError:
        return EventTooLargeError(f"SSE event exceeds max_event_bytes={self._limit} ({what})")

    def _fail(self, error: EventTooLargeError, out: list[RawEvent]) -> list[RawEvent]:
        """Enter the failed state; raise now, or after returning ``out``."""
        self._failure = str(error)
        self._reset_block()
        if out:
            return out
        self._failure_reported = True
        raise error
