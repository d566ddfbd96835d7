"""Property: for any valid stream and any way of cutting its bytes, the same result.

Hypothesis generates a valid Messages event sequence (text, tool_use and
thinking blocks; tool input JSON split anywhere, also inside escapes; text
with any Unicode, newlines and separators), writes it as SSE bytes in a
randomly chosen style (LF, CRLF or CR line endings, comments, ``id:`` lines,
``data:`` with or without its space, JSON spread over several ``data:`` lines,
a leading byte-order mark), cuts the bytes at random offsets and serves them
through an ``httpx.MockTransport``. Whatever the cuts:

* the events iterated are exactly the events generated, in order;
* the final message is exactly the message written out by hand from the
  generated blocks (text joined, tool input parsed, thinking and signature,
  stop reason and usage), carrying the response's request id.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamsafe
from streamsafe import decode_event

pytestmark = pytest.mark.anyio

JSONDict = dict[str, Any]
REQUEST_ID = "req_chunking"

# Any Unicode scalar value (no lone surrogates: they cannot be encoded as UTF-8).
TEXT = st.text(st.characters(codec="utf-8"), max_size=10)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)


@dataclass(frozen=True)
class Block:
    kind: str  # "text" | "thinking" | "tool_use"
    pieces: tuple[str, ...]  # text / thinking deltas, or input_json_delta fragments
    signature: str = ""
    tool_id: str = ""
    name: str = ""
    input: Any = None


@dataclass(frozen=True)
class Stream:
    events: tuple[JSONDict, ...]
    expected: JSONDict  # the final message


@st.composite
def split_text(draw: st.DrawFn, text: str) -> tuple[str, ...]:
    """``text`` cut at random places (empty pieces allowed)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    bounds = [0, *cuts, len(text)]
    return tuple(text[a:b] for a, b in itertools.pairwise(bounds))


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    kind = draw(st.sampled_from(["text", "thinking", "tool_use"]))
    if kind == "tool_use":
        value = draw(st.dictionaries(TEXT, JSON_VALUES, max_size=4))
        text = json.dumps(value, ensure_ascii=draw(st.booleans()))
        return Block(
            kind,
            ("", *draw(split_text(text))),
            tool_id=f"toolu_{draw(st.integers(0, 10**6))}",
            name=draw(st.sampled_from(["lookup", "run_code", "get_weather"])),
            input=json.loads(text),
        )
    pieces = tuple(draw(st.lists(TEXT, max_size=5)))
    signature = draw(st.text("ABCDEFabcdef0123456789+/=", min_size=1, max_size=40))
    return Block(kind, pieces, signature=signature if kind == "thinking" else "")


def block_events(index: int, block: Block) -> list[JSONDict]:
    if block.kind == "text":
        start: JSONDict = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in block.pieces]
    elif block.kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in block.pieces]
        deltas.append({"type": "signature_delta", "signature": block.signature})
    else:
        start = {"type": "tool_use", "id": block.tool_id, "name": block.name, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in block.pieces]
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def final_block(block: Block) -> JSONDict:
    if block.kind == "text":
        return {"type": "text", "text": "".join(block.pieces)}
    if block.kind == "thinking":
        return {"type": "thinking", "thinking": "".join(block.pieces), "signature": block.signature}
    return {"type": "tool_use", "id": block.tool_id, "name": block.name, "input": block.input}


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    content = draw(st.lists(blocks(), max_size=4))
    message_id = f"msg_{draw(st.integers(0, 10**9))}"
    input_tokens = draw(st.integers(1, 10**6))
    output_tokens = draw(st.integers(1, 10**6))
    stop_reason = draw(st.sampled_from(["end_turn", "max_tokens", "tool_use", "stop_sequence"]))
    events: list[JSONDict] = [
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": "claude-emulated",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        }
    ]
    for index, block in enumerate(content):
        events += block_events(index, block)
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]
    # Pings anywhere after message_start.
    for _ in range(draw(st.integers(0, 3))):
        events.insert(draw(st.integers(1, len(events) - 1)), {"type": "ping"})
    expected = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": "claude-emulated",
        "content": [final_block(block) for block in content],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    return Stream(tuple(events), expected)


@st.composite
def encodings(draw: st.DrawFn, stream: Stream) -> bytes:
    """The SSE bytes of ``stream``, in a style drawn at random (all valid SSE)."""
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    out: list[str] = ["\ufeff"] if draw(st.booleans()) else []
    for number, event in enumerate(stream.events):
        lines: list[str] = []
        if draw(st.booleans()):
            lines.append(": comment " + draw(st.text("abc xyz:", max_size=8)))
        if draw(st.booleans()):
            lines.append(f"id: {number}")
        if draw(st.booleans()):
            lines.append(f"event: {event['type']}")
        space = draw(st.sampled_from(["data: ", "data:"]))
        if draw(st.integers(0, 3)) == 0:
            # JSON spread over several data lines: joined with LF it is the same JSON.
            data_lines = json.dumps(event, indent=1, ensure_ascii=False).split("\n")
        else:
            data_lines = [json.dumps(event, ensure_ascii=draw(st.booleans()))]
        lines += [space + line for line in data_lines]
        out.append(newline.join(lines) + newline + newline)
    return "".join(out).encode("utf-8")


@st.composite
def chunked(draw: st.DrawFn) -> tuple[Stream, list[bytes]]:
    stream = draw(streams())
    body = draw(encodings(stream))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=40))))
    bounds = [0, *cuts, len(body)]
    return stream, [body[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def expected_events(stream: Stream) -> list[JSONDict]:
    """Each generated event as a typed event would show it (decoded one by one)."""
    return [decode_event(json.dumps(event)).to_dict() for event in stream.events]


HEADERS = {"content-type": "text/event-stream", "request-id": REQUEST_ID}
PROPERTY = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


async def read_async(chunks: list[bytes]) -> tuple[list[JSONDict], streamsafe.Message]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=HEADERS, content=body())

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        streamsafe.aconnect_message_stream(http, "POST", "http://api.test/v1/messages") as stream,
    ):
        events = [event.to_dict() async for event in stream]
        return events, await stream.get_final_message()


def read_sync(chunks: list[bytes]) -> tuple[list[JSONDict], streamsafe.Message]:
    def body() -> Iterator[bytes]:
        yield from chunks

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=HEADERS, content=body())

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        streamsafe.connect_message_stream(http, "POST", "http://api.test/v1/messages") as stream,
    ):
        events = [event.to_dict() for event in stream]
        return events, stream.get_final_message()


def check(stream: Stream, events: list[JSONDict], message: streamsafe.Message) -> None:
    assert events == expected_events(stream)
    assert message.to_dict() == stream.expected
    assert message.request_id == REQUEST_ID


# The anyio plugin runs each example on the test's backend; its anyio_backend
# fixture is function-scoped but holds no state an example could change.
@settings(
    PROPERTY,
    suppress_health_check=[*PROPERTY.suppress_health_check, HealthCheck.function_scoped_fixture],
)
@given(case=chunked())
async def test_any_chunking_gives_the_same_events_and_message(
    case: tuple[Stream, list[bytes]],
) -> None:
    stream, chunks = case
    events, message = await read_async(chunks)
    check(stream, events, message)


@PROPERTY
@given(case=chunked())
def test_sync_any_chunking_gives_the_same_events_and_message(
    case: tuple[Stream, list[bytes]],
) -> None:
    stream, chunks = case
    events, message = read_sync(chunks)
    check(stream, events, message)
