"""Peak memory of one large text stream, measured in a fresh process.

``python bench_memory.py IMPL METHOD DELTAS PIECES`` streams a text workload of
``DELTAS`` deltas (each ``PIECES`` pieces of about ten characters) through
``IMPL`` and prints one JSON line.

The body is generated lazily, chunk by chunk, so the process never holds the
stream itself: whatever it keeps is what the implementation keeps. Two methods:

* ``rss`` — the process's peak resident set after the run, minus its current
  resident set (``/proc/self/statm``) just before it, after a warm-up stream
  and ``gc.collect()``. This is what the operating system sees, allocator
  overhead and fragmentation included. On Linux the peak is the kernel's
  high-water mark ``VmHWM`` (``/proc/self/status``), reset just before the run
  (``5 > /proc/self/clear_refs``) so that a higher peak from start-up cannot
  hide the run's; ``resource.getrusage(...).ru_maxrss`` is not used there,
  because it also keeps the high-water mark of the address space the process
  was spawned from (``vfork`` + ``exec`` of a large parent). Elsewhere it
  falls back to ``ru_maxrss``.
* ``tracemalloc`` — the peak of memory allocated through Python's allocators
  during the run (``tracemalloc.get_traced_memory()``, reset just before it).
  Precise and immune to what ran before, but blind to memory allocated
  outside Python's allocators.

Implementations: ``streamsafe`` (iterate events, then ``get_final_message()``)
and ``httpx-sse + json`` (``json.loads`` per event, text fragments collected in
a list and joined once: the least an accumulating client can do).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import httpx_sse
from bench_workloads import REQUEST_ID, iter_chunks, text_events

import streamsafe

HERE = Path(__file__).resolve().parent
URL = "http://bench.invalid/v1/messages"
HEADERS = {"content-type": "text/event-stream", "request-id": REQUEST_ID}

MEMORY_STREAMSAFE = "streamsafe"
MEMORY_FLOOR = "httpx-sse + json"


class _LazyBody(httpx.AsyncByteStream):
    def __init__(self, deltas: int, pieces: int) -> None:
        self._deltas = deltas
        self._pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in iter_chunks(text_events(self._deltas, pieces_per_delta=self._pieces)):
            yield chunk


def _client(deltas: int, pieces: int) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=HEADERS, stream=_LazyBody(deltas, pieces))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def _streamsafe(client: httpx.AsyncClient) -> str:
    async with streamsafe.aconnect_message_stream(client, "POST", URL, json={}) as stream:
        async for _event in stream:
            pass
        message = await stream.get_final_message()
    return message.text


async def _floor(client: httpx.AsyncClient) -> str:
    pieces: list[str] = []
    async with httpx_sse.aconnect_sse(client, "POST", URL, json={}) as source:
        async for sse in source.aiter_sse():
            payload = json.loads(sse.data)
            if payload["type"] == "content_block_delta":
                pieces.append(payload["delta"]["text"])
    return "".join(pieces)


def _current_rss() -> int:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process's RSS (Linux only)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _peak_rss() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure(implementation: str, method: str, deltas: int, pieces: int) -> dict[str, Any]:
    consume = _streamsafe if implementation == MEMORY_STREAMSAFE else _floor

    async def main() -> dict[str, Any]:
        await consume(_client(200, pieces))  # warm up: imports and code paths
        client = _client(deltas, pieces)
        gc.collect()
        out: dict[str, Any] = {"implementation": implementation, "method": method}
        if method == "rss":
            out["peak_reset"] = _reset_peak_rss()
            baseline = _current_rss()
            peak_before = _peak_rss()
            text = await consume(client)
            peak = _peak_rss()
            out["above_baseline"] = peak - baseline
            out["peak_masked"] = peak == peak_before
        else:
            tracemalloc.start()
            tracemalloc.reset_peak()
            start, _ = tracemalloc.get_traced_memory()
            text = await consume(client)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out["above_baseline"] = peak - start
        out["text_bytes"] = len(text.encode("utf-8"))
        out["text_chars"] = len(text)
        return out

    return asyncio.run(main())


def measure_subprocess(
    implementation: str, method: str, deltas: int, pieces: int, timeout: float = 600
) -> dict[str, Any] | str:
    """:func:`measure` in a fresh interpreter; a short reason string if it failed."""
    command = [
        sys.executable,
        str(HERE / "bench_memory.py"),
        implementation,
        method,
        str(deltas),
        str(pieces),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"n/a (timeout {timeout:.0f} s)"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return "failed: " + " | ".join(tail)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def deltas_for(stream_bytes: int, pieces: int) -> int:
    """How many deltas make a text stream of about ``stream_bytes`` bytes on the wire."""
    sample = 2000
    size = sum(len(event) for event in text_events(sample, pieces_per_delta=pieces))
    return max(1, round(stream_bytes * sample / size))


if __name__ == "__main__":
    implementation_arg, method_arg, deltas_arg, pieces_arg = sys.argv[1:5]
    print(json.dumps(measure(implementation_arg, method_arg, int(deltas_arg), int(pieces_arg))))
