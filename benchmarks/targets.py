"""The performance targets as data: one table, one evaluator.

Each :class:`Target` names the issue (and the numbered item in it) it comes
from, the workload it is measured on, the quantity compared, the comparison
and the threshold. Benchmarks measure numbers and key them by target name;
:func:`evaluate` compares them with the table and :func:`verdict` renders
"**met**", "**missed**" or "n/a". No threshold lives anywhere else.

``python benchmarks/targets.py`` prints the table as markdown.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "≥": operator.ge,
    "≤": operator.le,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Target:
    """One named target: ``value <comparison> threshold``, the value measured on ``workload``."""

    name: str
    issue: int
    #: The numbered item of the issue's target list (0: the issue does not number them).
    item: int
    workload: str
    #: What the value is, in words.
    quantity: str
    comparison: str
    threshold: float
    #: How the threshold and values are shown: "x" (a ratio), "%" (a fraction shown
    #: in percent), another unit ("MB"), or "" (a plain number).
    unit: str = "x"
    #: Not measured is not a failure (the SDK is optional, or skipped over its time
    #: budget): the target is then left out of the overall verdict instead of making it n/a.
    optional: bool = False
    note: str = ""

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the target; None when it was not measured."""
        if value is None:
            return None
        return COMPARISONS[self.comparison](value, self.threshold)

    def shown(self) -> str:
        """The comparison and threshold as the reports print them: ``≥ 1,000x``, ``< 10%``."""
        return f"{self.comparison} {format_number(self.threshold, self.unit)}"

    def scaled(self, factor: float) -> Target:
        """The same target with its threshold multiplied (a ratio target on other sizes)."""
        return replace(self, threshold=self.threshold * factor)


def format_number(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:g}%"
    if unit == "x":
        return f"{value:,g}x"
    return f"{value:,g} {unit}" if unit else f"{value:,g}"


def format_value(value: float, unit: str) -> str:
    """A measured value, rounded for reading."""
    if unit == "%":
        return f"{value * 100:+.1f}%"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if unit == "x":
        return f"{text}x"
    return f"{text} {unit}" if unit else text


TEXT_100K = "text: 100k text_delta events, in memory, 16 KiB chunks (bench_inmemory)"
TOOL = "tool input: one tool_use block in N input_json_delta events, in memory (bench_inmemory)"
MEMORY_50MB = "memory: a 50 MB text stream, fresh process (bench_memory)"
LOOPBACK = "concurrency: 1,000 streams x 2,000 events over loopback TCP (bench_loopback)"
BATCH_ROWS = "batch results: 10,000 rows of about 4 KB, in memory (bench_batches)"
BATCH_LINE = "batch results: one result line of 1 MB and of 4 MB (bench_batches)"
BATCH_MEMORY = "batch results: a 200 MB results body (bench_batches --full)"
OBSERVE = "observability: 100k text deltas in memory, three observers (bench_observe)"

