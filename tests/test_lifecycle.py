"""One lifecycle per layer: the transitions, and the phase each kind of ending leaves.

The event source's lifecycle is the state of the bytes; the message stream's
is what its caller saw. Each test reads both after a real stream.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import httpx
import pytest

import streamsafe
from loopback_server import Reply, ScriptedServer
from sse_helpers import (
    PATH,
    FakeServer,
    block_start,
    block_stop,
    encode,
    error_event,
    message_delta,
    message_start,
    message_stop,
    serve,
    text_delta,
)
from streamsafe import (
    APIConnectionError,
    AsyncMessageStream,
    ContentBlockDeltaEvent,
    IncompleteStreamError,
    MalformedEventError,
    MessageStream,
    OverloadedError,
)
from streamsafe._errors import APIError
from streamsafe._lifecycle import (
    CLOSED,
    ENDED,
    FAILED,
    OPEN,
    Lifecycle,
    Phase,
)

pytestmark = pytest.mark.anyio

JSONDict = dict[str, Any]

COMPLETE: list[JSONDict] = [
    message_start(),
    block_start(0, {"type": "text", "text": ""}),
    text_delta(0, "one "),
    text_delta(0, "two"),
    block_stop(0),
    message_delta("end_turn"),
    message_stop(),
]


def phases(stream: AsyncMessageStream | MessageStream) -> tuple[Phase, Phase]:
    """(the message stream's phase, its event source's phase)."""
    return stream._core.lifecycle.phase, stream._source._core.lifecycle.phase


# -- the transitions ----------------------------------------------------------------------


def test_open_leaves_for_any_ending_once() -> None:
    error = APIConnectionError("reset")
    for leave, phase in [
        (lambda life: life.end(), ENDED),
        (lambda life: life.fail(error), FAILED),
        (lambda life: life.close(), CLOSED),
    ]:
        life = Lifecycle()
        assert life.phase is OPEN
        leave(life)
        assert life.phase is phase
        assert life.error is (error if phase is FAILED else None)


def test_the_first_ending_is_final_whatever_comes_after() -> None:
    first, second = APIConnectionError("first"), IncompleteStreamError("second")
    meet = {
        ENDED: lambda life: life.end(),
        FAILED: lambda life: life.fail(second),
        CLOSED: lambda life: life.close(),
    }
    for ending in (ENDED, FAILED, CLOSED):
        for event in (ENDED, FAILED, CLOSED):
            life = Lifecycle()
            if ending is FAILED:
                life.fail(first)
            else:
                meet[ending](life)
            meet[event](life)
            assert life.phase is ending
            assert life.error is (first if ending is FAILED else None)


def test_repr_names_the_phase_and_the_error() -> None:
    life = Lifecycle()
    life.fail(IncompleteStreamError("cut"))
    assert repr(life) == "<Lifecycle failed, IncompleteStreamError>"


# -- the phases real streams end in -------------------------------------------------------


async def test_read_to_the_end_both_layers_ended() -> None:
    server = serve(COMPLETE, chunk_size=9)
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        assert phases(stream) == (OPEN, OPEN)
        assert (await stream.get_final_message()).text == "one two"
        assert phases(stream) == (ENDED, ENDED)
    assert phases(stream) == (ENDED, ENDED)  # closing after the end changes nothing
    assert stream._source.ended_cleanly


def test_sync_read_to_the_end_both_layers_ended() -> None:
    server = serve(COMPLETE, chunk_size=9)
    with server.client() as client:
        with streamsafe.connect_message_stream(client, "POST", PATH) as stream:
            assert stream.get_final_text() == "one two"
        assert phases(stream) == (ENDED, ENDED)


async def test_an_error_frame_fails_both_layers_with_the_same_error() -> None:
    server = serve([*COMPLETE[:3], error_event("overloaded_error", "Overloaded")])
    async with server.async_client() as client:
        with pytest.raises(OverloadedError) as info:
            async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
                await stream.get_final_message()
    assert phases(stream) == (FAILED, FAILED)
    assert stream._core.lifecycle.error is info.value
    assert stream._source._core.lifecycle.error is info.value


async def test_a_body_cut_short_ends_the_source_and_fails_the_stream() -> None:
    server = serve(COMPLETE[:4])
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        with pytest.raises(IncompleteStreamError) as info:
            await stream.get_final_message()
        assert phases(stream) == (FAILED, ENDED)
        assert stream._source.ended_cleanly
        # Iterating again fails again; the first error stays the one that ended it.
        with pytest.raises(IncompleteStreamError):
            await stream.get_final_message()
        assert stream._core.lifecycle.error is info.value
    assert phases(stream) == (FAILED, ENDED)


async def test_a_reset_fails_the_stream_and_leaves_the_source_open() -> None:
    """A failed read is the message stream's to record: the source did not end."""
    server = FakeServer(body=encode(COMPLETE), fail_at=40, error=httpx.ReadError("reset"))
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        with pytest.raises(APIConnectionError) as info:
            await stream.get_final_message()
        assert phases(stream) == (FAILED, OPEN)
        assert stream._core.lifecycle.error is info.value
    assert phases(stream) == (FAILED, CLOSED)


