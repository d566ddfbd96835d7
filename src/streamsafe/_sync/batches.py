# generated from src/streamsafe/_async/batches.py by scripts/unasync.py: do not edit
"""``client.messages.batches``: the Message Batches API, the I/O written once.

The second road for long requests: submit many non-streaming requests, wait
through any network trouble, read every result exactly once. The decisions
live in :mod:`streamsafe._batch_core` (checks, polling, resuming a cut
download) and :mod:`streamsafe._jsonl` (the line splitter); the requests,
pages and observed operations both twins share in :mod:`streamsafe._batches`.
The classes here only send the requests, read the answers and wait.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from .._batch_core import (
    RESUBMIT_DEFAULT,
    ResultsDownload,
    Waiter,
    check_which,
    resubmission,
    results_path,
)
from .._batch_models import (
    BatchResult,
    BatchSucceeded,
    DeletedMessageBatch,
    MessageBatch,
    decode_batch,
)
from .._batches import (
    BATCHES_PATH,
    CANCEL_ON_EXIT_TIMEOUT,
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    BatchRequests,
    OneBatchOperation,
    ProgressCallback,
    batch_id_of,
    checked,
    deleted_batch,
    next_page,
    operation,
    page_items,
    results_started,
)
from .._client import _BaseClient, _json_result
from .._errors import APIError
from .._failures import error_from_response, transport_error
from .._jsonl import DEFAULT_MAX_LINE_BYTES
from .._observe import BatchOperation
from .._twins import Clock, Deadline, Notify, Shield
from .closable import Closable
from .retry import run_with_retries

__all__ = ["BatchResults", "Batches"]

_T = TypeVar("_T")


class BatchResults(Closable):
    """The results of a batch: ``with ... as results: for item in results``.

    Each item is a :data:`~streamsafe.BatchResult`, delivered exactly once,
    even when the download is cut (it resumes). The response is closed when
    the rows run out, on any error, and on leaving the ``with`` block
    (leave early only through it, or call :meth:`close`). ``batch`` is the
    batch the results belong to, known once the first row is asked for.
    """

    def __init__(
        self,
        client: _BaseClient[httpx.Client],
        prepare: Callable[[], MessageBatch],
        extra_headers: Mapping[str, str] | None,
        max_line_bytes: int,
        batch_id: str | None = None,
    ) -> None:
        self._client = client
        self._prepare = prepare
        self._batch_id = batch_id
        self._op: BatchOperation | None = None
        self._complete = False
        self._extra = extra_headers
        self._max_line_bytes = max_line_bytes
        self.batch: MessageBatch | None = None
        self._download: ResultsDownload | None = None
        self._path = ""
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._ready: deque[BatchResult] = deque()
        self._finished = False

    @property
    def resumes(self) -> int:
        """How many times the download was resumed after a cut."""
        return self._download.resumes if self._download is not None else 0

    def close(self) -> None:
        self._finished = True
        if self._op is not None:
            self._op.closed(complete=self._complete and not self._ready)
        self._drop_response()

    def __iter__(self) -> BatchResults:
        return self

    def __next__(self) -> BatchResult:
        while not self._ready:
            if self._finished:
                if self._op is not None:
                    self._op.closed(complete=self._complete)
                raise StopIteration
            op = self._op
            if op is None:
                op = self._op = results_started(
                    self, operation(self._client, "results", batch_id=self._batch_id)
                )
            try:
                self._step(op)
            except BaseException as exc:
                op.end_with(exc)
                self.close()
                raise
        return self._ready.popleft()

    def _step(self, op: BatchOperation) -> None:
        download = self._download
        if download is None:
            self.batch = self._prepare()
            op.seen(self.batch)
            self._path = results_path(self.batch, self._client._config.base_url)
            self._download = ResultsDownload(
                self._client._config.retry, max_line_bytes=self._max_line_bytes, op=op
            )
            return
        try:
            if self._chunks is None:
                self._open(download, op)
                return
            try:
                chunk = next(self._chunks)
            except httpx.HTTPError as exc:
                raise transport_error(exc, self._request_id()) from exc
        except StopIteration:
            self._ready.extend(download.finish())
            self._complete = self._finished = True
            self._drop_response()
            return
        except APIError as error:
            self._drop_response()
            Clock.sleep(download.after_cut(error))
            return
        self._ready.extend(download.feed(chunk))

    def _open(self, download: ResultsDownload, op: BatchOperation) -> None:
        request = BatchRequests(self._client._config).results(self._path, download, self._extra)
        http = self._client._http
        op.sent()
        try:
            response = http.send(http.build_request(**request), stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(exc, None) from exc
        op.on_response(response)
        self._response = response
        if response.status_code == 416 and download.reader.offset:
            raise StopIteration  # the cut came after the last byte
        if not response.is_success:
            response.read()
            raise error_from_response(response)
        download.start(response)
        self._chunks = response.iter_bytes()

    def _drop_response(self) -> None:
        response, self._response, self._chunks = self._response, None, None
        if response is not None:
            response.close()

    def _request_id(self) -> str | None:
        return self._response.headers.get("request-id") if self._response is not None else None


class Batches:
    """``client.messages.batches`` (``client``: a :class:`~streamsafe.Client`)."""

    def __init__(self, client: _BaseClient[httpx.Client]) -> None:
        self._client = client
        self._requests = BatchRequests(client._config)

    def _call(
        self, request: dict[str, Any], op: BatchOperation, *, retry: bool = True
    ) -> httpx.Response:
        def attempt() -> httpx.Response:
            op.sent()
            try:
                response = self._client._http.request(**request)
            except httpx.HTTPError as exc:
                raise transport_error(exc, None) from exc
            op.on_response(response)
            return checked(response)

        if not retry:
            return attempt()
        what = f"{request['method']} {request['url'].path}"
        return run_with_retries(self._client._config.retry, what, attempt, op)

    def _json(self, request: dict[str, Any], op: BatchOperation) -> Any:
        return _json_result(self._call(request, op))

    def _operate(
        self, op: BatchOperation, request: dict[str, Any], decode: Callable[[Any], _T]
    ) -> _T:
        """One request (retried) as the whole operation ``op``, which ends once."""
        try:
            result = decode(self._json(request, op))
        except BaseException as exc:
            op.end_with(exc)
            raise
        op.finish(result if isinstance(result, MessageBatch) else None)
        return result

    def _on_batch(
        self,
        name: OneBatchOperation,
        batch: str | MessageBatch,
        extra: Mapping[str, str] | None,
        decode: Callable[[Any], _T],
    ) -> _T:
        """Operation ``name`` on one batch: one request (retried), the whole operation."""
        batch_id = batch_id_of(batch)
        request = self._requests.on_batch(name, batch_id, extra)
        op = operation(self._client, name, request, batch_id=batch_id)
        return self._operate(op, request, decode)

    def create(
        self, requests: Iterable[Any], *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """Submit a batch of ``{"custom_id", "params"}`` requests (checked locally first)."""
        request, details = self._requests.create(requests, extra_headers)
        op = operation(self._client, "create", request, **details)
        return self._operate(op, request, decode_batch)

    def retrieve(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """The batch's current state."""
        return self._on_batch("retrieve", batch, extra_headers, decode_batch)

    def list(
        self,
        *,
        limit: int | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Iterator[MessageBatch]:
        """Every batch, newest first, fetching pages of ``limit`` as it goes."""
        query: dict[str, Any] | None = {
            "limit": limit,
            "after_id": after_id,
            "before_id": before_id,
        }
        op = operation(self._client, "list")
        try:
            while query is not None:
                page = self._json(self._requests.get(BATCHES_PATH, extra_headers, query), op)
                batches = page_items(page)
                op.listed(len(batches))
                yield from batches
                query = next_page(query, page)
        except BaseException as exc:
            op.end_with(exc)
            raise
        op.finish()

    def cancel(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """Ask the API to cancel the batch (``canceling``, then ``ended``)."""
        return self._on_batch("cancel", batch, extra_headers, decode_batch)

    def delete(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> DeletedMessageBatch:
        """Delete an ended batch (the API refuses a batch still processing)."""
        return self._on_batch("delete", batch, extra_headers, deleted_batch)

    def results(
        self,
        batch: str | MessageBatch,
        *,
        extra_headers: Mapping[str, str] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> BatchResults:
        """The typed results of an ended batch, each once (see :class:`BatchResults`)."""
        batch_id = batch_id_of(batch)

        def prepare() -> MessageBatch:
            if isinstance(batch, MessageBatch) and batch.results_url is not None:
                return batch
            return self.retrieve(batch_id, extra_headers=extra_headers)

        return BatchResults(self._client, prepare, extra_headers, max_line_bytes, batch_id)

    def wait(
        self,
        batch: str | MessageBatch,
        *,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
        cancel_on_exit: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> MessageBatch:
        """Poll until the batch has ended; returns it.

        Failed polls (resets, timeouts, 5xx, 529, 429) are survived, after the
        server's ``retry-after`` or a backoff; only the batch ending,
        ``timeout``, ``expires_at`` passing or a non-retryable error end the
        wait. ``on_progress`` (a :data:`~streamsafe._batches.ProgressCallback`)
        gets a :class:`BatchProgress` after every poll. With ``cancel_on_exit``,
        leaving before the batch ended (a cancellation or Ctrl-C, an error, the
        timeout) cancels the remote batch.
        """
        batch_id = batch_id_of(batch)
        waiter = Waiter(
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            backoff=self._client._config.retry.backoff,
        )
        if isinstance(batch, MessageBatch):
            waiter.batch = batch  # progress can be reported from the first poll on
        request = self._requests.on_batch("retrieve", batch_id, extra_headers)
        op = waiter.op = operation(self._client, "wait", request, batch_id=batch_id)
        try:
            while True:
                delay: float | None
                try:
                    response = self._call(request, op, retry=False)
                    delay = waiter.after_batch(
                        decode_batch(_json_result(response)), response.headers
                    )
                except APIError as error:
                    delay = waiter.after_error(error)
                progress = waiter.progress()
                if on_progress is not None and progress is not None:
                    Notify(on_progress, progress)
                if delay is None and waiter.batch is not None:
                    op.finish(waiter.batch)
                    return waiter.batch
                Clock.sleep(delay or 0.0)
        except BaseException as exc:
            try:
                if cancel_on_exit and not (waiter.batch is not None and waiter.batch.ended):
                    self._cancel_shielded(batch_id, extra_headers)
            finally:
                op.end_with(exc)  # after the remote cancel: the wait's span covers it
            raise

    def _cancel_shielded(self, batch_id: str, extra: Mapping[str, str] | None) -> None:
        # The sync twin's Deadline does nothing (a blocking request cannot be cut
        # short): there the client's own timeouts bound the cancel instead.
        with (
            Shield(),
            Deadline(Clock.now() + CANCEL_ON_EXIT_TIMEOUT),
            contextlib.suppress(APIError),
        ):
            self.cancel(batch_id, extra_headers=extra)

    def run(
        self,
        requests: Iterable[Any],
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        cancel_on_exit: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> BatchResults:
        """Submit, wait and read the results: ``with ...run(requests) as results``.

        The requests are checked at once (nothing is sent if one is wrong);
        the batch is created when the first result is asked for. Interrupted
        while waiting, the remote batch is cancelled (``cancel_on_exit``).
        """
        request, details = self._requests.create(requests, extra_headers)

        def prepare() -> MessageBatch:
            op = operation(self._client, "create", request, **details)
            created = self._operate(op, request, decode_batch)
            return self.wait(
                created,
                timeout=timeout,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                on_progress=on_progress,
                cancel_on_exit=cancel_on_exit,
                extra_headers=extra_headers,
            )

        return BatchResults(self._client, prepare, extra_headers, max_line_bytes)

    def resubmit(
        self,
        batch: str | MessageBatch,
        requests: Iterable[Any] | Mapping[str, Any],
        *,
        which: Collection[str] = RESUBMIT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> MessageBatch | None:
        """A new batch of the items of ``batch`` worth another try, or ``None`` if none is.

        ``requests`` holds the original params (a list of ``{"custom_id",
        "params"}`` or a mapping ``custom_id -> params``: the API does not
        return them); ``which`` picks among ``"errored-retryable"``,
        ``"errored"``, ``"expired"`` and ``"canceled"``. Custom ids are kept.
        """
        chosen = check_which(which)
        with self.results(batch, extra_headers=extra_headers) as results:
            failed = [item for item in results if not isinstance(item, BatchSucceeded)]
        again = resubmission(failed, requests, chosen)
        if not again:
            return None
        return self.create(again, extra_headers=extra_headers)
