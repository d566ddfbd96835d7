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

**Batch operations** (``client.messages.batches``) are told to the same
observer through five more methods, one *operation* (a
:class:`BatchOperation`) per ``create`` / ``retrieve`` / ``list`` /
``cancel`` / ``delete`` / ``wait`` / ``results`` (``run`` is a ``create``, a
``wait`` and a ``results``; ``resubmit`` a ``results`` and a ``create``;
``cancel_on_exit`` a ``cancel`` inside the ``wait``):

* ``on_batch_start(op)`` — once, before its first request (for ``list`` and
  ``results``: when the first item is asked for);
* ``on_batch_retry(op, retry)`` — a failed request of the operation will be
  retried (:class:`RetryScheduled`; ``create``, ``retrieve``, ``cancel``,
  ``delete``, a page of ``list``);
* ``on_batch_poll(op, poll)`` — ``wait``: each poll, answered or failed and
  survived (:class:`BatchPoll`);
* ``on_batch_resume(op, resume)`` — ``results``: a cut download is resumed
  (:class:`BatchResume`);
* ``on_batch_end(op, end)`` — **exactly once** per operation
  (:class:`BatchEnd`): ``completed``, ``failed`` (the error raised to the
  caller: a typed :class:`~streamsafe.APIError`, ``BatchWaitTimeoutError``,
  or what ``on_progress`` raised) or ``abandoned`` (``cancelled``;
  ``closed``: a ``list`` or ``results`` left before its end, ``KeyboardInterrupt``;
  ``garbage_collected``: a ``results`` never closed).

A batch refused by the local checks (``BatchRequestError``, a body over the
size limit) sends nothing and is no operation. Without an observer nothing
is called, and nothing is counted per row of the results.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio

from ._errors import APIError

if TYPE_CHECKING:
    import httpx

    from ._batch_models import BatchResult, MessageBatch, MessageBatchRequestCounts
    from ._events import Message, StreamEvent, Usage
    from ._stream import _MessageCore

