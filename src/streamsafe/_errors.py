"""The exception tree, and the one mapping from an API error to its class.

Every exception streamsafe raises derives from :class:`StreamsafeError`
(alias ``AnthropicError``, the official SDK's name); all of them are public in
:mod:`streamsafe.errors`::

    StreamsafeError
    ├── APIError                      anything that went wrong talking to the API
    │   ├── APIStatusError            the API said no: an HTTP error status OR an
    │   │   │                         in-stream ``event: error`` after a 200
    │   │   ├── BadRequestError                   400  invalid_request_error
    │   │   ├── AuthenticationError               401  authentication_error
    │   │   ├── PaymentRequiredError              402  billing_error  (alias BillingError)
    │   │   ├── PermissionDeniedError             403  permission_error
    │   │   ├── NotFoundError                     404  not_found_error
    │   │   ├── RequestTimeoutError               408
    │   │   ├── ConflictError                     409  conflict_error
    │   │   ├── PreconditionFailedError           412
    │   │   ├── ContentTooLargeError              413  request_too_large
    │   │   │                                          (alias RequestTooLargeError)
    │   │   ├── UnprocessableEntityError          422
    │   │   ├── RateLimitError                    429  rate_limit_error
    │   │   ├── RequestHeaderFieldsTooLargeError  431
    │   │   ├── ClientClosedRequestError          499
    │   │   └── InternalServerError               500 and unlisted 5xx, api_error
    │   │       ├── HTTPNotImplementedError       501
    │   │       ├── ServiceUnavailableError       503
    │   │       ├── GatewayTimeoutError           504  timeout_error
    │   │       │                                      (alias DeadlineExceededError)
    │   │       └── OverloadedError               529  overloaded_error
    │   ├── APIConnectionError        the bytes stopped: reset, refused, cut short
    │   │   ├── APITimeoutError       connect / read timeout
    │   │   │   └── StreamIdleTimeoutError   no content event within stream_idle_timeout
    │   │   └── IncompleteStreamError        the stream ended before ``message_stop``
    │   └── StreamProtocolError       the bytes arrived but make no sense
    │       ├── MalformedEventError   bad JSON, wrong shape, a delta for a block never started
    │       ├── EventTooLargeError    an SSE line or event over ``max_event_bytes``
    │       ├── UnexpectedContentTypeError   a 2xx that is not ``text/event-stream``
    │       │                                (also an ``httpx_sse.SSEError``)
    │       └── LineTooLargeError     a JSON line of batch results over ``max_line_bytes``
    ├── BatchRequestError             a batch refused locally, nothing sent (also a ValueError)
    └── BatchWaitTimeoutError         a batch did not end in time (also a TimeoutError)

Below the status classes sit about 140 error-code classes, defined in
:mod:`streamsafe._error_codes`: one per ``(status, error.details.error_code)``
the official SDK knows, each a subclass of its status class
(``RampLimitExceededError(RateLimitError)`` for 429 ``ramp_limit_exceeded``,
``CompactionUnavailableError(OverloadedError)`` for 529
``compaction_unavailable``). Names, statuses and bases follow the official
Python SDK (2.15), so migrating code only changes the module name.

The class of an API error is decided by :func:`status_error_class`, and by
nothing else: the HTTP path (a non-2xx response) and the in-stream path (an
``event: error`` after a 200) both call it, so an ``overloaded_error`` raises
:class:`OverloadedError` whether it came as a 529 or mid-stream, and a
``rate_limit_error`` with the code ``ramp_limit_exceeded`` raises
``RampLimitExceededError`` both ways. Every status error carries
``error_code``, ``details``, ``request_id``, ``aws_request_id`` and
``workspace_id`` besides its status and type.

An ``errored`` row of Message Batch results raises (or carries) the class a
live call with the same error would raise, through the same mapping, with
the row's ``custom_id`` and ``request_id`` attached.

Every exception that interrupts a message stream carries what was received
before it: ``partial_message`` (the accumulated :class:`~streamsafe.Message`,
or ``None`` when the failure came before ``message_start``) and
``incomplete_blocks`` (indices of content blocks that are not whole: started
but never stopped, or a tool input that does not parse — a tool call among
them was cut and must not be executed).
"""

from __future__ import annotations

import datetime
import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from httpx_sse import SSEError

