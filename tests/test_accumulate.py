"""Accumulation of stream events into the final message.

The stream tests serve each stream through an httpx MockTransport in EVERY
chunk size from 1 to 64 bytes, so chunk boundaries fall inside lines, inside
multi-byte characters and inside JSON escapes, and compare the final message
with a hand-written expected JSON.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import streamsafe
from sse_helpers import (
    PATH,
    REQUEST_ID,
    FakeServer,
    block_delta,
    block_start,
    block_stop,
    dumps,
    expected_message,
    json_delta,
    message_delta,
    message_start,
    message_stop,
    ping,
    serve,
    text_block,
    text_delta,
    tool_block,
)
from streamsafe import (
    MalformedEventError,
    Message,
    MessageAccumulator,
    TextBlock,
    ToolUseBlock,
    decode_event,
)

pytestmark = pytest.mark.anyio

JSONDict = dict[str, Any]
CHUNK_SIZES = range(1, 65)


async def final_messages_for_every_chunk_size(events: list[JSONDict]) -> list[Message]:
    server = serve(events)
    messages: list[Message] = []
    async with server.async_client() as client:
        for size in CHUNK_SIZES:
            server.chunk_size = size
            async with streamsafe.aconnect_message_stream(
                client, "POST", PATH, json={"stream": True}
            ) as stream:
                messages.append(await stream.get_final_message())
            assert server.last_body.closed
    return messages


async def assert_every_chunking_gives(events: list[JSONDict], expected: JSONDict) -> Message:
    messages = await final_messages_for_every_chunk_size(events)
    for size, message in zip(CHUNK_SIZES, messages, strict=True):
        assert message.to_dict() == expected, f"chunk size {size}"
        assert message.request_id == REQUEST_ID
    return messages[0]


# ---------------------------------------------------------------------------
# Streams fed in every chunk size from 1 to 64 bytes
# ---------------------------------------------------------------------------


async def test_text_stream() -> None:
    events = [
        message_start(),
        block_start(0, text_block()),
        ping(),
        text_delta(0, "Hello"),
        text_delta(0, ", wör"),
        ping(),
        text_delta(0, "ld! 👋"),
        text_delta(0, ""),
        text_delta(0, '\n"quoted" \\ back\\slash\r\n'),
        block_stop(0),
        message_delta("end_turn", usage={"output_tokens": 17}),
        message_stop(),
    ]
    message = await assert_every_chunking_gives(
        events,
        expected_message(
            [
                text_block('Hello, wörld! 👋\n"quoted" \\ back\\slash\r\n'),
            ],
            output_tokens=17,
        ),
    )
    assert isinstance(message.content[0], TextBlock)
    assert message.text == 'Hello, wörld! 👋\n"quoted" \\ back\\slash\r\n'


# The tool input JSON text, cut inside an escaped quote, inside a \u escape,
# between the two backslashes of an escaped backslash and next to non-ASCII.
TOOL_JSON_PIECES = [
    "",
    '{"query": "say \\',
    '"hi\\" at caf\\u0',
    "0e9 in C:\\",
    '\\temp", "no',
    'te": "na',
    'ïve ☃", "limit',
    '": 3, "flags": [true, null, 1.5e2]}',
]


async def test_tool_use_with_partial_json_split_inside_strings_and_escapes() -> None:
    assert "".join(TOOL_JSON_PIECES) == (
        r'{"query": "say \"hi\" at caf\u00e9 in C:\\temp", "note": "naïve ☃", '
        r'"limit": 3, "flags": [true, null, 1.5e2]}'
    )
    events = [
        message_start(),
        block_start(0, text_block()),
        text_delta(0, "Let me look."),
        block_stop(0),
        block_start(1, tool_block("toolu_01", "search")),
        *[json_delta(1, piece) for piece in TOOL_JSON_PIECES],
        block_stop(1),
        message_delta("tool_use", usage={"output_tokens": 55}),
        message_stop(),
    ]
    message = await assert_every_chunking_gives(
        events,
        expected_message(
            [
                text_block("Let me look."),
                tool_block(
                    "toolu_01",
                    "search",
                    {
                        "query": 'say "hi" at café in C:\\temp',
                        "note": "naïve ☃",
                        "limit": 3,
                        "flags": [True, None, 150.0],
                    },
                ),
            ],
            stop_reason="tool_use",
            output_tokens=55,
        ),
    )
    tool = message.content[1]
    assert isinstance(tool, ToolUseBlock)
    assert tool.input["query"] == 'say "hi" at café in C:\\temp'


async def test_parallel_tool_use_blocks() -> None:
    events = [
        message_start(),
        block_start(0, text_block()),
        text_delta(0, "Checking both."),
        block_stop(0),
        block_start(1, tool_block("toolu_a", "get_weather")),
        json_delta(1, '{"city": "Pa'),
        json_delta(1, 'ris", "unit": "c"}'),
        block_stop(1),
        block_start(2, tool_block("toolu_b", "get_time")),
        json_delta(2, '{"tz": "Europe/Paris", "nested": {"a": [1, {"b": '),
        json_delta(2, '"c"}]}}'),
        block_stop(2),
        block_start(3, tool_block("toolu_c", "now")),
        json_delta(3, ""),
        block_stop(3),
        block_start(4, tool_block("toolu_d", "ping")),
        block_stop(4),
        message_delta("tool_use", usage={"output_tokens": 80}),
        message_stop(),
    ]
    await assert_every_chunking_gives(
        events,
        expected_message(
            [
                text_block("Checking both."),
                tool_block("toolu_a", "get_weather", {"city": "Paris", "unit": "c"}),
                tool_block(
                    "toolu_b", "get_time", {"tz": "Europe/Paris", "nested": {"a": [1, {"b": "c"}]}}
                ),
                tool_block("toolu_c", "now"),
                tool_block("toolu_d", "ping"),
            ],
            stop_reason="tool_use",
            output_tokens=80,
        ),
    )


async def test_thinking_with_signature_then_text() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": "Let me think: "}),
        block_delta(0, {"type": "thinking_delta", "thinking": "2 + 2 "}),
        ping(),
        block_delta(0, {"type": "thinking_delta", "thinking": "= 4."}),
        block_delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9G"}),
        block_delta(0, {"type": "signature_delta", "signature": "JwZA+/=="}),
        block_stop(0),
        block_start(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/"}),
        block_stop(1),
        block_start(2, text_block()),
        text_delta(2, "The answer "),
        text_delta(2, "is 4."),
        block_stop(2),
        message_delta("end_turn", usage={"output_tokens": 120}),
        message_stop(),
    ]
    await assert_every_chunking_gives(
        events,
        expected_message(
            [
                {
                    "type": "thinking",
                    "thinking": "Let me think: 2 + 2 = 4.",
                    # signature_delta sets, as the official SDK does: the last one wins.
                    "signature": "JwZA+/==",
                },
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/"},
                text_block("The answer is 4."),
            ],
            output_tokens=120,
        ),
    )


CHAR_CITATION = {
    "type": "char_location",
    "cited_text": "The grass is green.",
    "document_index": 0,
    "document_title": "Nature facts",
    "start_char_index": 0,
    "end_char_index": 19,
}
PAGE_CITATION = {
    "type": "page_location",
    "cited_text": "The sky is blue.",
    "document_index": 1,
    "document_title": "Sky facts",
    "start_page_number": 2,
    "end_page_number": 3,
}


async def test_citations_are_appended_to_their_text_block() -> None:
    events = [
        message_start(),
        block_start(0, text_block()),
        text_delta(0, "According to the documents, "),
        block_stop(0),
        block_start(1, text_block()),
        block_delta(1, {"type": "citations_delta", "citation": CHAR_CITATION}),
        text_delta(1, "the grass is green"),
        block_delta(1, {"type": "citations_delta", "citation": PAGE_CITATION}),
        text_delta(1, " and the sky is blue"),
        block_stop(1),
        block_start(2, text_block(citations=[])),
        text_delta(2, "."),
        block_stop(2),
        message_delta("end_turn", usage={"output_tokens": 40}),
        message_stop(),
    ]
    await assert_every_chunking_gives(
        events,
        expected_message(
            [
                text_block("According to the documents, "),
                text_block(
                    "the grass is green and the sky is blue",
                    citations=[CHAR_CITATION, PAGE_CITATION],
                ),
                text_block(".", citations=[]),
            ],
            output_tokens=40,
        ),
    )


SEARCH_RESULTS = [
    {
        "type": "web_search_result",
        "url": "https://weather.example/paris",
        "title": "Paris weather",
        "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1m",
        "page_age": "April 30, 2025",
    }
]
SEARCH_CITATION = {
    "type": "web_search_result_location",
    "url": "https://weather.example/paris",
    "title": "Paris weather",
    "encrypted_index": "Eo8BCioIAhgBIiQyYjQ0OWJmZi1l",
    "cited_text": "Sunny, 21 °C",
}


async def test_server_tool_use_and_web_search_result() -> None:
    events = [
        message_start(),
        block_start(0, text_block()),
        text_delta(0, "Let me search."),
        block_stop(0),
        block_start(1, tool_block("srvtoolu_01", "web_search", block_type="server_tool_use")),
        json_delta(1, '{"query": "weath'),
        json_delta(1, 'er in Par\\u00eds"}'),
        block_stop(1),
        block_start(
            2,
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_01",
                "content": SEARCH_RESULTS,
            },
        ),
        block_stop(2),
        block_start(3, text_block()),
        block_delta(3, {"type": "citations_delta", "citation": SEARCH_CITATION}),
        text_delta(3, "It is sunny."),
        block_stop(3),
        message_delta(
            "end_turn",
            usage={
                "input_tokens": 2100,
                "output_tokens": 90,
                "server_tool_use": {"web_search_requests": 1},
            },
        ),
        message_stop(),
    ]
    await assert_every_chunking_gives(
        events,
        expected_message(
            [
                text_block("Let me search."),
                tool_block(
                    "srvtoolu_01",
                    "web_search",
                    {"query": "weather in París"},
                    block_type="server_tool_use",
                ),
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_01",
                    "content": SEARCH_RESULTS,
                },
                text_block("It is sunny.", citations=[SEARCH_CITATION]),
            ],
            usage={
                "input_tokens": 2100,
                "output_tokens": 90,
                "server_tool_use": {"web_search_requests": 1},
            },
        ),
    )


async def test_unknown_delta_types_are_kept_and_never_merged() -> None:
    """A delta no model knows changes no field (the SDK ignores it): kept, in order, on its block.

    Even one whose single field names a string field of its block: a future
    delta may set rather than extend (as ``compaction_delta`` does), so a guess
    could corrupt the block sent back on the next turn.
    """
    annotation = {"type": "annotation_delta", "annotation": {"kind": "note", "at": 3}}
    fragment = {"type": "text_fragment_delta", "text": "ne"}
    stray = {"type": "stray_delta", "not_a_block_field": "x"}
    misplaced = {"type": "thinking_delta", "thinking": "not for a text block"}
    events = [
        message_start(),
        block_start(0, text_block()),
        text_delta(0, "Do"),
        block_delta(0, annotation),
        block_delta(0, fragment),
        block_delta(0, stray),
        block_delta(0, misplaced),
        text_delta(0, "."),
        block_stop(0),
        message_delta("end_turn", usage={"output_tokens": 9}),
        message_stop(),
    ]
    message = await assert_every_chunking_gives(
        events,
        expected_message([text_block("Do.")], output_tokens=9),
    )
    kept = [delta.to_dict() for delta in message.content[0].unknown_deltas]
    assert kept == [annotation, fragment, stray, misplaced]


async def test_compaction_deltas_set_content_and_encrypted_content() -> None:
    """``compaction_delta`` sets (the SDK's rule); a value a delta omits survives."""
    events = [
        message_start(),
        block_start(0, {"type": "compaction", "content": None, "encrypted_content": None}),
        block_delta(0, {"type": "compaction_delta", "content": "Summary: part one; "}),
        block_delta(
            0,
            {
                "type": "compaction_delta",
                "content": "Summary: part twö.",
                "encrypted_content": "Eo==",
            },
        ),
        block_delta(0, {"type": "compaction_delta", "content": "Summary: final."}),
        block_stop(0),
        block_start(1, text_block()),
        text_delta(1, "Done."),
        block_stop(1),
        message_delta("end_turn", usage={"output_tokens": 9}),
        message_stop(),
    ]
    message = await assert_every_chunking_gives(
        events,
        expected_message(
            [
                {"type": "compaction", "content": "Summary: final.", "encrypted_content": "Eo=="},
                text_block("Done."),
            ],
            output_tokens=9,
        ),
    )
    assert isinstance(message.content[0], streamsafe.CompactionBlock)
    assert message.content[0].content == "Summary: final."
    assert message.content[0].unknown_deltas == []


async def test_lossless_unknown_fields_everywhere() -> None:
    """Unknown fields of messages, blocks and usage are kept; those of known deltas
    stay on the delta (``unknown_deltas``), never on the block sent back next turn."""
    container = {"id": "cntr_011", "expires_at": "2030-01-01T00:00:00Z"}
    events = [
        message_start(
            message_extra={"context_management": {"applied_edits": []}},
            usage_extra={"future_usage_field": {"a": 1}},
        ),
        block_start(0, text_block(future_block_field=[1, "two"])),
        text_delta(0, "Hi"),
        block_delta(0, {"type": "text_delta", "text": " there", "future_delta_field": True}),
        block_stop(0),
        block_start(1, tool_block("toolu_01", "run", caller={"type": "direct"})),
        block_delta(
            1, {"type": "input_json_delta", "partial_json": '{"a": 1}', "future_json": "meta"}
        ),
        block_stop(1),
        {
            "type": "message_delta",
            "delta": {"stop_reason": "pause_turn", "stop_sequence": None, "container": container},
            "usage": {"output_tokens": 33, "future_output_detail": 5},
        },
        message_stop(),
    ]
    message = await assert_every_chunking_gives(
        events,
        expected_message(
            [
                text_block("Hi there", future_block_field=[1, "two"]),
                tool_block("toolu_01", "run", {"a": 1}, caller={"type": "direct"}),
            ],
            stop_reason="pause_turn",
            usage={
                "input_tokens": 12,
                "output_tokens": 33,
                "future_usage_field": {"a": 1},
                "future_output_detail": 5,
            },
            context_management={"applied_edits": []},
            container={"id": "cntr_011", "expires_at": "2030-01-01T00:00:00Z"},
        ),
    )
    text, tool = message.content
    assert [d.to_dict() for d in text.unknown_deltas] == [
        {"type": "text_delta", "text": " there", "future_delta_field": True}
    ]
    assert [d.to_dict() for d in tool.unknown_deltas] == [
        {"type": "input_json_delta", "partial_json": '{"a": 1}', "future_json": "meta"}
    ]
    assert message.incomplete_blocks == ()


async def test_data_only_frames_accumulate_like_named_events() -> None:
    """A proxy that strips every ``event:`` line changes nothing: the type is in the data."""
    events = [
        message_start(),
        block_start(0, text_block()),
        text_delta(0, "no event lines"),
        block_stop(0),
        message_delta(),
        message_stop(),
    ]
    server = FakeServer(body=b"".join(f"data: {dumps(e)}\n\n".encode() for e in events))
    async with server.async_client() as client:
        for size in (1, 3, 64):
            server.chunk_size = size
            async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
                assert await stream.get_final_text() == "no event lines"


# ---------------------------------------------------------------------------
# Sans-IO accumulator
# ---------------------------------------------------------------------------


def accumulate(events: list[JSONDict], *, request_id: str | None = None) -> MessageAccumulator:
    accumulator = MessageAccumulator(request_id=request_id)
    for event in events:
        accumulator.apply(decode_event(dumps(event)))
    return accumulator


def test_usage_is_merged_field_by_field() -> None:
    accumulator = accumulate(
        [
            message_start(
                input_tokens=25,
                output_tokens=1,
                usage_extra={
                    "cache_creation_input_tokens": 10,
                    "cache_read_input_tokens": 0,
                    "service_tier": "standard",
                },
            ),
            message_delta(
                None,
                usage={"output_tokens": 7, "input_tokens": None, "cache_read_input_tokens": None},
            ),
            message_delta(
                "max_tokens",
                usage={"output_tokens": 42, "server_tool_use": {"web_search_requests": 2}},
            ),
            message_stop(),
        ]
    )
    message = accumulator.final_message()
    assert message.stop_reason == "max_tokens"
    assert message.to_dict()["usage"] == {
        "input_tokens": 25,
        "output_tokens": 42,
        "cache_creation_input_tokens": 10,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
        "server_tool_use": {"web_search_requests": 2},
    }
    assert message.usage.input_tokens == 25
    assert message.usage.output_tokens == 42


def test_message_delta_stop_sequence() -> None:
    message = accumulate(
        [
            message_start(),
            message_delta("stop_sequence", stop_sequence="\n\nHuman:"),
            message_stop(),
        ]
    ).final_message()
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "\n\nHuman:"
    assert message.content == []


@pytest.mark.parametrize("pieces", [[], [""], ["  ", "\n"]], ids=["no-delta", "empty", "blank"])
def test_empty_tool_input_is_an_empty_object(pieces: list[str]) -> None:
    message = accumulate(
        [
            message_start(),
            block_start(0, tool_block("toolu_1", "now")),
            *[json_delta(0, piece) for piece in pieces],
            block_stop(0),
            message_delta("tool_use"),
            message_stop(),
        ]
    ).final_message()
    block = message.content[0]
    assert isinstance(block, ToolUseBlock)
    assert block.input == {}
    assert message.to_dict()["content"] == [tool_block("toolu_1", "now")]


def test_tool_input_json_parsed_as_null_stays_null() -> None:
    """A tool input that is JSON ``null`` is kept as parsed, not shown as raw text."""
    message = accumulate(
        [
            message_start(),
            block_start(0, tool_block("toolu_1", "t")),
            json_delta(0, "nu"),
            json_delta(0, "ll"),
            block_stop(0),
            message_stop(),
        ]
    ).final_message()
    assert message.to_dict()["content"][0]["input"] is None


@pytest.mark.parametrize("block_type", ["tool_use", "server_tool_use"])
def test_unstopped_tool_block_input_is_the_longest_valid_prefix(block_type: str) -> None:
    """Until its block stops, a tool input is what its JSON so far parses to (as the
    SDK's snapshot); the raw text is on ``input_json`` and the block is incomplete."""
    accumulator = MessageAccumulator()

    def block_now() -> Any:
        snapshot = accumulator.snapshot()
        assert snapshot is not None
        assert snapshot.incomplete_blocks == accumulator.incomplete_blocks
        return snapshot.content[0]

    for event in [
        message_start(),
        block_start(0, {"type": block_type, "id": "t1", "name": "run", "input": {}}),
    ]:
        accumulator.apply(decode_event(dumps(event)))
    assert block_now().input == {}
    assert block_now().input_json == ""
    accumulator.apply(decode_event(dumps(json_delta(0, '{"n": 1, "cmd": "rm -rf /tmp/x'))))
    assert block_now().input == {"n": 1}  # the unfinished string is dropped
    assert block_now().input_json == '{"n": 1, "cmd": "rm -rf /tmp/x'
    accumulator.apply(decode_event(dumps(json_delta(0, '"}'))))
    assert block_now().input == {"n": 1, "cmd": "rm -rf /tmp/x"}
    assert accumulator.incomplete_blocks == (0,)
    accumulator.apply(decode_event(dumps(block_stop(0))))
    assert block_now().input == {"n": 1, "cmd": "rm -rf /tmp/x"}
    assert block_now().input_json is None
    assert not accumulator.incomplete_blocks


def test_request_id_on_the_message() -> None:
    events = [message_start(), message_stop()]
    message = accumulate(events, request_id="req_42").final_message()
    assert message.request_id == message._request_id == "req_42"
    assert message.aws_request_id is None
    bare = accumulate(events).final_message()
    assert bare.request_id is bare._request_id is None


def test_snapshot_and_state() -> None:
    accumulator = MessageAccumulator(request_id="req_1")
    assert accumulator.snapshot() is None
    assert not accumulator.started
    for event in [
        message_start(),
        block_start(0, text_block()),
        text_delta(0, "partial"),
    ]:
        accumulator.apply(decode_event(dumps(event)))
    assert accumulator.started
    assert accumulator.has_content
    assert not accumulator.done
    assert accumulator.incomplete_blocks == (0,)
    snapshot = accumulator.snapshot()
    assert snapshot is not None
    assert snapshot.request_id == "req_1"
    assert snapshot.to_dict()["content"] == [text_block("partial")]
    with pytest.raises(MalformedEventError, match="message_stop"):
        accumulator.final_message()
    # A snapshot is a copy: later events do not change it.
    accumulator.apply(decode_event(dumps(text_delta(0, " more"))))
    assert snapshot.to_dict()["content"] == [text_block("partial")]
    accumulator.apply(decode_event(dumps(block_stop(0))))
    assert accumulator.incomplete_blocks == ()


def test_prefilled_content_in_message_start_is_kept() -> None:
    start = message_start(message_extra={"content": [text_block("Prefill. ")]})
    message = accumulate(
        [
            start,
            block_start(1, text_block()),
            text_delta(1, "More."),
            block_stop(1),
            message_stop(),
        ]
    ).final_message()
    assert message.to_dict()["content"] == [
        text_block("Prefill. "),
        text_block("More."),
    ]


@pytest.mark.parametrize(
    ("events", "match"),
    [
        ([block_start(0, text_block())], "before message_start"),
        ([text_delta(0, "x")], "before message_start"),
        ([block_stop(0)], "before message_start"),
        ([message_delta()], "before message_start"),
        ([message_stop()], "before message_start"),
        ([message_start(), text_delta(3, "x")], "content block 3"),
        ([message_start(), block_stop(0)], "content block 0"),
        (
            [message_start(), block_start(0, text_block()), text_delta(1, "x")],
            "content block 1",
        ),
        (
            [
                message_start(),
                block_start(0, text_block()),
                block_stop(0),
                text_delta(0, "late"),
            ],
            "content block 0 after it stopped",
        ),
        ([message_start(), block_start(2, text_block())], "index 2"),
        ([message_start(), message_start()], "second message_start"),
        ([message_start(), message_stop(), message_delta()], "after message_stop"),
    ],
)
def test_protocol_violations(events: list[JSONDict], match: str) -> None:
    with pytest.raises(MalformedEventError, match=match):
        accumulate(events)


def test_pings_errors_and_unknown_events_change_nothing() -> None:
    accumulator = accumulate(
        [
            ping(),
            {"type": "future_event", "x": 1},
            message_start(),
            ping(),
            {"type": "future_event", "x": 2},
            message_stop(),
        ]
    )
    assert accumulator.final_message().to_dict() == expected_message(
        [], stop_reason=None, output_tokens=1
    )


def test_cost_is_linear_in_the_stream() -> None:
    """20k tool-input fragments and 20k text deltas: a quadratic accumulator takes minutes."""
    n = 20_000
    events = [
        decode_event(dumps(event))
        for event in [
            message_start(),
            block_start(0, text_block()),
            *[text_delta(0, "word ") for _ in range(n)],
            block_stop(0),
            block_start(1, tool_block("t", "n")),
            json_delta(1, '{"items": ['),
            *[json_delta(1, f'"item {i}", ') for i in range(n)],
            json_delta(1, '"last"]}'),
            block_stop(1),
            message_stop(),
        ]
    ]
    started = time.perf_counter()
    accumulator = MessageAccumulator()
    for event in events:
        accumulator.apply(event)
    message = accumulator.final_message()
    elapsed = time.perf_counter() - started
    assert message.text == "word " * n
    tool = message.content[1]
    assert isinstance(tool, ToolUseBlock)
    assert len(tool.input["items"]) == n + 1
    assert elapsed < 3.0


def tool_stream(*fragments: str, stop_block: bool = True) -> list[JSONDict]:
    """A complete stream whose one tool call carries ``fragments`` (max_tokens reached)."""
    events = [
        message_start(),
        block_start(0, tool_block("toolu_1", "write")),
        *(json_delta(0, fragment) for fragment in fragments),
    ]
    if stop_block:
        events.append(block_stop(0))
    return [*events, message_delta("max_tokens", usage={"output_tokens": 64}), message_stop()]


@pytest.mark.parametrize(
    ("fragments", "parsed"),
    [
        # Fine-grained tool streaming cut by max_tokens inside a string value.
        (['{"path": "/tmp/a.txt", "body": "Dear ', "Sir"], {"path": "/tmp/a.txt"}),
        # ... inside a nested array, a number, a literal, a key.
        (['{"rows": [[1, 2], [3'], {"rows": [[1, 2], [3]]}),
        (['{"n": 12', "3"], {"n": 123}),
        (['{"ok": tr'], {}),
        (['{"a": 1, "b'], {"a": 1}),
        # Not merely cut: invalid inside, or trailing bytes after the object.
        (['{"a": 1,, "b": 2}'], {"a": 1}),
        (['{"é€": 1, ]'], {"é€": 1}),
        (['{"a": {"b": [1]}} trailing'], {"a": {"b": [1]}}),
        # Nothing usable: the block keeps the input its start carried.
        (["]"], {}),
        (['"unterminated'], {}),
    ],
)
def test_complete_stream_with_unparseable_tool_input_returns_the_message(
    fragments: list[str], parsed: Any
) -> None:
    """A legitimate response never fails: stop_reason as sent, the block flagged."""
    message = accumulate(tool_stream(*fragments)).final_message()
    (block,) = message.content
    assert message.stop_reason == "max_tokens"
    assert message.incomplete_blocks == (0,)
    assert block.input == parsed
    assert block.input_json == "".join(fragments)
    # The block stays valid as the next request's assistant turn: no extra fields.
    assert block.to_dict() == tool_block("toolu_1", "write", parsed)


@pytest.mark.parametrize(
    ("fragments", "parsed"),
    [
        (['{"a": 1}'], {"a": 1}),
        (['{"a"', ": [1, 2.5, null, true]", "}"], {"a": [1, 2.5, None, True]}),
        ([""], {}),  # a tool without parameters
        (["", "  "], {}),
        (['{"big": 12345678901234567890123}'], {"big": 12345678901234567890123}),
    ],
)
def test_complete_tool_input_is_not_flagged(fragments: list[str], parsed: Any) -> None:
    message = accumulate(tool_stream(*fragments)).final_message()
    assert message.incomplete_blocks == ()
    assert message.content[0].input == parsed
    assert message.content[0].input_json is None


def test_message_stop_with_a_block_never_stopped_returns_the_message() -> None:
    message = accumulate(tool_stream('{"q": "how', stop_block=False)).final_message()
    assert message.stop_reason == "max_tokens"
    assert message.incomplete_blocks == (0,)
    assert message.content[0].input == {}
    assert message.content[0].input_json == '{"q": "how'


def test_a_fallback_block_relabels_the_model() -> None:
    fallback = {
        "type": "fallback",
        "from": {"model": "claude-test-1"},
        "to": {"model": "claude-fallback-2"},
        "trigger": {"type": "refusal", "category": "cyber"},
    }
    message = accumulate(
        [
            message_start(),
            block_start(0, text_block()),
            text_delta(0, "I can"),
            block_stop(0),
            block_start(1, fallback),
            block_stop(1),
            block_start(2, text_block()),
            text_delta(2, "Here it is."),
            block_stop(2),
            message_delta("end_turn"),
            message_stop(),
        ]
    ).final_message()
    assert message.model == "claude-fallback-2"
    assert isinstance(message.content[1], streamsafe.FallbackBlock)
    assert message.content[1].to_dict() == fallback
    assert message.content[1].from_ == {"model": "claude-test-1"}


def test_message_delta_sets_stop_fields_and_keeps_what_it_omits() -> None:
    """The SDK's rules: stop_reason, stop_sequence and stop_details are set (null
    included); container, context_management, input_transformations and usage
    counts only replace when not null."""
    container = {"id": "cntr_1", "expires_at": "2030-01-01T00:00:00Z"}
    refusal = {"type": "refusal", "category": "cyber", "explanation": "no"}
    start = message_start(
        message_extra={
            "stop_details": None,
            "container": container,
            "input_transformations": [],
            "context_management": {"applied_edits": []},
        },
        usage_extra={"cache_read_input_tokens": 7, "service_tier": "standard"},
    )
    first = {
        "type": "message_delta",
        "delta": {"stop_reason": "refusal", "stop_sequence": None, "stop_details": refusal},
        "usage": {"output_tokens": 5, "cache_read_input_tokens": None},
    }
    later = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "container": None},
        "usage": {"output_tokens": 9, "input_tokens": 30},
        "context_management": None,
        "input_transformations": [{"type": "thinking_dropped", "index": 0}],
    }
    message = accumulate([start, first, later, message_stop()]).final_message().to_dict()
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None
    assert message["stop_details"] is None
    assert message["container"] == container
    assert message["context_management"] == {"applied_edits": []}
    assert message["input_transformations"] == [{"type": "thinking_dropped", "index": 0}]
    assert message["usage"] == {
        "input_tokens": 30,
        "output_tokens": 9,
        "cache_read_input_tokens": 7,
        "service_tier": "standard",
    }
    refused = accumulate([start, first, message_stop()]).final_message().to_dict()
    assert refused["stop_details"] == refusal


