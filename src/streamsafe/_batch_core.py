"""Message Batches decisions, free of I/O: shared by the async and sync shells.

* :func:`batch_body` — the local checks before anything is sent.
* :class:`ResultsDownload` — reading a results file exactly once through cuts:
  which headers the next request carries, what of its body to skip, whether
  a failure is resumed and after what wait.
* :class:`Waiter` — polling until a batch ends: the wait before the next
  poll, which failures are survived, when waiting gives up.
* :func:`resubmission` — which items of a finished batch are worth another try.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ._batch_models import BatchErrored, BatchResult, MessageBatch, decode_result_row
from ._errors import (
    APIError,
    APIStatusError,
    BatchRequestError,
    BatchWaitTimeoutError,
    MalformedEventError,
)
from ._failures import retry_after_seconds
from ._jsonl import DEFAULT_MAX_LINE_BYTES, JSONLReader
from ._retry import Backoff, RetryPolicy

if TYPE_CHECKING:
    from ._observe import BatchOperation

__all__ = [
    "CUSTOM_ID_PATTERN",
    "MAX_BATCH_REQUESTS",
    "RESUBMIT_DEFAULT",
    "BatchProgress",
    "ResultsDownload",
    "Waiter",
    "batch_body",
    "batch_model",
    "resubmission",
]

#: The most requests one batch may hold.
MAX_BATCH_REQUESTS = 100_000
#: What the API accepts as a ``custom_id`` (checked here, before anything is uploaded).
CUSTOM_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")

#: What :meth:`resubmit` sends again by default.
RESUBMIT_DEFAULT: tuple[str, ...] = ("errored-retryable", "expired")
_RESUBMIT_KINDS = frozenset({"errored", "errored-retryable", "expired", "canceled"})


def _request_items(requests: Iterable[Any]) -> Iterable[tuple[int, Any, Any]]:
    for index, item in enumerate(requests):
        if not isinstance(item, Mapping):
            raise BatchRequestError(
                f"requests[{index}] must be a mapping with 'custom_id' and 'params', "
                f"got {type(item).__name__}",
                index=index,
            )
        yield index, item.get("custom_id"), item.get("params")


def batch_body(requests: Iterable[Any]) -> dict[str, Any]:
    """The body of ``POST /v1/messages/batches``, checked item by item.

    Raises :class:`BatchRequestError` naming the first offending item: a
    ``custom_id`` that does not match ``^[a-zA-Z0-9_-]{1,64}$`` or repeats an
    earlier one, ``params`` that is not a mapping or sets ``stream``, more
    than 100,000 requests, or none. (The 256 MB limit is the client's size
    preflight, on the serialised body.)
    """
    if isinstance(requests, str | bytes | Mapping):
        raise BatchRequestError("requests must be a list of {'custom_id', 'params'} mappings")
    items: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, custom_id, params in _request_items(requests):
        where = f"requests[{index}]"
        if not isinstance(custom_id, str) or CUSTOM_ID_PATTERN.fullmatch(custom_id) is None:
            raise BatchRequestError(
                f"{where}: custom_id {custom_id!r} must be 1 to 64 characters of "
                "a-z, A-Z, 0-9, '_' and '-'",
                index=index,
                custom_id=custom_id,
            )
        if custom_id in seen:
            raise BatchRequestError(
                f"{where}: custom_id {custom_id!r} repeats requests[{seen[custom_id]}]; "
                "custom ids must be unique in a batch",
                index=index,
                custom_id=custom_id,
            )
        seen[custom_id] = index
        if not isinstance(params, Mapping):
            raise BatchRequestError(
                f"{where} ({custom_id!r}): params must be the Messages request body (a mapping)",
                index=index,
                custom_id=custom_id,
            )
        if params.get("stream"):
            raise BatchRequestError(
                f"{where} ({custom_id!r}): params must not set 'stream': a batch runs "
                "non-streaming requests",
                index=index,
                custom_id=custom_id,
            )
        if len(items) == MAX_BATCH_REQUESTS:
            raise BatchRequestError(
                f"{where}: a batch holds at most {MAX_BATCH_REQUESTS:,} requests",
                index=index,
                custom_id=custom_id,
            )
        items.append({"custom_id": custom_id, "params": params})
    if not items:
        raise BatchRequestError("a batch needs at least one request")
    return {"requests": items}


def batch_model(body: Mapping[str, Any]) -> str | None:
    """The model every request of a batch body names (``None`` if they differ)."""
    models = {item["params"].get("model") for item in body.get("requests", ()) if "params" in item}
    if len(models) != 1:
        return None
    (model,) = models
    return model if isinstance(model, str) and model else None


# -- results ---------------------------------------------------------------------------


def results_path(batch: MessageBatch, base_url: httpx.URL) -> str:
    """The path (and query) of ``batch.results_url``, relative to the client's base URL."""
    if batch.results_url is None:
        raise APIError(
            f"batch {batch.id} has no results_url yet (processing_status="
            f"{batch.processing_status}); wait for it to end first"
        )
    url = httpx.URL(batch.results_url)
    path = url.raw_path.decode("ascii")
    prefix = base_url.raw_path.decode("ascii").rstrip("/")
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    return path


