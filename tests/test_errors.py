"""The exception tree and the one mapping, over HTTP statuses and in-stream error events."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import httpx_sse
import pytest

import streamsafe
from sse_helpers import (
    MESSAGE_ID,
    MODEL,
    PATH,
    REQUEST_ID,
    FakeServer,
    block_start,
    encode,
    error_event,
    frame,
    message_start,
    ping,
    serve,
    text_delta,
)
from streamsafe import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BillingError,
    ClientClosedRequestError,
    ConflictError,
    ContentTooLargeError,
    DeadlineExceededError,
    GatewayTimeoutError,
    HTTPNotImplementedError,
    IncompleteStreamError,
    InternalServerError,
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
    status_error_class,
)
from streamsafe._failures import retry_after_seconds

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Row:
    status: int
    error_type: str
    cls: type[APIStatusError]
    retryable: bool


ERROR_TABLE = [
    Row(400, "invalid_request_error", BadRequestError, False),
    Row(401, "authentication_error", AuthenticationError, False),
    Row(402, "billing_error", PaymentRequiredError, False),
    Row(403, "permission_error", PermissionDeniedError, False),
    Row(404, "not_found_error", NotFoundError, False),
    Row(409, "conflict_error", ConflictError, True),
    Row(413, "request_too_large", ContentTooLargeError, False),
    Row(429, "rate_limit_error", RateLimitError, True),
    Row(500, "api_error", InternalServerError, True),
    Row(504, "timeout_error", GatewayTimeoutError, True),
    Row(529, "overloaded_error", OverloadedError, True),
]
ROW_IDS = [row.error_type for row in ERROR_TABLE]

HEADER_REQUEST_ID = "req_from_header"
BODY_REQUEST_ID = "req_from_body"

# What a stream cut by an error after "Hello, " + "wor" has accumulated.
PARTIAL_BEFORE_ERROR = {
    "id": MESSAGE_ID,
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [{"type": "text", "text": "Hello, wor"}],
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 1},
}


def error_body(error_type: str, message: str, *, request_id: str | None = None) -> bytes:
    payload: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id is not None:
        payload["request_id"] = request_id
    return json.dumps(payload).encode()


def http_error_server(
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    request_id: str | None = HEADER_REQUEST_ID,
    **headers: str,
) -> FakeServer:
    all_headers = {"content-type": content_type, **headers}
    if request_id is not None:
        all_headers["request-id"] = request_id
    return FakeServer(body=body, status=status, headers=all_headers)


def stream_then_error(error: dict[str, Any], *, event_line: bool = True) -> bytes:
    """A 200 stream: message_start, a text block with "Hello, " + "wor", then the error."""
    content = encode(
        [
            message_start(),
            block_start(0, {"type": "text", "text": ""}),
            ping(),
            text_delta(0, "Hello, "),
            text_delta(0, "wor"),
        ]
    )
    return content + frame(error, event="error" if event_line else None)


async def raised_by_stream(server: FakeServer) -> APIError:
    """Consume a message stream from ``server``; return the APIError it raised."""
    async with server.async_client() as client:
        with pytest.raises(APIError) as info:
            async with streamsafe.aconnect_message_stream(
                client, "POST", PATH, json={"stream": True}
            ) as stream:
                await stream.get_final_message()
    return info.value


async def raised_by_http(status: int, body: bytes, **kwargs: Any) -> APIStatusError:
    server = http_error_server(status, body, **kwargs)
    error = await raised_by_stream(server)
    assert isinstance(error, APIStatusError)
    assert server.last_body.closed, "the error response must be closed"
    return error


# ---------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------


def test_tree_and_aliases() -> None:
    assert BillingError is PaymentRequiredError
    assert RequestTooLargeError is ContentTooLargeError
    assert DeadlineExceededError is GatewayTimeoutError
    assert streamsafe.AnthropicError is StreamsafeError
    for row in ERROR_TABLE:
        assert issubclass(row.cls, APIStatusError)
        assert row.cls.default_status == row.status
    for cls in (HTTPNotImplementedError, ServiceUnavailableError, GatewayTimeoutError):
        assert issubclass(cls, InternalServerError)
    assert issubclass(OverloadedError, InternalServerError)
    for cls, status in [
        (RequestTimeoutError, 408),
        (ConflictError, 409),
        (PreconditionFailedError, 412),
        (UnprocessableEntityError, 422),
        (RequestHeaderFieldsTooLargeError, 431),
        (ClientClosedRequestError, 499),
    ]:
        assert cls.__bases__ == (APIStatusError,)
        assert cls.default_status == status
    assert HTTPNotImplementedError.default_status == 501
    assert ServiceUnavailableError.default_status == 503
    assert issubclass(APIStatusError, APIError)
    assert issubclass(APIError, StreamsafeError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(StreamIdleTimeoutError, APITimeoutError)
    assert issubclass(IncompleteStreamError, APIConnectionError)
    assert issubclass(MalformedEventError, StreamProtocolError)
    assert issubclass(UnexpectedContentTypeError, StreamProtocolError)
    assert issubclass(UnexpectedContentTypeError, httpx_sse.SSEError)
    assert not issubclass(IncompleteStreamError, APIStatusError)


@pytest.mark.parametrize("row", ERROR_TABLE, ids=ROW_IDS)
def test_status_error_class_by_type_and_by_status(row: Row) -> None:
    assert status_error_class(row.error_type, None) is row.cls
    assert status_error_class(None, row.status) is row.cls
    assert status_error_class("future_error_type", row.status) is row.cls
    # The error type wins over a status that disagrees with it.
    assert status_error_class(row.error_type, 400 if row.status != 400 else 500) is row.cls


def test_status_error_class_fallbacks() -> None:
    for status in (502, 505, 599):
        assert status_error_class(None, status) is InternalServerError
        assert status_error_class("future_error_type", status) is InternalServerError
    assert status_error_class(None, 501) is HTTPNotImplementedError
    assert status_error_class("future_error_type", 503) is ServiceUnavailableError
    # api_error on a 5xx with a narrower class of the same kind: the narrower one.
    assert status_error_class("api_error", 503) is ServiceUnavailableError
    assert status_error_class("api_error", 529) is OverloadedError
    assert status_error_class("future_error_type", 418) is APIStatusError
    assert status_error_class("future_error_type", None) is APIStatusError
    assert status_error_class(None, 200) is APIStatusError
    assert status_error_class(None, None) is APIStatusError


# ---------------------------------------------------------------------------
# Every row: HTTP status and in-stream event raise the same class
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 5, 64, 100_000])
@pytest.mark.parametrize("row", ERROR_TABLE, ids=ROW_IDS)
async def test_http_status_and_stream_event_raise_the_same_class(row: Row, chunk_size: int) -> None:
    message = f"{row.error_type} says no"

    # (a) the HTTP status with a documented error body
    http_error = await raised_by_http(
        row.status, error_body(row.error_type, message, request_id=BODY_REQUEST_ID)
    )
    assert type(http_error) is row.cls
    assert http_error.status_code == row.status
    assert http_error.http_status == row.status
    assert http_error.error_type == row.error_type
    assert http_error.message == message
    assert http_error.request_id == HEADER_REQUEST_ID  # the header wins over the body
    assert http_error.in_stream is False
    assert http_error.retryable is row.retryable
    assert http_error.partial_message is None
    assert http_error.response is not None
    assert http_error.response.status_code == row.status
    assert isinstance(http_error.body, dict)
    assert http_error.body["error"]["type"] == row.error_type

    # (b) a 200 stream with some content, then `event: error`
    payload = error_event(row.error_type, message)
    server = serve([], chunk_size=chunk_size)
    server.body = stream_then_error(payload)
    stream_error = await raised_by_stream(server)
    assert type(stream_error) is type(http_error)
    assert isinstance(stream_error, APIStatusError)
    assert stream_error.status_code == row.status
    assert stream_error.http_status == 200
    assert stream_error.error_type == row.error_type
    assert stream_error.message == message
    assert stream_error.request_id == REQUEST_ID
    assert stream_error.in_stream is True
    assert stream_error.retryable is row.retryable
    assert stream_error.body == payload
    assert stream_error.response is not None
    assert stream_error.response.status_code == 200
    assert stream_error.partial_message is not None
    assert stream_error.partial_message.to_dict() == PARTIAL_BEFORE_ERROR
    assert stream_error.partial_message.request_id == REQUEST_ID
    assert stream_error.incomplete_blocks == (0,)
    assert server.last_body.closed


@pytest.mark.parametrize("row", ERROR_TABLE, ids=ROW_IDS)
async def test_request_id_falls_back_to_the_body(row: Row) -> None:
    http_error = await raised_by_http(
        row.status, error_body(row.error_type, "x", request_id=BODY_REQUEST_ID), request_id=None
    )
    assert type(http_error) is row.cls
    assert http_error.request_id == BODY_REQUEST_ID

    server = serve([], headers={"content-type": "text/event-stream"})
    server.body = stream_then_error(error_event(row.error_type, "x", request_id=BODY_REQUEST_ID))
    stream_error = await raised_by_stream(server)
    assert type(stream_error) is row.cls
    assert stream_error.request_id == BODY_REQUEST_ID


async def test_str_is_readable() -> None:
    error = await raised_by_http(529, error_body("overloaded_error", "Overloaded"))
    text = str(error)
    assert "overloaded_error" in text
    assert "Overloaded" in text
    assert HEADER_REQUEST_ID in text


# ---------------------------------------------------------------------------
# Unknown error types
# ---------------------------------------------------------------------------


async def test_unknown_error_type_in_stream_is_the_base_class() -> None:
    server = serve([])
    payload = error_event("future_error_type", "something new")
    server.body = stream_then_error(payload)
    error = await raised_by_stream(server)
    assert type(error) is APIStatusError
    assert error.error_type == "future_error_type"
    assert error.message == "something new"
    assert error.in_stream is True
    assert error.http_status == 200
    assert error.body == payload
    assert error.retryable is False
    assert error.partial_message is not None
    assert error.partial_message.to_dict() == PARTIAL_BEFORE_ERROR


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (503, ServiceUnavailableError, True),
        (501, HTTPNotImplementedError, True),
        (502, InternalServerError, True),
        (418, APIStatusError, False),
        (412, PreconditionFailedError, False),
        (422, UnprocessableEntityError, False),
        (431, RequestHeaderFieldsTooLargeError, False),
        (499, ClientClosedRequestError, False),
        (409, ConflictError, True),
        (408, RequestTimeoutError, True),
    ],
)
async def test_unknown_error_type_over_http_maps_by_status(
    status: int, cls: type[APIStatusError], retryable: bool
) -> None:
    error = await raised_by_http(status, error_body("future_error_type", "new"))
    assert type(error) is cls
    assert error.status_code == status
    assert error.http_status == status
    assert error.error_type == "future_error_type"
    assert error.message == "new"
    assert error.retryable is retryable


# ---------------------------------------------------------------------------
# Error frames without an event line, and in-stream edge cases
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("row", ERROR_TABLE[::3], ids=ROW_IDS[::3])
async def test_data_only_error_frame_is_still_an_error(row: Row) -> None:
    server = serve([])
    server.body = stream_then_error(error_event(row.error_type, "stripped"), event_line=False)
    error = await raised_by_stream(server)
    assert type(error) is row.cls
    assert isinstance(error, APIStatusError)
    assert error.status_code == row.status
    assert error.in_stream is True
    assert error.message == "stripped"
    assert error.partial_message is not None
    assert error.partial_message.to_dict() == PARTIAL_BEFORE_ERROR


async def test_error_event_with_non_json_data_is_typed_and_readable() -> None:
    server = serve([])
    server.body = stream_then_error({}).replace(b"data: {}", b"data: upstream exploded")
    error = await raised_by_stream(server)
    assert type(error) is APIStatusError
    assert error.in_stream is True
    assert "upstream exploded" in error.message
    assert error.partial_message is not None
    assert error.partial_message.to_dict() == PARTIAL_BEFORE_ERROR


async def test_overloaded_before_message_start_has_no_partial_message() -> None:
    server = serve([error_event("overloaded_error", "Overloaded")], chunk_size=3)
    error = await raised_by_stream(server)
    assert type(error) is OverloadedError
    assert isinstance(error, APIStatusError)
    assert error.status_code == 529
    assert error.in_stream is True
    assert error.partial_message is None
    assert error.incomplete_blocks == ()
    assert error.request_id == REQUEST_ID


async def test_low_level_event_source_raises_typed_errors() -> None:
    server = serve([])
    server.body = stream_then_error(error_event("rate_limit_error", "slow down"))
    seen: list[str] = []

    async def collect() -> None:
        async with (
            server.async_client() as client,
            streamsafe.aconnect_events(client, "POST", PATH) as events,
        ):
            async for sse in events:
                seen.append(sse.event)

    with pytest.raises(RateLimitError) as info:
        await collect()
    # Every event before the error was delivered first.
    assert seen == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
    ]
    assert info.value.in_stream is True
    assert info.value.status_code == 429
    assert info.value.request_id == REQUEST_ID

    http = http_error_server(404, error_body("not_found_error", "no such model"))
    async with http.async_client() as client:
        with pytest.raises(NotFoundError) as not_found:
            async with streamsafe.aconnect_events(client, "POST", PATH):
                pytest.fail("the block must not be entered")  # pragma: no cover
    assert not_found.value.message == "no such model"
    assert http.last_body.closed


def sync_raised(server: FakeServer, *, low_level: bool = False) -> APIError:
    """The sync twin of :func:`raised_by_stream` (``connect_events`` when ``low_level``)."""

    def consume() -> None:
        with server.client() as client:
            if low_level:
                with streamsafe.connect_events(client, "POST", PATH) as events:
                    for _ in events:
                        pass
            else:
                with streamsafe.connect_message_stream(client, "POST", PATH) as stream:
                    stream.get_final_message()

    with pytest.raises(APIError) as info:
        consume()
    return info.value


@pytest.mark.parametrize(
    "row", [ERROR_TABLE[2], ERROR_TABLE[7], ERROR_TABLE[10]], ids=lambda row: row.error_type
)
def test_sync_twins_raise_the_same_classes(row: Row) -> None:
    http = http_error_server(row.status, error_body(row.error_type, "sync"))
    http_error = sync_raised(http)
    assert type(http_error) is row.cls
    assert isinstance(http_error, APIStatusError)
    assert http_error.status_code == row.status
    assert http_error.in_stream is False
    assert http_error.request_id == HEADER_REQUEST_ID
    assert http.last_body.closed

    server = serve([], chunk_size=3)
    server.body = stream_then_error(error_event(row.error_type, "sync"))
    error = sync_raised(server)
    assert type(error) is row.cls
    assert isinstance(error, APIStatusError)
    assert error.in_stream is True
    assert error.http_status == 200
    assert error.status_code == row.status
    assert error.message == "sync"
    assert error.partial_message is not None
    assert error.partial_message.to_dict() == PARTIAL_BEFORE_ERROR
    assert server.last_body.closed

    low_level = sync_raised(server, low_level=True)
    assert type(low_level) is row.cls
    assert low_level.partial_message is None  # the event layer does not accumulate


# ---------------------------------------------------------------------------
# Tolerant body parsing
# ---------------------------------------------------------------------------

PROXY_413_PAGE = (
    b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n"
    b"<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


async def test_html_error_body() -> None:
    error = await raised_by_http(413, PROXY_413_PAGE, content_type="text/html")
    assert type(error) is ContentTooLargeError
    assert error.status_code == 413
    assert error.error_type is None
    assert "413" in error.message
    assert "413 Request Entity Too Large" in error.message
    assert "\n" not in error.message
    assert error.body == PROXY_413_PAGE.decode()
    assert error.retryable is False


async def test_long_html_body_is_cut_in_the_message() -> None:
    page = b"<html><body>" + b"x" * 10_000 + b"</body></html>"
    error = await raised_by_http(502, page, content_type="text/html")
    assert type(error) is InternalServerError
    assert error.status_code == 502
    assert error.message.startswith("HTTP 502")
    assert "<html><body>xxx" in error.message
    assert len(error.message) < 400


@pytest.mark.parametrize(
    ("status", "cls"),
    [(502, InternalServerError), (429, RateLimitError), (413, ContentTooLargeError)],
)
async def test_empty_error_body(status: int, cls: type[APIStatusError]) -> None:
    error = await raised_by_http(status, b"", content_type="text/plain")
    assert type(error) is cls
    assert error.status_code == status
    assert str(status) in error.message
    assert "empty" in error.message


@pytest.mark.parametrize(
    ("body", "expected_in_message"),
    [
        (b'{"detail": "slow down please"}', "slow down please"),
        (b'{"error": "plain string error"}', "plain string error"),
        (b'{"message": "top-level message"}', "top-level message"),
        (b'{"error": {"code": 42, "message": "nested without type"}}', "nested without type"),
        (b'[1, 2, "three"]', "three"),
        (b'"just a string"', "just a string"),
        (b"null", "HTTP 429"),
        (b"{not json at all", "{not json at all"),
    ],
)
async def test_error_body_of_unknown_shape(body: bytes, expected_in_message: str) -> None:
    error = await raised_by_http(429, body)
    assert type(error) is RateLimitError
    assert error.status_code == 429
    assert error.error_type is None
    assert expected_in_message in error.message
    assert error.retryable is True


async def test_documented_body_with_extra_fields() -> None:
    body = json.dumps(
        {
            "type": "error",
            "error": {"type": "rate_limit_error", "message": "limited", "retry_hint": 3},
            "request_id": BODY_REQUEST_ID,
            "future_top_level": {"a": 1},
        }
    ).encode()
    error = await raised_by_http(429, body)
    assert type(error) is RateLimitError
    assert error.message == "limited"
    assert isinstance(error.body, dict)
    assert error.body["future_top_level"] == {"a": 1}
    assert error.body["error"]["retry_hint"] == 3


# ---------------------------------------------------------------------------
# retryable and x-should-retry
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (409, True),
        (413, False),
        (418, False),
        (429, True),
        (500, True),
        (503, True),
        (504, True),
        (529, True),
    ],
)
async def test_retryable_by_status_without_an_error_type(status: int, retryable: bool) -> None:
    error = await raised_by_http(status, b"", content_type="text/plain")
    assert error.retryable is retryable


@pytest.mark.parametrize(
    ("status", "error_type", "header", "retryable"),
    [
        (529, "overloaded_error", "false", False),
        (429, "rate_limit_error", "false", False),
        (400, "invalid_request_error", "true", True),
        (409, "future_error_type", "false", False),
        (404, "not_found_error", " TRUE ", True),
        (400, "invalid_request_error", "maybe", False),
        (529, "overloaded_error", "", True),
    ],
)
async def test_x_should_retry_overrides(
    status: int, error_type: str, header: str, retryable: bool
) -> None:
    error = await raised_by_http(status, error_body(error_type, "m"), **{"x-should-retry": header})
    assert error.retryable is retryable


def test_retryable_of_other_errors() -> None:
    assert APIConnectionError("reset").retryable is True
    assert APITimeoutError("slow").retryable is True
    assert IncompleteStreamError("cut").retryable is True
    assert MalformedEventError("bad").retryable is False
    assert UnexpectedContentTypeError("html").retryable is False


# ---------------------------------------------------------------------------
# retry_after_seconds
# ---------------------------------------------------------------------------


def _http_date(delta_seconds: float) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=delta_seconds)
    return email.utils.format_datetime(moment, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after-ms": "250.5"}, 0.2505),
        ({"retry-after-ms": "20", "retry-after": "7"}, 0.02),
        ({"retry-after-ms": "soon", "retry-after": "7"}, 7.0),
        ({"retry-after-ms": "-5", "retry-after": "7"}, 7.0),
        ({"retry-after-ms": "nan", "retry-after": "7"}, 7.0),
        ({"retry-after-ms": "inf", "retry-after": "7"}, 7.0),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": " 4 "}, 4.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "garbage"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after-ms": "garbage"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers)) == expected


def test_retry_after_http_date() -> None:
    future = retry_after_seconds(httpx.Headers({"Retry-After": _http_date(30)}))
    assert future is not None
    assert 28.0 <= future <= 30.0
    assert retry_after_seconds({"retry-after": _http_date(-120)}) == 0.0
    # A date days ahead is capped (the caller then decides not to wait that long).
    far = retry_after_seconds({"retry-after": _http_date(5 * 24 * 3600)})
    assert far == 24 * 3600.0


@pytest.fixture
def non_utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not hasattr(time, "tzset"):  # pragma: no cover - Windows
        pytest.skip("needs time.tzset")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("non_utc_local_time")
def test_retry_after_zoneless_http_dates_are_gmt() -> None:
    """RFC 9110: all three HTTP-date formats are GMT, also asctime's (which has no zone)."""
    moment = datetime.now(timezone.utc) + timedelta(seconds=60)
    asctime = moment.strftime("%a %b %d %H:%M:%S %Y")
    rfc850 = moment.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    for value in (asctime, rfc850, _http_date(60)):
        wait = retry_after_seconds({"retry-after": value})
        assert wait is not None, value
        assert 57.0 <= wait <= 60.0, (value, wait)


