"""The ``streamsafe`` command: demo, chat, serve, --help and the exit-code table."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import streamsafe
from streamsafe.cli import (
    DEFAULT_MODEL,
    EXIT_CODES,
    EXIT_MISSING_EXTRA,
    EXIT_PORT_IN_USE,
    exit_code_for,
    main,
)
from streamsafe.testing import Emulator

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_module(*args: str, timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamsafe", *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def emu(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The module's emulator, reset, with the environment of a user who set a key."""
    emulator.clear()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    return emulator


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------


def test_demo_runs_offline_and_shows_every_scene() -> None:
    started = time.monotonic()
    result = run_module("demo", timeout=30)
    elapsed = time.monotonic() - started
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert elapsed < 30
    assert "Traceback" not in result.stderr
    # 2: the typed in-stream error with its partial message
    assert "streamsafe.OverloadedError" in out
    assert "529" in out
    assert "characters kept" in out
    # 3: the retry before content, logged, and one clean message
    assert "retrying POST /v1/messages (stream)" in out
    assert "3 received by the emulator" in out
    assert "1 message_start" in out
    # 4: the drop-in create()
    assert "streamsafe.Message" in out
    assert "demo finished" in out
    # The closing hint: chat against `streamsafe serve` needs no key.
    assert 'streamsafe chat "hello" --base-url http://127.0.0.1:8787' in out
    assert "no API key: it is the emulator" in out
    assert "(needs ANTHROPIC_API_KEY)" not in out
    # Not a terminal: rich writes plain text, no escape sequences.
    assert "\x1b[" not in out


def test_demo_without_rich(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # makes `import rich` fail
    assert main(["demo"]) == EXIT_MISSING_EXTRA == 9
    err = capsys.readouterr().err
    assert err.startswith("streamsafe: streamsafe demo needs the 'cli' extra")
    assert "pip install 'streamsafe[cli]'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_demo_and_serve_without_the_server_extra(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only what the command imports lazily is blocked (rich stays importable).
    for name in ("uvicorn", "streamsafe.testing", "streamsafe._demo"):
        monkeypatch.setitem(sys.modules, name, None)
    # `from . import _demo` finds the package attribute first, if another test imported it.
    monkeypatch.delattr(streamsafe, "_demo", raising=False)
    assert main([command, "--port", "0"] if command == "serve" else [command]) == 9
    err = capsys.readouterr().err
    assert f"streamsafe {command} needs the 'server' extra" in err
    assert "pip install 'streamsafe[server]'" in err
    assert len(err.splitlines()) == 1, err


def test_the_missing_extra_exit_code_is_distinct() -> None:
    assert EXIT_MISSING_EXTRA not in {code for _, code in EXIT_CODES}
    assert EXIT_MISSING_EXTRA not in (0, 1, 2, 130)


# ---------------------------------------------------------------------------
# --help and usage
# ---------------------------------------------------------------------------


def test_python_dash_m_help() -> None:
    result = run_module("--help", timeout=20)
    assert result.returncode == 0
    for command in ("demo", "chat", "serve"):
        assert command in result.stdout


@pytest.mark.parametrize("command", [[], ["demo"], ["chat"], ["serve"]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: streamsafe {' '.join(command)}".rstrip())


def test_chat_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "--help"]) == 0
    out = capsys.readouterr().out
    assert DEFAULT_MODEL in out
    assert "exit codes:" in out
    for _classes, code in EXIT_CODES:
        assert f"\n  {code:<3} " in out
    for name in ("AuthenticationError", "OverloadedError", "IncompleteStreamError"):
        assert name in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert streamsafe.__version__ in capsys.readouterr().out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: streamsafe" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["chat"],
        ["chat", "hi", "--max-tokens", "0"],
        ["chat", "hi", "--base-url", "localhost:8787"],
        ["serve", "--port", "70000"],
        ["demo", "--delay", "-1"],
        ["nope"],
    ],
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# chat
# ---------------------------------------------------------------------------


