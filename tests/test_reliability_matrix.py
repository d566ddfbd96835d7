"""Fault matrix over real loopback TCP: every fault at every event position.

The emulator serves the representative stream of ``reliability_support``
(32 events: thinking with a signature, text with multi-byte characters, a tool
call whose input JSON is split inside escapes, ``message_delta`` with usage)
and strikes after event ``i``, for every ``i``:

* an ``event: error`` of each documented type: the class the same failure gets
  as an HTTP status, the partial message a correct accumulator holds after
  event ``i``, the events the caller saw are exactly the first ``i``;
* the stream ends (``truncate``): :class:`IncompleteStreamError`, same partial;
* a TCP reset: :class:`APIConnectionError` with the httpx error as
  ``__cause__``, same partial;
* a silent stall longer than the read timeout: :class:`APITimeoutError` soon
  after the timeout; a stall that keeps pinging: :class:`StreamIdleTimeoutError`
  from the content watchdog soon after its limit ("soon": ``TIMER_SLACK``, slack
  for a busy machine, far below the 30 s of the stall);
* the body cut after ``K`` bytes for many ``K`` (inside lines, inside UTF-8
  characters, between CR and LF): always a typed error with the partial
  message of the complete events before the cut.

The expected partial message is computed independently: the clean stream is
fetched once with plain httpx, parsed by a few lines of test code, and its
first ``i`` events fed to a fresh :class:`~streamsafe.MessageAccumulator`.
"""

from __future__ import annotations

import json
import random
import time

import anyio
import httpx
import pytest

import streamsafe
from reliability_support import (
    REQUEST,
    JSONDict,
    Outcome,
    SseEvent,
    as_dict,
    async_client,
    busy_connections,
    expected_partial,
    fault,
    fetch_clean_events,
    fetch_raw,
    outcome,
    pool_connections,
    sync_client,
    with_message_id,
)
from streamsafe import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    IncompleteStreamError,
    Message,
    StreamEvent,
    StreamIdleTimeoutError,
    status_error_class,
)
from streamsafe._stream import AFTER_STOP_GRACE
from streamsafe.testing import ERROR_TYPES, STATUS_FOR_ERROR_TYPE, Emulator

pytestmark = pytest.mark.anyio

#: Short enough to keep the stall matrices quick, long enough that a loaded
#: machine cannot delay the events *before* a stall past it (0.3 s could: the
#: emulator shares the test's process and its GIL with 8 streams).
READ_TIMEOUT = 1.0
CALM_READ_TIMEOUT = 5.0
#: Above the read timeout, so silence is always a read timeout, never the watchdog.
IDLE_TIMEOUT = 2.0
#: How late past its limit a timer may fire on a loaded 2-core machine (8 streams
#: and the emulator share one process). The stalls last 30 s, so a stream ended
#: within this proves the timer, not the end of the stall, ended it.
TIMER_SLACK = 3.0
#: Hang guard for one stream that should fail fast.
GUARD = 10.0


@pytest.fixture(scope="module")
def clean(emulator: Emulator) -> list[SseEvent]:
    events = fetch_clean_events(emulator)
    assert len(events) == 32, "the representative stream changed; re-check the hand expectations"
    return events


def client_for(
    emulator: Emulator, read_timeout: float = READ_TIMEOUT, *, calm: bool = False
) -> streamsafe.AsyncClient:
    """A client whose short read timeout and watchdog make stalls quick to test.

    Tests in which nothing stalls pass ``calm=True`` (a long read timeout, no
    watchdog): on a busy machine a slow scheduler must not turn a cut stream
    into a timeout.
    """
    return async_client(
        emulator,
        timeout=httpx.Timeout(5.0, read=CALM_READ_TIMEOUT if calm else read_timeout),
        stream_idle_timeout=None if calm else IDLE_TIMEOUT,
    )


async def run(client: streamsafe.AsyncClient, spec: str | None) -> Outcome:
    return await outcome(client, spec)