if TYPE_CHECKING:
    from ._events import Message

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AnthropicError",
    "AuthenticationError",
    "BadRequestError",
    "BatchRequestError",
    "BatchWaitTimeoutError",
    "BillingError",
    "ClientClosedRequestError",
    "ConflictError",
    "ContentTooLargeError",
    "DeadlineExceededError",
    "EventTooLargeError",
    "GatewayTimeoutError",
    "HTTPNotImplementedError",
    "IncompleteStreamError",
    "InternalServerError",
    "LineTooLargeError",
    "MalformedEventError",
    "NotFoundError",
    "OverloadedError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RateLimitError",
    "RequestHeaderFieldsTooLargeError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "ServiceUnavailableError",
    "StreamIdleTimeoutError",
    "StreamProtocolError",
    "StreamsafeError",
    "UnexpectedContentTypeError",
    "UnprocessableEntityError",
    "describe_body",
    "error_from_payload",
    "error_from_response",
    "retry_after_seconds",
    "status_error_class",
]


class StreamsafeError(Exception):
    """Base of every exception streamsafe raises."""


#: The official SDK's name for the base of everything it raises.
AnthropicError = StreamsafeError


class APIError(StreamsafeError):
    """Something went wrong talking to the API.

    Attributes shared by every API error:

    * ``message`` — a readable description.
    * ``request_id`` — the API's ``request-id`` for this request, when known.
    * ``aws_request_id`` — the ``x-amzn-requestid`` of Claude Platform on AWS
      (``None`` elsewhere).
    * ``retryable`` — whether repeating the same request may succeed.
    * ``partial_message`` — for stream failures, the message accumulated so far
      (``None`` before ``message_start`` and outside streams).
    * ``incomplete_blocks`` — indices of content blocks that are not whole:
      started but not stopped, or a tool input that did not parse.
    """

    retryable: bool = False
    #: The ``custom_id`` of the batch item, for the error of an ``errored`` batch result.
    custom_id: str | None = None

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        aws_request_id: str | None = None,
        partial_message: Message | None = None,
        incomplete_blocks: tuple[int, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.aws_request_id = aws_request_id
        self.partial_message = partial_message
        self.incomplete_blocks = incomplete_blocks

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request_id={self.request_id})"
        return self.message


class APIStatusError(APIError):
    """The API answered with an error: an HTTP error status or an in-stream error event.

    * ``status_code`` — the HTTP status this error stands for (529 for an
      ``overloaded_error``, also when it arrived inside a 200 stream).
    * ``http_status`` — the status the response actually had (200 in-stream).
    * ``error_type`` — the API's ``error.type`` (``None`` when the body had none).
    * ``error_code`` — ``error.details.error_code``, the stable name of the
      cause, when it is a string (``None`` otherwise). A known code picks a
      narrower class (see :mod:`streamsafe._error_codes`); an unknown one
      keeps the class of the type or status.
    * ``details`` — ``error.details`` as sent (a dict), or ``None``.
    * ``workspace_id`` — the ``anthropic-workspace-id`` response header.
    * ``body`` — the parsed JSON error body, or the raw text when it was not JSON.
    * ``response`` — the :class:`httpx.Response`, when there was one.
    * ``in_stream`` — true when the error arrived as an SSE event after a 2xx.
    * ``retryable`` — from the error type or status, overridden by ``x-should-retry``.
    """

    #: The HTTP status the class stands for; instances carry the real one.
    default_status: int | None = None
    #: The ``error.details.error_code`` the class stands for (error-code classes
    #: only); instances carry the code the body had.
    error_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        http_status: int,
        error_type: str | None = None,
        error_code: str | None = None,
        details: dict[str, object] | None = None,
        body: object = None,
        response: httpx.Response | None = None,
        request_id: str | None = None,
        aws_request_id: str | None = None,
        workspace_id: str | None = None,
        in_stream: bool = False,
        retryable: bool | None = None,
        partial_message: Message | None = None,
        incomplete_blocks: tuple[int, ...] = (),
    ) -> None:
        super().__init__(
            message,
            request_id=request_id,
            aws_request_id=aws_request_id,
            partial_message=partial_message,
            incomplete_blocks=incomplete_blocks,
        )
        self.status_code = status_code
        self.http_status = http_status
        self.error_type = error_type
        self.error_code = error_code
        self.details = details
        self.workspace_id = workspace_id
        self.body = body
        self.response = response
        self.in_stream = in_stream
        self.retryable = _is_retryable(error_type, status_code) if retryable is None else retryable

    def __str__(self) -> str:
        where = "in stream" if self.in_stream else f"HTTP {self.http_status}"
        if self.error_code:
            where += f", error_code={self.error_code}"
        kind = self.error_type or "error"
        text = f"{kind} ({where}): {self.message}"
        if self.request_id:
            text += f" (request_id={self.request_id})"
        return text


