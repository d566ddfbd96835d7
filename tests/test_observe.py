"""Observability over the fault matrix: lifecycle events and OpenTelemetry spans and metrics.

Every call of the matrix (each failure kind the emulator scripts, stalls,
malformed and oversize bodies, the caller breaking out, raising, cancelling,
and a stream garbage-collected) runs under a :class:`Tee` of a recording
observer and :class:`~streamsafe.otel.OpenTelemetryObserver` exporting to
the SDK's in-memory span exporter and metric reader. For each call:

* the recording observer saw ``on_start`` once, then ``on_end`` exactly once,
  with the expected outcome, reason and error class;
* exactly one span was exported, ended once, ``CLIENT``, named ``chat {model}``,
  with the expected status and ``error.type``;
* ``gen_ai.response.time_to_first_chunk`` is there if and only if content
  arrived (the end's message — final or partial — has a content block).

Run on asyncio, trio and sync.
"""

from __future__ import annotations

import gc
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import streamsafe
from reliability_support import API_KEY, REQUEST, SMALL_REQUEST, fault
from streamsafe import (
    Backoff,
    Call,
    ContentBlockDeltaEvent,
    Observer,
    ResponseHeaders,
    RetryScheduled,
    StreamEnd,
)
from streamsafe.otel import OpenTelemetryObserver
from streamsafe.testing import DELAY_HEADER, Emulator

MALFORMED = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_r","type":'
    b'"message","role":"assistant","model":"m","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{\n\n'
)
OVERSIZE = MALFORMED.rsplit(b"event: content_block_delta", 1)[0] + b"data: " + b"x" * 10_000

#: Failures scripted per request (header) -> the streamsafe class raised (error.type).
HEADER_KINDS: dict[str, str] = {
    "error:overloaded_error@5": "OverloadedError",
    "error:api_error@1": "InternalServerError",
    "error:invalid_request_error@2": "BadRequestError",
    "truncate@5": "IncompleteStreamError",
    "truncate_bytes@333": "IncompleteStreamError",
    "reset@5": "APIConnectionError",
    "reset@start": "APIConnectionError",
    "truncate@start": "APIConnectionError",
    "status:529": "OverloadedError",
    "status:429": "RateLimitError",
    "status:401": "AuthenticationError",
    "html:502": "InternalServerError",
    "empty:503": "ServiceUnavailableError",
    "content_type:text/html": "UnexpectedContentTypeError",
    "empty_200": "IncompleteStreamError",
}
RAW_KINDS: dict[str, tuple[bytes, str]] = {
    "raw:malformed": (MALFORMED, "MalformedEventError"),
    "raw:oversize": (OVERSIZE, "EventTooLargeError"),
}
STALL_KINDS: dict[str, set[str]] = {
    "stall@5;seconds=30": {"APITimeoutError", "StreamIdleTimeoutError"},
    "stall_pings@5;seconds=30;every=0.03": {"APITimeoutError", "StreamIdleTimeoutError"},
}
CALLER_KINDS = ("caller:complete", "caller:break", "caller:raise", "caller:cancel", "caller:gc")


class Boom(Exception):
    """Raised by the caller's loop body."""


# -- observers -------------------------------------------------------------------------


@dataclass
class Recorded:
    starts: int = 0
    attempts: list[int] = field(default_factory=list)
    headers: list[ResponseHeaders] = field(default_factory=list)
    first_content: list[float] = field(default_factory=list)
    retries: list[RetryScheduled] = field(default_factory=list)
    ends: list[StreamEnd] = field(default_factory=list)
    chunks: int = 0


class Recording(Observer):
    """Records every event per call; the order is checked as they arrive."""

    def __init__(self) -> None:
        self.calls: dict[Call, Recorded] = {}

    def _of(self, call: Call) -> Recorded:
        record = self.calls[call]
        assert not record.ends, "an event after the end"
        return record

    def on_start(self, call: Call) -> None:
        assert call not in self.calls
        self.calls[call] = Recorded(starts=1)

    def on_attempt(self, call: Call, attempt: int) -> None:
        self._of(call).attempts.append(attempt)

    def on_headers(self, call: Call, headers: ResponseHeaders) -> None:
        self._of(call).headers.append(headers)

    def on_first_content(self, call: Call, seconds: float) -> None:
        self._of(call).first_content.append(seconds)

    def on_chunk(self, call: Call, seconds: float) -> None:
        assert seconds >= 0
        self._of(call).chunks += 1

    def on_retry(self, call: Call, retry: RetryScheduled) -> None:
        self._of(call).retries.append(retry)

    def on_end(self, call: Call, end: StreamEnd) -> None:
        self.calls[call].ends.append(end)  # a second one fails the checks below

    def only(self) -> Recorded:
        assert len(self.calls) == 1, self.calls
        (record,) = self.calls.values()
        assert record.starts == 1
        assert len(record.ends) == 1, record.ends
        return record


