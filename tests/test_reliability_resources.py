"""Resources: no connection stays checked out, no file descriptor leaks.

* 1,000 streams failing in every way (in-stream errors, truncation, resets,
  error statuses, wrong content, malformed and oversize events, the caller
  breaking out, raising, cancelling; plus stalls caught by the read timeout
  and by the watchdog), first one after another, then 100 at a time. After
  each run no request is queued or active in any of the client's httpcore
  pools (the default client shards its connections over several), and once
  the client is closed the process has no more open file descriptors than
  before.
* Each way a caller can abandon a stream closes its response: a cancel scope
  or ``move_on_after`` mid-iteration, a cancellation while the stream is
  being opened or while a retry waits, ``break``, an exception in the loop
  body, and garbage collection of a stream that was never closed (a
  ``ResourceWarning``, and the response is closed anyway).
"""

from __future__ import annotations

import gc
import os
import time
import warnings
import weakref

import anyio
import httpx
import pytest

import streamsafe
from reliability_support import (
    REQUEST,
    SMALL_REQUEST,
    async_client,
    busy_connections,
    fault,
    open_fds,
    pool_connections,
    sync_client,
)
from streamsafe import (
    APIConnectionError,
    APIError,
    Backoff,
    BadRequestError,
    ContentBlockDeltaEvent,
    EventTooLargeError,
    IncompleteStreamError,
    InternalServerError,
    MalformedEventError,
    OverloadedError,
    UnexpectedContentTypeError,
)
from streamsafe.testing import DELAY_HEADER, Emulator

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd"),
]

GUARD = 30.0

MALFORMED = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_r","type":'
    b'"message","role":"assistant","model":"m","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{\n\n'
)
#: With the clients' max_event_bytes of 4 KiB.
OVERSIZE = MALFORMED.rsplit(b"event: content_block_delta", 1)[0] + b"data: " + b"x" * 10_000
MAX_EVENT_BYTES = 4096


class Boom(Exception):
    """Raised by a caller's loop body."""


#: Failures the emulator produces per request (header), with the error each must raise.
HEADER_KINDS: dict[str, type[APIError]] = {
    "error:overloaded_error@5": OverloadedError,
    "error:invalid_request_error@2": BadRequestError,  # before content: while opening
    "truncate@5": IncompleteStreamError,
    "truncate_bytes@333": IncompleteStreamError,
    "reset@5": APIConnectionError,
    "reset@start": APIConnectionError,
    "truncate@start": APIConnectionError,
    "status:529": OverloadedError,
    "html:502": InternalServerError,
    "empty:503": streamsafe.ServiceUnavailableError,  # an InternalServerError
    "content_type:text/html": UnexpectedContentTypeError,
    "empty_200": IncompleteStreamError,
}
#: Bodies served from the emulator's queue.
RAW_KINDS: dict[str, tuple[bytes, type[APIError]]] = {
    "raw:malformed": (MALFORMED, MalformedEventError),
    "raw:oversize": (OVERSIZE, EventTooLargeError),
}
#: Ways the caller ends a clean stream early.
CALLER_KINDS = ("caller:break", "caller:raise", "caller:cancel")
#: Stalls, served to a client with tight timers (read 0.1 s, watchdog 0.15 s).
TIMER_KINDS = ("stall@5;seconds=30", "stall_pings@5;seconds=30;every=0.03")
FAST_KINDS = [*HEADER_KINDS, *RAW_KINDS, *CALLER_KINDS]


@pytest.fixture(autouse=True)
def _fresh_queue(emulator: Emulator) -> None:
    emulator.clear()


async def one_stream(client: streamsafe.AsyncClient, kind: str) -> str:
    """Open, read and abandon one stream of ``kind``; return what happened (for asserts)."""
    # Raw bodies come from the emulator's queue (no header); the others must
    # not pop from it ("none" asks for a clean stream).
    spec = "none" if kind.startswith("caller:") else kind
    headers = {} if kind.startswith("raw:") else fault(spec)
    try:
        with anyio.CancelScope() as scope:
            async with client.messages.stream(**SMALL_REQUEST, extra_headers=headers) as stream:
                async for event in stream:
                    if isinstance(event, ContentBlockDeltaEvent):
                        if kind == "caller:break":
                            return "broke off"  # leaves the loop and the block
                        if kind == "caller:raise":
                            raise Boom
                        if kind == "caller:cancel":
                            scope.cancel()
                            await anyio.sleep(1)  # cancelled here
                await stream.get_final_message()
    except Boom:
        return "Boom"
    except APIError as error:
        return type(error).__name__
    if scope.cancelled_caught:
        return "cancelled"
    return "complete"


