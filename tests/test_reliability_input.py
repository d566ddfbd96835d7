"""Bad input: every malformed byte stream or response is a typed, readable error.

Each case is served byte for byte by the emulator over loopback TCP
(``push_raw_stream``) and read through the async client (asyncio and trio)
and the sync client. The error must be a streamsafe exception of the expected
class, its message must name what was wrong, and what arrived before the bad
part must be on ``partial_message``. Memory bounds are measured with
:mod:`tracemalloc` on an in-process transport (so the server's copy of the
body is not counted).
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import SSEError

import streamsafe
from reliability_support import (
    SMALL_REQUEST,
    JSONDict,
    async_client,
    busy_connections,
    outcome,
    sync_client,
    sync_outcome,
)
from streamsafe import (
    APIError,
    APIStatusError,
    BadRequestError,
    EventTooLargeError,
    IncompleteStreamError,
    InternalServerError,
    MalformedEventError,
    NotFoundError,
    OverloadedError,
    RateLimitError,
    RequestTooLargeError,
    UnexpectedContentTypeError,
)
from streamsafe.testing import Emulator

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
REQUEST_ID = "req_bad_input_01"
MESSAGE_ID = "msg_bad_input_01"
GUARD = 10.0


def sse(name: str | None, data: JSONDict | str | bytes) -> bytes:
    """One SSE frame; ``data`` dicts are JSON-encoded, str/bytes sent verbatim."""
    if isinstance(data, dict):
        payload = json.dumps(data, ensure_ascii=False).encode()
    elif isinstance(data, str):
        payload = data.encode()
    else:
        payload = data
    head = b"" if name is None else b"event: " + name.encode() + b"\n"
    return head + b"data: " + payload + b"\n\n"


MESSAGE_START = sse(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": MESSAGE_ID,
            "type": "message",
            "role": "assistant",
            "model": "claude-emulated",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 1},
        },
    },
)
PING = sse("ping", {"type": "ping"})


def block_start(index: int, block: JSONDict | None = None) -> bytes:
    block = block or {"type": "text", "text": ""}
    return sse(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def delta(index: Any, value: JSONDict) -> bytes:
    return sse(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": value}
    )


def text(index: Any, words: str) -> bytes:
    return delta(index, {"type": "text_delta", "text": words})


def block_stop(index: int) -> bytes:
    return sse("content_block_stop", {"type": "content_block_stop", "index": index})


MESSAGE_END = sse(
    "message_delta",
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    },
) + sse("message_stop", {"type": "message_stop"})

#: A started message with a text block holding "Hello" (not stopped).
PREFIX = MESSAGE_START + PING + block_start(0) + text(0, "Hello")

HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><h1>502 Bad Gateway</h1><p>upstream went away</p></body></html>
"""


