"""The exception tree, and the one mapping from an API error to its class.

Every exception streamsafe raises derives from :class:`StreamsafeError`::

    StreamsafeError
    ├── APIError                      anything that went wrong talking to the API
    │   ├── APIStatusError            the API said no: an HTTP error status OR an
    │   │   │                         in-stream ``event: error`` after a 200
    │   │   ├── BadRequestError           400  invalid_request_error
    │   │   ├── AuthenticationError       401  authentication_error
    │   │   ├── PaymentRequiredError      402  billing_error      (alias BillingError)
    │   │   ├── PermissionDeniedError     403  permission_error
    │   │   ├── NotFoundError             404  not_found_error
    │   │   ├── RequestTooLargeError      413  request_too_large  (alias ContentTooLargeError)
    │   │   ├── RateLimitError            429  rate_limit_error
    │   │   └── InternalServerError       500 and unlisted 5xx, api_error
    │   │       ├── GatewayTimeoutError   504  timeout_error
    │   │       └── OverloadedError       529  overloaded_error
    │   ├── APIConnectionError        the bytes stopped: reset, refused, cut short
    │   │   ├── APITimeoutError       connect / read timeout
    │   │   │   └── StreamIdleTimeoutError   no content event within stream_idle_timeout
    │   │   └── IncompleteStreamError        the stream ended before ``message_stop``
    │   └── StreamProtocolError       the bytes arrived but make no sense
    │       ├── MalformedEventError   bad JSON, wrong shape, a delta for a block never started
    │       ├── EventTooLargeError    an SSE line or event over ``max_event_bytes``
    │       └── UnexpectedContentTypeError   a 2xx that is not ``text/event-stream``
    │                                        (also an ``httpx_sse.SSEError``)
    └── (nothing else)

The class of an API error is decided by :func:`status_error_class`, and by
nothing else: the HTTP path (a non-2xx response) and the in-stream path (an
``event: error`` after a 200) both call it, so an ``overloaded_error`` raises
:class:`OverloadedError` whether it came as a 529 or mid-stream.

Every exception that interrupts a message stream carries what was received
before it: ``partial_message`` (the accumulated :class:`~streamsafe.Message`,
or ``None`` when the failure came before ``message_start``) and
``incomplete_blocks`` (indices of content blocks started but never stopped —
a tool call among them was cut and must not be executed).
"""

from __future__ import annotations

import datetime
import email.utils
import json
import time
from collections.abc import Mapping
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
    "AuthenticationError",
    "BadRequestError",
    "BillingError",
    "ContentTooLargeError",
    "EventTooLargeError",
    "GatewayTimeoutError",
    "IncompleteStreamError",
    "InternalServerError",
    "MalformedEventError",
    "NotFoundError",
    "OverloadedError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "StreamIdleTimeoutError",
    "StreamProtocolError",
    "StreamsafeError",
    "UnexpectedContentTypeError",
    "describe_body",
    "error_from_payload",
    "error_from_response",
    "retry_after_seconds",
    "status_error_class",
]


class StreamsafeError(Exception):
    """Base of every exception streamsafe raises."""


