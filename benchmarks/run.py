"""streamsafe performance benchmark: streamsafe vs the official SDK vs httpx-sse, one run.

Usage::

    .venv/bin/python benchmarks/run.py            # full size (about 20 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # small sizes (several minutes)
    .venv/bin/python benchmarks/run.py --quick --smoke   # tiny sizes (CI smoke run)
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
(``anthropic`` 2.13, served through ``httpx2.MockTransport``), httpx-sse alone
and httpx-sse + ``json.loads`` (the *floor*). Times are CPU seconds of this
process, best of several runs; the SDK, which is super-linear, gets few runs
per size under a time budget, and sizes past the budget are reported as
``n/a`` (with an extrapolation that is labelled as one).

Correctness is checked in the same run: streamsafe's final message must equal
the SDK's (content, stop_reason, stop_sequence, usage) wherever both ran, and
the generated text / tool input everywhere. Any mismatch, or a failed stream in
the concurrency workload, makes the script exit with status 1.

Outputs: a markdown report (``latest.md``), raw numbers (``latest.json``) and a
log-log chart (``scaling.png``) in ``--out`` (default ``benchmarks/results``);
a full run also refreshes the committed copies ``benchmarks/RESULTS.md`` and
``benchmarks/chart.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_inmemory as im  # noqa: E402
import bench_loopback as lb  # noqa: E402
import bench_memory as mem  # noqa: E402
from bench_workloads import Workload, build, text_deltas, tool_input  # noqa: E402

MB = 1_000_000


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    name: str
    text_sizes: tuple[int, ...]
    tool_sizes: tuple[int, ...]
    repeats: int
    min_seconds: float  # keep repeating short runs until each had this much in total
    max_repeats: int
    sdk_budget: float  # seconds allowed for one SDK run
    memory_bytes: int
    memory_methods: tuple[str, ...]
    memory_shapes: tuple[int, ...]  # pieces (of ~10 characters) per delta
    streams: int
    stream_events: int
    loopback_timeout: float
    loopback_modes: tuple[str, ...]  # server modes (bench_loopback.MODES)
    loopback_repeats: int  # runs of streamsafe and of the floor (best kept); the SDK runs once


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

IMPLEMENTATIONS = (im.STREAMSAFE, im.STREAMSAFE_TEXT, im.SDK, im.HTTPX_SSE, im.FLOOR)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass
class Row:
    """One implementation on one in-memory workload."""

    kind: str
    deltas: int
    implementation: str
    events: int
    nbytes: int
    seconds: float | None
    runs: int = 0
    note: str = ""
    #: Extrapolated seconds for an SDK size past the time budget (never measured).
    estimate: float | None = None
    #: Best wall-clock seconds (``seconds`` is CPU time).
    wall: float | None = None

    @property
    def events_per_second(self) -> float | None:
        return None if self.seconds is None else self.events / self.seconds

    @property
    def mb_per_second(self) -> float | None:
        return None if self.seconds is None else self.nbytes / MB / self.seconds


@dataclass
class Report:
    config: Config
    rows: list[Row] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    #: (server mode, implementation, result or the reason there is none)
    loopback: list[tuple[str, str, lb.LoopbackResult | str]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    #: Where and when it ran: command, time, platform, versions, source state.
    meta: dict[str, str] = field(default_factory=dict)

    def row(self, kind: str, deltas: int, implementation: str) -> Row | None:
        for row in self.rows:
            if (row.kind, row.deltas, row.implementation) == (kind, deltas, implementation):
                return row
        return None


# ---------------------------------------------------------------------------
# In-memory workloads
# ---------------------------------------------------------------------------


@dataclass
class Timing:
    """CPU seconds (what the tables show) and wall seconds of one run."""

    cpu: float
    wall: float


async def _timed(runner: im.Runner) -> tuple[Timing, Any]:
    """Run once; measure this process's CPU time and the wall time.

    The tables use CPU time (``time.process_time()``): the in-memory runs are
    single-threaded and never wait, so on an idle machine both are equal, and
    CPU time is far less disturbed by other jobs sharing the machine.
    """
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    result = await runner()
    return Timing(time.process_time() - cpu, time.perf_counter() - wall), result


def _reference_check(workload: Workload, implementation: str, result: Any) -> str | None:
    """Compare an accumulated message with what the generator put on the wire."""
    if workload.kind == "text":
        expected = "".join(text_deltas(workload.deltas))
        content = result.get("content") or [{}]
        got = content[0].get("text")
        if got != expected:
            return f"{implementation} {workload.label}: final text differs from the generated text"
    else:
        expected_input = json.loads(tool_input(workload.deltas))
        content = result.get("content") or [{}]
        if content[0].get("input") != expected_input:
            return f"{implementation} {workload.label}: tool input differs from the generated JSON"
    return None


def _growth_per_doubling(points: list[tuple[int, float]]) -> float | None:
    if len(points) < 2:
        return None
    (n1, t1), (n2, t2) = points[-2], points[-1]
    if t1 <= 0 or n2 == n1:
        return None
    return float((t2 / t1) ** (1 / math.log2(n2 / n1)))


def _extrapolate(points: list[tuple[int, float]], n: int) -> tuple[float, float] | None:
    growth = _growth_per_doubling(points)
    if growth is None:
        return None
    last_n, last_t = points[-1]
    return last_t * growth ** math.log2(n / last_n), growth


async def _measure_kind(
    report: Report, kind: str, sizes: tuple[int, ...], served: im.Served, log: Any
) -> None:
    contestants = im.contestants(served)
    try:
        await _measure_sizes(report, kind, sizes, served, contestants.runners, log)
    finally:
        await contestants.aclose()
        served.workload = None


async def _measure_sizes(
    report: Report,
    kind: str,
    sizes: tuple[int, ...],
    served: im.Served,
    contestants: dict[str, im.Runner],
    log: Any,
) -> None:
    config = report.config
    others = [name for name in IMPLEMENTATIONS if name != im.SDK]
    sdk_points: list[tuple[int, float]] = []
    sdk_stopped: str | None = None
    for deltas in sizes:
        workload = build(kind, deltas)
        served.workload = workload
        best: dict[str, float] = {}
        best_wall: dict[str, float] = {}
        spent: dict[str, float] = dict.fromkeys(others, 0.0)
        results: dict[str, Any] = {}
        # Round-robin the repeats so that drift hits every implementation alike;
        # short runs are repeated until each has had ``min_seconds`` in total.
        rounds = 0
        while rounds < config.repeats or (
            min(spent.values()) < config.min_seconds and rounds < config.max_repeats
        ):
            rounds += 1
            for name in others:
                timing, result = await _timed(contestants[name])
                best[name] = min(best.get(name, math.inf), timing.cpu)
                best_wall[name] = min(best_wall.get(name, math.inf), timing.wall)
                spent[name] += timing.cpu
                results[name] = result
        for name in others:
            report.rows.append(
                Row(
                    kind,
                    deltas,
                    name,
                    workload.events,
                    workload.nbytes,
                    best[name],
                    rounds,
                    wall=best_wall[name],
                )
            )
            log(f"  {workload.label:>12}  {name:<24} {best[name]:9.4f} s")
        for name in (im.HTTPX_SSE, im.FLOOR):
            if results[name] != workload.events:
                report.mismatches.append(
                    f"{name} {workload.label}: {results[name]} events, expected {workload.events}"
                )
        for name in (im.STREAMSAFE, im.STREAMSAFE_TEXT):
            problem = _reference_check(workload, name, results[name])
            if problem:
                report.mismatches.append(problem)
        report.checks.append(f"generated:{workload.label}")

        # The SDK: one run per size (a few while it is fast), under a time budget.
        row = Row(kind, deltas, im.SDK, workload.events, workload.nbytes, None)
        if sdk_stopped is None:
            projected = _extrapolate(sdk_points, deltas)
            if projected is not None and projected[0] > config.sdk_budget * 1.5:
                sdk_stopped = "skipped"
        if sdk_stopped is not None:
            row.note = f"n/a ({sdk_stopped}: over the {config.sdk_budget:.0f} s budget)"
        else:
            seconds_list: list[float] = []
            walls: list[float] = []
            sdk_result: Any = None
            sdk_spent = 0.0
            while len(seconds_list) < config.repeats and (not seconds_list or sdk_spent < 3.0):
                served.deadline = time.perf_counter() + config.sdk_budget
                try:
                    timing, sdk_result = await _timed(contestants[im.SDK])
                except Exception:
                    if time.perf_counter() < served.deadline:
                        raise
                    sdk_stopped = "timeout"
                    row.note = f"n/a (timeout: over the {config.sdk_budget:.0f} s budget)"
                    break
                finally:
                    served.deadline = None
                seconds_list.append(timing.cpu)
                walls.append(timing.wall)
                sdk_spent += timing.wall
            if seconds_list and sdk_stopped is None:
                row.seconds = min(seconds_list)
                row.wall = min(walls)
                row.runs = len(seconds_list)
                sdk_points.append((deltas, row.seconds))
                for name in (im.STREAMSAFE, im.STREAMSAFE_TEXT):
                    differences = im.message_differences(results[name], sdk_result)
                    if differences:
                        report.mismatches.extend(
                            f"{name} vs SDK {workload.label}: {d}" for d in differences
                        )
                report.checks.append(f"sdk:{workload.label}")
        if row.seconds is None:
            estimate = _extrapolate(sdk_points, deltas)
            if estimate is not None:
                row.estimate = estimate[0]
                row.note += f"; ≈ {estimate[0]:,.0f} s extrapolated (x{estimate[1]:.1f}/doubling)"
        report.rows.append(row)
        shown = f"{row.seconds:9.4f} s" if row.seconds is not None else row.note
        log(f"  {workload.label:>12}  {im.SDK:<24} {shown}")


async def warm_up(served: im.Served) -> None:
    """Run every contestant once on tiny streams: imports, caches, first-call costs."""
    contestants = im.contestants(served)
    try:
        for kind in ("text", "tool"):
            served.workload = build(kind, 50)
            for runner in contestants.runners.values():
                await runner()
    finally:
        await contestants.aclose()
        served.workload = None


async def measure_in_memory(report: Report, log: Any) -> None:
    served = im.Served()
    await warm_up(served)
    for kind, sizes in (("text", report.config.text_sizes), ("tool", report.config.tool_sizes)):
        log(f"{kind} workload (in-memory, 16 KiB chunks)")
        await _measure_kind(report, kind, sizes, served, log)


# ---------------------------------------------------------------------------
# Memory and concurrency
# ---------------------------------------------------------------------------


def measure_memory(report: Report, log: Any) -> None:
    config = report.config
    log(f"memory workload ({config.memory_bytes / MB:.0f} MB text stream, fresh process each)")
    for pieces in config.memory_shapes:
        deltas = mem.deltas_for(config.memory_bytes, pieces)
        for method in config.memory_methods:
            implementations = [mem.MEMORY_STREAMSAFE]
            if method == "rss":
                implementations.append(mem.MEMORY_FLOOR)
            for implementation in implementations:
                result = mem.measure_subprocess(implementation, method, deltas, pieces)
                if isinstance(result, str):
                    entry: dict[str, Any] = {
                        "implementation": implementation,
                        "method": method,
                        "error": result,
                    }
                    report.mismatches.append(f"memory {implementation} {method}: {result}")
                else:
                    entry = result
                entry.update(deltas=deltas, pieces=pieces, stream_bytes=config.memory_bytes)
                report.memory.append(entry)
                if "above_baseline" in entry:
                    ratio = entry["above_baseline"] / entry["text_bytes"]
                    log(
                        f"  {pieces * 10:>5} chars/delta  {implementation:<18} {method:<11} "
                        f"{entry['above_baseline'] / MB:7.1f} MB = {ratio:.2f}x text"
                    )
                else:
                    log(f"  {implementation} {method}: {result}")


def measure_loopback(report: Report, log: Any) -> None:
    config = report.config
    for mode in config.loopback_modes:
        log(
            f"concurrency workload ({config.streams:,} streams x {config.stream_events:,} "
            f"events, loopback TCP, {mode!r} server in its own process, each client in a "
            "fresh process)"
        )
        with lb.ServerProcess(config.stream_events, mode) as url:
            for implementation in (lb.LOOPBACK_STREAMSAFE, lb.LOOPBACK_FLOOR, lb.LOOPBACK_SDK):
                runs = 1 if implementation == lb.LOOPBACK_SDK else config.loopback_repeats
                results = [
                    lb.run_measured(
                        implementation,
                        url,
                        config.streams,
                        config.stream_events,
                        config.loopback_timeout,
                    )
                    for _ in range(runs)
                ]
                result = _best_loopback(results)
                report.loopback.append((mode, implementation, result))
                _log_loopback(report, log, mode, implementation, result)


def _best_loopback(results: list[lb.LoopbackResult | str]) -> lb.LoopbackResult | str:
    """The fastest of several runs, unless one of them failed: then that one (never hidden)."""
    for result in results:
        if isinstance(result, str) or result.errors or result.wrong:
            return result
    best = max(results, key=lambda r: r.events_per_second)  # type: ignore[union-attr]
    assert not isinstance(best, str)
    best.runs = len(results)
    return best


def _log_loopback(
    report: Report, log: Any, mode: str, implementation: str, result: lb.LoopbackResult | str
) -> None:
    where = f"concurrency ({mode} server) {implementation}"
    if isinstance(result, str):
        log(f"  {implementation:<38} {result}")
        if implementation != lb.LOOPBACK_SDK or not result.startswith("n/a"):
            report.mismatches.append(f"{where}: {result}")
        return
    log(
        f"  {implementation:<38} {result.seconds:8.2f} s "
        f"{result.events_per_second:10,.0f} events/s "
        f"{result.cpu_per_million:6.2f} CPU s/M events  errors {result.errors}  "
        f"connections {result.connections}"
    )
    if result.errors or result.wrong:
        report.mismatches.append(
            f"{where}: {result.errors} failed and {result.wrong} wrong streams of "
            f"{result.streams} (first error: {result.first_error})"
        )


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if value >= 0.1 else f"{value:.4f}"


def _fmt_ratio(value: float | None, approximate: bool = False) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.0f}x" if value >= 100 else f"{value:.2f}x" if value < 10 else f"{value:.1f}x"
    return f"≈ {text} (vs extrapolation)" if approximate else text


def _speedup(base: Row | None, row: Row) -> tuple[float | None, bool]:
    """``base`` seconds ÷ ``row`` seconds; approximate when ``base`` is extrapolated."""
    if base is None or row.seconds is None:
        return None, False
    if base.seconds is not None:
        return base.seconds / row.seconds, False
    if base.estimate is not None:
        return base.estimate / row.seconds, True
    return None, False


def in_memory_table(report: Report) -> list[str]:
    lines = [
        "| workload | implementation | seconds | events/s | MB/s | vs SDK | vs floor | note |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in report.rows:
        sdk = report.row(row.kind, row.deltas, im.SDK)
        floor = report.row(row.kind, row.deltas, im.FLOOR)
        vs_sdk, approximate = _speedup(sdk, row) if row.implementation != im.SDK else (None, False)
        vs_floor, _ = _speedup(floor, row)
        eps = row.events_per_second
        mbps = row.mb_per_second
        note = row.note
        if row.runs > 1:
            note = (note + "; " if note else "") + f"best of {row.runs}"
        lines.append(
            f"| {row.kind} {row.deltas:,} ({row.nbytes / MB:.1f} MB) | {row.implementation} "
            f"| {_fmt_seconds(row.seconds)} | {'n/a' if eps is None else f'{eps:,.0f}'} "
            f"| {'n/a' if mbps is None else f'{mbps:.1f}'} "
            f"| {'—' if row.implementation == im.SDK else _fmt_ratio(vs_sdk, approximate)} "
            f"| {_fmt_ratio(vs_floor)} | {note} |"
        )
    return lines


def memory_table(report: Report) -> list[str]:
    lines = [
        "| stream | delta size | implementation | method | final text | "
        "peak above baseline | x text |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for entry in report.memory:
        stream = f"{entry['stream_bytes'] / MB:.0f} MB, {entry['deltas']:,} deltas"
        shape = f"≈ {entry['pieces'] * 10:,} chars"
        if "above_baseline" not in entry:
            lines.append(
                f"| {stream} | {shape} | {entry['implementation']} | {entry['method']} "
                f"| n/a | {entry.get('error', 'n/a')} | n/a |"
            )
            continue
        ratio = entry["above_baseline"] / entry["text_bytes"]
        masked = " (peak masked by an earlier one)" if entry.get("peak_masked") else ""
        lines.append(
            f"| {stream} | {shape} | {entry['implementation']} | {entry['method']} "
            f"| {entry['text_bytes'] / MB:.1f} MB | {entry['above_baseline'] / MB:.1f} MB{masked} "
            f"| {ratio:.2f}x |"
        )
    return lines


def _loopback_result(report: Report, mode: str, label: str) -> lb.LoopbackResult | None:
    for entry_mode, name, result in report.loopback:
        if (entry_mode, name) == (mode, label) and not isinstance(result, str):
            return result
    return None


def loopback_table(report: Report) -> list[str]:
    lines = [
        "| server | implementation | client | seconds | events/s | CPU s per M events "
        "| vs SDK (events/s) | vs floor (events/s) | vs floor (CPU) | failed streams "
        "| connections |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, label, result in report.loopback:
        if isinstance(result, str):
            lines.append(
                f"| {mode} | {label} | | {result} | n/a | n/a | n/a | n/a | n/a | n/a | n/a |"
            )
            continue
        sdk = _loopback_result(report, mode, lb.LOOPBACK_SDK)
        floor = _loopback_result(report, mode, lb.LOOPBACK_FLOOR)
        vs_sdk = result.events_per_second / sdk.events_per_second if sdk else None
        vs_floor = result.events_per_second / floor.events_per_second if floor else None
        cpu_vs_floor = floor.cpu_per_million / result.cpu_per_million if floor else None
        lines.append(
            f"| {mode} | {label} | {result.client} "
            f"| {result.seconds:.2f} | {result.events_per_second:,.0f} "
            f"| {result.cpu_per_million:.2f} "
            f"| {'—' if label == lb.LOOPBACK_SDK else _fmt_ratio(vs_sdk)} "
            f"| {'—' if label == lb.LOOPBACK_FLOOR else _fmt_ratio(vs_floor)} "
            f"| {'—' if label == lb.LOOPBACK_FLOOR else _fmt_ratio(cpu_vs_floor)} "
            f"| {result.errors + result.wrong} | {result.connections} |"
        )
    return lines


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "**met**" if ok else "**missed**"


def targets(report: Report) -> list[str]:
    """The five targets of issue 5, each with the measured value."""
    config = report.config
    lines: list[str] = []

    def seconds(kind: str, deltas: int, name: str) -> float | None:
        row = report.row(kind, deltas, name)
        return None if row is None else row.seconds

    big_text = max(config.text_sizes)
    ours, floor = seconds("text", big_text, im.STREAMSAFE), seconds("text", big_text, im.FLOOR)
    sdk_row = report.row("text", big_text, im.SDK)
    if ours and floor:
        vs_floor = floor / ours
        sdk_part = ""
        text_ok = vs_floor >= 2
        if sdk_row is not None and sdk_row.seconds:
            vs_sdk = sdk_row.seconds / ours
            sdk_part = f"; {vs_sdk:,.0f}x the SDK (target ≥ 40x)"
            text_ok = text_ok and vs_sdk >= 40
        lines.append(
            f"1. Text, {big_text:,} deltas: streamsafe is {vs_floor:.2f}x the floor "
            f"(target ≥ 2x){sdk_part}: {_verdict(text_ok)}"
        )

    tool_sizes = config.tool_sizes
    ours_tool = {n: seconds("tool", n, im.STREAMSAFE) for n in tool_sizes}
    parts: list[str] = []
    linear_ok: bool | None = None
    if 10_000 in ours_tool and 40_000 in ours_tool:
        low, high = ours_tool[10_000], ours_tool[40_000]
        if low and high:
            ratio = high / low
            linear_ok = ratio <= 4.5
            parts.append(f"40k/10k time ratio {ratio:.2f} (target ≤ 4.5)")
    elif len(tool_sizes) >= 2:
        low_n, high_n = tool_sizes[0], tool_sizes[-1]
        low, high = ours_tool[low_n], ours_tool[high_n]
        if low and high:
            ratio = high / low
            scale = high_n / low_n
            linear_ok = ratio <= scale * 1.125
            parts.append(
                f"{high_n:,}/{low_n:,} time ratio {ratio:.2f} (linear = {scale:.0f}, "
                f"target ≤ {scale * 1.125:.1f})"
            )
    slower = [
        n
        for n in tool_sizes
        if (f := seconds("tool", n, im.FLOOR)) and (o := ours_tool[n]) and o > f
    ]
    parts.append(
        "never slower than the floor"
        if not slower
        else "slower than the floor at " + ", ".join(f"{n:,}" for n in slower)
    )
    sdk_ok = True
    if 20_000 in tool_sizes:
        sdk20 = report.row("tool", 20_000, im.SDK)
        ours20 = ours_tool[20_000]
        if sdk20 is not None and ours20:
            if sdk20.seconds is not None:
                sdk_ok = sdk20.seconds / ours20 >= 1000
                parts.append(f"20k: {sdk20.seconds / ours20:,.0f}x the SDK (target ≥ 1,000x)")
            elif sdk20.estimate is not None:
                parts.append(
                    f"20k: ≈ {sdk20.estimate / ours20:,.0f}x the SDK's *extrapolated* time "
                    "(target ≥ 1,000x; the SDK was not run at 20k)"
                )
    tool_ok = None if linear_ok is None else linear_ok and not slower and sdk_ok
    lines.append(f"2. Tool input: {'; '.join(parts)}: {_verdict(tool_ok)}")

    rss = [
        e
        for e in report.memory
        if e["implementation"] == mem.MEMORY_STREAMSAFE and "above_baseline" in e
    ]
    if rss:
        described = []
        worst = 0.0
        for entry in rss:
            ratio = entry["above_baseline"] / entry["text_bytes"]
            worst = max(worst, ratio)
            described.append(
                f"{ratio:.2f}x ({entry['method']}, ≈{entry['pieces'] * 10} chars/delta)"
            )
        lines.append(
            f"3. Memory, {config.memory_bytes / MB:.0f} MB stream: peak above baseline = "
            + ", ".join(described)
            + f" the final text (target ≤ 3x): {_verdict(worst <= 3)}"
        )

    for mode in config.loopback_modes:
        ours_lb = _loopback_result(report, mode, lb.LOOPBACK_STREAMSAFE)
        floor_lb = _loopback_result(report, mode, lb.LOOPBACK_FLOOR)
        sdk_lb = _loopback_result(report, mode, lb.LOOPBACK_SDK)
        if not (ours_lb and floor_lb):
            continue
        vs_floor = ours_lb.events_per_second / floor_lb.events_per_second
        cpu_vs_floor = floor_lb.cpu_per_million / ours_lb.cpu_per_million
        text = (
            f"4. Concurrency, {config.streams:,} streams, {mode} server: streamsafe "
            f"{vs_floor:.2f}x the floor's events/s (target ≥ 2.5x; the floor's CPU per "
            f"event ÷ streamsafe's: {cpu_vs_floor:.2f})"
        )
        ok = vs_floor >= 2.5 and not ours_lb.errors and not ours_lb.wrong
        if sdk_lb:
            vs_sdk = ours_lb.events_per_second / sdk_lb.events_per_second
            text += f", {vs_sdk:.1f}x the SDK (target ≥ 5x)"
            ok = ok and vs_sdk >= 5
        lines.append(f"{text}, {ours_lb.errors + ours_lb.wrong} failed streams: {_verdict(ok)}")

    overheads = []
    for deltas in config.text_sizes:
        events, text_stream = (
            seconds("text", deltas, im.STREAMSAFE),
            seconds("text", deltas, im.STREAMSAFE_TEXT),
        )
        if events and text_stream:
            overheads.append((deltas, text_stream / events - 1))
    if overheads:
        worst_overhead = max(o for _, o in overheads)
        shown = ", ".join(f"{o * 100:+.1f}% at {n:,}" for n, o in overheads)
        lines.append(
            f"5. text_stream over iterating events: {shown} (target < 10%): "
            f"{_verdict(worst_overhead < 0.10)}"
        )
    return lines


def _versions() -> str:
    names = ("streamsafe", "anthropic", "httpx", "httpx2", "httpx-sse", "msgspec")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def _source_state() -> str:
    """The git commit the streamsafe sources come from, and whether they are modified."""
    root = HERE.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout
    except OSError:
        return "source state unknown"
    if not commit:
        return "source state unknown"
    changed = len(status.splitlines())
    return f"streamsafe at commit {commit}" + (
        f" plus {changed} uncommitted file(s) under src/" if changed else ""
    )


def describe_run(command: str) -> dict[str, str]:
    """What the report header says about the run (recorded when it is measured)."""
    return {
        "command": command,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": f"Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs",
        "versions": _versions(),
        "source": _source_state(),
    }


def markdown(report: Report, chart_name: str) -> str:
    config = report.config
    meta = report.meta

    out = [
        f"# streamsafe benchmark ({config.name} run)",
        "",
        f"`{meta.get('command', '?')}` — {meta.get('time', '?')}; "
        f"{meta.get('platform', '?')}; {meta.get('versions', '?')}; {meta.get('source', '?')}.",
        "",
        "## Targets (issue 5)",
        "",
        *targets(report),
        "",
        "## Text and tool input (in memory, 16 KiB chunks)",
        "",
        "Same bytes for every implementation, served by an in-memory mock transport "
        "(httpx's for streamsafe and httpx-sse, httpx2's for the SDK): parsing, decoding "
        "and accumulation only. *seconds* is the CPU time of the benchmark process "
        "(`time.process_time()`; the runs are single-threaded and never wait, so on an "
        "idle machine it equals wall time, and it is far less disturbed by other jobs), "
        "best of the runs noted. *vs SDK* and *vs floor* are the SDK's (or the floor's) "
        "time divided by this row's time: above 1 means faster. The floor is httpx-sse "
        "`aiter_sse` + `json.loads` per event. streamsafe iterates the typed events (or "
        "`text_stream`) then calls `get_final_message()`; the SDK runs "
        "`messages.stream(...)` + `get_final_message()`. The SDK gets at most "
        f"{config.sdk_budget:.0f} s (wall) per run; sizes past that are n/a, and any "
        "number marked *extrapolated* was not measured.",
        "",
        *in_memory_table(report),
        "",
        f"![time vs number of deltas]({chart_name})",
        "",
    ]
    if report.memory:
        out += [
            f"## Memory ({config.memory_bytes / MB:.0f} MB text stream)",
            "",
            "Each line is a fresh process streaming a lazily generated body (the process "
            "never holds the stream itself). *rss*: the kernel's peak resident set "
            "(`VmHWM`, the counter behind `ru_maxrss`, reset just before the run) minus "
            "the resident set just before it (after a warm-up and `gc.collect()`); "
            "*tracemalloc*: peak of Python allocations during the run. The final message "
            "is alive when the peak is read. *x text* is the peak over the UTF-8 size of "
            "the final text. The floor here keeps the text fragments in a list and joins "
            "them once.",
            "",
            *memory_table(report),
            "",
        ]
    if report.loopback:
        out += [
            f"## Concurrency ({config.streams:,} concurrent streams, loopback TCP)",
            "",
            "One asyncio event loop, all streams started at once with `asyncio.gather`, "
            "each accumulating its final message (the floor joins its text fragments). "
            "The server is a minimal HTTP/1.1 server in its own process serving a "
            "pre-built chunked response: *bulk* writes it at once in 16 KiB chunks (the "
            "client reads up to 64 KiB at a time: parsing throughput), *chunked* writes "
            "it at once with every event its own HTTP chunk, as the API frames them (a "
            "busy client finds hundreds of chunks per read: the HTTP layer's cost per "
            "chunk shows), *event* writes each "
            "event as its own chunk and yields after each (an upstream flushing every "
            "event: the client reads a few events at a time, per-read costs show, and "
            "the server, sharing this machine, may bound events/s; compare CPU per "
            "event there). Each client runs in a fresh process; streamsafe and the floor "
            f"run {config.loopback_repeats} times each and the fastest run is shown (a "
            "failed run would be shown instead), the SDK once; *CPU s per M events* is "
            "that process's `time.process_time()` over the run; "
            "*connections* is how many TCP connections the server accepted (including "
            "those of two warm-up streams, run on a separate client). Every stream's "
            "final text is checked. Every client gets 1,000 connections and a 5 s "
            "connect timeout (the SDK's and streamsafe's defaults; the plain httpx "
            "client is given the same).",
            "",
            *loopback_table(report),
            "",
        ]
    out += ["## Correctness", ""]
    if report.mismatches:
        out += [f"- **MISMATCH** {m}" for m in report.mismatches]
    else:
        generated = [c.split(":", 1)[1] for c in report.checks if c.startswith("generated:")]
        sdk = [c.split(":", 1)[1] for c in report.checks if c.startswith("sdk:")]
        out += [
            "All checks passed.",
            "",
            "- streamsafe's final message (events and `text_stream`) equals the SDK's on "
            + (", ".join(sdk) or "no workload")
            + ": content, stop_reason, stop_sequence and usage of the SDK's "
            "`model_dump(mode='json')`, ignoring the `None` fields its models add for keys "
            "the stream never sent;",
            "- its text / tool input equals what the generator put on the wire on "
            + (", ".join(generated) or "no workload")
            + ";",
            "- httpx-sse saw every event; every concurrent stream's final text is right.",
        ]
    out.append("")
    return "\n".join(out)


def chart(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    styles = {
        im.STREAMSAFE: ("tab:blue", "o", "-"),
        im.STREAMSAFE_TEXT: ("tab:cyan", "s", "--"),
        im.SDK: ("tab:red", "^", "-"),
        im.HTTPX_SSE: ("tab:gray", "v", ":"),
        im.FLOOR: ("black", "D", "-"),
    }
    figure, axes = plt.subplots(1, 2, figsize=(12, 5))
    titles = {"text": "text_delta events", "tool": "input_json_delta events (one tool_use)"}
    for axis, kind in zip(axes, ("text", "tool"), strict=True):
        for name in IMPLEMENTATIONS:
            if kind == "tool" and name == im.STREAMSAFE_TEXT:
                continue
            color, marker, line = styles[name]
            rows = [r for r in report.rows if r.kind == kind and r.implementation == name]
            measured = [(r.deltas, r.seconds) for r in rows if r.seconds is not None]
            if measured:
                xs, ys = zip(*measured, strict=True)
                axis.plot(xs, ys, color=color, marker=marker, linestyle=line, label=name)
            estimated = [(r.deltas, r.estimate) for r in rows if r.estimate is not None]
            if estimated and measured:
                xs, ys = zip(*[measured[-1], *estimated], strict=True)
                axis.plot(
                    xs,
                    ys,
                    color=color,
                    marker=marker,
                    markerfacecolor="none",
                    linestyle=(0, (2, 3)),
                    label=f"{name} (extrapolated, not measured)",
                )
        axis.set_xscale("log")
        axis.set_yscale("log")
        sizes = sorted({r.deltas for r in report.rows if r.kind == kind})
        axis.set_xticks(sizes)
        axis.set_xticklabels([f"{n / 1000:g}k" for n in sizes])
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel("number of deltas")
        axis.set_ylabel("CPU seconds (best of runs)")
        axis.set_title(titles[kind])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("Stream → final message, in memory (16 KiB chunks): lower is better")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def raw_json(report: Report) -> dict[str, Any]:
    return {
        "config": asdict(report.config),
        "rows": [asdict(row) for row in report.rows],
        "memory": report.memory,
        "loopback": [
            {"mode": mode, "implementation": label, "error": r}
            if isinstance(r, str)
            else {"mode": mode, **asdict(r)}
            for mode, label, r in report.loopback
        ],
        "mismatches": report.mismatches,
        "checks": report.checks,
        "meta": report.meta,
    }


def report_from_json(data: dict[str, Any]) -> Report:
    """Rebuild a report from :func:`raw_json` output (to re-render without measuring)."""
    config: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in data["config"].items()
    }
    config.setdefault("loopback_modes", (lb.BULK,))
    config.setdefault("loopback_repeats", 1)
    report = Report(Config(**config))
    report.rows = [Row(**row) for row in data["rows"]]
    report.memory = data["memory"]
    for entry in data["loopback"]:
        entry = dict(entry)
        mode = entry.pop("mode")
        if "error" in entry:
            report.loopback.append((mode, entry["implementation"], entry["error"]))
        else:
            result = lb.LoopbackResult(**entry)
            report.loopback.append((mode, result.implementation, result))
    report.mismatches = data["mismatches"]
    report.meta = data.get("meta", {})
    report.checks = data.get("checks") or _derived_checks(report)
    return report


def _derived_checks(report: Report) -> list[str]:
    """The checks a run without mismatches made (for files written before they were kept)."""
    checks = []
    for row in report.rows:
        if row.implementation == im.STREAMSAFE:
            checks.append(f"generated:{row.kind} {row.deltas:,}")
        elif row.implementation == im.SDK and row.seconds is not None:
            checks.append(f"sdk:{row.kind} {row.deltas:,}")
    return checks


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (several minutes: about five on 2 cores)"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (with --quick: CI)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="output directory")
    parser.add_argument("--sdk-budget", type=float, help="seconds allowed for one SDK run")
    parser.add_argument("--streams", type=int, help="concurrent streams (concurrency workload)")
    parser.add_argument(
        "--skip", action="append", default=[], choices=("memory", "concurrency", "chart")
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        help="re-render the report and chart from a latest.json, measuring nothing",
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
