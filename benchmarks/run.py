"""streamsafe performance benchmark: streamsafe vs the official SDK vs httpx-sse, one run.

Usage::

    .venv/bin/python benchmarks/run.py            # full size (about 20 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # small sizes (5-8 minutes)
    .venv/bin/python benchmarks/run.py --quick --smoke   # tiny sizes (CI smoke run, ~30 s)
    .venv/bin/python benchmarks/run.py --from-json benchmarks/results/latest.json
                                                  # re-render report and chart only

Workloads (issue 5), all generated deterministically by ``bench_workloads``:

1. **text** — one text block in N ``text_delta`` events (100k events ≈ 12.4 MB);
2. **tool** — one ``tool_use`` block whose input JSON (≈ 50 characters per
   delta, ≈ 1 MB at 20k) arrives in N ``input_json_delta`` events;
3. **memory** — a 50 MB text stream, peak memory above baseline vs the size of
   the final text, in a fresh process (``bench_memory``);
4. **concurrency** — N concurrent streams of 2,000 events over real loopback
   TCP against a server in its own process (``bench_loopback``).

Workloads 1 and 2 run in this process on in-memory mock transports with 16 KiB
chunks (parsing + decoding + accumulation only), every implementation reading
the same bytes: streamsafe (events, and ``text_stream``), the official SDK
(``anthropic`` as pinned by the ``bench`` extra, 2.15.0, served through
``httpx2.MockTransport``), httpx-sse alone and httpx-sse + ``json.loads`` (the
*floor*). Times are CPU seconds, best of several runs; the SDK, super-linear,
runs under a time budget, and sizes past it are ``n/a`` (with an extrapolation
labelled as one).

This script is the command line and the order of work only. The workloads are
``bench_workloads``; the contestants ``bench_inmemory``, ``bench_memory`` and
``bench_loopback``; the timing and checks ``measure``; the report, chart and
JSON ``report``; the thresholds ``targets`` (one table, issues 5, 12 and 13).

Correctness is checked in the same run: streamsafe's final message must equal
the SDK's (content, stop_reason, stop_sequence, usage) wherever both ran, and
the generated text / tool input everywhere. Any mismatch, or a failed stream in
the concurrency workload, makes the script exit with status 1.

Outputs: a markdown report (``latest.md``), raw numbers (``latest.json``) and a
log-log chart (``scaling.png``) in ``--out`` (default ``benchmarks/results``);
a full run (or ``--from-json`` on a full run's file) also refreshes the
committed copies ``benchmarks/RESULTS.md`` and ``benchmarks/chart.png``
unless ``--no-publish``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_loopback as lb  # noqa: E402
from measure import (  # noqa: E402
    MB,
    Config,
    Report,
    measure_in_memory,
    measure_loopback,
    measure_memory,
)
from report import chart, describe_run, markdown, raw_json, report_from_json  # noqa: E402

FULL = Config(
    name="full",
    text_sizes=(12_500, 25_000, 50_000, 100_000),
    tool_sizes=(1_250, 2_500, 5_000, 10_000, 20_000, 40_000),
    repeats=5,
    min_seconds=2.0,
    max_repeats=50,
    sdk_budget=120.0,
    memory_bytes=50 * MB,
    memory_methods=("rss", "tracemalloc"),
    memory_shapes=(1, 100),
    streams=1000,
    stream_events=2000,
    loopback_timeout=900.0,
    loopback_modes=(lb.BULK, lb.CHUNKED, lb.PER_EVENT),
    loopback_repeats=3,
)
QUICK = Config(
    name="quick",
    text_sizes=(2_500, 5_000, 10_000, 20_000),
    tool_sizes=(500, 1_000, 2_000, 4_000),
    repeats=3,
    min_seconds=0.5,
    max_repeats=20,
    sdk_budget=20.0,
    memory_bytes=5 * MB,
    memory_methods=("rss",),
    memory_shapes=(1, 100),
    streams=100,
    stream_events=2000,
    loopback_timeout=300.0,
    loopback_modes=(lb.BULK, lb.CHUNKED, lb.PER_EVENT),
    loopback_repeats=2,
)
SMOKE = Config(
    name="smoke",
    text_sizes=(300,),
    tool_sizes=(200,),
    repeats=1,
    min_seconds=0.0,
    max_repeats=1,
    sdk_budget=20.0,
    memory_bytes=1 * MB,
    memory_methods=("rss",),
    memory_shapes=(1,),
    streams=4,
    stream_events=200,
    loopback_timeout=120.0,
    loopback_modes=(lb.BULK,),
    loopback_repeats=1,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        epilog="Without --quick or --smoke: full sizes, about 20 minutes on 2 cores.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (about 5 to 8 minutes on 2 cores)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, about 30 s (the CI smoke run; the same with or without --quick)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="output directory")
    parser.add_argument("--sdk-budget", type=float, help="seconds allowed for one SDK run")
    parser.add_argument("--streams", type=int, help="concurrent streams (concurrency workload)")
    parser.add_argument(
        "--skip", action="append", default=[], choices=("memory", "concurrency", "chart")
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        help="re-render the report and chart from a latest.json, measuring nothing (a full "
        "run's file also refreshes RESULTS.md and chart.png unless --no-publish)",
    )
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="do not refresh benchmarks/RESULTS.md and benchmarks/chart.png after a full run",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = SMOKE if args.smoke else QUICK if args.quick else FULL
    overrides: dict[str, Any] = {}
    if args.sdk_budget is not None:
        overrides["sdk_budget"] = args.sdk_budget
    if args.streams is not None:
        overrides["streams"] = args.streams
    if overrides:
        config = Config(**{**asdict(config), **overrides})
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)

    if args.from_json is not None:
        report = report_from_json(json.loads(args.from_json.read_text(encoding="utf-8")))
        config = report.config
    else:
        report = Report(config)
        report.meta = describe_run(
            "python benchmarks/run.py"
            + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
        )
        asyncio.run(measure_in_memory(report, log))
        if "memory" not in args.skip:
            measure_memory(report, log)
        if "concurrency" not in args.skip:
            measure_loopback(report, log)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    chart_path = out / "scaling.png"
    if "chart" not in args.skip:
        chart(report, chart_path)
    text = markdown(report, chart_path.name)
    (out / "latest.md").write_text(text, encoding="utf-8")
    (out / "latest.json").write_text(json.dumps(raw_json(report), indent=2), encoding="utf-8")
    print()
    print(text)
    if config.name == FULL.name and not args.no_publish and "chart" not in args.skip:
        shutil.copyfile(chart_path, HERE / "chart.png")
        (HERE / "RESULTS.md").write_text(markdown(report, "chart.png"), encoding="utf-8")
        log("refreshed benchmarks/RESULTS.md and benchmarks/chart.png")
    log(f"wrote {out / 'latest.md'}, {out / 'latest.json'}, {chart_path}")
    if report.mismatches:
        print("\nMISMATCH:\n  " + "\n  ".join(report.mismatches), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