@dataclass(frozen=True)
class Case:
    body: bytes
    error: type[APIError]
    #: Substrings the error message must contain.
    says: tuple[str, ...]
    status: int = 200
    content_type: str | None = "text/event-stream"
    #: The text of the partial message, or None when there must be none.
    partial_text: str | None = None
    incomplete: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    # -- malformed events after content: MalformedEventError with the partial ----------
    "malformed JSON in data": Case(
        PREFIX
        + b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0\n\n',
        MalformedEventError,
        ("not valid JSON", '"index": 0'),
        partial_text="Hello",
        incomplete=(0,),
    ),
    "data that is not JSON at all": Case(
        PREFIX + sse(None, "<html>oops</html>"),
        MalformedEventError,
        ("not valid JSON", "<html>oops</html>"),
        partial_text="Hello",
        incomplete=(0,),
    ),
    "an event without a type": Case(
        PREFIX + sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta"}}),
        MalformedEventError,
        ("no string 'type' field",),
        partial_text="Hello",
        incomplete=(0,),
    ),
    "a field of the wrong type": Case(
        PREFIX + text("zero", " world"),
        MalformedEventError,
        ("wrong shape", "index"),
        partial_text="Hello",
        incomplete=(0,),
    ),
    "a delta index out of range": Case(
        PREFIX + text(5, " world"),
        MalformedEventError,
        ("content block 5", "never started", "1 started"),
        partial_text="Hello",
        incomplete=(0,),
    ),
    "a delta for a block never started": Case(
        MESSAGE_START + PING + text(0, "Hello"),
        MalformedEventError,
        ("content block 0", "never started"),
        partial_text="",
    ),
    "a delta after its block stopped": Case(
        PREFIX + block_stop(0) + text(0, " again"),
        MalformedEventError,
        ("content block 0", "after it stopped"),
        partial_text="Hello",
    ),
    "a block start that skips an index": Case(
        PREFIX + block_stop(0) + block_start(2),
        MalformedEventError,
        ("index 2", "expected 1"),
        partial_text="Hello",
    ),
    "a second message_start": Case(
        PREFIX + MESSAGE_START,
        MalformedEventError,
        ("second message_start",),
        partial_text="Hello",
        incomplete=(0,),
    ),
    "content before message_start": Case(
        block_start(0) + text(0, "Hello"),
        MalformedEventError,
        ("before message_start",),
    ),
    # Tool input that does not parse is not an error (a call cut by max_tokens
    # sends exactly that); the stream ending without message_stop is.
    "tool input that is not JSON, then the end": Case(
        MESSAGE_START
        + block_start(0, {"type": "tool_use", "id": "toolu_1", "name": "rm", "input": {}})
        + delta(0, {"type": "input_json_delta", "partial_json": '{"path": '})
        + block_stop(0),
        IncompleteStreamError,
        ("without message_stop",),
        partial_text="",
        incomplete=(0,),
    ),
    # -- in-stream errors of unusual shapes --------------------------------------------
    "an error event with an unknown error.type": Case(
        PREFIX
        + sse(
            "error",
            {"type": "error", "error": {"type": "quantum_error", "message": "Qubits decohered"}},
        ),
        APIStatusError,
        ("quantum_error", "Qubits decohered"),
        partial_text="Hello",
        incomplete=(0,),
        extra={"error_type": "quantum_error", "in_stream": True, "http_status": 200},
    ),
    "an error event whose data is not JSON": Case(
        PREFIX + sse("error", "upstream exploded"),
        APIStatusError,
        ("upstream exploded",),
        partial_text="Hello",
        incomplete=(0,),
        extra={"error_type": None, "in_stream": True},
    ),
    "an error payload without its event: line": Case(
        PREFIX
        + sse(None, {"type": "error", "error": {"type": "overloaded_error", "message": "Busy"}}),
        OverloadedError,
        ("overloaded_error", "Busy"),
        partial_text="Hello",
        incomplete=(0,),
        extra={"status_code": 529, "in_stream": True},
    ),
    # -- a 200 that is not an event stream -----------------------------------------------
    "an empty 200 body": Case(
        b"",
        IncompleteStreamError,
        ("ended before message_start",),
    ),
    "a 200 with content-type text/html": Case(
        HTML_PAGE,
        UnexpectedContentTypeError,
        ("text/event-stream", "text/html", "502 Bad Gateway", "upstream went away"),
        content_type="text/html; charset=utf-8",
    ),
    "a 200 with content-type application/json": Case(
        json.dumps({"id": MESSAGE_ID, "type": "message", "content": []}).encode(),
        UnexpectedContentTypeError,
        ("application/json", MESSAGE_ID),
        content_type="application/json",
    ),
    "a 200 without a content type": Case(
        b"hello",
        UnexpectedContentTypeError,
        ("content-type (none)", "hello"),
        content_type=None,
    ),
    "an empty 200 labelled text/html": Case(
        b"",
        UnexpectedContentTypeError,
        ("text/html", "(empty body)"),
        content_type="text/html",
    ),
    # -- error statuses with unusual bodies ------------------------------------------------
    "an HTML 502 page": Case(
        HTML_PAGE,
        InternalServerError,
        ("HTTP 502", "502 Bad Gateway", "upstream went away"),
        status=502,
        content_type="text/html",
        extra={"status_code": 502, "http_status": 502, "error_type": None},
    ),
    "an HTML 413 page": Case(
        b"<html><body><h1>413 Request Entity Too Large</h1></body></html>",
        RequestTooLargeError,
        ("HTTP 413", "Request Entity Too Large"),
        status=413,
        content_type="text/html",
    ),
    "an empty 529 body": Case(
        b"",
        OverloadedError,
        ("HTTP 529 with an empty body",),
        status=529,
        content_type=None,
        extra={"retryable": True},
    ),
    "a JSON 400 body of an unknown shape": Case(
        b'{"detail": "max_tokens must be positive"}',
        BadRequestError,
        ("detail", "max_tokens must be positive"),
        status=400,
        content_type="application/json",
        extra={"body": {"detail": "max_tokens must be positive"}},
    ),
    "a JSON 429 body whose error is a string": Case(
        b'{"error": "slow down"}',
        RateLimitError,
        ("slow down",),
        status=429,
        content_type="application/json",
    ),
    "a JSON 500 body that is an array": Case(
        b"[1, 2, 3]",
        InternalServerError,
        ("[1, 2, 3]",),
        status=500,
        content_type="application/json",
    ),
    "a 418 with a body no one knows": Case(
        b'{"teapot": true}',
        APIStatusError,
        ("teapot",),
        status=418,
        content_type="application/json",
        extra={"status_code": 418, "error_type": None},
    ),
    "a 404 with an error type no one knows": Case(
        b'{"type": "error", "error": {"type": "gone_error", "message": "Model retired"}}',
        NotFoundError,
        ("gone_error", "Model retired"),
        status=404,
        content_type="application/json",
        extra={"error_type": "gone_error"},
    ),
}