# ---------------------------------------------------------------------------
# A 2xx that is not an event stream
# ---------------------------------------------------------------------------


async def test_html_200_is_an_unexpected_content_type() -> None:
    page = b"<!DOCTYPE html><html><body><h1>Captive portal: please log in</h1></body></html>"
    server = http_error_server(200, page, content_type="text/html; charset=utf-8")
    error = await raised_by_stream(server)
    assert type(error) is UnexpectedContentTypeError
    assert isinstance(error, httpx_sse.SSEError)
    assert isinstance(error, StreamProtocolError)
    assert "text/html" in error.message
    assert "Captive portal: please log in" in error.message
    assert error.request_id == HEADER_REQUEST_ID
    assert server.last_body.closed


async def test_unexpected_content_type_shows_only_the_start_of_a_long_body() -> None:
    body = json.dumps({"id": "msg_1", "content": [{"type": "text", "text": "y" * 20_000}]})
    server = http_error_server(200, body.encode(), content_type="application/json")
    async with server.async_client() as client:
        with pytest.raises(httpx_sse.SSEError) as info:
            async with streamsafe.aconnect_events(client, "POST", PATH):
                pytest.fail("the block must not be entered")  # pragma: no cover
    assert isinstance(info.value, UnexpectedContentTypeError)
    assert '{"id": "msg_1"' in info.value.message
    assert len(info.value.message) < 1000


async def test_missing_content_type_is_unexpected() -> None:
    server = serve([message_start()], headers={})
    error = await raised_by_stream(server)
    assert type(error) is UnexpectedContentTypeError


@pytest.mark.parametrize(
    "content_type",
    ["text/event-stream", "Text/Event-Stream; charset=utf-8", "TEXT/EVENT-STREAM;charset=UTF-8"],
)
async def test_event_stream_content_type_is_case_insensitive(content_type: str) -> None:
    server = serve([])
    server.body = stream_then_error(error_event("api_error", "boom"))
    server.headers = {"content-type": content_type, "request-id": REQUEST_ID}
    error = await raised_by_stream(server)
    assert type(error) is InternalServerError
    assert error.in_stream is True
