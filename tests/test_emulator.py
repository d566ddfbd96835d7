"""The embedded emulator, observed with raw httpx only (no streamsafe client code)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest

from streamsafe.testing import ERROR_TYPES, STATUS_FOR_ERROR_TYPE, Emulator, Fault

pytestmark = pytest.mark.anyio

# One SSL context for every client: building one per client costs ~40 ms.
SSL_CONTEXT = httpx.create_ssl_context()

Event = tuple[str, dict[str, Any]]

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "metric": {"type": "boolean"},
            "options": {
                "type": "object",
                "properties": {"lang": {"type": "string"}, "detail": {"enum": ["low", "high"]}},
                "required": ["lang", "detail"],
            },
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["city", "days", "metric", "options", "tags"],
    },
}


def request_body(
    text: str = "Tell me about streams", max_tokens: int = 64, **extra: Any
) -> dict[str, Any]:
    return {
        "model": "claude-emulated",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def parse_events(raw: bytes) -> list[Event]:
    """Complete `event: X\\ndata: {...}\\n\\n` frames, checking the exact framing."""
    text = raw.decode("utf-8", errors="replace")
    frames = text.split("\n\n")[:-1]  # the part after the last blank line is incomplete
    events: list[Event] = []
    for frame in frames:
        match = re.fullmatch(r"event: ([a-z_]+)\ndata: (\{.*\})", frame)
        assert match is not None, frame
        name, data = match[1], json.loads(match[2])
        assert data["type"] == name
        events.append((name, data))
    return events


def accumulate(events: list[Event]) -> dict[str, Any]:
    """Rebuild the Message from stream events (a minimal test-side accumulator)."""
    assert events[0][0] == "message_start"
    message = dict(events[0][1]["message"])
    blocks: list[dict[str, Any]] = []
    json_parts: dict[int, list[str]] = {}
    for name, data in events[1:]:
        if name == "content_block_start":
            assert data["index"] == len(blocks)
            blocks.append(dict(data["content_block"]))
            json_parts[data["index"]] = []
        elif name == "content_block_delta":
            block, delta = blocks[data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] += delta["signature"]
            else:
                assert delta["type"] == "input_json_delta"
                json_parts[data["index"]].append(delta["partial_json"])
        elif name == "content_block_stop":
            block = blocks[data["index"]]
            if block["type"] == "tool_use":
                block["input"] = json.loads("".join(json_parts[data["index"]]))
        elif name == "message_delta":
            message.update(data["delta"])
            message["usage"] = {**message["usage"], **data["usage"]}
    message["content"] = blocks
    return message


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, cleared, with its default pacing restored afterwards."""
    emulator.clear()
    yield emulator
    emulator.clear()
    emulator.event_delay = 0.0
    emulator.ping_interval = None


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emu.url, timeout=5.0, verify=SSL_CONTEXT) as http:
        yield http


async def fetch(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    fault: str | None = None,
    path: str = "/v1/messages",
) -> tuple[httpx.Response, bytes]:
    headers = {"x-streamsafe-fault": fault} if fault is not None else {}
    async with client.stream("POST", path, json=body, headers=headers) as response:
        data = await response.aread()
    return response, data


async def fetch_until_error(
    client: httpx.AsyncClient, body: dict[str, Any], fault: str
) -> tuple[bytes, Exception]:
    """Read a stream that must fail; returns what arrived and the exception."""
    received = bytearray()
    try:
        async with client.stream(
            "POST", "/v1/messages", json=body, headers={"x-streamsafe-fault": fault}
        ) as response:
            async for chunk in response.aiter_raw():
                received += chunk
    except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
        return bytes(received), exc
    raise AssertionError(f"{fault}: the stream ended without an error")


# -- normal answers ---------------------------------------------------------------------