@pytest.fixture(autouse=True)
def _fresh_queue(emulator: Emulator) -> None:
    emulator.clear()


def serve(emulator: Emulator, case: Case, chunk_size: int | None = 61) -> None:
    emulator.push_raw_stream(
        case.body,
        content_type=case.content_type,
        status=case.status,
        headers={"request-id": REQUEST_ID},
        chunk_size=chunk_size,
    )


def check_case(name: str, case: Case, error: APIError | None) -> None:
    assert type(error) is case.error, name
    for words in case.says:
        assert words in str(error), (name, words, str(error))
    assert error.request_id == REQUEST_ID, name
    partial = error.partial_message
    if case.partial_text is None:
        assert partial is None, name
    else:
        assert partial is not None, name
        assert partial.id == MESSAGE_ID, name
        assert partial.text == case.partial_text, name
        assert partial.request_id == REQUEST_ID, name
    assert error.incomplete_blocks == case.incomplete, name
    for attribute, value in case.extra.items():
        assert getattr(error, attribute) == value, (name, attribute)
    assert "Traceback" not in str(error)


@pytest.mark.parametrize("name", list(CASES))
async def test_bad_input_is_a_typed_error_naming_the_problem(emulator: Emulator, name: str) -> None:
    case = CASES[name]
    serve(emulator, case)
    async with async_client(emulator) as client:
        with anyio.fail_after(GUARD):
            _, error, message = await outcome(client, request=SMALL_REQUEST)
        assert message is None
        check_case(name, case, error)
        assert busy_connections(client) == []


def test_sync_client_bad_input_is_the_same_typed_error(emulator: Emulator) -> None:
    with sync_client(emulator) as client:
        for name, case in CASES.items():
            serve(emulator, case, chunk_size=None)
            _, error, message = sync_outcome(client, request=SMALL_REQUEST)
            assert message is None
            check_case(name, case, error)
        assert busy_connections(client) == []