def test_chat_streams_the_answer(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["chat", "Hello there", "--base-url", emu.url, "--max-tokens", "64", "-s", "Be brief."]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    (request,) = emu.requests
    assert request.headers["x-api-key"] == "test"
    assert request.json["model"] == DEFAULT_MODEL
    assert request.json["max_tokens"] == 64
    assert request.json["system"] == "Be brief."
    assert request.json["messages"] == [{"role": "user", "content": "Hello there"}]
    # The emulator's answers are deterministic: the same request gives the same text.
    with streamsafe.Client(base_url=emu.url) as client:
        expected = client.messages.create(
            **{k: v for k, v in request.json.items() if k != "stream"}
        )
    assert expected.text
    assert out == expected.text + "\n"


def test_chat_uses_anthropic_base_url(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emu.url)
    assert main(["chat", "hi", "--model", "claude-test", "--max-tokens", "40"]) == 0
    assert capsys.readouterr().out.strip()
    assert emu.requests[0].json["model"] == "claude-test"


def test_chat_as_a_command(emulator: Emulator) -> None:
    result = run_module(
        "chat", "Say hello", "--base-url", emulator.url, timeout=20, ANTHROPIC_API_KEY="test"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(result.stdout.split()) >= 10


def test_chat_in_stream_overloaded_error(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu.push_fault("error:overloaded_error@6")  # after some text: not retried
    assert main(["chat", "hi", "--base-url", emu.url]) == 7
    out, err = capsys.readouterr()
    assert out.strip()  # the partial answer...
    assert out.endswith("\n")  # ...with its line finished before the error line
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("streamsafe: OverloadedError: Overloaded (status 529, in stream, ")
    assert f"request_id={emu.requests[0].request_id}" in line
    assert "characters received before the error" in line


def test_chat_error_line_names_no_python_attribute(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.push_fault("truncate@6")  # after some text: IncompleteStreamError, not retried
    assert main(["chat", "hi", "--base-url", emu.url]) == 8
    err = capsys.readouterr().err
    assert err.startswith(
        "streamsafe: IncompleteStreamError: the stream ended without message_stop ("
    ), err
    assert "characters received before the error" in err
    assert ".partial_message" not in err
    assert "partial_message" not in err


@pytest.mark.parametrize(
    ("fault", "error_class", "code"),
    [
        ("status:401", "AuthenticationError", 3),
        ("status:402", "PaymentRequiredError", 4),
        ("status:403", "PermissionDeniedError", 4),
        ("status:400", "BadRequestError", 5),
        ("status:404", "NotFoundError", 5),
        ("html:413", "ContentTooLargeError", 5),
        ("status:429;should_retry=false", "RateLimitError", 6),
        ("status:529;should_retry=false", "OverloadedError", 7),
        ("status:500;should_retry=false", "InternalServerError", 7),
        ("truncate@6", "IncompleteStreamError", 8),
        ("status:418;type=teapot_error", "APIStatusError", 1),
    ],
)
def test_chat_error_exit_codes(
    emu: Emulator, capsys: pytest.CaptureFixture[str], fault: str, error_class: str, code: int
) -> None:
    emu.push_fault(fault)
    assert main(["chat", "hi", "--base-url", emu.url]) == code
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"streamsafe: {error_class}: ")
    assert f"request_id={emu.requests[0].request_id}" in err
    assert len(emu.requests) == 1  # not retried


def test_chat_without_key_fails_before_connecting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("chat tried to connect")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert main(["chat", "hi"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "no API key" in err
    assert "ANTHROPIC_API_KEY" in err


@pytest.mark.parametrize(
    ("error_class", "code"),
    [
        (streamsafe.AuthenticationError, 3),
        (streamsafe.PermissionDeniedError, 4),
        (streamsafe.BillingError, 4),
        (streamsafe.BadRequestError, 5),
        (streamsafe.NotFoundError, 5),
        (streamsafe.ContentTooLargeError, 5),
        (streamsafe.RateLimitError, 6),
        (streamsafe.InternalServerError, 7),
        (streamsafe.GatewayTimeoutError, 7),
        (streamsafe.OverloadedError, 7),
        (streamsafe.APIConnectionError, 8),
        (streamsafe.APITimeoutError, 8),
        (streamsafe.StreamIdleTimeoutError, 8),
        (streamsafe.IncompleteStreamError, 8),
        (streamsafe.APIStatusError, 1),
        (streamsafe.MalformedEventError, 1),
    ],
)
def test_exit_code_table(error_class: type[streamsafe.APIError], code: int) -> None:
    error = error_class.__new__(error_class)
    assert exit_code_for(error) == code


# ---------------------------------------------------------------------------
# serve
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_serve_until_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamsafe", "serve", "--port", str(port)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        with streamsafe.Client(base_url=f"http://127.0.0.1:{port}", api_key="test") as client:
            message = client.messages.create(
                model="m", max_tokens=30, messages=[{"role": "user", "content": "hi"}]
            )
        assert message.text
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}" in err
    assert "Traceback" not in err


class ServeProcess:
    """`streamsafe serve ARGS` in a subprocess; stderr read line by line in a thread."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamsafe", "serve", *args],
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, timeout: float = 20) -> str:
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"serve exited: {self.stderr}"
        self.stderr.append(line)
        return line

    def url(self) -> str:
        """The URL of the banner, its first line."""
        match = re.fullmatch(
            r"streamsafe emulator on (http://127\.0\.0\.1:(\d+)) \(Ctrl-C to stop\)",
            self.next_line(),
        )
        assert match is not None, self.stderr
        assert int(match[2]) != 0
        self.next_line()  # the hint: ANTHROPIC_BASE_URL=... streamsafe chat "hello"
        return match[1]

    def stop(self) -> tuple[int, str]:
        """SIGINT (Ctrl-C); the exit code and the rest of stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        with contextlib.suppress(queue.Empty):
            while (line := self.lines.get_nowait()) is not None:
                self.stderr.append(line)
        return self.process.returncode, "\n".join(self.stderr)


@contextlib.contextmanager
def serving(*args: str) -> Iterator[tuple[ServeProcess, str]]:
    server = ServeProcess("--port", "0", *args)
    try:
        yield server, server.url()
    finally:
        server.stop()


def stream_events(url: str, **headers: str) -> tuple[list[str], list[float]]:
    """The event names of one streamed answer and when each arrived (monotonic)."""
    names: list[str] = []
    times: list[float] = []
    body = {
        "model": "m",
        "max_tokens": 30,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with (
        httpx.Client(base_url=url, timeout=30) as client,
        client.stream("POST", "/v1/messages", json=body, headers=headers) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("event: "):
                names.append(line.removeprefix("event: "))
                times.append(time.monotonic())
    return names, times


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_serve_port_0_prints_the_bound_port_then_one_line_per_request() -> None:
    with serving("--seed", "cli-seed") as (server, url):
        # The banner comes once the server accepts connections: no retry loop needed.
        with httpx.Client(base_url=url, timeout=10) as client:
            ok = client.post("/v1/messages", json={"model": "m", "max_tokens": 20, "messages": []})
            bad = client.post(
                "/v1/messages",
                json={"model": "m", "max_tokens": 20, "messages": []},
                headers={"x-streamsafe-fault": "status:503"},
            )
        assert ok.status_code == 200
        assert bad.status_code == 503
        first = server.next_line()
        second = server.next_line()
        code, err = server.stop()
    assert re.fullmatch(rf"POST /v1/messages 200 {ok.headers['request-id']} - \d+ms", first)
    assert re.fullmatch(
        rf"POST /v1/messages 503 {bad.headers['request-id']} status:503 \d+ms", second
    )
    assert code == 0, err
    assert "Traceback" not in err
    # --seed: the ids are those of any emulator with the same seed.
    with Emulator(seed="cli-seed") as emu, httpx.Client(base_url=emu.url) as client:
        same = client.post("/v1/messages", json={"model": "m", "max_tokens": 20, "messages": []})
    assert same.headers["request-id"] == ok.headers["request-id"]


def test_serve_port_in_use_is_one_line_and_exit_code_10() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_module("serve", "--port", str(port), timeout=20)
    assert result.returncode == EXIT_PORT_IN_USE == 10
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"streamsafe serve: port {port} on 127.0.0.1 is already in use")
    assert "emulator on" not in result.stderr  # no banner first


def test_serve_exit_code_10_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "--help"]) == 0
    assert "\n  10  (streamsafe serve) the port is already in use" in capsys.readouterr().out
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--fault", "--delay-ms", "--ping-interval", "--seed", "/_emulator/faults"):
        assert option in out


def test_serve_invalid_fault_is_a_usage_error() -> None:
    result = run_module("serve", "--port", "0", "--fault", "explode", timeout=20)
    assert result.returncode == 2
    assert result.stderr.startswith("streamsafe serve: invalid --fault: unknown fault kind")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_serve_fault_queue_then_header_times_then_admin() -> None:
    with serving("--fault", "status:529;times=2", "--fault", "error:overloaded_error@1") as (
        server,
        url,
    ):
        body = {"model": "m", "max_tokens": 20, "messages": []}
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/_emulator/faults").json()["pending"] == [
                "status:529",
                "status:529",
                "error:overloaded_error@1",
            ]
            statuses = [client.post("/v1/messages", json=body).status_code for _ in range(2)]
            names, _ = stream_events(url)
            clean, _ = stream_events(url)
            # Fail twice then recover, scripted by a header only (any client can).
            header = {"x-streamsafe-fault": "status:500;times=2"}
            scripted = [
                client.post("/v1/messages", json=body, headers=header).status_code for _ in range(3)
            ]
            log = client.get("/_emulator/requests").json()["requests"]
        for _ in range(len(log) + 1):  # the log lines, the admin GETs included
            server.next_line()
        code, err = server.stop()
    assert statuses == [529, 529]
    assert names == ["message_start", "error"]
    assert clean[-1] == "message_stop"
    assert scripted == [500, 500, 200]
    assert [entry["fault"] for entry in log] == [
        "status:529",
        "status:529",
        "error:overloaded_error@1",
        None,
        "status:500;times=2",
        "status:500;times=2",
        None,
    ]
    assert code == 0, err
    assert "POST /v1/messages 200 req_" in err
    assert "error:overloaded_error@1" in err


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_serve_pacing_delay_and_pings() -> None:
    with serving("--delay-ms", "100", "--ping-interval", "0.03") as (_server, url):
        names, times = stream_events(url, **{"x-streamsafe-fault": "none"})
    content = [name for name in names if name != "ping"]
    assert content[0] == "message_start"
    assert content[-1] == "message_stop"
    # Lower bounds only: a busy machine makes the stream slower, never faster.
    assert times[-1] - times[0] >= 0.1 * (len(content) - 2)
    # Pings fall due inside every 100 ms pause, besides the one after message_start.
    assert names.count("ping") > len(content)
