"""Message streams: iteration, truncation, failures mid-stream, helpers and closing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

import streamsafe
from sse_helpers import (
    MESSAGE_ID,
    MODEL,
    PATH,
    REQUEST_ID,
    FakeServer,
    block_delta,
    block_start,
    block_stop,
    dumps,
    encode,
    error_event,
    frame,
    frames,
    json_delta,
    message_delta,
    message_start,
    message_stop,
    ping,
    serve,
    sse_headers,
    text_delta,
    text_stream_events,
)
from streamsafe import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncMessageStream,
    ContentBlockDeltaEvent,
    EventTooLargeError,
    IncompleteStreamError,
    MalformedEventError,
    Message,
    MessageAccumulator,
    MessageStartEvent,
    MessageStopEvent,
    MessageStream,
    OverloadedError,
    StreamEvent,
    StreamIdleTimeoutError,
    StreamProtocolError,
    TextDelta,
    decode_event,
)
from streamsafe.testing import Emulator

pytestmark = pytest.mark.anyio

JSONDict = dict[str, Any]

# A stream with a text block, a tool_use block and the closing events.
TOOL_STREAM: list[JSONDict] = [
    message_start(),
    ping(),
    block_start(0, {"type": "text", "text": ""}),
    text_delta(0, "Let me "),
    text_delta(0, "check ☀."),
    block_stop(0),
    block_start(1, {"type": "tool_use", "id": "toolu_01", "name": "delete_file", "input": {}}),
    json_delta(1, '{"path": "/tmp/'),
    json_delta(1, 'important", "force'),
    json_delta(1, '": true}'),
    block_stop(1),
    message_delta("tool_use", usage={"output_tokens": 31}),
    message_stop(),
]

TOOL_STREAM_FINAL: JSONDict = {
    "id": MESSAGE_ID,
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [
        {"type": "text", "text": "Let me check ☀."},
        {
            "type": "tool_use",
            "id": "toolu_01",
            "name": "delete_file",
            "input": {"path": "/tmp/important", "force": True},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 31},
}


def snapshot_after(events: list[JSONDict]) -> tuple[JSONDict | None, tuple[int, ...]]:
    """What a fresh accumulator holds after ``events``: (message dict, incomplete blocks)."""
    accumulator = MessageAccumulator(request_id=REQUEST_ID)
    for event in events:
        accumulator.apply(decode_event(dumps(event)))
    snapshot = accumulator.snapshot()
    return (None if snapshot is None else snapshot.to_dict()), accumulator.incomplete_blocks


async def consume(client: httpx.AsyncClient) -> Message:
    async with streamsafe.aconnect_message_stream(client, "POST", PATH, json={}) as stream:
        return await stream.get_final_message()


async def raised(client: httpx.AsyncClient) -> APIError:
    with pytest.raises(APIError) as info:
        await consume(client)
    return info.value


def sync_consume(client: httpx.Client) -> Message:
    with streamsafe.connect_message_stream(client, "POST", PATH, json={}) as stream:
        return stream.get_final_message()


def sync_consume_with(client: httpx.Client, **kwargs: Any) -> Message:
    with streamsafe.connect_message_stream(client, "POST", PATH, **kwargs) as stream:
        return stream.get_final_message()


def sync_raised(client: httpx.Client) -> APIError:
    with pytest.raises(APIError) as info:
        sync_consume(client)
    return info.value


# ---------------------------------------------------------------------------
# The happy path, async and sync
# ---------------------------------------------------------------------------


async def test_iteration_yields_typed_events_and_the_final_message() -> None:
    server = serve(TOOL_STREAM, chunk_size=11)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH, json={"x": 1}) as stream,
    ):
        assert isinstance(stream, AsyncMessageStream)
        assert stream.request_id == REQUEST_ID
        assert stream.response.status_code == 200
        events = [event async for event in stream]
        message = await stream.get_final_message()
    assert [event.to_dict() for event in events] == TOOL_STREAM
    assert isinstance(events[0], MessageStartEvent)
    assert isinstance(events[-1], MessageStopEvent)
    assert message.to_dict() == TOOL_STREAM_FINAL
    assert message.request_id == REQUEST_ID
    request = server.requests[-1]
    assert request.method == "POST"
    assert request.url.path == PATH
    assert request.headers["accept"] == "text/event-stream"
    assert request.content == b'{"x":1}'


def test_sync_iteration_yields_typed_events_and_the_final_message() -> None:
    server = serve(TOOL_STREAM, chunk_size=11)
    with (
        server.client() as client,
        streamsafe.connect_message_stream(client, "POST", PATH) as stream,
    ):
        assert isinstance(stream, MessageStream)
        assert stream.request_id == REQUEST_ID
        events = list(stream)
        message = stream.get_final_message()
    assert [event.to_dict() for event in events] == TOOL_STREAM
    assert message.to_dict() == TOOL_STREAM_FINAL
    assert message.request_id == REQUEST_ID
    assert stream.response.is_closed


async def test_response_with_an_async_generator_body() -> None:
    """``httpx.Response(content=<async generator>)`` streams chunk by chunk on both backends."""
    body = encode(text_stream_events("gen", "erated"))
    served: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 3):
            served.append(start)
            yield body[start : start + 3]
            await anyio.lowlevel.checkpoint()

    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers=sse_headers(), content=chunks())
    )
    async with httpx.AsyncClient(transport=transport, base_url="https://x.test") as client:
        message = await consume(client)
    assert message.text == "generated"
    assert len(served) == -(-len(body) // 3)


async def test_a_request_without_a_request_id_header() -> None:
    server = serve(text_stream_events("a"), headers={"content-type": "text/event-stream"})
    async with server.async_client() as client:
        message = await consume(client)
    assert message.request_id is None
    assert message.text == "a"


# ---------------------------------------------------------------------------
# Helpers: text_stream, get_final_text, current_message, until_done
# ---------------------------------------------------------------------------

MIXED_STREAM: list[JSONDict] = [
    message_start(),
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    block_delta(0, {"type": "thinking_delta", "thinking": "not text"}),
    block_delta(0, {"type": "signature_delta", "signature": "sig"}),
    block_stop(0),
    block_start(1, {"type": "text", "text": ""}),
    text_delta(1, "One, "),
    ping(),
    text_delta(1, "two"),
    block_stop(1),
    block_start(2, {"type": "tool_use", "id": "t", "name": "n", "input": {}}),
    json_delta(2, '{"text_delta": "not text"}'),
    block_stop(2),
    block_start(3, {"type": "text", "text": ""}),
    text_delta(3, ""),
    text_delta(3, ", three."),
    block_delta(3, {"type": "future_delta", "note": "unknown, so not a text delta"}),
    block_stop(3),
    message_delta(),
    message_stop(),
]
MIXED_TEXT_DELTAS = ["One, ", "two", "", ", three."]


async def test_text_stream_yields_exactly_the_text_deltas() -> None:
    server = serve(MIXED_STREAM, chunk_size=9)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        texts = [text async for text in stream.text_stream]
        message = await stream.get_final_message()
    assert texts == MIXED_TEXT_DELTAS
    assert message.text == "One, two, three."


def test_sync_text_stream_yields_exactly_the_text_deltas() -> None:
    server = serve(MIXED_STREAM, chunk_size=9)
    with server.client() as client, streamsafe.connect_message_stream(client, "POST", PATH) as s:
        texts = list(s.text_stream)
        assert s.get_final_text() == "One, two, three."
    assert texts == MIXED_TEXT_DELTAS


async def test_get_final_text() -> None:
    server = serve(MIXED_STREAM, chunk_size=4)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        assert await stream.get_final_text() == "One, two, three."
        # Asking again reads nothing more and gives the same answer.
        assert await stream.get_final_text() == "One, two, three."


async def test_text_stream_then_final_message_after_a_partial_read() -> None:
    server = serve(MIXED_STREAM, chunk_size=4)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        texts = stream.text_stream
        first = await texts.__anext__()
        assert first == "One, "
        message = await stream.get_final_message()
    assert message.text == "One, two, three."


async def test_until_done_then_final_message() -> None:
    server = serve(TOOL_STREAM, chunk_size=13)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        await stream.until_done()
        assert server.last_body.exhausted
        assert stream.incomplete_blocks == ()
        assert (await stream.get_final_message()).to_dict() == TOOL_STREAM_FINAL
        assert stream.current_message is not None
        assert stream.current_message.to_dict() == TOOL_STREAM_FINAL


def test_sync_until_done_then_final_message() -> None:
    server = serve(TOOL_STREAM, chunk_size=13)
    with server.client() as client, streamsafe.connect_message_stream(client, "POST", PATH) as s:
        s.until_done()
        assert s.get_final_message().to_dict() == TOOL_STREAM_FINAL


async def test_current_message_mid_stream() -> None:
    server = serve(TOOL_STREAM, chunk_size=5)
    seen: dict[int, tuple[JSONDict | None, tuple[int, ...]]] = {}
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        assert stream.current_message is None
        position = 0
        async for _ in stream:
            position += 1
            current = stream.current_message
            seen[position] = (
                None if current is None else current.to_dict(),
                stream.incomplete_blocks,
            )
    # Hand-written checkpoints: inside the text block, inside the tool block.
    after_first_text = seen[4]
    assert after_first_text[0] is not None
    assert after_first_text[0]["content"] == [{"type": "text", "text": "Let me "}]
    assert after_first_text[0]["stop_reason"] is None
    assert after_first_text[1] == (0,)
    inside_tool = seen[9]
    assert inside_tool[0] is not None
    assert inside_tool[0]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_01",
        "name": "delete_file",
        "input": {"path": "/tmp/important"},  # the longest valid prefix's value
    }
    assert inside_tool[1] == (1,)
    assert seen[len(TOOL_STREAM)] == (TOOL_STREAM_FINAL, ())
    # And at every position, the accumulator's view of the events so far.
    for count, observed in seen.items():
        assert observed == snapshot_after(TOOL_STREAM[:count]), count


# ---------------------------------------------------------------------------
# Truncation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 100_000])
async def test_cut_after_any_event_raises_incomplete_stream(chunk_size: int) -> None:
    encoded = frames(TOOL_STREAM)
    server = FakeServer(chunk_size=chunk_size)
    async with server.async_client() as client:
        for count in range(len(TOOL_STREAM)):  # every cut before message_stop
            server.body = b"".join(encoded[:count])
            error = await raised(client)
            assert type(error) is IncompleteStreamError, count
            assert isinstance(error, APIConnectionError)
            assert error.retryable is True
            assert error.request_id == REQUEST_ID
            expected, incomplete = snapshot_after(TOOL_STREAM[:count])
            partial = error.partial_message
            assert (None if partial is None else partial.to_dict()) == expected, count
            assert error.incomplete_blocks == incomplete, count
            if partial is not None:
                assert partial.request_id == REQUEST_ID
            assert server.last_body.closed
            # A complete stream of the same events never raises.
        server.body = b"".join(encoded)
        assert (await consume(client)).to_dict() == TOOL_STREAM_FINAL


async def test_cut_tool_call_is_incomplete_and_keeps_its_raw_json() -> None:
    encoded = frames(TOOL_STREAM)
    cuts = {  # events received -> (raw JSON text, input parsed from its longest valid prefix)
        7: ("", {}),  # right after content_block_start of the tool block
        8: ('{"path": "/tmp/', {}),
        9: ('{"path": "/tmp/important", "force', {"path": "/tmp/important"}),
        # The text is complete but the block never stopped: still incomplete.
        10: (
            '{"path": "/tmp/important", "force": true}',
            {"path": "/tmp/important", "force": True},
        ),
    }
    server = FakeServer(chunk_size=6)
    async with server.async_client() as client:
        for count, (raw_json, parsed) in cuts.items():
            server.body = b"".join(encoded[:count])
            error = await raised(client)
            assert type(error) is IncompleteStreamError
            assert error.incomplete_blocks == (1,)
            assert error.partial_message is not None
            assert error.partial_message.incomplete_blocks == (1,)
            assert error.partial_message.to_dict() == {
                "id": MESSAGE_ID,
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [
                    {"type": "text", "text": "Let me check ☀."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "delete_file",
                        "input": parsed,
                    },
                ],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            }
            assert error.partial_message.content[1].input_json == raw_json


async def test_cut_in_the_middle_of_an_event() -> None:
    encoded = frames(TOOL_STREAM)
    server = FakeServer(chunk_size=5)
    async with server.async_client() as client:
        for count in range(len(TOOL_STREAM)):
            head = b"".join(encoded[:count])
            nxt = encoded[count]
            # Inside the data line, and just before the blank line that ends it.
            for cut in (len(nxt) // 2, len(nxt) - 1):
                server.body = head + nxt[:cut]
                error = await raised(client)
                assert type(error) is IncompleteStreamError, (count, cut)
                where = "middle of an event" if count else "before message_start"
                assert where in error.message
                expected, incomplete = snapshot_after(TOOL_STREAM[:count])
                partial = error.partial_message
                assert (None if partial is None else partial.to_dict()) == expected
                assert error.incomplete_blocks == incomplete


async def test_empty_200_body_is_incomplete_not_a_crash() -> None:
    server = serve([])
    async with server.async_client() as client:
        error = await raised(client)
    assert type(error) is IncompleteStreamError
    assert error.partial_message is None
    assert "before message_start" in error.message


async def test_only_pings_then_end_is_incomplete() -> None:
    server = serve([ping(), ping()], chunk_size=3)
    async with server.async_client() as client:
        error = await raised(client)
    assert type(error) is IncompleteStreamError
    assert error.partial_message is None


def test_sync_truncation() -> None:
    encoded = frames(TOOL_STREAM)
    server = FakeServer(chunk_size=4)
    with server.client() as client:
        for count in (0, 3, 9, 12):
            server.body = b"".join(encoded[:count])
            error = sync_raised(client)
            assert type(error) is IncompleteStreamError
            expected, incomplete = snapshot_after(TOOL_STREAM[:count])
            partial = error.partial_message
            assert (None if partial is None else partial.to_dict()) == expected
            assert error.incomplete_blocks == incomplete
            assert server.last_body.closed


async def test_iterating_again_after_the_incomplete_error_raises_again() -> None:
    server = FakeServer(body=b"".join(frames(TOOL_STREAM)[:5]))
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        with pytest.raises(IncompleteStreamError):
            await stream.until_done()
        with pytest.raises(IncompleteStreamError) as again:
            await stream.get_final_message()
    assert again.value.partial_message is not None
    assert again.value.partial_message.text == "Let me check ☀."


class _Endings(streamsafe.Observer):
    def __init__(self) -> None:
        self.ends: list[streamsafe.StreamEnd] = []

    def on_end(self, call: streamsafe.Call, end: streamsafe.StreamEnd) -> None:
        self.ends.append(end)


# A content event after message_stop: the message is complete, so it is logged and dropped.
STRAY_AFTER_STOP = [*TOOL_STREAM, text_delta(0, " stray")]


async def test_a_stray_event_after_message_stop_leaves_the_call_completed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="streamsafe")
    observer = _Endings()
    server = serve(STRAY_AFTER_STOP, chunk_size=7)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH, observer=observer) as stream,
    ):
        seen = [event async for event in stream]
        message = await stream.get_final_message()
    assert len(seen) == len(TOOL_STREAM)
    assert message.to_dict() == TOOL_STREAM_FINAL
    assert [(end.outcome, end.error) for end in observer.ends] == [("completed", None)]
    assert "ignored after message_stop" in caplog.text
    assert "stray" not in message.text


def test_sync_a_stray_event_after_message_stop_leaves_the_call_completed() -> None:
    observer = _Endings()
    server = serve(STRAY_AFTER_STOP, chunk_size=7)
    with (
        server.client() as client,
        streamsafe.connect_message_stream(client, "POST", PATH, observer=observer) as stream,
    ):
        message = stream.get_final_message()
    assert message.to_dict() == TOOL_STREAM_FINAL
    assert [(end.outcome, end.error) for end in observer.ends] == [("completed", None)]


# ---------------------------------------------------------------------------
# In-stream errors and protocol violations
# ---------------------------------------------------------------------------


async def test_overloaded_as_the_very_first_event() -> None:
    for body in (
        frame(error_event("overloaded_error", "Overloaded"), event="error"),
        frame(ping(), event="ping") + frame(error_event("overloaded_error", "Overloaded")),
    ):
        server = FakeServer(body=body, chunk_size=2)
        async with server.async_client() as client:
            error = await raised(client)
        assert type(error) is OverloadedError
        assert error.partial_message is None
        assert error.incomplete_blocks == ()
        assert error.status_code == 529
        assert error.http_status == 200


def test_sync_overloaded_as_the_very_first_event() -> None:
    server = serve([error_event("overloaded_error", "Overloaded")])
    with server.client() as client:
        error = sync_raised(client)
    assert type(error) is OverloadedError
    assert error.partial_message is None


async def test_error_after_a_complete_block_keeps_it() -> None:
    events = [*TOOL_STREAM[:11], error_event("api_error", "Internal server error")]
    server = serve(events, chunk_size=8)
    async with server.async_client() as client:
        error = await raised(client)
    assert isinstance(error, APIStatusError)
    assert error.error_type == "api_error"
    assert error.incomplete_blocks == ()
    assert error.partial_message is not None
    assert error.partial_message.to_dict() == {
        **TOOL_STREAM_FINAL,
        "stop_reason": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }


async def test_malformed_json_in_a_data_line() -> None:
    good = frames(TOOL_STREAM[:4])
    for broken in (
        b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0,\n\n',
        b'event: future\ndata: {"type": "future_event", "x": \n\n',
        b"data: not json at all\n\n",
    ):
        server = FakeServer(body=b"".join(good) + broken + b"".join(frames(TOOL_STREAM[4:])))
        async with server.async_client() as client:
            error = await raised(client)
        assert type(error) is MalformedEventError, broken
        assert error.request_id == REQUEST_ID
        assert error.partial_message is not None
        assert error.partial_message.to_dict()["content"] == [{"type": "text", "text": "Let me "}]
        assert error.incomplete_blocks == (0,)
        assert server.last_body.closed


async def test_tool_input_that_is_not_json_at_block_stop_is_not_an_error() -> None:
    """A complete stream whose tool input does not parse (fine-grained tool streaming
    cut by max_tokens) gives its message: the block flagged, its raw text kept."""
    events = [*TOOL_STREAM[:7], json_delta(1, '{"path": "/tmp/x", '), *TOOL_STREAM[10:]]
    server = serve(events, chunk_size=9)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        message = await stream.get_final_message()
        assert stream.incomplete_blocks == (1,)
    assert message.request_id == REQUEST_ID
    assert message.incomplete_blocks == (1,)
    assert message.content[1].input_json == '{"path": "/tmp/x", '
    assert message.to_dict() == {
        **TOOL_STREAM_FINAL,
        "content": [
            {"type": "text", "text": "Let me check ☀."},
            {
                "type": "tool_use",
                "id": "toolu_01",
                "name": "delete_file",
                "input": {"path": "/tmp/x"},
            },
        ],
    }


async def test_delta_for_a_block_never_started_names_the_index() -> None:
    events = [*TOOL_STREAM[:4], text_delta(7, "orphan"), *TOOL_STREAM[4:]]
    server = serve(events)
    async with server.async_client() as client:
        error = await raised(client)
    assert type(error) is MalformedEventError
    assert "content block 7" in error.message
    assert error.partial_message is not None
    assert error.partial_message.to_dict()["content"] == [{"type": "text", "text": "Let me "}]


async def test_events_before_message_start() -> None:
    events = [block_start(0, {"type": "text", "text": ""}), *TOOL_STREAM]
    server = serve(events)
    async with server.async_client() as client:
        error = await raised(client)
    assert type(error) is MalformedEventError
    assert "before message_start" in error.message
    assert error.partial_message is None


def test_sync_malformed_event() -> None:
    server = FakeServer(body=b"".join(frames(TOOL_STREAM[:4])) + b"data: {oops\n\n")
    with server.client() as client:
        error = sync_raised(client)
    assert type(error) is MalformedEventError
    assert error.partial_message is not None
    assert error.partial_message.text == "Let me "


async def test_an_oversized_event_is_a_typed_error_with_the_partial_message() -> None:
    events = [*TOOL_STREAM[:5], text_delta(0, "x" * 5000), *TOOL_STREAM[5:]]
    server = serve(events, chunk_size=64)
    async with server.async_client() as client:
        with pytest.raises(EventTooLargeError) as info:
            async with streamsafe.aconnect_message_stream(
                client, "POST", PATH, max_event_bytes=1024
            ) as stream:
                await stream.get_final_message()
    error = info.value
    assert isinstance(error, StreamProtocolError)
    assert error.request_id == REQUEST_ID
    assert error.partial_message is not None
    assert error.partial_message.text == "Let me check ☀."
    assert error.incomplete_blocks == (0,)
    assert server.last_body.closed


# ---------------------------------------------------------------------------
# Transport failures during iteration
# ---------------------------------------------------------------------------

TRANSPORT_FAILURES: list[tuple[Exception, type[APIConnectionError]]] = [
    (httpx.ReadError("connection reset by peer"), APIConnectionError),
    (httpx.RemoteProtocolError("peer closed connection"), APIConnectionError),
    (httpx.ReadTimeout("timed out"), APITimeoutError),
]


@pytest.mark.parametrize(
    ("failure", "expected_cls"), TRANSPORT_FAILURES, ids=["reset", "protocol", "timeout"]
)
async def test_transport_failure_mid_stream(
    failure: Exception, expected_cls: type[APIConnectionError]
) -> None:
    encoded = frames(TOOL_STREAM)
    for count in (0, 4, 9):
        offset = len(b"".join(encoded[:count]))
        for fail_at in (offset, offset + 10):  # between events, inside one
            server = FakeServer(
                body=b"".join(encoded), chunk_size=7, fail_at=fail_at, error=failure
            )
            async with server.async_client() as client:
                error = await raised(client)
            assert type(error) is expected_cls, (count, fail_at)
            assert error.__cause__ is failure
            assert error.retryable is True
            assert error.request_id == REQUEST_ID
            expected, incomplete = snapshot_after(TOOL_STREAM[:count])
            partial = error.partial_message
            assert (None if partial is None else partial.to_dict()) == expected
            assert error.incomplete_blocks == incomplete
            assert server.last_body.closed


@pytest.mark.parametrize(
    ("failure", "expected_cls"), TRANSPORT_FAILURES, ids=["reset", "protocol", "timeout"]
)
def test_sync_transport_failure_mid_stream(
    failure: Exception, expected_cls: type[APIConnectionError]
) -> None:
    encoded = frames(TOOL_STREAM)
    offset = len(b"".join(encoded[:9]))
    server = FakeServer(body=b"".join(encoded), chunk_size=7, fail_at=offset, error=failure)
    with server.client() as client:
        error = sync_raised(client)
    assert type(error) is expected_cls
    assert error.__cause__ is failure
    assert error.partial_message is not None
    assert error.partial_message.to_dict() == snapshot_after(TOOL_STREAM[:9])[0]
    assert error.incomplete_blocks == (1,)
    assert server.last_body.closed


async def test_connect_failure_is_an_api_connection_error() -> None:
    failure = httpx.ConnectError("connection refused")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise failure

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(APIConnectionError) as info:
            async with streamsafe.aconnect_message_stream(client, "POST", "https://x.test/"):
                pass  # pragma: no cover
    assert info.value.__cause__ is failure
    assert info.value.partial_message is None


async def test_low_level_event_source() -> None:
    server = serve(text_stream_events("a", "b"), chunk_size=3)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_events(client, "POST", PATH) as events,
    ):
        assert events.request_id == REQUEST_ID
        received = [(sse.event, sse.data) async for sse in events]
    assert received == [(e["type"], dumps(e)) for e in text_stream_events("a", "b")]
    assert server.last_body.closed


def test_sync_low_level_event_source() -> None:
    server = serve(text_stream_events("a", "b"), chunk_size=3)
    with server.client() as client, streamsafe.connect_events(client, "POST", PATH) as events:
        received = [(sse.event, sse.data) for sse in events]
    assert received == [(e["type"], dumps(e)) for e in text_stream_events("a", "b")]
    assert server.last_body.closed


async def test_low_level_transport_failure() -> None:
    failure = httpx.ReadTimeout("slow")
    body = encode(text_stream_events("a", "b"))
    server = FakeServer(body=body, chunk_size=3, fail_at=len(body) // 2, error=failure)

    async def read_all() -> None:
        async with (
            server.async_client() as client,
            streamsafe.aconnect_events(client, "POST", PATH) as events,
        ):
            async for _ in events:
                pass

    with pytest.raises(APITimeoutError) as info:
        await read_all()
    assert info.value.__cause__ is failure


# ---------------------------------------------------------------------------
# The content watchdog (stream_idle_timeout)
# ---------------------------------------------------------------------------


async def test_a_stalled_stream_trips_the_content_watchdog() -> None:
    encoded = frames(TOOL_STREAM)
    server = FakeServer(body=b"".join(encoded), chunk_size=7, stall_at=len(b"".join(encoded[:9])))
    async with server.async_client() as client:
        with pytest.raises(StreamIdleTimeoutError) as info:
            async with streamsafe.aconnect_message_stream(
                client, "POST", PATH, stream_idle_timeout=0.05
            ) as stream:
                await stream.get_final_message()
    error = info.value
    assert isinstance(error, APITimeoutError)
    assert error.request_id == REQUEST_ID
    assert error.partial_message is not None
    assert error.partial_message.to_dict() == snapshot_after(TOOL_STREAM[:9])[0]
    assert error.incomplete_blocks == (1,)
    assert server.last_body.closed


@pytest.mark.parametrize("event_lines", [True, False], ids=["named", "data-only"])
async def test_pings_do_not_feed_the_content_watchdog(event_lines: bool) -> None:
    """40 pings 5 ms apart (200 ms in all) do not keep a 80 ms watchdog quiet,
    also when a proxy stripped the ``event:`` lines (a ping is then only its data)."""
    pings = encode([ping() for _ in range(40)], event_lines=event_lines)
    body = (
        encode([message_start()], event_lines=event_lines)
        + pings
        + encode(TOOL_STREAM[1:], event_lines=event_lines)
    )
    ping_size = len(encode([ping()], event_lines=event_lines))
    server = FakeServer(body=body, chunk_size=ping_size, delay=0.005)
    async with server.async_client() as client:
        with pytest.raises(StreamIdleTimeoutError) as info:
            async with streamsafe.aconnect_message_stream(
                client, "POST", PATH, stream_idle_timeout=0.08
            ) as stream:
                await stream.get_final_message()
    assert info.value.partial_message is not None
    assert info.value.partial_message.content == []
    assert not server.last_body.exhausted


@pytest.mark.parametrize("event_lines", [True, False], ids=["named", "data-only"])
def test_sync_pings_do_not_feed_the_content_watchdog(event_lines: bool) -> None:
    body = encode(
        [message_start(), *[ping() for _ in range(40)], *TOOL_STREAM[1:]], event_lines=event_lines
    )
    server = FakeServer(
        body=body, chunk_size=len(encode([ping()], event_lines=event_lines)), delay=0.005
    )
    with server.client() as client, pytest.raises(StreamIdleTimeoutError) as info:
        sync_consume_with(client, stream_idle_timeout=0.08)
    assert info.value.partial_message is not None
    assert not server.last_body.exhausted


async def test_steady_content_keeps_the_watchdog_quiet() -> None:
    """Content events ~10 ms apart, ~100 ms in all, under a 100 ms watchdog."""
    events = text_stream_events(*[f"w{i} " for i in range(10)])
    server = FakeServer(body=encode(events), chunk_size=64, delay=0.005)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH, stream_idle_timeout=0.1) as stream,
    ):
        text = await stream.get_final_text()
    assert text == "".join(f"w{i} " for i in range(10))


async def test_a_slow_consumer_is_not_a_stalled_stream() -> None:
    """The watchdog times the server, not the loop body: all bytes are there, on time."""
    server = serve(text_stream_events("a", "b"), chunk_size=16)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(
            client, "POST", PATH, stream_idle_timeout=0.05
        ) as stream,
    ):
        async for event in stream:
            if isinstance(event, ContentBlockDeltaEvent):
                await anyio.sleep(0.08)
        assert (await stream.get_final_message()).text == "ab"


def test_sync_a_slow_consumer_is_not_a_stalled_stream() -> None:
    server = serve(text_stream_events("a", "b"), chunk_size=16)
    with (
        server.client() as client,
        streamsafe.connect_message_stream(client, "POST", PATH, stream_idle_timeout=0.05) as s,
    ):
        for event in s:
            if isinstance(event, ContentBlockDeltaEvent):
                time.sleep(0.08)
        assert s.get_final_text() == "ab"


# ---------------------------------------------------------------------------
# Closing: every way out of a stream closes the response
# ---------------------------------------------------------------------------

LONG_STREAM = text_stream_events(*[f"piece {i} " for i in range(40)])


class Boom(Exception):
    pass


async def test_leaving_the_block_early_closes_the_response() -> None:
    server = serve(LONG_STREAM, chunk_size=10)
    async with server.async_client() as client:
        async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
            first = await stream.__anext__()
            assert isinstance(first, MessageStartEvent)
            assert not stream.response.is_closed
        assert stream.response.is_closed
    body = server.last_body
    assert body.closed
    assert body.finally_ran
    assert not body.exhausted


async def test_breaking_out_of_the_loop_closes_the_response() -> None:
    server = serve(LONG_STREAM, chunk_size=10)
    async with server.async_client() as client:
        async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
            async for event in stream:
                if isinstance(event, ContentBlockDeltaEvent):
                    break
        assert stream.response.is_closed
    assert server.last_body.finally_ran
    assert not server.last_body.exhausted


async def test_an_exception_in_the_loop_body_closes_the_response() -> None:
    server = serve(LONG_STREAM, chunk_size=10)
    streams: list[AsyncMessageStream] = []

    async def fail_midway() -> None:
        async with (
            server.async_client() as client,
            streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
        ):
            streams.append(stream)
            async for event in stream:
                if isinstance(event, ContentBlockDeltaEvent):
                    raise Boom

    with pytest.raises(Boom):
        await fail_midway()
    assert streams[0].response.is_closed
    assert server.last_body.finally_ran
    assert not server.last_body.exhausted


async def test_a_cancel_scope_around_iteration_closes_the_response() -> None:
    body = encode(LONG_STREAM)
    server = FakeServer(body=body, chunk_size=10, stall_at=len(body) // 2)
    events: list[StreamEvent] = []
    async with server.async_client() as client:
        async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
            with anyio.move_on_after(0.05) as scope:
                async for event in stream:
                    events.append(event)
            assert scope.cancelled_caught
            assert events, "events before the stall were delivered"
            # The partial content is still there after the cancellation.
            current = stream.current_message
            assert current is not None
            assert current.text
        assert stream.response.is_closed
    assert server.last_body.finally_ran
    assert not server.last_body.exhausted


async def test_a_cancel_scope_around_the_whole_block_closes_the_response() -> None:
    body = encode(LONG_STREAM)
    server = FakeServer(body=body, chunk_size=10, stall_at=len(body) // 3)
    streams: list[AsyncMessageStream] = []
    async with server.async_client() as client:
        with anyio.move_on_after(0.05) as scope:
            async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
                streams.append(stream)
                await stream.get_final_message()
        assert scope.cancelled_caught
    assert streams[0].response.is_closed
    assert server.last_body.closed
    assert server.last_body.finally_ran


async def test_explicit_aclose_is_idempotent() -> None:
    server = serve(LONG_STREAM, chunk_size=10)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        await stream.__anext__()
        await stream.aclose()
        assert stream.response.is_closed
        assert server.last_body.finally_ran
        assert not server.last_body.exhausted
        await stream.aclose()
        await stream.close()


async def test_a_completed_stream_is_closed() -> None:
    server = serve(LONG_STREAM, chunk_size=100)
    async with server.async_client() as client:
        async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
            await stream.until_done()
        assert stream.response.is_closed
    assert server.last_body.exhausted
    assert server.last_body.closed


async def test_reading_a_closed_stream_is_a_typed_error() -> None:
    """Asking a stream for more after its block closed it: IncompleteStreamError, not httpx's."""
    server = serve(LONG_STREAM, chunk_size=10)
    async with server.async_client() as client:
        async with streamsafe.aconnect_message_stream(client, "POST", PATH) as unread:
            pass
        with pytest.raises(IncompleteStreamError) as info:
            await unread.get_final_message()
        assert info.value.partial_message is None

        async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
            async for event in stream:
                if isinstance(event, ContentBlockDeltaEvent):
                    break
        with pytest.raises(IncompleteStreamError) as partly:
            await stream.get_final_message()
        assert partly.value.partial_message is not None
        assert partly.value.partial_message.text == "piece 0 "
        assert partly.value.incomplete_blocks == (0,)

        async with streamsafe.aconnect_events(client, "POST", PATH) as events:
            pass
        assert [sse async for sse in events] == []