def _content_range_start(value: str | None) -> int | None:
    if not value or not value.startswith("bytes "):
        return None
    first = value[6:].split("-", 1)[0].strip()
    return int(first) if first.isdigit() else None


class ResultsDownload:
    """The state of reading one results file, through any number of cut downloads.

    The shells call :meth:`request_headers` before each request,
    :meth:`start` with each 2xx response, :meth:`feed` with its body chunks,
    :meth:`finish` when a body ends cleanly, and :meth:`after_cut` (inside
    ``except``) when a request or a body fails: it returns the wait before
    the next request, or re-raises. A resumed download asks for the rest with
    ``Range`` when the first response offered ``accept-ranges: bytes`` (and
    was not content-encoded), else downloads the file again and skips the
    bytes of the rows already delivered (the file does not change once the
    batch has ended). Cuts are resumed as long as each one made progress;
    ``max_retries`` cuts in a row without a new row end it. ``op`` is told of
    the rows read and of each resume.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        op: BatchOperation | None = None,
    ):
        self.reader = JSONLReader(max_line_bytes=max_line_bytes)
        self.policy = policy
        self.op = op
        self.resumes = 0
        self._range_ok: bool | None = None
        self._etag: str | None = None
        self._skip = 0
        self._stalled = 0
        self._mark = 0

    def request_headers(self) -> dict[str, str]:
        offset = self.reader.offset
        if not offset or not self._range_ok:
            return {}
        headers = {"range": f"bytes={offset}-"}
        if self._etag is not None:
            headers["if-range"] = self._etag
        return headers

    def start(self, response: httpx.Response) -> None:
        offset = self.reader.offset
        self.reader.discard_partial()
        headers = response.headers
        if self._range_ok is None:
            self._range_ok = (
                headers.get("accept-ranges", "").strip().lower() == "bytes"
                and headers.get("content-encoding", "identity").strip().lower() == "identity"
            )
            self._etag = headers.get("etag")
        if response.status_code == 206:
            start = _content_range_start(headers.get("content-range"))
            if start != offset:
                raise MalformedEventError(
                    f"asked for the results from byte {offset}, got content-range "
                    f"{headers.get('content-range')!r}"
                )
            self._skip = 0
        else:
            self._skip = offset  # the whole file again: drop what was delivered

    def feed(self, chunk: bytes) -> list[BatchResult]:
        if self._skip:
            if len(chunk) <= self._skip:
                self._skip -= len(chunk)
                return []
            chunk = chunk[self._skip :]
            self._skip = 0
        rows = [decode_result_row(line) for line in self.reader.feed(chunk)]
        return rows if self.op is None else self.op.read(rows)

    def finish(self) -> list[BatchResult]:
        if self._skip:
            raise MalformedEventError(
                f"the results file is shorter on a new download than the {self.reader.offset:,} "
                "bytes already read: it changed, rows cannot be matched"
            )
        rows = [decode_result_row(line) for line in self.reader.end()]
        return rows if self.op is None else self.op.read(rows)

    def after_cut(self, error: APIError) -> float:
        """The wait before resuming after ``error``; re-raises it when not resumable."""
        if self.reader.offset > self._mark:
            self._mark = self.reader.offset
            self._stalled = 0
        delay = self.policy.next_delay(self._stalled, error)
        if delay is None:
            raise error
        self._stalled += 1
        self.resumes += 1
        if self.op is not None:
            reader = self.reader
            ranged = bool(self._range_ok)
            self.op.resumed(delay, error, offset=reader.offset, rows=reader.rows, ranged=ranged)
        return delay


# -- waiting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchProgress:
    """What ``on_progress`` receives after every poll (successful or not).

    ``request_counts`` are final only once the batch has ended; until then the
    times say how far along the batch's 24-hour window it is.
    """

    batch: MessageBatch
    #: Seconds since the batch was created.
    elapsed: float
    #: Seconds until ``expires_at`` (negative once it passed).
    time_left: float
    #: Seconds this wait has run.
    waited: float
    polls: int
    #: Polls that failed (resets, timeouts, 5xx, 529...) and were survived.
    failed_polls: int
    #: The failure of the latest poll, when it failed.
    error: APIError | None = None

    @property
    def ended(self) -> bool:
        return self.batch.ended


class Waiter:
    """Decides the wait before each poll of a batch, and when waiting ends.

    A poll that fails retryably (connection reset, timeout, 408/409/429, 5xx,
    529) never ends the wait: the next poll follows after the server's
    ``retry-after`` or a backoff. Only the batch ending, ``timeout`` seconds
    passing, ``expires_at`` passing by more than ``expiry_grace`` while the
    batch still has not ended, or a non-retryable error end it. ``op`` is
    told of each poll answered or survived.
    """

    def __init__(
        self,
        *,
        timeout: float | None,
        poll_interval: float,
        max_poll_interval: float,
        backoff: Backoff,
        expiry_grace: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        op: BatchOperation | None = None,
    ) -> None:
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must not be negative")
        if not 0 < poll_interval <= max_poll_interval:
            raise ValueError("need 0 < poll_interval <= max_poll_interval")
        self._clock = clock
        self._wall = wall
        self.started = clock()
        self.deadline = None if timeout is None else self.started + timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.backoff = backoff
        self.expiry_grace = expiry_grace
        self.batch: MessageBatch | None = None
        self.polls = 0
        self.failed_polls = 0
        self.error: APIError | None = None
        self._failures = 0
        self._successes = 0
        self.op = op

    def after_batch(self, batch: MessageBatch, headers: httpx.Headers | None) -> float | None:
        """A poll answered: ``None`` when the batch has ended, else the next wait."""
        self.polls += 1
        self.batch = batch
        self.error = None
        self._failures = 0
        if self.op is not None:
            self.op.seen(batch)  # the state is known even if waiting gives up below
        if batch.ended:
            if self.op is not None:
                self.op.polled(batch, None, None, headers)
            return None
        if self._wall() > batch.expires_at.timestamp() + self.expiry_grace:
            raise BatchWaitTimeoutError(
                f"batch {batch.id} passed its expires_at ({batch.expires_at.isoformat()}) "
                f"more than {self.expiry_grace:g} s ago and has still not ended",
                batch=batch,
            )
        delay = min(self.max_poll_interval, self.poll_interval * 1.5**self._successes)
        self._successes += 1
        asked = retry_after_seconds(headers) if headers is not None else None
        delay = self._bounded(max(delay, asked) if asked is not None else delay)
        if self.op is not None:
            self.op.polled(batch, None, delay, headers)
        return delay

    def after_error(self, error: APIError) -> float:
        """A poll failed: the wait before the next one; re-raises a non-retryable error."""
        self.polls += 1
        if not error.retryable:
            raise error
        self.failed_polls += 1
        self.error = error
        asked = None
        if isinstance(error, APIStatusError) and error.response is not None:
            asked = retry_after_seconds(error.response.headers)
        delay = asked if asked is not None else self.backoff.delay(self._failures)
        self._failures += 1
        delay = self._bounded(delay)
        if self.op is not None:
            self.op.polled(None, error, delay)
        return delay

    def _bounded(self, delay: float) -> float:
        if self.deadline is None:
            return delay
        remaining = self.deadline - self._clock()
        if remaining <= 0:
            what = self.batch.id if self.batch is not None else "the batch"
            status = self.batch.processing_status if self.batch is not None else "unknown"
            raise BatchWaitTimeoutError(
                f"{what} has not ended within the timeout (processing_status={status}); "
                "it keeps running: wait for it again by its id",
                batch=self.batch,
            )
        return min(delay, remaining)

    def progress(self) -> BatchProgress | None:
        batch = self.batch
        if batch is None:
            return None
        now = self._wall()
        return BatchProgress(
            batch=batch,
            elapsed=now - batch.created_at.timestamp(),
            time_left=batch.expires_at.timestamp() - now,
            waited=self._clock() - self.started,
            polls=self.polls,
            failed_polls=self.failed_polls,
            error=self.error,
        )


# -- resubmission --------------------------------------------------------------------------


def _worth_another_try(result: BatchResult, which: Collection[str]) -> bool:
    if isinstance(result, BatchErrored):
        return "errored" in which or ("errored-retryable" in which and result.retryable)
    return result.type in which


def _by_custom_id(requests: Iterable[Any] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(requests, Mapping):
        return {str(custom_id): params for custom_id, params in requests.items()}
    return {str(custom_id): params for _, custom_id, params in _request_items(requests)}


def check_which(which: Collection[str]) -> frozenset[str]:
    chosen = frozenset(which)
    unknown = chosen - _RESUBMIT_KINDS
    if unknown or isinstance(which, str):
        raise ValueError(
            f"which: unknown kinds {sorted(unknown) or which!r}; "
            f"choose among {sorted(_RESUBMIT_KINDS)}"
        )
    return chosen


def resubmission(
    results: Iterable[BatchResult],
    requests: Iterable[Any] | Mapping[str, Any],
    which: Collection[str],
) -> list[dict[str, Any]]:
    """The requests (with their original ``params``) whose results are of a kind in ``which``.

    ``requests`` is the original list of ``{"custom_id", "params"}`` or a
    mapping ``custom_id -> params``; an item worth another try whose
    custom id is not in it is an error (the API does not return params).
    """
    chosen = check_which(which)
    params = _by_custom_id(requests)
    again: list[dict[str, Any]] = []
    for result in results:
        if not _worth_another_try(result, chosen):
            continue
        if result.custom_id not in params:
            raise BatchRequestError(
                f"custom_id {result.custom_id!r} is to be resubmitted but is not among the "
                "requests given",
                custom_id=result.custom_id,
            )
        again.append({"custom_id": result.custom_id, "params": params[result.custom_id]})
    return again