def test_deltas_for_the_wrong_kind_of_block_are_kept_not_merged() -> None:
    """The SDK ignores them; here they are kept on the block, whose fields stay valid."""
    stray = [
        {"type": "input_json_delta", "partial_json": '{"x": 1}'},
        {"type": "signature_delta", "signature": "sig"},
        {"type": "compaction_delta", "content": "c"},
        {"type": "citations_delta", "citation": {"type": "char_location"}},
    ]
    thinking_stray = [
        {"type": "text_delta", "text": "t"},
        {"type": "citations_delta", "citation": {}},
    ]
    message = accumulate(
        [
            message_start(),
            block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
            *(block_delta(0, d) for d in thinking_stray),
            block_stop(0),
            block_start(1, {"type": "redacted_thinking", "data": "abc"}),
            *(block_delta(1, d) for d in stray),
            block_stop(1),
            message_stop(),
        ]
    ).final_message()
    thinking, redacted = message.content
    assert thinking.to_dict() == {"type": "thinking", "thinking": "", "signature": ""}
    assert [d.to_dict() for d in thinking.unknown_deltas] == thinking_stray
    assert redacted.to_dict() == {"type": "redacted_thinking", "data": "abc"}
    assert [d.to_dict() for d in redacted.unknown_deltas] == stray
    assert message.incomplete_blocks == ()
