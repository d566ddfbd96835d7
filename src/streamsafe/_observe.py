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

This module is the face the rest of the library imports from; the parts
live in one module each: :mod:`._observer` (the :class:`Observer` and the
records it is handed), :mod:`._metrics` (:class:`StreamMetrics`),
:mod:`._observe_call` (:class:`Call`) and :mod:`._observe_batch`
(:class:`BatchOperation`).
"""

from __future__ import annotations

from ._metrics import StreamMetrics
from ._observe_batch import BatchOperation
from ._observe_call import Call
from ._observer import (
    AbandonReason,
    BatchEnd,
    BatchOperationName,
    BatchPoll,
    BatchResume,
    Observer,
    Outcome,
    ResponseHeaders,
    Retried,
    RetryScheduled,
    StreamEnd,
)

__all__ = [
    "AbandonReason",
    "BatchEnd",
    "BatchOperation",
    "BatchOperationName",
    "BatchPoll",
    "BatchResume",
    "Call",
    "Observer",
    "Outcome",
    "ResponseHeaders",
    "Retried",
    "RetryScheduled",
    "StreamEnd",
    "StreamMetrics",
]
