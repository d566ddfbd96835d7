"""Concurrency over real loopback TCP: many streams at once against a local server.

The server (:func:`serve`) runs in its own process: a minimal HTTP/1.1 server on
a raw asyncio protocol that answers every request, on every keep-alive
connection, with the same pre-built response — headers plus a chunked
``text/event-stream`` body of ``events`` events. Three modes:

* ``bulk`` — the body cut in 16 KiB HTTP chunks, written with one ``write``:
  the server does no per-request work, the client reads as fast as it can
  parse (reads of up to 64 KiB), so the client's SSE parsing is what gets
  measured;
* ``chunked`` — every event is its own HTTP chunk, as the Messages API sends
  them, but the whole response is still written at once: a client that is
  busy with 1,000 streams finds many chunks in every read, as it does when it
  falls behind a real upstream. The HTTP layer's cost per chunk shows here;
  this mode reproduces the floor the performance issue measured (60k to 75k
  events/s at 13 to 16 CPU s per million events);
* ``event`` — every event is its own HTTP chunk and its own ``write``, and the
  server yields to its event loop after each one, as an upstream that flushes
  every event does. The client reads a few events at a time and its per-read
  costs show; the server shares the 2-core machine and may bound events/s
  (about 200k here), so compare *CPU seconds per million events* too.

The clients (:func:`run_clients`) open ``streams`` streams concurrently on one
asyncio event loop and record wall time and the client process's CPU time
(``time.process_time()``; the server's CPU is in another process and not
counted). Every stream's final text is checked against the expected text.

Run as a script to start a server: ``python bench_loopback.py serve EVENTS MODE``
prints ``PORT <n>`` and serves until its stdin closes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx_sse
from bench_workloads import (
    CHUNK_SIZE,
    FRAMING_EVENTS,
    MODEL,
    stream_body,
    text_deltas,
    text_events,
)

import streamsafe

HERE = Path(__file__).resolve().parent

# Connection allowance given to every client: the SDK's and streamsafe's
# defaults (1,000 connections); the plain httpx client gets the same, so the
# comparison is about the pool, not about a queue in front of it.
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
TIMEOUT = httpx.Timeout(600.0, connect=5.0)


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------


BULK = "bulk"
CHUNKED = "chunked"
PER_EVENT = "event"
MODES = (BULK, CHUNKED, PER_EVENT)

_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream\r\n"
    b"cache-control: no-cache\r\n"
    b"request-id: req_bench_loopback\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _chunked(piece: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(piece), piece)


def _response_writes(events: int, mode: str) -> list[bytes]:
    """The writes that make up one response: one in bulk mode, one per event otherwise."""
    if mode == BULK:
        body = stream_body("text", events - FRAMING_EVENTS)
        chunks = (body[i : i + CHUNK_SIZE] for i in range(0, len(body), CHUNK_SIZE))
        return [_HEAD + b"".join(map(_chunked, chunks)) + b"0\r\n\r\n"]
    if mode == CHUNKED:
        events_ = text_events(events - FRAMING_EVENTS)
        return [_HEAD + b"".join(map(_chunked, events_)) + b"0\r\n\r\n"]
    writes = [_chunked(event) for event in text_events(events - FRAMING_EVENTS)]
    writes[0] = _HEAD + writes[0]
    writes[-1] += b"0\r\n\r\n"
    return writes


@dataclass
class _Stats:
    """Connections accepted and streams served since the last ``GET /stats``."""

    connections: int = 0
    streams: int = 0

    def take(self) -> bytes:
        body = json.dumps({"connections": self.connections, "streams": self.streams}).encode()
        self.connections = self.streams = 0
        return (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )


class _Server(asyncio.Protocol):
    """Answers each complete request (headers + content-length body) with ``response``.

    ``GET /stats`` answers (and resets) the connection and stream counts instead.
    """

    def __init__(self, writes: list[bytes], stats: _Stats, tasks: set[Any]) -> None:
        self._writes = writes
        self._stats = stats
        self._tasks = tasks
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._stats.connections += 1

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in bytes(buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            total = end + 4 + length
            if len(buffer) < total:
                return
            is_stats = buffer.startswith(b"GET /stats ")
            del buffer[:total]
            if self._transport is None:
                return
            if is_stats:
                self._transport.write(self._stats.take())
                continue
            self._stats.streams += 1
            if len(self._writes) == 1:
                self._transport.write(self._writes[0])
            else:
                task = asyncio.get_running_loop().create_task(self._trickle(self._transport))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _trickle(self, transport: asyncio.Transport) -> None:
        """Write the response one event at a time, yielding to the loop after each."""
        for piece in self._writes:
            if transport.is_closing():
                return
            transport.write(piece)
            await asyncio.sleep(0)


async def _serve(events: int, mode: str) -> None:
    writes = _response_writes(events, mode)
    stats = _Stats()
    tasks: set[Any] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Server(writes, stats, tasks), "127.0.0.1", 0, backlog=4096, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Serve until the parent closes our stdin.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def serve(events: int, mode: str = BULK) -> None:
    asyncio.run(_serve(events, mode))


def server_stats(url: str) -> dict[str, int]:
    """Connections accepted and streams served since the previous call (then reset)."""
    with urllib.request.urlopen(url + "/stats", timeout=30) as response:
        stats: dict[str, int] = json.loads(response.read())
    return stats


class ServerProcess:
    """A loopback server in a child process (``with ServerProcess(events) as url``)."""

    def __init__(self, events: int, mode: str = BULK) -> None:
        self.events = events
        self.mode = mode
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        self._process = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "bench_loopback.py"),
                "serve",
                str(self.events),
                self.mode,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("PORT "):
            self._process.kill()
            raise RuntimeError(f"the loopback server did not start: {line!r}")
        return f"http://127.0.0.1:{int(line.split()[1])}"

    def __exit__(self, *exc_info: object) -> None:
        process = self._process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

LOOPBACK_STREAMSAFE = "streamsafe (default client)"
LOOPBACK_FLOOR = "httpx-sse + json (one httpx client)"
LOOPBACK_SDK = "anthropic SDK"

REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 4096,
    "stream": True,
    "messages": [{"role": "user", "content": "benchmark"}],
}


def streamsafe_client() -> tuple[httpx.AsyncClient, str]:
    """streamsafe's default client, or a plain one if the transport module lacks it."""
    try:
        from streamsafe.transport import default_async_client
    except ImportError:
        try:  # before streamsafe.transport existed
            from streamsafe._transport import default_async_client
        except ImportError:
            return httpx.AsyncClient(limits=LIMITS, timeout=TIMEOUT), "plain httpx client"
    return default_async_client(), "streamsafe.default_async_client()"


