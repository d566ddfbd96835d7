"""streamsafe: lossless Server-Sent Event streaming for Messages-style LLM APIs.

Nothing is lost: an ``event: error`` after a ``200 OK`` raises the same typed
exception as the matching HTTP status, with the partial message attached; the
final message is accumulated in linear time; every connection has TCP
keep-alive. Every exception class is in :mod:`streamsafe.errors` (the tree is
drawn in ``streamsafe._errors``); this package exports those the official SDK
exports at its top level.

This top level holds what an application uses: the clients and what they hand
out (``AsyncMessages`` / ``Messages``, the stream managers, the streams),
messages and events, errors, ``aconnect_events`` / ``aconnect_message_stream``
and their sync twins, ``SSEDecoder`` and the default httpx client factories.
Transport building blocks (keep-alive transports, sharding, socket options,
timeouts and limits) live in :mod:`streamsafe.transport`.
"""

from ._accumulate import MessageAccumulator
from ._async.batches import AsyncBatches, AsyncBatchResults
from ._async.client import AsyncClient, AsyncMessages, AsyncMessageStreamManager
from ._async.sse import AsyncEventSource, aconnect_events
from ._async.stream import AsyncMessageStream, aconnect_message_stream
from ._batch_core import BatchProgress
from ._batch_models import (
    BatchCanceled,
    BatchErrored,
    BatchExpired,
    BatchOtherResult,
    BatchResult,
    BatchSucceeded,
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchRequestCounts,
)
from ._client import DEFAULT_STREAM_IDLE_TIMEOUT, REQUEST_SIZE_LIMITS
from ._decode import decode_event
from ._decoder import SSEDecoder
from ._error_codes_400 import (
    ClaudeCodeKeyCreatorNotMemberError,
    ClaudeCodeVersionTooOldError,
    CMEKKeyDisabledError,
    CMEKKeyNetworkBlockedError,
    OrganizationOnHoldError,
    OrganizationTypeNotSupportedError,
    ParentOrganizationRequiredError,
    RequestBodyEncodingInvalidError,
    RequestBodyEncodingUnsupportedError,
    WorkspaceHumanReviewDisabledError,
)
from ._error_codes_402_529 import (
    CMEKContextUnavailableError,
    CMEKKeyUnreachableError,
    ContractSpendLimitReachedError,
    EnforcedSpendLimitReachedError,
    LinkedOrganizationBillingUnavailableError,
    LinkedOrganizationSpendLimitReachedError,
    RampLimitExceededError,
    RequestBodyTooLargeAfterDecodingError,
    SandboxEgressRestrictedError,
)
from ._errors import (
    AnthropicError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchRequestError,
    BatchWaitTimeoutError,
    BillingError,
    ClientClosedRequestError,
    ConflictError,
    ContentTooLargeError,
    DeadlineExceededError,
    EventTooLargeError,
    GatewayTimeoutError,
    HTTPNotImplementedError,
    IncompleteStreamError,
    InternalServerError,
    LineTooLargeError,
    MalformedEventError,
    NotFoundError,
    OverloadedError,
    PaymentRequiredError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    RequestHeaderFieldsTooLargeError,
    RequestTimeoutError,
    RequestTooLargeError,
    ServiceUnavailableError,
    StreamIdleTimeoutError,
    StreamProtocolError,
    StreamsafeError,
    UnexpectedContentTypeError,
    UnprocessableEntityError,
)
from ._events import (
    CitationsDelta,
    CompactionBlock,
    CompactionDelta,
    ContentBlock,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    Delta,
    ErrorEvent,
    ErrorInfo,
    FallbackBlock,
    InputJSONDelta,
    MCPToolUseBlock,
    Message,
    MessageDelta,
    MessageDeltaEvent,
    MessageDeltaUsage,
    MessageStartEvent,
    MessageStopEvent,
    Model,
    PingEvent,
    RedactedThinkingBlock,
    ServerToolResultBlock,
    ServerToolUseBlock,
    SignatureDelta,
    StreamEvent,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    TokenCount,
    ToolUseBlock,
    UnknownBlock,
    UnknownDelta,
    UnknownEvent,
    Usage,
)
from ._failures import status_error_class
from ._observe import (
    BatchEnd,
    BatchOperation,
    BatchPoll,
    BatchResume,
    Call,
    Observer,
    ResponseHeaders,
    RetryScheduled,
    StreamEnd,
    StreamMetrics,
)
from ._retry import Backoff
from ._sync.batches import Batches, BatchResults
from ._sync.client import Client, Messages, MessageStreamManager
from ._sync.sse import EventSource, connect_events
from ._sync.stream import MessageStream, connect_message_stream
from ._version import __version__
from .transport import default_async_client, default_sync_client

