"""Lifecycle events of message calls, and the metrics of a stream.

Only the library that owns the iterator sees every way a stream ends, so
streamsafe reports it from the inside. Give an :class:`Observer` to a client
(``AsyncClient(observer=...)``, ``Client(observer=...)``) or to
``aconnect_message_stream`` / ``connect_message_stream``; for every *call*
(one ``messages.stream()`` / ``messages.create()``, retries included, or one
``connect_message_stream`` block) it is told, in this order:

* ``on_start(call)`` — once, before anything is sent;
* ``on_attempt(call, attempt)`` — each HTTP attempt (1, 2, ...);
* ``on_headers(call, headers)`` — each response's status and request ids,
  error statuses included;
* ``on_first_content(call, seconds)`` — the first ``content_block_start``
  of an attempt, seconds since the call started (time to first token);
* ``on_chunk(call, seconds)`` — only if overridden: each read of the body
  after the first content, seconds since the previous read ended;
* ``on_retry(call, retry)`` — a retry is scheduled (:class:`RetryScheduled`);
* ``on_end(call, end)`` — **exactly once** per call (:class:`StreamEnd`):
  ``completed`` (``message_stop`` arrived), ``failed`` (the error raised to
  the caller, with the partial message) or ``abandoned`` (``cancelled``;
  ``closed`` before the end: ``break``, an exception in the loop body,
  ``aclose()``; ``garbage_collected``: never closed — then ``on_end`` runs
  from the garbage collector, as the ``ResourceWarning`` does).

A call refused before anything is sent (an invalid key, a body over the size
limit) is not a call: no event. Observer methods run inline, on the caller's
task or thread: keep them quick, and do not raise (an exception from an
observer propagates like any other).

With no observer nothing is called at all, and the stream pays nothing per
event: bytes and events are counted per read of the body, and the first
content is noticed by a hook that removes itself (:class:`Call`).

Batch calls (the Message Batches API) are not observed yet.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ._errors import APIError

if TYPE_CHECKING:
    import httpx

    from ._events import Message, StreamEvent, Usage
    from ._stream import _MessageCore

__all__ = [
    "Call",
    "Observer",
    "ResponseHeaders",
    "RetryScheduled",
    "StreamEnd",
    "StreamMetrics",
]

logger = logging.getLogger("streamsafe")

_clock = time.perf_counter

Outcome = Literal["completed", "failed", "abandoned"]
AbandonReason = Literal["cancelled", "closed", "garbage_collected"]


@dataclass(frozen=True)
class StreamMetrics:
    """What a stream measured. Times are seconds since the call started (retries included).

    ``time_to_first_byte``: until the response headers of the stream's attempt
    arrived; ``time_to_first_content``: until its first ``content_block_start``
    (``None`` if none arrived); ``duration``: until the call ended, or until
    now while it is open; ``events`` / ``bytes``: SSE events decoded and body
    bytes received by this stream; ``output_tokens``: the latest usage count;
    ``output_tokens_per_second``: output tokens over the time since the first
    content (``None`` before content or tokens).
    """

    time_to_first_byte: float | None
    time_to_first_content: float | None
    duration: float
    events: int
    bytes: int
    output_tokens: int | None
    attempts: int

    @property
    def output_tokens_per_second(self) -> float | None:
        first = self.time_to_first_content
        if first is None or not self.output_tokens:
            return None
        generating = self.duration - first
        return self.output_tokens / generating if generating > 0 else None


@dataclass(frozen=True)
class ResponseHeaders:
    """A response's status line and ids (``on_headers``)."""

    attempt: int
    status_code: int
    request_id: str | None
    aws_request_id: str | None


@dataclass(frozen=True)
class RetryScheduled:
    """A retry about to wait ``delay`` seconds (``on_retry``).

    ``attempt`` is the attempt that failed; ``content_received``: whether it
    had received content (only ``create()`` without ``stream=True`` retries then).
    """

    attempt: int
    delay: float
    error: APIError
    content_received: bool


