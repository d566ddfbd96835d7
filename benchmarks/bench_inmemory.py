"""The in-memory contestants: one async function per implementation.

Every contestant reads the same pre-cut 16 KiB chunks from an in-memory mock
transport (no sockets, no copies per run), so a run measures parsing, decoding
and accumulation only:

* ``streamsafe`` — :func:`streamsafe.aconnect_message_stream` on an
  ``httpx.AsyncClient(transport=httpx.MockTransport(...))``, iterate the typed
  events, then ``get_final_message()``;
* ``streamsafe text_stream`` — the same, iterating ``text_stream`` instead;
* ``anthropic SDK`` — ``AsyncAnthropic(http_client=httpx2.AsyncClient(
  transport=httpx2.MockTransport(...)))`` and ``client.messages.stream(...)``
  + ``get_final_message()``; anthropic (2.15.0, pinned by the ``bench`` extra)
  is built on ``httpx2``, a fork of httpx with the same transport API, so it
  gets the same bytes;
* ``httpx-sse`` — ``aconnect_sse`` + ``aiter_sse``, nothing else;
* ``httpx-sse + json`` — the same plus ``json.loads`` of every event's data:
  the *floor* every other number is compared with.

The SDK is super-linear, so its body stream takes a deadline: once passed, the
next chunk raises :class:`BudgetExceeded` and the run is reported as a timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import httpx_sse
from bench_workloads import MODEL, REQUEST_ID, Workload

import streamsafe

URL = "http://bench.invalid/v1/messages"
SDK_BASE_URL = "http://bench.invalid"
HEADERS = {"content-type": "text/event-stream", "request-id": REQUEST_ID}
REQUEST_BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 64000,
    "stream": True,
    "messages": [{"role": "user", "content": "benchmark"}],
}

STREAMSAFE = "streamsafe"
STREAMSAFE_TEXT = "streamsafe text_stream"
SDK = "anthropic SDK"
HTTPX_SSE = "httpx-sse"
FLOOR = "httpx-sse + json"


class BudgetExceeded(Exception):
    """A run went past its time budget (raised from inside the body stream)."""


class _Chunks:
    """The body of one response: the workload's chunks, with an optional deadline."""

    def __init__(self, chunks: tuple[bytes, ...], deadline: float | None) -> None:
        self._chunks = chunks
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        deadline = self._deadline
        if deadline is None:
            for chunk in self._chunks:
                yield chunk
            return
        clock = time.perf_counter
        for chunk in self._chunks:
            if clock() > deadline:
                raise BudgetExceeded
            yield chunk

    async def aclose(self) -> None:
        pass


class _HttpxBody(_Chunks, httpx.AsyncByteStream):
    pass


@dataclass
class Served:
    """What the mock transports hand out: the current workload and deadline."""

    workload: Workload | None = None
    deadline: float | None = None

    def chunks(self) -> tuple[bytes, ...]:
        if self.workload is None:
            raise RuntimeError("no workload is being served")
        return self.workload.chunks


def httpx_client(served: Served) -> httpx.AsyncClient:
    """An httpx client whose every request gets the served workload."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers=HEADERS, stream=_HttpxBody(served.chunks(), served.deadline)
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def sdk_client(served: Served) -> Any:
    """An ``anthropic.AsyncAnthropic`` served the same bytes through httpx2's mock transport."""
    import anthropic
    import httpx2

    class Body(_Chunks, httpx2.AsyncByteStream):
        pass

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=HEADERS, stream=Body(served.chunks(), served.deadline))

    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return anthropic.AsyncAnthropic(
        api_key="sk-bench", base_url=SDK_BASE_URL, http_client=http_client, max_retries=0
    )


# Each runner consumes one whole stream and returns what it produced: a final
# message as a plain dict for the accumulating ones, an event count otherwise.
Runner = Callable[[], Awaitable[Any]]


def streamsafe_events(client: httpx.AsyncClient) -> Runner:
    async def run() -> dict[str, Any]:
        async with streamsafe.aconnect_message_stream(
            client, "POST", URL, json=REQUEST_BODY
        ) as stream:
            async for _event in stream:
                pass
            message = await stream.get_final_message()
        return message.to_dict()

    return run