__all__ = [
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "REQUEST_SIZE_LIMITS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AnthropicError",
    "AsyncBatchResults",
    "AsyncBatches",
    "AsyncClient",
    "AsyncEventSource",
    "AsyncMessageStream",
    "AsyncMessageStreamManager",
    "AsyncMessages",
    "AuthenticationError",
    "Backoff",
    "BadRequestError",
    "BatchCanceled",
    "BatchEnd",
    "BatchErrored",
    "BatchExpired",
    "BatchOperation",
    "BatchOtherResult",
    "BatchPoll",
    "BatchProgress",
    "BatchRequestError",
    "BatchResult",
    "BatchResults",
    "BatchResume",
    "BatchSucceeded",
    "BatchWaitTimeoutError",
    "Batches",
    "BillingError",
    "CMEKContextUnavailableError",
    "CMEKKeyDisabledError",
    "CMEKKeyNetworkBlockedError",
    "CMEKKeyUnreachableError",
    "Call",
    "CitationsDelta",
    "ClaudeCodeKeyCreatorNotMemberError",
    "ClaudeCodeVersionTooOldError",
    "Client",
    "ClientClosedRequestError",
    "CompactionBlock",
    "CompactionDelta",
    "ConflictError",
    "ContentBlock",
    "ContentBlockDeltaEvent",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "ContentTooLargeError",
    "ContractSpendLimitReachedError",
    "DeadlineExceededError",
    "DeletedMessageBatch",
    "Delta",
    "EnforcedSpendLimitReachedError",
    "ErrorEvent",
    "ErrorInfo",
    "EventSource",
    "EventTooLargeError",
    "FallbackBlock",
    "GatewayTimeoutError",
    "HTTPNotImplementedError",
    "IncompleteStreamError",
    "InputJSONDelta",
    "InternalServerError",
    "LineTooLargeError",
    "LinkedOrganizationBillingUnavailableError",
    "LinkedOrganizationSpendLimitReachedError",
    "MCPToolUseBlock",
    "MalformedEventError",
    "Message",
    "MessageAccumulator",
    "MessageBatch",
    "MessageBatchRequestCounts",
    "MessageDelta",
    "MessageDeltaEvent",
    "MessageDeltaUsage",
    "MessageStartEvent",
    "MessageStopEvent",
    "MessageStream",
    "MessageStreamManager",
    "Messages",
    "Model",
    "NotFoundError",
    "Observer",
    "OrganizationOnHoldError",
    "OrganizationTypeNotSupportedError",
    "OverloadedError",
    "ParentOrganizationRequiredError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PingEvent",
    "PreconditionFailedError",
    "RampLimitExceededError",
    "RateLimitError",
    "RedactedThinkingBlock",
    "RequestBodyEncodingInvalidError",
    "RequestBodyEncodingUnsupportedError",
    "RequestBodyTooLargeAfterDecodingError",
    "RequestHeaderFieldsTooLargeError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "ResponseHeaders",
    "RetryScheduled",
    "SSEDecoder",
    "SandboxEgressRestrictedError",
    "ServerToolResultBlock",
    "ServerToolUseBlock",
    "ServiceUnavailableError",
    "SignatureDelta",
    "StreamEnd",
    "StreamEvent",
    "StreamIdleTimeoutError",
    "StreamMetrics",
    "StreamProtocolError",
    "StreamsafeError",
    "TextBlock",
    "TextDelta",
    "ThinkingBlock",
    "ThinkingDelta",
    "TokenCount",
    "ToolUseBlock",
    "UnexpectedContentTypeError",
    "UnknownBlock",
    "UnknownDelta",
    "UnknownEvent",
    "UnprocessableEntityError",
    "Usage",
    "WorkspaceHumanReviewDisabledError",
    "__version__",
    "aconnect_events",
    "aconnect_message_stream",
    "connect_events",
    "connect_message_stream",
    "decode_event",
    "default_async_client",
    "default_sync_client",
    "status_error_class",
]

# Names that moved: still importable from here, with a DeprecationWarning
# naming their new home.
_MOVED: dict[str, tuple[str, str]] = {
    name: ("streamsafe.transport", name)
    for name in (
        "DEFAULT_CONNECT_TIMEOUT",
        "DEFAULT_LIMITS",
        "DEFAULT_READ_TIMEOUT",
        "DEFAULT_TIMEOUT",
        "ShardedAsyncTransport",
        "ShardedTransport",
        "has_keepalive",
        "keepalive_socket_options",
        "keepalive_transport",
        "sync_keepalive_transport",
    )
}
_MOVED["ShardedAsyncTransport"] = ("streamsafe.transport", "AsyncShardedTransport")
_MOVED["UNSET"] = ("msgspec", "UNSET")


def __getattr__(name: str) -> object:
    moved = _MOVED.get(name)
    if moved is None:
        raise AttributeError(f"module 'streamsafe' has no attribute {name!r}")
    import importlib
    import warnings

    module, attribute = moved
    warnings.warn(
        f"streamsafe.{name} is deprecated: use {module}.{attribute}",
        DeprecationWarning,
        stacklevel=2,
    )
    value: object = getattr(importlib.import_module(module), attribute)
    return value
