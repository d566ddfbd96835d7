"""Server-Sent Events over any httpx client, with typed errors.

``aconnect_events`` / ``connect_events`` open a request and check the response
before a single event is read:

* a non-2xx status: the body is read and the typed error raised
  (:func:`~streamsafe._failures.error_from_response`);
* a 2xx that is not ``text/event-stream``: :class:`UnexpectedContentTypeError`
  showing the start of the body.

Such a body is read only up to :data:`MAX_REJECTED_BODY_BYTES` (a proxy's
error page or a misrouted download can be any size); ``error.response.content``
holds what was read.

While iterating, an ``event: error`` — or a data-only frame whose JSON is
``{"type": "error", ...}`` (a proxy stripped the ``event:`` line) — raises the
typed error its ``error.type`` maps to, the same class the matching HTTP status
raises. Transport failures become :class:`APIConnectionError` /
:class:`APITimeoutError` with the httpx exception as ``__cause__``. Which
error each of these is, is decided in :mod:`streamsafe._failures`.

The async and sync event sources are thin twins over :class:`SourceCore`,
which holds every decision; they only differ in how they await bytes.

Where a source is in its life is one attribute, ``SourceCore.lifecycle`` (a
:class:`~streamsafe._lifecycle.Lifecycle`): ``OPEN`` while bytes may
arrive, then ``ENDED`` (the body ended), ``FAILED`` (an error frame arrived:
its error is kept and raised, again on every read, once the events before it
are consumed) or ``CLOSED`` (the ``connect_events`` block exited first: a read
then finds the end). A read that raises mid-body (a transport failure, the
watchdog, an oversize event) leaves the source ``OPEN``: what it ended is the message
stream's to record, one layer up.

This module holds everything the twins share; the I/O (the event sources
and ``aconnect_events``) is written once in ``_async/sse.py``, and
``_sync/sse.py`` is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from ._compat import keep_content
from ._decoder import DEFAULT_MAX_EVENT_BYTES, RawEvent, SSEDecoder
from ._errors import APIConnectionError, APIError, StreamIdleTimeoutError
from ._failures import error_from_event_data, transport_error
from ._lifecycle import CLOSED, OPEN, Lifecycle

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "MAX_REJECTED_BODY_BYTES",
    "checked_idle_timeout",
]

_SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
#: Most bytes read from a response that is rejected (error status, not an event stream).
MAX_REJECTED_BODY_BYTES = 256 * 1024


def _read_timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout") or {}
    value = timeouts.get("read")
    return value if isinstance(value, (int, float)) else None


def request_options(
    client: httpx.Client | httpx.AsyncClient,
    kwargs: dict[str, Any],
    stream_idle_timeout: float | None,
) -> dict[str, Any]:
    """``build_request`` options: SSE headers; a read timeout within the watchdog.

    A connection silent for ``stream_idle_timeout`` has sent no content for
    that long either: lowering the read timeout to it lets the read timeout
    catch total silence, and the watchdog, checked as chunks arrive, catch a
    stream that only pings.
    """
    kwargs = _request_headers(kwargs)
    if stream_idle_timeout is not None:
        timeout = kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT)
        if timeout is httpx.USE_CLIENT_DEFAULT:
            timeout = client.timeout
        timeout = httpx.Timeout(timeout)
        if timeout.read is None or timeout.read > stream_idle_timeout:
            kwargs["timeout"] = httpx.Timeout(
                connect=timeout.connect,
                read=stream_idle_timeout,
                write=timeout.write,
                pool=timeout.pool,
            )
    return kwargs


def _request_headers(kwargs: dict[str, Any]) -> dict[str, Any]:
    headers = httpx.Headers(kwargs.pop("headers", None))
    for name, value in _SSE_HEADERS.items():
        headers.setdefault(name, value)
    kwargs["headers"] = headers
    return kwargs


def _is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    essence = content_type.split(";", 1)[0].strip().lower()
    return essence == "text/event-stream"


def is_rejected(response: httpx.Response) -> bool:
    """An error status or a non-SSE body: read it and raise :func:`rejection`."""
    return not response.is_success or not _is_event_stream(response)


def keep_rejected_content(response: httpx.Response, body: bytearray) -> None:
    # What Response.aread() does once it has the whole body: .content and
    # .text then work as usual, showing the part that was read.
    keep_content(response, bytes(body[:MAX_REJECTED_BODY_BYTES]))


def checked_idle_timeout(value: float | None) -> float | None:
    """``stream_idle_timeout`` validated: positive seconds, or ``None`` (disabled)."""
    if value is not None and not value > 0:
        raise ValueError(
            f"stream_idle_timeout must be a positive number of seconds or None, not {value!r}"
        )
    return value


class SourceCore:
    """Everything an event source decides, free of I/O."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        max_event_bytes: int,
        stream_idle_timeout: float | None,
    ) -> None:
        self.response = response
        self.request_id: str | None = response.headers.get("request-id")
        #: Claude Platform on AWS answers with this id too (the one CloudTrail indexes).
        self.aws_request_id: str | None = response.headers.get("x-amzn-requestid")
        self.decoder = SSEDecoder(max_event_bytes=max_event_bytes)
        self.idle_timeout = stream_idle_timeout  # checked by connect_events
        #: Seconds spent waiting for bytes since the last content event. Only
        #: time inside a read counts: a slow consumer is not a stalled server.
        self.waited = 0.0
        #: OPEN, then ENDED, FAILED (an error frame: ``lifecycle.error``) or CLOSED
        #: (the block exited first; not ``response.is_closed``: a response read in
        #: full up front is closed too).
        self.lifecycle = Lifecycle()
        #: Body bytes and SSE events received, counted per read (never per event).
        self.bytes_read = 0
        self.events_read = 0
        #: Called after each read of the body (an observer's ``on_chunk``), if set.
        self.on_read: Callable[[], None] | None = None

    def feed(self, chunk: bytes) -> list[RawEvent]:
        events = self.decoder.feed_raw(chunk)
        if events:
            self._inspect(events)
        return events

    def end(self) -> None:
        """The body ended, or a read found its block closed: tell the decoder.

        The decoder never holds an event back at the end (see ``end_raw``);
        it raises :class:`~streamsafe.EventTooLargeError` here if an oversize
        event it found has not been raised yet.
        """
        self.lifecycle.end()
        self.decoder.end_raw()

    def after_end(self) -> None:
        """A read of a source that is no longer OPEN (the shell then stops iterating).

        FAILED raises the kept error again; CLOSED tells the decoder the end.
        """
        lifecycle = self.lifecycle
        if lifecycle.error is not None:
            raise lifecycle.error
        if lifecycle.phase is CLOSED:
            self.end()

    def _inspect(self, events: list[RawEvent]) -> None:
        """Find an error event; the events before it are still delivered, then it raises."""
        content = False
        for position, (kind, data, _, _) in enumerate(events):
            if kind == "error" or (kind not in _CONTENT_EVENTS and _has_type(data, "error")):
                self.lifecycle.fail(self.stream_error(data))
                del events[position:]
                break
            if kind != "ping" and not (kind == "message" and _has_type(data, "ping")):
                content = True
        if content:
            self.waited = 0.0

    def stream_error(self, data: str) -> APIError:
        return error_from_event_data(data, self.response)

    def after_read(self, chunk: bytes, waited: float) -> list[RawEvent]:
        """Decode a chunk that took ``waited`` seconds to arrive; run the watchdog."""
        self.waited += waited
        self.bytes_read += len(chunk)
        events = self.feed(chunk)  # a content event resets ``waited``
        self.events_read += len(events)
        if self.on_read is not None:
            self.on_read()
        self.check_idle()
        return events

    def check_idle(self) -> None:
        """Raise once the waiting since the last content event reaches the limit."""
        if self.idle_timeout is not None and self.waited >= self.idle_timeout:
            raise self.idle_error()

    def idle_error(self) -> StreamIdleTimeoutError:
        return StreamIdleTimeoutError(
            f"no content event for {self.idle_timeout:g} s (stream_idle_timeout); "
            "only pings, comments or nothing arrived",
            request_id=self.request_id,
        )

    def transport_error(self, exc: httpx.HTTPError) -> APIConnectionError:
        # When the read timeout was lowered to the watchdog's, the silence it
        # catches is a stream without content for stream_idle_timeout.
        lowered = (
            self.idle_timeout is not None
            and _read_timeout(self.response.request) == self.idle_timeout
        )
        return transport_error(
            exc, self.request_id, idle_error=self.idle_error if lowered else None
        )


