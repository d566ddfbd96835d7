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
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
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
from .._twins import AsyncClock, AsyncDeadline, AsyncNotify, AsyncShield
from .closable import AsyncClosable
from .retry import arun_with_retries

__all__ = ["AsyncBatchResults", "AsyncBatches"]

_T = TypeVar("_T")


class AsyncBatchResults(AsyncClosable):
    """The results of a batch: ``async with ... as results: async for item in results``.

    Each item is a :data:`~streamsafe.BatchResult`, delivered exactly once,
    even when the download is cut (it resumes). The response is closed when
    the rows run out, on any error, and on leaving the ``async with`` block
    (leave early only through it, or call :meth:`aclose`). ``batch`` is the
    batch the results belong to, known once the first row is asked for.
    """

    def __init__(
        self,
        client: _BaseClient[httpx.AsyncClient],
        prepare: Callable[[], Awaitable[MessageBatch]],
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
        self._chunks: AsyncIterator[bytes] | None = None
        self._ready: deque[BatchResult] = deque()
        self._finished = False

    @property
    def resumes(self) -> int:
        """How many times the download was resumed after a cut."""
        return self._download.resumes if self._download is not None else 0

    async def aclose(self) -> None:
        self._finished = True
        if self._op is not None:
            self._op.closed(complete=self._complete and not self._ready)
        await self._drop_response()

    def __aiter__(self) -> AsyncBatchResults:
        return self

    async def __anext__(self) -> BatchResult:
        while not self._ready:
            if self._finished:
                if self._op is not None:
                    self._op.closed(complete=self._complete)
                raise StopAsyncIteration
            op = self._op
            if op is None:
                op = self._op = results_started(
                    self, operation(self._client, "results", batch_id=self._batch_id)
                )
            try:
                await self._step(op)
            except BaseException as exc:
                op.end_with(exc)
                await self.aclose()
                raise
        return self._ready.popleft()

    async def _step(self, op: BatchOperation) -> None:
        download = self._download
        if download is None:
            self.batch = await self._prepare()
            op.seen(self.batch)
            self._path = results_path(self.batch, self._client._config.base_url)
            self._download = ResultsDownload(
                self._client._config.retry, max_line_bytes=self._max_line_bytes, op=op
            )
            return
        try:
            if self._chunks is None:
                await self._open(download, op)
                return
            try:
                chunk = await self._chunks.__anext__()
            except httpx.HTTPError as exc:
                raise transport_error(exc, self._request_id()) from exc
        except StopAsyncIteration:
            self._ready.extend(download.finish())
            self._complete = self._finished = True
            await self._drop_response()
            return
        except APIError as error:
            await self._drop_response()
            await AsyncClock.sleep(download.after_cut(error))
            return
        self._ready.extend(download.feed(chunk))

    async def _open(self, download: ResultsDownload, op: BatchOperation) -> None:
        request = BatchRequests(self._client._config).results(self._path, download, self._extra)
        http = self._client._http
        op.sent()
        try:
            response = await http.send(http.build_request(**request), stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(exc, None) from exc
        op.on_response(response)
        self._response = response
        if response.status_code == 416 and download.reader.offset:
            raise StopAsyncIteration  # the cut came after the last byte
        if not response.is_success:
            await response.aread()
            raise error_from_response(response)
        download.start(response)
        self._chunks = response.aiter_bytes()

    async def _drop_response(self) -> None:
        response, self._response, self._chunks = self._response, None, None
        if response is not None:
            await response.aclose()

    def _request_id(self) -> str | None:
        return self._response.headers.get("request-id") if self._response is not None else None


class AsyncBatches:
    """``client.messages.batches`` (``client``: a :class:`~streamsafe.AsyncClient`)."""

    def __init__(self, client: _BaseClient[httpx.AsyncClient]) -> None:
        self._client = client
        self._requests = BatchRequests(client._config)

    async def _call(
        self, request: dict[str, Any], op: BatchOperation, *, retry: bool = True
    ) -> httpx.Response:
        async def attempt() -> httpx.Response:
            op.sent()
            try:
                response = await self._client._http.request(**request)
            except httpx.HTTPError as exc:
                raise transport_error(exc, None) from exc
            op.on_response(response)
            return checked(response)

        if not retry:
            return await attempt()
        what = f"{request['method']} {request['url'].path}"
        return await arun_with_retries(self._client._config.retry, what, attempt, op)

    async def _json(self, request: dict[str, Any], op: BatchOperation) -> Any:
        return _json_result(await self._call(request, op))

    async def _operate(
        self, op: BatchOperation, request: dict[str, Any], decode: Callable[[Any], _T]
    ) -> _T:
        """One request (retried) as the whole operation ``op``, which ends once."""
        try:
            result = decode(await self._json(request, op))
        except BaseException as exc:
            op.end_with(exc)
            raise
        op.finish(result if isinstance(result, MessageBatch) else None)
        return result

    async def _on_batch(
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
        return await self._operate(op, request, decode)

    async def create(
        self, requests: Iterable[Any], *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """Submit a batch of ``{"custom_id", "params"}`` requests (checked locally first)."""
        request, details = self._requests.create(requests, extra_headers)
        op = operation(self._client, "create", request, **details)
        return await self._operate(op, request, decode_batch)

    async def retrieve(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """The batch's current state."""
        return await self._on_batch("retrieve", batch, extra_headers, decode_batch)

    async def list(
        self,
        *,
        limit: int | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[MessageBatch]:
        """Every batch, newest first, fetching pages of ``limit`` as it goes."""
        query: dict[str, Any] | None = {
            "limit": limit,
            "after_id": after_id,
            "before_id": before_id,
        }
        op = operation(self._client, "list")
        try:
            while query is not None:
                page = await self._json(self._requests.get(BATCHES_PATH, extra_headers, query), op)
                batches = page_items(page)
                op.listed(len(batches))
                for batch in batches:
                    yield batch
                query = next_page(query, page)
        except BaseException as exc:
            op.end_with(exc)
            raise
        op.finish()

    async def cancel(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """Ask the API to cancel the batch (``canceling``, then ``ended``)."""
        return await self._on_batch("cancel", batch, extra_headers, decode_batch)

    async def delete(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> DeletedMessageBatch:
        """Delete an ended batch (the API refuses a batch still processing)."""
        return await self._on_batch("delete", batch, extra_headers, deleted_batch)

    def results(
        self,
        batch: str | MessageBatch,
        *,
        extra_headers: Mapping[str, str] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> AsyncBatchResults:
        """The typed results of an ended batch, each once (see :class:`AsyncBatchResults`)."""
        batch_id = batch_id_of(batch)

        async def prepare() -> MessageBatch:
            if isinstance(batch, MessageBatch) and batch.results_url is not None:
                return batch
            return await self.retrieve(batch_id, extra_headers=extra_headers)

        return AsyncBatchResults(self._client, prepare, extra_headers, max_line_bytes, batch_id)

    async def wait(
        self,
        batch: str | MessageBatch,
        *,
        # unasync: begin async only
        # Not anyio.fail_after: running out raises BatchWaitTimeoutError with
        # the last state seen, and cancels the batch with cancel_on_exit.
        # unasync: end async only
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
                    response = await self._call(request, op, retry=False)
                    delay = waiter.after_batch(
                        decode_batch(_json_result(response)), response.headers
                    )
                except APIError as error:
                    delay = waiter.after_error(error)
                progress = waiter.progress()
                if on_progress is not None and progress is not None:
                    await AsyncNotify(on_progress, progress)
                if delay is None and waiter.batch is not None:
                    op.finish(waiter.batch)
                    return waiter.batch
                await AsyncClock.sleep(delay or 0.0)
        except BaseException as exc:
            try:
                if cancel_on_exit and not (waiter.batch is not None and waiter.batch.ended):
                    await self._cancel_shielded(batch_id, extra_headers)
            finally:
                op.end_with(exc)  # after the remote cancel: the wait's span covers it
            raise

    async def _cancel_shielded(self, batch_id: str, extra: Mapping[str, str] | None) -> None:
        # The sync twin's Deadline does nothing (a blocking request cannot be cut
        # short): there the client's own timeouts bound the cancel instead.
        with (
            AsyncShield(),
            AsyncDeadline(AsyncClock.now() + CANCEL_ON_EXIT_TIMEOUT),
            contextlib.suppress(APIError),
        ):
            await self.cancel(batch_id, extra_headers=extra)

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
    ) -> AsyncBatchResults:
        """Submit, wait and read the results: ``async with ...run(requests) as results``.

        The requests are checked at once (nothing is sent if one is wrong);
        the batch is created when the first result is asked for. Interrupted
        while waiting, the remote batch is cancelled (``cancel_on_exit``).
        """
        request, details = self._requests.create(requests, extra_headers)

        async def prepare() -> MessageBatch:
            op = operation(self._client, "create", request, **details)
            created = await self._operate(op, request, decode_batch)
            return await self.wait(
                created,
                timeout=timeout,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                on_progress=on_progress,
                cancel_on_exit=cancel_on_exit,
                extra_headers=extra_headers,
            )

        return AsyncBatchResults(self._client, prepare, extra_headers, max_line_bytes)

    async def resubmit(
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
        async with self.results(batch, extra_headers=extra_headers) as results:
            failed = [item async for item in results if not isinstance(item, BatchSucceeded)]
        again = resubmission(failed, requests, chosen)
        if not again:
            return None
        return await self.create(again, extra_headers=extra_headers)