class Tee(Observer):
    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def on_start(self, call: Call) -> None:
        for o in self.observers:
            o.on_start(call)

    def on_attempt(self, call: Call, attempt: int) -> None:
        for o in self.observers:
            o.on_attempt(call, attempt)

    def on_headers(self, call: Call, headers: ResponseHeaders) -> None:
        for o in self.observers:
            o.on_headers(call, headers)

    def on_first_content(self, call: Call, seconds: float) -> None:
        for o in self.observers:
            o.on_first_content(call, seconds)

    def on_chunk(self, call: Call, seconds: float) -> None:
        for o in self.observers:
            o.on_chunk(call, seconds)

    def on_retry(self, call: Call, retry: RetryScheduled) -> None:
        for o in self.observers:
            o.on_retry(call, retry)

    def on_end(self, call: Call, end: StreamEnd) -> None:
        for o in self.observers:
            o.on_end(call, end)


class Telemetry:
    """A recording observer and the OTel observer, with in-memory exporters."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.reader])
        self.otel = OpenTelemetryObserver(
            tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        self.recording = Recording()
        self.observer = Tee(self.recording, self.otel)

    def reset(self) -> None:
        self.spans.clear()
        self.recording.calls.clear()
        self.reader.get_metrics_data()  # cumulative, but drains nothing; see points()

    def only_span(self) -> ReadableSpan:
        spans = self.spans.get_finished_spans()
        assert len(spans) == 1, [s.name for s in spans]
        assert self.otel._calls == {}, "a span left open"
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += list(metric.data.data_points)
        return found


@pytest.fixture(autouse=True)
def _fresh_queue(emulator: Emulator) -> None:
    emulator.clear()


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


# -- checks ----------------------------------------------------------------------------


def expected(kind: str) -> tuple[str, set[str] | None, str | None]:
    """(outcome, error.type choices, abandon reason) of ``kind``."""
    if kind in HEADER_KINDS:
        return "failed", {HEADER_KINDS[kind]}, None
    if kind in RAW_KINDS:
        return "failed", {RAW_KINDS[kind][1]}, None
    if kind in STALL_KINDS:
        return "failed", STALL_KINDS[kind], None
    return {
        "caller:complete": ("completed", None, None),
        "caller:break": ("abandoned", None, "closed"),
        "caller:raise": ("abandoned", {"Boom"}, "closed"),
        "caller:cancel": ("abandoned", {"cancelled"}, "cancelled"),
        "caller:gc": ("abandoned", {"garbage_collected"}, "garbage_collected"),
    }[kind]


def check(telemetry: Telemetry, kind: str, *, sync: bool = False) -> None:
    outcome, error_types, reason = expected(kind)
    if sync and kind == "caller:cancel":
        return
    record = telemetry.recording.only()
    end = record.ends[0]
    assert (end.outcome, end.reason) == (outcome, reason), (kind, end)
    assert record.attempts == [1]
    if outcome == "failed":
        assert type(end.error).__name__ in (error_types or set()), (kind, end.error)
    content = end.message is not None and len(end.message.content) > 0
    assert bool(record.first_content) == content, kind
    assert (end.metrics.time_to_first_content is not None) == content

    span = telemetry.only_span()
    assert span.kind is SpanKind.CLIENT
    assert span.name == f"chat {SMALL_REQUEST['model']}"
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.model"] == SMALL_REQUEST["model"]
    assert attributes["gen_ai.request.max_tokens"] == SMALL_REQUEST["max_tokens"]
    assert attributes["streamsafe.outcome"] == outcome
    assert ("gen_ai.response.time_to_first_chunk" in attributes) == content, kind
    if error_types is None:
        assert span.status.status_code is StatusCode.UNSET, kind
        assert "error.type" not in attributes
    else:
        assert span.status.status_code is StatusCode.ERROR, kind
        assert attributes["error.type"] in error_types, (kind, attributes["error.type"])
    if record.headers:
        assert attributes["anthropic.request_id"] == record.headers[-1].request_id
        assert attributes["anthropic.request_id"] == end.request_id
        assert str(attributes["anthropic.request_id"]).startswith("req_")
    if outcome == "completed":
        assert end.message is not None
        assert end.message.stop_reason is not None
        assert attributes["gen_ai.response.finish_reasons"] == (end.message.stop_reason,)
        assert attributes["gen_ai.response.id"] == end.message.id
        usage = end.message.usage
        assert attributes["gen_ai.usage.output_tokens"] == usage.output_tokens
        assert attributes["gen_ai.usage.input_tokens"] >= usage.input_tokens > 0
        assert end.metrics.events > 0
        assert end.metrics.bytes > 0
    durations = telemetry.points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == 1
    ttfc = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert sum(p.count for p in ttfc) == (1 if content else 0)


# -- asyncio and trio ------------------------------------------------------------------


def async_client(emulator: Emulator, telemetry: Telemetry, kind: str) -> streamsafe.AsyncClient:
    tight = kind in STALL_KINDS
    return streamsafe.AsyncClient(
        base_url=emulator.url,
        api_key=API_KEY,
        max_retries=0,
        observer=telemetry.observer,
        timeout=httpx.Timeout(5.0, read=0.1 if tight else 5.0),
        stream_idle_timeout=0.15 if tight else 300.0,
        max_event_bytes=4096,
    )


async def one_stream(client: streamsafe.AsyncClient, kind: str) -> None:
    spec = "none" if kind.startswith("caller:") else kind
    headers = {} if kind.startswith("raw:") else fault(spec)
    if kind == "caller:gc":
        stream = await client.messages.stream(**SMALL_REQUEST, extra_headers=headers)
        async for event in stream:
            if isinstance(event, ContentBlockDeltaEvent):
                break
        with pytest.warns(ResourceWarning):  # noqa: PT031
            del stream, event
            gc.collect()
        await anyio.sleep(0.05)  # the loop finalizes the abandoned generators
        return
    with anyio.CancelScope() as scope:
        try:
            async with client.messages.stream(**SMALL_REQUEST, extra_headers=headers) as stream:
                async for event in stream:
                    if isinstance(event, ContentBlockDeltaEvent):
                        if kind == "caller:break":
                            break
                        if kind == "caller:raise":
                            raise Boom
                        if kind == "caller:cancel":
                            scope.cancel()
                            await anyio.sleep(1)
        except (Boom, streamsafe.APIError):
            pass


MATRIX = [*HEADER_KINDS, *RAW_KINDS, *STALL_KINDS, *CALLER_KINDS]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", MATRIX)
async def test_one_span_ended_once_per_call(
    emulator: Emulator, telemetry: Telemetry, kind: str
) -> None:
    if kind in RAW_KINDS:
        emulator.push_raw_stream(RAW_KINDS[kind][0])
    async with async_client(emulator, telemetry, kind) as client:
        with anyio.fail_after(10):
            await one_stream(client, kind)
    check(telemetry, kind)


# -- sync --------------------------------------------------------------------------------

SYNC_MATRIX = [k for k in MATRIX if k not in ("caller:cancel",)]


def sync_stream(client: streamsafe.Client, kind: str) -> None:
    spec = "none" if kind.startswith("caller:") else kind
    headers = {} if kind.startswith("raw:") else fault(spec)
    if kind == "caller:gc":
        stream = client.messages.create(stream=True, **SMALL_REQUEST, extra_headers=headers)
        next(stream)
        with pytest.warns(ResourceWarning):
            del stream
        return
    try:
        with client.messages.stream(**SMALL_REQUEST, extra_headers=headers) as stream:
            for event in stream:
                if isinstance(event, ContentBlockDeltaEvent):
                    if kind == "caller:break":
                        break
                    if kind == "caller:raise":
                        raise Boom
    except (Boom, streamsafe.APIError):
        pass


@pytest.mark.parametrize("kind", SYNC_MATRIX)
def test_sync_one_span_ended_once_per_call(
    emulator: Emulator, telemetry: Telemetry, kind: str
) -> None:
    if kind in RAW_KINDS:
        emulator.push_raw_stream(RAW_KINDS[kind][0])
    tight = kind in STALL_KINDS
    with streamsafe.Client(
        base_url=emulator.url,
        api_key=API_KEY,
        max_retries=0,
        observer=telemetry.observer,
        timeout=httpx.Timeout(5.0, read=0.1 if tight else 5.0),
        stream_idle_timeout=0.15 if tight else 300.0,
        max_event_bytes=4096,
    ) as client:
        sync_stream(client, kind)
    check(telemetry, kind, sync=True)


# -- the whole matrix at once ----------------------------------------------------------


@pytest.mark.anyio
async def test_the_matrix_concurrently_ends_every_call_once(
    emulator: Emulator, telemetry: Telemetry
) -> None:
    kinds = [k for k in MATRIX if k not in RAW_KINDS and k != "caller:gc"] * 4
    fast = async_client(emulator, telemetry, "none")
    tight = async_client(emulator, telemetry, next(iter(STALL_KINDS)))
    async with fast, tight:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                for kind in kinds:
                    group.start_soon(one_stream, tight if kind in STALL_KINDS else fast, kind)
    calls = telemetry.recording.calls
    assert len(calls) == len(kinds)
    assert all(len(record.ends) == 1 for record in calls.values())
    spans = telemetry.spans.get_finished_spans()
    assert len(spans) == len(kinds)
    assert len({span.context.span_id for span in spans}) == len(kinds)
    assert telemetry.otel._calls == {}
    outcomes = sorted(str((s.attributes or {})["streamsafe.outcome"]) for s in spans)
    assert outcomes.count("completed") == 4


# -- retries -----------------------------------------------------------------------------


def retrying_client(emulator: Emulator, telemetry: Telemetry) -> streamsafe.AsyncClient:
    backoff = Backoff(initial=0.01, maximum=0.01, jitter=0.0)
    return streamsafe.AsyncClient(
        base_url=emulator.url,
        api_key=API_KEY,
        max_retries=2,
        backoff=backoff,
        observer=telemetry.observer,
    )


@pytest.mark.anyio
async def test_a_retried_stream_is_one_span_covering_its_attempts(
    emulator: Emulator, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="streamsafe")
    emulator.push_fault("status:529")
    emulator.push_fault("error:overloaded_error@0")
    client = retrying_client(emulator, telemetry)
    async with client, client.messages.stream(**SMALL_REQUEST) as stream:
        message = await stream.get_final_message()
    record = telemetry.recording.only()
    assert record.attempts == [1, 2, 3]
    assert [h.status_code for h in record.headers] == [529, 200, 200]
    assert [r.attempt for r in record.retries] == [1, 2]
    assert [type(r.error).__name__ for r in record.retries] == ["OverloadedError"] * 2
    assert not any(r.content_received for r in record.retries)
    assert len(record.first_content) == 1
    end = record.ends[0]
    assert end.outcome == "completed"
    assert end.metrics.attempts == 3
    assert end.request_id == message.request_id == record.headers[-1].request_id
    span = telemetry.only_span()
    assert span.status.status_code is StatusCode.UNSET
    assert [e.name for e in span.events] == ["streamsafe.retry"] * 2
    assert (span.attributes or {})["streamsafe.attempts"] == 3
    assert stream.metrics.time_to_first_content is not None
    first_request = record.headers[0].request_id
    lines = [r.getMessage() for r in caplog.records if r.name == "streamsafe"]
    assert len(lines) == 2, lines  # one per retry, nothing per event, nothing at the end
    assert f"request_id={first_request}" in lines[0]
    assert "aws_request_id=" in lines[0]


@pytest.mark.anyio
async def test_create_retried_after_content_says_so(
    emulator: Emulator, telemetry: Telemetry
) -> None:
    emulator.push_fault("error:overloaded_error@5")
    async with retrying_client(emulator, telemetry) as client:
        message = await client.messages.create(**SMALL_REQUEST)
    record = telemetry.recording.only()
    assert [r.content_received for r in record.retries] == [True]
    assert len(record.first_content) == 2  # once per attempt that received content
    assert record.ends[0].outcome == "completed"
    assert record.ends[0].message is not None
    assert record.ends[0].message.id == message.id
    span = telemetry.only_span()
    assert (span.attributes or {})["gen_ai.response.id"] == message.id


@pytest.mark.anyio
async def test_retries_exhausted_fail_once_with_the_last_error(
    emulator: Emulator, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="streamsafe")
    emulator.push_fault("status:529", times=3)
    async with retrying_client(emulator, telemetry) as client:
        with pytest.raises(streamsafe.OverloadedError) as info:
            await client.messages.create(**SMALL_REQUEST)
    end = telemetry.recording.only().ends[0]
    assert end.outcome == "failed"
    assert end.error is info.value
    span = telemetry.only_span()
    assert (span.attributes or {})["error.type"] == "OverloadedError"
    assert (span.attributes or {})["streamsafe.attempts"] == 3
    assert "gen_ai.response.time_to_first_chunk" not in (span.attributes or {})
    lines = [r.getMessage() for r in caplog.records if r.name == "streamsafe"]
    assert len(lines) == 3  # two retries, one failure
    assert "failed with OverloadedError" in lines[-1]
    assert f"request_id={info.value.request_id}" in lines[-1]


@pytest.mark.anyio
async def test_cancelled_while_a_retry_waits(emulator: Emulator, telemetry: Telemetry) -> None:
    emulator.push_fault("status:529")
    backoff = Backoff(initial=30.0, maximum=30.0, jitter=0.0)
    async with streamsafe.AsyncClient(
        base_url=emulator.url,
        api_key=API_KEY,
        max_retries=2,
        backoff=backoff,
        observer=telemetry.observer,
    ) as client:
        with anyio.move_on_after(0.3):
            await client.messages.create(**SMALL_REQUEST)
    end = telemetry.recording.only().ends[0]
    assert (end.outcome, end.reason) == ("abandoned", "cancelled")
    assert (telemetry.only_span().attributes or {})["error.type"] == "cancelled"


# -- without a client ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_aconnect_message_stream_takes_an_observer(
    emulator: Emulator, telemetry: Telemetry
) -> None:
    async with httpx.AsyncClient() as http:
        url = f"{emulator.url}/v1/messages"
        body = {**SMALL_REQUEST, "stream": True}
        headers = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
        async with streamsafe.aconnect_message_stream(
            http, "POST", url, json=body, headers=headers, observer=telemetry.observer
        ) as stream:
            await stream.get_final_message()
        assert telemetry.recording.only().ends[0].outcome == "completed"
        assert (telemetry.only_span().attributes or {})["server.port"] == httpx.URL(url).port
        telemetry.reset()
        with pytest.raises(streamsafe.OverloadedError):
            async with streamsafe.aconnect_message_stream(
                http,
                "POST",
                url,
                json=body,
                headers={**headers, **fault("status:529")},
                observer=telemetry.observer,
            ):
                pytest.fail("not opened")
        assert telemetry.recording.only().ends[0].outcome == "failed"


def test_connect_message_stream_takes_an_observer(emulator: Emulator) -> None:
    recording = Recording()
    with (
        httpx.Client() as http,
        streamsafe.connect_message_stream(
            http,
            "POST",
            f"{emulator.url}/v1/messages",
            json={**SMALL_REQUEST, "stream": True},
            headers={"x-api-key": API_KEY},
            observer=recording,
        ) as stream,
    ):
        for _ in stream:
            pass
    assert recording.only().ends[0].outcome == "completed"


# -- stream.metrics ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_stream_metrics(emulator: Emulator) -> None:
    async with streamsafe.AsyncClient(base_url=emulator.url, api_key=API_KEY) as client:
        async with client.messages.stream(**REQUEST, extra_headers={DELAY_HEADER: "5"}) as stream:
            early = stream.metrics
            message = await stream.get_final_message()
        metrics = stream.metrics
    assert early.time_to_first_byte is not None
    assert early.time_to_first_content is not None  # the client read up to content
    assert 0 < metrics.time_to_first_byte <= metrics.time_to_first_content < metrics.duration
    assert metrics.duration >= 31 * 0.005
    assert metrics.events == 32  # every event of the stream (see reliability_support)
    assert metrics.bytes > 1000
    assert metrics.output_tokens == message.usage.output_tokens
    assert metrics.output_tokens_per_second is not None
    expected_rate = metrics.output_tokens / (metrics.duration - metrics.time_to_first_content)
    assert metrics.output_tokens_per_second == pytest.approx(expected_rate)
    assert stream.metrics == metrics  # ended: frozen


def test_metrics_without_content_have_no_rate() -> None:
    metrics = streamsafe.StreamMetrics(0.1, None, 1.0, 2, 100, 5, 1)
    assert metrics.output_tokens_per_second is None


# -- content is opt-in, usage follows the conventions -----------------------------------------

CACHED = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_c","type":'
    b'"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":7,"output_tokens":1,'
    b'"cache_read_input_tokens":100,"cache_creation_input_tokens":20}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"secret answer"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
    b'"stop_sequence":null},"usage":{"output_tokens":3}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@pytest.mark.anyio
@pytest.mark.parametrize("capture", [False, True])
async def test_usage_and_content_opt_in(emulator: Emulator, capture: bool) -> None:
    telemetry = Telemetry()
    telemetry.otel._capture_content = capture
    emulator.push_raw_stream(CACHED)
    params = {**SMALL_REQUEST, "system": "be brief", "temperature": 0.5, "top_k": 3}
    params["stop_sequences"] = ["###"]
    async with async_client(emulator, telemetry, "none") as client:
        await client.messages.create(**params)
    attributes = dict(telemetry.only_span().attributes or {})
    assert attributes["gen_ai.usage.input_tokens"] == 7 + 100 + 20
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 100
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 20
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["gen_ai.response.model"] == "claude-x"
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.request.top_k"] == 3.0
    assert attributes["gen_ai.request.stop_sequences"] == ("###",)
    recorded = repr(attributes)
    assert ("secret answer" in recorded) is capture
    assert ("gen_ai.input.messages" in attributes) is capture
    assert ("gen_ai.system_instructions" in attributes) is capture
    assert ("be brief" in recorded) is capture
    tokens = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in telemetry.points("gen_ai.client.token.usage")
    }
    assert tokens == {"input": 127, "output": 3}
    per_chunk = telemetry.points("gen_ai.client.operation.time_per_output_chunk")
    assert all(p.attributes["gen_ai.provider.name"] == "anthropic" for p in per_chunk)


# -- logging -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_one_log_line_per_abnormal_end_none_per_event(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="streamsafe")
    async with streamsafe.AsyncClient(
        base_url=emulator.url, api_key=API_KEY, max_retries=0
    ) as client:
        async with client.messages.stream(**REQUEST) as stream:
            await stream.get_final_message()
        assert [r for r in caplog.records if r.name == "streamsafe"] == []
        with pytest.raises(streamsafe.IncompleteStreamError):
            async with client.messages.stream(**REQUEST, extra_headers=fault("truncate@9")) as s:
                await s.get_final_message()
        async with client.messages.stream(**REQUEST) as stream:
            async for _ in stream:
                break
    lines = [r.getMessage() for r in caplog.records if r.name == "streamsafe"]
    assert len(lines) == 2, lines
    assert "failed with IncompleteStreamError" in lines[0]
    assert "request_id=req_" in lines[0]
    assert "aws_request_id=None" in lines[0]
    assert "abandoned (closed)" in lines[1]


def test_no_observer_no_warning_and_metrics(emulator: Emulator) -> None:
    with (
        warnings.catch_warnings(),
        streamsafe.Client(base_url=emulator.url, api_key=API_KEY) as client,
    ):
        warnings.simplefilter("error")
        with client.messages.stream(**SMALL_REQUEST) as stream:
            stream.until_done()
    assert stream.metrics.events > 0


def test_the_observer_benchmark_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``benchmarks/bench_observe.py`` at a tiny size: every row runs (speed is not asserted)."""
    import asyncio
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    bench = importlib.import_module("bench_observe")
    times = asyncio.run(bench.measure(300, 1))
    assert set(times) == {"no observer", "no-op observer", "OTel to memory"}


def test_per_chunk_points_are_all_recorded_in_groups(telemetry: Telemetry) -> None:
    """Every chunk's point reaches the histogram: each full group at once, the rest at the end."""
    import streamsafe.otel as otel

    call = Call(telemetry.observer, dict(REQUEST), url="https://api.anthropic.com/v1/messages")
    total = otel.CHUNK_FLUSH + 5
    for _ in range(otel.CHUNK_FLUSH):
        telemetry.observer.on_chunk(call, 0.001)
    (point,) = telemetry.points("gen_ai.client.operation.time_per_output_chunk")
    assert point.count == otel.CHUNK_FLUSH  # the first group, before the call ended
    for _ in range(total - otel.CHUNK_FLUSH):
        telemetry.observer.on_chunk(call, 0.001)
    call.end("abandoned", reason="closed")
    (point,) = telemetry.points("gen_ai.client.operation.time_per_output_chunk")
    assert point.count == total
    assert telemetry.recording.only().chunks == total
