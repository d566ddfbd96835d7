"""Message Batches over real loopback TCP against the emulator: asyncio, trio and sync.

Every row type with its typed error (the class a live call raises), every poll
fault survived, the results download cut at every tenth of its body and
resumed with no row lost or repeated (with and without ``Range``), the
remote batch cancelled when a wait is interrupted, the local checks (nothing
sent), the emulator's limits, and no connection left checked out.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

import streamsafe
import streamsafe._client
from client_support import CLASS_FOR_ERROR_TYPE, FAST
from reliability_support import busy_connections
from streamsafe import (
    AsyncClient,
    BadRequestError,
    BatchCanceled,
    BatchErrored,
    BatchExpired,
    BatchProgress,
    BatchRequestError,
    BatchResult,
    BatchSucceeded,
    BatchWaitTimeoutError,
    Client,
    GatewayTimeoutError,
    InternalServerError,
    LineTooLargeError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
)
from streamsafe.testing import BATCH_HEADER, Emulator

pytestmark = pytest.mark.anyio

PARAMS: dict[str, Any] = {
    "model": "claude-emulated",
    "max_tokens": 24,
    "messages": [{"role": "user", "content": "Tell me about rivers"}],
}
RETRYABLE_TYPES = {"rate_limit_error", "api_error", "timeout_error", "overloaded_error"}
BATCH = BATCH_HEADER
#: Fast clock: 60 emulated seconds of processing take 0.1 s.
QUICK = "speed=600;duration=60"


def requests(n: int = 12) -> list[dict[str, Any]]:
    """``n`` plain items, one errored per documented type, one expired, one invalid."""
    items = [{"custom_id": f"plain-{i}", "params": PARAMS} for i in range(n)]
    items += [{"custom_id": f"errored-{t}-1", "params": PARAMS} for t in CLASS_FOR_ERROR_TYPE]
    items.append({"custom_id": "expired-1", "params": PARAMS})
    items.append({"custom_id": "invalid", "params": {"model": "claude-emulated"}})
    return items


def aclient(emu: Emulator, **options: Any) -> AsyncClient:
    return AsyncClient(base_url=emu.url, api_key="test", backoff=FAST, **options)


def sclient(emu: Emulator, **options: Any) -> Client:
    return Client(base_url=emu.url, api_key="test", backoff=FAST, **options)


def polls(emu: Emulator, batch_id: str) -> int:
    return sum(
        1 for r in emu.requests if r.method == "GET" and r.path.endswith(f"/batches/{batch_id}")
    )


def check_results(items: list[BatchResult], n: int = 12) -> None:
    ids = [item.custom_id for item in items]
    assert len(ids) == len(set(ids)) == n + len(CLASS_FOR_ERROR_TYPE) + 2
    by_id = {item.custom_id: item for item in items}
    for i in range(n):
        item = by_id[f"plain-{i}"]
        assert isinstance(item, BatchSucceeded)
        assert item.message.id.startswith("msg_")
        assert item.message.text
    for error_type, cls in CLASS_FOR_ERROR_TYPE.items():
        item = by_id[f"errored-{error_type}-1"]
        assert isinstance(item, BatchErrored)
        assert type(item.error) is cls
        assert item.error is not None
        assert item.error.error_type == error_type
        assert item.error.custom_id == item.custom_id
        assert item.error.request_id is not None
        assert item.error.request_id.startswith("req_")
        assert item.retryable is (error_type in RETRYABLE_TYPES)
        assert item.custom_id in str(item.error)
    assert isinstance(by_id["expired-1"], BatchExpired)
    invalid = by_id["invalid"]
    assert isinstance(invalid, BatchErrored)
    assert type(invalid.error) is BadRequestError
    assert "max_tokens" in invalid.error.message


# ---------------------------------------------------------------------------
# the whole road: create, wait, results, list, delete
# ---------------------------------------------------------------------------


async def test_every_row_type_with_its_typed_error(emu: Emulator) -> None:
    async with aclient(emu) as client:
        batch = await client.messages.batches.create(requests(), extra_headers={BATCH: QUICK})
        assert batch.processing_status == "in_progress"
        assert batch.request_counts.processing == batch.request_counts.total == 24
        ended = await client.messages.batches.wait(batch, poll_interval=0.02)
        assert ended.ended
        assert ended.results_url is not None
        counts = ended.request_counts
        assert (counts.succeeded, counts.errored, counts.expired) == (12, 11, 1)
        async with client.messages.batches.results(ended) as results:
            items = [item async for item in results]
        check_results(items)
        assert busy_connections(client) == []


def test_sync_every_row_type_with_its_typed_error(emu: Emulator) -> None:
    with sclient(emu) as client:
        batch = client.messages.batches.create(requests(), extra_headers={BATCH: QUICK})
        ended = client.messages.batches.wait(batch.id, poll_interval=0.02)
        with client.messages.batches.results(ended.id) as results:
            check_results(list(results))
        assert busy_connections(client) == []


async def test_list_pages_and_delete(emu: Emulator) -> None:
    async with aclient(emu) as client:
        batches = client.messages.batches
        made = [
            await batches.create(requests(1), extra_headers={BATCH: "speed=1e6"}) for _ in range(5)
        ]
        newest_first = [b.id async for b in batches.list(limit=2)]
        assert newest_first[:5] == [b.id for b in reversed(made)]
        assert len(newest_first) == len(set(newest_first))
        pages = [r for r in emu.requests if r.path == "/v1/messages/batches" and r.method == "GET"]
        assert len(pages) >= 3
        older = [b.id async for b in batches.list(limit=2, after_id=made[2].id)]
        assert older[:2] == [made[1].id, made[0].id]
        newer = [b.id async for b in batches.list(limit=1, before_id=made[2].id)]
        assert newer == [made[3].id, made[4].id][: len(newer)]
        assert newer
        await anyio.sleep(0.01)
        for batch in made:
            deleted = await batches.delete(batch)
            assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
        with pytest.raises(NotFoundError):
            await batches.retrieve(made[0].id)
        assert busy_connections(client) == []


def test_sync_list_pages(emu: Emulator) -> None:
    with sclient(emu) as client:
        made = [client.messages.batches.create(requests(1)) for _ in range(3)]
        listed = [b.id for b in client.messages.batches.list(limit=1)]
        assert listed[:3] == [b.id for b in reversed(made)]


# ---------------------------------------------------------------------------
# wait: every poll fault survived
# ---------------------------------------------------------------------------

POLL_FAULTS = "poll=529/ra=0.05,reset,503,500,429/ra=0,stall/1,504,ok,529"


async def test_wait_survives_every_poll_fault(emu: Emulator) -> None:
    seen: list[BatchProgress] = []
    async with aclient(emu, timeout=0.3) as client:
        batch = await client.messages.batches.create(
            requests(2), extra_headers={BATCH: f"speed=1;duration=2;{POLL_FAULTS}"}
        )
        ended = await client.messages.batches.wait(
            batch, poll_interval=0.02, max_poll_interval=0.05, on_progress=seen.append
        )
        assert ended.ended
        failures = [type(p.error) for p in seen if p.error is not None]
        assert failures == [
            OverloadedError,
            streamsafe.APIConnectionError,
            streamsafe.ServiceUnavailableError,
            InternalServerError,
            RateLimitError,
            streamsafe.APITimeoutError,
            GatewayTimeoutError,
            OverloadedError,
        ]
        assert seen[-1].ended
        assert seen[-1].failed_polls == 8
        assert seen[-1].time_left > 0
        assert seen[-1].elapsed >= 0
        assert polls(emu, batch.id) == seen[-1].polls
        assert busy_connections(client) == []


def test_sync_wait_survives_every_poll_fault(emu: Emulator) -> None:
    seen: list[BatchProgress] = []
    with sclient(emu, timeout=0.3) as client:
        batch = client.messages.batches.create(
            requests(2), extra_headers={BATCH: f"speed=1;duration=2;{POLL_FAULTS}"}
        )
        ended = client.messages.batches.wait(
            batch, poll_interval=0.02, max_poll_interval=0.05, on_progress=seen.append
        )
        assert ended.ended
        assert seen[-1].failed_polls == 8
        assert busy_connections(client) == []


async def test_wait_honours_retry_after_on_polls(emu: Emulator) -> None:
    async with aclient(emu) as client:
        batch = await client.messages.batches.create(
            requests(1), extra_headers={BATCH: "speed=1;duration=0.5;poll=529/ra=0.4"}
        )
        started = anyio.current_time()
        await client.messages.batches.wait(batch, poll_interval=0.01, max_poll_interval=0.02)
        assert anyio.current_time() - started >= 0.4


async def test_a_non_retryable_poll_error_ends_the_wait(emu: Emulator) -> None:
    async with aclient(emu) as client:
        with pytest.raises(NotFoundError):
            await client.messages.batches.wait("msgbatch_nope", poll_interval=0.01)
        batch = await client.messages.batches.create(requests(1), extra_headers={BATCH: "poll=403"})
        with pytest.raises(PermissionDeniedError):
            await client.messages.batches.wait(batch, poll_interval=0.01)


async def test_wait_timeout_raises_with_the_last_state(emu: Emulator) -> None:
    async with aclient(emu) as client:
        batch = await client.messages.batches.create(
            requests(1), extra_headers={BATCH: "speed=1;duration=100"}
        )
        with pytest.raises(BatchWaitTimeoutError) as caught:
            await client.messages.batches.wait(batch, timeout=0.2, poll_interval=0.02)
        assert isinstance(caught.value, TimeoutError)
        last = caught.value.batch
        assert isinstance(last, streamsafe.MessageBatch)
        assert last.id == batch.id
        assert (await client.messages.batches.retrieve(batch)).processing_status == "in_progress"


# ---------------------------------------------------------------------------
# cancellation cancels the remote batch
# ---------------------------------------------------------------------------


async def test_cancelling_the_wait_cancels_the_remote_batch(emu: Emulator) -> None:
    async with aclient(emu) as client:
        batch = await client.messages.batches.create(
            requests(4), extra_headers={BATCH: "speed=10;duration=100"}
        )
        with anyio.move_on_after(0.3):
            await client.messages.batches.wait(batch, poll_interval=0.02, cancel_on_exit=True)
        cancels = [r for r in emu.requests if r.path.endswith(f"{batch.id}/cancel")]
        assert len(cancels) == 1
        now = await client.messages.batches.retrieve(batch)
        assert now.processing_status == "canceling"
        assert now.cancel_initiated_at is not None
        ended = await client.messages.batches.wait(batch, poll_interval=0.05)
        assert ended.request_counts.canceled == ended.request_counts.total - 1  # expired-1
        async with client.messages.batches.results(ended) as results:
            assert {type(item) async for item in results} == {BatchCanceled, BatchExpired}
        # Without cancel_on_exit the batch keeps running.
        other = await client.messages.batches.create(requests(1))
        with anyio.move_on_after(0.1):
            await client.messages.batches.wait(other, poll_interval=0.02)
        assert not [r for r in emu.requests if r.path.endswith(f"{other.id}/cancel")]
        assert busy_connections(client) == []


def test_sync_interrupt_cancels_the_remote_batch(emu: Emulator) -> None:
    def interrupt(progress: BatchProgress) -> None:
        raise KeyboardInterrupt

    with sclient(emu) as client:
        batch = client.messages.batches.create(requests(1), extra_headers={BATCH: "speed=1"})
        with pytest.raises(KeyboardInterrupt):
            client.messages.batches.wait(
                batch, poll_interval=0.02, cancel_on_exit=True, on_progress=interrupt
            )
        assert client.messages.batches.retrieve(batch).processing_status == "canceling"


# ---------------------------------------------------------------------------
# results exactly once through cut downloads
# ---------------------------------------------------------------------------


def ended_batch(emu: Emulator, n: int, script: str = "") -> tuple[str, bytes]:
    """A batch that has ended, and its clean results body (fetched directly)."""
    with httpx.Client(base_url=emu.url) as http:
        created = http.post(
            "/v1/messages/batches",
            json={"requests": requests(n)},
            headers={BATCH: f"speed=1e6;{script}"},
        ).json()
        batch_id = created["id"]
        # Reading the body here would consume the first cut: the clean body
        # comes from a batch without cuts and the same items.
        clean = http.post(
            "/v1/messages/batches", json={"requests": requests(n)}, headers={BATCH: "speed=1e6"}
        ).json()
        body = http.get(f"/v1/messages/batches/{clean['id']}/results").content
    return batch_id, body


@pytest.mark.parametrize("ranges", ["1", "0"])
async def test_download_cut_at_every_tenth_resumes_exactly_once(emu: Emulator, ranges: str) -> None:
    _, body = ended_batch(emu, 30)
    cuts = ",".join(str(len(body) * k // 10) for k in range(1, 10))
    batch_id, _ = ended_batch(emu, 30, f"range={ranges};cut={cuts}")
    async with aclient(emu) as client:
        async with client.messages.batches.results(batch_id) as results:
            items = [item async for item in results]
            assert results.resumes == 9
        check_results(items, 30)
        downloads = [r for r in emu.requests if r.path.endswith(f"{batch_id}/results")]
        assert len(downloads) == 10
        sent_ranges = [r.headers.get("range") for r in downloads]
        if ranges == "1":
            assert sent_ranges[0] is None
            assert all(sent_ranges[1:])
        else:
            assert sent_ranges == [None] * 10
        assert busy_connections(client) == []


def test_sync_download_cut_resumes_exactly_once(emu: Emulator) -> None:
    _, body = ended_batch(emu, 30)
    cuts = ",".join(str(len(body) * k // 10) for k in range(1, 10))
    for ranges in ("1", "0"):
        batch_id, _ = ended_batch(emu, 30, f"range={ranges};cut={cuts}")
        with sclient(emu) as client:
            with client.messages.batches.results(batch_id) as results:
                check_results(list(results), 30)
                assert results.resumes == 9
            assert busy_connections(client) == []


async def test_too_many_cuts_without_progress_raise(emu: Emulator) -> None:
    batch_id, _ = ended_batch(emu, 2, "cut=0,0,0,0")
    async with aclient(emu, max_retries=2) as client:
        async with client.messages.batches.results(batch_id) as results:
            with pytest.raises(streamsafe.APIConnectionError):
                await results.__anext__()
        assert results.resumes == 2
        assert busy_connections(client) == []


async def test_a_line_over_the_limit_is_typed_and_the_response_closed(emu: Emulator) -> None:
    batch_id, _ = ended_batch(emu, 2)
    async with aclient(emu) as client:
        results = client.messages.batches.results(batch_id, max_line_bytes=100)
        with pytest.raises(LineTooLargeError):
            async for _ in results:
                pass
        assert busy_connections(client) == []


async def test_leaving_early_closes_the_response(emu: Emulator) -> None:
    batch_id, _ = ended_batch(emu, 40)
    async with aclient(emu) as client:
        async with client.messages.batches.results(batch_id) as results:
            async for _ in results:
                break
        assert busy_connections(client) == []


async def test_results_before_the_end_is_a_clear_error(emu: Emulator) -> None:
    async with aclient(emu) as client:
        batch = await client.messages.batches.create(requests(1), extra_headers={BATCH: "speed=1"})
        with pytest.raises(streamsafe.APIError, match="no results_url yet"):
            async for _ in client.messages.batches.results(batch):
                pass


# ---------------------------------------------------------------------------
# run and resubmit
# ---------------------------------------------------------------------------


async def test_run_then_resubmit_what_is_worth_another_try(emu: Emulator) -> None:
    items = requests(3)
    seen: list[BatchProgress] = []
    async with aclient(emu, default_headers={BATCH: QUICK}) as client:
        async with client.messages.batches.run(
            items, poll_interval=0.02, on_progress=seen.append
        ) as results:
            got = [item async for item in results]
        check_results(got, 3)
        assert results.batch is not None
        assert seen[-1].batch.id == results.batch.id
        again = await client.messages.batches.resubmit(results.batch, items)
        assert again is not None
        retried = {f"errored-{t}-1" for t in RETRYABLE_TYPES} | {"expired-1"}
        assert again.request_counts.total == len(retried)
        body = next(r for r in reversed(emu.requests) if r.method == "POST")
        assert body.path == "/v1/messages/batches"
        none = await client.messages.batches.resubmit(results.batch, items, which=("canceled",))
        assert none is None
        with pytest.raises(ValueError, match="which"):
            await client.messages.batches.resubmit(results.batch, items, which=("oops",))


def test_sync_run_and_resubmit_everything_errored(emu: Emulator) -> None:
    items = requests(2)
    with sclient(emu, default_headers={BATCH: QUICK}) as client:
        with client.messages.batches.run(items, poll_interval=0.02) as results:
            check_results(list(results), 2)
        assert results.batch is not None
        params = {item["custom_id"]: item["params"] for item in items}
        again = client.messages.batches.resubmit(results.batch, params, which=("errored",))
        assert again is not None
        assert again.request_counts.total == 11
        assert busy_connections(client) == []


async def test_run_cancelled_while_waiting_cancels_the_batch(emu: Emulator) -> None:
    async with aclient(emu, default_headers={BATCH: "speed=1"}) as client:
        with anyio.move_on_after(0.2):
            async with client.messages.batches.run(requests(1), poll_interval=0.02) as results:
                async for _ in results:
                    pass
        assert any(r.path.endswith("/cancel") for r in emu.requests)
        assert busy_connections(client) == []


# ---------------------------------------------------------------------------
# local checks: a clear typed error, nothing sent
# ---------------------------------------------------------------------------

BAD: list[tuple[list[Any], str]] = [
    ([{"custom_id": "a b", "params": PARAMS}], r"requests\[0\]: custom_id 'a b'"),
    ([{"custom_id": "x" * 65, "params": PARAMS}], r"1 to 64 characters"),
    ([{"custom_id": "", "params": PARAMS}], r"custom_id ''"),
    ([{"custom_id": 7, "params": PARAMS}], r"custom_id 7"),
    ([{"custom_id": "ok\n", "params": PARAMS}], r"custom_id 'ok\\n'"),
    (
        [{"custom_id": "a", "params": PARAMS}, {"custom_id": "a", "params": PARAMS}],
        r"requests\[1\]: custom_id 'a' repeats requests\[0\]",
    ),
    ([{"custom_id": "s", "params": {**PARAMS, "stream": True}}], r"\('s'\): params must not"),
    ([{"custom_id": "p", "params": "text"}], r"params must be the Messages request body"),
    (["not a mapping"], r"requests\[0\] must be a mapping"),
    ([], r"at least one request"),
]


@pytest.mark.parametrize(("items", "match"), BAD)
async def test_local_checks_refuse_before_sending(
    emu: Emulator, items: list[Any], match: str
) -> None:
    async with aclient(emu) as client:
        with pytest.raises(BatchRequestError, match=match) as caught:
            await client.messages.batches.create(items)
        with pytest.raises(BatchRequestError, match=match):
            client.messages.batches.run(items)
    assert isinstance(caught.value, ValueError)
    with sclient(emu) as sync, pytest.raises(BatchRequestError, match=match):
        sync.messages.batches.create(items)
    assert emu.requests == []


def test_more_than_100000_requests_are_refused_locally(emu: Emulator) -> None:
    items = [{"custom_id": f"r{i}", "params": {}} for i in range(100_001)]
    with sclient(emu) as client, pytest.raises(BatchRequestError, match="at most 100,000") as e:
        client.messages.batches.create(items)
    assert e.value.index == 100_000
    assert emu.requests == []


def test_the_256_mb_limit_is_the_size_preflight(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = {**streamsafe._client.REQUEST_SIZE_LIMITS, "/v1/messages/batches": 2000}
    monkeypatch.setattr(streamsafe._client, "REQUEST_SIZE_LIMITS", limits)
    with sclient(emu) as client, pytest.raises(RequestTooLargeError, match="nothing was sent"):
        client.messages.batches.create(requests(20))
    assert emu.requests == []


# ---------------------------------------------------------------------------
# the emulator's limits (straight HTTP)
# ---------------------------------------------------------------------------


def test_emulator_limits(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import streamsafe.testing._batches as emulated

    with httpx.Client(base_url=emu.url) as http:
        dup = [{"custom_id": "a", "params": PARAMS}] * 2
        answer = http.post("/v1/messages/batches", json={"requests": dup})
        assert answer.status_code == 400
        assert "duplicate" in answer.json()["error"]["message"]
        bad = [{"custom_id": "a:b", "params": PARAMS}]
        answer = http.post("/v1/messages/batches", json={"requests": bad})
        assert answer.status_code == 400
        assert "custom_id" in answer.json()["error"]["message"]
        running = http.post(
            "/v1/messages/batches", json={"requests": requests(1)}, headers={BATCH: "speed=1"}
        ).json()
        answer = http.delete(f"/v1/messages/batches/{running['id']}")
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
        assert http.get("/v1/messages/batches/msgbatch_x").status_code == 404
        monkeypatch.setattr(emulated, "MAX_BATCH_BYTES", 1000)
        answer = http.post("/v1/messages/batches", json={"requests": requests(10)})
        assert answer.status_code == 413
        assert answer.json()["error"]["type"] == "request_too_large"


def test_batch_ids_are_unique_per_emulator_unless_seeded() -> None:
    def first_batch_id(emu: Emulator) -> str:
        with sclient(emu) as client:
            return client.messages.batches.create(requests(1)).id

    with Emulator() as one, Emulator() as two:
        assert first_batch_id(one) != first_batch_id(two)
    with Emulator(seed=3) as one, Emulator(seed=3) as two:
        assert first_batch_id(one) == first_batch_id(two)