__all__ = [
    "BatchEnd",
    "BatchOperation",
    "BatchPoll",
    "BatchResume",
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

    # -- the Message Batches API ---------------------------------------------------

    def on_batch_start(self, op: BatchOperation) -> None:
        """A batch operation starts (``op.name``: ``create``, ``wait``, ...)."""

    def on_batch_retry(self, op: BatchOperation, retry: RetryScheduled) -> None:
        """A failed request of the operation will be retried after ``retry.delay`` seconds."""

    def on_batch_poll(self, op: BatchOperation, poll: BatchPoll) -> None:
        """``wait`` polled the batch (answered, or failed and survived)."""

    def on_batch_resume(self, op: BatchOperation, resume: BatchResume) -> None:
        """``results``: a cut download will be resumed after ``resume.delay`` seconds."""

    def on_batch_end(self, op: BatchOperation, end: BatchEnd) -> None:
        """The batch operation ended; called exactly once per operation."""


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


# -- the Message Batches API -----------------------------------------------------------

BatchOperationName = Literal["create", "retrieve", "list", "cancel", "delete", "wait", "results"]


class Retried(Protocol):
    """What the retry loops tell of their retries and of how they end (:class:`Call`,
    :class:`BatchOperation`)."""

    def retry(self, delay: float, error: APIError) -> None: ...

    def end_with(self, exc: BaseException | None, *, raised_by_library: bool) -> None: ...


@dataclass(frozen=True)
class BatchPoll:
    """One poll of ``wait`` (``on_batch_poll``).

    ``poll``: its number (1-based); ``batch``: the state it read (``None``
    when it failed); ``error``: the failure survived; ``delay``: seconds
    until the next poll (``None``: the batch has ended); the request ids of
    its response (or of its error).
    """

    poll: int
    batch: MessageBatch | None
    error: APIError | None
    delay: float | None
    request_id: str | None
    aws_request_id: str | None


@dataclass(frozen=True)
class BatchResume:
    """A cut results download about to be resumed (``on_batch_resume``).

    ``resume``: its number (1-based); ``error``: what cut the download;
    ``offset``: bytes of whole rows read so far; ``rows``: rows read so far;
    ``ranged``: the rest is asked for with ``Range`` (else the file is
    downloaded again and what was read is skipped).
    """

    resume: int
    delay: float
    error: APIError
    offset: int
    rows: int
    ranged: bool


@dataclass(frozen=True)
class BatchEnd:
    """How a batch operation ended (``on_batch_end``, exactly once).

    ``outcome``, ``reason`` and ``error`` as for :class:`StreamEnd`.
    ``batch``: the latest state of the batch the operation read (``None``
    for ``list`` and ``delete``, or before any answer); ``requests``: HTTP
    requests sent (retries, polls and resumed downloads included); the ids of
    the latest response; ``polls`` / ``failed_polls`` (``wait``);
    ``resumes`` (``results``); ``items``: batches listed (``list``) or rows
    read (``results``); ``results``: the rows read by result type
    (``succeeded``, ``errored``, ``canceled``, ``expired``, ...).
    """

    outcome: Outcome
    reason: AbandonReason | None
    error: BaseException | None
    batch: MessageBatch | None
    duration: float
    requests: int
    request_id: str | None
    aws_request_id: str | None
    polls: int = 0
    failed_polls: int = 0
    resumes: int = 0
    items: int = 0
    results: dict[str, int] = field(default_factory=dict)

    @property
    def request_counts(self) -> MessageBatchRequestCounts | None:
        """The batch's request counts as last read (final once it has ended)."""
        return None if self.batch is None else self.batch.request_counts


class BatchOperation:
    """One observed batch operation (given to every ``on_batch_*`` method).

    ``name``: ``create``, ``retrieve``, ``list``, ``cancel``, ``delete``,
    ``wait`` or ``results``; ``batch_id`` (for ``create``, and ``run``'s
    ``results``, set once known); ``model``: for ``create``, the model every
    request names (``None`` if they differ); ``requests``: for ``create``,
    the number of requests; ``url``: the endpoint; ``attempt``: HTTP requests
    sent so far; ``request_id`` / ``aws_request_id`` of the latest response;
    ``batch``: the latest state read; ``started`` (a ``time.perf_counter()``
    value); ``state``: free for the observer's use.

    The shells (async and sync) report what happens through its methods; it
    decides the outcome and ends the operation exactly once.
    """

    def __init__(
        self,
        observer: Observer | None,
        name: BatchOperationName,
        *,
        url: str = "",
        batch_id: str | None = None,
        model: str | None = None,
        requests: int | None = None,
    ) -> None:
        self.observer = observer
        self.name = name
        self.url = url
        self.batch_id = batch_id
        self.model = model
        self.requests = requests
        self.state: Any = None
        self.attempt = 0
        self.request_id: str | None = None
        self.aws_request_id: str | None = None
        self.batch: MessageBatch | None = None
        self.polls = 0
        self.failed_polls = 0
        self.resumes = 0
        self.items = 0
        self.results: dict[str, int] = {}
        self.started = _clock()
        self.ended: BatchEnd | None = None
        if observer is not None:
            observer.on_batch_start(self)

    # -- what happened -----------------------------------------------------------

    def sent(self) -> None:
        """A request of the operation is about to be sent."""
        self.attempt += 1

    def on_response(self, response: httpx.Response) -> None:
        """A response's headers arrived (any status)."""
        headers = response.headers
        self.request_id = headers.get("request-id")
        self.aws_request_id = headers.get("x-amzn-requestid")

    def seen(self, batch: MessageBatch) -> None:
        """A state of the batch was read."""
        self.batch = batch
        self.batch_id = batch.id

    def retry(self, delay: float, error: APIError) -> None:
        if self.observer is not None:
            self.observer.on_batch_retry(self, RetryScheduled(self.attempt, delay, error, False))

    def polled(
        self,
        batch: MessageBatch | None,
        error: APIError | None,
        delay: float | None,
        headers: httpx.Headers | None = None,
    ) -> None:
        """``wait``: a poll read ``batch`` or failed with ``error`` (survived)."""
        self.polls += 1
        if batch is not None:
            self.seen(batch)
        else:
            self.failed_polls += 1
        if self.observer is None:
            return
        if headers is not None:
            ids = headers.get("request-id"), headers.get("x-amzn-requestid")
        elif error is not None:
            ids = error.request_id, error.aws_request_id
        else:
            ids = None, None
        self.observer.on_batch_poll(self, BatchPoll(self.polls, batch, error, delay, *ids))

    def resumed(
        self, delay: float, error: APIError, *, offset: int, rows: int, ranged: bool
    ) -> None:
        """``results``: a cut download will be resumed."""
        self.resumes += 1
        if self.observer is not None:
            resume = BatchResume(self.resumes, delay, error, offset, rows, ranged)
            self.observer.on_batch_resume(self, resume)

    def read(self, rows: list[BatchResult]) -> list[BatchResult]:
        """``results``: rows read from the file (counted by type only when observed)."""
        self.items += len(rows)
        if self.observer is not None and rows:
            counts = self.results
            for row in rows:
                counts[row.type] = counts.get(row.type, 0) + 1
        return rows

    def listed(self, count: int) -> None:
        """``list``: a page of ``count`` batches was read."""
        self.items += count

    # -- endings (each operation ends once) --------------------------------------

    def end(
        self,
        outcome: Outcome,
        error: BaseException | None = None,
        reason: AbandonReason | None = None,
    ) -> None:
        if self.ended is not None:
            return
        end = BatchEnd(
            outcome=outcome,
            reason=reason,
            error=error,
            batch=self.batch,
            duration=_clock() - self.started,
            requests=self.attempt,
            request_id=self.request_id,
            aws_request_id=self.aws_request_id,
            polls=self.polls,
            failed_polls=self.failed_polls,
            resumes=self.resumes,
            items=self.items,
            results=dict(self.results),
        )
        self.ended = end
        if outcome != "completed":
            _log_abnormal_batch_end(self, end)
        if self.observer is not None:
            self.observer.on_batch_end(self, end)

    def finish(self, batch: MessageBatch | None = None) -> None:
        """The operation returned (or its items ran out)."""
        if batch is not None:
            self.seen(batch)
        self.end("completed")

    def end_with(self, exc: BaseException | None, *, raised_by_library: bool = True) -> None:
        """End the operation as the exception leaving it says.

        Any ``Exception`` an operation raises to its caller fails it (a typed
        error, the wait's timeout, what ``on_progress`` raised); a
        cancellation abandons it (``cancelled``); ``GeneratorExit`` (a
        ``list`` broken out of), ``KeyboardInterrupt`` and the like abandon
        it (``closed``).
        """
        if exc is None or isinstance(exc, GeneratorExit):
            self.end("abandoned", reason="closed")
        elif _is_cancellation(exc):
            self.end("abandoned", exc, "cancelled")
        elif isinstance(exc, Exception):
            self.end("failed", exc)
        else:
            self.end("abandoned", exc, "closed")

    def closed(self, *, complete: bool) -> None:
        """``results`` closed: ``complete`` when every row was read and handed out."""
        if complete:
            self.end("completed")
        else:
            self.end("abandoned", reason="closed")

    def collected(self) -> None:
        """``results`` garbage-collected without being closed."""
        if self.ended is None:
            self.end("abandoned", reason="garbage_collected")


def _log_abnormal_batch_end(op: BatchOperation, end: BatchEnd) -> None:
    """One line per batch operation that did not complete, with both request ids."""
    if end.outcome == "failed":
        what = f"failed with {type(end.error).__name__}: {end.error}"
    else:
        what = f"abandoned ({end.reason})"
        if end.error is not None and end.reason == "closed":
            what += f" on {type(end.error).__name__}"
    level = logging.WARNING if end.reason == "garbage_collected" else logging.INFO
    logger.log(
        level,
        "batch %s%s %s after %d request(s), %.3f s (request_id=%s, aws_request_id=%s)",
        op.name,
        f" {op.batch_id}" if op.batch_id else "",
        what,
        end.requests,
        end.duration,
        end.request_id,
        end.aws_request_id,
    )