CALLER_OUTCOMES = {
    "caller:break": "broke off",
    "caller:raise": "Boom",
    "caller:cancel": "cancelled",
}


def expected_outcome(kind: str) -> set[str]:
    if kind in HEADER_KINDS:
        return {HEADER_KINDS[kind].__name__}
    if kind in RAW_KINDS:
        return {RAW_KINDS[kind][1].__name__}
    if kind in TIMER_KINDS:
        # The watchdog for stall_pings; under heavy load a 0.1 s gap before the
        # stall can also trip the read timeout: both are APITimeoutErrors.
        return {"APITimeoutError", "StreamIdleTimeoutError"}
    return {CALLER_OUTCOMES[kind]}


def clients(emulator: Emulator) -> tuple[streamsafe.AsyncClient, streamsafe.AsyncClient]:
    fast = async_client(
        emulator, timeout=httpx.Timeout(5.0, read=5.0), max_event_bytes=MAX_EVENT_BYTES
    )
    tight = async_client(emulator, timeout=httpx.Timeout(5.0, read=0.1), stream_idle_timeout=0.15)
    return fast, tight


async def settle_fds(baseline: int) -> int:
    """Open fds once the emulator has closed its side of the connections (bounded wait)."""
    deadline = time.monotonic() + 5.0
    count = open_fds()
    while count > baseline and time.monotonic() < deadline:
        await anyio.sleep(0.02)
        count = open_fds()
    return count


async def test_a_thousand_failing_streams_in_sequence_leak_nothing(emulator: Emulator) -> None:
    baseline = open_fds()
    fast, tight = clients(emulator)
    async with fast, tight:
        tally: dict[str, int] = {}
        with anyio.fail_after(GUARD):
            for n in range(1000):
                kind = FAST_KINDS[n % len(FAST_KINDS)]
                if kind in RAW_KINDS:
                    emulator.push_raw_stream(RAW_KINDS[kind][0])
                result = await one_stream(fast, kind)
                assert result in expected_outcome(kind), (n, kind, result)
                tally[kind] = tally.get(kind, 0) + 1
            for n in range(12):
                kind = TIMER_KINDS[n % 2]
                result = await one_stream(tight, kind)
                assert result in expected_outcome(kind), (n, kind, result)
        assert min(tally.values()) >= 1000 // len(FAST_KINDS)
        assert busy_connections(fast) == []
        assert busy_connections(tight) == []
        assert pool_connections(fast) <= 8
    assert await settle_fds(baseline) <= baseline


async def test_a_thousand_failing_streams_a_hundred_at_a_time_leak_nothing(
    emulator: Emulator,
) -> None:
    baseline = open_fds()
    fast, tight = clients(emulator)
    kinds = [*FAST_KINDS, *TIMER_KINDS]
    async with fast, tight:
        failures: list[tuple[int, str, str]] = []

        async def run(n: int, kind: str) -> None:
            client = tight if kind in TIMER_KINDS else fast
            result = await one_stream(client, kind)
            if result not in expected_outcome(kind):
                failures.append((n, kind, result))

        with anyio.fail_after(GUARD):
            for wave in range(10):
                # One kind of raw body per wave: which request pops which is not fixed.
                raw = list(RAW_KINDS)[wave % 2]
                wave_kinds = [
                    raw if k in RAW_KINDS else k
                    for k in (kinds[(wave * 100 + i) % len(kinds)] for i in range(100))
                ]
                for _ in range(wave_kinds.count(raw)):
                    emulator.push_raw_stream(RAW_KINDS[raw][0])
                async with anyio.create_task_group() as group:
                    for i, kind in enumerate(wave_kinds):
                        group.start_soon(run, wave * 100 + i, kind)
                assert busy_connections(fast) == [], wave
                assert busy_connections(tight) == [], wave
        assert failures == []
        assert emulator.pending_faults == []
    assert await settle_fds(baseline) <= baseline


# -- abandoning a stream, one way at a time --------------------------------------------------

SLOW = {DELAY_HEADER: "20"}  # 20 ms between events: ~0.6 s for REQUEST


def assert_released(client: streamsafe.AsyncClient | streamsafe.Client) -> None:
    assert busy_connections(client) == []


