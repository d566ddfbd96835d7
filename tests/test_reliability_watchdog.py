"""The two timers, and retries under faults, over real loopback TCP.

* The byte-level **read timeout** catches a connection that sends nothing.
* The **content watchdog** (``stream_idle_timeout``) catches a stream that
  keeps sending pings or comments but no content: ``StreamIdleTimeoutError``
  (an ``APITimeoutError``) with the partial message, within the limit + 1 s.
  A slow drip of content, each event inside the limit, never trips it.
* Retries happen only before content, honour ``retry-after`` up to a cap and
  ``x-should-retry``, and stay invisible to the caller.

Async (asyncio and trio) and sync clients, and the low-level
``aconnect_message_stream`` / ``connect_message_stream``.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

import streamsafe
from reliability_support import (
    API_KEY,
    SMALL_REQUEST,
    JSONDict,
    async_client,
    busy_connections,
    expected_partial,
    fault,
    fetch_clean_events,
    outcome,
    sync_client,
    sync_outcome,
)
from streamsafe import (
    APIError,
    APITimeoutError,
    Backoff,
    BadRequestError,
    OverloadedError,
    StreamIdleTimeoutError,
)
from streamsafe.testing import DELAY_HEADER, Emulator

pytestmark = pytest.mark.anyio

GUARD = 15.0
LIMIT = 0.6


@pytest.fixture(autouse=True)
def _fresh_queue(emulator: Emulator) -> None:
    emulator.clear()


def body(request: JSONDict) -> JSONDict:
    return {**request, "stream": True}


def url(emulator: Emulator) -> str:
    return f"{emulator.url}/v1/messages"


HEADERS = {"x-api-key": API_KEY}

# After message_start and its ping, only pings (every 0.1 s) for 30 s.
PING_ONLY = "stall_pings@2;seconds=30;every=0.1"
# After the first text delta, only pings.
PINGS_AFTER_CONTENT = "stall_pings@4;seconds=30;every=0.1"
# After the first text delta, SSE comments every 0.1 s and nothing else.
COMMENTS_HEAD = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_c","type":"message",'
    b'"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Thinking hard"}}\n\n'
)
# The emulator sends a raw body in equal chunks: one chunk for the head, then
# one comment (padded to the same size) per chunk, 0.1 s apart.
CHUNK = len(COMMENTS_HEAD)
COMMENTS = COMMENTS_HEAD + (b": still here" + b"." * (CHUNK - 14) + b"\n\n") * 30


# -- the content watchdog trips on pings and comments -----------------------------------------
#
# Each test runs its scenarios concurrently (sync ones in worker threads): every
# scenario measures its own time, and the suite pays for the slowest only.

LAMP: JSONDict = {**SMALL_REQUEST, "messages": [{"role": "user", "content": "lamp"}]}


async def timed_async(
    emulator: Emulator, spec: str | None, request: JSONDict = LAMP, **options: Any
) -> tuple[APIError | None, float]:
    async with async_client(emulator, **options) as client:
        started = time.monotonic()
        _, error, _ = await outcome(client, spec, request)
        elapsed = time.monotonic() - started
        assert busy_connections(client) == []
    return error, elapsed


def timed_sync(
    emulator: Emulator, spec: str | None, request: JSONDict = LAMP, **options: Any
) -> tuple[APIError | None, float]:
    with sync_client(emulator, **options) as client:
        started = time.monotonic()
        _, error, _ = sync_outcome(client, spec, request)
        elapsed = time.monotonic() - started
        assert busy_connections(client) == []
    return error, elapsed


async def timed_low_level(emulator: Emulator, spec: str) -> tuple[APIError | None, float]:
    async with streamsafe.default_async_client() as http:
        started = time.monotonic()
        try:
            async with streamsafe.aconnect_message_stream(
                http,
                "POST",
                url(emulator),
                json=body(LAMP),
                headers={**HEADERS, **fault(spec)},
                stream_idle_timeout=LIMIT,
            ) as stream:
                await stream.get_final_message()
        except APIError as error:
            return error, time.monotonic() - started
    return None, time.monotonic() - started


def timed_sync_low_level(emulator: Emulator, spec: str) -> tuple[APIError | None, float]:
    with streamsafe.default_sync_client() as http:
        started = time.monotonic()
        try:
            with streamsafe.connect_message_stream(
                http,
                "POST",
                url(emulator),
                json=body(LAMP),
                headers={**HEADERS, **fault(spec)},
                stream_idle_timeout=LIMIT,
            ) as stream:
                stream.get_final_message()
        except APIError as error:
            return error, time.monotonic() - started
    return None, time.monotonic() - started


async def run_all(scenarios: dict[str, Any]) -> dict[str, tuple[APIError | None, float]]:
    """Run ``name -> coroutine function or ("sync", function)`` concurrently."""
    results: dict[str, tuple[APIError | None, float]] = {}

    async def one(name: str, scenario: Any) -> None:
        if isinstance(scenario, tuple):
            results[name] = await anyio.to_thread.run_sync(scenario[1])
        else:
            results[name] = await scenario()

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as group:
            for name, scenario in scenarios.items():
                group.start_soon(one, name, scenario)
    return results


def lamp_text(emulator: Emulator, count: int) -> str:
    clean = fetch_clean_events(emulator, LAMP)
    expected, _ = expected_partial(clean, count, message_id=None, request_id=None)
    assert expected is not None
    return "".join(block.get("text", "") for block in expected["content"])


async def test_pings_and_comments_only_trip_the_watchdog(emulator: Emulator) -> None:
    first_delta = lamp_text(emulator, 4)
    emulator.clear()
    for _ in range(2):  # one for the async and one for the sync comments scenario
        emulator.push_raw_stream(COMMENTS, chunk_size=CHUNK, chunk_delay=0.1)
    on = {"stream_idle_timeout": LIMIT}
    scenarios: dict[str, Any] = {
        "async, pings only": lambda: timed_async(emulator, PING_ONLY, **on),
        "async, pings after content": lambda: timed_async(emulator, PINGS_AFTER_CONTENT, **on),
        "async, comments after content": lambda: timed_async(emulator, None, **on),
        "low-level, pings after content": lambda: timed_low_level(emulator, PINGS_AFTER_CONTENT),
        "sync, pings only": ("sync", lambda: timed_sync(emulator, PING_ONLY, **on)),
        "sync, pings after content": (
            "sync",
            lambda: timed_sync(emulator, PINGS_AFTER_CONTENT, **on),
        ),
        "sync, comments after content": ("sync", lambda: timed_sync(emulator, None, **on)),
        "sync low-level, pings after content": (
            "sync",
            lambda: timed_sync_low_level(emulator, PINGS_AFTER_CONTENT),
        ),
    }
    results = await run_all(scenarios)
    for name, (error, elapsed) in results.items():
        assert type(error) is StreamIdleTimeoutError, name
        assert isinstance(error, APITimeoutError), name
        assert "stream_idle_timeout" in error.message, name
        # The sync watchdog is checked as chunks arrive: a ping every 0.1 s.
        assert LIMIT <= elapsed < LIMIT + 1.0, (name, elapsed)
        assert error.request_id is not None, name
        partial = error.partial_message
        assert partial is not None, name
        if "pings only" in name:
            assert partial.content == [], name
            assert error.incomplete_blocks == (), name
        else:
            expected = "Thinking hard" if "comments" in name else first_delta
            assert partial.text == expected, name
            assert error.incomplete_blocks == (0,), name


# -- None disables it; the default is 300 s -------------------------------------------------


def test_the_default_watchdog_is_300_seconds() -> None:
    assert streamsafe.DEFAULT_STREAM_IDLE_TIMEOUT == 300.0
    client = streamsafe.Client(api_key=API_KEY)
    try:
        assert client._config.stream_idle_timeout == 300.0
    finally:
        client.close()


async def test_none_disables_the_watchdog(emulator: Emulator) -> None:
    # 1.2 s of pings only (twice the limit used elsewhere), then the stream completes.
    spec = "stall_pings@4;seconds=1.2;every=0.1"
    off = {"stream_idle_timeout": None}
    results = await run_all(
        {
            "async": lambda: timed_async(emulator, spec, **off),
            "sync": ("sync", lambda: timed_sync(emulator, spec, **off)),
        }
    )
    for name, (error, elapsed) in results.items():
        assert error is None, name
        assert elapsed >= 1.2, name


# -- a slow drip of content does not trip it -------------------------------------------------

DRIP_REQUEST: JSONDict = {
    "model": "claude-emulated",
    "max_tokens": 12,
    "messages": [{"role": "user", "content": "Tell me slowly"}],
}
DRIP_DELAY_MS = 200  # between events: each content event well inside the 0.6 s limit


async def test_a_slow_drip_of_content_never_trips_the_watchdog(emulator: Emulator) -> None:
    """Async client, low-level stream and sync client at once, each several limits long."""
    clean = fetch_clean_events(emulator, DRIP_REQUEST)
    assert (len(clean) - 1) * DRIP_DELAY_MS / 1000 > 3.5 * LIMIT
    drip = {DELAY_HEADER: str(DRIP_DELAY_MS)}
    results: dict[str, Any] = {}

    async def with_client() -> None:
        async with (
            async_client(emulator, stream_idle_timeout=LIMIT) as client,
            client.messages.stream(**DRIP_REQUEST, extra_headers=drip) as stream,
        ):
            results["client"] = await stream.get_final_message()

    async def low_level() -> None:
        async with (
            streamsafe.default_async_client() as http,
            streamsafe.aconnect_message_stream(
                http,
                "POST",
                url(emulator),
                json=body(DRIP_REQUEST),
                headers={**HEADERS, **drip},
                stream_idle_timeout=LIMIT,
            ) as stream,
        ):
            results["low-level"] = await stream.get_final_message()

    def sync() -> None:
        with (
            sync_client(emulator, stream_idle_timeout=LIMIT) as client,
            client.messages.stream(**DRIP_REQUEST, extra_headers=drip) as stream,
        ):
            results["sync"] = stream.get_final_message()

    started = time.monotonic()
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as group:
            group.start_soon(with_client)
            group.start_soon(low_level)
            group.start_soon(anyio.to_thread.run_sync, sync)
    assert time.monotonic() - started > 3.5 * LIMIT
    expected, _ = expected_partial(clean, len(clean), message_id=None, request_id=None)
    assert expected is not None
    for name in ("client", "low-level", "sync"):
        message = results[name]
        assert message.to_dict() == {**expected, "id": message.id}, name


# -- a silent connection is the read timeout's job ------------------------------------------


async def test_a_silent_connection_trips_the_read_timeout(emulator: Emulator) -> None:
    """Read timeout 0.4 s, watchdog 2 s: the read timeout fires (async and sync).

    With the watchdog below the read timeout, the request's read timeout is
    lowered to the watchdog's (silence is no content either): a silent
    connection then raises StreamIdleTimeoutError at the watchdog's limit,
    async and sync alike, with the httpx ReadTimeout as its cause.
    """
    silent = "stall@4;seconds=30"
    read = {"timeout": httpx.Timeout(5.0, read=0.4), "stream_idle_timeout": 2.0}
    idle = {"timeout": httpx.Timeout(5.0, read=1.2), "stream_idle_timeout": LIMIT}
    results = await run_all(
        {
            "async, read timeout first": lambda: timed_async(emulator, silent, **read),
            "sync, read timeout first": (
                "sync",
                lambda: timed_sync(emulator, silent, **read),
            ),
            "async, watchdog first": lambda: timed_async(emulator, silent, **idle),
            "sync, watchdog first": (
                "sync",
                lambda: timed_sync(emulator, silent, **idle),
            ),
        }
    )
    expectations = {
        "async, read timeout first": (APITimeoutError, 0.4),
        "sync, read timeout first": (APITimeoutError, 0.4),
        "async, watchdog first": (StreamIdleTimeoutError, LIMIT),
        "sync, watchdog first": (StreamIdleTimeoutError, LIMIT),
    }
    for name, (error, elapsed) in results.items():
        kind, after = expectations[name]
        assert type(error) is kind, name
        assert after <= elapsed < after + 1.0, (name, elapsed)
        assert isinstance(error.__cause__, httpx.ReadTimeout), name
        assert error.partial_message is not None, name
        assert error.incomplete_blocks == (0,), name


# -- retries under faults ----------------------------------------------------------------------

FAST = Backoff(initial=0.01, maximum=0.02, jitter=0.0)


@pytest.mark.parametrize("spec", ["error:overloaded_error@0", "error:overloaded_error@2"])
async def test_overloaded_before_content_is_retried_invisibly(
    emulator: Emulator, spec: str
) -> None:
    clean = fetch_clean_events(emulator)
    emulator.clear()
    emulator.push_fault(spec)
    async with async_client(emulator, max_retries=2, backoff=FAST) as client:
        with anyio.fail_after(GUARD):
            seen, error, message = await outcome(client)
        assert busy_connections(client) == []
    assert error is None
    assert message is not None
    assert [e.type for e in seen].count("message_start") == 1
    assert len(seen) == len(clean)
    expected, _ = expected_partial(
        clean, len(clean), message_id=message.id, request_id=message.request_id
    )
    assert message.to_dict() == expected
    requests = emulator.requests
    assert len(requests) == 2
    assert requests[0].fault is not None
    assert requests[1].fault is None
    assert message.request_id == requests[1].request_id  # the stream the caller saw


def test_sync_overloaded_before_content_is_retried_invisibly(emulator: Emulator) -> None:
    emulator.push_fault("error:overloaded_error@0")
    with sync_client(emulator, max_retries=2, backoff=FAST) as client:
        seen, error, message = sync_outcome(client)
    assert error is None
    assert message is not None
    assert [e.type for e in seen].count("message_start") == 1
    assert len(emulator.requests) == 2


async def test_overloaded_after_content_is_never_retried(emulator: Emulator) -> None:
    emulator.push_fault("error:overloaded_error@9", times=3)
    async with async_client(emulator, max_retries=2, backoff=FAST) as client:
        with anyio.fail_after(GUARD):
            _, error, _ = await outcome(client)
    assert type(error) is OverloadedError
    assert error.retryable  # retryable in general, but content was already delivered
    assert error.partial_message is not None
    assert error.partial_message.content
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("header", ["retry_after=3600", "retry_after=61", "retry_after_ms=90000"])
async def test_retry_after_above_the_cap_raises_at_once(emulator: Emulator, header: str) -> None:
    emulator.push_fault(f"status:529;{header}", times=3)
    async with async_client(emulator, max_retries=2, backoff=FAST) as client:
        started = time.monotonic()
        with anyio.fail_after(GUARD):
            _, error, _ = await outcome(client, None, SMALL_REQUEST)
        elapsed = time.monotonic() - started
    assert type(error) is OverloadedError
    assert elapsed < 1.0
    assert "max_retry_after=60" in error.message
    assert len(emulator.requests) == 1


async def test_retry_after_within_the_cap_is_honoured(emulator: Emulator) -> None:
    emulator.push_fault("status:529;retry_after=0.3")
    async with async_client(emulator, max_retries=2, backoff=FAST) as client:
        started = time.monotonic()
        with anyio.fail_after(GUARD):
            _, error, message = await outcome(client, None, SMALL_REQUEST)
        elapsed = time.monotonic() - started
    assert error is None
    assert message is not None
    assert 0.3 <= elapsed < 1.3
    assert len(emulator.requests) == 2


async def test_x_should_retry_false_is_obeyed(emulator: Emulator) -> None:
    emulator.push_fault("status:529;should_retry=false", times=3)
    async with async_client(emulator, max_retries=2, backoff=FAST) as client:
        with anyio.fail_after(GUARD):
            _, error, _ = await outcome(client, None, SMALL_REQUEST)
    assert type(error) is OverloadedError
    assert error.retryable is False
    assert len(emulator.requests) == 1


async def test_x_should_retry_true_is_obeyed(emulator: Emulator) -> None:
    emulator.push_fault("status:400;should_retry=true")
    async with async_client(emulator, max_retries=2, backoff=FAST) as client:
        with anyio.fail_after(GUARD):
            _, error, message = await outcome(client, None, SMALL_REQUEST)
    assert error is None
    assert message is not None
    assert len(emulator.requests) == 2


async def test_a_bad_request_is_not_retried(emulator: Emulator) -> None:
    emulator.push_fault("status:400", times=3)
    async with async_client(emulator, max_retries=2, backoff=FAST) as client:
        with anyio.fail_after(GUARD):
            _, error, _ = await outcome(client, None, SMALL_REQUEST)
    assert type(error) is BadRequestError
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("spec", ["reset@start", "reset@1", "truncate@2", "stall@1;seconds=30"])
async def test_connection_failures_before_content_are_retried(
    emulator: Emulator, spec: str
) -> None:
    emulator.push_fault(spec)
    timeout = httpx.Timeout(5.0, read=0.3)
    async with async_client(emulator, max_retries=2, backoff=FAST, timeout=timeout) as client:
        with anyio.fail_after(GUARD):
            seen, error, message = await outcome(client, None, SMALL_REQUEST)
        assert busy_connections(client) == []
    assert error is None
    assert message is not None
    assert [e.type for e in seen].count("message_start") == 1
    assert len(emulator.requests) == 2


async def test_retries_give_up_after_max_retries(emulator: Emulator) -> None:
    emulator.push_fault("error:overloaded_error@0", times=5)
    async with async_client(emulator, max_retries=2, backoff=FAST) as client:
        with anyio.fail_after(GUARD):
            _, error, _ = await outcome(client, None, SMALL_REQUEST)
    assert type(error) is OverloadedError
    assert error.in_stream
    assert len(emulator.requests) == 3
