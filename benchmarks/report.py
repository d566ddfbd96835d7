"""Reporting: the markdown report, the chart and the raw JSON of a :class:`measure.Report`.

Renders what ``measure`` collected: the header (command, time, platform,
versions, source state), the issue-5 targets with their measured values (the
thresholds and verdicts come from ``targets``), the in-memory, memory and
concurrency tables, the correctness section, the log-log chart, and
``latest.json`` both ways (:func:`raw_json`, :func:`report_from_json`), so a
report can be re-rendered without measuring.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import bench_inmemory as im
import bench_loopback as lb
import bench_memory as mem
import targets as T
from measure import IMPLEMENTATIONS, MB, Config, Report, Row

HERE = Path(__file__).resolve().parent


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
        sdk = report.loopback_result(mode, lb.LOOPBACK_SDK)
        floor = report.loopback_result(mode, lb.LOOPBACK_FLOOR)
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


def _shown(name: str) -> str:
    return T.BY_NAME[name].shown()


def _judge(values: dict[str, float | None], *targets: T.Target) -> str:
    return T.verdict(T.overall(T.evaluate(values, targets or None)))


def targets_section(report: Report) -> list[str]:
    """The five targets of issue 5, each with the measured value; thresholds from ``targets``."""
    config = report.config
    lines: list[str] = []

    def seconds(kind: str, deltas: int, name: str) -> float | None:
        row = report.row(kind, deltas, name)
        return None if row is None else row.seconds

    big_text = max(config.text_sizes)
    ours, floor = seconds("text", big_text, im.STREAMSAFE), seconds("text", big_text, im.FLOOR)
    sdk_row = report.row("text", big_text, im.SDK)
    if ours and floor:
        values: dict[str, float | None] = {"text-vs-floor": floor / ours, "text-vs-sdk": None}
        sdk_part = ""
        if sdk_row is not None and sdk_row.seconds:
            values["text-vs-sdk"] = vs_sdk = sdk_row.seconds / ours
            sdk_part = f"; {vs_sdk:,.0f}x the SDK (target {_shown('text-vs-sdk')})"
        lines.append(
            f"1. Text, {big_text:,} deltas: streamsafe is {floor / ours:.2f}x the floor "
            f"(target {_shown('text-vs-floor')}){sdk_part}: {_judge(values)}"
        )

    tool_sizes = config.tool_sizes
    ours_tool = {n: seconds("tool", n, im.STREAMSAFE) for n in tool_sizes}
    parts: list[str] = []
    linear = T.BY_NAME["tool-linear"]
    values = {"tool-linear": None, "tool-vs-floor": None, "tool-vs-sdk": None}
    if 10_000 in ours_tool and 40_000 in ours_tool:
        low, high = ours_tool[10_000], ours_tool[40_000]
        if low and high:
            values["tool-linear"] = high / low
            parts.append(f"40k/10k time ratio {high / low:.2f} (target {linear.shown()})")
    elif len(tool_sizes) >= 2:
        low_n, high_n = tool_sizes[0], tool_sizes[-1]
        low, high = ours_tool[low_n], ours_tool[high_n]
        if low and high:
            scale = high_n / low_n
            linear = linear.scaled(scale / 4)  # the threshold is per 4x the deltas
            values["tool-linear"] = high / low
            parts.append(
                f"{high_n:,}/{low_n:,} time ratio {high / low:.2f} (linear = {scale:.0f}, "
                f"target {linear.comparison} {linear.threshold:.1f})"
            )
    vs_floor = {
        n: f / o for n in tool_sizes if (f := seconds("tool", n, im.FLOOR)) and (o := ours_tool[n])
    }
    if vs_floor:
        values["tool-vs-floor"] = min(vs_floor.values())
    never_slower = T.BY_NAME["tool-vs-floor"]
    slower = [n for n, ratio in vs_floor.items() if not never_slower.met(ratio)]
    parts.append(
        "never slower than the floor"
        if not slower
        else "slower than the floor at " + ", ".join(f"{n:,}" for n in slower)
    )
    if 20_000 in tool_sizes:
        sdk20 = report.row("tool", 20_000, im.SDK)
        ours20 = ours_tool[20_000]
        if sdk20 is not None and ours20:
            if sdk20.seconds is not None:
                values["tool-vs-sdk"] = sdk20.seconds / ours20
                parts.append(
                    f"20k: {sdk20.seconds / ours20:,.0f}x the SDK (target {_shown('tool-vs-sdk')})"
                )
            elif sdk20.estimate is not None:
                parts.append(
                    f"20k: ≈ {sdk20.estimate / ours20:,.0f}x the SDK's *extrapolated* time "
                    f"(target {_shown('tool-vs-sdk')}; the SDK was not run at 20k)"
                )
    lines.append(f"2. Tool input: {'; '.join(parts)}: {_judge(values, linear)}")

    peaks = [
        e
        for e in report.memory
        if e["implementation"] == mem.MEMORY_STREAMSAFE and "above_baseline" in e
    ]
    if peaks:
        ratios = [entry["above_baseline"] / entry["text_bytes"] for entry in peaks]
        described = [
            f"{ratio:.2f}x ({entry['method']}, ≈{entry['pieces'] * 10} chars/delta)"
            for entry, ratio in zip(peaks, ratios, strict=True)
        ]
        lines.append(
            f"3. Memory, {config.memory_bytes / MB:.0f} MB stream: peak above baseline = "
            + ", ".join(described)
            + f" the final text (target {_shown('memory-peak')}): "
            + _judge({"memory-peak": max(ratios)})
        )

    for mode in config.loopback_modes:
        ours_lb = report.loopback_result(mode, lb.LOOPBACK_STREAMSAFE)
        floor_lb = report.loopback_result(mode, lb.LOOPBACK_FLOOR)
        sdk_lb = report.loopback_result(mode, lb.LOOPBACK_SDK)
        if not (ours_lb and floor_lb):
            continue
        failed = ours_lb.errors + ours_lb.wrong
        values = {
            "concurrency-vs-floor": ours_lb.events_per_second / floor_lb.events_per_second,
            "concurrency-failed": failed,
            "concurrency-vs-sdk": None,
        }
        cpu_vs_floor = floor_lb.cpu_per_million / ours_lb.cpu_per_million
        text = (
            f"4. Concurrency, {config.streams:,} streams, {mode} server: streamsafe "
            f"{values['concurrency-vs-floor']:.2f}x the floor's events/s (target "
            f"{_shown('concurrency-vs-floor')}; the floor's CPU per event ÷ streamsafe's: "
            f"{cpu_vs_floor:.2f})"
        )
        if sdk_lb:
            values["concurrency-vs-sdk"] = vs_sdk = (
                ours_lb.events_per_second / sdk_lb.events_per_second
            )
            text += f", {vs_sdk:.1f}x the SDK (target {_shown('concurrency-vs-sdk')})"
        lines.append(f"{text}, {failed} failed streams: {_judge(values)}")

    overheads = []
    for deltas in config.text_sizes:
        events, text_stream = (
            seconds("text", deltas, im.STREAMSAFE),
            seconds("text", deltas, im.STREAMSAFE_TEXT),
        )
        if events and text_stream:
            overheads.append((deltas, text_stream / events - 1))
    if overheads:
        shown = ", ".join(f"{o * 100:+.1f}% at {n:,}" for n, o in overheads)
        lines.append(
            f"5. text_stream over iterating events: {shown} "
            f"(target {_shown('text-stream-overhead')}): "
            + _judge({"text-stream-overhead": max(o for _, o in overheads)})
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
        *targets_section(report),
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
