"""Message Batches: the batch object, typed results, and the decoding of result rows.

Sans-IO. A result row (one JSON line of the results file) becomes one of
:class:`BatchSucceeded` (with its :class:`~streamsafe.Message`),
:class:`BatchErrored` (with the typed exception a live call would have
raised: the same :func:`~streamsafe.status_error_class` mapping, so an
``overloaded_error`` row carries an :class:`~streamsafe.OverloadedError`),
:class:`BatchCanceled`, :class:`BatchExpired`, or, for a result type this
version does not know, :class:`BatchOtherResult` with the raw row.

Rows decode in one strict msgspec pass; a row the strict pass refuses (an
unknown field or block type in the message, a new result type) is decoded
again field by field, keeping what is new, as stream events are.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import msgspec

from ._decode import message_from_dict
from ._errors import APIStatusError, MalformedEventError
from ._events import Message
from ._failures import error_from_payload

__all__ = [
    "BatchCanceled",
    "BatchErrored",
    "BatchExpired",
    "BatchOtherResult",
    "BatchResult",
    "BatchSucceeded",
    "DeletedMessageBatch",
    "MessageBatch",
    "MessageBatchRequestCounts",
    "decode_batch",
    "decode_result_row",
]


class MessageBatchRequestCounts(msgspec.Struct, kw_only=True):
    """How many requests are in each state (final only once the batch has ended)."""

    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired

    @property
    def done(self) -> int:
        """Requests no longer processing."""
        return self.total - self.processing


class MessageBatch(msgspec.Struct, kw_only=True):
    """A Message Batch as the API describes it (``GET /v1/messages/batches/{id}``)."""

    id: str
    type: str = "message_batch"
    processing_status: str
    request_counts: MessageBatchRequestCounts = msgspec.field(
        default_factory=MessageBatchRequestCounts
    )
    created_at: datetime.datetime
    expires_at: datetime.datetime
    ended_at: datetime.datetime | None = None
    cancel_initiated_at: datetime.datetime | None = None
    archived_at: datetime.datetime | None = None
    results_url: str | None = None

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


class DeletedMessageBatch(msgspec.Struct, kw_only=True):
    """The answer to ``DELETE /v1/messages/batches/{id}``."""

    id: str
    type: str = "message_batch_deleted"


@dataclass(frozen=True, slots=True)
class BatchSucceeded:
    """A request of the batch that produced a message."""

    custom_id: str
    message: Message
    type: Literal["succeeded"] = "succeeded"


@dataclass(frozen=True, slots=True)
class BatchErrored:
    """A request of the batch that failed; ``error`` is the typed exception.

    ``error`` is the class a live call with the same error would raise, with
    ``custom_id``, ``request_id``, ``retryable``, ``error_type`` and
    ``error_code`` set. ``raise error`` to treat it as the live call would.
    """

    custom_id: str
    error: APIStatusError
    type: Literal["errored"] = "errored"

    @property
    def retryable(self) -> bool:
        return self.error.retryable


@dataclass(frozen=True, slots=True)
class BatchCanceled:
    """A request the batch's cancellation stopped before it ran."""

    custom_id: str
    type: Literal["canceled"] = "canceled"


@dataclass(frozen=True, slots=True)
class BatchExpired:
    """A request the batch did not reach before ``expires_at`` (24 h)."""

    custom_id: str
    type: Literal["expired"] = "expired"


@dataclass(frozen=True, slots=True)
class BatchOtherResult:
    """A result type this version of streamsafe does not know (kept verbatim)."""

    custom_id: str
    type: str
    raw: dict[str, Any] = field(default_factory=dict)


BatchResult: TypeAlias = (
    BatchSucceeded | BatchErrored | BatchCanceled | BatchExpired | BatchOtherResult
)


# -- the wire ----------------------------------------------------------------------


class _Succeeded(msgspec.Struct, tag="succeeded", tag_field="type"):
    message: Message


class _Errored(msgspec.Struct, tag="errored", tag_field="type"):
    error: dict[str, Any]


class _Canceled(msgspec.Struct, tag="canceled", tag_field="type"):
    pass


class _Expired(msgspec.Struct, tag="expired", tag_field="type"):
    pass


class _Row(msgspec.Struct):
    custom_id: str
    result: _Succeeded | _Errored | _Canceled | _Expired


_row_decoder = msgspec.json.Decoder(_Row)
_any_decoder = msgspec.json.Decoder()


def _clip(line: bytes, limit: int = 200) -> str:
    text = line[:limit].decode("utf-8", "replace")
    return text + ("…" if len(line) > limit else "")


def errored_result(custom_id: str, payload: object) -> BatchErrored:
    """An ``errored`` row's error through the one mapping, as a live call would raise it."""
    # The error arrived inside a 2xx body (the results file), like an in-stream
    # error: its class and status_code come from error.type / error_code.
    error = error_from_payload(payload, http_status=200, in_stream=True)
    error.custom_id = custom_id
    error.message = f"{error.message} [custom_id={custom_id}]"
    return BatchErrored(custom_id, error)


def _from_wire(row: _Row) -> BatchResult:
    result = row.result
    if isinstance(result, _Succeeded):
        return BatchSucceeded(row.custom_id, result.message)
    if isinstance(result, _Errored):
        return errored_result(row.custom_id, result.error)
    if isinstance(result, _Canceled):
        return BatchCanceled(row.custom_id)
    return BatchExpired(row.custom_id)


def decode_result_row(line: bytes) -> BatchResult:
    """One line of a results file as a typed result (raises MalformedEventError)."""
    try:
        return _from_wire(_row_decoder.decode(line))
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise MalformedEventError(
            f"a batch result line is not JSON ({exc}): {_clip(line)}"
        ) from None
    raw = _any_decoder.decode(line)
    custom_id = raw.get("custom_id") if isinstance(raw, dict) else None
    result = raw.get("result") if isinstance(raw, dict) else None
    if not isinstance(custom_id, str) or not isinstance(result, dict):
        raise MalformedEventError(f"a batch result line has the wrong shape: {_clip(line)}")
    kind = result.get("type")
    if kind == "succeeded" and isinstance(result.get("message"), dict):
        return BatchSucceeded(custom_id, message_from_dict(result["message"]))
    if kind == "errored":
        return errored_result(custom_id, result.get("error"))
    if kind == "canceled":
        return BatchCanceled(custom_id)
    if kind == "expired":
        return BatchExpired(custom_id)
    return BatchOtherResult(custom_id, str(kind), result)


def decode_batch(data: Any) -> MessageBatch:
    """A batch object from its parsed JSON."""
    try:
        return msgspec.convert(data, MessageBatch, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedEventError(f"the batch object has the wrong shape: {exc}") from None
