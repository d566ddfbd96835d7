"""Typed events: decoding, ``to_dict()`` round trips, unknown types and fields kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from msgspec import UNSET

import streamsafe
from sse_helpers import (
    PATH,
    block_delta,
    block_start,
    block_stop,
    dumps,
    message_delta,
    message_start,
    message_stop,
    ping,
    serve,
    text_delta,
)
from streamsafe import (
    CitationsDelta,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ErrorEvent,
    InputJSONDelta,
    MalformedEventError,
    Message,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    Model,
    PingEvent,
    RedactedThinkingBlock,
    ServerToolResultBlock,
    ServerToolUseBlock,
    SignatureDelta,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
    UnknownBlock,
    UnknownDelta,
    UnknownEvent,
    decode_event,
)

pytestmark = pytest.mark.anyio

JSONDict = dict[str, Any]

FULL_MESSAGE_START: JSONDict = {
    "type": "message_start",
    "message": {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 25,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": None,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "service_tier": "standard",
        },
    },
}

CITATION: JSONDict = {
    "type": "char_location",
    "cited_text": "The sky is blue.",
    "document_index": 0,
    "document_title": "Facts",
    "start_char_index": 0,
    "end_char_index": 16,
}

# (wire JSON, class of the event, class of its block or delta or None)
KNOWN: list[tuple[JSONDict, type[Model], type[Model] | None]] = [
    (FULL_MESSAGE_START, MessageStartEvent, None),
    (block_start(0, {"type": "text", "text": ""}), ContentBlockStartEvent, TextBlock),
    (
        block_start(0, {"type": "text", "text": "", "citations": []}),
        ContentBlockStartEvent,
        TextBlock,
    ),
    (
        block_start(1, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
        ContentBlockStartEvent,
        ToolUseBlock,
    ),
    (
        block_start(
            2, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
        ),
        ContentBlockStartEvent,
        ServerToolUseBlock,
    ),
    (
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        ContentBlockStartEvent,
        ThinkingBlock,
    ),
    (
        block_start(0, {"type": "thinking", "thinking": ""}),
        ContentBlockStartEvent,
        ThinkingBlock,
    ),
    (
        block_start(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
        ContentBlockStartEvent,
        RedactedThinkingBlock,
    ),
    *[
        (
            block_start(
                3,
                {
                    "type": result_type,
                    "tool_use_id": "srvtoolu_1",
                    "content": [{"type": "web_search_result", "url": "https://a.test", "x": 1}],
                },
            ),
            ContentBlockStartEvent,
            ServerToolResultBlock,
        )
        for result_type in (
            "web_search_tool_result",
            "web_fetch_tool_result",
            "code_execution_tool_result",
            "bash_code_execution_tool_result",
            "text_editor_code_execution_tool_result",
        )
    ],
    (text_delta(0, 'Hi ☃ \n "x"'), ContentBlockDeltaEvent, TextDelta),
    (
        block_delta(1, {"type": "input_json_delta", "partial_json": '{"city": "Par'}),
        ContentBlockDeltaEvent,
        InputJSONDelta,
    ),
    (
        block_delta(0, {"type": "thinking_delta", "thinking": "Let me think"}),
        ContentBlockDeltaEvent,
        ThinkingDelta,
    ),
    (
        block_delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"}),
        ContentBlockDeltaEvent,
        SignatureDelta,
    ),
    (
        block_delta(0, {"type": "citations_delta", "citation": CITATION}),
        ContentBlockDeltaEvent,
        CitationsDelta,
    ),
    (block_stop(4), ContentBlockStopEvent, None),
    (message_delta("tool_use", usage={"output_tokens": 89}), MessageDeltaEvent, None),
    (
        message_delta(
            "stop_sequence",
            stop_sequence="END",
            usage={
                "output_tokens": 89,
                "input_tokens": 25,
                "cache_creation_input_tokens": None,
                "cache_read_input_tokens": 3,
                "server_tool_use": {"web_search_requests": 1},
            },
        ),
        MessageDeltaEvent,
        None,
    ),
    (message_stop(), MessageStopEvent, None),
    (ping(), PingEvent, None),
    (
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        ErrorEvent,
        None,
    ),
    (
        {
            "type": "error",
            "error": {"type": "api_error", "message": "boom"},
            "request_id": "req_1",
        },
        ErrorEvent,
        None,
    ),
]


def _inner(event: Model) -> Model | None:
    if isinstance(event, ContentBlockStartEvent):
        return event.content_block
    if isinstance(event, ContentBlockDeltaEvent):
        return event.delta
    return None


@pytest.mark.parametrize(("raw", "event_cls", "inner_cls"), KNOWN)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_known_events_decode_and_round_trip(
    raw: JSONDict, event_cls: type[Model], inner_cls: type[Model] | None, as_bytes: bool
) -> None:
    data = dumps(raw)
    event = decode_event(data.encode() if as_bytes else data)
    assert type(event) is event_cls
    assert event.type == raw["type"]
    inner = _inner(event)
    if inner_cls is None:
        assert inner is None
    else:
        assert isinstance(inner, inner_cls)
        assert inner.to_dict()["type"] == (raw.get("content_block") or raw["delta"])["type"]
        assert inner.extra_fields == {}
    assert event.extra_fields == {}
    assert event.to_dict() == raw
    assert json.loads(event.to_json()) == raw


def test_fields_of_typed_events() -> None:
    start = decode_event(dumps(FULL_MESSAGE_START))
    assert isinstance(start, MessageStartEvent)
    message = start.message
    assert isinstance(message, Message)
    assert message.id == "msg_01"
    assert message.usage.input_tokens == 25
    assert message.usage.cache_read_input_tokens is None
    assert message.usage.service_tier == "standard"
    assert message.request_id is None

    tool = decode_event(
        dumps(block_start(1, {"type": "tool_use", "id": "t", "name": "n", "input": {"a": [1]}}))
    )
    assert isinstance(tool, ContentBlockStartEvent)
    assert tool.index == 1
    assert isinstance(tool.content_block, ToolUseBlock)
    assert tool.content_block.input == {"a": [1]}

    delta = decode_event(dumps(message_delta("max_tokens", usage={"output_tokens": 7})))
    assert isinstance(delta, MessageDeltaEvent)
    assert delta.delta.stop_reason == "max_tokens"
    assert delta.usage.output_tokens == 7
    assert delta.usage.input_tokens is UNSET

    error = decode_event(dumps({"type": "error", "error": {"type": "x", "message": "m"}}))
    assert isinstance(error, ErrorEvent)
    assert error.error.type == "x"
    assert error.error.message == "m"


def test_optional_fields_absent_stay_absent() -> None:
    block = decode_event(dumps(block_start(0, {"type": "thinking", "thinking": ""})))
    assert isinstance(block, ContentBlockStartEvent)
    assert isinstance(block.content_block, ThinkingBlock)
    assert block.content_block.signature is UNSET
    assert "signature" not in block.content_block.to_dict()

    text = decode_event(dumps(block_start(0, {"type": "text", "text": "", "citations": None})))
    assert isinstance(text, ContentBlockStartEvent)
    assert text.content_block.to_dict() == {"type": "text", "text": "", "citations": None}


# ---------------------------------------------------------------------------
# Unknown types and unknown fields
# ---------------------------------------------------------------------------


def test_unknown_event_type_keeps_its_raw_json() -> None:
    raw = {"type": "future_event", "payload": {"x": [1, 2, None]}, "index": 3}
    event = decode_event(dumps(raw))
    assert type(event) is UnknownEvent
    assert event.type == "future_event"
    assert event.to_dict() == raw
    assert json.loads(event.to_json()) == raw
    assert event.extra_fields == {"payload": {"x": [1, 2, None]}, "index": 3}


def test_unknown_block_type_keeps_its_raw_json() -> None:
    block = {
        "type": "hologram_tool_use",
        "id": "holotoolu_1",
        "projector": "files",
        "name": "read",
        "input": {"path": "/tmp/x"},
    }
    event = decode_event(dumps(block_start(0, block)))
    assert type(event) is ContentBlockStartEvent
    assert type(event.content_block) is UnknownBlock
    assert event.content_block.type == "hologram_tool_use"
    assert event.content_block.to_dict() == block
    assert event.to_dict() == block_start(0, block)


def test_unknown_delta_type_keeps_its_raw_json() -> None:
    delta = {"type": "future_delta", "payload": {"nested": ["a", 1]}, "more": "text"}
    event = decode_event(dumps(block_delta(2, delta)))
    assert type(event) is ContentBlockDeltaEvent
    assert event.index == 2
    assert type(event.delta) is UnknownDelta
    assert event.delta.type == "future_delta"
    assert event.delta.to_dict() == delta
    assert event.to_dict() == block_delta(2, delta)


def test_unknown_block_inside_message_start_content() -> None:
    raw = json.loads(json.dumps(FULL_MESSAGE_START))
    raw["message"]["content"] = [
        {"type": "text", "text": "prefill"},
        {"type": "future_block", "blob": [1, 2]},
    ]
    event = decode_event(dumps(raw))
    assert isinstance(event, MessageStartEvent)
    assert isinstance(event.message.content[0], TextBlock)
    assert type(event.message.content[1]) is UnknownBlock
    assert event.to_dict() == raw


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (
            {**FULL_MESSAGE_START, "future_top": 1},
            lambda e: e,
        ),
        (
            {
                "type": "message_start",
                "message": {
                    **FULL_MESSAGE_START["message"],
                    "container": {"id": "cntr_1", "expires_at": "2030-01-01T00:00:00Z"},
                },
            },
            lambda e: e.message,
        ),
        (
            {
                "type": "message_start",
                "message": {
                    **FULL_MESSAGE_START["message"],
                    "usage": {"input_tokens": 1, "output_tokens": 1, "future_tokens": 9},
                },
            },
            lambda e: e.message.usage,
        ),
        (
            block_start(0, {"type": "text", "text": "", "future_field": {"a": 1}}),
            lambda e: e.content_block,
        ),
        (
            block_start(0, {"type": "tool_use", "id": "t", "name": "n", "input": {}, "caller": 1}),
            lambda e: e.content_block,
        ),
        (
            block_delta(0, {"type": "text_delta", "text": "x", "future_field": [True]}),
            lambda e: e.delta,
        ),
        (
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": "pause_turn",
                    "stop_sequence": None,
                    "container": {"id": "cntr_1", "expires_at": "2030-01-01T00:00:00Z"},
                },
                "usage": {"output_tokens": 3},
            },
            lambda e: e.delta,
        ),
        (
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 3, "future_usage": {"n": 1}},
            },
            lambda e: e.usage,
        ),
        (
            {"type": "error", "error": {"type": "api_error", "message": "m", "details": {}}},
            lambda e: e.error,
        ),
        ({"type": "ping", "sequence": 12}, lambda e: e),
        ({"type": "content_block_stop", "index": 0, "future": "x"}, lambda e: e),
    ],
)
def test_unknown_fields_on_known_types_are_kept(raw: JSONDict, where: Any) -> None:
    event = decode_event(dumps(raw))
    assert not isinstance(event, UnknownEvent)
    assert event.type == raw["type"]
    holder = where(event)
    assert isinstance(holder, Model)
    assert holder.extra_fields, "the unknown field must be kept on the model it belongs to"
    assert event.to_dict() == raw
    assert json.loads(event.to_json()) == raw


# ---------------------------------------------------------------------------
# Malformed events
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        '{"type": "message_start"',
        # Broken JSON the fast path rejects for another reason first (an unknown
        # type, an unknown field): still a MalformedEventError, never a raw
        # msgspec exception.
        '{"type": "future_event", "x": ',
        '{"type": "ping", "future": 1, ',
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x", '
        '"future": [1',
        "",
        "not json",
        '{"type": "ping"} trailing',
        "[1, 2]",
        "42",
        "null",
        '{"index": 0}',
        '{"type": 5}',
        '{"type": "content_block_delta", "index": "zero", '
        '"delta": {"type": "text_delta", "text": "x"}}',
        '{"type": "content_block_delta", "index": 0}',
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}}',
        '{"type": "content_block_delta", "index": 0, "delta": {"text": "no type"}}',
        '{"type": "content_block_delta", "index": 0, "delta": "text"}',
        '{"type": "content_block_start", "index": 0, "content_block": "text"}',
        '{"type": "content_block_start", "index": 0, '
        '"content_block": {"type": "tool_use", "id": "t"}}',
        '{"type": "message_start", "message": {"content": []}}',
        '{"type": "message_start", "message": {"id": "m", "content": {"not": "a list"}}}',
        '{"type": "message_delta", "delta": {"stop_reason": 3}, "usage": {}, "x": 1}',
    ],
)
def test_malformed_event_data(data: str) -> None:
    with pytest.raises(MalformedEventError) as info:
        decode_event(data)
    assert info.value.partial_message is None
    assert info.value.retryable is False


def test_malformed_event_message_shows_the_data() -> None:
    with pytest.raises(MalformedEventError, match="not valid JSON") as info:
        decode_event('{"type": "content_block_delta", "index": 0, "delta": {')
    assert '"content_block_delta"' in info.value.message

    long = '{"type": "text", "junk": "' + "z" * 5000
    with pytest.raises(MalformedEventError) as too_long:
        decode_event(long)
    assert len(too_long.value.message) < 500


# ---------------------------------------------------------------------------
# Through a real stream: every event, unknown ones included, passes through
# ---------------------------------------------------------------------------

PASS_THROUGH_EVENTS: list[JSONDict] = [
    message_start(message_extra={"future_message_field": {"k": "v"}}),
    {"type": "future_event", "payload": {"x": 1}},
    ping(),
    block_start(0, {"type": "text", "text": "", "future_field": 1}),
    text_delta(0, "héllo"),
    block_delta(0, {"type": "future_delta", "payload": [1, 2]}),
    block_stop(0),
    block_start(1, {"type": "future_block", "content": "", "meta": {"a": None}}),
    block_delta(1, {"type": "future_block_delta", "content": "abc"}),
    block_stop(1),
    {"type": "future_event", "payload": {"x": 2}},
    message_delta(usage={"output_tokens": 20, "future_usage": 4}),
    message_stop(),
]


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
async def test_every_event_passes_through_iteration_with_its_raw_json(chunk_size: int) -> None:
    server = serve(PASS_THROUGH_EVENTS, chunk_size=chunk_size)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        events = [event async for event in stream]
    assert [event.to_dict() for event in events] == PASS_THROUGH_EVENTS
    assert [event.type for event in events] == [raw["type"] for raw in PASS_THROUGH_EVENTS]
    assert type(events[1]) is UnknownEvent
    assert isinstance(events[3], ContentBlockStartEvent)
    assert isinstance(events[5], ContentBlockDeltaEvent)
    assert type(events[5].delta) is UnknownDelta
    assert isinstance(events[7], ContentBlockStartEvent)
    assert type(events[7].content_block) is UnknownBlock


def test_every_event_passes_through_sync_iteration() -> None:
    server = serve(PASS_THROUGH_EVENTS, chunk_size=5)
    with (
        server.client() as client,
        streamsafe.connect_message_stream(client, "POST", PATH) as stream,
    ):
        events = list(stream)
    assert [event.to_dict() for event in events] == PASS_THROUGH_EVENTS