async def test_stream_event_sequence_and_shapes(client: httpx.AsyncClient) -> None:
    response, raw = await fetch(client, request_body(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", response.headers["request-id"])
    events = parse_events(raw)
    compact = {"ensure_ascii": False, "separators": (",", ":")}
    assert raw == b"".join(
        f"event: {name}\ndata: {json.dumps(data, **compact)}\n\n".encode() for name, data in events
    )
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}

    start = events[0][1]["message"]
    assert re.fullmatch(r"msg_[0-9A-Za-z]{24}", start["id"])
    assert start == {
        "id": start["id"],
        "type": "message",
        "role": "assistant",
        "model": "claude-emulated",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": start["usage"]["input_tokens"],
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    assert start["usage"]["input_tokens"] == len(response.request.content) // 4
    assert events[1][1] == {"type": "ping"}
    assert events[2][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    for _, data in events[3:-3]:
        assert data["index"] == 0
        assert data["delta"]["type"] == "text_delta"
        assert data["delta"]["text"]
    assert events[-3][1] == {"type": "content_block_stop", "index": 0}
    message_delta = events[-2][1]
    assert message_delta == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": message_delta["usage"]["output_tokens"]},
    }
    assert events[-1][1] == {"type": "message_stop"}


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="text"),
        pytest.param({"tools": [WEATHER_TOOL]}, id="tools"),
        pytest.param({"thinking": {"type": "enabled", "budget_tokens": 1024}}, id="thinking"),
    ],
)
async def test_non_stream_returns_the_same_content(
    client: httpx.AsyncClient, extra: dict[str, Any]
) -> None:
    body = request_body("Same question twice", max_tokens=2048, **extra)
    _, raw = await fetch(client, {**body, "stream": True})
    streamed = accumulate(parse_events(raw))
    response = await client.post("/v1/messages", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["request-id"].startswith("req_")
    message = response.json()
    assert message["id"].startswith("msg_")
    assert message["id"] != streamed["id"]
    assert message["content"] == streamed["content"]
    assert message["stop_reason"] == streamed["stop_reason"]
    assert message["usage"]["output_tokens"] == streamed["usage"]["output_tokens"]
    assert set(message) == {
        "id",
        "type",
        "role",
        "model",
        "content",
        "stop_reason",
        "stop_sequence",
        "usage",
    }
    # Deterministic: the same body gives the same content again.
    again = (await client.post("/v1/messages", json=body)).json()
    assert again["content"] == message["content"]


async def test_text_length_follows_max_tokens(client: httpx.AsyncClient) -> None:
    short = (await client.post("/v1/messages", json=request_body(max_tokens=10))).json()
    assert short["stop_reason"] == "max_tokens"
    assert short["usage"]["output_tokens"] == 10
    assert len(short["content"][0]["text"].split()) == 10

    medium = (await client.post("/v1/messages", json=request_body(max_tokens=400))).json()
    assert medium["stop_reason"] == "end_turn"
    assert 250 <= medium["usage"]["output_tokens"] <= 400
    assert len(medium["content"][0]["text"].split()) == medium["usage"]["output_tokens"]

    huge = (await client.post("/v1/messages", json=request_body(max_tokens=100_000))).json()
    assert huge["stop_reason"] == "end_turn"
    assert huge["usage"]["output_tokens"] == 4096


async def test_text_exercises_utf8(client: httpx.AsyncClient) -> None:
    _, raw = await fetch(client, request_body(max_tokens=1000, stream=True))
    assert any(byte >= 0x80 for byte in raw)  # raw UTF-8, not \u escapes
    text = accumulate(parse_events(raw))["content"][0]["text"]
    assert any(ord(char) > 0xFFFF for char in text) or any(ord(char) > 0x7F for char in text)
    other = (await client.post("/v1/messages", json=request_body("Another prompt"))).json()
    assert other["content"][0]["text"] != text[: len(other["content"][0]["text"])]


async def test_thinking_block_precedes_text(client: httpx.AsyncClient) -> None:
    body = request_body(
        max_tokens=2048, stream=True, thinking={"type": "enabled", "budget_tokens": 1024}
    )
    _, raw = await fetch(client, body)
    events = parse_events(raw)
    starts = [data for name, data in events if name == "content_block_start"]
    assert [s["content_block"] for s in starts] == [
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "text", "text": ""},
    ]
    thinking_deltas = [
        data["delta"]
        for name, data in events
        if name == "content_block_delta" and data["index"] == 0
    ]
    assert len(thinking_deltas) >= 2
    assert {d["type"] for d in thinking_deltas[:-1]} == {"thinking_delta"}
    assert thinking_deltas[-1]["type"] == "signature_delta"
    assert len(thinking_deltas[-1]["signature"]) > 50
    message = accumulate(events)
    assert message["content"][0]["thinking"]
    assert message["stop_reason"] == "end_turn"


