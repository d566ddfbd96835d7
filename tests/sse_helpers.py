"""Shared test helpers: build Messages-API SSE byte streams and serve them in chunks.

Event builders return the JSON objects the API sends; :func:`encode` turns a
list of them into the exact bytes of a ``text/event-stream`` body.
:class:`FakeServer` serves such a body through :class:`httpx.MockTransport`,
cut into chunks of a chosen size (so chunk boundaries really reach the
decoder), optionally failing or stalling at a byte offset. Every body it
serves is a :class:`ChunkedBody` that records whether its generator ran to the
end, whether its ``finally`` ran and whether httpx closed it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

JSONDict = dict[str, Any]

REQUEST_ID = "req_test_0001"
MESSAGE_ID = "msg_test_0001"
MODEL = "claude-test-1"
BASE_URL = "https://api.example.test"
PATH = "/v1/messages"


# ---------------------------------------------------------------------------
# Event builders (the wire JSON of the Messages API)
# ---------------------------------------------------------------------------


def message_start(
    *,
    input_tokens: int = 12,
    output_tokens: int = 1,
    message_extra: JSONDict | None = None,
    usage_extra: JSONDict | None = None,
) -> JSONDict:
    usage: JSONDict = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    usage.update(usage_extra or {})
    message: JSONDict = {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    message.update(message_extra or {})
    return {"type": "message_start", "message": message}


def text_block(text: str = "", **extra: Any) -> JSONDict:
    """A text block: as ``content_block_start`` opens it (``text_block()``), or as expected."""
    return {"type": "text", "text": text, **extra}


def tool_block(
    tool_id: str,
    name: str,
    tool_input: JSONDict | None = None,
    *,
    block_type: str = "tool_use",
    **extra: Any,
) -> JSONDict:
    """A ``tool_use`` (or ``server_tool_use``) block; its input ``{}`` unless given."""
    tool_input = {} if tool_input is None else tool_input
    return {"type": block_type, "id": tool_id, "name": name, "input": tool_input, **extra}


def block_start(index: int, block: JSONDict) -> JSONDict:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: JSONDict) -> JSONDict:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def text_delta(index: int, text: str) -> JSONDict:
    return block_delta(index, {"type": "text_delta", "text": text})


def json_delta(index: int, partial_json: str) -> JSONDict:
    return block_delta(index, {"type": "input_json_delta", "partial_json": partial_json})


def block_stop(index: int) -> JSONDict:
    return {"type": "content_block_stop", "index": index}


def message_delta(
    stop_reason: str | None = "end_turn",
    *,
    stop_sequence: str | None = None,
    usage: JSONDict | None = None,
) -> JSONDict:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
        "usage": {"output_tokens": 20} if usage is None else usage,
    }


def message_stop() -> JSONDict:
    return {"type": "message_stop"}


def ping() -> JSONDict:
    return {"type": "ping"}


def error_event(error_type: str, message: str, **extra: Any) -> JSONDict:
    return {"type": "error", "error": {"type": error_type, "message": message}, **extra}


def text_stream_events(*pieces: str) -> list[JSONDict]:
    """A complete one-text-block stream whose text deltas are ``pieces``."""
    return [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        ping(),
        *[text_delta(0, piece) for piece in pieces],
        block_stop(0),
        message_delta(),
        message_stop(),
    ]


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def dumps(payload: Any) -> str:
    """Compact JSON, non-ASCII kept as UTF-8 (so multi-byte characters get split)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def frame(payload: Any, *, event: str | None = None) -> bytes:
    """One SSE event: an optional ``event:`` line, one ``data:`` line, a blank line."""
    data = payload if isinstance(payload, str) else dumps(payload)
    head = f"event: {event}\n" if event is not None else ""
    return f"{head}data: {data}\n\n".encode()


def encode(events: Iterable[JSONDict], *, event_lines: bool = True) -> bytes:
    """The body of a stream of ``events``, each named by its ``type`` (like the API)."""
    return b"".join(
        frame(event, event=str(event["type"]) if event_lines else None) for event in events
    )


def frames(events: Iterable[JSONDict]) -> list[bytes]:
    """The encoded bytes of each event separately (for cutting a stream at a boundary)."""
    return [frame(event, event=str(event["type"])) for event in events]


# ---------------------------------------------------------------------------
# A chunking response body and a fake server
# ---------------------------------------------------------------------------


