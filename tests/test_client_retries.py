"""Client retries over the real emulator: backoff, retry-after, x-should-retry, streams.

A stream is retried only while the caller has received no content from it
(``message_start`` and pings are held back until the first content block), so
a retried stream looks like one clean stream; once content was delivered the
typed error surfaces with its partial message and the request is never sent
again. Async tests run on asyncio and trio; the key cases have sync twins.
"""

from __future__ import annotations

import email.utils
import logging
import time

import anyio
import pytest

import streamsafe
from client_support import (
    AFTER_CONTENT,
    aclient,
    comparable,
    params,
    retry_records,
    sclient,
    text_of_first_events,
)
from streamsafe import (
    APIError,
    BadRequestError,
    IncompleteStreamError,
    Message,
    OverloadedError,
    RateLimitError,
    StreamEvent,
    StreamIdleTimeoutError,
)
from streamsafe.testing import Emulator

pytestmark = pytest.mark.anyio


class Clean:
    """What a clean stream of ``params()`` looks like: event types and final message."""

    def __init__(self, events: list[StreamEvent], message: Message) -> None:
        self.types = [type(event).__name__ for event in events]
        self.message = message


@pytest.fixture(scope="module")
def clean(emulator: Emulator) -> Clean:
    with sclient(emulator) as client, client.messages.stream(**params()) as stream:
        events = list(stream)
        message = stream.get_final_message()
    emulator.clear()
    return Clean(events, message)


@pytest.fixture(scope="module")
def expected_partial(emulator: Emulator) -> str:
    return text_of_first_events(emulator, AFTER_CONTENT)


@pytest.fixture
def retry_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="streamsafe")
    return caplog


def check_one_clean_stream(
    events: list[StreamEvent], message: Message, clean: Clean, emu: Emulator, attempts: int
) -> None:
    """The caller saw exactly one clean stream, served by the last of ``attempts`` requests."""
    assert [type(event).__name__ for event in events] == clean.types
    assert sum(isinstance(e, streamsafe.MessageStartEvent) for e in events) == 1
    assert sum(isinstance(e, streamsafe.MessageStopEvent) for e in events) == 1
    assert comparable(message) == comparable(clean.message)
    requests = emu.requests
    assert len(requests) == attempts
    assert message.request_id == requests[-1].request_id


# ---------------------------------------------------------------------------
# retry-after, retry-after-ms, x-should-retry
# ---------------------------------------------------------------------------


async def test_retry_after_seconds_is_honoured(emu: Emulator) -> None:
    emu.push_fault("status:529;retry_after=1", times=1)
    async with aclient(emu) as client:
        start = time.monotonic()
        message = await client.messages.create(**params())
        elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 3.0
    assert message.stop_reason == "end_turn"
    assert len(emu.requests) == 2


def test_sync_retry_after_seconds_is_honoured(emu: Emulator) -> None:
    emu.push_fault("status:429;retry_after=1", times=1)
    with sclient(emu) as client:
        start = time.monotonic()
        with client.messages.stream(**params()) as stream:
            stream.until_done()
        elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 3.0
    assert len(emu.requests) == 2


async def test_retry_after_ms_is_honoured_before_retry_after(emu: Emulator) -> None:
    # retry-after-ms wins: were retry-after (5 s) used, the call would take 5 s.
    emu.push_fault("status:529;retry_after_ms=500;retry_after=5", times=1)
    async with aclient(emu) as client:
        start = time.monotonic()
        with anyio.fail_after(4):
            async with client.messages.stream(**params()) as stream:
                await stream.until_done()
        elapsed = time.monotonic() - start
    assert 0.5 <= elapsed < 2.5
    assert len(emu.requests) == 2


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    "spec",
    [
        "status:529;retry_after=30",
        "status:429;retry_after_ms=30000",
        f"status:503;retry_after={http_date(3600)}",
    ],
)
async def test_retry_after_over_the_cap_raises_at_once(
    emu: Emulator, retry_log: pytest.LogCaptureFixture, spec: str
) -> None:
    emu.push_fault(spec, times=3)
    backoff = streamsafe.Backoff(initial=0.01, max_retry_after=5)
    async with aclient(emu, backoff=backoff) as client:
        start = time.monotonic()
        with pytest.raises(APIError) as info:
            await client.messages.create(**params())
        assert time.monotonic() - start < 0.5
    assert "max_retry_after=5 s" in info.value.message
    assert len(emu.requests) == 1
    assert retry_records(retry_log) == []


