"""``streamsafe batch``: submit, wait, results and resubmit against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamsafe.cli import main
from streamsafe.testing import Emulator

PARAMS = {
    "model": "claude-emulated",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_submit_wait_results_resubmit(
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    requests = tmp_path / "requests.jsonl"
    items = [{"custom_id": f"q-{i}", "params": PARAMS} for i in range(5)]
    items += [{"custom_id": "errored-overloaded_error-1", "params": PARAMS}]
    requests.write_text("\n".join(json.dumps(item) for item in items) + "\n\n")
    base = ["--base-url", emu.url]

    assert main(["batch", "submit", str(requests), *base]) == 0
    batch_id = capsys.readouterr().out.strip()
    assert batch_id.startswith("msgbatch_")

    assert main(["batch", "wait", batch_id, "--poll", "0.02", *base]) == 0
    captured = capsys.readouterr()
    assert f"{batch_id} ended: 5 succeeded, 1 errored, 0 canceled, 0 expired" in captured.out
    assert f"{batch_id}: ended, 6/6 done" in captured.err

    output = tmp_path / "results.jsonl"
    assert main(["batch", "results", batch_id, "-o", str(output), *base]) == 0
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(row["custom_id"] for row in rows) == sorted(item["custom_id"] for item in items)
    errored = next(row for row in rows if row["result"]["type"] == "errored")
    assert errored["result"]["error"]["error"]["type"] == "overloaded_error"
    assert not (tmp_path / "results.jsonl.part").exists()

    assert main(["batch", "resubmit", batch_id, "--requests", str(requests), *base]) == 0
    assert capsys.readouterr().out.strip().startswith("msgbatch_")


def test_a_bad_file_is_refused_before_sending(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = tmp_path / "bad.jsonl"
    requests.write_text(json.dumps({"custom_id": "a b", "params": PARAMS}) + "\n")
    emu.clear()
    assert main(["batch", "submit", str(requests), "--base-url", emu.url]) == 5
    assert "BatchRequestError: requests[0]: custom_id 'a b'" in capsys.readouterr().err
    assert emu.requests == []
    assert main(["batch", "wait", "msgbatch_nope", "--base-url", emu.url]) == 5
    assert "NotFoundError" in capsys.readouterr().err
