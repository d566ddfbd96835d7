"""The exception tree: every exception streamsafe raises, documented where it is defined.

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

Below the status classes sit about 140 error-code classes, registered in
:mod:`streamsafe._error_codes`: one per ``(status, error.details.error_code)``
the official SDK knows, each a subclass of its status class
(``RampLimitExceededError(RateLimitError)`` for 429 ``ramp_limit_exceeded``,
``CompactionUnavailableError(OverloadedError)`` for 529
``compaction_unavailable``). Names, statuses and bases follow the official
Python SDK (2.15), so migrating code only changes the module name.

This module only defines the classes. Which one a failure raises — an HTTP
error status, an in-stream ``event: error``, an ``errored`` batch row, an
httpx transport failure — is decided in :mod:`streamsafe._failures`, by one
mapping (``status_error_class``) for every API error: an ``overloaded_error``
raises :class:`OverloadedError` whether it came as a 529 or mid-stream, and a
``rate_limit_error`` with the code ``ramp_limit_exceeded`` raises
``RampLimitExceededError`` both ways. An ``errored`` row of Message Batch
results carries the class a live call with the same error would raise, with
the row's ``custom_id`` and ``request_id`` attached. Every status error
carries ``error_code``, ``details``, ``request_id``, ``aws_request_id`` and
``workspace_id`` besides its status and type.

Retryable (``retryable`` true by default): :class:`RequestTimeoutError`,
:class:`ConflictError`, :class:`RateLimitError`, every
:class:`InternalServerError` and every :class:`APIConnectionError`; the
others are not. A failure can say otherwise: an ``x-should-retry`` header, a
transport failure that every attempt would repeat.

Every exception that interrupts a message stream carries what was received
before it: ``partial_message`` (the accumulated :class:`~streamsafe.Message`,
or ``None`` when the failure came before ``message_start``) and
``incomplete_blocks`` (indices of content blocks that are not whole: started
but never stopped, or a tool input that does not parse — a tool call among
them was cut and must not be executed).
"""

from __future__ import annotations

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
    "status_is_retryable",
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


def status_is_retryable(status: int) -> bool:
    """Whether repeating a request that got ``status`` may succeed: 408, 409, 429, and 5xx up.

    The rule the classes below state as their ``retryable`` defaults, for any
    status (one no class stands for included).
    """
    return status in (408, 409, 429) or status >= 500


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
    * ``retryable`` — unless given, what ``status_code`` says
      (:func:`status_is_retryable`: 408, 409, 429 and every status from 500
      up), as each class's own default says for its status. An error from the
      API is given it: from its error type or status, overridden by
      ``x-should-retry`` (:mod:`streamsafe._failures`).
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
        self.retryable = retryable if retryable is not None else status_is_retryable(status_code)

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

    retryable = True
    default_status = 408


class ConflictError(APIStatusError):
    """409 ``conflict_error``: the resource changed under the request; retryable."""

    retryable = True
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

    retryable = True
    default_status = 429


class RequestHeaderFieldsTooLargeError(APIStatusError):
    """431: the request headers are too large."""

    default_status = 431


class ClientClosedRequestError(APIStatusError):
    """499: the request was closed before the answer was ready."""

    default_status = 499


class InternalServerError(APIStatusError):
    """500 ``api_error`` and any unlisted 5xx: the API failed; retryable."""

    retryable = True
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