def test_sync_retry_after_over_the_cap_raises_at_once(emu: Emulator) -> None:
    emu.push_fault("status:529;retry_after=30", times=3)
    backoff = streamsafe.Backoff(initial=0.01, max_retry_after=5)
    with sclient(emu, backoff=backoff) as client:
        start = time.monotonic()
        with pytest.raises(OverloadedError):
            client.messages.create(**params())
        assert time.monotonic() - start < 0.5
    assert len(emu.requests) == 1


async def test_should_retry_false_stops_a_retryable_status(emu: Emulator) -> None:
    emu.push_fault("status:529;should_retry=false", times=3)
    async with aclient(emu) as client:
        with pytest.raises(OverloadedError) as info:
            await client.messages.create(**params())
    assert info.value.retryable is False
    assert len(emu.requests) == 1


async def test_should_retry_true_retries_a_bad_request(emu: Emulator) -> None:
    emu.push_fault("status:400;should_retry=true", times=1)
    async with aclient(emu) as client:
        message = await client.messages.create(**params())
    assert message.request_id == emu.requests[1].request_id
    assert len(emu.requests) == 2


def test_sync_should_retry_header_decides(emu: Emulator) -> None:
    with sclient(emu) as client:
        emu.push_fault("status:529;should_retry=false", times=3)
        with pytest.raises(OverloadedError):
            client.messages.create(**params())
        assert len(emu.requests) == 1
        emu.clear()
        emu.push_fault("status:400;should_retry=true", times=5)
        with pytest.raises(BadRequestError) as info:
            client.messages.create(**params())
        assert info.value.retryable is True
        assert len(emu.requests) == 3


async def test_bad_request_is_not_retried(emu: Emulator) -> None:
    emu.push_fault("status:400", times=3)
    async with aclient(emu) as client:
        with pytest.raises(BadRequestError):
            await client.messages.create(**params())
    assert len(emu.requests) == 1


async def test_backoff_waits_grow(emu: Emulator) -> None:
    """Without retry-after the configured backoff is used: 0.05 s, then 0.1 s."""
    emu.push_fault("status:529", times=2)
    backoff = streamsafe.Backoff(initial=0.05, multiplier=2, jitter=0)
    async with aclient(emu, backoff=backoff) as client:
        start = time.monotonic()
        await client.messages.create(**params())
        elapsed = time.monotonic() - start
    assert 0.15 <= elapsed < 1.5
    assert len(emu.requests) == 3


# ---------------------------------------------------------------------------
# streams: retried before content, never after
# ---------------------------------------------------------------------------

BEFORE_CONTENT = [
    "error:overloaded_error@0",
    "error:overloaded_error@1",  # after message_start
    "error:overloaded_error@2",  # after message_start and ping
    "error:rate_limit_error@2",
    "status:529",
    "truncate@2",
    "reset@2",
    "reset@start",
]


@pytest.mark.parametrize("spec", BEFORE_CONTENT)
async def test_stream_failing_before_content_is_retried_transparently(
    emu: Emulator, clean: Clean, retry_log: pytest.LogCaptureFixture, spec: str
) -> None:
    emu.push_fault(spec, times=1)
    async with aclient(emu) as client, client.messages.stream(**params()) as stream:
        events = [event async for event in stream]
        message = await stream.get_final_message()
    check_one_clean_stream(events, message, clean, emu, attempts=2)
    assert stream.request_id == emu.requests[1].request_id
    assert len(retry_records(retry_log)) == 1


@pytest.mark.parametrize(
    "spec", ["error:overloaded_error@1", "error:overloaded_error@2", "status:529"]
)
def test_sync_stream_failing_before_content_is_retried_transparently(
    emu: Emulator, clean: Clean, spec: str
) -> None:
    emu.push_fault(spec, times=1)
    with sclient(emu) as client, client.messages.stream(**params()) as stream:
        events = list(stream)
        message = stream.get_final_message()
    check_one_clean_stream(events, message, clean, emu, attempts=2)


async def test_create_failing_before_content_is_retried(emu: Emulator, clean: Clean) -> None:
    emu.push_fault("error:overloaded_error@2", times=2)
    async with aclient(emu) as client:
        message = await client.messages.create(**params())
    assert comparable(message) == comparable(clean.message)
    assert len(emu.requests) == 3


async def test_stream_stalling_before_content_is_retried(emu: Emulator, clean: Clean) -> None:
    """A read timeout before content is a connection error like any other: retried."""
    emu.push_fault("stall@2;seconds=5", times=1)
    async with aclient(emu, timeout=0.3) as client:
        start = time.monotonic()
        async with client.messages.stream(**params()) as stream:
            events = [event async for event in stream]
            message = await stream.get_final_message()
        assert time.monotonic() - start < 2.0
    check_one_clean_stream(events, message, clean, emu, attempts=2)