def check_partial(error: APIError, clean: list[SseEvent], count: int, where: str) -> None:
    """``error`` carries exactly what an accumulator holds after ``count`` clean events."""
    partial = error.partial_message
    message_id = partial.id if partial is not None else None
    expected, incomplete = expected_partial(
        clean, count, message_id=message_id, request_id=error.request_id
    )
    assert as_dict(partial) == expected, where
    assert error.incomplete_blocks == incomplete, where
    if partial is not None:
        assert partial.id.startswith("msg_"), where
        assert partial.request_id == error.request_id, where
    assert error.request_id is not None, where
    assert error.request_id.startswith("req_"), where


def check_seen(
    seen: list[StreamEvent],
    clean: list[SseEvent],
    count: int,
    where: str,
    *,
    then_pings: bool = False,
) -> None:
    """The caller was handed exactly the first ``count`` events, in order.

    ``then_pings``: any number of pings may follow them (a pinging stall).

    The client holds events back until the first ``content_block_start`` (so a
    retry stays invisible): a failure before it reaches the caller from
    ``__aenter__``, with nothing handed over.
    """
    first_content = next(n for n, (name, _) in enumerate(clean) if name == "content_block_start")
    if count <= first_content:
        assert seen == [], where
        return
    message_id = next(
        (e.message.id for e in seen if isinstance(e, streamsafe.MessageStartEvent)), "-"
    )
    expected = [json.loads(data) for _, data in with_message_id(clean[:count], message_id)]
    if then_pings:
        assert all(isinstance(e, streamsafe.PingEvent) for e in seen[count:]), where
        seen = seen[:count]
    assert [e.to_dict() for e in seen] == expected, where


def check_complete(
    seen: list[StreamEvent],
    error: APIError | None,
    message: Message | None,
    clean: list[SseEvent],
    where: str,
    *,
    then_pings: bool = False,
) -> None:
    """The whole stream arrived: no error, the final message, every event."""
    assert error is None, where
    assert message is not None, where
    expected, incomplete = expected_partial(
        clean, len(clean), message_id=message.id, request_id=message.request_id
    )
    assert incomplete == ()
    assert message.to_dict() == expected, where
    assert message.request_id is not None, where
    assert message.request_id.startswith("req_"), where
    check_seen(seen, clean, len(clean), where, then_pings=then_pings)


# -- in-stream error events ---------------------------------------------------------


async def http_error(client: streamsafe.AsyncClient, error_type: str) -> APIStatusError:
    status = STATUS_FOR_ERROR_TYPE[error_type]
    _, error, _ = await run(client, f"status:{status}")
    assert isinstance(error, APIStatusError)
    assert not error.in_stream
    assert error.http_status == status
    return error


@pytest.mark.parametrize("error_type", ERROR_TYPES)
async def test_error_event_after_every_event_is_the_http_class_with_the_partial(
    emulator: Emulator, clean: list[SseEvent], error_type: str
) -> None:
    expected_class = status_error_class(error_type, None)
    assert expected_class is status_error_class(None, STATUS_FOR_ERROR_TYPE[error_type])
    async with client_for(emulator, calm=True) as client:
        with anyio.fail_after(GUARD):
            reference = await http_error(client, error_type)
        assert type(reference) is expected_class
        for i in range(len(clean)):
            where = f"error:{error_type}@{i}"
            with anyio.fail_after(GUARD):
                seen, error, message = await run(client, where)
            assert message is None, where
            assert type(error) is expected_class, where
            assert isinstance(error, APIStatusError)
            assert error.in_stream, where
            assert error.http_status == 200, where
            assert error.status_code == reference.status_code, where
            assert error.error_type == error_type == reference.error_type, where
            assert error.retryable == reference.retryable, where
            assert error.message == reference.message, where
            assert error.response is not None, where
            assert error.request_id == error.response.headers["request-id"], where
            check_partial(error, clean, i, where)
            check_seen(seen, clean, i, where)
        assert busy_connections(client) == []


