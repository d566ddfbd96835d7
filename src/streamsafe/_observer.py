"""The :class:`Observer` and what it is told (the order and the guarantees: :mod:`._observe`).

The records handed to an observer (:class:`ResponseHeaders`,
:class:`RetryScheduled`, :class:`StreamEnd` for message calls;
:class:`BatchPoll`, :class:`BatchResume`, :class:`BatchEnd` for batch
operations), the ways a call or an operation ends (:data:`Outcome`,
:data:`AbandonReason`, :func:`is_cancellation`), and :class:`Retried`, what the
retry loops report to. The bookkeeping that fills them lives in
:mod:`._observe_call` and :mod:`._observe_batch`; :class:`~._metrics.StreamMetrics`
in :mod:`._metrics`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import anyio

from ._errors import APIError
from ._metrics import StreamMetrics

if TYPE_CHECKING:
    from ._batch_models import MessageBatch, MessageBatchRequestCounts
    from ._events import Message, Usage
    from ._observe_batch import BatchOperation
    from ._observe_call import Call

__all__ = [
    "AbandonReason",
    "BatchEnd",
    "BatchOperationName",
    "BatchPoll",
    "BatchResume",
    "Observer",
    "Outcome",
    "ResponseHeaders",
    "Retried",
    "RetryScheduled",
    "StreamEnd",
    "describe_abnormal_end",
    "is_cancellation",
]

Outcome = Literal["completed", "failed", "abandoned"]
AbandonReason = Literal["cancelled", "closed", "garbage_collected"]


def describe_abnormal_end(
    outcome: Outcome, error: BaseException | None, reason: AbandonReason | None
) -> tuple[int, str]:
    """The log level and wording of an ending that was not ``completed`` (calls and batches).

    WARNING for what was never closed (garbage-collected), INFO otherwise.
    """
    if outcome == "failed":
        what = f"failed with {type(error).__name__}: {error}"
    else:
        what = f"abandoned ({reason})"
        if error is not None and reason == "closed":
            what += f" on {type(error).__name__}"
    return (logging.WARNING if reason == "garbage_collected" else logging.INFO), what


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is the running async library's cancellation (never in sync code)."""
    try:
        cancelled = anyio.get_cancelled_exc_class()
    except Exception:  # no async library running (a sync stream)
        return False
    return isinstance(exc, cancelled)


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