class BadRequestError(APIStatusError):
    """400 ``invalid_request_error``: the request itself is wrong."""

    default_status = 400


class AuthenticationError(APIStatusError):
    """401 ``authentication_error``: the API key is missing or invalid."""

    default_status = 401


class PaymentRequiredError(APIStatusError):
    """402 ``billing_error``: the account cannot pay for this request."""

    default_status = 402


class PermissionDeniedError(APIStatusError):
    """403 ``permission_error``: the key may not use this resource."""

    default_status = 403


class NotFoundError(APIStatusError):
    """404 ``not_found_error``: no such resource (or model)."""

    default_status = 404


class RequestTimeoutError(APIStatusError):
    """408: the server gave up waiting for the request; retryable."""

    default_status = 408


class ConflictError(APIStatusError):
    """409 ``conflict_error``: the resource changed under the request; retryable."""

    default_status = 409


class PreconditionFailedError(APIStatusError):
    """412: a precondition of the request does not hold."""

    default_status = 412


class ContentTooLargeError(APIStatusError):
    """413 ``request_too_large``: the request body exceeds the endpoint's limit.

    Also raised locally, before any byte is sent, by the client's size preflight.
    """

    default_status = 413


class UnprocessableEntityError(APIStatusError):
    """422: the request is well formed but cannot be processed."""

    default_status = 422


class RateLimitError(APIStatusError):
    """429 ``rate_limit_error``: slow down; retryable."""

    default_status = 429


class RequestHeaderFieldsTooLargeError(APIStatusError):
    """431: the request headers are too large."""

    default_status = 431


class ClientClosedRequestError(APIStatusError):
    """499: the request was closed before the answer was ready."""

    default_status = 499


class InternalServerError(APIStatusError):
    """500 ``api_error`` and any unlisted 5xx: the API failed; retryable."""

    default_status = 500


class HTTPNotImplementedError(InternalServerError):
    """501: the API does not implement what was asked; retryable like every 5xx."""

    default_status = 501


class ServiceUnavailableError(InternalServerError):
    """503: a service the API depends on is unavailable; retryable."""

    default_status = 503


class GatewayTimeoutError(InternalServerError):
    """504 ``timeout_error``: the API timed out producing the answer; retryable."""

    default_status = 504


class OverloadedError(InternalServerError):
    """529 ``overloaded_error``: the API is overloaded; retryable."""

    default_status = 529


#: The official SDK's older (deprecated) names and streamsafe's own aliases.
BillingError = PaymentRequiredError
RequestTooLargeError = ContentTooLargeError
DeadlineExceededError = GatewayTimeoutError


class APIConnectionError(APIError):
    """The connection failed or the byte stream stopped before it was complete."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """A connect, read or write timeout expired."""


class StreamIdleTimeoutError(APITimeoutError):
    """No content event arrived within ``stream_idle_timeout`` (pings do not count)."""


class IncompleteStreamError(APIConnectionError):
    """The stream ended without ``message_stop``: what arrived is in ``partial_message``."""


class StreamProtocolError(APIError):
    """The server sent bytes that do not form a valid stream of the expected kind."""


class MalformedEventError(StreamProtocolError):
    """An event's data is not valid JSON, or has the wrong shape for its type."""


class EventTooLargeError(StreamProtocolError):
    """An SSE line or event grew beyond the decoder's ``max_event_bytes``."""


class UnexpectedContentTypeError(StreamProtocolError, SSEError):
    """A 2xx response whose content type is not ``text/event-stream``."""


class LineTooLargeError(StreamProtocolError):
    """A line of a JSON Lines body (batch results) grew beyond ``max_line_bytes``."""


class BatchRequestError(StreamsafeError, ValueError):
    """A Message Batch refused before sending: a bad or duplicate ``custom_id``,
    too many requests, ``stream`` set in ``params``, a malformed item.

    ``index`` and ``custom_id`` name the offending item (``None`` when the
    batch as a whole is at fault).
    """

    def __init__(self, message: str, *, index: int | None = None, custom_id: object = None):
        super().__init__(message)
        self.message = message
        self.index = index
        self.custom_id = custom_id