async def test_partials_match_a_hand_written_expectation(
    emulator: Emulator, clean: list[SseEvent]
) -> None:
    """Cross-check the independent expectation at a few positions, written out by hand."""
    async with client_for(emulator, calm=True) as client:
        with anyio.fail_after(GUARD):
            _, at_0, _ = await run(client, "error:overloaded_error@0")
            _, at_2, _ = await run(client, "error:overloaded_error@2")
            _, at_10, _ = await run(client, "error:overloaded_error@10")
            _, at_18, _ = await run(client, "truncate@18")
            _, at_31, _ = await run(client, "reset@31")
    assert at_0 is not None
    assert at_0.partial_message is None
    assert at_0.incomplete_blocks == ()

    assert at_2 is not None
    assert at_2.partial_message is not None
    start: JSONDict = json.loads(clean[0][1])["message"]
    assert at_2.partial_message.to_dict() == {
        **start,
        "id": at_2.partial_message.id,
        "content": [],
    }
    assert at_2.partial_message.usage.output_tokens == 1

    assert at_10 is not None
    assert at_10.partial_message is not None
    thinking, text = at_10.partial_message.content
    assert isinstance(thinking, streamsafe.ThinkingBlock)
    assert thinking.thinking == "Lost of window bright, of. Join usage gentle"
    assert thinking.signature.startswith("gkKU5XUB6whB91Lv")
    assert isinstance(text, streamsafe.TextBlock)
    assert text.text == "Only, in 🚀 as Ελλάδα so"
    assert at_10.incomplete_blocks == (1,)
    assert at_10.partial_message.stop_reason is None

    # Cut inside the tool input, between a backslash and the "u" it escapes.
    assert isinstance(at_18, IncompleteStreamError)
    assert at_18.partial_message is not None
    tool = at_18.partial_message.content[2]
    assert isinstance(tool, streamsafe.ToolUseBlock)
    assert tool.name == "lookup"
    # The call was cut: input is the longest valid prefix's value (the unfinished
    # string dropped), the raw text is kept, and the block is flagged.
    assert tool.input == {}
    assert tool.input_json == '{"q": "How count, only fa\\'
    assert at_18.incomplete_blocks == at_18.partial_message.incomplete_blocks == (2,)

    # Everything but message_stop arrived: the tool input is parsed, usage is final.
    assert isinstance(at_31, APIConnectionError)
    assert at_31.partial_message is not None
    final = at_31.partial_message
    tool = final.content[2]
    assert isinstance(tool, streamsafe.ToolUseBlock)
    query = 'How count, only façade say "hi" at C:\\temp\nnaïve 日本 🚀'
    assert tool.input == {"q": query, "n": 99}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 43
    assert final.usage.input_tokens == start["usage"]["input_tokens"]
    assert at_31.incomplete_blocks == ()


# -- after message_stop -----------------------------------------------------------------


AFTER_STOP = [
    "error:overloaded_error@32",
    "reset@32",
    "stall@32;seconds=30",
    "stall_pings@32;seconds=30;every=0.1",
]


