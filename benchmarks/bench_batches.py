"""Message Batches results: streamsafe vs the official SDK vs the floor, same bytes, one run.

Usage::

    .venv/bin/python benchmarks/bench_batches.py            # defaults: well under a minute
    .venv/bin/python benchmarks/bench_batches.py --full     # + SDK on 4 MB, 200 MB memory

Workloads (issue 12), every body generated here, deterministically:

1. **rows** — ``--rows`` result rows (default 10,000) of about 4 KB each
   (succeeded messages, one row in 50 errored), served in 16 KiB chunks.
   Contestants: streamsafe ``client.messages.batches.results(id)`` (typed
   results: Message structs, errored rows as typed exceptions), the SDK's
   ``client.messages.batches.results(id)`` (anthropic 2.15 on httpx2), and
   the *floor*: ``body.split(b"\\n")`` plus ``json.loads`` per line over the
   body in memory (no HTTP, no types).
2. **line** — one result row whose message text is 1 MB, then 4 MB:
   streamsafe must be linear in the line's length; the SDK's reader appends
   to one ``bytes`` per piece (quadratic), so by default it only reads the
   1 MB line (``--full`` adds 4 MB).
3. **memory** — peak traced memory (``tracemalloc``) while streamsafe reads
   a ``--memory-mb`` results body (default 20; ``--full``: 200) generated
   chunk by chunk (the body never exists whole), against the largest line.

The targets (issue 12) are the ``batch-*`` rows of ``targets.py``; the run
ends with each one's value and verdict.

Both clients are served by in-memory mock transports (``httpx.MockTransport``
and ``httpx2.MockTransport``): parsing, decoding and typing only. Times are
wall seconds, best of ``--repeat`` runs. Every contestant must return the same
custom ids and texts; a mismatch exits with status 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import targets

import streamsafe

CHUNK = 16 * 1024
# The mock transports have no sockets, hence no keep-alive to warn about.
warnings.filterwarnings("ignore", "the httpx client given to streamsafe", RuntimeWarning)
BATCH_ID = "msgbatch_bench"
BASE = "http://bench.invalid"
_BATCH = {
    "id": BATCH_ID,
    "type": "message_batch",
    "processing_status": "ended",
    "request_counts": {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0},
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": "2026-01-02T00:00:00Z",
    "ended_at": "2026-01-01T01:00:00Z",
    "cancel_initiated_at": None,
    "archived_at": None,
    "results_url": f"{BASE}/v1/messages/batches/{BATCH_ID}/results",
}


def row(index: int, text_bytes: int) -> bytes:
    custom_id = f"req-{index}"
    if index % 50 == 49:
        result: dict[str, Any] = {
            "type": "errored",
            "error": {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
                "request_id": f"req_{index:024d}",
            },
        }
    else:
        words = ("river delta estuary meander oxbow " * (text_bytes // 34 + 1))[:text_bytes]
        result = {
            "type": "succeeded",
            "message": {
                "id": f"msg_{index:024d}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": words}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 20, "output_tokens": text_bytes // 4},
            },
        }
    line = json.dumps({"custom_id": custom_id, "result": result}, separators=(",", ":"))
    return line.encode() + b"\n"


def rows_body(count: int, text_bytes: int = 3700) -> bytes:
    return b"".join(row(i, text_bytes) for i in range(count))


def chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def handler_for(body_chunks: Callable[[], Iterator[bytes]]) -> Callable[[httpx.Request], Any]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/results"):
            return httpx.Response(
                200,
                headers={"content-type": "application/x-jsonl"},
                content=body_chunks(),
            )
        return httpx.Response(200, json=_BATCH)

    return handler


# -- contestants ---------------------------------------------------------------------


def streamsafe_results(body_chunks: Callable[[], Iterator[bytes]]) -> list[tuple[str, str]]:
    http = httpx.Client(transport=httpx.MockTransport(handler_for(body_chunks)))
    with streamsafe.Client(base_url=BASE, api_key="x", http_client=http) as client:
        out: list[tuple[str, str]] = []
        with client.messages.batches.results(BATCH_ID) as results:
            for item in results:
                if isinstance(item, streamsafe.BatchSucceeded):
                    out.append((item.custom_id, item.message.text))
                else:
                    out.append((item.custom_id, item.type))
        return out


def sdk_results(body_chunks: Callable[[], Iterator[bytes]]) -> list[tuple[str, str]]:
    import anthropic
    import httpx2

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/results"):
            return httpx2.Response(
                200, headers={"content-type": "application/x-jsonl"}, content=body_chunks()
            )
        return httpx2.Response(200, json=_BATCH)

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = anthropic.Anthropic(base_url=BASE, api_key="x", http_client=http)
    out: list[tuple[str, str]] = []
    for item in client.messages.batches.results(BATCH_ID):
        result = item.result
        if result.type == "succeeded":
            out.append((item.custom_id, "".join(b.text for b in result.message.content)))  # type: ignore[union-attr]
        else:
            out.append((item.custom_id, result.type))
    return out


def floor_results(body: bytes) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in body.split(b"\n"):
        if not line:
            continue
        data = json.loads(line)
        result = data["result"]
        if result["type"] == "succeeded":
            out.append((data["custom_id"], result["message"]["content"][0]["text"]))
        else:
            out.append((data["custom_id"], result["type"]))
    return out


def best(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times: list[float] = []
    value: Any = None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - started)
    return min(times), value


# -- workloads ---------------------------------------------------------------------------


def bench_rows(count: int, repeat: int) -> dict[str, float]:
    body = rows_body(count)
    print(f"rows: {count:,} rows, {len(body) / 1e6:.1f} MB, {CHUNK // 1024} KiB chunks")
    floor_t, expected = best(lambda: floor_results(body), repeat)
    ours_t, ours = best(lambda: streamsafe_results(lambda: chunks(body)), repeat)
    sdk_t, sdk = best(lambda: sdk_results(lambda: chunks(body)), max(1, repeat // 2))
    check("rows", expected, ours, sdk)
    print(f"  floor (split + json.loads)   {floor_t:8.3f} s")
    print(f"  streamsafe typed results     {ours_t:8.3f} s   {ours_t / floor_t:5.2f}x the floor")
    print(
        f"  SDK batches.results()        {sdk_t:8.3f} s   streamsafe {sdk_t / ours_t:5.1f}x faster"
    )
    return {"floor": floor_t, "streamsafe": ours_t, "sdk": sdk_t}


def bench_line(full: bool, repeat: int) -> dict[str, float]:
    numbers: dict[str, float] = {}
    for megabytes in (1, 4):
        body = row(0, megabytes * 1_000_000)
        ours_t, ours = best(lambda body=body: streamsafe_results(lambda: chunks(body)), repeat)
        numbers[f"streamsafe_{megabytes}mb"] = ours_t
        line = f"  {megabytes} MB line: streamsafe {ours_t:7.4f} s"
        if megabytes == 1 or full:
            sdk_t, sdk = best(lambda body=body: sdk_results(lambda: chunks(body)), 1)
            check(f"{megabytes} MB line", floor_results(body), ours, sdk)
            numbers[f"sdk_{megabytes}mb"] = sdk_t
            line += f"   SDK {sdk_t:8.3f} s   streamsafe {sdk_t / ours_t:6.0f}x faster"
        print(line)
    ratio = numbers["streamsafe_4mb"] / numbers["streamsafe_1mb"]
    shown = targets.BY_NAME["batch-line-linear"].shown()
    print(f"  streamsafe 4 MB / 1 MB: {ratio:.2f}x the time (target {shown})")
    return numbers


def bench_memory(megabytes: int) -> dict[str, float]:
    line = row(0, 3700)
    count = megabytes * 1_000_000 // len(line)

    def generated() -> Iterator[bytes]:
        batch: list[bytes] = []
        size = 0
        for i in range(count):
            batch.append(row(i, 3700))
            size += len(batch[-1])
            if size >= CHUNK:
                yield b"".join(batch)
                batch, size = [], 0
        if batch:
            yield b"".join(batch)

    http = httpx.Client(transport=httpx.MockTransport(handler_for(generated)))
    client = streamsafe.Client(base_url=BASE, api_key="x", http_client=http)
    seen = 0
    largest = 0
    gc.collect()
    tracemalloc.start()
    with client.messages.batches.results(BATCH_ID) as results:
        for item in results:  # each result dropped at once, as a streaming consumer would
            seen += 1
            largest = max(largest, len(line))
            del item
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    client.close()
    body_mb = count * len(line) / 1e6
    print(
        f"memory: {body_mb:.0f} MB body, {seen:,} rows: peak traced {peak / 1e6:.2f} MB "
        f"(largest line {largest / 1e3:.1f} KB)"
    )
    return {"body_mb": body_mb, "peak_mb": peak / 1e6, "largest_mb": largest / 1e6}


def check(what: str, expected: Any, *others: Any) -> None:
    for other in others:
        if other != expected:
            print(f"MISMATCH in {what}", file=sys.stderr)
            raise SystemExit(1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-mb", type=int, default=None)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    memory = args.memory_mb or (200 if args.full else 20)
    numbers = {
        "rows": bench_rows(args.rows, args.repeat),
        "line": bench_line(args.full, args.repeat),
        "memory": bench_memory(memory),
    }
    print("targets (issue 12; sizes as run, the issue's are the defaults and --full):")
    for result in targets.evaluate(target_values(numbers)):
        print(f"  {targets.describe(result)}")
    return numbers


def target_values(numbers: dict[str, Any]) -> dict[str, float | None]:
    """The measured value of each ``batch-*`` target of ``targets.py``."""
    rows, line, memory = numbers["rows"], numbers["line"], numbers["memory"]
    sdk_4mb = line.get("sdk_4mb")
    return {
        "batch-rows-vs-sdk": rows["sdk"] / rows["streamsafe"],
        "batch-rows-vs-floor": rows["streamsafe"] / rows["floor"],
        "batch-line-linear": line["streamsafe_4mb"] / line["streamsafe_1mb"],
        "batch-line-vs-sdk": None if sdk_4mb is None else sdk_4mb / line["streamsafe_4mb"],
        "batch-memory": memory["peak_mb"] - memory["largest_mb"],
    }


if __name__ == "__main__":
    main()
