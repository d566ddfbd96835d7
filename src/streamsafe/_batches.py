"""``client.messages.batches``: the Message Batches API, async and sync.

The second road for long requests: submit many non-streaming requests, wait
through any network trouble, read every result exactly once. The decisions
live in :mod:`streamsafe._batch_core` (checks, polling, resuming a cut
download) and :mod:`streamsafe._jsonl` (the line splitter); the classes here
only do the I/O (async here, sync in :mod:`streamsafe._batches_sync`).

Each operation reports to the client's observer through a
:class:`~streamsafe.BatchOperation` (:mod:`streamsafe._observe`), which
decides how it ended; the shells only say what happened.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import anyio
import httpx

from ._batch_core import (
    RESUBMIT_DEFAULT,
    BatchProgress,
    ResultsDownload,
    Waiter,
    batch_body,
    batch_model,
    check_which,
    resubmission,
    results_path,
)
from ._batch_models import (
    BatchResult,
    BatchSucceeded,
    DeletedMessageBatch,
    MessageBatch,
    decode_batch,
)
from ._client import _aretry, _json_result
from ._errors import APIError, MalformedEventError
from ._failures import error_from_response, transport_error
from ._jsonl import DEFAULT_MAX_LINE_BYTES
from ._observe import BatchOperation, BatchOperationName

if TYPE_CHECKING:
    from ._client import AsyncClient, Client, _ClientConfig

__all__ = ["AsyncBatchResults", "AsyncBatches"]

_BATCHES = "/v1/messages/batches"
#: Seconds allowed to cancel the remote batch when a wait is interrupted.
CANCEL_ON_EXIT_TIMEOUT = 10.0
DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_MAX_POLL_INTERVAL = 60.0

ProgressCallback = Callable[[BatchProgress], object]
_T = TypeVar("_T")


def _batch_id(batch: str | MessageBatch) -> str:
    batch_id = batch.id if isinstance(batch, MessageBatch) else batch
    if not isinstance(batch_id, str) or not batch_id:
        raise ValueError(f"expected a batch id or a MessageBatch, got {batch!r}")
    return batch_id


def _path(batch_id: str, suffix: str = "") -> str:
    return f"{_BATCHES}/{quote(batch_id, safe='')}{suffix}"


class _Requests:
    """The HTTP requests of the batch endpoints (no I/O), for both shells."""

    def __init__(self, config: _ClientConfig) -> None:
        self.config = config

    def create(
        self, requests: Iterable[Any], extra: Mapping[str, str] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The request, and what its operation says of it (model, number of requests)."""
        body = batch_body(requests)
        request = self.config.json_request(_BATCHES, body, extra)
        return request, {"model": batch_model(body), "requests": len(body["requests"])}

    def get(
        self, path: str, extra: Mapping[str, str] | None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        request: dict[str, Any] = {
            "method": "GET",
            "url": self.config.url(path),
            "headers": self.config.headers(extra),
        }
        if query:
            request["params"] = query
        return request

    def post(self, path: str, extra: Mapping[str, str] | None) -> dict[str, Any]:
        return {
            "method": "POST",
            "url": self.config.url(path),
            "headers": self.config.headers(extra),
        }

    def delete(self, path: str, extra: Mapping[str, str] | None) -> dict[str, Any]:
        return {
            "method": "DELETE",
            "url": self.config.url(path),
            "headers": self.config.headers(extra),
        }

    def results(
        self, path: str, download: ResultsDownload, extra: Mapping[str, str] | None
    ) -> dict[str, Any]:
        headers = {**(extra or {}), **download.request_headers()}
        return {
            "method": "GET",
            "url": self.config.url(path),
            "headers": self.config.headers(headers),
        }


def _operation(
    client: AsyncClient | Client,
    name: BatchOperationName,
    request: dict[str, Any] | None = None,
    **details: Any,
) -> BatchOperation:
    """A new operation told to the client's observer (``request``: its first request)."""
    url = request["url"] if request is not None else client._config.url(_BATCHES)
    return BatchOperation(client._observer, name, url=str(url), **details)


def _results_started(results: object, op: BatchOperation) -> BatchOperation:
    """A results reader began: if it is dropped unclosed, its operation ends then."""
    weakref.finalize(results, op.collected).atexit = False
    return op


def _deleted(data: Any) -> DeletedMessageBatch:
    return DeletedMessageBatch(id=str(data.get("id", "")), type=str(data.get("type", "")))


def _next_page(query: dict[str, Any], page: Any) -> dict[str, Any] | None:
    """The query of the page after ``page`` (``None`` after the last)."""
    if not isinstance(page, dict) or not page.get("has_more"):
        return None
    backwards = query.get("before_id") is not None
    cursor = page.get("first_id") if backwards else page.get("last_id")
    if not isinstance(cursor, str):
        return None
    key, other = ("before_id", "after_id") if backwards else ("after_id", "before_id")
    return {**query, key: cursor, other: None}


def _page_items(page: Any) -> list[MessageBatch]:
    data = page.get("data") if isinstance(page, dict) else None
    if not isinstance(data, list):
        raise MalformedEventError(f"a page of batches has no 'data' list: {str(page)[:200]}")
    return [decode_batch(item) for item in data]


def _checked(response: httpx.Response) -> httpx.Response:
    if not response.is_success:
        raise error_from_response(response)
    return response


# ---------------------------------------------------------------------------
# async
# ---------------------------------------------------------------------------


class AsyncBatchResults:
    """The results of a batch: ``async with ... as results: async for item in results``.

    Each item is a :data:`~streamsafe.BatchResult`, delivered exactly once,
    even when the download is cut (it resumes). The response is closed when
    the rows run out, on any error, and on leaving the ``async with`` block
    (leave early only through it, or call :meth:`aclose`). ``batch`` is the
    batch the results belong to, known once the first row is asked for.
    """

    def __init__(
        self,
        client: AsyncClient,
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

    async def __aenter__(self) -> AsyncBatchResults:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

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
                op = self._op = _results_started(
                    self, _operation(self._client, "results", batch_id=self._batch_id)
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
            await anyio.sleep(download.after_cut(error))
            return
        self._ready.extend(download.feed(chunk))

    async def _open(self, download: ResultsDownload, op: BatchOperation) -> None:
        request = _Requests(self._client._config).results(self._path, download, self._extra)
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
    """``client.messages.batches`` of an :class:`~streamsafe.AsyncClient`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._requests = _Requests(client._config)

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
            return _checked(response)

        if not retry:
            return await attempt()
        return await _aretry(
            self._client._config, f"{request['method']} {request['url'].path}", attempt, op
        )

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

    async def create(
        self, requests: Iterable[Any], *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """Submit a batch of ``{"custom_id", "params"}`` requests (checked locally first)."""
        request, details = self._requests.create(requests, extra_headers)
        op = _operation(self._client, "create", request, **details)
        return await self._operate(op, request, decode_batch)

    async def retrieve(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """The batch's current state."""
        batch_id = _batch_id(batch)
        request = self._requests.get(_path(batch_id), extra_headers)
        op = _operation(self._client, "retrieve", request, batch_id=batch_id)
        return await self._operate(op, request, decode_batch)

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
        op = _operation(self._client, "list")
        try:
            while query is not None:
                page = await self._json(self._requests.get(_BATCHES, extra_headers, query), op)
                batches = _page_items(page)
                op.listed(len(batches))
                for batch in batches:
                    yield batch
                query = _next_page(query, page)
        except BaseException as exc:
            op.end_with(exc)
            raise
        op.finish()

    async def cancel(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """Ask the API to cancel the batch (``canceling``, then ``ended``)."""
        batch_id = _batch_id(batch)
        request = self._requests.post(_path(batch_id, "/cancel"), extra_headers)
        op = _operation(self._client, "cancel", request, batch_id=batch_id)
        return await self._operate(op, request, decode_batch)

    async def delete(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> DeletedMessageBatch:
        """Delete an ended batch (the API refuses a batch still processing)."""
        batch_id = _batch_id(batch)
        request = self._requests.delete(_path(batch_id), extra_headers)
        op = _operation(self._client, "delete", request, batch_id=batch_id)
        return await self._operate(op, request, _deleted)

    def results(
        self,
        batch: str | MessageBatch,
        *,
        extra_headers: Mapping[str, str] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> AsyncBatchResults:
        """The typed results of an ended batch, each once (see :class:`AsyncBatchResults`)."""
        batch_id = _batch_id(batch)

        async def prepare() -> MessageBatch:
            if isinstance(batch, MessageBatch) and batch.results_url is not None:
                return batch
            return await self.retrieve(batch_id, extra_headers=extra_headers)

        return AsyncBatchResults(self._client, prepare, extra_headers, max_line_bytes, batch_id)

    async def wait(
        self,
        batch: str | MessageBatch,
        *,
        # Not anyio.fail_after: running out raises BatchWaitTimeoutError with
        # the last state seen, and cancels the batch with cancel_on_exit.
        timeout: float | None = None,  # noqa: ASYNC109
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
        wait. ``on_progress`` gets a :class:`BatchProgress` after every poll
        (it may be a coroutine function). With ``cancel_on_exit``, leaving
        before the batch ended (cancellation, an error, the timeout) cancels
        the remote batch.
        """
        batch_id = _batch_id(batch)
        waiter = Waiter(
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            backoff=self._client._config.retry.backoff,
        )
        if isinstance(batch, MessageBatch):
            waiter.batch = batch  # progress can be reported from the first poll on
        request = self._requests.get(_path(batch_id), extra_headers)
        op = waiter.op = _operation(self._client, "wait", request, batch_id=batch_id)
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
                    reported = on_progress(progress)
                    if inspect.isawaitable(reported):
                        await reported
                if delay is None and waiter.batch is not None:
                    op.finish(waiter.batch)
                    return waiter.batch
                await anyio.sleep(delay or 0.0)
        except BaseException as exc:
            try:
                if cancel_on_exit and not (waiter.batch is not None and waiter.batch.ended):
                    await self._cancel_shielded(batch_id, extra_headers)
            finally:
                op.end_with(exc)  # after the remote cancel: the wait's span covers it
            raise

    async def _cancel_shielded(self, batch_id: str, extra: Mapping[str, str] | None) -> None:
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(CANCEL_ON_EXIT_TIMEOUT),
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
            op = _operation(self._client, "create", request, **details)
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