def test_sync_reading_a_closed_stream_is_a_typed_error() -> None:
    server = serve(LONG_STREAM, chunk_size=10)
    with server.client() as client:
        with streamsafe.connect_message_stream(client, "POST", PATH) as unread:
            pass
        with pytest.raises(IncompleteStreamError) as info:
            unread.get_final_message()
        assert info.value.partial_message is None

        with streamsafe.connect_events(client, "POST", PATH) as events:
            pass
        assert list(events) == []


EMULATOR_BODY: JSONDict = {
    "model": "claude-test",
    "max_tokens": 600,
    "stream": True,
    "messages": [{"role": "user", "content": "Tell me a long story."}],
}


@pytest.mark.streamsafe_emulator(event_delay=0.001)
async def test_breaking_out_early_leaves_no_connection_checked_out(
    streamsafe_emulator: Emulator,
) -> None:
    """A real loopback server and a pool of ONE connection: a stream left early must
    give it back, or the next request waits for the pool and times out."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(5.0, pool=1.0)
    async with httpx.AsyncClient(
        base_url=streamsafe_emulator.url, limits=limits, timeout=timeout
    ) as client:
        for _ in range(3):
            async with streamsafe.aconnect_message_stream(
                client, "POST", "/v1/messages", json=EMULATOR_BODY
            ) as stream:
                async for event in stream:
                    if isinstance(event, ContentBlockDeltaEvent):
                        break
            assert stream.response.is_closed
        with anyio.fail_after(10):
            async with streamsafe.aconnect_message_stream(
                client, "POST", "/v1/messages", json=EMULATOR_BODY
            ) as stream:
                message = await stream.get_final_message()
    assert message.text
    assert message.stop_reason is not None


def test_sync_break_and_exception_close_the_response() -> None:
    server = serve(LONG_STREAM, chunk_size=10)
    with server.client() as client:
        with streamsafe.connect_message_stream(client, "POST", PATH) as stream:
            for event in stream:
                if isinstance(event, ContentBlockDeltaEvent) and isinstance(event.delta, TextDelta):
                    break
        assert stream.response.is_closed
        assert server.last_body.finally_ran
        assert not server.last_body.exhausted

        def fail_midway() -> None:
            with streamsafe.connect_message_stream(client, "POST", PATH) as failing:
                for event in failing:
                    if isinstance(event, ContentBlockDeltaEvent):
                        raise Boom

        with pytest.raises(Boom):
            fail_midway()
        assert server.last_body.closed
        assert server.last_body.finally_ran
        assert not server.last_body.exhausted


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_stream_idle_timeout_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="stream_idle_timeout"):
        streamsafe.Client(api_key="k", stream_idle_timeout=bad)


async def test_error_payload_under_an_unexpected_event_name_is_an_error() -> None:
    body = (
        b'event: Error\ndata: {"type": "error", "error": '
        b'{"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(streamsafe.OverloadedError) as info:
            async with streamsafe.aconnect_message_stream(http, "POST", "http://x/") as stream:
                await stream.get_final_message()
    assert info.value.in_stream
    assert info.value.partial_message is None


async def test_a_response_read_in_full_up_front_still_streams() -> None:
    # httpx.MockTransport reads a bytes body before the response is handed
    # over (the response is already closed): its events must still arrive.
    body = b"".join(
        f"event: {name}\ndata: {data}\n\n".encode()
        for name, data in [
            (
                "message_start",
                '{"type":"message_start","message":{"id":"m","type":"message",'
                '"role":"assistant","model":"x","content":[],"stop_reason":null,'
                '"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}',
            ),
            (
                "content_block_start",
                '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
            ),
            (
                "content_block_delta",
                '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}',
            ),
            ("content_block_stop", '{"type":"content_block_stop","index":0}'),
            ("message_stop", '{"type":"message_stop"}'),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        streamsafe.aconnect_message_stream(http, "POST", "http://x/") as stream,
    ):
        message = await stream.get_final_message()
    assert message.text == "hi"
