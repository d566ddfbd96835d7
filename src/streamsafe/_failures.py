"""Every foreign failure mapped to its streamsafe exception, here and nowhere else.

The exception tree (:mod:`streamsafe._errors`) says what each exception
means; this module decides which one a failure raises, and with what:

* an API error: an HTTP error status with its body
  (:func:`error_from_response`), an in-stream ``event: error``
  (:func:`error_from_event_data`), an ``errored`` row of batch results
  (:func:`error_from_payload`, which the other two use). Its class comes from
  :func:`status_error_class` alone, so a failure raises the same class over
  HTTP, mid-stream and in a batch;
* a response that is not what was asked for: a 2xx that is not an event
  stream (:func:`error_from_rejected_response`), or JSON that does not parse
  (:func:`unreadable_json`);
* an httpx transport failure (:func:`transport_error`);
* whether a failure is worth retrying (the class's ``retryable``, from the
  error type or status, overridden by an ``x-should-retry`` header; the
  permanent httpx errors of :data:`_PERMANENT_TRANSPORT_ERRORS`), and how long
  the server asks to wait first (:func:`retry_after_seconds`).

Not here: what streamsafe detects itself in the bytes (a malformed event, an
event over ``max_event_bytes``, a stream cut before ``message_stop``, the idle
watchdog) is raised by the layer that detects it, and httpcore's exceptions
become httpx's in ``transport/_exceptions`` (what any httpx transport must
raise), below this module. Nothing here runs per event: only when something
failed.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from ._error_codes import ERROR_CODE_CLASSES, for_code
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedRequestError,
    ConflictError,
    ContentTooLargeError,
    GatewayTimeoutError,
    HTTPNotImplementedError,
    InternalServerError,
    NotFoundError,
    OverloadedError,
    PaymentRequiredError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    RequestHeaderFieldsTooLargeError,
    RequestTimeoutError,
    ServiceUnavailableError,
    UnexpectedContentTypeError,
    UnprocessableEntityError,
    status_is_retryable,
)

__all__ = [
    "describe_body",
    "error_from_event_data",
    "error_from_payload",
    "error_from_rejected_response",
    "error_from_response",
    "retry_after_seconds",
    "status_error_class",
    "transport_error",
    "unreadable_json",
]

# ---------------------------------------------------------------------------
# The class of an API error
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


def _status_class(status: int | None) -> type[APIStatusError] | None:
    """The class of an HTTP status; any unlisted 5xx is an :class:`InternalServerError`."""
    if status is None:
        return None
    cls = _BY_STATUS.get(status)
    if cls is None and 500 <= status <= 599:
        return InternalServerError
    return cls


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
    type_class = _BY_ERROR_TYPE.get(error_type) if error_type is not None else None
    type_status = type_class.default_status if type_class is not None else None
    if error_code is not None:
        for candidate in (status, type_status):
            if candidate is not None and (candidate, error_code) in ERROR_CODE_CLASSES:
                return ERROR_CODE_CLASSES[candidate, error_code]
        code_class = for_code(error_code)
        if code_class is not None and type_class is not None and issubclass(code_class, type_class):
            return code_class
    status_class = _status_class(status)
    if type_class is not None:
        if status_class is not None and issubclass(status_class, type_class):
            return status_class
        return type_class
    return status_class or APIStatusError


def _is_retryable(error_type: str | None, status: int | None) -> bool:
    """Whether the class a known error type (else the status) stands for is retryable.

    408, 409, 429 and 5xx are; the classes of the tree say so themselves.
    """
    type_class = _BY_ERROR_TYPE.get(error_type) if error_type is not None else None
    if type_class is not None:
        return type_class.retryable
    return status is not None and status_is_retryable(status)


def _should_retry_header(headers: Mapping[str, str] | None) -> bool | None:
    """The server's own verdict (``x-should-retry: true|false``), when it gave one."""
    if headers is None:
        return None
    value = headers.get("x-should-retry", "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return None


# ---------------------------------------------------------------------------
# API errors: an HTTP error status, an in-stream error event, a batch row
# ---------------------------------------------------------------------------

_EXCERPT = 200


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


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
) -> APIStatusError:
    """Build the typed error for a decoded error body (HTTP, in-stream or a batch row).

    ``payload`` may have any shape (the documented one, extra fields, a bare
    string, ``None`` for a body that was not JSON): the result is always a
    typed error with a readable message. An error inside a 2xx body
    (``in_stream``) takes its class and ``status_code`` from its type and code.
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
    said_retry = None if in_stream else _should_retry_header(headers)
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
        retryable=(
            _is_retryable(said.error_type, status_code) if said_retry is None else said_retry
        ),
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


def error_from_event_data(data: str, response: httpx.Response) -> APIStatusError:
    """The typed error for the data of an in-stream error event (JSON or not)."""
    try:
        payload: object = json.loads(data)
    except ValueError:
        payload = None
    return error_from_payload(
        payload,
        http_status=response.status_code,
        in_stream=True,
        response=response,
        raw_text=data if payload is None else None,
    )


# ---------------------------------------------------------------------------
# A response that is not what was asked for
# ---------------------------------------------------------------------------

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


def _unexpected_content_type(response: httpx.Response, expected: str) -> UnexpectedContentTypeError:
    error = UnexpectedContentTypeError(
        f"expected {expected} response, got {describe_body(response)}",
        request_id=response.headers.get("request-id"),
    )
    # It is also an httpx.TransportError (through httpx_sse.SSEError), whose
    # .request raises RuntimeError unless set.
    error.request = response.request
    error.aws_request_id = response.headers.get("x-amzn-requestid")
    return error


def error_from_rejected_response(response: httpx.Response) -> APIError:
    """The error for a response refused instead of streamed; its body (or its start) was read.

    A non-2xx status: the typed API error. A 2xx that is not
    ``text/event-stream``: :class:`UnexpectedContentTypeError`.
    """
    if not response.is_success:
        return error_from_response(response)
    return _unexpected_content_type(response, "a text/event-stream")


def unreadable_json(response: httpx.Response) -> APIError:
    """The error for a 2xx whose body is not JSON (a 200 is not an ``APIStatusError``).

    Labelled as something else (a proxy's or a portal's page): the content
    type is wrong, as for a stream. Labelled JSON but unreadable or empty:
    the body was cut short, a connection error (retryable).
    """
    content_type: str = response.headers.get("content-type", "")
    if "json" not in content_type.split(";", 1)[0].lower():
        return _unexpected_content_type(response, "a JSON")
    return APIConnectionError(
        f"the JSON response is cut short or unreadable, got {describe_body(response)}",
        request_id=response.headers.get("request-id"),
    )


# ---------------------------------------------------------------------------
# httpx transport failures
# ---------------------------------------------------------------------------

#: httpx errors that every attempt would repeat: a URL without (or with an
#: unsupported) scheme, a request httpx refuses to send (an illegal header),
#: a redirect loop. They are configuration errors: retrying only delays them.
_PERMANENT_TRANSPORT_ERRORS = (
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
    httpx.TooManyRedirects,
)


def transport_error(
    exc: httpx.HTTPError,
    request_id: str | None,
    *,
    idle_error: Callable[[], APITimeoutError] | None = None,
) -> APIConnectionError:
    """The typed error for an httpx transport failure (callers chain ``__cause__``).

    Transient failures (timeouts, resets, refused connections) are retryable;
    the configuration errors of ``_PERMANENT_TRANSPORT_ERRORS`` are not.
    ``idle_error`` is given by a stream whose read timeout was lowered to its
    idle watchdog's: a read timeout there is the silence the watchdog stands
    for, and raises the watchdog's error.
    """
    if idle_error is not None and isinstance(exc, httpx.ReadTimeout):
        return idle_error()
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out: {exc!r}", request_id=request_id)
    if isinstance(exc, _PERMANENT_TRANSPORT_ERRORS):
        error = APIConnectionError(f"request failed: {exc!r}", request_id=request_id)
        error.retryable = False
        return error
    return APIConnectionError(f"connection failed: {exc!r}", request_id=request_id)


# ---------------------------------------------------------------------------
# How long the server asks to wait
# ---------------------------------------------------------------------------

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
