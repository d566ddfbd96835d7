"""The benchmark targets table and its evaluator, on hand-built numbers (nothing is measured)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def targets(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("targets")


def test_a_met_and_a_missed_target(targets: ModuleType) -> None:
    met, missed = targets.evaluate({"text-vs-floor": 2.59, "memory-peak": 3.4})
    assert (met.target.name, met.met) == ("text-vs-floor", True)
    assert (missed.target.name, missed.met) == ("memory-peak", False)
    assert targets.verdict(targets.overall([met])) == "**met**"
    assert targets.verdict(targets.overall([met, missed])) == "**missed**"
    assert targets.describe(met) == (
        "text-vs-floor (issue 5): floor time ÷ streamsafe time = 2.59x (target ≥ 2x): **met**"
    )
    assert targets.describe(missed).endswith("= 3.40x (target ≤ 3x): **missed**")


def test_thresholds_are_inclusive_or_strict_as_the_table_says(targets: ModuleType) -> None:
    by_name = targets.BY_NAME
    assert by_name["tool-linear"].met(4.5) is True  # ≤ 4.5
    assert by_name["tool-linear"].met(4.51) is False
    assert by_name["text-stream-overhead"].met(0.0999) is True  # < 10%
    assert by_name["text-stream-overhead"].met(0.10) is False
    assert by_name["concurrency-failed"].met(0) is True
    assert by_name["concurrency-failed"].met(1) is False


def test_not_measured(targets: ModuleType) -> None:
    # An optional target (the SDK was skipped) is left out of the verdict ...
    results = targets.evaluate({"text-vs-floor": 2.5, "text-vs-sdk": None})
    assert targets.verdict(targets.overall(results)) == "**met**"
    # ... a required one makes it n/a, and an optional miss still counts.
    assert targets.overall(targets.evaluate({"tool-linear": None, "tool-vs-floor": 1.5})) is None
    assert targets.overall(targets.evaluate({"text-vs-floor": 2.5, "text-vs-sdk": 39})) is False
    assert targets.describe(results[1]).endswith("= not measured (target ≥ 40x): n/a")


def test_a_scaled_threshold_overrides_the_table(targets: ModuleType) -> None:
    linear = targets.BY_NAME["tool-linear"].scaled(16 / 4)  # 16x the deltas instead of 4x
    assert linear.threshold == 18
    assert targets.overall(targets.evaluate({"tool-linear": 17.0}, [linear])) is True
    assert targets.overall(targets.evaluate({"tool-linear": 17.0})) is False


def test_the_table(targets: ModuleType) -> None:
    names = {target.name for target in targets.TARGETS}
    assert {t.item for t in targets.of_issue(5)} == {1, 2, 3, 4, 5}
    assert {"batch-rows-vs-sdk", "batch-line-linear", "observe-otel-overhead"} <= names
    shown = {t.name: t.shown() for t in targets.TARGETS}
    assert shown["tool-vs-sdk"] == "≥ 1,000x"
    assert shown["tool-linear"] == "≤ 4.5"
    assert shown["text-stream-overhead"] == "< 10%"
    assert shown["batch-memory"] == "≤ 1 MB"
    with pytest.raises(KeyError):
        targets.evaluate({"no-such-target": 1.0})
    assert targets.markdown_table().count("\n") == len(targets.TARGETS) + 1


def test_the_report_judges_with_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 5's lines in the report: a met and a missed case from hand-built rows."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    measure = importlib.import_module("measure")
    report = importlib.import_module("report")
    im = measure.im
    config = measure.Config(
        name="unit",
        text_sizes=(100_000,),
        tool_sizes=(10_000, 40_000),
        repeats=1,
        min_seconds=0.0,
        max_repeats=1,
        sdk_budget=1.0,
        memory_bytes=50 * measure.MB,
        memory_methods=("rss",),
        memory_shapes=(1,),
        streams=1000,
        stream_events=2000,
        loopback_timeout=1.0,
        loopback_modes=(),
        loopback_repeats=1,
    )

    def lines(ours_text: float, ours_tool_40k: float) -> list[str]:
        built = measure.Report(config)
        seconds = {
            ("text", 100_000): {im.STREAMSAFE: ours_text, im.STREAMSAFE_TEXT: 0.12, im.FLOOR: 0.3},
            ("tool", 10_000): {im.STREAMSAFE: 0.025, im.FLOOR: 0.04},
            ("tool", 40_000): {im.STREAMSAFE: ours_tool_40k, im.FLOOR: 0.14},
        }
        for (kind, deltas), by_name in seconds.items():
            for name, value in by_name.items():
                built.rows.append(measure.Row(kind, deltas, name, deltas, deltas, value))
        return report.targets_section(built)

    met = lines(0.1, 0.09)
    assert met[0] == (
        "1. Text, 100,000 deltas: streamsafe is 3.00x the floor (target ≥ 2x): **met**"
    )
    assert met[1] == (
        "2. Tool input: 40k/10k time ratio 3.60 (target ≤ 4.5); never slower than the floor: "
        "**met**"
    )
    assert met[2].endswith("+20.0% at 100,000 (target < 10%): **missed**")
    missed = lines(0.2, 0.15)
    assert missed[0].endswith("1.50x the floor (target ≥ 2x): **missed**")
    assert missed[1] == (
        "2. Tool input: 40k/10k time ratio 6.00 (target ≤ 4.5); slower than the floor at "
        "40,000: **missed**"
    )
