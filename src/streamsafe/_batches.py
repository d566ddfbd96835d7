"""The batch endpoints without I/O: what both ``client.messages.batches`` shells share.

The requests they send (:class:`BatchRequests`), how they read a page, a
deleted batch or a failed response, and the :class:`~streamsafe.BatchOperation`
each operation reports to the client's observer (:mod:`streamsafe._observe`
decides how it ended; the shells only say what happened). The shells, which do
the I/O, are ``_async/batches.py`` (written once) and ``_sync/batches.py``
(generated); the decisions (checks, polling, resuming a cut download) are in
:mod:`streamsafe._batch_core` and the line splitter in :mod:`streamsafe._jsonl`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx

from ._batch_core import BatchProgress, ResultsDownload, batch_body, batch_model
from ._batch_models import DeletedMessageBatch, MessageBatch, decode_batch
from ._errors import MalformedEventError
from ._failures import error_from_response
from ._observe import BatchOperation, BatchOperationName

if TYPE_CHECKING:
    from ._client import _BaseClient, _ClientConfig

__all__ = [
    "BATCHES_PATH",
    "CANCEL_ON_EXIT_TIMEOUT",
    "DEFAULT_MAX_POLL_INTERVAL",
    "DEFAULT_POLL_INTERVAL",
    "BatchRequests",
    "OneBatchOperation",
    "ProgressCallback",
    "batch_id_of",
    "batch_path",
    "checked",
    "deleted_batch",
    "next_page",
    "operation",
    "page_items",
    "results_started",
]

BATCHES_PATH = "/v1/messages/batches"
#: Seconds allowed to cancel the remote batch when a wait is interrupted.
CANCEL_ON_EXIT_TIMEOUT = 10.0
DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_MAX_POLL_INTERVAL = 60.0

#: The operations on one batch that are one request each.
OneBatchOperation = Literal["retrieve", "cancel", "delete"]
#: Their requests: the method, and what follows the batch's path.
_ON_BATCH: dict[OneBatchOperation, tuple[str, str]] = {
    "retrieve": ("GET", ""),
    "cancel": ("POST", "/cancel"),
    "delete": ("DELETE", ""),
}

#: ``on_progress`` of ``wait`` and ``run`` (the async API also awaits what it returns).
ProgressCallback = Callable[[BatchProgress], object]


def batch_id_of(batch: str | MessageBatch) -> str:
    """The id of ``batch`` (an id or a :class:`MessageBatch`), refusing an empty one."""
    batch_id = batch.id if isinstance(batch, MessageBatch) else batch
    if not isinstance(batch_id, str) or not batch_id:
        raise ValueError(f"expected a batch id or a MessageBatch, got {batch!r}")
    return batch_id


def batch_path(batch_id: str, suffix: str = "") -> str:
    """The endpoint path of a batch (``suffix``: ``"/cancel"`` and the like)."""
    return f"{BATCHES_PATH}/{quote(batch_id, safe='')}{suffix}"


class BatchRequests:
    """The HTTP requests of the batch endpoints (no I/O), for both shells."""

    def __init__(self, config: _ClientConfig) -> None:
        self.config = config

    def create(
        self, requests: Iterable[Any], extra: Mapping[str, str] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The request, and what its operation says of it (model, number of requests)."""
        body = batch_body(requests)
        request = self.config.json_request(BATCHES_PATH, body, extra)
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

    def on_batch(
        self, name: OneBatchOperation, batch_id: str, extra: Mapping[str, str] | None
    ) -> dict[str, Any]:
        """The request of operation ``name`` on one batch (``wait`` polls with ``retrieve``'s)."""
        method, suffix = _ON_BATCH[name]
        return {
            "method": method,
            "url": self.config.url(batch_path(batch_id, suffix)),
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


def operation(
    client: _BaseClient[Any],
    name: BatchOperationName,
    request: dict[str, Any] | None = None,
    **details: Any,
) -> BatchOperation:
    """A new operation told to the client's observer (``request``: its first request)."""
    url = request["url"] if request is not None else client._config.url(BATCHES_PATH)
    return BatchOperation(client._observer, name, url=str(url), **details)


def results_started(results: object, op: BatchOperation) -> BatchOperation:
    """A results reader began: if it is dropped unclosed, its operation ends then."""
    weakref.finalize(results, op.collected).atexit = False
    return op


def deleted_batch(data: Any) -> DeletedMessageBatch:
    """The answer of ``DELETE`` as a :class:`DeletedMessageBatch`."""
    return DeletedMessageBatch(id=str(data.get("id", "")), type=str(data.get("type", "")))


def next_page(query: dict[str, Any], page: Any) -> dict[str, Any] | None:
    """The query of the page after ``page`` (``None`` after the last)."""
    if not isinstance(page, dict) or not page.get("has_more"):
        return None
    backwards = query.get("before_id") is not None
    cursor = page.get("first_id") if backwards else page.get("last_id")
    if not isinstance(cursor, str):
        return None
    key, other = ("before_id", "after_id") if backwards else ("after_id", "before_id")
    return {**query, key: cursor, other: None}


def page_items(page: Any) -> list[MessageBatch]:
    """The batches of a page of ``GET /v1/messages/batches``."""
    data = page.get("data") if isinstance(page, dict) else None
    if not isinstance(data, list):
        raise MalformedEventError(f"a page of batches has no 'data' list: {str(page)[:200]}")
    return [decode_batch(item) for item in data]


def checked(response: httpx.Response) -> httpx.Response:
    """``response`` if it succeeded; else the typed error it stands for, raised."""
    if not response.is_success:
        raise error_from_response(response)
    return response
