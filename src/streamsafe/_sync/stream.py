# generated from src/streamsafe/_async/stream.py by scripts/unasync.py: do not edit
"""Message streams and their openers: the I/O, written once.

Every decision is in ``streamsafe/_stream.py`` (:class:`_MessageCore`); this
module reads events from its event source and hands them over.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import Any

import httpx

from .._errors import APIError
from .._events import ContentBlockDeltaEvent, Message, StreamEvent, TextDelta
from .._lifecycle import OPEN
from .._observe import Call, Observer
from .._stream import AFTER_STOP_GRACE, MessageStreamBase, _MessageCore, call_of, source_options
from .._twins import Clock, Deadline, Shield
from .sse import EventSource, connect_events

__all__ = ["MessageStream", "connect_message_stream", "open_message_stream"]


class MessageStream(MessageStreamBase):
    """An iterator (``for``) of typed events that also accumulates the final message.

    Use it as ``with``; leaving the block, breaking out of the loop, an
    exception or a cancellation closes the HTTP response. A stream read to its
    end closes itself.
    """

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
            with Shield():
                self._exit_stack.close()
        finally:
            self._core.closed(exc)

    def __iter__(self) -> MessageStream:
        return self

    def __next__(self) -> StreamEvent:
        event = self._next_ready()
        if event is not None:
            return event
        try:
            return self._read_event()
        except StopIteration:
            # Read to the end: release everything now, not when collected.
            self.close()
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
        if core.lifecycle.phase is OPEN:
            if core.stop_deadline is None:
                core.stop_deadline = Clock.now() + AFTER_STOP_GRACE
            # A blocking read cannot be cut short: the sync twin waits at most
            # the read timeout (its Deadline does nothing).
            with Deadline(core.stop_deadline):
                try:
                    return core.on_sse_after_stop(self._source.next_raw())
                except StopIteration:
                    core.lifecycle.end()
                    raise
                except APIError as exc:
                    core.after_stop(exc)
                    raise StopIteration from None
            core.after_stop(None)
        raise StopIteration

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
        return _TextIterator(self)

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
        return (self.get_final_message()).text


class _TextIterator:
    __slots__ = ("_stream",)

    def __init__(self, stream: MessageStream) -> None:
        self._stream = stream

    def __iter__(self) -> _TextIterator:
        return self

    def __next__(self) -> str:
        stream = self._stream
        while True:
            # Events already received are taken without a coroutine per event.
            event = stream._next_ready()
            if event is None:
                event = next(stream)
            if type(event) is not ContentBlockDeltaEvent:
                continue
            delta = event.delta
            if type(delta) is TextDelta:
                return delta.text


def open_message_stream(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    observer: Observer | None = None,
    call: Call | None = None,
    **kwargs: Any,
) -> MessageStream:
    """Open a message stream; the caller must ``close()`` it (or use ``with``)."""
    call = call_of(call, observer, url, kwargs)
    stack = ExitStack()
    options = source_options(kwargs)
    opening = connect_events(client, method, url, on_response=call.on_response, **options)
    try:
        source = stack.enter_context(opening)
    except BaseException as exc:
        stack.close()
        call.stream_opening_failed(exc)
        raise
    return MessageStream(source, exit_stack=stack, call=call)


@contextmanager
def connect_message_stream(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    observer: Observer | None = None,
    **kwargs: Any,
) -> Iterator[MessageStream]:
    """Open a message stream over any httpx client; close it when the block exits.

    Keyword arguments: ``max_event_bytes`` (default 16 MiB),
    ``stream_idle_timeout`` (seconds between content events, pings excluded;
    default 300, ``None`` disables), ``observer`` (an
    :class:`~streamsafe.Observer`, told of this stream's lifecycle; its
    ``call.params`` is the ``json=`` body) and anything
    :meth:`httpx.Client.stream` accepts (``json=``, ``headers=``, ...).
    """
    stream = open_message_stream(client, method, url, observer=observer, **kwargs)
    with stream:
        yield stream
