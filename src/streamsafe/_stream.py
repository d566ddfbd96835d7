"""Message streams: SSE events → typed events → accumulated message.

:class:`AsyncMessageStream` and :class:`MessageStream` are thin twins over
:class:`_MessageCore`, which decodes each SSE event, applies it to the
accumulator and decides every failure:

* an error raised by the event source (in-stream error event, transport
  failure, watchdog) gets the partial message and the incomplete block
  indices attached before it propagates;
* a stream that ends without ``message_stop`` raises
  :class:`~streamsafe.IncompleteStreamError` — never a silent partial
  "final" message.

Once ``message_stop`` has arrived the message is complete, and nothing that
happens afterwards turns it into a failure: the rest of the body is read so
the connection can be reused, but an error event, a reset, a timeout or stray
bytes after ``message_stop`` end the iteration normally (and are logged on the
``streamsafe`` logger). The async stream waits at most
:data:`AFTER_STOP_GRACE` seconds for the end of the body; the sync one at
most the read timeout (a blocking read cannot be cut short).

A stream that is garbage-collected while its response is still open (never
closed, not read to the end) emits a :class:`ResourceWarning`, as an unclosed
file does. Its response is closed all the same: at once for a sync stream,
on the event loop's next iteration for an async one (the loop finalizes the
abandoned ``aconnect_events`` generator, whose ``finally`` closes the
response), so no connection stays checked out of the pool.

Every stream belongs to an observed :class:`~streamsafe._observe.Call`
(observer or not): it reports the first content event, a failure, a close
and a collection to it, which ends the call exactly once; ``stream.metrics``
reads it.

Events read ahead by :meth:`AsyncMessageStream._prefetch` (used by the
client's retries: ``message_start`` and pings are held back until the first
content block starts) are replayed to the caller in order, so a retried stream
looks like one clean stream.
"""

from __future__ import annotations

import logging
import warnings
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any

import anyio
import httpx
import msgspec

from ._accumulate import MessageAccumulator
from ._async.sse import AsyncEventSource, aconnect_events
from ._decoder import RawEvent
from ._errors import APIError, APIStatusError, IncompleteStreamError
from ._events import (
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    Message,
    StreamEvent,
    TextDelta,
    decode_known_event,
    decode_unfamiliar_event,
)
from ._observe import Call, Observer, StreamMetrics
from ._sse import DEFAULT_MAX_EVENT_BYTES, EventSourceBase
from ._sync.sse import EventSource, connect_events

__all__ = [
    "AFTER_STOP_GRACE",
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "AsyncMessageStream",
    "MessageStream",
    "aconnect_message_stream",
    "aopen_message_stream",
    "connect_message_stream",
    "open_message_stream",
]

#: Seconds allowed between two content events of a message stream (pings and
#: comments do not count); long thinking pauses stay well inside it.
DEFAULT_STREAM_IDLE_TIMEOUT = 300.0

#: Seconds an async stream waits, after ``message_stop``, for the end of the body.
AFTER_STOP_GRACE = 0.5

logger = logging.getLogger("streamsafe")


class _MessageCore:
    """The decisions of a message stream, free of I/O."""

    def __init__(self, source: EventSourceBase, call: Call) -> None:
        self.accumulator = MessageAccumulator(
            request_id=source.request_id, aws_request_id=source.aws_request_id
        )
        self.source_core = source._core
        self.apply: Callable[[StreamEvent], None] = self.accumulator.apply
        self.call = call
        call.attach(self)  # watches for the first content event, then steps aside
        self.held: deque[StreamEvent] = deque()
        #: Iteration is over: the body ended, or something after message_stop ended it.
        self.over = False
        #: When an async stream stops waiting for the end of the body (set at message_stop).
        self.stop_deadline: float | None = None

    def after_stop(self, exc: APIError | None) -> None:
        """Something ended the body after message_stop: the message is complete anyway."""
        self.over = True
        if exc is None:
            what = f"the body did not end within {AFTER_STOP_GRACE:g} s"
            what += f" (request_id={self.accumulator.request_id})"
        else:
            what = f"{type(exc).__name__}: {exc}"
        level = logging.WARNING if isinstance(exc, APIStatusError) else logging.DEBUG
        logger.log(level, "ignored after message_stop (the message is complete): %s", what)

    def on_sse(self, sse: RawEvent) -> StreamEvent:
        try:
            # decode_event's two steps, inlined: a call per event costs ~8% here.
            data = sse[1]
            try:
                event: StreamEvent = decode_known_event(data)
            except msgspec.MsgspecError:
                event = decode_unfamiliar_event(data)
            self.apply(event)
        except APIError as exc:
            self.fail(exc)
            raise
        return event

    def on_end(self, ended_cleanly: bool) -> None:
        accumulator = self.accumulator
        if accumulator.done:
            return
        if not accumulator.started:
            what = "before message_start"
        elif ended_cleanly:
            what = "without message_stop"
        else:
            what = "in the middle of an event"
        raise self.fail(
            IncompleteStreamError(
                f"the stream ended {what}; the partial message is on .partial_message",
                request_id=accumulator.request_id,
            )
        )

    def fail(self, exc: APIError) -> APIError:
        """Attach what was received so far to ``exc`` (once) and return it."""
        accumulator = self.accumulator
        if exc.partial_message is None:
            exc.partial_message = accumulator.snapshot()
            exc.incomplete_blocks = accumulator.incomplete_blocks
        if exc.request_id is None:
            exc.request_id = accumulator.request_id
        if exc.aws_request_id is None:
            exc.aws_request_id = accumulator.aws_request_id
        self.call.stream_failed(exc)
        return exc

    @staticmethod
    def is_content_start(event: StreamEvent) -> bool:
        return isinstance(event, ContentBlockStartEvent)