class BatchWaitTimeoutError(StreamsafeError, TimeoutError):
    """Waiting for a Message Batch ended before the batch did.

    Raised when the caller's ``timeout`` passed, or when the batch's
    ``expires_at`` passed long ago and it still has not ended. ``batch`` is
    the last state seen (``None`` if no poll succeeded); the batch itself keeps
    running unless it was cancelled.
    """

    def __init__(self, message: str, *, batch: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.batch = batch


# ---------------------------------------------------------------------------
# The one mapping
# ---------------------------------------------------------------------------

_BY_ERROR_TYPE: dict[str, type[APIStatusError]] = {
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "billing_error": PaymentRequiredError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "conflict_error": ConflictError,
    "request_too_large": ContentTooLargeError,
    "rate_limit_error": RateLimitError,
    "api_error": InternalServerError,
    "timeout_error": GatewayTimeoutError,
    "overloaded_error": OverloadedError,
}

_STATUS_CLASSES: tuple[type[APIStatusError], ...] = (
    BadRequestError,
    AuthenticationError,
    PaymentRequiredError,
    PermissionDeniedError,
    NotFoundError,
    RequestTimeoutError,
    ConflictError,
    PreconditionFailedError,
    ContentTooLargeError,
    UnprocessableEntityError,
    RateLimitError,
    RequestHeaderFieldsTooLargeError,
    ClientClosedRequestError,
    InternalServerError,
    HTTPNotImplementedError,
    ServiceUnavailableError,
    GatewayTimeoutError,
    OverloadedError,
)
_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.default_status: cls for cls in _STATUS_CLASSES if cls.default_status is not None
}

_RETRYABLE_STATUSES = frozenset({408, 409, 429})


def status_error_class(
    error_type: str | None, status: int | None, error_code: str | None = None
) -> type[APIStatusError]:
    """Decide the exception class of an API error.

    ``status`` is the HTTP status of an error response, ``None`` for an
    in-stream error (whose response said 200); there the status is the one
    the error type stands for (``overloaded_error``: 529). In order:

    1. ``(status, error_code)`` names an error-code class
       (:mod:`streamsafe._error_codes`): that class. When a known type
       disagrees with the HTTP status, the type's status is tried too; then
       the code's class if it is a kind of the type's class (an in-stream
       ``api_error`` with a 503 code: that code's ServiceUnavailableError).
    2. A known ``error.type`` decides; when the HTTP status has a narrower
       class of the same kind (a 503 ``api_error``: ServiceUnavailableError,
       an InternalServerError), that one.
    3. The HTTP status (any unlisted 5xx is an :class:`InternalServerError`).
    4. The base :class:`APIStatusError`.

    An unknown ``error_code`` or ``error_type`` is ignored: the rest decides.
    """
    from ._error_codes import ERROR_CODE_CLASSES, for_code  # they subclass the classes above

    type_class = _BY_ERROR_TYPE.get(error_type) if error_type is not None else None
    type_status = type_class.default_status if type_class is not None else None
    if error_code is not None:
        for candidate in (status, type_status):
            if candidate is not None and (candidate, error_code) in ERROR_CODE_CLASSES:
                return ERROR_CODE_CLASSES[candidate, error_code]
        code_class = for_code(error_code)
        if code_class is not None and type_class is not None and issubclass(code_class, type_class):
            return code_class
    status_class: type[APIStatusError] | None = None
    if status is not None:
        status_class = _BY_STATUS.get(status)
        if status_class is None and 500 <= status <= 599:
            status_class = InternalServerError
    if type_class is not None:
        if status_class is not None and issubclass(status_class, type_class):
            return status_class
        return type_class
    return status_class or APIStatusError


def _is_retryable(error_type: str | None, status: int | None) -> bool:
    """408, 409, 429 and 5xx are retryable; a known error type stands for its status."""
    type_class = _BY_ERROR_TYPE.get(error_type) if error_type is not None else None
    if type_class is not None:
        status = type_class.default_status
    return status is not None and (status in _RETRYABLE_STATUSES or status >= 500)


