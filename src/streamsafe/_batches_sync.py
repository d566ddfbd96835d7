"""The sync twin of :mod:`streamsafe._batches`: ``client.messages.batches`` of a ``Client``.

The same decisions (:mod:`streamsafe._batch_core`), the same requests and
checks (``_Requests``); only the I/O differs.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ._batch_core import (
    RESUBMIT_DEFAULT,
    ResultsDownload,
    Waiter,
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
from ._batches import (
    _BATCHES,
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    ProgressCallback,
    _batch_id,
    _checked,
    _deleted,
    _next_page,
    _operation,
    _page_items,
    _path,
    _Requests,
    _results_started,
)
from ._client import _json_result, _retry
from ._errors import APIError
from ._failures import error_from_response, transport_error
from ._jsonl import DEFAULT_MAX_LINE_BYTES
from ._observe import BatchOperation

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["BatchResults", "Batches"]

_T = TypeVar("_T")


class BatchResults:
    """Sync twin of :class:`AsyncBatchResults`: ``with ... as results: for item in results``."""

    def __init__(
        self,
        client: Client,
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
        return self._download.resumes if self._download is not None else 0

    def __enter__(self) -> BatchResults:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
                op = self._op = _results_started(
                    self, _operation(self._client, "results", batch_id=self._batch_id)
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
            _sleep(download.after_cut(error))
            return
        self._ready.extend(download.feed(chunk))

    def _open(self, download: ResultsDownload, op: BatchOperation) -> None:
        request = _Requests(self._client._config).results(self._path, download, self._extra)
        http = self._client._http
        op.sent()
        try:
            response = http.send(http.build_request(**request), stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(exc, None) from exc
        op.on_response(response)
        self._response = response
        if response.status_code == 416 and download.reader.offset:
            raise StopIteration
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


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class Batches:
    """``client.messages.batches`` of a :class:`~streamsafe.Client` (see :class:`AsyncBatches`)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._requests = _Requests(client._config)

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
            return _checked(response)

        if not retry:
            return attempt()
        what = f"{request['method']} {request['url'].path}"
        return _retry(self._client._config, what, attempt, op)

    def _json(self, request: dict[str, Any], op: BatchOperation) -> Any:
        return _json_result(self._call(request, op))

    def _operate(
        self, op: BatchOperation, request: dict[str, Any], decode: Callable[[Any], _T]
    ) -> _T:
        """See :meth:`AsyncBatches._operate`."""
        try:
            result = decode(self._json(request, op))
        except BaseException as exc:
            op.end_with(exc)
            raise
        op.finish(result if isinstance(result, MessageBatch) else None)
        return result

    def create(
        self, requests: Iterable[Any], *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        """Submit a batch; see :meth:`AsyncBatches.create`."""
        request, details = self._requests.create(requests, extra_headers)
        op = _operation(self._client, "create", request, **details)
        return self._operate(op, request, decode_batch)

    def retrieve(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        batch_id = _batch_id(batch)
        request = self._requests.get(_path(batch_id), extra_headers)
        op = _operation(self._client, "retrieve", request, batch_id=batch_id)
        return self._operate(op, request, decode_batch)

    def list(
        self,
        *,
        limit: int | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Iterator[MessageBatch]:
        """Every batch, newest first, page by page."""
        query: dict[str, Any] | None = {
            "limit": limit,
            "after_id": after_id,
            "before_id": before_id,
        }
        op = _operation(self._client, "list")
        try:
            while query is not None:
                page = self._json(self._requests.get(_BATCHES, extra_headers, query), op)
                batches = _page_items(page)
                op.listed(len(batches))
                yield from batches
                query = _next_page(query, page)
        except BaseException as exc:
            op.end_with(exc)
            raise
        op.finish()

    def cancel(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> MessageBatch:
        batch_id = _batch_id(batch)
        request = self._requests.post(_path(batch_id, "/cancel"), extra_headers)
        op = _operation(self._client, "cancel", request, batch_id=batch_id)
        return self._operate(op, request, decode_batch)

    def delete(
        self, batch: str | MessageBatch, *, extra_headers: Mapping[str, str] | None = None
    ) -> DeletedMessageBatch:
        batch_id = _batch_id(batch)
        request = self._requests.delete(_path(batch_id), extra_headers)
        op = _operation(self._client, "delete", request, batch_id=batch_id)
        return self._operate(op, request, _deleted)

    def results(
        self,
        batch: str | MessageBatch,
        *,
        extra_headers: Mapping[str, str] | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> BatchResults:
        batch_id = _batch_id(batch)

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
        """Poll until the batch has ended; see :meth:`AsyncBatches.wait` (Ctrl-C cancels
        the remote batch with ``cancel_on_exit``)."""
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
                    response = self._call(request, op, retry=False)
                    delay = waiter.after_batch(
                        decode_batch(_json_result(response)), response.headers
                    )
                except APIError as error:
                    delay = waiter.after_error(error)
                progress = waiter.progress()
                if on_progress is not None and progress is not None:
                    on_progress(progress)
                if delay is None and waiter.batch is not None:
                    op.finish(waiter.batch)
                    return waiter.batch
                _sleep(delay or 0.0)
        except BaseException as exc:
            try:
                if cancel_on_exit and not (waiter.batch is not None and waiter.batch.ended):
                    with contextlib.suppress(APIError):
                        self.cancel(batch_id, extra_headers=extra_headers)
            finally:
                op.end_with(exc)
            raise

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
        """Submit, wait and read the results; see :meth:`AsyncBatches.run`."""
        request, details = self._requests.create(requests, extra_headers)

        def prepare() -> MessageBatch:
            op = _operation(self._client, "create", request, **details)
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
        """See :meth:`AsyncBatches.resubmit`."""
        chosen = check_which(which)
        with self.results(batch, extra_headers=extra_headers) as results:
            failed = [item for item in results if not isinstance(item, BatchSucceeded)]
        again = resubmission(failed, requests, chosen)
        if not again:
            return None
        return self.create(again, extra_headers=extra_headers)