async def test_unknown_event_block_and_delta_types_pass_through(emulator: Emulator) -> None:
    body = (
        MESSAGE_START
        + sse("hologram", {"type": "hologram", "frames": 3})
        + block_start(0, {"type": "sketch", "strokes": []})
        + delta(0, {"type": "stroke_delta", "stroke": [1, 2]})
        + block_stop(0)
        + block_start(1)
        + text(1, "Hi")
        + delta(1, {"type": "text_delta", "text": "!", "sparkle": True})
        + block_stop(1)
        + MESSAGE_END
    )
    emulator.push_raw_stream(body, headers={"request-id": REQUEST_ID})
    async with async_client(emulator) as client:
        with anyio.fail_after(GUARD):
            seen, error, message = await outcome(client, request=SMALL_REQUEST)
    assert error is None
    assert message is not None
    assert isinstance(seen[1], streamsafe.UnknownEvent)
    assert seen[1].to_dict() == {"type": "hologram", "frames": 3}
    sketch, greeting = message.content
    assert isinstance(sketch, streamsafe.UnknownBlock)
    assert sketch.type == "sketch"
    assert [d.to_dict() for d in sketch.unknown_deltas] == [
        {"type": "stroke_delta", "stroke": [1, 2]}
    ]
    assert isinstance(greeting, streamsafe.TextBlock)
    assert greeting.text == "Hi!"
    # A field no model knows, on a known delta: kept on the delta, never on the
    # block (the API would reject it when the message is sent back).
    assert "sparkle" not in greeting.to_dict()
    assert [d.to_dict() for d in greeting.unknown_deltas] == [
        {"type": "text_delta", "text": "!", "sparkle": True}
    ]


@pytest.mark.parametrize(
    "content_type",
    ["text/event-stream; charset=latin-1", "TEXT/Event-Stream", "text/event-stream;charset=utf-16"],
)
async def test_the_charset_label_is_ignored_sse_is_always_utf8(
    emulator: Emulator, content_type: str
) -> None:
    body = MESSAGE_START + block_start(0) + text(0, "café 日本 🚀") + block_stop(0) + MESSAGE_END
    emulator.push_raw_stream(body, content_type=content_type)
    async with async_client(emulator) as client:
        with anyio.fail_after(GUARD):
            _, error, message = await outcome(client, request=SMALL_REQUEST)
    assert error is None
    assert message is not None
    assert message.text == "café 日本 🚀"


# -- invalid UTF-8 --------------------------------------------------------------------------


INVALID_UTF8 = (
    MESSAGE_START
    + block_start(0)
    # A lone continuation byte, a truncated 3-byte sequence, an overlong "/",
    # a surrogate encoded in UTF-8 and a byte that never occurs in UTF-8.
    + text(0, "a").replace(b'"a"', b'"a\x80b\xe6\x97c\xc0\xafd\xed\xa0\x80e\xfff"')
    + block_stop(0)
    + MESSAGE_END
)


@pytest.mark.parametrize("chunk_size", [None, 1, 7])
async def test_invalid_utf8_becomes_replacement_characters(
    emulator: Emulator, chunk_size: int | None
) -> None:
    emulator.push_raw_stream(INVALID_UTF8, chunk_size=chunk_size)
    async with async_client(emulator) as client:
        with anyio.fail_after(GUARD):
            _, error, message = await outcome(client, request=SMALL_REQUEST)
    assert error is None
    assert message is not None
    # One U+FFFD per maximal ill-formed subpart (WHATWG / Unicode), whatever the chunking.
    assert message.text == "a\ufffdb\ufffdc\ufffd\ufffdd\ufffd\ufffd\ufffde\ufffdf"


