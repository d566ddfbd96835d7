"""Shared helpers of the reliability suite (``test_reliability_*.py``); no tests here.

* :data:`REQUEST`: the representative streamed request (thinking with a
  signature, a text block with multi-byte characters, a tool call whose input
  JSON is split inside escapes and surrogate pairs, ``message_delta`` with
  usage) — 32 events with the emulator.
* :func:`fetch_clean_events`: the SSE events of the clean stream, parsed here
  with a few lines of code (independently of streamsafe's decoder).
* :func:`expected_partial`: what a correct accumulator holds after the first
  ``i`` of those events.
* :func:`busy_connections` / :func:`open_fds`: what the resource tests check.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

import httpx

import streamsafe
from streamsafe import APIError, Message, MessageAccumulator, StreamEvent, decode_event
from streamsafe.testing import FAULT_HEADER, Emulator

JSONDict = dict[str, Any]

LOOKUP_TOOL: JSONDict = {
    "name": "lookup",
    "description": "Look something up",
    "input_schema": {
        "type": "object",
        "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["q", "n"],
    },
}

#: The representative request: with the emulator, 32 events (see the module docstring).
REQUEST: JSONDict = {
    "model": "claude-emulated",
    "max_tokens": 48,
    "messages": [{"role": "user", "content": "Question 42"}],
    "thinking": {"type": "enabled", "budget_tokens": 8},
    "tools": [LOOKUP_TOOL],
}

#: A tiny request (text only, 5 events of content) for the resource tests.
SMALL_REQUEST: JSONDict = {
    "model": "claude-emulated",
    "max_tokens": 3,
    "messages": [{"role": "user", "content": "hi"}],
}

API_KEY = "sk-test-reliability"

SseEvent = tuple[str, str]  # (event name, data)

_FRAME = re.compile(r"event: ([a-z_]+)\ndata: ([^\n]*)")


def parse_sse(body: bytes) -> list[SseEvent]:
    """The complete ``event:``/``data:`` frames of an LF-framed body (a test-side parser)."""
    frames = body.decode("utf-8").split("\n\n")[:-1]
    events: list[SseEvent] = []
    for frame in frames:
        match = _FRAME.fullmatch(frame)
        assert match is not None, frame
        events.append((match[1], match[2]))
    return events


def fetch_raw(emulator: Emulator, request: JSONDict = REQUEST) -> bytes:
    """The body of the clean stream for ``request``, fetched with plain httpx."""
    response = httpx.post(
        f"{emulator.url}/v1/messages",
        json={**request, "stream": True},
        headers={FAULT_HEADER: "none", "x-api-key": API_KEY},
    )
    response.raise_for_status()
    return response.content


def fetch_clean_events(emulator: Emulator, request: JSONDict = REQUEST) -> list[SseEvent]:
    return parse_sse(fetch_raw(emulator, request))


def with_message_id(events: list[SseEvent], message_id: str) -> list[SseEvent]:
    """``events`` with the id of ``message_start`` replaced.

    The emulator numbers message ids per request; every other byte of a stream
    for the same request body is the same.
    """
    out: list[SseEvent] = []
    for name, data in events:
        if name == "message_start":
            data = re.sub(r'"id":"msg_[0-9A-Za-z]+"', f'"id":"{message_id}"', data, count=1)
        out.append((name, data))
    return out


def accumulate(events: Iterable[SseEvent], request_id: str | None) -> MessageAccumulator:
    accumulator = MessageAccumulator(request_id=request_id)
    for _, data in events:
        accumulator.apply(decode_event(data))
    return accumulator


def expected_partial(
    events: list[SseEvent], count: int, *, message_id: str | None, request_id: str | None
) -> tuple[JSONDict | None, tuple[int, ...]]:
    """(message dict, incomplete blocks) a fresh accumulator holds after ``count`` events."""
    prefix = events[:count]
    if message_id is not None:
        prefix = with_message_id(prefix, message_id)
    accumulator = accumulate(prefix, request_id)
    snapshot = accumulator.snapshot()
    return (None if snapshot is None else snapshot.to_dict()), accumulator.incomplete_blocks


def as_dict(message: Message | None) -> JSONDict | None:
    return None if message is None else message.to_dict()


def async_client(emulator: Emulator, **options: Any) -> streamsafe.AsyncClient:
    options.setdefault("max_retries", 0)
    return streamsafe.AsyncClient(base_url=emulator.url, api_key=API_KEY, **options)


def sync_client(emulator: Emulator, **options: Any) -> streamsafe.Client:
    options.setdefault("max_retries", 0)
    return streamsafe.Client(base_url=emulator.url, api_key=API_KEY, **options)


def fault(spec: str) -> dict[str, str]:
    """Headers asking the emulator for ``spec`` on this request only (no shared queue)."""
    return {FAULT_HEADER: spec}


Outcome = tuple[list[StreamEvent], APIError | None, Message | None]


async def outcome(
    client: streamsafe.AsyncClient, spec: str | None = None, request: JSONDict = REQUEST
) -> Outcome:
    """Stream ``request`` with the fault ``spec``: (events seen, error raised, final message).

    ``spec`` None: no fault header, the emulator serves its queue (``push_raw_stream``).
    """
    seen: list[StreamEvent] = []
    headers = fault(spec) if spec is not None else None
    try:
        async with client.messages.stream(**request, extra_headers=headers) as stream:
            async for event in stream:
                seen.append(event)
            message = await stream.get_final_message()
    except APIError as error:
        return seen, error, None
    return seen, None, message


def sync_outcome(
    client: streamsafe.Client, spec: str | None = None, request: JSONDict = REQUEST
) -> Outcome:
    """Sync twin of :func:`outcome`."""
    seen: list[StreamEvent] = []
    headers = fault(spec) if spec is not None else None
    try:
        with client.messages.stream(**request, extra_headers=headers) as stream:
            for event in stream:
                seen.append(event)
            message = stream.get_final_message()
    except APIError as error:
        return seen, error, None
    return seen, None, message


# -- resources -------------------------------------------------------------------


def _pools(client: httpx.AsyncClient | httpx.Client) -> list[Any]:
    """Every httpcore pool behind ``client``: its transport and mounts, shards looked through."""
    routes: list[Any] = [client._transport]
    routes += [t for t in client._mounts.values() if t is not None]
    pools: list[Any] = []
    for route in routes:
        inner = getattr(route, "transports", (route,))
        for transport in inner:
            # streamsafe's transports show their pool; httpx's keep it private.
            pools.append(getattr(transport, "pool", None) or transport._pool)
    return pools


def busy_connections(client: streamsafe.AsyncClient | streamsafe.Client) -> list[str]:
    """What is still checked out of the client's pools (empty when nothing leaked)."""
    http = client.http_client
    busy: list[str] = []
    for pool in _pools(http):
        busy += [f"queued or active request {r!r}" for r in pool._requests]
        busy += [
            f"connection in use {c!r}"
            for c in pool._connections
            if not (c.is_idle() or c.is_closed())
        ]
    transport = http._transport
    in_flight = getattr(transport, "in_flight", ())
    if any(in_flight):
        busy.append(f"sharded transport in flight: {in_flight}")
    return busy


def pool_connections(client: streamsafe.AsyncClient | streamsafe.Client) -> int:
    return sum(len(pool._connections) for pool in _pools(client.http_client))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
