"""Every example in examples/ runs against the emulator (no API key) and says what it shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 60.0

#: example file -> patterns its output must contain (one meaningful line each at least).
EXPECTED: dict[str, list[str]] = {
    "async_events.py": [
        r"^message_start\s+id=msg_",
        r"^content_block_delta\s+#0 '",
        r"^message_delta\s+stop_reason=end_turn",
        r"^message_stop$",
    ],
    "batches.py": [
        r"^  ended: 4/4 done, \d+ polls$",
        r"^question-0: '\S",
        r"^errored-overloaded_error-1: OverloadedError retryable=True$",
        r"^batch msgbatch_\w+ ended after 0 resumed downloads$",
        r"^resubmitted 1 item\(s\) as msgbatch_\w+$",
    ],
    "final_message.py": [r"^stop reason: end_turn$", r"^request id:\s+req_", r"^text:\s+\S"],
    "text_stream.py": [r"^\[\d+ tokens, stop_reason=end_turn\]$"],
    "long_request.py": [r"^received [\d,]+ characters in ", r"^usage: \d+ input, \d+ output"],
    "error_handling.py": [
        r"^OverloadedError in the stream: status_code=529, request_id=req_\w+ "
        r"retryable=True \(\d+ characters kept\)",
        r"^  partial text: '\S",
        r"^RateLimitError: retry after 10 s, request_id=req_",
        r"^BadRequestError \(status 400\)",
        r"^ContentTooLargeError \(status 413\): HTTP 413",
        r"^IncompleteStreamError: request_id=req_\w+ retryable=True \(\d+ characters kept\)",
        r"^APIConnectionError \(caused by \w+\): request_id=req_",
    ],
    "tool_use.py": [r"^stop reason: tool_use$", r"^tool call \w+: get_weather\(\{\"city\": "],
    "sync_client.py": [r"^the prompt is \d+ tokens$", r"^\[stop_reason=end_turn, request_id=req_"],
    "trio_example.py": [r"^'What is a river\?' -> \d+ tokens: ", r"^'What is a mountain\?' -> "],
}


def example_files() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_every_example_is_checked() -> None:
    assert example_files() == sorted(EXPECTED)


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every example at once (in parallel): name -> finished process."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    }
    env["PYTHONUNBUFFERED"] = "1"
    running = {
        name: subprocess.Popen(
            [sys.executable, str(EXAMPLES / name)],
            cwd=EXAMPLES.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in example_files()
    }
    deadline = time.monotonic() + TIMEOUT
    finished: dict[str, subprocess.CompletedProcess[str]] = {}
    for name, process in running.items():
        try:
            out, err = process.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            err += f"\n[killed after {TIMEOUT:g} s]"
        finished[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return finished


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(name: str, results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = results[name]
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    for pattern in EXPECTED[name]:
        assert re.search(pattern, result.stdout, re.MULTILINE), (
            f"{name}: no line matches {pattern!r} in:\n{result.stdout}"
        )


def test_trio_example_without_trio_says_what_to_install(tmp_path: Path) -> None:
    # A package named trio that fails to import, as a missing one does.
    (tmp_path / "trio").mkdir()
    (tmp_path / "trio" / "__init__.py").write_text(
        "raise ModuleNotFoundError('No module named trio (blocked)', name='trio')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "trio_example.py")],
        cwd=EXAMPLES.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "trio_example.py needs trio, which is not installed: pip install trio\n"
    )