def test_sync_invalid_utf8_becomes_replacement_characters(emulator: Emulator) -> None:
    emulator.push_raw_stream(INVALID_UTF8, chunk_size=3)
    with sync_client(emulator) as client:
        _, error, message = sync_outcome(client, request=SMALL_REQUEST)
    assert error is None
    assert message is not None
    assert "\ufffd" in message.text
    assert message.text.startswith("a\ufffdb")


# -- oversize events: a typed error, and memory stays bounded ----------------------------------


class Body(httpx.AsyncByteStream):
    """An endless-looking response body generated in 64 KiB pieces (fresh bytes each)."""

    def __init__(self, head: bytes, filler: bytes, total: int) -> None:
        self.head = head
        self.filler = filler
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        self.sent = len(self.head)
        while self.sent < self.total:
            chunk = self.filler * (65536 // len(self.filler))  # a new object every time
            self.sent += len(chunk)
            yield chunk


def mock_client(body: Body, content_type: str = "text/event-stream") -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": content_type, "request-id": REQUEST_ID},
            stream=body,
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://api.test")


OVERSIZE = {
    # 50 MiB of one line without a line ending.
    "one endless line": (PREFIX + b"data: ", b"x"),
    # 50 MiB of data lines that never reach the blank line ending the event.
    "one endless event": (PREFIX, b"data: " + b"y" * 1018 + b"\n"),
}


@pytest.mark.parametrize("shape", list(OVERSIZE))
async def test_oversize_event_is_typed_and_memory_stays_bounded(shape: str) -> None:
    head, filler = OVERSIZE[shape]
    body = Body(head, filler, total=50 * MIB)
    async with mock_client(body) as http:
        tracemalloc.start()
        try:
            with anyio.fail_after(GUARD), pytest.raises(EventTooLargeError) as info:
                async with streamsafe.aconnect_message_stream(
                    http, "POST", "/v1/messages", json={}, max_event_bytes=1 * MIB
                ) as stream:
                    await stream.get_final_message()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    error = info.value
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert body.sent < 3 * MIB, "the stream must stop being read at the limit"
    assert "max_event_bytes=1048576" in error.message
    assert error.partial_message is not None
    assert error.partial_message.text == "Hello"
    assert error.incomplete_blocks == (0,)
    assert error.request_id == REQUEST_ID


async def test_oversize_event_over_tcp_through_the_client(emulator: Emulator) -> None:
    emulator.push_raw_stream(
        PREFIX + b"data: " + b"z" * (3 * MIB), headers={"request-id": REQUEST_ID}, chunk_size=65536
    )
    async with async_client(emulator, max_event_bytes=1 * MIB) as client:
        with anyio.fail_after(GUARD):
            _, error, _ = await outcome(client, request=SMALL_REQUEST)
        assert busy_connections(client) == []
    assert type(error) is EventTooLargeError
    assert error.partial_message is not None
    assert error.partial_message.text == "Hello"


@pytest.mark.parametrize("status", [200, 502])
async def test_a_huge_non_stream_body_is_not_read_whole(status: int) -> None:
    """A proxy answering with a giant page: the typed error comes, memory stays bounded."""
    page = b"<html><body>" + b"<p>lorem ipsum</p>" * 40 + b"</body></html>"
    body = Body(page, b"<p>more of the same page</p>\n", total=50 * MIB)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            headers={"content-type": "text/html", "request-id": REQUEST_ID},
            stream=body,
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        tracemalloc.start()
        try:
            with anyio.fail_after(GUARD), pytest.raises(APIError) as info:
                async with streamsafe.aconnect_message_stream(
                    http, "POST", "http://api.test/v1/messages", json={}
                ):
                    pass
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    expected = UnexpectedContentTypeError if status == 200 else InternalServerError
    assert type(info.value) is expected
    assert "lorem ipsum" in info.value.message
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert body.sent < 3 * MIB


def test_unexpected_content_type_is_also_an_httpx_sse_error() -> None:
    assert issubclass(UnexpectedContentTypeError, SSEError)