class ChunkedBody(httpx.AsyncByteStream, httpx.SyncByteStream):
    """A response body served ``chunk_size`` bytes at a time by a generator.

    ``fail_at``: after this many bytes, the generator raises ``error``.
    ``stall_at``: after this many bytes, the (async) generator sends nothing
    more: it raises ``httpx.ReadTimeout`` after ``read_timeout`` seconds, as
    httpcore does, or sleeps forever when there is none.
    ``delay``: seconds the generator sleeps before each chunk but the first.
    ``aclose()`` / ``close()`` close the generator, as a real transport would
    release its connection, so ``finally_ran`` tells whether the body was
    closed (or ran to its end).
    """

    def __init__(
        self,
        data: bytes,
        chunk_size: int,
        *,
        fail_at: int | None = None,
        error: Exception | None = None,
        stall_at: int | None = None,
        delay: float = 0.0,
        read_timeout: float | None = None,
    ) -> None:
        self.data = data
        self.read_timeout = read_timeout
        self.delay = delay
        self.chunk_size = chunk_size
        self.fail_at = fail_at
        self.error = error
        self.stall_at = stall_at
        self.sent = 0
        self.exhausted = False
        self.finally_ran = False
        self.closed = False
        self._agen: AsyncIterator[bytes] | None = None
        self._gen: Iterator[bytes] | None = None

    def _stop_at(self) -> int:
        stops = [len(self.data)]
        if self.fail_at is not None:
            stops.append(self.fail_at)
        if self.stall_at is not None:
            stops.append(self.stall_at)
        return min(stops)

    def _next_chunk(self, stop: int) -> bytes:
        chunk = self.data[self.sent : min(self.sent + self.chunk_size, stop)]
        self.sent += len(chunk)
        return chunk

    async def _agenerate(self) -> AsyncIterator[bytes]:
        try:
            stop = self._stop_at()
            while self.sent < stop:
                yield self._next_chunk(stop)
                if self.delay:
                    await anyio.sleep(self.delay)
                else:
                    await anyio.lowlevel.checkpoint()
            if self.fail_at is not None and self.sent >= self.fail_at:
                raise self.error or httpx.ReadError("connection reset")
            if self.stall_at is not None and self.sent >= self.stall_at:
                if self.read_timeout is None:
                    await anyio.sleep_forever()
                await anyio.sleep(self.read_timeout)
                raise httpx.ReadTimeout("timed out")
            self.exhausted = True
        finally:
            self.finally_ran = True

    def _generate(self) -> Iterator[bytes]:
        try:
            stop = self._stop_at()
            while self.sent < stop:
                yield self._next_chunk(stop)
                if self.delay:
                    time.sleep(self.delay)
            if self.fail_at is not None and self.sent >= self.fail_at:
                raise self.error or httpx.ReadError("connection reset")
            self.exhausted = True
        finally:
            self.finally_ran = True

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._agen is None:
            self._agen = self._agenerate()
        return self._agen

    async def aclose(self) -> None:
        self.closed = True
        if self._agen is not None:
            await self._agen.aclose()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[bytes]:
        if self._gen is None:
            self._gen = self._generate()
        return self._gen

    def close(self) -> None:
        self.closed = True
        if self._gen is not None:
            self._gen.close()  # type: ignore[attr-defined]


def sse_headers(**extra: str) -> dict[str, str]:
    return {"content-type": "text/event-stream", "request-id": REQUEST_ID, **extra}


@dataclass
class FakeServer:
    """Serves ``body`` for every request, in chunks, through an httpx MockTransport.

    Change the attributes between requests (e.g. ``chunk_size``) to vary what
    the next response looks like; every body served is kept in ``bodies``.
    """

    body: bytes = b""
    chunk_size: int = 16
    status: int = 200
    headers: dict[str, str] = field(default_factory=sse_headers)
    fail_at: int | None = None
    error: Exception | None = None
    stall_at: int | None = None
    delay: float = 0.0
    bodies: list[ChunkedBody] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = ChunkedBody(
            self.body,
            self.chunk_size,
            fail_at=self.fail_at,
            error=self.error,
            stall_at=self.stall_at,
            delay=self.delay,
            read_timeout=(request.extensions.get("timeout") or {}).get("read"),
        )
        self.bodies.append(body)
        return httpx.Response(self.status, headers=self.headers, stream=body)

    @property
    def last_body(self) -> ChunkedBody:
        return self.bodies[-1]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport(), base_url=BASE_URL)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport(), base_url=BASE_URL)


def serve(events: Iterable[JSONDict], chunk_size: int = 16, **kwargs: Any) -> FakeServer:
    """A server streaming ``events`` (encoded like the API) in ``chunk_size`` chunks."""
    return FakeServer(body=encode(events), chunk_size=chunk_size, **kwargs)


def expected_message(
    content: list[JSONDict],
    *,
    stop_reason: str | None = "end_turn",
    stop_sequence: str | None = None,
    usage: JSONDict | None = None,
    output_tokens: int = 20,
    **extra: Any,
) -> JSONDict:
    """The ``to_dict()`` of the message the default builders produce.

    ``usage`` defaults to :func:`message_start`'s 12 input tokens and
    ``output_tokens`` (the count of the last ``message_delta``).
    """
    return {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {"input_tokens": 12, "output_tokens": output_tokens} if usage is None else usage,
        **extra,
    }