@pytest.mark.parametrize("spec", AFTER_STOP)
async def test_nothing_after_message_stop_fails_the_complete_message(
    emulator: Emulator, clean: list[SseEvent], spec: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With production timers (read 600 s, watchdog 300 s) the caller is not held either."""
    caplog.set_level("DEBUG", logger="streamsafe")
    async with async_client(emulator) as client:
        started = time.monotonic()
        with anyio.fail_after(GUARD):
            seen, error, message = await run(client, spec)
        elapsed = time.monotonic() - started
        assert busy_connections(client) == []
    check_complete(seen, error, message, clean, spec, then_pings=True)
    assert elapsed < AFTER_STOP_GRACE + 1.0
    assert "ignored after message_stop" in caplog.text
    if spec.startswith("error"):
        assert "overloaded_error" in caplog.text
        assert any(r.levelname == "WARNING" for r in caplog.records)


@pytest.mark.parametrize("spec", AFTER_STOP[:2])
def test_sync_nothing_after_message_stop_fails_the_complete_message(
    emulator: Emulator, clean: list[SseEvent], spec: str
) -> None:
    with sync_client(emulator) as client:
        with client.messages.stream(**REQUEST, extra_headers=fault(spec)) as stream:
            seen = list(stream)
            message = stream.get_final_message()
        assert busy_connections(client) == []
    check_complete(seen, None, message, clean, spec)


async def test_clean_streams_still_reuse_their_connection(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        for _ in range(5):
            with anyio.fail_after(GUARD):
                _, error, message = await run(client, "none")
            assert error is None
            assert message is not None
        assert pool_connections(client) == 1
        assert busy_connections(client) == []


# -- the stream stops: truncation and reset ------------------------------------------


async def test_truncation_after_every_event_is_incomplete_with_the_partial(
    emulator: Emulator, clean: list[SseEvent]
) -> None:
    async with client_for(emulator, calm=True) as client:
        for i in range(len(clean) + 1):
            where = f"truncate@{i}"
            with anyio.fail_after(GUARD):
                seen, error, message = await run(client, where)
            if i == len(clean):  # after message_stop: nothing is missing
                check_complete(seen, error, message, clean, where)
                continue
            assert type(error) is IncompleteStreamError, where
            assert "message_stop" in error.message or "message_start" in error.message
            check_partial(error, clean, i, where)
            check_seen(seen, clean, i, where)
        assert busy_connections(client) == []


async def test_reset_after_every_event_is_a_connection_error_with_the_partial(
    emulator: Emulator, clean: list[SseEvent]
) -> None:
    async with client_for(emulator, calm=True) as client:
        for i in range(len(clean) + 1):
            where = f"reset@{i}"
            with anyio.fail_after(GUARD):
                seen, error, message = await run(client, where)
            if i == len(clean):
                check_complete(seen, error, message, clean, where)
                continue
            assert isinstance(error, APIConnectionError), where
            assert not isinstance(error, APITimeoutError | APIStatusError), where
            assert isinstance(error.__cause__, httpx.TransportError), where
            check_partial(error, clean, i, where)
            check_seen(seen, clean, i, where)
        assert busy_connections(client) == []


# -- the stream goes quiet: read timeout and content watchdog ---------------------------


async def stalled(
    client: streamsafe.AsyncClient,
    spec: str,
    results: dict[int, tuple[Outcome, float]],
    i: int,
    limiter: anyio.CapacityLimiter,
) -> None:
    async with limiter:
        started = time.monotonic()
        with anyio.fail_after(GUARD):
            outcome = await run(client, spec)
        results[i] = (outcome, time.monotonic() - started)


async def stall_matrix(
    emulator: Emulator, clean: list[SseEvent], spec: str, read_timeout: float = READ_TIMEOUT
) -> dict[int, tuple[Outcome, float]]:
    """Run ``spec`` (with ``{i}``) at every position, 8 streams at a time.

    Concurrency keeps the suite fast (each stall costs a timeout); the bound
    keeps a loaded machine from delaying events before the stall past the
    read timeout.
    """
    results: dict[int, tuple[Outcome, float]] = {}
    limiter = anyio.CapacityLimiter(8)
    async with client_for(emulator, read_timeout) as client:
        async with anyio.create_task_group() as group:
            for i in range(len(clean) + 1):
                group.start_soon(stalled, client, spec.format(i=i), results, i, limiter)
        # A starved machine (the emulator shares this process with 8 streams) can
        # hold back the events *before* the stall past the timer: those positions
        # run once more, alone. A client that lost events fails again; the
        # assertions of the caller then see it.
        for i in [i for i, (outcome, _) in results.items() if not reached(outcome, clean, i)]:
            await stalled(client, spec.format(i=i), results, i, anyio.CapacityLimiter(1))
        assert busy_connections(client) == []
    return results


def reached(outcome: Outcome, clean: list[SseEvent], count: int) -> bool:
    """The stream failed holding all ``count`` events before the stall (or did not fail)."""
    _, error, _ = outcome
    if error is None:
        return True
    partial = error.partial_message
    expected, _ = expected_partial(
        clean,
        count,
        message_id=partial.id if partial is not None else None,
        request_id=error.request_id,
    )
    return as_dict(partial) == expected


async def test_silent_stall_after_every_event_is_a_read_timeout(
    emulator: Emulator, clean: list[SseEvent]
) -> None:
    results = await stall_matrix(emulator, clean, "stall@{i};seconds=30")
    for i, ((seen, error, message), elapsed) in sorted(results.items()):
        where = f"stall@{i}"
        assert elapsed < READ_TIMEOUT + TIMER_SLACK, where
        if i == len(clean):
            check_complete(seen, error, message, clean, where)
            continue
        assert type(error) is APITimeoutError, where
        assert isinstance(error.__cause__, httpx.ReadTimeout), where
        assert elapsed < READ_TIMEOUT + TIMER_SLACK, where
        check_partial(error, clean, i, where)
        check_seen(seen, clean, i, where)


async def test_pinging_stall_after_every_event_trips_the_content_watchdog(
    emulator: Emulator, clean: list[SseEvent]
) -> None:
    # Only the content watchdog (IDLE_TIMEOUT) can end these streams: the pings (every
    # 0.1 s) reset the read timeout but not the watchdog. The read timeout is
    # longer than the watchdog's limit, so the client lowers it to that limit:
    # a ping delayed past it by a busy machine (the emulator shares this
    # process) is then a stream without content for the limit, the same
    # StreamIdleTimeoutError, instead of a read timeout racing the watchdog.
    results = await stall_matrix(
        emulator, clean, "stall_pings@{i};seconds=30;every=0.1", read_timeout=5.0
    )
    for i, ((seen, error, message), elapsed) in sorted(results.items()):
        where = f"stall_pings@{i}"
        assert elapsed < IDLE_TIMEOUT + TIMER_SLACK, where
        if i == len(clean):
            check_complete(seen, error, message, clean, where, then_pings=True)
            continue
        assert type(error) is StreamIdleTimeoutError, where
        assert "stream_idle_timeout" in error.message, where
        assert error.__cause__ is None or isinstance(error.__cause__, httpx.ReadTimeout), where
        assert elapsed >= IDLE_TIMEOUT, where
        check_partial(error, clean, i, where)
        check_seen(seen, clean, i, where, then_pings=True)


# -- the body cut at arbitrary bytes ------------------------------------------------------


def complete_events(body: bytes, cut: int, blank: bytes) -> int:
    """Events whose terminating blank line lies within ``body[:cut]``."""
    return body[:cut].count(blank)


def check_cut(
    seen: list[StreamEvent],
    error: APIError | None,
    message: Message | None,
    clean: list[SseEvent],
    count: int,
    where: str,
    *,
    on_boundary: bool,
) -> None:
    if count == len(clean):
        check_complete(seen, error, message, clean, where)
        return
    assert type(error) is IncompleteStreamError, where
    if count == 0:
        assert "before message_start" in error.message, where
    elif on_boundary:
        assert "without message_stop" in error.message, where
    else:
        assert "in the middle of an event" in error.message, where
    check_partial(error, clean, count, where)
    check_seen(seen, clean, count, where)


def cut_points(body: bytes, seed: int, samples: int) -> list[int]:
    """Seeded random offsets, plus offsets inside every multi-byte character."""
    rng = random.Random(seed)
    points = {rng.randrange(0, len(body) + 1) for _ in range(samples)}
    inside_characters = [k for k in range(1, len(body)) if body[k] & 0xC0 == 0x80]
    points.update(inside_characters)
    points.update({0, 1, len(body) - 1, len(body)})
    return sorted(points)


async def test_truncation_at_random_bytes_is_always_a_typed_error(
    emulator: Emulator, clean: list[SseEvent]
) -> None:
    body = fetch_raw(emulator)
    points = cut_points(body, seed=20240401, samples=80)
    assert any(body[k] & 0xC0 == 0x80 for k in points)  # some cuts split a character
    async with client_for(emulator, calm=True) as client:
        for k in points:
            where = f"truncate_bytes@{k}"
            with anyio.fail_after(GUARD):
                seen, error, message = await run(client, where)
            count = complete_events(body, k, b"\n\n")
            boundary = k == 0 or body[:k].endswith(b"\n\n")
            check_cut(seen, error, message, clean, count, where, on_boundary=boundary)
        assert busy_connections(client) == []


async def test_truncated_crlf_stream_at_random_bytes(
    emulator: Emulator, clean: list[SseEvent]
) -> None:
    """CRLF line endings, cut anywhere, including between a CR and its LF.

    A CR alone ends a line (WHATWG), so a cut right after the CR of an
    event's blank line has already completed that event.
    """
    body = fetch_raw(emulator).replace(b"\n", b"\r\n")
    points = cut_points(body, seed=7, samples=60)
    points += [k + 1 for k in range(len(body)) if body[k : k + 4] == b"\r\n\r\n"]  # after a CR
    points += [k + 3 for k in range(len(body)) if body[k : k + 4] == b"\r\n\r\n"]  # before an LF
    async with client_for(emulator, calm=True) as client:
        for k in sorted(set(points)):
            where = f"CRLF body cut at {k}"
            emulator.push_raw_stream(body[:k], chunk_size=97)
            with anyio.fail_after(GUARD):
                seen, error, message = await run(client, None)
            count = complete_events(body, k, b"\r\n\r")
            boundary = k == 0 or body[:k].endswith((b"\r\n\r", b"\r\n\r\n"))
            check_cut(seen, error, message, clean, count, where, on_boundary=boundary)
        assert busy_connections(client) == []


# -- the same matrix through the sync client (sampled) --------------------------------------


SYNC_KINDS = {
    # kind: (expected error, step between positions)
    "error:api_error": (streamsafe.InternalServerError, 3),
    "truncate": (IncompleteStreamError, 3),
    "reset": (APIConnectionError, 3),
    "stall": (APITimeoutError, 8),  # each costs the read timeout
}


@pytest.mark.parametrize("kind", list(SYNC_KINDS))
def test_sync_client_faults_at_sampled_positions(
    emulator: Emulator, clean: list[SseEvent], kind: str
) -> None:
    expected, step = SYNC_KINDS[kind]
    suffix = ";seconds=30" if kind == "stall" else ""
    with sync_client(emulator, timeout=httpx.Timeout(5.0, read=READ_TIMEOUT)) as client:
        for i in [*range(0, len(clean), step), len(clean) - 1]:
            where = f"{kind}@{i}{suffix}"
            seen: list[StreamEvent] = []
            started = time.monotonic()
            with (  # noqa: PT012
                pytest.raises(APIError) as info,
                client.messages.stream(**REQUEST, extra_headers=fault(where)) as stream,
            ):
                for event in stream:
                    seen.append(event)
            assert time.monotonic() - started < READ_TIMEOUT + 1.0, where
            assert type(info.value) is expected, where
            check_partial(info.value, clean, i, where)
            check_seen(seen, clean, i, where)
        # After message_stop nothing fails the complete message.
        with client.messages.stream(
            **REQUEST, extra_headers=fault(f"{kind}@{len(clean)}{suffix}")
        ) as stream:
            seen = list(stream)
            message = stream.get_final_message()
        check_complete(seen, None, message, clean, kind)
        assert busy_connections(client) == []