async def test_move_on_after_mid_iteration_closes_the_response(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        seen = 0
        with anyio.fail_after(GUARD), anyio.move_on_after(GUARD / 2) as scope:
            async with client.messages.stream(**REQUEST, extra_headers=SLOW) as stream:
                async for _ in stream:
                    seen += 1
                    if seen == 5:
                        # The deadline expires in the middle of the stream (event-driven:
                        # a busy machine must not decide where it falls).
                        scope.deadline = anyio.current_time()
        assert scope.cancelled_caught
        assert 5 <= seen < 32  # stopped in the middle (events already read may still arrive)
        assert stream.response.is_closed
        assert_released(client)


async def test_cancel_from_another_task_closes_the_response(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        opened: list[streamsafe.AsyncMessageStream] = []

        async def consume() -> None:
            async with client.messages.stream(**REQUEST, extra_headers=SLOW) as stream:
                opened.append(stream)
                await stream.until_done()

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                group.start_soon(consume)
                await anyio.sleep(0.2)
                group.cancel_scope.cancel()
        assert opened
        assert opened[0].response.is_closed
        assert_released(client)


@pytest.mark.parametrize("spec", ["stall@1;seconds=30", "stall@start;seconds=30"])
async def test_cancel_while_the_stream_opens_releases_the_connection(
    emulator: Emulator, spec: str
) -> None:
    async with async_client(emulator) as client:
        with anyio.fail_after(GUARD), anyio.move_on_after(0.2) as scope:
            async with client.messages.stream(**REQUEST, extra_headers=fault(spec)):
                pytest.fail("the stream cannot open: the server stalls")
        assert scope.cancelled_caught
        assert_released(client)


async def test_cancel_while_a_retry_waits_releases_the_connection(emulator: Emulator) -> None:
    emulator.push_fault("status:529")
    backoff = Backoff(initial=30.0, maximum=30.0, jitter=0.0)
    async with async_client(emulator, max_retries=2, backoff=backoff) as client:
        with anyio.fail_after(GUARD), anyio.move_on_after(0.3) as scope:
            await client.messages.create(**SMALL_REQUEST)
        assert scope.cancelled_caught
        assert len(emulator.requests) == 1
        assert_released(client)


async def test_break_closes_the_response(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        with anyio.fail_after(GUARD):
            async with client.messages.stream(**REQUEST, extra_headers=SLOW) as stream:
                async for event in stream:
                    if isinstance(event, ContentBlockDeltaEvent):
                        break
                assert not stream.response.is_closed  # still open inside the block
        assert stream.response.is_closed
        assert_released(client)


async def test_an_exception_in_the_loop_body_closes_the_response(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        with anyio.fail_after(GUARD), pytest.raises(Boom):  # noqa: PT012
            async with client.messages.stream(**REQUEST, extra_headers=SLOW) as stream:
                async for event in stream:
                    if isinstance(event, ContentBlockDeltaEvent):
                        raise Boom
        assert stream.response.is_closed
        assert_released(client)


@pytest.mark.parametrize("how", ["awaited stream()", "create(stream=True)"])
async def test_garbage_collected_stream_is_closed_with_a_resource_warning(
    emulator: Emulator, how: str
) -> None:
    async with async_client(emulator) as client:
        with anyio.fail_after(GUARD):
            if how == "create(stream=True)":
                stream = await client.messages.create(stream=True, **REQUEST, extra_headers=SLOW)
            else:
                stream = await client.messages.stream(**REQUEST, extra_headers=SLOW)
            async for event in stream:
                if isinstance(event, ContentBlockDeltaEvent):
                    break
        assert busy_connections(client) != []
        response = stream.response
        with pytest.warns(ResourceWarning, match="unclosed AsyncMessageStream"):  # noqa: PT031
            del stream, event  # the last reference: collected right here
            gc.collect()
        # The event loop finalizes the abandoned generators on its next turns.
        with anyio.fail_after(2.0):
            while busy_connections(client):  # noqa: ASYNC110
                await anyio.sleep(0.005)
        assert response.is_closed


async def test_no_warning_for_streams_closed_or_read_to_the_end(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        read_out = await client.messages.create(stream=True, **SMALL_REQUEST)
        await read_out.until_done()  # the response closes itself at the end of the body
        async with client.messages.stream(**SMALL_REQUEST) as closed:
            await closed.get_final_message()
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            del read_out, closed
            gc.collect()
        assert_released(client)


def test_sync_break_exception_and_garbage_collection_release_the_connection(
    emulator: Emulator,
) -> None:
    with sync_client(emulator) as client:
        with client.messages.stream(**REQUEST, extra_headers=SLOW) as stream:
            for event in stream:
                if isinstance(event, ContentBlockDeltaEvent):
                    break
        assert stream.response.is_closed
        assert_released(client)

        with (  # noqa: PT012
            pytest.raises(Boom),
            client.messages.stream(**REQUEST, extra_headers=SLOW) as stream,
        ):
            for event in stream:
                if isinstance(event, ContentBlockDeltaEvent):
                    raise Boom
        assert stream.response.is_closed
        assert_released(client)

        abandoned = client.messages.create(stream=True, **REQUEST, extra_headers=SLOW)
        next(abandoned)
        response = abandoned.response
        assert busy_connections(client) != []
        with pytest.warns(ResourceWarning, match="unclosed MessageStream"):
            del abandoned
        assert response.is_closed  # closed at once: no event loop needed
        assert_released(client)


def test_sync_a_hundred_failing_streams_leak_nothing(emulator: Emulator) -> None:
    baseline = open_fds()
    kinds = [*HEADER_KINDS, "caller:break", "caller:raise"]
    outcomes: list[tuple[str, type[APIError]]] = []
    with sync_client(emulator, timeout=httpx.Timeout(5.0, read=5.0)) as client:
        for n in range(100):
            kind = kinds[n % len(kinds)]
            spec = "none" if kind.startswith("caller:") else kind
            try:
                with client.messages.stream(**SMALL_REQUEST, extra_headers=fault(spec)) as stream:
                    for event in stream:
                        if isinstance(event, ContentBlockDeltaEvent):
                            if kind == "caller:break":
                                break
                            if kind == "caller:raise":
                                raise Boom
            except Boom:
                assert kind == "caller:raise"
            except APIError as error:
                outcomes.append((kind, type(error)))
            else:
                assert kind == "caller:break"
        assert_released(client)
    assert all(HEADER_KINDS[kind] is error for kind, error in outcomes)
    assert len(outcomes) == sum(kinds[n % len(kinds)] in HEADER_KINDS for n in range(100))
    deadline = time.monotonic() + 5.0
    while open_fds() > baseline and time.monotonic() < deadline:
        time.sleep(0.02)
    assert open_fds() <= baseline


# -- a failed stream is collected once dropped ------------------------------------------------
# An error's traceback reaches the frames of the stream that raised it, and the stream's
# finalizer is held by a global registry: nothing the finalizer holds may reach the error.


def _other_attempts_alive(stream: streamsafe.AsyncMessageStream | streamsafe.MessageStream) -> int:
    """Streams of the same call as ``stream`` (its failed attempts) still in memory."""
    call = stream._core.call
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, (streamsafe.AsyncMessageStream, streamsafe.MessageStream))
        and o is not stream
        and o._core.call is call
    )


async def test_a_failed_stream_is_collected_once_dropped(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        try:
            async with client.messages.stream(
                **SMALL_REQUEST, extra_headers=fault("error:overloaded_error@5")
            ) as stream:
                await stream.get_final_message()
        except OverloadedError:
            pass
        collected = weakref.ref(stream)
        del stream
        gc.collect()
        assert collected() is None


def test_sync_a_failed_stream_is_collected_once_dropped(emulator: Emulator) -> None:
    with sync_client(emulator) as client:
        try:
            with client.messages.stream(
                **SMALL_REQUEST, extra_headers=fault("error:overloaded_error@5")
            ) as stream:
                stream.get_final_message()
        except OverloadedError:
            pass
        collected = weakref.ref(stream)
        del stream
        gc.collect()
        assert collected() is None


async def test_failed_attempts_are_collected_and_the_retried_call_completes(
    emulator: Emulator,
) -> None:
    """The failed attempts' streams go while the retried one is read, and their going
    does not end the call (it completes once, when the caller's stream does)."""
    outcomes = Outcomes()
    emulator.push_fault("status:529")
    emulator.push_fault("error:overloaded_error@1")  # after message_start: a stream was open
    fast = streamsafe.Backoff(initial=0.01, maximum=0.01, jitter=0.0)
    async with (
        async_client(emulator, max_retries=2, backoff=fast, observer=outcomes) as client,
        client.messages.stream(**SMALL_REQUEST) as stream,
    ):
        gc.collect()
        assert _other_attempts_alive(stream) == 0
        await stream.get_final_message()
    assert outcomes.outcomes == ["completed"]


def test_sync_failed_attempts_are_collected_and_the_retried_call_completes(
    emulator: Emulator,
) -> None:
    outcomes = Outcomes()
    emulator.push_fault("status:529")
    emulator.push_fault("error:overloaded_error@1")
    fast = streamsafe.Backoff(initial=0.01, maximum=0.01, jitter=0.0)
    with (
        sync_client(emulator, max_retries=2, backoff=fast, observer=outcomes) as client,
        client.messages.stream(**SMALL_REQUEST) as stream,
    ):
        gc.collect()
        assert _other_attempts_alive(stream) == 0
        stream.get_final_message()
    assert outcomes.outcomes == ["completed"]


class Outcomes(streamsafe.Observer):
    """Keeps each call's outcome, and nothing that could keep a stream alive."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []

    def on_end(self, call: streamsafe.Call, end: streamsafe.StreamEnd) -> None:
        self.outcomes.append(end.outcome)