def _warn_unclosed(kind: str, response: httpx.Response, request_id: str | None, call: Call) -> None:
    """Finalizer of a stream: end its call; warn when its response is still open."""
    call.stream_collected()
    if not response.is_closed:
        how = "'async with' or 'await stream.aclose()'" if kind.startswith("Async") else "'with'"
        warnings.warn(
            f"unclosed {kind} (request_id={request_id}); use {how}. "
            "Its response is closed for you, but only once it is garbage-collected",
            ResourceWarning,
            stacklevel=1,  # a finalizer has no caller worth pointing at
        )


class _MessageStreamBase:
    """Read-only views shared by the async and sync streams."""

    _core: _MessageCore
    _response: httpx.Response
    _source: EventSourceBase

    def _watch_for_leaks(self) -> None:
        finalizer = weakref.finalize(
            self,
            _warn_unclosed,
            type(self).__name__,
            self._response,
            self.request_id,
            self._core.call,
        )
        finalizer.atexit = False

    def _next_ready(self) -> StreamEvent | None:
        """The next event if no read is needed for it (held, or already received), else None."""
        core = self._core
        if core.held:
            return core.held.popleft()
        if not core.accumulator.done:
            sse = self._source.next_buffered_raw()
            if sse is not None:
                return core.on_sse(sse)
        return None

    def _apply_buffered(self) -> None:
        """Apply every event already received, without handing them out (``until_done``)."""
        core = self._core
        core.held.clear()  # held events were applied when they were read
        next_buffered = self._source.next_buffered_raw
        while not core.accumulator.done:
            sse = next_buffered()
            if sse is None:
                return
            core.on_sse(sse)

    @property
    def response(self) -> httpx.Response:
        """The HTTP response carrying the stream."""
        return self._response

    @property
    def request_id(self) -> str | None:
        """The API's ``request-id`` for this stream."""
        return self._core.accumulator.request_id

    @property
    def aws_request_id(self) -> str | None:
        """The response's ``x-amzn-requestid`` (Claude Platform on AWS), else ``None``."""
        return self._core.accumulator.aws_request_id

    @property
    def metrics(self) -> StreamMetrics:
        """Timings and counts of this stream (see :class:`~streamsafe.StreamMetrics`)."""
        return self._core.call.metrics()

    @property
    def current_message(self) -> Message | None:
        """A snapshot of the message accumulated so far (``None`` before message_start)."""
        return self._core.accumulator.snapshot()

    @property
    def incomplete_blocks(self) -> tuple[int, ...]:
        """Indices of content blocks not whole: not yet stopped, or tool input cut short."""
        return self._core.accumulator.incomplete_blocks