@dataclass(frozen=True)
class StreamEnd:
    """How a call ended (``on_end``, exactly once).

    ``error``: for ``failed``, the exception raised to the caller (an
    :class:`~streamsafe.APIError` unless something unexpected happened); for
    ``abandoned``, the exception that ended it if any (the cancellation, the
    caller's own). ``message``: the final message (completed) or the partial
    one; ``usage`` and ``stop_reason`` are read from it.
    """

    outcome: Outcome
    reason: AbandonReason | None
    error: BaseException | None
    message: Message | None
    metrics: StreamMetrics
    request_id: str | None
    aws_request_id: str | None

    @property
    def usage(self) -> Usage | None:
        return None if self.message is None else self.message.usage

    @property
    def stop_reason(self) -> str | None:
        return None if self.message is None else self.message.stop_reason


class Observer:
    """Receives the lifecycle events of calls; every method does nothing: override some.

    See :mod:`streamsafe._observe` for the order and the guarantees.
    """

    def on_start(self, call: Call) -> None:
        """A call starts (nothing sent yet): ``call.params`` holds the request."""

    def on_attempt(self, call: Call, attempt: int) -> None:
        """HTTP attempt ``attempt`` (1-based) is about to be sent."""

    def on_headers(self, call: Call, headers: ResponseHeaders) -> None:
        """A response's headers arrived (any status)."""

    def on_first_content(self, call: Call, seconds: float) -> None:
        """The attempt's first content event arrived, ``seconds`` after the call started."""

    def on_chunk(self, call: Call, seconds: float) -> None:
        """A read of the body after the first content; ``seconds`` since the previous one.

        Called only when a subclass overrides it (it runs once per read).
        """

    def on_retry(self, call: Call, retry: RetryScheduled) -> None:
        """A failed attempt will be retried after ``retry.delay`` seconds."""

    def on_end(self, call: Call, end: StreamEnd) -> None:
        """The call ended; called exactly once per call."""