async def test_stream_pinging_before_content_is_retried(emu: Emulator, clean: Clean) -> None:
    """Only pings after message_start: the content watchdog fires, then a retry succeeds."""
    emu.push_fault("stall_pings@2;seconds=5;every=0.05", times=1)
    async with (
        aclient(emu, stream_idle_timeout=0.2) as client,
        client.messages.stream(**params()) as stream,
    ):
        events = [event async for event in stream]
        message = await stream.get_final_message()
    check_one_clean_stream(events, message, clean, emu, attempts=2)


async def collect(client: streamsafe.AsyncClient, events: list[StreamEvent]) -> None:
    async with client.messages.stream(**params()) as stream:
        async for event in stream:
            events.append(event)


AFTER_CONTENT_FAULTS = [
    "error:overloaded_error@3",  # right after the first content_block_start
    f"error:overloaded_error@{AFTER_CONTENT}",
    f"error:api_error@{AFTER_CONTENT}",
    f"truncate@{AFTER_CONTENT}",
    f"reset@{AFTER_CONTENT}",
    f"stall_pings@{AFTER_CONTENT};seconds=5;every=0.05",
]


@pytest.mark.parametrize("spec", AFTER_CONTENT_FAULTS)
async def test_stream_failing_after_content_is_not_retried(
    emu: Emulator, expected_partial: str, retry_log: pytest.LogCaptureFixture, spec: str
) -> None:
    emu.push_fault(spec, times=5)
    events: list[StreamEvent] = []
    async with aclient(emu, stream_idle_timeout=0.2) as client:
        with pytest.raises(APIError) as info:
            await collect(client, events)
    error = info.value
    assert error.retryable  # retryable in itself...
    [request] = emu.requests  # ...but content had been delivered: never sent again
    assert retry_records(retry_log) == []
    assert error.request_id == request.request_id
    assert error.partial_message is not None
    assert error.incomplete_blocks == (0,)
    assert sum(isinstance(e, streamsafe.MessageStartEvent) for e in events) == 1
    received = "".join(
        e.delta.text
        for e in events
        if isinstance(e, streamsafe.ContentBlockDeltaEvent)
        and isinstance(e.delta, streamsafe.TextDelta)
    )
    assert error.partial_message.text == received
    if spec.startswith("error:overloaded_error@3"):
        assert type(error) is OverloadedError
        assert received == ""
    elif spec.startswith("error:overloaded_error"):
        assert type(error) is OverloadedError
        assert received == expected_partial
    elif spec.startswith("truncate"):
        assert type(error) is IncompleteStreamError
    elif spec.startswith("stall_pings"):
        assert type(error) is StreamIdleTimeoutError


def test_sync_stream_failing_after_content_is_not_retried(
    emu: Emulator, expected_partial: str
) -> None:
    emu.push_fault(f"error:overloaded_error@{AFTER_CONTENT}", times=5)
    received: list[str] = []
    with (
        sclient(emu) as client,
        pytest.raises(OverloadedError) as info,
        client.messages.stream(**params()) as stream,
    ):
        received.extend(stream.text_stream)
    assert "".join(received) == expected_partial
    assert info.value.partial_message is not None
    assert info.value.partial_message.text == expected_partial
    assert len(emu.requests) == 1


def test_sync_stream_pinging_after_content_raises_idle_timeout(emu: Emulator) -> None:
    emu.push_fault(f"stall_pings@{AFTER_CONTENT};seconds=5;every=0.05", times=5)
    with sclient(emu, stream_idle_timeout=0.2, max_retries=0) as client:
        start = time.monotonic()
        with pytest.raises(StreamIdleTimeoutError) as info:
            client.messages.create(**params())
        assert time.monotonic() - start < 1.5
    assert info.value.partial_message is not None
    assert len(emu.requests) == 1


CREATE_RETRIED_AFTER_CONTENT = [
    f"error:overloaded_error@{AFTER_CONTENT}",
    f"truncate@{AFTER_CONTENT}",
    f"reset@{AFTER_CONTENT}",
]


