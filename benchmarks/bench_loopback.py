"""Concurrency over real loopback TCP: many streams at once against a local server.

The server (:func:`serve`) runs in its own process: a minimal HTTP/1.1 server on
a raw asyncio protocol that answers every request, on every keep-alive
connection, with the same pre-built response — headers plus a chunked
``text/event-stream`` body of ``events`` events cut in 16 KiB chunks. It does
no per-request work besides one ``write``, so the client side is what gets
measured.

The clients (:func:`run_clients`) open ``streams`` streams concurrently on one
asyncio event loop and record wall time and the client process's CPU time
(``time.process_time()``; the server's CPU is in another process and not
counted). Every stream's final text is checked against the expected text.

Run as a script to start a server: ``python bench_loopback.py serve EVENTS``
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx_sse
from bench_workloads import CHUNK_SIZE, FRAMING_EVENTS, MODEL, stream_body, text_deltas

import streamsafe

HERE = Path(__file__).resolve().parent

# Connection allowance given to every client: the SDK's and streamsafe's
# defaults (1,000 connections); the plain httpx client gets the same, so the
# comparison is about the pool, not about a queue in front of it.
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
TIMEOUT = httpx.Timeout(600.0, connect=30.0)


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------


def _response_bytes(events: int) -> bytes:
    body = stream_body("text", events - FRAMING_EVENTS)
    pieces = [
        b"HTTP/1.1 200 OK\r\n"
        b"content-type: text/event-stream\r\n"
        b"cache-control: no-cache\r\n"
        b"request-id: req_bench_loopback\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    ]
    for start in range(0, len(body), CHUNK_SIZE):
        chunk = body[start : start + CHUNK_SIZE]
        pieces.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    pieces.append(b"0\r\n\r\n")
    return b"".join(pieces)


class _Server(asyncio.Protocol):
    """Answers each complete request (headers + content-length body) with ``response``."""

    def __init__(self, response: bytes) -> None:
        self._response = response
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

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
            del buffer[:total]
            if self._transport is not None:
                self._transport.write(self._response)


async def _serve(events: int) -> None:
    response = _response_bytes(events)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Server(response), "127.0.0.1", 0, backlog=4096, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Serve until the parent closes our stdin.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def serve(events: int) -> None:
    asyncio.run(_serve(events))


class ServerProcess:
    """A loopback server in a child process (``with ServerProcess(events) as url``)."""

    def __init__(self, events: int) -> None:
        self.events = events
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        self._process = subprocess.Popen(
            [sys.executable, str(HERE / "bench_loopback.py"), "serve", str(self.events)],
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
        from streamsafe._transport import default_async_client
    except ImportError:
        return httpx.AsyncClient(limits=LIMITS, timeout=TIMEOUT), "plain httpx client"
    return default_async_client(), "streamsafe._transport.default_async_client()"


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


async def _run(implementation: str, url: str, streams: int, events: int) -> LoopbackResult:
    expected = "".join(text_deltas(events - FRAMING_EVENTS))
    endpoint = url + "/v1/messages"
    closers: list[Callable[[], Awaitable[None]]] = []

    if implementation == LOOPBACK_STREAMSAFE:
        client, description = streamsafe_client()
        closers.append(client.aclose)

        async def one() -> str:
            async with streamsafe.aconnect_message_stream(
                client, "POST", endpoint, json=REQUEST
            ) as stream:
                message = await stream.get_final_message()
            return message.text

    elif implementation == LOOPBACK_FLOOR:
        plain = httpx.AsyncClient(limits=LIMITS, timeout=TIMEOUT)
        description = "httpx.AsyncClient(limits=1000 connections)"
        closers.append(plain.aclose)

        async def one() -> str:
            pieces: list[str] = []
            loads = json.loads
            async with httpx_sse.aconnect_sse(plain, "POST", endpoint, json=REQUEST) as source:
                async for sse in source.aiter_sse():
                    payload = loads(sse.data)
                    if payload["type"] == "content_block_delta":
                        pieces.append(payload["delta"]["text"])
            return "".join(pieces)

    elif implementation == LOOPBACK_SDK:
        import anthropic

        sdk = anthropic.AsyncAnthropic(api_key="sk-bench", base_url=url, max_retries=0)
        description = "AsyncAnthropic default client (httpx2, 1000 connections)"
        closers.append(sdk.close)

        async def one() -> str:
            async with sdk.messages.stream(
                model=MODEL, max_tokens=REQUEST["max_tokens"], messages=REQUEST["messages"]
            ) as stream:
                message = await stream.get_final_message()
            return "".join(block.text for block in message.content if block.type == "text")

    else:
        raise ValueError(f"unknown implementation {implementation!r}")

    try:
        # Warm up: imports, first connection, code paths.
        await _gather(2, one, expected)
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        errors, wrong, first_error = await _gather(streams, one, expected)
        seconds = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        for close in closers:
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


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        serve(int(argv[1]))
        return 0
    if argv[:1] == ["client"]:
        implementation, url, streams, events = argv[1], argv[2], int(argv[3]), int(argv[4])
        result = run_clients(implementation, url, streams, events)
        print(json.dumps(result.__dict__))
        return 0
    print("usage: bench_loopback.py serve EVENTS | client IMPL URL STREAMS EVENTS")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