class APIError(StreamsafeError):
    """Something went wrong talking to the API.

    Attributes shared by every API error:

    * ``message`` — a readable description.
    * ``request_id`` — the API's ``request-id`` for this request, when known.
    * ``retryable`` — whether repeating the same request may succeed.
    * ``partial_message`` — for stream failures, the message accumulated so far
      (``None`` before ``message_start`` and outside streams).
    * ``incomplete_blocks`` — indices of content blocks started but not stopped.
    """

    retryable: bool = False
    #: The ``x-amzn-requestid`` of the response (Claude Platform on AWS), else ``None``.
    aws_request_id: str | None = None

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        partial_message: Message | None = None,
        incomplete_blocks: tuple[int, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
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
    * ``body`` — the parsed JSON error body, or the raw text when it was not JSON.
    * ``response`` — the :class:`httpx.Response`, when there was one.
    * ``in_stream`` — true when the error arrived as an SSE event after a 2xx.
    * ``retryable`` — from the error type or status, overridden by ``x-should-retry``.
    """

    #: The HTTP status the class stands for; instances carry the real one.
    default_status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        http_status: int,
        error_type: str | None = None,
        body: object = None,
        response: httpx.Response | None = None,
        request_id: str | None = None,
        in_stream: bool = False,
        retryable: bool | None = None,
        partial_message: Message | None = None,
        incomplete_blocks: tuple[int, ...] = (),
    ) -> None:
        super().__init__(
            message,
            request_id=request_id,
            partial_message=partial_message,
            incomplete_blocks=incomplete_blocks,
        )
        self.status_code = status_code
        self.http_status = http_status
        self.error_type = error_type
        self.body = body
        self.response = response
        self.in_stream = in_stream
        self.retryable = _is_retryable(error_type, status_code) if retryable is None else retryable

    def __str__(self) -> str:
        where = "in stream" if self.in_stream else f"HTTP {self.http_status}"
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


class RequestTooLargeError(APIStatusError):
    """413 ``request_too_large``: the request body exceeds the endpoint's limit.

    Also raised locally, before any byte is sent, by the client's size preflight.
    """

    default_status = 413


class RateLimitError(APIStatusError):
    """429 ``rate_limit_error``: slow down; retryable."""

    default_status = 429


class InternalServerError(APIStatusError):
    """500 ``api_error`` and any unlisted 5xx: the API failed; retryable."""

    default_status = 500


class GatewayTimeoutError(InternalServerError):
    """504 ``timeout_error``: the API timed out producing the answer; retryable."""

    default_status = 504


class OverloadedError(InternalServerError):
    """529 ``overloaded_error``: the API is overloaded; retryable."""

    default_status = 529


BillingError = PaymentRequiredError
ContentTooLargeError = RequestTooLargeError


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


# ---------------------------------------------------------------------------
# The one mapping
# ---------------------------------------------------------------------------

_BY_ERROR_TYPE: dict[str, type[APIStatusError]] = {
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "billing_error": PaymentRequiredError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "request_too_large": RequestTooLargeError,
    "rate_limit_error": RateLimitError,
    "api_error": InternalServerError,
    "timeout_error": GatewayTimeoutError,
    "overloaded_error": OverloadedError,
}

_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.default_status: cls for cls in _BY_ERROR_TYPE.values() if cls.default_status is not None
}

_RETRYABLE_TYPES = frozenset({"overloaded_error", "rate_limit_error", "api_error", "timeout_error"})
_RETRYABLE_STATUSES = frozenset({408, 409, 429})


def status_error_class(error_type: str | None, status: int | None) -> type[APIStatusError]:
    """Decide the exception class of an API error.

    A known ``error.type`` decides; otherwise the HTTP status decides (any
    unlisted 5xx is an :class:`InternalServerError`); otherwise the base
    :class:`APIStatusError`. ``status`` is ignored for in-stream errors (it
    would be 200).
    """
    if error_type is not None and error_type in _BY_ERROR_TYPE:
        return _BY_ERROR_TYPE[error_type]
    if status is not None:
        if status in _BY_STATUS:
            return _BY_STATUS[status]
        if 500 <= status <= 599:
            return InternalServerError
    return APIStatusError


def _is_retryable(error_type: str | None, status: int | None) -> bool:
    if error_type in _RETRYABLE_TYPES:
        return True
    if error_type in _BY_ERROR_TYPE:
        return False
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


def _describe_payload(payload: object) -> tuple[str | None, str | None, str | None]:
    """(error_type, message, request_id) from a decoded error body of any shape."""
    if not isinstance(payload, dict):
        return None, None, None
    request_id = payload.get("request_id")
    error = payload.get("error")
    error_type: object = None
    message: object = None
    if isinstance(error, dict):
        error_type = error.get("type")
        message = error.get("message")
    elif isinstance(error, str):
        message = error
    if message is None:
        message = payload.get("message")
    return (
        error_type if isinstance(error_type, str) else None,
        message if isinstance(message, str) else None,
        request_id if isinstance(request_id, str) else None,
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
    error_type, message, body_request_id = _describe_payload(payload)
    headers = response.headers if response is not None else None
    cls = status_error_class(error_type, None if in_stream else http_status)
    status_code = cls.default_status or http_status
    if cls is InternalServerError and not in_stream and 500 <= http_status <= 599:
        status_code = http_status  # an unlisted 5xx keeps its own number
    if cls is APIStatusError and in_stream:
        status_code = http_status
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
        error_type=error_type,
        body=payload if payload is not None else raw_text,
        response=response,
        request_id=header_request_id or body_request_id,
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
