"""Event sources over one httpx response, and ``aconnect_events``: the I/O, written once.

Every decision (status and content-type checks, error frames, the idle
watchdog) is in ``streamsafe/_sse.py``, and which error a failure raises in
``streamsafe/_failures.py``; this module only reads bytes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
from httpx_sse import ServerSentEvent

from .._decoder import DEFAULT_MAX_EVENT_BYTES, RawEvent
from .._failures import error_from_rejected_response, transport_error
from .._lifecycle import OPEN
from .._sse import (
    MAX_REJECTED_BODY_BYTES,
    EventSourceBase,
    SourceCore,
    checked_idle_timeout,
    is_rejected,
    keep_rejected_content,
    request_options,
)
from .._twins import AsyncShield

__all__ = ["AsyncEventSource", "aconnect_events"]


async def _aread_rejected(response: httpx.Response) -> None:
    """Read the start of a rejected body (at most MAX_REJECTED_BODY_BYTES) as its content."""
    body = bytearray()
    # httpx's iterators are generators: close this one rather than leave it to the GC.
    chunks = cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
    try:
        async for chunk in chunks:
            body += chunk
            if len(body) >= MAX_REJECTED_BODY_BYTES:
                break
    finally:
        await chunks.aclose()
    keep_rejected_content(response, body)


class AsyncEventSource(EventSourceBase):
    """Iterator (``async for``) of :class:`ServerSentEvent` over one response."""

    def __init__(self, core: SourceCore) -> None:
        super().__init__(core)
        self._chunks = core.response.aiter_bytes()

    def __aiter__(self) -> AsyncEventSource:
        return self

    async def __anext__(self) -> ServerSentEvent:
        return ServerSentEvent(*await self.next_raw())

    async def next_raw(self) -> RawEvent:
        """The next event as an ``(event, data, id, retry)`` tuple (what streams use)."""
        while self._next >= len(self._pending):
            core = self._core
            if core.lifecycle.phase is not OPEN:
                core.after_end()  # FAILED raises its error again
                raise StopAsyncIteration
            self._release_consumed()
            self._pending = await self._read()
        sse = self._pending[self._next]
        self._next += 1
        return sse

    async def _read(self) -> list[RawEvent]:
        # The watchdog is checked as each chunk arrives (a cancel scope per
        # read would cost more than the rest of the pipeline on servers that
        # flush every event); a silent connection is the read timeout's job,
        # and the read timeout never exceeds the watchdog (see request_options).
        # Only an OPEN source reads: once its block exited (CLOSED), httpx
        # would raise its own StreamClosed.
        core = self._core
        started = time.monotonic()
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            core.end()
            return []
        except httpx.HTTPError as exc:
            raise core.transport_error(exc) from exc
        return core.after_read(chunk, time.monotonic() - started)

    async def aclose(self) -> None:
        await self._core.response.aclose()


@asynccontextmanager
async def aconnect_events(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    stream_idle_timeout: float | None = None,
    on_response: Callable[[httpx.Response], None] | None = None,
    **kwargs: Any,
) -> AsyncIterator[AsyncEventSource]:
    """Open an SSE request on ``client``; yield an async iterator of events.

    Extra keyword arguments go to :meth:`httpx.AsyncClient.stream`. The
    response is closed when the block exits, however it exits.
    ``on_response`` is called with every response as soon as its headers
    arrive, before it is checked (an observer's hook).
    """
    stream_idle_timeout = checked_idle_timeout(stream_idle_timeout)
    request = client.build_request(
        method, url, **request_options(client, kwargs, stream_idle_timeout)
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise transport_error(exc, None) from exc
    try:
        if on_response is not None:
            on_response(response)
        if is_rejected(response):
            try:
                await _aread_rejected(response)
            except httpx.HTTPError as exc:
                raise transport_error(exc, response.headers.get("request-id")) from exc
            raise error_from_rejected_response(response)
        core = SourceCore(
            response, max_event_bytes=max_event_bytes, stream_idle_timeout=stream_idle_timeout
        )
        try:
            yield AsyncEventSource(core)
        finally:
            core.lifecycle.close()
    finally:
        with AsyncShield():
            await response.aclose()
