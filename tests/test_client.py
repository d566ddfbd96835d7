"""The client over the real emulator (loopback TCP): typed errors, headers, secrets, options.

Every fault the emulator can script goes through ``client.messages.stream(...)``
and ``client.messages.create(...)``, async (asyncio and trio) and sync, and
must come out as its typed error with everything the server sent attached.
Retries and backoff are in ``test_client_retries.py``.
"""

from __future__ import annotations

import inspect
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from httpx_sse import SSEError

import streamsafe
import streamsafe._client
from client_support import (
    AFTER_CONTENT,
    API_KEY,
    CLASS_FOR_ERROR_TYPE,
    FAST,
    SECRET,
    aclient,
    comparable,
    params,
    retry_records,
    sclient,
    text_of_first_events,
)
from streamsafe import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AsyncMessageStream,
    AuthenticationError,
    Client,
    IncompleteStreamError,
    InternalServerError,
    Message,
    MessageStream,
    NotFoundError,
    RequestTooLargeError,
    TokenCount,
    UnexpectedContentTypeError,
)
from streamsafe.testing import ERROR_TYPES, Emulator

pytestmark = pytest.mark.anyio

How = Literal["stream", "create"]
HOWS: tuple[How, ...] = ("stream", "create")


STATUS_FOR_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
CLASS_FOR_STATUS = {STATUS_FOR_TYPE[t]: cls for t, cls in CLASS_FOR_ERROR_TYPE.items()}
RETRYABLE_STATUSES = {429, 500, 504, 529}

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
REQUEST_KINDS: dict[str, dict[str, Any]] = {
    "text": {},
    "tools": {"tools": [WEATHER_TOOL]},
    "thinking": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


@dataclass
class Failure:
    error: APIError
    #: The text the caller iterated before the error.
    received: str
    elapsed: float


async def arun(client: AsyncClient, how: How, received: list[str], **extra: Any) -> Message:
    """One request through ``stream()`` (collecting its text) or ``create()``."""
    if how == "create":
        return await client.messages.create(**params(**extra))
    async with client.messages.stream(**params(**extra)) as stream:
        async for text in stream.text_stream:
            received.append(text)
        return await stream.get_final_message()


def srun(client: Client, how: How, received: list[str], **extra: Any) -> Message:
    """Sync twin of :func:`arun`."""
    if how == "create":
        return client.messages.create(**params(**extra))
    with client.messages.stream(**params(**extra)) as stream:
        for text in stream.text_stream:
            received.append(text)
        return stream.get_final_message()


def exception_texts(error: BaseException) -> str:
    """str() and repr() of an exception and of everything chained to it."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), *map(str, current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@pytest.fixture(scope="module")
def expected_partial(emulator: Emulator) -> str:
    """The text of the events a fault at AFTER_CONTENT lets through (content is deterministic)."""
    return text_of_first_events(emulator, AFTER_CONTENT)


# ---------------------------------------------------------------------------
# in-stream error events: error:<type>@N
# ---------------------------------------------------------------------------


def check_in_stream_error(
    error: APIStatusError, error_type: str, emu: Emulator, partial_text: str
) -> None:
    assert type(error) is CLASS_FOR_ERROR_TYPE[error_type]
    assert error.error_type == error_type
    assert error.in_stream is True
    assert error.http_status == 200
    assert error.status_code == STATUS_FOR_TYPE[error_type]
    [request] = emu.requests  # never retried: content had arrived
    assert error.request_id == request.request_id
    assert error.partial_message is not None
    assert error.partial_message.text == partial_text != ""
    assert error.incomplete_blocks == (0,)


async def afail(client: AsyncClient, emu: Emulator, spec: str, how: How) -> Failure:
    """Run one request under the fault ``spec``; return its error, the text received, the time."""
    emu.clear()
    emu.push_fault(spec)
    received: list[str] = []
    start = time.monotonic()
    with pytest.raises(APIError) as info:
        await arun(client, how, received)
    return Failure(info.value, "".join(received), time.monotonic() - start)


def sfail(client: Client, emu: Emulator, spec: str, how: How) -> Failure:
    """Sync twin of :func:`afail`."""
    emu.clear()
    emu.push_fault(spec)
    received: list[str] = []
    start = time.monotonic()
    with pytest.raises(APIError) as info:
        srun(client, how, received)
    return Failure(info.value, "".join(received), time.monotonic() - start)


@pytest.mark.parametrize("error_type", ERROR_TYPES)
async def test_in_stream_error_event_raises_its_class(
    emu: Emulator, expected_partial: str, error_type: str
) -> None:
    # max_retries=0: create() would retry a retryable error even after content
    # (see test_client_retries.py); this test is about the mapping.
    async with aclient(emu, max_retries=0) as client:
        for how in HOWS:
            failure = await afail(client, emu, f"error:{error_type}@{AFTER_CONTENT}", how)
            assert isinstance(failure.error, APIStatusError)
            check_in_stream_error(failure.error, error_type, emu, expected_partial)
            assert failure.received == (expected_partial if how == "stream" else "")


@pytest.mark.parametrize("error_type", ERROR_TYPES)
def test_sync_in_stream_error_event_raises_its_class(
    emu: Emulator, expected_partial: str, error_type: str
) -> None:
    with sclient(emu, max_retries=0) as client:
        for how in HOWS:
            failure = sfail(client, emu, f"error:{error_type}@{AFTER_CONTENT}", how)
            assert isinstance(failure.error, APIStatusError)
            check_in_stream_error(failure.error, error_type, emu, expected_partial)
            assert failure.received == (expected_partial if how == "stream" else "")


# ---------------------------------------------------------------------------
# HTTP error statuses: status:<code>
# ---------------------------------------------------------------------------


def check_status_error(error: APIStatusError, status: int, emu: Emulator) -> None:
    assert type(error) is CLASS_FOR_STATUS[status]
    assert error.status_code == status
    assert error.http_status == status
    assert error.in_stream is False
    assert error.retryable is (status in RETRYABLE_STATUSES)
    [request] = emu.requests
    assert error.request_id == request.request_id
    assert error.partial_message is None
    assert error.response is not None
    assert error.response.status_code == status
    assert isinstance(error.body, dict)
    assert error.message  # the body's readable message, not JSON
    assert "{" not in error.message


@pytest.mark.parametrize("status", sorted(CLASS_FOR_STATUS))
async def test_http_status_raises_its_class(emu: Emulator, status: int) -> None:
    async with aclient(emu, max_retries=0) as client:
        for how in HOWS:
            failure = await afail(client, emu, f"status:{status}", how)
            assert isinstance(failure.error, APIStatusError)
            check_status_error(failure.error, status, emu)


@pytest.mark.parametrize("status", sorted(CLASS_FOR_STATUS))
def test_sync_http_status_raises_its_class(emu: Emulator, status: int) -> None:
    with sclient(emu, max_retries=0) as client:
        for how in HOWS:
            failure = sfail(client, emu, f"status:{status}", how)
            assert isinstance(failure.error, APIStatusError)
            check_status_error(failure.error, status, emu)


# ---------------------------------------------------------------------------
# non-JSON bodies, broken transports, wrong content
# ---------------------------------------------------------------------------


def check_transport_fault(
    spec: str, how: How, failure: Failure, emu: Emulator, partial_text: str
) -> None:
    """The checks of one entry of TRANSPORT_FAULTS."""
    error = failure.error
    request_ids = [r.request_id for r in emu.requests]
    assert len(request_ids) == 1, spec
    if spec.startswith("html:413"):
        assert type(error) is RequestTooLargeError
        assert (error.status_code, error.http_status) == (413, 413)
        assert error.message.startswith("HTTP 413 Request Entity Too Large")
        assert error.request_id == request_ids[0]
    elif spec.startswith("html:502"):
        assert type(error) is InternalServerError
        assert (error.status_code, error.http_status) == (502, 502)
        assert error.message.startswith("HTTP 502 Bad Gateway")
        assert error.retryable
    elif spec.startswith("empty:500"):
        assert type(error) is InternalServerError
        assert (error.status_code, error.http_status) == (500, 500)
        assert error.message == "HTTP 500 with an empty body"
    elif spec.startswith("truncate@"):
        assert type(error) is IncompleteStreamError
        assert "without message_stop" in error.message
    elif spec.startswith("reset@"):
        assert type(error) is APIConnectionError
        assert isinstance(error.__cause__, httpx.TransportError)
    elif spec.startswith("stall@"):
        assert type(error) is APITimeoutError
        assert isinstance(error.__cause__, httpx.ReadTimeout)
        assert failure.elapsed < 1.5
    elif spec.startswith("content_type:"):
        assert type(error) is UnexpectedContentTypeError
        assert isinstance(error, SSEError)
        assert "text/html" in error.message
        assert not error.retryable
        # Also an httpx.TransportError: its .request is the request that was sent.
        assert error.request.url.path == "/v1/messages"
    elif spec == "empty_200":
        assert type(error) is IncompleteStreamError
        assert "before message_start" in error.message
        assert error.partial_message is None
    else:  # pragma: no cover
        raise AssertionError(spec)
    if spec.startswith(("html:", "empty:")):
        assert "{" not in error.message  # readable, not JSON
        assert error.partial_message is None
    if spec.startswith(("truncate@", "reset@", "stall@")):
        assert error.partial_message is not None
        assert error.partial_message.text == partial_text
        assert error.incomplete_blocks == (0,)
        assert error.request_id == request_ids[0]
        assert failure.received == (partial_text if how == "stream" else "")


#: Faults a client retries when they strike before content — and, through
#: create(), after content too: tested with max_retries=0.
RETRIED_FAULTS = frozenset(
    {
        "html:502",
        "empty:500",
        "empty_200",
        f"truncate@{AFTER_CONTENT}",
        f"reset@{AFTER_CONTENT}",
        f"stall@{AFTER_CONTENT};seconds=5",
    }
)
TRANSPORT_FAULTS = [
    "html:413",
    "html:502",
    "empty:500",
    f"truncate@{AFTER_CONTENT}",
    f"reset@{AFTER_CONTENT}",
    f"stall@{AFTER_CONTENT};seconds=5",
    "content_type:text/html",
    "empty_200",
]


@pytest.mark.parametrize("spec", TRANSPORT_FAULTS)
async def test_transport_fault_raises_its_class(
    emu: Emulator, expected_partial: str, spec: str
) -> None:
    # The others keep the default retries: the check sees one request (never retried).
    max_retries = 0 if spec in RETRIED_FAULTS else 2
    async with aclient(emu, max_retries=max_retries, timeout=0.5) as client:
        for how in HOWS:
            failure = await afail(client, emu, spec, how)
            check_transport_fault(spec, how, failure, emu, expected_partial)


@pytest.mark.parametrize("spec", TRANSPORT_FAULTS)
def test_sync_transport_fault_raises_its_class(
    emu: Emulator, expected_partial: str, spec: str
) -> None:
    max_retries = 0 if spec in RETRIED_FAULTS else 2
    with sclient(emu, max_retries=max_retries, timeout=0.5) as client:
        for how in HOWS:
            failure = sfail(client, emu, spec, how)
            check_transport_fault(spec, how, failure, emu, expected_partial)


async def test_missing_api_key_is_a_typed_authentication_error(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key at all: nothing local, the API's 401 is an AuthenticationError end to end."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    emu.push_fault("status:401")
    async with AsyncClient(base_url=emu.url, backoff=FAST) as client:
        assert "api_key=None" in repr(client)
        with pytest.raises(AuthenticationError) as info:
            await client.messages.create(**params())
    assert info.value.status_code == 401
    assert not info.value.retryable
    [request] = emu.requests
    assert "x-api-key" not in request.headers


# ---------------------------------------------------------------------------
# request-size preflight
# ---------------------------------------------------------------------------


def huge_params() -> dict[str, Any]:
    return params(text="x" * (33 * 1024 * 1024))


def check_too_large(error: RequestTooLargeError, emu: Emulator) -> None:
    size = 33 * 1024 * 1024
    assert f"{32 * 1024 * 1024:,}" in error.message  # the limit
    assert any(f"{size + extra:,}" in error.message for extra in range(200))  # the size
    assert "32 MB" in error.message
    assert not error.retryable
    assert emu.requests == []


async def test_oversize_request_raises_locally_before_sending(emu: Emulator) -> None:
    async with aclient(emu) as client:
        with pytest.raises(RequestTooLargeError) as info:
            async with client.messages.stream(**huge_params()):
                pass  # pragma: no cover
        check_too_large(info.value, emu)
        with pytest.raises(RequestTooLargeError) as info:
            await client.messages.create(**huge_params())
        check_too_large(info.value, emu)
        with pytest.raises(RequestTooLargeError) as info:
            await client.messages.count_tokens(**huge_params())
        check_too_large(info.value, emu)
        assert "/v1/messages/count_tokens" in info.value.message


def test_sync_oversize_request_raises_locally_before_sending(emu: Emulator) -> None:
    with sclient(emu) as client:
        with pytest.raises(RequestTooLargeError) as info, client.messages.stream(**huge_params()):
            pass  # pragma: no cover
        check_too_large(info.value, emu)
        with pytest.raises(RequestTooLargeError) as info:
            client.messages.create(**huge_params())
        check_too_large(info.value, emu)


# ---------------------------------------------------------------------------
# create() and stream() return the same message
# ---------------------------------------------------------------------------


def check_kind(message: Message, kind: str) -> None:
    types = [block.type for block in message.content]
    if kind == "tools":
        assert "tool_use" in types
        tool = next(b for b in message.content if isinstance(b, streamsafe.ToolUseBlock))
        assert isinstance(tool.input, dict)
        assert "city" in tool.input
        assert message.stop_reason == "tool_use"
    elif kind == "thinking":
        assert types[0] == "thinking"
        thinking = message.content[0]
        assert isinstance(thinking, streamsafe.ThinkingBlock)
        assert thinking.thinking
        assert thinking.signature
    else:
        assert types == ["text"]
        assert message.text


@pytest.mark.parametrize("kind", sorted(REQUEST_KINDS))
async def test_create_returns_the_streamed_final_message(emu: Emulator, kind: str) -> None:
    extra = REQUEST_KINDS[kind]
    async with aclient(emu) as client:
        created = await client.messages.create(**params(**extra))
        async with client.messages.stream(**params(**extra)) as stream:
            streamed = await stream.get_final_message()
    assert comparable(created) == comparable(streamed)
    check_kind(created, kind)
    first, second = emu.requests
    assert created.request_id == first.request_id
    assert streamed.request_id == second.request_id
    assert first.json["stream"] is True  # create() streams underneath
    # The server's own non-streamed answer has the same content.
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emu.url}/v1/messages", json=params(**extra))
    answer = response.json()
    assert comparable(created)["content"] == answer["content"]
    assert created.stop_reason == answer["stop_reason"]


@pytest.mark.parametrize("kind", sorted(REQUEST_KINDS))
def test_sync_create_returns_the_streamed_final_message(emu: Emulator, kind: str) -> None:
    extra = REQUEST_KINDS[kind]
    with sclient(emu) as client:
        created = client.messages.create(**params(**extra))
        with client.messages.stream(**params(**extra)) as stream:
            streamed = stream.get_final_message()
    assert comparable(created) == comparable(streamed)
    check_kind(created, kind)


async def test_create_with_stream_true_returns_an_open_stream(emu: Emulator) -> None:
    async with aclient(emu) as client:
        reference = await client.messages.create(**params())
        stream = await client.messages.create(**params(), stream=True)
        assert isinstance(stream, AsyncMessageStream)
        async with stream:
            events = [event async for event in stream]
            message = await stream.get_final_message()
        assert isinstance(events[0], streamsafe.MessageStartEvent)
        assert isinstance(events[-1], streamsafe.MessageStopEvent)
        assert comparable(message) == comparable(reference)
        assert stream.response.is_closed


def test_sync_create_with_stream_true_returns_an_open_stream(emu: Emulator) -> None:
    with sclient(emu) as client:
        reference = client.messages.create(**params())
        stream = client.messages.create(**params(), stream=True)
        assert isinstance(stream, MessageStream)
        with stream:
            text = "".join(stream.text_stream)
        assert text == reference.text
        assert stream.response.is_closed


async def test_count_tokens(emu: Emulator) -> None:
    async with aclient(emu) as client:
        count = await client.messages.count_tokens(**params())
    assert isinstance(count, TokenCount)
    assert count.input_tokens > 0
    [request] = emu.requests
    assert request.path == "/v1/messages/count_tokens"
    assert "stream" not in request.json


def test_sync_count_tokens(emu: Emulator) -> None:
    with sclient(emu) as client:
        count = client.messages.count_tokens(**params())
    assert isinstance(count, TokenCount)
    assert count.input_tokens > 0


async def test_count_tokens_error_is_typed(emu: Emulator) -> None:
    async with aclient(emu, max_retries=0) as client:
        with pytest.raises(NotFoundError) as info:
            await client.messages.count_tokens(
                **params(), extra_headers={"x-streamsafe-fault": "status:404"}
            )
    assert info.value.request_id == emu.requests[0].request_id


@pytest.mark.parametrize(
    ("spec", "expected", "attempts"),
    [
        # A page from a proxy or a portal: not the API answering, and not worth retrying.
        ("content_type:text/html", UnexpectedContentTypeError, 1),
        ("content_type:text/plain", UnexpectedContentTypeError, 1),
        # JSON cut short, or no body at all: the bytes stopped, like a reset.
        ("truncate@10", APIConnectionError, 3),
        ("empty_200", APIConnectionError, 3),
    ],
)
async def test_count_tokens_2xx_without_json_is_not_an_api_status_error(
    emu: Emulator, spec: str, expected: type[APIError], attempts: int
) -> None:
    """A 200 is not "the API said no": no APIStatusError with status_code 200."""
    async with aclient(emu) as client:
        with pytest.raises(APIError) as info:
            await client.messages.count_tokens(
                **params(), extra_headers={"x-streamsafe-fault": spec}
            )
    error = info.value
    assert type(error) is expected
    assert not isinstance(error, APIStatusError)
    assert error.request_id == emu.requests[-1].request_id
    assert "HTTP 200" in error.message
    assert len(emu.requests) == attempts


def test_sync_count_tokens_2xx_without_json(emu: Emulator) -> None:
    fault = {"x-streamsafe-fault": "content_type:text/html"}
    with sclient(emu) as client, pytest.raises(UnexpectedContentTypeError) as info:
        client.messages.count_tokens(**params(), extra_headers=fault)
    assert "text/html" in info.value.message
    assert "<title>200 OK</title>" in info.value.message


# ---------------------------------------------------------------------------
# headers and environment defaults
# ---------------------------------------------------------------------------


def check_sent_headers(headers: dict[str, str], api_key: str) -> None:
    assert headers["x-api-key"] == api_key
    assert headers["anthropic-version"] == "2023-06-01"
    user_agent = headers["user-agent"]
    assert user_agent.startswith(f"streamsafe/{streamsafe.__version__}")
    assert headers["content-type"] == "application/json"


async def test_sends_key_version_and_user_agent(emu: Emulator) -> None:
    async with aclient(emu, default_headers={"x-team": "core"}) as client:
        await client.messages.create(**params(), extra_headers={"x-trace": "t1"})
        await client.messages.count_tokens(**params())
    streamed, counted = emu.requests
    for request in (streamed, counted):
        check_sent_headers(request.headers, API_KEY)
        assert request.headers["x-team"] == "core"
    assert streamed.headers["x-trace"] == "t1"
    assert "x-trace" not in counted.headers
    assert streamed.headers["accept"] == "text/event-stream"


def test_sync_sends_key_version_and_user_agent(emu: Emulator) -> None:
    with sclient(emu) as client:
        client.messages.create(**params())
    [request] = emu.requests
    check_sent_headers(request.headers, API_KEY)


async def test_environment_defaults(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-environment")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.url)
    async with AsyncClient() as client:
        assert emu.url in repr(client)
        await client.messages.create(**params())
    with Client() as sync_client:
        sync_client.messages.count_tokens(**params())
    for request in emu.requests:
        check_sent_headers(request.headers, "sk-from-environment")


async def test_arguments_override_the_environment(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-environment")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    async with AsyncClient(api_key=API_KEY, base_url=emu.url + "/") as client:
        await client.messages.create(**params())
    [request] = emu.requests
    check_sent_headers(request.headers, API_KEY)
    assert request.path == "/v1/messages"


def test_base_url_with_a_path_prefix_is_kept() -> None:
    client = Client(api_key="k", base_url="https://gateway.example/anthropic")
    try:
        url = client._config.url("/v1/messages")
    finally:
        client.close()
    assert str(url) == "https://gateway.example/anthropic/v1/messages"


# ---------------------------------------------------------------------------
# secrets
# ---------------------------------------------------------------------------

SECRET_FAULTS = [
    "status:401",
    "status:529",
    "error:overloaded_error@2",
    f"error:overloaded_error@{AFTER_CONTENT}",
    f"reset@{AFTER_CONTENT}",
    f"truncate@{AFTER_CONTENT}",
    "html:502",
    "empty:500",
    "content_type:text/html",
]


def check_no_secret(texts: list[str]) -> None:
    for text in texts:
        assert SECRET not in text
        assert API_KEY not in text


async def test_api_key_never_in_repr_logs_or_errors(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    sent_keys: list[str] = []
    async with aclient(emu) as client:
        check_no_secret([repr(client), str(client), repr(client.messages)])
        for spec in SECRET_FAULTS:
            emu.push_fault(spec, times=3)  # more than the retries: every call fails
            with pytest.raises(APIError) as info:
                await client.messages.create(**params())
            errors.append(info.value)
            sent_keys += [r.headers["x-api-key"] for r in emu.requests]
            emu.clear()
    async with aclient(emu, base_url="http://127.0.0.1:9") as client:  # refused
        with pytest.raises(APIConnectionError) as info:
            await client.messages.count_tokens(**params())
        errors.append(info.value)
    assert len(errors) == len(SECRET_FAULTS) + 1
    assert retry_records(caplog)  # retries were logged
    check_no_secret([exception_texts(error) for error in errors])
    check_no_secret([record.getMessage() for record in caplog.records])
    check_no_secret([caplog.text])
    assert set(sent_keys) == {API_KEY}  # ... while the key was really sent


def test_sync_api_key_never_in_repr_logs_or_errors(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    with sclient(emu) as client:
        check_no_secret([repr(client)])
        for spec in SECRET_FAULTS:
            emu.push_fault(spec, times=3)
            with pytest.raises(APIError) as info, client.messages.stream(**params()) as stream:
                stream.until_done()
            errors.append(info.value)
            emu.clear()
    assert len(errors) == len(SECRET_FAULTS)
    check_no_secret([exception_texts(error) for error in errors])
    check_no_secret([record.getMessage() for record in caplog.records])


def test_short_api_key_is_fully_hidden_in_repr() -> None:
    client = Client(api_key="short-key-123", base_url="http://127.0.0.1:9")
    try:
        assert "short-key" not in repr(client)
    finally:
        client.close()


BAD_KEYS = [f"{API_KEY}\n", f" {API_KEY}", f"{API_KEY}é", f"{API_KEY}\r\nx-injected: 1"]


@pytest.mark.parametrize("bad_key", BAD_KEYS)
async def test_unsendable_api_key_fails_locally_without_showing_it(
    emu: Emulator, caplog: pytest.LogCaptureFixture, bad_key: str
) -> None:
    """A key httpx cannot send (a stray newline from a file, a non-ASCII character).

    httpx's own error quotes the header value: the key would land in the
    exception and, on each retry, in the log.
    """
    caplog.set_level(logging.DEBUG)
    async with aclient(emu, api_key=bad_key, backoff=streamsafe.Backoff(initial=1.0)) as client:
        start = time.monotonic()
        with pytest.raises(AuthenticationError) as info:
            await client.messages.create(**params())
        with pytest.raises(AuthenticationError):
            await client.messages.count_tokens(**params())
        assert time.monotonic() - start < 0.5  # not retried
    assert not info.value.retryable
    assert "nothing was sent" in info.value.message
    assert emu.requests == []
    check_no_secret([exception_texts(info.value), caplog.text])


def test_sync_unsendable_api_key_fails_locally(emu: Emulator) -> None:
    with sclient(emu, api_key=BAD_KEYS[0]) as client, pytest.raises(AuthenticationError) as info:
        client.messages.create(**params())
    check_no_secret([exception_texts(info.value)])
    assert emu.requests == []


# ---------------------------------------------------------------------------
# configuration errors are not retried
# ---------------------------------------------------------------------------

SLOW = streamsafe.Backoff(initial=1.0, jitter=0.0)


@pytest.mark.parametrize(
    "base_url", ["127.0.0.1:{port}", "localhost:{port}", "ftp://127.0.0.1:{port}"]
)
async def test_base_url_without_http_scheme_is_not_retried(
    emu: Emulator, caplog: pytest.LogCaptureFixture, base_url: str
) -> None:
    caplog.set_level(logging.INFO, logger="streamsafe")
    url = base_url.format(port=emu.port)
    async with AsyncClient(api_key=API_KEY, base_url=url, backoff=SLOW) as client:
        start = time.monotonic()
        with pytest.raises(APIConnectionError) as info:
            await client.messages.create(**params())
        with pytest.raises(APIConnectionError) as counted:
            await client.messages.count_tokens(**params())
        assert time.monotonic() - start < 0.5
    for error in (info.value, counted.value):
        assert type(error) is APIConnectionError
        assert error.retryable is False
        assert isinstance(error.__cause__, httpx.UnsupportedProtocol)
    assert retry_records(caplog) == []
    assert emu.requests == []


def test_sync_base_url_without_http_scheme_is_not_retried(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="streamsafe")
    with Client(api_key=API_KEY, base_url=f"127.0.0.1:{emu.port}", backoff=SLOW) as client:
        start = time.monotonic()
        with pytest.raises(APIConnectionError) as info, client.messages.stream(**params()):
            pass  # pragma: no cover
        assert time.monotonic() - start < 0.5
    assert info.value.retryable is False
    assert retry_records(caplog) == []


async def test_header_httpx_refuses_to_send_is_not_retried(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="streamsafe")
    async with aclient(emu, backoff=SLOW, default_headers={"x-trace": "a\nb"}) as client:
        start = time.monotonic()
        with pytest.raises(APIConnectionError) as info:
            await client.messages.create(**params())
        assert time.monotonic() - start < 0.5
    assert info.value.retryable is False
    assert isinstance(info.value.__cause__, httpx.LocalProtocolError)
    assert retry_records(caplog) == []
    assert emu.requests == []


def test_unparsable_base_url_fails_at_construction() -> None:
    with pytest.raises(httpx.InvalidURL):
        AsyncClient(api_key="k", base_url="http://[::1")


async def test_refused_connection_is_still_retried(caplog: pytest.LogCaptureFixture) -> None:
    """The counterpart: a transient connection error keeps its retries."""
    caplog.set_level(logging.INFO, logger="streamsafe")
    async with AsyncClient(api_key="k", base_url="http://127.0.0.1:9", backoff=FAST) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.messages.create(**params())
    assert info.value.retryable is True
    assert len(retry_records(caplog)) == 2


# ---------------------------------------------------------------------------
# bring your own httpx client
# ---------------------------------------------------------------------------


@pytest.fixture
def fresh_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget that the once-per-process keep-alive warning was already shown."""
    monkeypatch.setattr(streamsafe._client, "_warned_no_keepalive", False)


def runtime_warnings(record: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in record if issubclass(w.category, RuntimeWarning)]


@pytest.mark.usefixtures("fresh_warning")
async def test_http_client_without_keepalive_warns_once(emu: Emulator) -> None:
    async with httpx.AsyncClient() as first, httpx.AsyncClient() as second:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")  # "once" must not rely on the warnings registry
            line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
            AsyncClient(api_key=API_KEY, base_url=emu.url, http_client=first)
            AsyncClient(api_key=API_KEY, base_url=emu.url, http_client=second)
    [warning] = runtime_warnings(record)
    assert "keep-alive" in str(warning.message)
    assert "keepalive_transport()" in str(warning.message)
    # It points at the line that built the client.
    assert (warning.filename, warning.lineno) == (__file__, line)


@pytest.mark.usefixtures("fresh_warning")
def test_sync_http_client_without_keepalive_warns_once(emu: Emulator) -> None:
    with (
        httpx.Client() as first,
        httpx.Client() as second,
        warnings.catch_warnings(record=True) as record,
    ):
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        Client(api_key=API_KEY, base_url=emu.url, http_client=first)
        Client(api_key=API_KEY, base_url=emu.url, http_client=second)
    [warning] = runtime_warnings(record)
    assert (warning.filename, warning.lineno) == (__file__, line)


@pytest.mark.usefixtures("fresh_warning")
async def test_http_client_with_keepalive_is_used_and_left_open(emu: Emulator) -> None:
    async with httpx.AsyncClient(transport=streamsafe.transport.keepalive_transport()) as http:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            client = aclient(emu, http_client=http)
        async with client:
            assert client.http_client is http
            message = await client.messages.create(**params())
        assert not http.is_closed  # aclose() left the user's client alone
        again = await http.post(f"{emu.url}/v1/messages/count_tokens", json=params())
        assert again.status_code == 200
    assert message.request_id == emu.requests[0].request_id


@pytest.mark.usefixtures("fresh_warning")
def test_sync_http_client_with_keepalive_is_used_and_left_open(emu: Emulator) -> None:
    with httpx.Client(transport=streamsafe.transport.sync_keepalive_transport()) as http:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            client = sclient(emu, http_client=http)
        with client:
            client.messages.create(**params())
        assert not http.is_closed
    assert len(emu.requests) == 1


async def test_own_http_client_is_closed_by_aclose(emu: Emulator) -> None:
    client = aclient(emu)
    async with client:
        await client.messages.count_tokens(**params())
    assert client.http_client.is_closed


def test_sync_own_http_client_is_closed_by_close(emu: Emulator) -> None:
    with sclient(emu) as client:
        pass
    assert client.http_client.is_closed
