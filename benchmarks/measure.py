"""Measurement: run the workloads and collect the numbers into a :class:`Report`.

The contestants live next to this module: ``bench_inmemory`` (text and tool
input through in-memory mock transports), ``bench_memory`` (peak memory, one
fresh process per line) and ``bench_loopback`` (concurrent streams over
loopback TCP, server and clients in processes of their own). This module
times them (CPU and wall time, best of rounds interleaved across
implementations), keeps the SDK under its time budget (extrapolating past it,
labelled as such), checks every result against the generator and the SDK, and
records mismatches. It renders nothing: see ``report``.
"""

from __future__ import annotations

import gc
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import bench_inmemory as im
import bench_loopback as lb
import bench_memory as mem
from bench_workloads import Workload, build, text_deltas, tool_input

MB = 1_000_000


@dataclass(frozen=True)
class Config:
    """The sizes, repeats and budgets of one run (``run.FULL``, ``QUICK``, ``SMOKE``)."""

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


IMPLEMENTATIONS = (im.STREAMSAFE, im.STREAMSAFE_TEXT, im.SDK, im.HTTPX_SSE, im.FLOOR)


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
    """Everything one run measured (or one ``latest.json`` holds)."""

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

    def loopback_result(self, mode: str, label: str) -> lb.LoopbackResult | None:
        """The result of ``label`` against the ``mode`` server, if it has one (not a failure)."""
        for entry_mode, name, result in self.loopback:
            if (entry_mode, name) == (mode, label) and not isinstance(result, str):
                return result
        return None


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


def reference_check(workload: Workload, implementation: str, result: Any) -> str | None:
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
            problem = reference_check(workload, name, results[name])
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
