"""The emulator for any client: `times=N` header faults, the admin endpoint, the
request log (status, fault, duration, log lines) and ids unique per instance.

Observed with plain httpx (and curl when installed): no streamsafe client code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from streamsafe.testing import Emulator, Fault

LOG_LINE = re.compile(
    r"(?P<method>[A-Z]+) (?P<path>/\S*) (?P<status>\d{3}|-) (?P<request_id>req_\w+|-) "
    r"(?P<fault>.+) (?P<duration>\d+)ms"
)


def body(text: str = "Tell me about streams", max_tokens: int = 40, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-emulated",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Emulator, list[str]]]:
    lines: list[str] = []
    with Emulator(log=lines.append) as emu:
        yield emu, lines


@pytest.fixture
def emu(shared: tuple[Emulator, list[str]]) -> Emulator:
    shared[0].clear()
    shared[1].clear()
    return shared[0]


@pytest.fixture
def log_lines(shared: tuple[Emulator, list[str]], emu: Emulator) -> list[str]:
    return shared[1]


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=10.0) as client:
        yield client


def post(http: httpx.Client, fault: str | None = None, **extra: Any) -> httpx.Response:
    headers = {"x-streamsafe-fault": fault} if fault is not None else {}
    return http.post("/v1/messages", json=body(**extra), headers=headers)


# -- times=N on header faults ------------------------------------------------------------


def test_header_fault_times_fails_n_times_then_recovers(http: httpx.Client, emu: Emulator) -> None:
    statuses = [post(http, "status:529;times=2").status_code for _ in range(4)]
    assert statuses == [529, 529, 200, 200]
    faults = [request.fault for request in emu.requests]
    assert faults == [Fault.parse("status:529;times=2")] * 2 + [None, None]
    # The faulted responses say which fault they got; the clean ones do not.
    assert post(http, "status:529;times=2").headers.get("x-streamsafe-fault") is None


def test_header_fault_times_counts_per_spec_and_per_key(http: httpx.Client) -> None:
    # Counters are keyed by the canonical spec: whitespace does not matter...
    assert post(http, "status:500;times=1").status_code == 500
    assert post(http, "status:500 ; times = 1").status_code == 200
    # ...but another spec (another times, another option) has its own counter.
    assert post(http, "status:500;times=2").status_code == 500
    assert post(http, "status:500;times=1;should_retry=false").status_code == 500
    # key= names the counter: one scenario per test, no reset needed between them.
    for key in ("test-a", "test-b"):
        spec = f"error:overloaded_error@0;times=1;key={key}"
        first = post(http, spec, stream=True)
        assert "event: error" in first.text
        assert "message_stop" in post(http, spec, stream=True).text
    # The same key shares one counter even across different faults.
    assert post(http, "status:429;times=2;key=shared").status_code == 429
    assert post(http, "status:503;times=2;key=shared").status_code == 503
    assert post(http, "status:503;times=2;key=shared").status_code == 200


def test_header_fault_times_counts_both_endpoints_and_leaves_the_queue(
    http: httpx.Client, emu: Emulator
) -> None:
    emu.push_fault("status:418")
    headers = {"x-streamsafe-fault": "status:502;times=1"}
    counted = http.post("/v1/messages/count_tokens", json=body(), headers=headers)
    assert counted.status_code == 502
    assert http.post("/v1/messages", json=body(), headers=headers).status_code == 200
    assert [str(f) for f in emu.pending_faults] == ["status:418"]  # a header never pops


def test_clear_resets_the_times_counters(http: httpx.Client, emu: Emulator) -> None:
    assert post(http, "status:529;times=1").status_code == 529
    assert post(http, "status:529;times=1").status_code == 200
    emu.clear()
    assert post(http, "status:529;times=1").status_code == 529


def test_push_fault_takes_times_from_the_spec(http: httpx.Client, emu: Emulator) -> None:
    fault = emu.push_fault("status:529;times=2")
    assert fault == Fault.parse("status:529")
    emu.push_fault("status:500;times=5", times=1)  # the argument wins
    assert [str(f) for f in emu.pending_faults] == ["status:529", "status:529", "status:500"]
    assert [post(http).status_code for _ in range(4)] == [529, 529, 500, 200]


@pytest.mark.parametrize(
    "spec",
    [
        "status:529;times=2",
        "error:overloaded_error@3;times=1;key=a b",
        "content_type:text/event-stream; charset=latin-1;times=3",
        "empty_200;times=2;key=k",
        "empty_200:application/json;times=2",
        "none;times=4",
    ],
)
def test_counter_options_round_trip(spec: str) -> None:
    fault = Fault.parse(spec)
    assert fault.times is not None or fault.key is not None
    assert Fault.parse(fault.spec) == fault
    assert fault.without_counter().times is None


def test_counter_options_parse_after_a_verbatim_media_type() -> None:
    fault = Fault.parse("content_type:text/event-stream; charset=latin-1;times=3;key=x")
    assert fault.content_type == "text/event-stream; charset=latin-1"
    assert (fault.times, fault.key) == (3, "x")
    assert Fault.parse("empty_200;times=2").times == 2


@pytest.mark.parametrize(
    "spec", ["status:529;times=0", "status:529;times=two", "status:529;key=", "empty_200;junk"]
)
def test_bad_counter_options(spec: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        Fault.parse(spec)


# -- the request log -----------------------------------------------------------------------


def test_requests_record_status_fault_and_duration(
    http: httpx.Client, emu: Emulator, log_lines: list[str]
) -> None:
    assert post(http).status_code == 200
    assert post(http, "status:503").status_code == 503
    streamed = post(http, "error:overloaded_error@3", stream=True)
    assert "event: error" in streamed.text
    with pytest.raises(httpx.TransportError):
        post(http, "truncate@start")
    assert http.get("/v1/nope").status_code == 404
    post(http, "stall@2;seconds=0.3", stream=True)

    requests = emu.requests
    assert [r.status for r in requests] == [200, 503, 200, None, 404, 200]
    assert [str(r.fault) if r.fault else None for r in requests] == [
        None,
        "status:503",
        "error:overloaded_error@3",
        "truncate@start",
        None,
        "stall@2;seconds=0.3",
    ]
    for request in requests:
        assert request.duration_ms is not None
        assert request.duration_ms >= 0
    assert requests[-1].duration_ms is not None
    assert requests[-1].duration_ms >= 300

    # One log line per request, in the same order, the same fields.
    assert len(log_lines) == len(requests)
    for line, request in zip(log_lines, requests, strict=True):
        assert line == request.log_line()
        match = LOG_LINE.fullmatch(line)
        assert match is not None, line
        assert match["method"] == request.method
        assert match["path"] == request.path
        assert match["status"] == (str(request.status) if request.status else "-")
        assert match["request_id"] == request.request_id
        assert match["fault"] == (request.fault.spec if request.fault else "-")
    assert log_lines[3].startswith("POST /v1/messages - req_")
    assert re.fullmatch(r"POST /v1/messages 200 req_\w+ stall@2;seconds=0.3 \d+ms", log_lines[5])
    assert int(log_lines[5].rsplit(" ", 1)[1].removesuffix("ms")) >= 300


def test_the_status_is_recorded_before_the_client_sees_the_response(
    http: httpx.Client, emu: Emulator
) -> None:
    for _ in range(20):
        with pytest.raises(httpx.TransportError):
            post(http, "reset@2", stream=True)
        assert emu.requests[-1].status == 200
        assert emu.requests[-1].duration_ms is not None
        assert post(http).status_code == 200
        assert emu.requests[-1].duration_ms is not None


# -- the admin endpoint --------------------------------------------------------------------


def test_admin_endpoint_queues_faults_reads_the_log_and_resets(
    http: httpx.Client, emu: Emulator, log_lines: list[str]
) -> None:
    queued = http.post("/_emulator/faults", json={"spec": "status:529", "times": 2})
    assert queued.status_code == 200
    assert queued.json() == {"pending": ["status:529", "status:529"]}
    queued = http.post("/_emulator/faults", json={"spec": "error:overloaded_error@1;times=1"})
    assert queued.json()["pending"][-1] == "error:overloaded_error@1"
    assert http.get("/_emulator/faults").json()["pending"] == [
        "status:529",
        "status:529",
        "error:overloaded_error@1",
    ]
    assert [str(f) for f in emu.pending_faults] == http.get("/_emulator/faults").json()["pending"]

    statuses = [post(http, stream=True) for _ in range(4)]
    assert [r.status_code for r in statuses] == [529, 529, 200, 200]
    assert "event: error" in statuses[2].text
    assert "message_stop" in statuses[3].text

    log = http.get("/_emulator/requests").json()["requests"]
    assert [entry["status"] for entry in log] == [529, 529, 200, 200]
    assert [entry["fault"] for entry in log] == [
        "status:529",
        "status:529",
        "error:overloaded_error@1",
        None,
    ]
    assert [entry["request_id"] for entry in log] == [r.headers["request-id"] for r in statuses]
    first = log[0]
    assert first["method"] == "POST"
    assert first["path"] == "/v1/messages"
    assert first["json"] == body(stream=True)
    assert first["headers"]["content-type"] == "application/json"
    assert isinstance(first["duration_ms"], float)
    assert first["body_size"] > 0
    # Admin requests are logged, not recorded.
    assert len(emu.requests) == 4
    assert any(line.startswith("GET /_emulator/requests 200 - - ") for line in log_lines)

    assert http.post("/_emulator/faults", json={"spec": "status:500"}).status_code == 200
    assert http.post("/_emulator/reset").json() == {"reset": True}
    assert http.get("/_emulator/requests").json() == {"requests": []}
    assert http.get("/_emulator/faults").json() == {"pending": []}
    assert post(http).status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"times": 2}',
        b'{"spec": "explode"}',
        b'{"spec": "status:529", "times": -1}',
        b'{"spec": "status:529", "times": "2"}',
    ],
)
def test_admin_endpoint_rejects_bad_faults(
    http: httpx.Client, emu: Emulator, payload: bytes
) -> None:
    response = http.post("/_emulator/faults", content=payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert emu.pending_faults == []


def test_admin_endpoint_wrong_method(http: httpx.Client) -> None:
    assert http.get("/_emulator/reset").status_code == 405
    assert http.delete("/_emulator/faults").status_code == 405


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_admin_endpoint_and_times_from_curl(emu: Emulator) -> None:
    def code(*args: str) -> str:
        return curl("-o", "/dev/null", "-w", "%{http_code}", *args)

    def curl(*args: str) -> str:
        result = subprocess.run(
            ["curl", "-sS", "--max-time", "10", *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return result.stdout

    message = json.dumps(body())
    fault = '{"spec": "status:529", "times": 1}'
    queued = curl(
        "-H", "content-type: application/json", "-d", fault, f"{emu.url}/_emulator/faults"
    )
    assert json.loads(queued) == {"pending": ["status:529"]}
    codes = [code("-d", message, f"{emu.url}/v1/messages") for _ in range(2)]
    assert codes == ["529", "200"]
    header = "x-streamsafe-fault: status:503;times=2"
    codes = [code("-H", header, "-d", message, f"{emu.url}/v1/messages") for _ in range(3)]
    assert codes == ["503", "503", "200"]
    log = json.loads(curl(f"{emu.url}/_emulator/requests"))["requests"]
    assert [entry["status"] for entry in log] == [529, 200, 503, 503, 200]
    assert json.loads(curl("-X", "POST", f"{emu.url}/_emulator/reset")) == {"reset": True}
    assert emu.requests == []


# -- ids -----------------------------------------------------------------------------------


def first_answer(emulator: Emulator) -> tuple[str, str, str]:
    """(request id, message id, text) of one non-streamed answer."""
    with httpx.Client(base_url=emulator.url, timeout=10.0) as client:
        response = client.post("/v1/messages", json=body("same question"))
    message = response.json()
    return response.headers["request-id"], message["id"], message["content"][0]["text"]


def test_ids_are_unique_per_emulator_but_content_is_deterministic() -> None:
    with Emulator() as one, Emulator() as two:
        a, b = first_answer(one), first_answer(two)
    with Emulator() as three:  # a later "run"
        c = first_answer(three)
    assert len({a[0], b[0], c[0]}) == 3
    assert len({a[1], b[1], c[1]}) == 3
    assert a[2] == b[2] == c[2]
    assert re.fullmatch(r"req_01[0-9A-Za-z]{22}", a[0])
    assert re.fullmatch(r"msg_01[0-9A-Za-z]{22}", a[1])


def test_ids_repeat_with_a_seed() -> None:
    with Emulator(seed=7) as one, Emulator(seed=7) as two, Emulator(seed="other") as three:
        a, b, c = first_answer(one), first_answer(two), first_answer(three)
        assert first_answer(one)[:2] != a[:2]  # still unique within the instance
    assert a == b
    assert c[:2] != a[:2]
    assert c[2] == a[2]


def test_the_official_sdk_fails_twice_then_recovers_by_header(emu: Emulator) -> None:
    """The official SDK's own retries against `times=2`: the third attempt succeeds."""
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(
        base_url=emu.url,
        api_key="test",
        max_retries=2,
        default_headers={"x-streamsafe-fault": "status:529;retry_after_ms=1;times=2;key=sdk"},
    )
    with client:
        message = client.messages.create(
            model="claude-emulated",
            max_tokens=30,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert message.content[0].type == "text"
    assert [request.status for request in emu.requests] == [529, 529, 200]
