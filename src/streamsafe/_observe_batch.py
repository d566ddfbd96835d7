"""The bookkeeping of one observed Message Batches operation: :class:`BatchOperation`.

The async and sync shells report what happens to an operation (requests,
responses, states read, retries, polls, resumed downloads, rows read); it
tells the observer (if any), decides the outcome and ends the operation
exactly once, logging one that did not complete. Rows are counted by type
only when observed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ._errors import APIError
from ._observer import (
    AbandonReason,
    BatchEnd,
    BatchOperationName,
    BatchPoll,
    BatchResume,
    Observer,
    Outcome,
    RetryScheduled,
    describe_abnormal_end,
    is_cancellation,
)

if TYPE_CHECKING:
    import httpx

    from ._batch_models import BatchResult, MessageBatch

__all__ = ["BatchOperation"]

logger = logging.getLogger("streamsafe")

_clock = time.perf_counter


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
        elif is_cancellation(exc):
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
    level, what = describe_abnormal_end(end.outcome, end.error, end.reason)
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
