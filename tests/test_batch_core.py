"""The sans-IO batch cores: row decoding (strict and lossless), the poll decisions, resuming."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from streamsafe import (
    Backoff,
    BatchErrored,
    BatchOtherResult,
    BatchSucceeded,
    BatchWaitTimeoutError,
    MalformedEventError,
    OverloadedError,
    RampLimitExceededError,
)
from streamsafe._batch_core import ResultsDownload, Waiter
from streamsafe._batch_models import decode_batch, decode_result_row
from streamsafe._errors import APIConnectionError, APIStatusError, NotFoundError
from streamsafe._retry import RetryPolicy

MESSAGE: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def line(custom_id: str, result: dict[str, Any]) -> bytes:
    return json.dumps({"custom_id": custom_id, "result": result}).encode()


def test_a_row_with_unknown_fields_and_blocks_keeps_them() -> None:
    message = {**MESSAGE, "new_field": 1, "content": [{"type": "future_block", "x": 2}]}
    item = decode_result_row(line("a", {"type": "succeeded", "message": message}))
    assert isinstance(item, BatchSucceeded)
    assert item.message.extra_fields == {"new_field": 1}
    assert item.message.to_dict()["content"] == [{"type": "future_block", "x": 2}]


def test_errored_rows_go_through_the_one_mapping() -> None:
    error = {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "slow",
            "details": {"error_code": "ramp_limit_exceeded"},
        },
        "request_id": "req_9",
    }
    item = decode_result_row(line("b", {"type": "errored", "error": error}))
    assert isinstance(item, BatchErrored)
    assert type(item.error) is RampLimitExceededError
    assert (item.error.status_code, item.error.request_id, item.error.custom_id) == (
        429,
        "req_9",
        "b",
    )
    assert item.retryable
    odd = decode_result_row(
        line("c", {"type": "errored", "error": {"error": {"type": "overloaded_error"}}, "x": 1})
    )
    assert isinstance(odd, BatchErrored)
    assert type(odd.error) is OverloadedError


def test_unknown_result_types_and_bad_lines() -> None:
    item = decode_result_row(line("d", {"type": "deferred", "until": 5}))
    assert isinstance(item, BatchOtherResult)
    assert (item.type, item.raw["until"]) == ("deferred", 5)
    with pytest.raises(MalformedEventError, match="not JSON"):
        decode_result_row(b'{"custom_id": ')
    with pytest.raises(MalformedEventError, match="wrong shape"):
        decode_result_row(b'{"result": {}}')


def batch(status: str = "in_progress", expires: str = "2999-01-01T00:00:00Z") -> Any:
    return decode_batch(
        {
            "id": "msgbatch_1",
            "processing_status": status,
            "request_counts": {"processing": 1},
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": expires,
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_waiter_backs_off_honours_retry_after_and_never_gives_up_on_retryable() -> None:
    clock = Clock()
    waiter = Waiter(
        timeout=None, poll_interval=1, max_poll_interval=3, backoff=Backoff(jitter=0), clock=clock
    )
    assert [waiter.after_batch(batch(), None) for _ in range(4)] == [1, 1.5, 2.25, 3]
    assert waiter.after_batch(batch(), httpx.Headers({"retry-after": "20"})) == 20
    response = httpx.Response(529, headers={"retry-after": "7"})
    overloaded = OverloadedError("o", status_code=529, http_status=529, response=response)
    for _ in range(50):
        assert waiter.after_error(overloaded) == 7
    assert (
        waiter.after_error(APIConnectionError("reset")) == 8.0
    )  # 51 failures in a row: the maximum
    assert waiter.failed_polls == 51
    with pytest.raises(NotFoundError):
        waiter.after_error(NotFoundError("gone", status_code=404, http_status=404))
    assert waiter.after_batch(batch("ended"), None) is None


def test_waiter_deadline_and_expiry() -> None:
    clock = Clock()
    waiter = Waiter(
        timeout=10, poll_interval=4, max_poll_interval=60, backoff=Backoff(), clock=clock
    )
    assert waiter.after_batch(batch(), None) == 4
    clock.now = 9
    assert waiter.after_batch(batch(), None) == pytest.approx(1)
    clock.now = 10
    with pytest.raises(BatchWaitTimeoutError) as caught:
        waiter.after_batch(batch(), None)
    assert caught.value.batch is not None
    late = Waiter(timeout=None, poll_interval=1, max_poll_interval=1, backoff=Backoff())
    with pytest.raises(BatchWaitTimeoutError, match="expires_at"):
        late.after_batch(batch(expires="2000-01-01T00:00:00Z"), None)
    assert datetime(2000, 1, 1, tzinfo=timezone.utc) < datetime.now(timezone.utc)


def test_resume_checks_the_content_range_and_a_shorter_file() -> None:
    download = ResultsDownload(RetryPolicy(max_retries=1, backoff=Backoff(jitter=0)))
    first = httpx.Response(200, headers={"accept-ranges": "bytes", "etag": '"v1"'})
    download.start(first)
    assert download.feed(line("a", {"type": "expired"}) + b"\n" + b'{"custom') != []
    offset = download.reader.offset
    assert download.after_cut(APIConnectionError("cut")) == 0.5
    assert download.request_headers() == {"range": f"bytes={offset}-", "if-range": '"v1"'}
    with pytest.raises(MalformedEventError, match="content-range"):
        download.start(httpx.Response(206, headers={"content-range": "bytes 0-9/10"}))
    download.start(httpx.Response(200))  # the whole file again
    assert download.feed(b"x" * (offset - 1)) == []
    with pytest.raises(MalformedEventError, match="shorter"):
        download.finish()
    with pytest.raises(APIStatusError):
        download.after_cut(APIStatusError("no", status_code=400, http_status=400))
