"""Smoke run of ``benchmarks/run.py`` at a tiny size.

Only two things are checked: the benchmark runs, and streamsafe's final message
equals the official SDK's on the same bytes. Speed is never asserted (machines
are noisy). Needs the ``bench`` extra (anthropic, matplotlib); skipped without it.
"""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("anthropic")
pytest.importorskip("matplotlib")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The benchmark's measuring module (its helpers sit next to it)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("measure")


@pytest.mark.parametrize(("kind", "deltas"), [("text", 300), ("tool", 200)])
def test_streamsafe_final_message_equals_sdk(bench: ModuleType, kind: str, deltas: int) -> None:
    im = bench.im
    workload = bench.build(kind, deltas)

    async def consume() -> dict[str, Any]:
        served = im.Served(workload=workload)
        contestants = im.contestants(served)
        try:
            return {name: await run() for name, run in contestants.runners.items()}
        finally:
            await contestants.aclose()

    results = asyncio.run(consume())
    sdk = results[im.SDK]
    for name in (im.STREAMSAFE, im.STREAMSAFE_TEXT):
        assert im.message_differences(results[name], sdk) == []
        assert bench.reference_check(workload, name, results[name]) is None
    assert results[im.FLOOR] == workload.events


@pytest.mark.slow
def test_benchmark_smoke_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = (tmp_path / "latest.md").read_text(encoding="utf-8")
    assert "All checks passed" in report
    assert (tmp_path / "scaling.png").stat().st_size > 0
    assert (tmp_path / "latest.json").exists()


def test_batch_results_benchmark_agrees_with_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench_batches at a tiny size: every contestant returns the same rows (speed not asserted)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("bench_batches")
    numbers = bench.main(["--rows", "60", "--repeat", "1", "--memory-mb", "1"])
    assert set(numbers) == {"rows", "line", "memory"}
    assert numbers["memory"]["peak_mb"] < 5


@pytest.mark.slow
def test_compare_runs_both_sides_and_reports_every_workload() -> None:
    """benchmarks/compare.py at tiny sizes, this checkout against itself (speed not asserted)."""
    here = str(BENCHMARKS.parent)
    options = ["--smoke", "--rounds", "1", "--repeat", "1", "--only", "text-sync,concurrency"]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "compare.py"), here, here, *options],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0] for row in rows] == ["| text-sync", "| concurrency"]
    for row in rows:
        before, after = row.split(" | ")[1:3]
        assert before.endswith(" s"), row
        assert after.endswith(" s"), row