@dataclass
class LoopbackResult:
    implementation: str
    client: str
    streams: int
    events: int
    seconds: float
    cpu_seconds: float
    errors: int
    wrong: int
    first_error: str | None = None
    #: TCP connections the server accepted during the run (warm-up included).
    connections: int | None = None
    #: Runs this is the best of (each in a fresh process).
    runs: int = 1

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_per_million(self) -> float:
        return self.cpu_seconds / self.events * 1e6


async def _gather(
    streams: int, one: Callable[[], Awaitable[str]], expected: str
) -> tuple[int, int, str | None]:
    results = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    wrong = sum(1 for r in results if isinstance(r, str) and r != expected)
    return len(errors), wrong, (repr(errors[0]) if errors else None)


Consume = Callable[[], Awaitable[str]]
Close = Callable[[], Awaitable[None]]


def _contestant(implementation: str, url: str) -> tuple[Consume, Close, str]:
    """A fresh client for ``implementation``: consume one stream, close, description."""
    endpoint = url + "/v1/messages"

    if implementation == LOOPBACK_STREAMSAFE:
        client, description = streamsafe_client()

        async def one() -> str:
            async with streamsafe.aconnect_message_stream(
                client, "POST", endpoint, json=REQUEST
            ) as stream:
                message = await stream.get_final_message()
            return message.text

        return one, client.aclose, description

    if implementation == LOOPBACK_FLOOR:
        plain = httpx.AsyncClient(limits=LIMITS, timeout=TIMEOUT)

        async def one() -> str:
            pieces: list[str] = []
            loads = json.loads
            async with httpx_sse.aconnect_sse(plain, "POST", endpoint, json=REQUEST) as source:
                async for sse in source.aiter_sse():
                    payload = loads(sse.data)
                    if payload["type"] == "content_block_delta":
                        pieces.append(payload["delta"]["text"])
            return "".join(pieces)

        return one, plain.aclose, "httpx.AsyncClient(limits=1000 connections)"

    if implementation == LOOPBACK_SDK:
        import anthropic

        sdk = anthropic.AsyncAnthropic(api_key="sk-bench", base_url=url, max_retries=0)

        async def one() -> str:
            async with sdk.messages.stream(
                model=MODEL, max_tokens=REQUEST["max_tokens"], messages=REQUEST["messages"]
            ) as stream:
                message = await stream.get_final_message()
            return "".join(block.text for block in message.content if block.type == "text")

        return one, sdk.close, "AsyncAnthropic default client (httpx2, 1000 connections)"

    raise ValueError(f"unknown implementation {implementation!r}")