def _should_retry_header(headers: Mapping[str, str] | None) -> bool | None:
    if headers is None:
        return None
    value = headers.get("x-should-retry", "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


_EXCERPT = 200


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


_BODY_EXCERPT = 300


def describe_body(response: httpx.Response) -> str:
    """``HTTP <status> with content-type <type>: <start of the body>``, on one line.

    For errors about a response whose body is not what was expected; the body
    must have been read.
    """
    content_type = response.headers.get("content-type") or "(none)"
    body = response.content.decode("utf-8", "replace")
    excerpt = " ".join(body.split())[:_BODY_EXCERPT] or "(empty body)"
    return f"HTTP {response.status_code} with content-type {content_type}: {excerpt}"


@dataclass(frozen=True)
class _Described:
    """What an error body of any shape says, each field ``None`` when absent or mistyped."""

    error_type: str | None = None
    message: str | None = None
    request_id: str | None = None
    error_code: str | None = None
    details: dict[str, object] | None = None


def _describe_payload(payload: object) -> _Described:
    """Read an error body of any shape: the documented fields, when present."""
    if not isinstance(payload, dict):
        return _Described()
    error = payload.get("error")
    error_type: object = None
    message: object = None
    details: object = None
    error_code: object = None
    if isinstance(error, dict):
        error_type = error.get("type")
        message = error.get("message")
        details = error.get("details")
        if isinstance(details, dict):
            error_code = details.get("error_code")
    elif isinstance(error, str):
        message = error
    if message is None:
        message = payload.get("message")
    request_id = payload.get("request_id")
    return _Described(
        error_type=error_type if isinstance(error_type, str) else None,
        message=message if isinstance(message, str) else None,
        request_id=request_id if isinstance(request_id, str) else None,
        error_code=error_code if isinstance(error_code, str) else None,
        details=details if isinstance(details, dict) else None,
    )


def error_from_payload(
    payload: object,
    *,
    http_status: int,
    in_stream: bool,
    response: httpx.Response | None = None,
    raw_text: str | None = None,
    partial_message: Message | None = None,
    incomplete_blocks: tuple[int, ...] = (),
) -> APIStatusError:
    """Build the typed error for a decoded error body (HTTP or in-stream).

    ``payload`` may have any shape (the documented one, extra fields, a bare
    string, ``None`` for a body that was not JSON): the result is always a
    typed error with a readable message.
    """
    said = _describe_payload(payload)
    headers = response.headers if response is not None else None
    cls = status_error_class(said.error_type, None if in_stream else http_status, said.error_code)
    status_code = cls.default_status or http_status
    if cls is InternalServerError and not in_stream and 500 <= http_status <= 599:
        status_code = http_status  # an unlisted 5xx keeps its own number
    if cls is APIStatusError and in_stream:
        status_code = http_status
    message = said.message
    if message is None:
        if raw_text is not None and raw_text.strip():
            message = _excerpt(raw_text)
        elif raw_text is not None:
            message = "empty error body"
        else:
            message = _excerpt(json.dumps(payload)) if payload is not None else "unknown error"
    header_request_id = headers.get("request-id") if headers is not None else None
    return cls(
        message,
        status_code=status_code,
        http_status=http_status,
        error_type=said.error_type,
        error_code=said.error_code,
        details=said.details,
        body=payload if payload is not None else raw_text,
        response=response,
        request_id=header_request_id or said.request_id,
        aws_request_id=headers.get("x-amzn-requestid") if headers is not None else None,
        workspace_id=headers.get("anthropic-workspace-id") if headers is not None else None,
        in_stream=in_stream,
        retryable=None if in_stream else _should_retry_header(headers),
        partial_message=partial_message,
        incomplete_blocks=incomplete_blocks,
    )


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The typed error for a non-2xx response whose body has been read."""
    text = response.text if response.content else ""
    try:
        payload: object = json.loads(text) if text else None
    except ValueError:
        payload = None
    error = error_from_payload(
        payload,
        http_status=response.status_code,
        in_stream=False,
        response=response,
        raw_text=text if payload is None else None,
    )
    if payload is None and not text:
        error.message = f"HTTP {response.status_code} with an empty body"
    elif payload is None:
        reason = response.reason_phrase or "error"
        error.message = f"HTTP {response.status_code} {reason}: {_excerpt(text)}"
    return error


_MAX_HTTP_DATE_WAIT = 24 * 3600.0


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``retry-after``.

    ``retry-after`` may be seconds or an HTTP date. Returns ``None`` when no
    usable value is present (negative, NaN and unparsable values are ignored).
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = -1.0
        if 0 <= value < float("inf"):
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            # asctime dates (and "-0000") carry no zone; every HTTP-date is GMT.
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - time.time()
        return max(0.0, min(seconds, _MAX_HTTP_DATE_WAIT))
    if 0 <= seconds < float("inf"):
        return seconds
    return None