async def test_a_protocol_violation_fails_the_stream_only() -> None:
    server = serve([*COMPLETE[:2], text_delta(5, "orphan"), *COMPLETE[2:]])
    async with server.async_client() as client:
        with pytest.raises(MalformedEventError) as info:
            async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
                await stream.get_final_message()
    assert phases(stream) == (FAILED, CLOSED)
    assert stream._core.lifecycle.error is info.value


async def test_breaking_out_closes_both_layers_early() -> None:
    server = serve(COMPLETE, chunk_size=5)
    async with server.async_client() as client:
        async with streamsafe.aconnect_message_stream(client, "POST", PATH) as stream:
            async for event in stream:
                if isinstance(event, ContentBlockDeltaEvent):
                    break
        assert phases(stream) == (CLOSED, CLOSED)
        assert stream._core.lifecycle.error is None
        # Asking for more after the close: IncompleteStreamError, still closed early.
        with pytest.raises(IncompleteStreamError):
            await stream.get_final_message()
        assert phases(stream) == (CLOSED, CLOSED)
        assert stream._core.lifecycle.error is None


def test_sync_an_exception_in_the_block_closes_both_layers_early() -> None:
    server = serve(COMPLETE, chunk_size=5)
    streams: list[MessageStream] = []

    def raise_inside(client: httpx.Client) -> None:
        with streamsafe.connect_message_stream(client, "POST", PATH) as stream:
            streams.append(stream)
            next(iter(stream))
            raise LookupError

    with server.client() as client, pytest.raises(LookupError):
        raise_inside(client)
    assert phases(streams[0]) == (CLOSED, CLOSED)


async def test_an_error_frame_after_message_stop_ends_the_stream_not_fails_it() -> None:
    server = serve([*COMPLETE, error_event("overloaded_error", "Overloaded")])
    async with (
        server.async_client() as client,
        streamsafe.aconnect_message_stream(client, "POST", PATH) as stream,
    ):
        assert await stream.get_final_text() == "one two"
        assert phases(stream) == (ENDED, FAILED)
        assert stream._core.lifecycle.error is None
        assert isinstance(stream._source._core.lifecycle.error, APIError)


async def test_a_source_closed_unread_stops_and_reports_its_boundary() -> None:
    server = serve(COMPLETE, chunk_size=5)
    async with server.async_client() as client:
        async with streamsafe.aconnect_events(client, "POST", PATH) as events:
            first = await events.__anext__()
        assert first.event == "message_start"
        assert events._core.lifecycle.phase is CLOSED
        assert [sse async for sse in events] == []
        assert events._core.lifecycle.phase is CLOSED


# -- a close racing a read (another task or thread) ----------------------------------------


def _held_open_server() -> ScriptedServer:
    """Sends a whole message, then keeps the body open: the reader waits for its end."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    body = encode(COMPLETE)
    return ScriptedServer([Reply([head, b"%x\r\n%s\r\n" % (len(body), body)])])


async def test_closed_by_another_task_while_waiting_after_message_stop() -> None:
    """The reader has the whole message and waits for the end of the body; another task
    closes the stream. The reader ends normally: a complete message, no error."""
    outcome: list[str] = []
    with _held_open_server() as server:
        async with (
            httpx.AsyncClient() as http,
            streamsafe.aconnect_message_stream(http, "POST", server.url + PATH, json={}) as stream,
        ):
            stopped = anyio.Event()

            async def reader() -> None:
                try:
                    async for event in stream:
                        if event.type == "message_stop":
                            stopped.set()
                    outcome.append("ended")
                except BaseException as exc:
                    outcome.append(repr(exc))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(reader)
                await stopped.wait()
                await stream.aclose()
            message = await stream.get_final_message()
    assert outcome == ["ended"]
    assert message.text == "one two"
    assert phases(stream)[0] in (ENDED, CLOSED)


def test_sync_closed_by_another_thread_while_waiting_after_message_stop() -> None:
    outcome: list[str] = []
    stopped = threading.Event()
    timeout = httpx.Timeout(10.0, read=2.0)
    with (
        _held_open_server() as server,
        httpx.Client(timeout=timeout) as http,
        streamsafe.connect_message_stream(http, "POST", server.url + PATH, json={}) as stream,
    ):

        def reader() -> None:
            try:
                for event in stream:
                    if event.type == "message_stop":
                        stopped.set()
                outcome.append("ended")
            except BaseException as exc:
                outcome.append(repr(exc))

        thread = threading.Thread(target=reader)
        thread.start()
        assert stopped.wait(30)
        stream.close()
        thread.join(30)
        message = stream.get_final_message()
    assert outcome == ["ended"]
    assert message.text == "one two"