async def _run(implementation: str, url: str, streams: int, events: int) -> LoopbackResult:
    expected = "".join(text_deltas(events - FRAMING_EVENTS))
    # Warm up on a throw-away client (imports, code paths), then measure on a
    # fresh one: idle connections left in a warm httpcore pool change how it
    # assigns a burst of requests, and the burst is what is measured here.
    one, close, description = _contestant(implementation, url)
    try:
        await _gather(2, one, expected)
    finally:
        await close()
    one, close, description = _contestant(implementation, url)
    try:
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        errors, wrong, first_error = await _gather(streams, one, expected)
        seconds = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        await close()
    return LoopbackResult(
        implementation=implementation,
        client=description,
        streams=streams,
        events=streams * events,
        seconds=seconds,
        cpu_seconds=cpu,
        errors=errors,
        wrong=wrong,
        first_error=first_error,
    )


def run_clients(implementation: str, url: str, streams: int, events: int) -> LoopbackResult:
    """``streams`` concurrent streams of ``events`` events with ``implementation``."""
    return asyncio.run(_run(implementation, url, streams, events))


def run_client_subprocess(
    implementation: str, url: str, streams: int, events: int, timeout: float
) -> LoopbackResult | str:
    """:func:`run_clients` in a fresh process (clean heap, CPU time of that client only).

    Returns the result, or a short reason when the client failed or timed out.
    """
    command = [
        sys.executable,
        str(HERE / "bench_loopback.py"),
        "client",
        implementation,
        url,
        str(streams),
        str(events),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=dict(os.environ)
        )
    except subprocess.TimeoutExpired:
        return f"n/a (timeout {timeout:.0f} s)"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return "failed: " + " | ".join(tail)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return LoopbackResult(**data)


def run_measured(
    implementation: str, url: str, streams: int, events: int, timeout: float
) -> LoopbackResult | str:
    """:func:`run_client_subprocess`, plus the number of connections the server saw."""
    server_stats(url)  # reset the counters
    result = run_client_subprocess(implementation, url, streams, events, timeout)
    stats = server_stats(url)
    if not isinstance(result, str):
        result.connections = stats["connections"] - 1  # minus the /stats request's own
    return result


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        serve(int(argv[1]), argv[2] if len(argv) > 2 else BULK)
        return 0
    if argv[:1] == ["client"]:
        implementation, url, streams, events = argv[1], argv[2], int(argv[3]), int(argv[4])
        result = run_clients(implementation, url, streams, events)
        print(json.dumps(result.__dict__))
        return 0
    print("usage: bench_loopback.py serve EVENTS [bulk|event] | client IMPL URL STREAMS EVENTS")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