async def test_tool_use_blocks_and_awkward_json_fragments(client: httpx.AsyncClient) -> None:
    _, raw = await fetch(client, request_body(max_tokens=1024, stream=True, tools=[WEATHER_TOOL]))
    events = parse_events(raw)
    message = accumulate(events)
    assert message["stop_reason"] == "tool_use"
    assert message["content"][0]["type"] == "text"
    tool_blocks = [block for block in message["content"] if block["type"] == "tool_use"]
    assert len(tool_blocks) == 1
    tool = tool_blocks[0]
    assert re.fullmatch(r"toolu_[0-9A-Za-z]{24}", tool["id"])
    assert tool["name"] == "get_weather"
    value = tool["input"]
    assert set(value) == {"city", "days", "metric", "options", "tags"}
    assert isinstance(value["city"], str)
    assert isinstance(value["days"], int)
    assert 1 <= value["days"] <= 7
    assert isinstance(value["metric"], bool)
    assert isinstance(value["options"]["lang"], str)
    assert value["options"]["detail"] in ("low", "high")
    assert all(isinstance(tag, str) for tag in value["tags"])

    start = next(
        data for name, data in events if name == "content_block_start" and data["index"] == 1
    )
    assert start["content_block"] == {
        "type": "tool_use",
        "id": tool["id"],
        "name": "get_weather",
        "input": {},
    }
    fragments = [
        data["delta"]["partial_json"]
        for name, data in events
        if name == "content_block_delta" and data["index"] == 1
    ]
    assert fragments[0] == ""
    # Cut between a backslash and the character it escapes, and inside \uXXXX.
    assert any(re.search(r"(?<!\\)(\\\\)*\\$", fragment) for fragment in fragments)
    assert any(re.search(r"\\u[0-9a-f]{0,3}$", fragment) for fragment in fragments)
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_tool_without_schema_and_tool_result_turn(client: httpx.AsyncClient) -> None:
    tools = [{"name": "search", "input_schema": {"type": "object"}}]
    message = (
        await client.post("/v1/messages", json=request_body(max_tokens=512, tools=tools))
    ).json()
    call = message["content"][-1]
    assert call["type"] == "tool_use"
    assert set(call["input"]) == {"query"}

    follow_up = request_body(max_tokens=512, tools=tools)
    follow_up["messages"] += [
        {"role": "assistant", "content": message["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "42"}],
        },
    ]
    answer = (await client.post("/v1/messages", json=follow_up)).json()
    assert answer["stop_reason"] == "end_turn"
    assert [block["type"] for block in answer["content"]] == ["text"]


async def test_count_tokens(client: httpx.AsyncClient) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x" * 400}]}
    response = await client.post("/v1/messages/count_tokens", json=body)
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    assert response.json() == {"input_tokens": len(response.request.content) // 4}


async def test_invalid_requests(client: httpx.AsyncClient) -> None:
    missing = request_body()
    del missing["max_tokens"]
    response = await client.post("/v1/messages", json=missing)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in response.json()["error"]["message"]
    assert response.json()["request_id"] == response.headers["request-id"]

    response = await client.post("/v1/messages", content=b"{not json")
    assert response.status_code == 400

    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert response.headers["request-id"].startswith("req_")


async def test_requests_are_recorded(client: httpx.AsyncClient, emu: Emulator) -> None:
    body = request_body(stream=True)
    response, _ = await fetch(client, body, fault="truncate@2")
    (recorded,) = emu.requests
    assert recorded.method == "POST"
    assert recorded.path == "/v1/messages"
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.json == body
    assert recorded.body_size == len(response.request.content)
    assert recorded.fault == Fault.parse("truncate@2")
    assert recorded.request_id.startswith("req_")


# -- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 1, 4])
async def test_error_event_after_n_events(client: httpx.AsyncClient, position: int) -> None:
    response, raw = await fetch(
        client, request_body(stream=True), fault=f"error:overloaded_error@{position}"
    )
    assert response.status_code == 200
    assert response.headers["x-streamsafe-fault"] == f"error:overloaded_error@{position}"
    events = parse_events(raw)
    assert len(events) == position + 1
    name, data = events[-1]
    assert name == "error"
    assert data == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": response.headers["request-id"],
    }
    if position:
        assert events[0][0] == "message_start"


async def test_error_event_types(client: httpx.AsyncClient) -> None:
    for error_type in [*ERROR_TYPES, "brand_new_error"]:
        _, raw = await fetch(client, request_body(stream=True), fault=f"error:{error_type}@3")
        events = parse_events(raw)
        assert [name for name, _ in events] == [
            "message_start",
            "ping",
            "content_block_start",
            "error",
        ]
        assert events[-1][1]["error"]["type"] == error_type
        assert events[-1][1]["error"]["message"]


async def test_error_fault_on_non_stream_request_is_a_status(client: httpx.AsyncClient) -> None:
    response, raw = await fetch(client, request_body(), fault="error:rate_limit_error@3")
    assert response.status_code == 429
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"


async def test_status_fault_with_retry_headers(client: httpx.AsyncClient) -> None:
    spec = "status:529;retry_after=2;retry_after_ms=1500;should_retry=false"
    for stream in (True, False):
        response, raw = await fetch(client, request_body(stream=stream), fault=spec)
        assert response.status_code == 529
        assert response.headers["content-type"] == "application/json"
        assert response.headers["retry-after"] == "2"
        assert response.headers["retry-after-ms"] == "1500"
        assert response.headers["x-should-retry"] == "false"
        assert json.loads(raw) == {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": response.headers["request-id"],
        }


async def test_status_fault_default_and_explicit_types(client: httpx.AsyncClient) -> None:
    expected = {status: kind for kind, status in STATUS_FOR_ERROR_TYPE.items()}
    expected.update({418: "api_error", 503: "api_error"})
    for status, error_type in expected.items():
        response = await client.post(
            "/v1/messages", json=request_body(), headers={"x-streamsafe-fault": f"status:{status}"}
        )
        assert response.status_code == status
        assert response.json()["error"]["type"] == error_type
        assert "retry-after" not in response.headers
    response = await client.post(
        "/v1/messages",
        json=request_body(),
        headers={"x-streamsafe-fault": "status:500;type=weird_error;message=boom"},
    )
    assert response.json()["error"] == {"type": "weird_error", "message": "boom"}


async def test_html_and_empty_error_bodies(client: httpx.AsyncClient) -> None:
    response, raw = await fetch(client, request_body(stream=True), fault="html:502")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert b"<html>" in raw
    assert b"502 Bad Gateway" in raw

    response, raw = await fetch(client, request_body(), fault="empty:413;retry_after=1")
    assert response.status_code == 413
    assert raw == b""
    assert response.headers["retry-after"] == "1"


async def test_truncate_ends_cleanly_without_message_stop(client: httpx.AsyncClient) -> None:
    response, raw = await fetch(client, request_body(stream=True), fault="truncate@5")
    assert response.status_code == 200
    events = parse_events(raw)
    assert len(events) == 5
    assert raw.endswith(b"\n\n")
    assert "message_stop" not in [name for name, _ in events]

    with pytest.raises(httpx.RemoteProtocolError):
        await fetch(client, request_body(stream=True), fault="truncate@start")


async def test_truncate_bytes_cuts_inside_a_utf8_character(client: httpx.AsyncClient) -> None:
    body = request_body(max_tokens=1000, stream=True)
    _, full = await fetch(client, body)
    lead = next(i for i, byte in enumerate(full) if byte >= 0xC0)  # first byte of a multi-byte char
    response, raw = await fetch(client, body, fault=f"truncate_bytes@{lead + 1}")
    assert response.status_code == 200
    assert len(raw) == lead + 1
    assert raw[-40:] == full[lead - 39 : lead + 1]  # ids have a fixed length
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


async def test_truncate_non_stream_body(client: httpx.AsyncClient) -> None:
    response, raw = await fetch(client, request_body(), fault="truncate@30")
    assert response.status_code == 200
    assert len(raw) == 30
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


@pytest.mark.parametrize("position", [0, 4])
async def test_reset_after_n_events(client: httpx.AsyncClient, position: int) -> None:
    received, exc = await fetch_until_error(client, request_body(stream=True), f"reset@{position}")
    assert isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError)
    assert len(parse_events(received)) <= position


