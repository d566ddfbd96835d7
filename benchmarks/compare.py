"""Before and after, in one run: streamsafe at two revisions on every benchmark workload.

Usage::

    .venv/bin/python benchmarks/compare.py BEFORE [AFTER]     # git revisions or checkout dirs
    .venv/bin/python benchmarks/compare.py HEAD~5 --rounds 7 --only text-events,tool-20k
    .venv/bin/python benchmarks/compare.py . . --smoke --rounds 1   # tiny: does it run?

``AFTER`` defaults to this working tree. A revision is checked out into a
temporary git worktree (removed at the end); a directory is used as it is.
Every measurement runs in a fresh interpreter whose ``sys.path`` starts with
that checkout's ``src/``, so the two revisions share nothing but the workload
code, which is this checkout's and uses streamsafe's public API only. The
revisions alternate, round after round (before, after, before, ...), so a
machine that gets busier or quieter part-way through shifts both alike; each
side keeps its best round.

Workloads (the ones of ``run.py``, ``bench_batches.py`` and ``bench_observe.py``):

* ``text-events`` / ``text-stream`` / ``text-sync`` — 100k text deltas in
  memory: typed events, ``text_stream``, and the sync twin (CPU seconds);
* ``tool-20k`` / ``tool-40k`` — tool input in 20k and 40k ``input_json_delta``
  events (CPU seconds);
* ``memory`` — peak traced memory of a 50 MB text stream, over the final text
  (a ratio: lower is better);
* ``concurrency`` — 1,000 concurrent streams of 2,000 events over loopback TCP
  against ``bench_loopback``'s chunked server (client CPU seconds);
* ``batch-rows`` — 20,000 Message Batches result rows, typed (CPU seconds);
* ``observe-otel`` — 100k text deltas with the OpenTelemetry observer, where
  both revisions have it (CPU seconds).

Prints one markdown table: before, after and the change (negative is faster).
Exits 1 if a workload fails at either revision, in any round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: ``--smoke`` (tiny sizes, to check that the script runs) reaches the workers through this.
SMOKE = os.environ.get("COMPARE_SMOKE") == "1"
TEXT_DELTAS = 2_000 if SMOKE else 100_000
TOOL_DELTAS = 500 if SMOKE else 20_000
MEMORY_BYTES = 1_000_000 if SMOKE else 50_000_000
FULL_STREAM_EVENTS, SMOKE_STREAM_EVENTS = 2_000, 200
STREAMS, STREAM_EVENTS = (20, SMOKE_STREAM_EVENTS) if SMOKE else (1_000, FULL_STREAM_EVENTS)
BATCH_ROWS = 200 if SMOKE else 20_000


# -- the workloads (run inside a worker process) --------------------------------------


def _best(run: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def _inmemory(kind: str, deltas: int, runner: str) -> Callable[[int], float]:
    def measure(repeat: int) -> float:
        import bench_inmemory as im
        from bench_workloads import build

        served = im.Served(workload=build(kind, deltas))
        client = im.httpx_client(served)
        run = getattr(im, runner)(client)
        asyncio.run(run())  # warm up
        return _best(lambda: asyncio.run(run()), repeat)

    return measure


def _text_sync(repeat: int) -> float:
    import bench_inmemory as im
    import httpx
    from bench_workloads import build

    import streamsafe

    chunks = build("text", TEXT_DELTAS).chunks

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=im.HEADERS, content=iter(chunks))

    client = httpx.Client(transport=httpx.MockTransport(handler))

    def run() -> None:
        with streamsafe.connect_message_stream(
            client, "POST", im.URL, json=im.REQUEST_BODY
        ) as stream:
            for _event in stream:
                pass
            stream.get_final_message()

    run()
    return _best(run, repeat)


def _memory(repeat: int) -> float:
    import bench_memory as mem

    deltas = mem.deltas_for(MEMORY_BYTES, 1)
    result = mem.measure(mem.MEMORY_STREAMSAFE, "tracemalloc", deltas, 1)
    return float(result["above_baseline"]) / float(result["text_bytes"])


def _concurrency(repeat: int) -> float:
    import bench_loopback as lb

    url = os.environ["COMPARE_LOOPBACK_URL"]
    best = float("inf")
    for _ in range(repeat):
        result = lb.run_clients(lb.LOOPBACK_STREAMSAFE, url, STREAMS, STREAM_EVENTS)
        if result.errors or result.wrong:
            what = f"{result.errors} failed, {result.wrong} wrong: {result.first_error}"
            raise RuntimeError(what)
        best = min(best, result.cpu_seconds)
    return best


def _batch_rows(repeat: int) -> float:
    import bench_batches as bb

    body = bb.rows_body(BATCH_ROWS)
    return _best(lambda: bb.streamsafe_results(lambda: bb.chunks(body)), repeat)


def _observe_otel(repeat: int) -> float:
    import bench_inmemory as im
    import bench_observe as bo
    from bench_workloads import build

    observer = bo.observers().get("OTel to memory")
    if observer is None:
        raise LookupError("no OpenTelemetry observer at this revision")
    client = im.httpx_client(im.Served(workload=build("text", TEXT_DELTAS)))
    run = bo.runner(client, observer)
    asyncio.run(run())
    return _best(lambda: asyncio.run(run()), repeat)


WORKLOADS: dict[str, tuple[str, Callable[[int], float]]] = {
    "text-events": ("s", _inmemory("text", TEXT_DELTAS, "streamsafe_events")),
    "text-stream": ("s", _inmemory("text", TEXT_DELTAS, "streamsafe_text_stream")),
    "text-sync": ("s", _text_sync),
    "tool-20k": ("s", _inmemory("tool", TOOL_DELTAS, "streamsafe_events")),
    "tool-40k": ("s", _inmemory("tool", 2 * TOOL_DELTAS, "streamsafe_events")),
    "memory": ("x", _memory),
    "concurrency": ("s", _concurrency),
    "batch-rows": ("s", _batch_rows),
    "observe-otel": ("s", _observe_otel),
}


def worker(src: str, workload: str, repeat: int) -> None:
    """Measure one workload with the streamsafe found in ``src``; print JSON."""
    sys.path[:0] = [src, str(HERE)]
    import streamsafe

    if not streamsafe.__file__ or not streamsafe.__file__.startswith(src):
        raise RuntimeError(f"imported {streamsafe.__file__}, not the one in {src}")
    try:
        value: float | str = WORKLOADS[workload][1](repeat)
    except LookupError as exc:
        value = f"n/a ({exc})"
    print(json.dumps({"value": value}))


# -- the driver ------------------------------------------------------------------------


@contextlib.contextmanager
def checkout(where: str) -> Iterator[Path]:
    """A directory holding ``where``: itself if it is one, else a temporary worktree."""
    if Path(where).is_dir():
        yield Path(where).resolve()
        return
    with tempfile.TemporaryDirectory(prefix="streamsafe-compare-") as tmp:
        path = Path(tmp) / "checkout"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(path), where],
            check=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False
            )


def measure(checkout_dir: Path, workload: str, repeat: int, env: dict[str, str]) -> float | str:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(checkout_dir / "src"),
        workload,
        "--repeat",
        str(repeat),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-2:]
        return "failed: " + " | ".join(tail)
    value: float | str = json.loads(done.stdout.strip().splitlines()[-1])["value"]
    return value


@contextlib.contextmanager
def loopback_server(events: int) -> Iterator[str]:
    """``bench_loopback``'s server (one HTTP chunk per event) in a process of its own."""
    sys.path.insert(0, str(HERE))
    import bench_loopback as lb

    with lb.ServerProcess(events, lb.CHUNKED) as url:
        yield url