@pytest.mark.parametrize("spec", CREATE_RETRIED_AFTER_CONTENT)
async def test_create_retries_after_content_and_starts_over(
    emu: Emulator, retry_log: pytest.LogCaptureFixture, spec: str
) -> None:
    # create() hands over nothing before the message is complete: a retryable
    # failure mid-stream starts the request over, invisibly.
    async with aclient(emu) as client:
        clean = await client.messages.create(**params())
        emu.clear()
        emu.push_fault(spec, times=1)
        message = await client.messages.create(**params())
    assert len(emu.requests) == 2
    assert len(retry_records(retry_log)) == 1
    assert message.text == clean.text
    assert message.stop_reason == clean.stop_reason


async def test_create_after_content_gives_up_with_the_last_partial(emu: Emulator) -> None:
    emu.push_fault(f"error:overloaded_error@{AFTER_CONTENT}", times=5)
    async with aclient(emu, max_retries=2) as client:
        with pytest.raises(OverloadedError) as info:
            await client.messages.create(**params())
    assert len(emu.requests) == 3
    assert info.value.partial_message is not None
    assert info.value.partial_message.text
    assert info.value.request_id == emu.requests[-1].request_id


def test_sync_create_retries_after_content(emu: Emulator) -> None:
    with sclient(emu) as client:
        emu.push_fault(f"error:overloaded_error@{AFTER_CONTENT}", times=1)
        message = client.messages.create(**params())
    assert len(emu.requests) == 2
    assert message.stop_reason is not None


# ---------------------------------------------------------------------------
# max_retries
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["error:overloaded_error@1", "status:529"])
async def test_max_retries_exhausted(
    emu: Emulator, retry_log: pytest.LogCaptureFixture, spec: str
) -> None:
    emu.push_fault(spec, times=5)
    async with aclient(emu, max_retries=2) as client:
        with pytest.raises(OverloadedError) as info:
            async with client.messages.stream(**params()):
                pass  # pragma: no cover
    requests = emu.requests
    assert len(requests) == 3
    assert info.value.request_id == requests[-1].request_id
    assert len(emu.pending_faults) == 2
    assert len(retry_records(retry_log)) == 2


def test_sync_max_retries_exhausted(emu: Emulator) -> None:
    emu.push_fault("status:529", times=5)
    with sclient(emu, max_retries=2) as client, pytest.raises(OverloadedError):
        client.messages.create(**params())
    assert len(emu.requests) == 3


@pytest.mark.parametrize("max_retries", [0, 1, 4])
async def test_max_retries_bounds_the_attempts(emu: Emulator, max_retries: int) -> None:
    emu.push_fault("status:529", times=10)
    async with aclient(emu, max_retries=max_retries) as client:
        with pytest.raises(OverloadedError):
            await client.messages.create(**params())
    assert len(emu.requests) == max_retries + 1


async def test_count_tokens_is_retried(emu: Emulator) -> None:
    fault = {"x-streamsafe-fault": "status:429"}  # on every attempt
    async with aclient(emu, max_retries=2) as client:
        with pytest.raises(RateLimitError):
            await client.messages.count_tokens(**params(), extra_headers=fault)
    assert [r.path for r in emu.requests] == ["/v1/messages/count_tokens"] * 3


# ---------------------------------------------------------------------------
# logging
# ---------------------------------------------------------------------------


async def test_every_retry_logs_one_line_with_the_request_id(
    emu: Emulator, retry_log: pytest.LogCaptureFixture
) -> None:
    emu.push_fault("status:529", times=1)
    emu.push_fault("error:overloaded_error@2", times=1)
    async with aclient(emu) as client:
        await client.messages.create(**params())
    failed = [r.request_id for r in emu.requests[:2]]
    records = [r for r in retry_log.records if r.name == "streamsafe"]
    assert len(records) == 2
    for record, request_id in zip(records, failed, strict=True):
        text = record.getMessage()
        assert request_id in text
        assert "OverloadedError" in text
        assert record.levelno >= logging.INFO


def test_sync_every_retry_logs_one_line_with_the_request_id(
    emu: Emulator, retry_log: pytest.LogCaptureFixture
) -> None:
    emu.push_fault("status:529", times=2)
    with sclient(emu) as client:
        client.messages.create(**params())
    failed = [r.request_id for r in emu.requests[:2]]
    records = [r for r in retry_log.records if r.name == "streamsafe"]
    assert len(records) == 2
    for record, request_id in zip(records, failed, strict=True):
        assert request_id in record.getMessage()


async def test_no_retry_no_log_line(emu: Emulator, retry_log: pytest.LogCaptureFixture) -> None:
    async with aclient(emu) as client:
        await client.messages.create(**params())
    assert [r for r in retry_log.records if r.name == "streamsafe"] == []