async def test_reset_before_headers(client: httpx.AsyncClient) -> None:
    for body in (request_body(stream=True), request_body()):
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await fetch(client, body, fault="reset@start")
    # The emulator keeps serving.
    assert (await client.post("/v1/messages", json=request_body())).status_code == 200


async def test_stall_triggers_read_timeout(emu: Emulator) -> None:
    timeout = httpx.Timeout(5.0, read=0.1)
    async with httpx.AsyncClient(base_url=emu.url, timeout=timeout, verify=SSL_CONTEXT) as http:
        started = time.monotonic()
        received, exc = await fetch_until_error(
            http, request_body(stream=True), "stall@3;seconds=5"
        )
        assert isinstance(exc, httpx.ReadTimeout)
        assert time.monotonic() - started < 2
        assert len(parse_events(received)) == 3


async def test_stall_then_completes(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    _, raw = await fetch(client, request_body(stream=True), fault="stall@2;seconds=0.1")
    assert time.monotonic() - started >= 0.1
    assert parse_events(raw)[-1][0] == "message_stop"


async def test_stall_with_pings_only(client: httpx.AsyncClient) -> None:
    _, clean = await fetch(client, request_body(stream=True))
    _, raw = await fetch(
        client, request_body(stream=True), fault="stall_pings@3;seconds=0.2;every=0.04"
    )
    names = [name for name, _ in parse_events(raw)]
    clean_names = [name for name, _ in parse_events(clean)]
    assert names[:3] == clean_names[:3]
    extra = names[3 : 3 + len(names) - len(clean_names)]
    assert 3 <= len(extra) <= 6
    assert set(extra) == {"ping"}
    assert names[3 + len(extra) :] == clean_names[3:]


async def test_content_type_faults(client: httpx.AsyncClient) -> None:
    response, raw = await fetch(client, request_body(stream=True), fault="content_type:text/html")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html"
    assert raw.startswith(b"<!DOCTYPE html>")

    response, raw = await fetch(
        client, request_body(stream=True), fault="content_type:application/json"
    )
    assert response.headers["content-type"] == "application/json"
    assert json.loads(raw)["type"] == "message"

    spec = "content_type:text/event-stream; charset=latin-1"
    response, raw = await fetch(client, request_body(stream=True), fault=spec)
    assert response.headers["content-type"] == "text/event-stream; charset=latin-1"
    assert parse_events(raw)[-1][0] == "message_stop"

    for stream, content_type in ((True, "text/event-stream"), (False, "application/json")):
        response, raw = await fetch(client, request_body(stream=stream), fault="empty_200")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(content_type)
        assert raw == b""
    response, raw = await fetch(
        client, request_body(stream=True), fault="empty_200:application/json"
    )
    assert response.headers["content-type"] == "application/json"
    assert raw == b""


async def test_raw_stream(client: httpx.AsyncClient, emu: Emulator) -> None:
    payload = b'data: {"type":"ping"}\r\n\r\n: comment\n\nevent: message_stop\ndata: {}\n\n'
    emu.push_raw_stream(
        payload, headers={"x-extra": "1"}, chunk_size=7, chunk_delay=0.01, status=200
    )
    chunks: list[bytes] = []
    async with client.stream("POST", "/v1/messages", json=request_body()) as response:
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
    assert b"".join(chunks) == payload
    assert len(chunks) > 1
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-extra"] == "1"
    assert response.headers["request-id"].startswith("req_")
    assert emu.requests[0].fault is not None
    assert emu.requests[0].fault.kind == "raw"

    emu.push_raw_stream(b"<h1>nope</h1>", content_type="text/html", status=502)
    response = await client.post("/v1/messages", json=request_body())
    assert (response.status_code, response.text) == (502, "<h1>nope</h1>")


async def test_oversize_body_gets_413_without_parsing(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    emu.push_fault("status:529")  # not consumed: the size check comes first
    body = b'{"padding": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/v1/messages", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert response.json()["request_id"] == response.headers["request-id"]
    (recorded,) = emu.requests
    assert recorded.json is None
    assert recorded.body_size == len(body)
    assert len(emu.pending_faults) == 1


async def test_push_fault_times_and_fifo(client: httpx.AsyncClient, emu: Emulator) -> None:
    emu.push_fault("error:overloaded_error@0", times=2)
    emu.push_fault(Fault.parse("status:429;retry_after=0"))
    body = request_body(stream=True)

    # A header fault wins and leaves the queue alone; count_tokens never pops it.
    response, _ = await fetch(client, body, fault="none")
    assert response.headers.get("x-streamsafe-fault") is None
    count = {"model": "m", "messages": []}
    assert (await client.post("/v1/messages/count_tokens", json=count)).status_code == 200
    assert len(emu.pending_faults) == 3

    for _ in range(2):
        _, raw = await fetch(client, body)
        assert [name for name, _ in parse_events(raw)] == ["error"]
    response, _ = await fetch(client, body)
    assert response.status_code == 429
    response, raw = await fetch(client, body)
    assert parse_events(raw)[-1][0] == "message_stop"
    assert emu.pending_faults == []

    kinds = [r.fault.spec if r.fault else None for r in emu.requests]
    assert kinds == [
        None,
        None,
        "error:overloaded_error@0",
        "error:overloaded_error@0",
        "status:429;retry_after=0",
        None,
    ]
    emu.push_fault("truncate@1", times=3)
    emu.clear()
    assert emu.requests == []
    assert emu.pending_faults == []


async def test_event_delay_header_and_ping_interval(
    client: httpx.AsyncClient, emu: Emulator
) -> None:
    body = request_body(max_tokens=8, stream=True)
    started = time.monotonic()
    response = await client.post("/v1/messages", json=body, headers={"x-streamsafe-delay-ms": "10"})
    elapsed = time.monotonic() - started
    events = parse_events(response.content)
    assert elapsed >= 0.01 * (len(events) - 1) * 0.9
    assert [name for name, _ in events].count("ping") == 1

    emu.event_delay = 0.02
    emu.ping_interval = 0.025
    response = await client.post("/v1/messages", json=body)
    names = [name for name, _ in parse_events(response.content)]
    assert names.count("ping") >= 3
    assert names[0] == "message_start"
    assert names[-1] == "message_stop"

    bad = await client.post("/v1/messages", json=body, headers={"x-streamsafe-delay-ms": "soon"})
    assert bad.status_code == 400


async def test_async_context_manager_and_fast_shutdown_with_open_stream() -> None:
    async with Emulator(event_delay=0.001) as emulator:
        port = emulator.port
        assert emulator.url == f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(
            base_url=emulator.url, timeout=10.0, verify=SSL_CONTEXT
        ) as http:
            response = await http.send(
                http.build_request(
                    "POST",
                    "/v1/messages",
                    json=request_body(stream=True),
                    headers={"x-streamsafe-fault": "stall@3;seconds=30"},
                ),
                stream=True,
            )
            assert response.status_code == 200
            started = time.monotonic()
            await anyio.to_thread.run_sync(emulator.stop)
            assert time.monotonic() - started < 1.0
            with pytest.raises(httpx.TransportError):
                await response.aread()
            await response.aclose()
    assert not emulator.running
    assert not [t for t in threading.enumerate() if t.name == f"streamsafe-emulator-{port}"]


def test_sync_start_stop() -> None:
    emulator = Emulator()
    with pytest.raises(RuntimeError):
        _ = emulator.url
    with emulator:
        with pytest.raises(RuntimeError):
            emulator.start()
        response = httpx.post(
            emulator.url + "/v1/messages", json=request_body(), verify=SSL_CONTEXT
        )
        assert response.status_code == 200
    emulator.stop()  # idempotent
    with pytest.raises(ValueError, match="event_delay"):
        Emulator(event_delay=-1)


def test_streamsafe_emulator_fixture(streamsafe_emulator: Emulator) -> None:
    streamsafe_emulator.push_fault("status:503")
    response = httpx.post(
        streamsafe_emulator.url + "/v1/messages", json=request_body(), verify=SSL_CONTEXT
    )
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "api_error"


@pytest.mark.streamsafe_emulator(event_delay=0.005, ping_interval=1.0)
def test_streamsafe_emulator_fixture_marker(streamsafe_emulator: Emulator) -> None:
    assert streamsafe_emulator.event_delay == 0.005
    assert streamsafe_emulator.ping_interval == 1.0


# -- the spec grammar -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "error:overloaded_error@3",
        "error:new_type@0;message=custom words",
        "error:overloaded_error@3;code=compaction_unavailable",
        "status:429;code=ramp_limit_exceeded;should_retry=false",
        "status:529;retry_after=2;retry_after_ms=1500;should_retry=true",
        "status:400;type=invalid_request_error",
        "html:413",
        "empty:502;retry_after=Wed, 21 Oct 2015 07:28:00 GMT",
        "truncate@7",
        "truncate@start",
        "truncate_bytes@1234",
        "reset@0",
        "reset@start",
        "stall@2;seconds=1.5",
        "stall@start;seconds=1",
        "stall_pings@4;seconds=2;every=0.5",
        "content_type:text/event-stream; charset=latin-1",
        "empty_200",
        "empty_200:application/json",
        "none",
    ],
)
def test_fault_spec_round_trip(spec: str) -> None:
    fault = Fault.parse(spec)
    assert Fault.parse(fault.spec) == fault
    assert str(fault) == fault.spec


def test_fault_spec_defaults() -> None:
    assert Fault.parse("reset") == Fault("reset", at=0)
    assert Fault.parse("stall@1").seconds == 30.0
    assert Fault.parse("stall_pings@1").every == 0.2
    assert Fault.parse("status:429").resolved_error_type() == "rate_limit_error"
    assert Fault.parse(" status:529 ; should_retry=FALSE ").should_retry is False
    assert Fault.parse("status:429;code=ramp_limit_exceeded").code == "ramp_limit_exceeded"
    assert Fault.parse("error:api_error@1").code is None
    with pytest.raises(ValueError, match="error code"):
        Fault("reset", code="ramp_limit_exceeded")


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "explode",
        "error@3",
        "error:api_error@-1",
        "error:api_error@start",
        "status:abc",
        "status:99",
        "status:529@3",
        "status:529;seconds=1",
        "reset:now",
        "stall@1;seconds=-1",
        "stall@1;seconds=soon",
        "stall_pings@1;every=0",
        "status:500;should_retry=maybe",
        "content_type",
        "html:413;code=request_body_too_large_after_decoding",
        "reset@2;code=ramp_limit_exceeded",
    ],
)
def test_bad_fault_specs(spec: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        Fault.parse(spec)