class AsyncMessageStream(_MessageStreamBase):
    """An async iterator of typed events that also accumulates the final message.

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
            with anyio.CancelScope(shield=True):
                await self._exit_stack.aclose()
        finally:
            self._core.call.stream_closed(exc)

    close = aclose

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
        if not core.over:
            if core.stop_deadline is None:
                core.stop_deadline = anyio.current_time() + AFTER_STOP_GRACE
            with anyio.CancelScope(deadline=core.stop_deadline):
                try:
                    return core.on_sse(await self._source.next_raw())
                except StopAsyncIteration:
                    core.over = True
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


class MessageStream(_MessageStreamBase):
    """Sync twin of :class:`AsyncMessageStream`."""

    _source: EventSource

    def __init__(self, source: EventSource, *, exit_stack: ExitStack, call: Call) -> None:
        self._source = source
        self._response = source.response
        self._exit_stack = exit_stack
        self._core = _MessageCore(source, call)
        self._watch_for_leaks()

    def __enter__(self) -> MessageStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(exc)

    def close(self) -> None:
        """Close the HTTP response (idempotent)."""
        self._close(None)

    def _close(self, exc: BaseException | None) -> None:
        try:
            self._exit_stack.close()
        finally:
            self._core.call.stream_closed(exc)

    def __iter__(self) -> MessageStream:
        return self

    def __next__(self) -> StreamEvent:
        event = self._next_ready()
        if event is not None:
            return event
        try:
            return self._read_event()
        except StopIteration:
            self.close()  # read to the end: release everything now
            raise

    def _read_event(self) -> StreamEvent:
        core = self._core
        if core.accumulator.done:
            return self._read_after_stop()
        try:
            sse = self._source.next_raw()
        except StopIteration:
            core.on_end(self._source.ended_cleanly)
            raise
        except APIError as exc:
            core.fail(exc)
            raise
        return core.on_sse(sse)

    def _read_after_stop(self) -> StreamEvent:
        core = self._core
        if core.over:
            raise StopIteration
        try:
            return core.on_sse(self._source.next_raw())
        except StopIteration:
            core.over = True
            raise
        except APIError as exc:
            core.after_stop(exc)
            raise StopIteration from None

    def _prefetch(self) -> None:
        """Read ahead up to the first content block start; hold what was read."""
        while True:
            try:
                event = self._read_event()
            except StopIteration:
                return
            self._core.held.append(event)
            if self._core.is_content_start(event):
                return

    @property
    def text_stream(self) -> Iterator[str]:
        """The text of every ``text_delta``, in order."""
        for event in self:
            if type(event) is ContentBlockDeltaEvent:
                delta = event.delta
                if type(delta) is TextDelta:
                    yield delta.text

    def until_done(self) -> None:
        """Consume the rest of the stream."""
        while True:
            self._apply_buffered()
            try:
                next(self)
            except StopIteration:
                return

    def get_final_message(self) -> Message:
        """Consume the stream and return the accumulated message."""
        self.until_done()
        return self._core.accumulator.final_message()

    def get_final_text(self) -> str:
        """Consume the stream and return the text of all its text blocks."""
        return self.get_final_message().text


def _source_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``connect_events`` options of a message stream: its watchdog is on by default."""
    kwargs.setdefault("stream_idle_timeout", DEFAULT_STREAM_IDLE_TIMEOUT)
    kwargs.setdefault("max_event_bytes", DEFAULT_MAX_EVENT_BYTES)
    return kwargs


def _call_of(call: Call | None, observer: Observer | None, url: Any, kwargs: Any) -> Call:
    """The call a stream belongs to: the client's, else a new one (its single attempt)."""
    if call is None:
        call = Call(observer, kwargs.get("json"), url=str(url), handed_over=True)
        call.next_attempt()
    return call


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
    call = _call_of(call, observer, url, kwargs)
    stack = AsyncExitStack()
    options = _source_options(kwargs)
    opening = aconnect_events(client, method, url, on_response=call.on_response, **options)
    try:
        source = await stack.enter_async_context(opening)
    except BaseException as exc:
        await stack.aclose()
        call.stream_opening_failed(exc)
        raise
    return AsyncMessageStream(source, exit_stack=stack, call=call)


def open_message_stream(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    observer: Observer | None = None,
    call: Call | None = None,
    **kwargs: Any,
) -> MessageStream:
    """Sync twin of :func:`aopen_message_stream`."""
    call = _call_of(call, observer, url, kwargs)
    stack = ExitStack()
    opening = connect_events(
        client, method, url, on_response=call.on_response, **_source_options(kwargs)
    )
    try:
        source = stack.enter_context(opening)
    except BaseException as exc:
        stack.close()
        call.stream_opening_failed(exc)
        raise
    return MessageStream(source, exit_stack=stack, call=call)


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


@contextmanager
def connect_message_stream(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    observer: Observer | None = None,
    **kwargs: Any,
) -> Iterator[MessageStream]:
    """Sync twin of :func:`aconnect_message_stream`."""
    with open_message_stream(client, method, url, observer=observer, **kwargs) as stream:
        yield stream