#: Event names of the Messages API whose data is never an error payload. Any
#: other name (none — a proxy stripped it —, ``Error``, a future one) is checked.
_CONTENT_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
    }
)


def _has_type(data: str, kind: str) -> bool:
    """Whether ``data`` is a JSON object with ``"type": kind``.

    Finds frames whose ``event:`` line a proxy stripped: an error payload
    (``{"type": "error", ...}``) or a ping. The substring test keeps the JSON
    parse off the path of ordinary events.
    """
    if f'"{kind}"' not in data:
        return False
    try:
        payload = json.loads(data)
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("type") == kind


class EventSourceBase:
    """What the async and sync event sources share: state and read-only views."""

    def __init__(self, core: SourceCore) -> None:
        self._core = core
        self._pending: list[RawEvent] = []
        self._next = 0

    @property
    def response(self) -> httpx.Response:
        return self._core.response

    @property
    def request_id(self) -> str | None:
        return self._core.request_id

    @property
    def aws_request_id(self) -> str | None:
        """The ``x-amzn-requestid`` header (Claude Platform on AWS), else ``None``."""
        return self._core.aws_request_id

    @property
    def ended_cleanly(self) -> bool:
        """No more events will come, and the bytes stopped on an event boundary."""
        core = self._core
        return core.lifecycle.phase is not OPEN and core.decoder.ended_cleanly

    def _release_consumed(self) -> None:
        """Drop the consumed batch before waiting for the next one.

        With many streams waiting at once, batches kept across the wait add up
        to hundreds of thousands of live objects, and every full garbage
        collection walks them all.
        """
        self._pending = []
        self._next = 0

    def next_buffered_raw(self) -> RawEvent | None:
        """The next event decoded from bytes already received; ``None`` when a read is due.

        An ``(event, data, id, retry)`` tuple. Lets a consumer take events
        without an ``await`` per event; a pending in-stream error is left for
        the next regular read to raise.
        """
        position = self._next
        if position < len(self._pending):
            self._next = position + 1
            return self._pending[position]
        return None
