"""Message streams: SSE events → typed events → accumulated message.

:class:`AsyncMessageStream` and :class:`MessageStream` are thin twins over
:class:`_MessageCore`, which decodes each SSE event, applies it to the
accumulator and decides every failure:

* an error raised by the event source (in-stream error event, transport
  failure, watchdog) gets the partial message and the incomplete block
  indices attached before it propagates;
* a stream that ends without ``message_stop`` raises
  :class:`~streamsafe.IncompleteStreamError` — never a silent partial
  "final" message.

Once ``message_stop`` has arrived the message is complete, and nothing that
happens afterwards turns it into a failure: the rest of the body is read so
the connection can be reused, but an error event, a reset, a timeout or stray
bytes after ``message_stop`` end the iteration normally (and are logged on the
``streamsafe`` logger). The async stream waits at most
:data:`AFTER_STOP_GRACE` seconds for the end of the body; the sync one at
most the read timeout (a blocking read cannot be cut short).

Where a stream is in its life is one attribute, ``_MessageCore.lifecycle``
(a :class:`~streamsafe._lifecycle.Lifecycle`), for what the caller
sees: ``OPEN``, then ``ENDED`` (its iteration is over: ``message_stop``
arrived, then the body ended or something after it was ignored), ``FAILED``
(an error was raised to the caller; ``lifecycle.error`` is the first) or
``CLOSED`` (the caller closed it, or left its block, before it ended). The
event source below keeps its own lifecycle, the state of the bytes (see
``_sse``); the stream reads that source and never writes its state. Whether
the message is complete (``message_stop`` arrived) is the accumulator's
``done``: the stream keeps no copy of it. Iterating a failed or closed stream
again asks its event source again (a kept error frame is raised again, a
body that ended or was closed gives :class:`~streamsafe.IncompleteStreamError`
again, a read that failed is tried again); the lifecycle keeps the first
ending. After ``message_stop`` only an ``OPEN`` stream reads on.

A stream that is garbage-collected while its response is still open (never
closed, not read to the end) emits a :class:`ResourceWarning`, as an unclosed
file does. Its response is closed all the same: at once for a sync stream,
on the event loop's next iteration for an async one (the loop finalizes the
abandoned ``aconnect_events`` generator, whose ``finally`` closes the
response), so no connection stays checked out of the pool.

Every stream belongs to an observed :class:`~streamsafe._observe.Call`
(observer or not): it reports the first content event, a failure, a close
and a collection to it, which ends the call exactly once; ``stream.metrics``
reads it.

Events read ahead by :meth:`AsyncMessageStream._prefetch` (used by the
client's retries: ``message_start`` and pings are held back until the first
content block starts) are replayed to the caller in order, so a retried stream
looks like one clean stream.

This module holds what the twins share; the streams and their openers are
written once in ``_async/stream.py``, and ``_sync/stream.py`` is generated
from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import logging
import warnings
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from ._accumulate import MessageAccumulator
from ._decode import decode_event, decode_known_event, decode_unfamiliar_event
from ._decoder import RawEvent
from ._errors import APIError, APIStatusError, IncompleteStreamError
from ._events import (
    ContentBlockStartEvent,
    Message,
    StreamEvent,
)
from ._lifecycle import Lifecycle
from ._observe import Call, Observer, StreamMetrics
from ._sse import DEFAULT_MAX_EVENT_BYTES, EventSourceBase

__all__ = [
    "AFTER_STOP_GRACE",
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "MessageStreamBase",
    "call_of",
    "source_options",
]

#: Seconds allowed between two content events of a message stream (pings and
#: comments do not count); long thinking pauses stay well inside it.
DEFAULT_STREAM_IDLE_TIMEOUT = 300.0

#: Seconds an async stream waits, after ``message_stop``, for the end of the body.
AFTER_STOP_GRACE = 0.5

logger = logging.getLogger("streamsafe")


class _MessageCore:
    """The decisions of a message stream, free of I/O."""

    def __init__(self, source: EventSourceBase, call: Call) -> None:
        self.accumulator = MessageAccumulator(
            request_id=source.request_id, aws_request_id=source.aws_request_id
        )
        self.source_core = source._core
        self.apply: Callable[[StreamEvent], None] = self.accumulator.apply
        self.call = call
        call.attach(self)  # watches for the first content event, then steps aside
        self.held: deque[StreamEvent] = deque()
        #: OPEN, then ENDED, FAILED (``lifecycle.error``) or CLOSED (see the module docstring).
        self.lifecycle = Lifecycle()
        #: What the stream's finalizer holds (see _CollectionWatch).
        self.watch = _CollectionWatch(call)
        #: When an async stream stops waiting for the end of the body (set at message_stop).
        self.stop_deadline: float | None = None

    def after_stop(self, exc: APIError | None) -> None:
        """Something ended the body after message_stop: the message is complete anyway."""
        self.lifecycle.end()
        if exc is None:
            what = f"the body did not end within {AFTER_STOP_GRACE:g} s"
            what += f" (request_id={self.accumulator.request_id})"
        else:
            what = f"{type(exc).__name__}: {exc}"
        level = logging.WARNING if isinstance(exc, APIStatusError) else logging.DEBUG
        logger.log(level, "ignored after message_stop (the message is complete): %s", what)

    def on_sse(self, sse: RawEvent) -> StreamEvent:
        try:
            # decode_event's two steps, inlined: a call per event costs ~8% here.
            data = sse[1]
            try:
                event: StreamEvent = decode_known_event(data)
            except msgspec.MsgspecError:
                event = decode_unfamiliar_event(data)
            self.apply(event)
        except APIError as exc:
            self.fail(exc)
            raise
        return event

    def on_sse_after_stop(self, sse: RawEvent) -> StreamEvent:
        """An event after ``message_stop``: a ping or an unknown event is handed out.

        Anything else raises; that is no failure of the complete message (the
        caller passes the error to :meth:`after_stop`, which logs it).
        """
        event = decode_event(sse[1])
        self.apply(event)
        return event

    def on_end(self, ended_cleanly: bool) -> None:
        accumulator = self.accumulator
        if accumulator.done:
            return
        if not accumulator.started:
            what = "before message_start"
        elif ended_cleanly:
            what = "without message_stop"
        else:
            what = "in the middle of an event"
        raise self.fail(
            IncompleteStreamError(
                f"the stream ended {what}; the partial message is on .partial_message",
                request_id=accumulator.request_id,
            )
        )

    def fail(self, exc: APIError) -> APIError:
        """Attach what was received so far to ``exc`` (once) and return it."""
        accumulator = self.accumulator
        if exc.partial_message is None:
            exc.partial_message = accumulator.snapshot()
            exc.incomplete_blocks = accumulator.incomplete_blocks
        if exc.request_id is None:
            exc.request_id = accumulator.request_id
        if exc.aws_request_id is None:
            exc.aws_request_id = accumulator.aws_request_id
        self.lifecycle.fail(exc)
        self.call.stream_failed(exc)
        self.watch.call = None
        return exc

    def closed(self, exc: BaseException | None) -> None:
        """The stream was closed (at its end, or early; ``exc``: what closed it early)."""
        self.lifecycle.close()  # an ending it already had stays
        self.call.stream_closed(exc)
        self.watch.call = None

    @staticmethod
    def is_content_start(event: StreamEvent) -> bool:
        return isinstance(event, ContentBlockStartEvent)


class _CollectionWatch:
    """What the finalizer of a stream holds besides its response: never the stream.

    ``call`` is the observed call the stream ends if it is collected unclosed.
    It is let go as soon as the stream fails or is closed: by then the call
    has what it needs, and an error's traceback reaches the stream's own
    frames, so holding it here (the finalizer registry is a root) would keep
    the stream alive for ever. A failed attempt's stream, collected while a
    later attempt is read, so never touches the call either.
    """

    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call: Call | None = call


def _warn_unclosed(
    kind: str, response: httpx.Response, request_id: str | None, watch: _CollectionWatch
) -> None:
    """Finalizer of a stream: end its call; warn when its response is still open."""
    if watch.call is not None:
        watch.call.stream_collected()
    if not response.is_closed:
        how = "'async with' or 'await stream.aclose()'" if kind.startswith("Async") else "'with'"
        warnings.warn(
            f"unclosed {kind} (request_id={request_id}); use {how}. "
            "Its response is closed for you, but only once it is garbage-collected",
            ResourceWarning,
            stacklevel=1,  # a finalizer has no caller worth pointing at
        )


class MessageStreamBase:
    """Read-only views shared by the async and sync streams."""

    _core: _MessageCore
    _response: httpx.Response
    _source: EventSourceBase

    def _watch_for_leaks(self) -> None:
        finalizer = weakref.finalize(
            self,
            _warn_unclosed,
            type(self).__name__,
            self._response,
            self.request_id,
            self._core.watch,
        )
        finalizer.atexit = False

    def _next_ready(self) -> StreamEvent | None:
        """The next event if no read is needed for it (held, or already received), else None."""
        core = self._core
        if core.held:
            return core.held.popleft()
        if not core.accumulator.done:
            sse = self._source.next_buffered_raw()
            if sse is not None:
                return core.on_sse(sse)
        return None

    def _apply_buffered(self) -> None:
        """Apply every event already received, without handing them out (``until_done``)."""
        core = self._core
        core.held.clear()  # held events were applied when they were read
        next_buffered = self._source.next_buffered_raw
        while not core.accumulator.done:
            sse = next_buffered()
            if sse is None:
                return
            core.on_sse(sse)

    @property
    def response(self) -> httpx.Response:
        """The HTTP response carrying the stream."""
        return self._response

    @property
    def request_id(self) -> str | None:
        """The API's ``request-id`` for this stream."""
        return self._core.accumulator.request_id

    @property
    def aws_request_id(self) -> str | None:
        """The response's ``x-amzn-requestid`` (Claude Platform on AWS), else ``None``."""
        return self._core.accumulator.aws_request_id

    @property
    def metrics(self) -> StreamMetrics:
        """Timings and counts of this stream (see :class:`~streamsafe.StreamMetrics`)."""
        return self._core.call.metrics()

    @property
    def current_message(self) -> Message | None:
        """A snapshot of the message accumulated so far (``None`` before message_start)."""
        return self._core.accumulator.snapshot()

    @property
    def incomplete_blocks(self) -> tuple[int, ...]:
        """Indices of content blocks not whole: not yet stopped, or tool input cut short."""
        return self._core.accumulator.incomplete_blocks


def source_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``connect_events`` options of a message stream: its watchdog is on by default."""
    kwargs.setdefault("stream_idle_timeout", DEFAULT_STREAM_IDLE_TIMEOUT)
    kwargs.setdefault("max_event_bytes", DEFAULT_MAX_EVENT_BYTES)
    return kwargs


def call_of(call: Call | None, observer: Observer | None, url: Any, kwargs: Any) -> Call:
    """The call a stream belongs to: the client's, else a new one (its single attempt)."""
    if call is None:
        call = Call(observer, kwargs.get("json"), url=str(url), handed_over=True)
        call.next_attempt()
    return call