class Call:
    """One observed call: its request and state (given to every :class:`Observer` method).

    ``params``: the request body (model, max_tokens, messages, ...; it holds
    message content: record it only if your users opted in); ``url``;
    ``stream``: the caller asked for a stream (``False`` for ``create()``,
    which streams underneath); ``attempt``; ``request_id`` /
    ``aws_request_id`` of the latest response; ``started`` (a
    ``time.perf_counter()`` value); ``state``: free for the observer's use.
    """

    def __init__(
        self,
        observer: Observer | None,
        params: dict[str, Any] | None,
        *,
        url: str = "",
        stream: bool = True,
        handed_over: bool = False,
    ) -> None:
        self.observer = observer
        self.params: dict[str, Any] = params if isinstance(params, dict) else {}
        self.url = url
        self.stream = stream
        self.state: Any = None
        self.attempt = 0
        self.request_id: str | None = None
        self.aws_request_id: str | None = None
        self.started = _clock()
        self.ended: StreamEnd | None = None
        #: The stream belongs to its caller, who ends the call by reading,
        #: closing or dropping it. Until then (a client's prefetch or
        #: create()) the client ends the call itself.
        self.handed_over = handed_over
        self._headers_at: float | None = None
        self._first_content_at: float | None = None
        self._last_read_at = 0.0
        self._core: _MessageCore | None = None
        self._wants_chunks = observer is not None and (
            type(observer).on_chunk is not Observer.on_chunk
        )
        if observer is not None:
            observer.on_start(self)

    # -- events ------------------------------------------------------------------

    def next_attempt(self) -> None:
        self.attempt += 1
        self._core = None
        self._headers_at = None
        self._first_content_at = None
        if self.observer is not None:
            self.observer.on_attempt(self, self.attempt)

    def on_response(self, response: httpx.Response) -> None:
        """Hook of ``connect_events``: the response headers arrived."""
        self._headers_at = _clock()
        headers = response.headers
        self.request_id = headers.get("request-id")
        self.aws_request_id = headers.get("x-amzn-requestid")
        if self.observer is not None:
            info = ResponseHeaders(
                self.attempt, response.status_code, self.request_id, self.aws_request_id
            )
            self.observer.on_headers(self, info)

    def attach(self, core: _MessageCore) -> None:
        """A stream of this call starts reading (each attempt makes one)."""
        self._core = core
        core.apply = self._apply_until_content
        if self._wants_chunks:
            core.source_core.on_read = self._on_read

    def _apply_until_content(self, event: StreamEvent) -> None:
        core = self._core
        assert core is not None
        core.accumulator.apply(event)
        if core.is_content_start(event):
            core.apply = core.accumulator.apply  # from now on, nothing per event
            self._first_content_at = now = _clock()
            self._last_read_at = now
            if self.observer is not None:
                self.observer.on_first_content(self, now - self.started)

    def _on_read(self) -> None:
        now = _clock()
        if self._first_content_at is not None and self.observer is not None:
            self.observer.on_chunk(self, now - self._last_read_at)
        self._last_read_at = now

    def retry(self, delay: float, error: APIError) -> None:
        content = self._first_content_at is not None
        if self.observer is not None:
            self.observer.on_retry(self, RetryScheduled(self.attempt, delay, error, content))

    # -- metrics -----------------------------------------------------------------

    def metrics(self, until: float | None = None) -> StreamMetrics:
        if until is None:
            until = self.ended_at if self.ended is not None else _clock()
        started = self.started
        core = self._core
        events = byte_count = 0
        tokens = None
        if core is not None:
            events = core.source_core.events_read
            byte_count = core.source_core.bytes_read
            tokens = core.accumulator.output_tokens
        return StreamMetrics(
            time_to_first_byte=None if self._headers_at is None else self._headers_at - started,
            time_to_first_content=(
                None if self._first_content_at is None else self._first_content_at - started
            ),
            duration=until - started,
            events=events,
            bytes=byte_count,
            output_tokens=tokens,
            attempts=self.attempt,
        )

    # -- endings (each call ends once) -------------------------------------------

    ended_at = 0.0

    def end(
        self,
        outcome: Outcome,
        error: BaseException | None = None,
        reason: AbandonReason | None = None,
    ) -> None:
        if self.ended is not None:
            return
        self.ended_at = _clock()
        core = self._core
        message = None
        if isinstance(error, APIError) and error.partial_message is not None:
            message = error.partial_message
        elif core is not None:
            message = core.accumulator.snapshot()
        end = StreamEnd(
            outcome=outcome,
            reason=reason,
            error=error,
            message=message,
            metrics=self.metrics(self.ended_at),
            request_id=self.request_id,
            aws_request_id=self.aws_request_id,
        )
        self.ended = end
        if outcome != "completed":
            _log_abnormal_end(self, end)
        if self.observer is not None:
            self.observer.on_end(self, end)

    def end_with(self, exc: BaseException | None, *, raised_by_library: bool) -> None:
        """End the call as the exception leaving it says (``None``: closed normally).

        ``raised_by_library``: ``exc`` came out of streamsafe (opening, retrying)
        rather than out of the caller's code around the stream.
        """
        core = self._core
        if core is not None and core.accumulator.done:
            self.end("completed")
        elif exc is None:
            self.end("abandoned", reason="closed")
        elif _is_cancellation(exc):
            self.end("abandoned", exc, "cancelled")
        elif raised_by_library and isinstance(exc, Exception):
            self.end("failed", exc)
        else:
            self.end("abandoned", exc, "closed")

    # Hooks of the stream, which end the call only once it is handed over.

    def stream_failed(self, exc: APIError) -> None:
        if self.handed_over:
            self.end("failed", exc)

    def stream_opening_failed(self, exc: BaseException) -> None:
        if self.handed_over:
            self.end_with(exc, raised_by_library=True)

    def stream_closed(self, exc: BaseException | None) -> None:
        if self.handed_over and self.ended is None:
            self.end_with(exc, raised_by_library=False)

    def stream_collected(self) -> None:
        if self.handed_over and self.ended is None:
            core = self._core
            if core is not None and core.accumulator.done:
                self.end("completed")
            else:
                self.end("abandoned", reason="garbage_collected")


def _is_cancellation(exc: BaseException) -> bool:
    try:
        cancelled = anyio.get_cancelled_exc_class()
    except Exception:  # no async library running (a sync stream)
        return False
    return isinstance(exc, cancelled)


def _log_abnormal_end(call: Call, end: StreamEnd) -> None:
    """One line per call that did not complete, with both request ids."""
    if end.outcome == "failed":
        what = f"failed with {type(end.error).__name__}: {end.error}"
    else:
        what = f"abandoned ({end.reason})"
        if end.error is not None and end.reason == "closed":
            what += f" on {type(end.error).__name__}"
    level = logging.WARNING if end.reason == "garbage_collected" else logging.INFO
    logger.log(
        level,
        "message call %s after %d attempt(s), %.3f s (request_id=%s, aws_request_id=%s)",
        what,
        call.attempt,
        end.metrics.duration,
        end.request_id,
        end.aws_request_id,
    )