def streamsafe_text_stream(client: httpx.AsyncClient) -> Runner:
    async def run() -> dict[str, Any]:
        async with streamsafe.aconnect_message_stream(
            client, "POST", URL, json=REQUEST_BODY
        ) as stream:
            async for _text in stream.text_stream:
                pass
            message = await stream.get_final_message()
        return message.to_dict()

    return run


def sdk_stream(client: Any) -> Runner:
    async def run() -> dict[str, Any]:
        async with client.messages.stream(
            model=MODEL,
            max_tokens=REQUEST_BODY["max_tokens"],
            messages=REQUEST_BODY["messages"],
        ) as stream:
            message = await stream.get_final_message()
        dumped: dict[str, Any] = message.model_dump(mode="json")
        return dumped

    return run


def httpx_sse_only(client: httpx.AsyncClient) -> Runner:
    async def run() -> int:
        count = 0
        async with httpx_sse.aconnect_sse(client, "POST", URL, json=REQUEST_BODY) as source:
            async for _sse in source.aiter_sse():
                count += 1
        return count

    return run


def httpx_sse_json(client: httpx.AsyncClient) -> Runner:
    async def run() -> int:
        count = 0
        loads = json.loads
        async with httpx_sse.aconnect_sse(client, "POST", URL, json=REQUEST_BODY) as source:
            async for sse in source.aiter_sse():
                loads(sse.data)
                count += 1
        return count

    return run


@dataclass
class Contestants:
    """Every contestant's runner, bound to clients that serve the same workload."""

    runners: dict[str, Runner]
    closers: list[Callable[[], Awaitable[None]]]

    async def aclose(self) -> None:
        for close in self.closers:
            await close()


def contestants(served: Served, *, with_sdk: bool = True) -> Contestants:
    """Build the clients and runners for every implementation (close with ``aclose()``)."""
    client = httpx_client(served)
    runners: dict[str, Runner] = {
        STREAMSAFE: streamsafe_events(client),
        STREAMSAFE_TEXT: streamsafe_text_stream(client),
        HTTPX_SSE: httpx_sse_only(client),
        FLOOR: httpx_sse_json(client),
    }
    closers: list[Callable[[], Awaitable[None]]] = [client.aclose]
    if with_sdk:
        sdk = sdk_client(served)
        runners[SDK] = sdk_stream(sdk)
        closers.append(sdk.close)
    return Contestants(runners, closers)


# ---------------------------------------------------------------------------
# Comparing final messages
# ---------------------------------------------------------------------------

COMPARED_FIELDS = ("content", "stop_reason", "stop_sequence", "usage")


def _without_filled_nones(sdk: Any, ours: Any) -> Any:
    """``sdk`` minus the ``None`` fields the SDK's models add where the wire had no key.

    Only keys absent from ``ours`` and ``None`` in ``sdk`` are dropped: a value
    the two disagree on, or a key streamsafe lost that carried data, still
    shows up as a difference.
    """
    if isinstance(sdk, dict) and isinstance(ours, dict):
        return {
            key: _without_filled_nones(value, ours.get(key))
            for key, value in sdk.items()
            if key in ours or value is not None
        }
    if isinstance(sdk, list) and isinstance(ours, list) and len(sdk) == len(ours):
        return [_without_filled_nones(a, b) for a, b in zip(sdk, ours, strict=True)]
    return sdk


def message_differences(ours: dict[str, Any], sdk: dict[str, Any]) -> list[str]:
    """Fields (of :data:`COMPARED_FIELDS`) where streamsafe's message differs from the SDK's."""
    differences = []
    for name in COMPARED_FIELDS:
        mine = ours.get(name)
        theirs = _without_filled_nones(sdk.get(name), mine)
        if mine != theirs:
            differences.append(f"{name}: streamsafe {_clip(mine)} != SDK {_clip(theirs)}")
    return differences


def _clip(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