TARGETS: tuple[Target, ...] = (
    # Issue 5: performance.
    Target("text-vs-floor", 5, 1, TEXT_100K, "floor time ÷ streamsafe time", "≥", 2),
    Target("text-vs-sdk", 5, 1, TEXT_100K, "SDK time ÷ streamsafe time", "≥", 40, optional=True),
    Target(
        "tool-linear",
        5,
        2,
        TOOL,
        "streamsafe time at 40k deltas ÷ time at 10k",
        "≤",
        4.5,
        unit="",
        note="on other sizes: scaled with their ratio (4.5 per 4x the deltas)",
    ),
    Target(
        "tool-vs-floor",
        5,
        2,
        TOOL,
        "floor time ÷ streamsafe time, the lowest over all sizes",
        "≥",
        1,
        note="never slower than the floor",
    ),
    Target(
        "tool-vs-sdk",
        5,
        2,
        TOOL,
        "SDK time ÷ streamsafe time at 20k deltas",
        "≥",
        1000,
        optional=True,
    ),
    Target(
        "memory-peak",
        5,
        3,
        MEMORY_50MB,
        "peak above baseline ÷ final text size, the highest over delta sizes and methods",
        "≤",
        3,
    ),
    Target(
        "concurrency-vs-floor",
        5,
        4,
        LOOPBACK,
        "streamsafe events/s ÷ the floor's (httpx-sse + json, one httpx client)",
        "≥",
        2.5,
        note="each server mode on its own",
    ),
    Target(
        "concurrency-failed",
        5,
        4,
        LOOPBACK,
        "failed or wrong streamsafe streams",
        "≤",
        0,
        unit="",
    ),
    Target(
        "concurrency-vs-sdk",
        5,
        4,
        LOOPBACK,
        "streamsafe events/s ÷ the SDK's",
        "≥",
        5,
        optional=True,
    ),
    Target(
        "text-stream-overhead",
        5,
        5,
        "text: N text_delta events, in memory (bench_inmemory), every size",
        "text_stream time ÷ events time - 1, the highest over sizes",
        "<",
        0.10,
        unit="%",
    ),
    # Issue 12: Message Batches.
    Target("batch-rows-vs-sdk", 12, 0, BATCH_ROWS, "SDK time ÷ streamsafe time", "≥", 5),
    Target(
        "batch-rows-vs-floor",
        12,
        0,
        BATCH_ROWS,
        "streamsafe time ÷ floor time (split + json.loads)",
        "≤",
        1.5,
    ),
    Target(
        "batch-line-linear",
        12,
        0,
        BATCH_LINE,
        "streamsafe time on 4 MB ÷ time on 1 MB",
        "≤",
        2.5,
    ),
    Target(
        "batch-line-vs-sdk",
        12,
        0,
        BATCH_LINE,
        "SDK time ÷ streamsafe time on the 4 MB line",
        "≥",
        100,
        optional=True,
        note="the SDK reads the 4 MB line with --full only",
    ),
    Target(
        "batch-memory",
        12,
        0,
        BATCH_MEMORY,
        "peak traced memory minus the largest line",
        "≤",
        1,
        unit="MB",
        note="the issue asks for the largest line plus a constant; the 1 MB constant is ours",
    ),
    # Issue 13: observability.
    Target(
        "observe-otel-overhead",
        13,
        0,
        OBSERVE,
        "median CPU time with the OTel observer (to memory) ÷ with no observer - 1",
        "≤",
        0.10,
        unit="%",
        optional=True,
        note="needs the otel extra; 'no observer within noise of today' has no number",
    ),
)

BY_NAME: dict[str, Target] = {target.name: target for target in TARGETS}
assert len(BY_NAME) == len(TARGETS), "target names must be unique"


def of_issue(issue: int) -> tuple[Target, ...]:
    return tuple(target for target in TARGETS if target.issue == issue)


@dataclass(frozen=True)
class Result:
    """One target with its measured value (None: not measured) and whether it is met."""

    target: Target
    value: float | None

    @property
    def met(self) -> bool | None:
        return self.target.met(self.value)


def evaluate(
    values: Mapping[str, float | None], targets: Iterable[Target] | None = None
) -> list[Result]:
    """A result for each target named in ``values`` (or for each of ``targets``).

    ``targets`` entries override the table's (a scaled threshold, for instance);
    a name in ``values`` that is not in the table is an error.
    """
    chosen = {target.name: target for target in targets} if targets is not None else {}
    for name in values:
        if name not in chosen:
            chosen[name] = BY_NAME[name]
    return [Result(target, values.get(name)) for name, target in chosen.items()]


def overall(results: Iterable[Result]) -> bool | None:
    """All measured targets met; None if a required target was not measured."""
    verdicts = []
    for result in results:
        if result.met is None:
            if not result.target.optional:
                return None
            continue
        verdicts.append(result.met)
    return all(verdicts) if verdicts else None


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "**met**" if ok else "**missed**"


def describe(result: Result) -> str:
    """One line: the target, the measured value, the threshold and the verdict."""
    target = result.target
    value = "not measured" if result.value is None else format_value(result.value, target.unit)
    return (
        f"{target.name} (issue {target.issue}): {target.quantity} = {value} "
        f"(target {target.shown()}): {verdict(result.met)}"
    )


def markdown_table(targets: Iterable[Target] = TARGETS) -> str:
    lines = [
        "| target | issue | workload | quantity | target | note |",
        "|---|---|---|---|---|---|",
    ]
    for target in targets:
        issue = f"{target.issue}" + (f", item {target.item}" if target.item else "")
        optional = "optional (skipped when not measured)" if target.optional else ""
        note = "; ".join(part for part in (target.note, optional) if part)
        lines.append(
            f"| `{target.name}` | {issue} | {target.workload} | {target.quantity} "
            f"| {target.shown()} | {note} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
