"""Message streams and their openers: the I/O, written once.

Every decision is in ``streamsafe/_stream.py`` (:class:`_MessageCore`); this
module reads events from its event source and hands them over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Any

import httpx

from .._errors import APIError
from .._events import ContentBlockDeltaEvent, Message, StreamEvent, TextDelta
from .._lifecycle import OPEN
from .._observe import Call, Observer
from .._stream import AFTER_STOP_GRACE, MessageStreamBase, _MessageCore, call_of, source_options
from .._twins import AsyncClock, AsyncDeadline, AsyncShield
from .sse import AsyncEventSource, aconnect_events

__all__ = ["AsyncMessageStream", "aconnect_message_stream", "aopen_message_stream"]


class AsyncMessageStream(MessageStreamBase):
    """An iterator (``async for``) of typed events that also accumulates the final message.

    Use it as ``async with``; leaving the block, breaking out of the loop, an
    exception or a cancellation closes the HTTP response. A stream read to its
    end closes itself.
    """

    _source: AsyncEventSource

    def __init__(self, source: AsyncEventSource, *, exit_stack: AsyncExitStack, call: Call) -> None:
        self._source = source
        self._response = source.response
        self._exit_stack = exit_stack
        self._core = _MessageCore(source, call)
        self._watch_for_leaks()

    async def __aenter__(self) -> AsyncMessageStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close(exc)

    async def aclose(self) -> None:
        """Close the HTTP response (idempotent)."""
        await self._close(None)

    async def _close(self, exc: BaseException | None) -> None:
        try:
            with AsyncShield():
                await self._exit_stack.aclose()
        finally:
            self._core.closed(exc)

    close = aclose  # unasync: async only

    def __aiter__(self) -> AsyncMessageStream:
        return self

    async def __anext__(self) -> StreamEvent:
        event = self._next_ready()
        if event is not None:
            return event
        try:
            return await self._read_event()
        except StopAsyncIteration:
            # Read to the end: release everything now, not when collected.
            await self.aclose()
            raise

    async def _read_event(self) -> StreamEvent:
        core = self._core
        if core.accumulator.done:
            return await self._read_after_stop()
        try:
            sse = await self._source.next_raw()
        except StopAsyncIteration:
            core.on_end(self._source.ended_cleanly)
            raise
        except APIError as exc:
            core.fail(exc)
            raise
        return core.on_sse(sse)

    async def _read_after_stop(self) -> StreamEvent:
        core = self._core
        if core.lifecycle.phase is OPEN:
            if core.stop_deadline is None:
                core.stop_deadline = AsyncClock.now() + AFTER_STOP_GRACE
            # A blocking read cannot be cut short: the sync twin waits at most
            # the read timeout (its Deadline does nothing).
            with AsyncDeadline(core.stop_deadline):
                try:
                    return core.on_sse_after_stop(await self._source.next_raw())
                except StopAsyncIteration:
                    core.lifecycle.end()
                    raise
                except APIError as exc:
                    core.after_stop(exc)
                    raise StopAsyncIteration from None
            core.after_stop(None)
        raise StopAsyncIteration

    async def _prefetch(self) -> None:
        """Read ahead up to the first content block start; hold what was read."""
        while True:
            try:
                event = await self._read_event()
            except StopAsyncIteration:
                return
            self._core.held.append(event)
            if self._core.is_content_start(event):
                return

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The text of every ``text_delta``, in order."""
        return _AsyncTextIterator(self)

    async def until_done(self) -> None:
        """Consume the rest of the stream."""
        while True:
            self._apply_buffered()
            try:
                await self.__anext__()
            except StopAsyncIteration:
                return

    async def get_final_message(self) -> Message:
        """Consume the stream and return the accumulated message."""
        await self.until_done()
        return self._core.accumulator.final_message()

    async def get_final_text(self) -> str:
        """Consume the stream and return the text of all its text blocks."""
        return (await self.get_final_message()).text


class _AsyncTextIterator:
    __slots__ = ("_stream",)

    def __init__(self, stream: AsyncMessageStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _AsyncTextIterator:
        return self

    async def __anext__(self) -> str:
        stream = self._stream
        while True:
            # Events already received are taken without a coroutine per event.
            event = stream._next_ready()
            if event is None:
                event = await stream.__anext__()
            if type(event) is not ContentBlockDeltaEvent:
                continue
            delta = event.delta
            if type(delta) is TextDelta:
                return delta.text


async def aopen_message_stream(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    observer: Observer | None = None,
    call: Call | None = None,
    **kwargs: Any,
) -> AsyncMessageStream:
    """Open a message stream; the caller must ``aclose()`` it (or use ``async with``)."""
    call = call_of(call, observer, url, kwargs)
    stack = AsyncExitStack()
    options = source_options(kwargs)
    opening = aconnect_events(client, method, url, on_response=call.on_response, **options)
    try:
        source = await stack.enter_async_context(opening)
    except BaseException as exc:
        await stack.aclose()
        call.stream_opening_failed(exc)
        raise
    return AsyncMessageStream(source, exit_stack=stack, call=call)


@asynccontextmanager
async def aconnect_message_stream(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    observer: Observer | None = None,
    **kwargs: Any,
) -> AsyncIterator[AsyncMessageStream]:
    """Open a message stream over any httpx client; close it when the block exits.

    Keyword arguments: ``max_event_bytes`` (default 16 MiB),
    ``stream_idle_timeout`` (seconds between content events, pings excluded;
    default 300, ``None`` disables), ``observer`` (an
    :class:`~streamsafe.Observer`, told of this stream's lifecycle; its
    ``call.params`` is the ``json=`` body) and anything
    :meth:`httpx.AsyncClient.stream` accepts (``json=``, ``headers=``, ...).
    """
    stream = await aopen_message_stream(client, method, url, observer=observer, **kwargs)
    async with stream:
        yield stream