def _format(unit: str, value: float | str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.4f} s" if unit == "s" else f"{value:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("before", nargs="?")
    parser.add_argument("after", nargs="?", default=str(ROOT))
    parser.add_argument("--rounds", type=int, default=5, help="before/after rounds (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per process (best kept)")
    parser.add_argument("--only", default="", help="comma-separated workloads")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that it runs")
    parser.add_argument("--worker", nargs=2, metavar=("SRC", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1], args.repeat)
        return 0
    if args.before is None:
        parser.error("name the revision (or checkout) to compare with")
    names = [n for n in args.only.split(",") if n] or list(WORKLOADS)
    unknown = sorted(set(names) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads {unknown}; known: {', '.join(WORKLOADS)}")
    failed = False
    with (
        checkout(args.before) as before,
        checkout(args.after) as after,
        loopback_server(SMOKE_STREAM_EVENTS if args.smoke else FULL_STREAM_EVENTS) as url,
    ):
        env = {**os.environ, "COMPARE_LOOPBACK_URL": url, "PYTHONHASHSEED": "0"}
        env["COMPARE_SMOKE"] = "1" if args.smoke else "0"
        env.pop("PYTHONPATH", None)
        print(f"before: {args.before} ({before})\nafter:  {args.after} ({after})")
        print(f"{args.rounds} rounds, alternating; each side's best\n")
        print("| workload | before | after | change |\n|---|---:|---:|---:|")
        for name in names:
            unit = WORKLOADS[name][0]
            sides: dict[str, list[float | str]] = {"before": [], "after": []}
            for _ in range(args.rounds):
                for side, path in (("before", before), ("after", after)):
                    sides[side].append(measure(path, name, args.repeat, env))
            best = {}
            for side, values in sides.items():
                numbers = [v for v in values if not isinstance(v, str)]
                failures = [v for v in values if isinstance(v, str) and v.startswith("failed")]
                failed = failed or bool(failures)
                best[side] = min(numbers) if numbers else str(values[0])
                if numbers and failures:  # a best of the rounds that worked hides nothing
                    best[side] = f"{_format(WORKLOADS[name][0], min(numbers))} "
                    best[side] += f"({len(failures)} of {len(values)} rounds failed)"
            old, new = best["before"], best["after"]
            change = (
                f"{(new / old - 1) * 100:+.1f}%"
                if isinstance(old, float) and isinstance(new, float)
                else "—"
            )
            print(f"| {name} | {_format(unit, old)} | {_format(unit, new)} | {change} |")
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
