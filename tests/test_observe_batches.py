"""Observability of the Message Batches API: one span per operation, ended once, on every path.

Every batch operation (``create``, ``retrieve``, ``list``, ``cancel``,
``delete``, ``wait``, ``results``) runs against the emulator under a tee of a
recording observer and :class:`~streamsafe.otel.OpenTelemetryObserver`
exporting to the SDK's in-memory span exporter. For each operation the
recording observer saw ``on_batch_start`` once and ``on_batch_end`` exactly
once, and exactly one ``CLIENT`` span was exported with the expected name,
status and ``error.type``: completed, failed with the typed error, a poll
fault survived (span events), a cut download resumed, ``wait`` cancelled
with ``cancel_on_exit``, ``list`` and ``results`` left early, a results
reader garbage-collected. asyncio, trio and sync.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import streamsafe
from client_support import FAST
from streamsafe import (
    AsyncClient,
    BatchEnd,
    BatchOperation,
    BatchPoll,
    BatchResume,
    BatchWaitTimeoutError,
    Client,
    NotFoundError,
    Observer,
    RetryScheduled,
)
from streamsafe.otel import OpenTelemetryObserver
from streamsafe.testing import BATCH_HEADER, Emulator

pytestmark = pytest.mark.anyio

MODEL = "claude-emulated"
PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 24,
    "messages": [{"role": "user", "content": "Tell me about rivers"}],
}
QUICK = "speed=600;duration=60"
POLL_FAULTS = "poll=529/ra=0.05,reset,503,500,429/ra=0,stall/1,504,ok,529"
AWS = {"x-streamsafe-aws": "1"}


def requests(n: int = 3) -> list[dict[str, Any]]:
    items = [{"custom_id": f"plain-{i}", "params": PARAMS} for i in range(n)]
    items.append({"custom_id": "errored-overloaded_error-1", "params": PARAMS})
    items.append({"custom_id": "expired-1", "params": PARAMS})
    return items


# -- observers -------------------------------------------------------------------------


@dataclass
class Recorded:
    starts: int = 0
    retries: list[RetryScheduled] = field(default_factory=list)
    polls: list[BatchPoll] = field(default_factory=list)
    resumes: list[BatchResume] = field(default_factory=list)
    ends: list[BatchEnd] = field(default_factory=list)


class Recording(Observer):
    """Every batch event per operation; no event may follow the end."""

    def __init__(self) -> None:
        self.ops: dict[BatchOperation, Recorded] = {}

    def _of(self, op: BatchOperation) -> Recorded:
        record = self.ops[op]
        assert not record.ends, "an event after the end"
        return record

    def on_batch_start(self, op: BatchOperation) -> None:
        assert op not in self.ops
        self.ops[op] = Recorded(starts=1)

    def on_batch_retry(self, op: BatchOperation, retry: RetryScheduled) -> None:
        self._of(op).retries.append(retry)

    def on_batch_poll(self, op: BatchOperation, poll: BatchPoll) -> None:
        self._of(op).polls.append(poll)

    def on_batch_resume(self, op: BatchOperation, resume: BatchResume) -> None:
        self._of(op).resumes.append(resume)

    def on_batch_end(self, op: BatchOperation, end: BatchEnd) -> None:
        self.ops[op].ends.append(end)


class Tee(Observer):
    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def on_batch_start(self, op: BatchOperation) -> None:
        for o in self.observers:
            o.on_batch_start(op)

    def on_batch_retry(self, op: BatchOperation, retry: RetryScheduled) -> None:
        for o in self.observers:
            o.on_batch_retry(op, retry)

    def on_batch_poll(self, op: BatchOperation, poll: BatchPoll) -> None:
        for o in self.observers:
            o.on_batch_poll(op, poll)

    def on_batch_resume(self, op: BatchOperation, resume: BatchResume) -> None:
        for o in self.observers:
            o.on_batch_resume(op, resume)

    def on_batch_end(self, op: BatchOperation, end: BatchEnd) -> None:
        for o in self.observers:
            o.on_batch_end(op, end)


class Telemetry:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.otel = OpenTelemetryObserver(tracer_provider=provider)
        self.recording = Recording()
        self.observer = Tee(self.recording, self.otel)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def check(self) -> None:
        """Every operation started once, ended once, and gave exactly one ended span."""
        assert self.otel._batch_ops == {}, "a span left open"
        records = list(self.recording.ops.values())
        for record in records:
            assert record.starts == 1
            assert len(record.ends) == 1, record.ends
        spans = self.spans()
        assert len(spans) == len(records), ([s.name for s in spans], len(records))
        for span in spans:
            assert span.kind is SpanKind.CLIENT
            assert span.end_time is not None
            attributes = span.attributes or {}
            assert attributes["gen_ai.provider.name"] == "anthropic"
            assert span.name.split(" ")[0] == attributes["gen_ai.operation.name"]

    def only(self, operation: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name.split(" ")[0] == operation]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def record(self, name: str) -> Recorded:
        found = [r for op, r in self.recording.ops.items() if op.name == name]
        assert len(found) == 1, found
        return found[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def ok(span: ReadableSpan) -> None:
    assert span.status.status_code is StatusCode.UNSET, span.status
    assert "error.type" not in attrs(span)


def failed(span: ReadableSpan, error_type: str) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == error_type


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


def aclient(emu: Emulator, telemetry: Telemetry, **options: Any) -> AsyncClient:
    return AsyncClient(
        base_url=emu.url, api_key="test", backoff=FAST, observer=telemetry.observer, **options
    )


def sclient(emu: Emulator, telemetry: Telemetry, **options: Any) -> Client:
    return Client(
        base_url=emu.url, api_key="test", backoff=FAST, observer=telemetry.observer, **options
    )


def ended_batch(emu: Emulator, n: int, script: str = "") -> tuple[str, int]:
    """A batch that has ended (made directly, unobserved), and the size of its results file."""
    with httpx.Client(base_url=emu.url) as http:
        clean = http.post(
            "/v1/messages/batches",
            json={"requests": requests(n)},
            headers={BATCH_HEADER: "speed=1e6"},
        ).json()
        size = len(http.get(f"/v1/messages/batches/{clean['id']}/results").content)
        created = http.post(
            "/v1/messages/batches",
            json={"requests": requests(n)},
            headers={BATCH_HEADER: f"speed=1e6;{script}"},
        ).json()
    emu.clear()
    return created["id"], size


# -- every operation, completed --------------------------------------------------------


def check_lifecycle(telemetry: Telemetry, batch_id: str) -> None:
    telemetry.check()
    names = sorted(s.name for s in telemetry.spans())
    assert names == sorted(
        [
            f"batches.create {MODEL}",
            "batches.retrieve",
            "batches.wait",
            "batches.results",
            "batches.list",
            "batches.cancel",
            "batches.delete",
        ]
    )
    for span in telemetry.spans():
        ok(span)
        a = attrs(span)
        assert a["streamsafe.outcome"] == "completed"
        assert a["server.address"] == "127.0.0.1"
        assert a["streamsafe.attempts"] >= 1
        assert str(a["anthropic.request_id"]).startswith("req_")
        assert a["aws.request_id"]
        if not span.name.startswith("batches.list"):
            assert a["anthropic.batch.id"] == batch_id, span.name
    create = attrs(telemetry.only("batches.create"))
    assert create["gen_ai.request.model"] == MODEL
    assert create["anthropic.batch.requests"] == 5
    assert create["anthropic.batch.request_counts.processing"] == 5
    wait = attrs(telemetry.only("batches.wait"))
    assert wait["anthropic.batch.processing_status"] == "ended"
    assert wait["anthropic.batch.request_counts.succeeded"] == 3
    assert wait["anthropic.batch.request_counts.errored"] == 1
    assert wait["anthropic.batch.request_counts.expired"] == 1
    assert wait["streamsafe.batch.polls"] >= 1
    assert wait["streamsafe.batch.failed_polls"] == 0
    results = attrs(telemetry.only("batches.results"))
    assert results["streamsafe.batch.rows"] == 5
    assert results["streamsafe.batch.rows.succeeded"] == 3
    assert results["streamsafe.batch.rows.errored"] == 1
    assert results["streamsafe.batch.rows.expired"] == 1
    assert results["streamsafe.batch.resumes"] == 0
    assert attrs(telemetry.only("batches.list"))["streamsafe.batch.listed"] >= 1
    assert "gen_ai.request.model" not in attrs(telemetry.only("batches.wait"))


async def test_every_operation_one_span(emu: Emulator, telemetry: Telemetry) -> None:
    headers = {**AWS, BATCH_HEADER: QUICK}
    async with aclient(emu, telemetry, default_headers=headers) as client:
        batches = client.messages.batches
        batch = await batches.create(requests())
        await batches.retrieve(batch)
        ended = await batches.wait(batch, poll_interval=0.02)
        async with batches.results(ended) as results:
            assert len([item async for item in results]) == 5
        assert [b.id async for b in batches.list()] == [batch.id]
        await batches.cancel(batch)
        await batches.delete(batch)
    check_lifecycle(telemetry, batch.id)
    wait = telemetry.record("wait")
    assert wait.polls[-1].delay is None
    assert wait.polls[-1].batch is not None
    assert wait.polls[-1].batch.ended
    assert all(p.request_id for p in wait.polls)


def test_sync_every_operation_one_span(emu: Emulator, telemetry: Telemetry) -> None:
    headers = {**AWS, BATCH_HEADER: QUICK}
    with sclient(emu, telemetry, default_headers=headers) as client:
        batches = client.messages.batches
        batch = batches.create(requests())
        batches.retrieve(batch)
        ended = batches.wait(batch, poll_interval=0.02)
        with batches.results(ended) as results:
            assert len(list(results)) == 5
        assert [b.id for b in batches.list()] == [batch.id]
        batches.cancel(batch)
        batches.delete(batch)
    check_lifecycle(telemetry, batch.id)


async def test_run_is_a_create_a_wait_and_a_results(emu: Emulator, telemetry: Telemetry) -> None:
    async with aclient(emu, telemetry, default_headers={BATCH_HEADER: QUICK}) as client:
        async with client.messages.batches.run(requests(), poll_interval=0.02) as results:
            assert len([item async for item in results]) == 5
        telemetry.check()
    assert sorted(s.name for s in telemetry.spans()) == [
        f"batches.create {MODEL}",
        "batches.results",
        "batches.wait",
    ]
    assert results.batch is not None
    assert attrs(telemetry.only("batches.results"))["anthropic.batch.id"] == results.batch.id


# -- failures --------------------------------------------------------------------------


async def test_typed_errors_fail_the_operation(emu: Emulator, telemetry: Telemetry) -> None:
    async with aclient(emu, telemetry) as client:
        with pytest.raises(NotFoundError):
            await client.messages.batches.retrieve("msgbatch_nope")
        with pytest.raises(NotFoundError):
            await client.messages.batches.wait("msgbatch_nope", poll_interval=0.01)
        with pytest.raises(streamsafe.BatchRequestError):
            await client.messages.batches.create([])  # refused locally: no operation
    telemetry.check()
    failed(telemetry.only("batches.retrieve"), "NotFoundError")
    failed(telemetry.only("batches.wait"), "NotFoundError")
    assert telemetry.record("retrieve").ends[0].outcome == "failed"
    assert isinstance(telemetry.record("wait").ends[0].error, NotFoundError)


async def test_a_wait_timing_out_fails_with_the_last_state(
    emu: Emulator, telemetry: Telemetry
) -> None:
    async with aclient(emu, telemetry) as client:
        batch = await client.messages.batches.create(
            requests(1), extra_headers={BATCH_HEADER: "speed=1;duration=100"}
        )
        with pytest.raises(BatchWaitTimeoutError):
            await client.messages.batches.wait(batch, timeout=0.15, poll_interval=0.02)
    telemetry.check()
    wait = telemetry.only("batches.wait")
    failed(wait, "BatchWaitTimeoutError")
    assert attrs(wait)["anthropic.batch.processing_status"] == "in_progress"
    assert attrs(wait)["streamsafe.outcome"] == "failed"


async def test_a_retried_request_is_one_span_with_retry_events(
    emu: Emulator, telemetry: Telemetry
) -> None:
    async with aclient(emu, telemetry) as client:
        batch = await client.messages.batches.create(
            requests(1), extra_headers={BATCH_HEADER: "poll=529,reset"}
        )
        await client.messages.batches.retrieve(batch)
    telemetry.check()
    span = telemetry.only("batches.retrieve")
    ok(span)
    assert attrs(span)["streamsafe.attempts"] == 3
    events = [e for e in span.events if e.name == "streamsafe.retry"]
    assert [dict(e.attributes or {})["error.type"] for e in events] == [
        "OverloadedError",
        "APIConnectionError",
    ]
    assert [r.attempt for r in telemetry.record("retrieve").retries] == [1, 2]


# -- wait: poll faults survived, cancellation ---------------------------------------


async def test_wait_survives_poll_faults_as_span_events(
    emu: Emulator, telemetry: Telemetry
) -> None:
    async with aclient(emu, telemetry, timeout=0.3) as client:
        batch = await client.messages.batches.create(
            requests(2), extra_headers={BATCH_HEADER: f"speed=1;duration=2;{POLL_FAULTS}"}
        )
        ended = await client.messages.batches.wait(
            batch, poll_interval=0.02, max_poll_interval=0.05
        )
        assert ended.ended
    telemetry.check()
    span = telemetry.only("batches.wait")
    ok(span)
    a = attrs(span)
    assert a["streamsafe.batch.failed_polls"] == 8
    retries = [dict(e.attributes or {}) for e in span.events if e.name == "streamsafe.retry"]
    assert [r["error.type"] for r in retries] == [
        "OverloadedError",
        "APIConnectionError",
        "ServiceUnavailableError",
        "InternalServerError",
        "RateLimitError",
        "APITimeoutError",
        "GatewayTimeoutError",
        "OverloadedError",
    ]
    assert all(r["streamsafe.retry.delay"] >= 0 for r in retries)
    assert "anthropic.request_id" in retries[0]  # a 529 has one; a reset has none
    assert "anthropic.request_id" not in retries[1]
    polls = [dict(e.attributes or {}) for e in span.events if e.name == "streamsafe.batch.poll"]
    assert polls
    assert polls[-1]["anthropic.batch.processing_status"] == "ended"
    assert len(polls) + len(retries) == a["streamsafe.batch.polls"]
    assert a["streamsafe.attempts"] == a["streamsafe.batch.polls"]
    assert a["anthropic.batch.processing_status"] == "ended"


async def test_cancelling_the_wait_ends_it_once_after_the_remote_cancel(
    emu: Emulator, telemetry: Telemetry
) -> None:
    async with aclient(emu, telemetry) as client:
        batch = await client.messages.batches.create(
            requests(2), extra_headers={BATCH_HEADER: "speed=10;duration=100"}
        )
        with anyio.move_on_after(0.2):
            await client.messages.batches.wait(batch, poll_interval=0.02, cancel_on_exit=True)
    telemetry.check()
    wait = telemetry.only("batches.wait")
    failed(wait, "cancelled")
    assert attrs(wait)["streamsafe.outcome"] == "abandoned"
    assert attrs(wait)["streamsafe.abandon_reason"] == "cancelled"
    cancel = telemetry.only("batches.cancel")
    ok(cancel)
    assert attrs(cancel)["anthropic.batch.processing_status"] == "canceling"
    # The cancel ran inside the wait, which ended after it.
    assert wait.start_time is not None
    assert cancel.start_time is not None
    assert wait.end_time is not None
    assert cancel.end_time is not None
    assert wait.start_time < cancel.start_time
    assert cancel.end_time <= wait.end_time


def test_sync_interrupted_wait_ends_once(emu: Emulator, telemetry: Telemetry) -> None:
    def interrupt(progress: streamsafe.BatchProgress) -> None:
        raise KeyboardInterrupt

    with sclient(emu, telemetry) as client:
        batch = client.messages.batches.create(requests(1), extra_headers={BATCH_HEADER: "speed=1"})
        with pytest.raises(KeyboardInterrupt):
            client.messages.batches.wait(
                batch, poll_interval=0.02, cancel_on_exit=True, on_progress=interrupt
            )
    telemetry.check()
    wait = telemetry.only("batches.wait")
    failed(wait, "KeyboardInterrupt")
    assert attrs(wait)["streamsafe.abandon_reason"] == "closed"
    ok(telemetry.only("batches.cancel"))


# -- results: resumed, left early, garbage-collected ----------------------------------


def check_resumed(telemetry: Telemetry, cuts: int) -> None:
    telemetry.check()
    span = telemetry.only("batches.results")
    ok(span)
    a = attrs(span)
    assert a["streamsafe.batch.resumes"] == cuts
    assert a["streamsafe.batch.rows"] == 22
    assert a["streamsafe.batch.rows.succeeded"] == 20
    assert a["streamsafe.batch.rows.errored"] == 1
    assert a["streamsafe.batch.rows.expired"] == 1
    assert a["streamsafe.attempts"] == cuts + 1  # the downloads (the retrieve is its own span)
    events = [dict(e.attributes or {}) for e in span.events if e.name == "streamsafe.batch.resume"]
    assert [e["streamsafe.batch.resume"] for e in events] == list(range(1, cuts + 1))
    offsets = [e["streamsafe.batch.offset"] for e in events]
    assert offsets == sorted(offsets)
    assert all(e["error.type"] == "APIConnectionError" for e in events)
    record = telemetry.record("results")
    assert record.ends[0].results == {"succeeded": 20, "errored": 1, "expired": 1}


@pytest.mark.parametrize("ranges", ["1", "0"])
async def test_a_cut_download_resumed_is_one_span(
    emu: Emulator, telemetry: Telemetry, ranges: str
) -> None:
    _, size = ended_batch(emu, 20)
    cuts = ",".join(str(size * k // 4) for k in range(1, 4))
    batch_id, _ = ended_batch(emu, 20, f"range={ranges};cut={cuts}")
    async with aclient(emu, telemetry) as client:
        async with client.messages.batches.results(batch_id) as results:
            assert len([item async for item in results]) == 22
        check_resumed(telemetry, 3)
    retrieve = telemetry.only("batches.retrieve")  # the results asked for the batch first
    ok(retrieve)
    resumes = telemetry.record("results").resumes
    assert all(r.ranged is (ranges == "1") for r in resumes)


def test_sync_a_cut_download_resumed_is_one_span(emu: Emulator, telemetry: Telemetry) -> None:
    _, size = ended_batch(emu, 20)
    cuts = ",".join(str(size * k // 4) for k in range(1, 4))
    batch_id, _ = ended_batch(emu, 20, f"cut={cuts}")
    with sclient(emu, telemetry) as client:
        with client.messages.batches.results(batch_id) as results:
            assert len(list(results)) == 22
        check_resumed(telemetry, 3)


async def test_too_many_cuts_fail_the_results(emu: Emulator, telemetry: Telemetry) -> None:
    batch_id, _ = ended_batch(emu, 2, "cut=0,0,0,0")
    async with aclient(emu, telemetry, max_retries=2) as client:
        async with client.messages.batches.results(batch_id) as results:
            with pytest.raises(streamsafe.APIConnectionError):
                await results.__anext__()
            with pytest.raises(StopAsyncIteration):
                await results.__anext__()  # still ended once
        telemetry.check()
    span = telemetry.only("batches.results")
    failed(span, "APIConnectionError")
    assert attrs(span)["streamsafe.batch.resumes"] == 2


async def test_results_and_list_left_early_are_abandoned_not_errors(
    emu: Emulator, telemetry: Telemetry
) -> None:
    batch_id, _ = ended_batch(emu, 10)
    async with aclient(emu, telemetry) as client:
        async with client.messages.batches.results(batch_id) as results:
            async for _ in results:
                break
        listing = client.messages.batches.list(limit=1)
        async for _ in listing:
            break
        await listing.aclose()  # type: ignore[attr-defined]
        unread = client.messages.batches.results(batch_id)
        await unread.aclose()  # never iterated: no operation
    telemetry.check()
    for name in ("batches.results", "batches.list"):
        span = telemetry.only(name)
        ok(span)
        assert attrs(span)["streamsafe.outcome"] == "abandoned"
        assert attrs(span)["streamsafe.abandon_reason"] == "closed"


def test_sync_results_garbage_collected_end_once(
    emu: Emulator, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    batch_id, _ = ended_batch(emu, 10)
    with sclient(emu, telemetry) as client:
        results = client.messages.batches.results(batch_id)
        next(results)
        results._drop_response()  # what a finished download leaves: nothing open
        with caplog.at_level(logging.WARNING, logger="streamsafe"):
            del results
            gc.collect()
    telemetry.check()
    span = telemetry.only("batches.results")
    failed(span, "garbage_collected")
    assert "garbage_collected" in caplog.text


def test_without_an_observer_nothing_is_counted(emu: Emulator) -> None:
    batch_id, _ = ended_batch(emu, 3)
    client = Client(base_url=emu.url, api_key="test", backoff=FAST)
    with client, client.messages.batches.results(batch_id) as results:
        assert len(list(results)) == 5
        assert results._op is not None
        assert results._op.results == {}  # nothing per row without an observer
        assert results._op.ended is not None
        assert results._op.ended.outcome == "completed"
