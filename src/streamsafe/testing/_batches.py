"""The emulator's Message Batches endpoints, with a clock that runs fast and scripted faults.

Endpoints (the API's shapes): ``POST /v1/messages/batches``, ``GET
/v1/messages/batches`` (pages: ``limit`` 1-1000, default 20, ``after_id``,
``before_id``; newest first), ``GET .../{id}``, ``POST .../{id}/cancel``,
``DELETE .../{id}`` and ``GET .../{id}/results`` (``application/x-jsonl``,
rows in no particular order but the same on every download, ``Range:
bytes=N-`` honoured with a 206 and ``accept-ranges: bytes``).

The API's limits: a body over 256 MiB is a 413 ``request_too_large``; no
requests, more than 100,000, a ``custom_id`` not matching
``^[a-zA-Z0-9_-]{1,64}$`` or repeated, or ``params`` that is not an object
are a 400 ``invalid_request_error``; deleting a batch that has not ended is
a 400; an unknown id a 404. Problems inside ``params`` (no ``model``,
``max_tokens`` or ``messages``, ``stream: true``) come back as ``errored``
rows, as on the API.

Per-item outcomes, by ``custom_id`` prefix: ``errored-<error_type>-...``
(``errored-overloaded_error-7``; any of the ten documented types, the error
object carries a ``request_id``), ``expired-...``, ``canceled-...``; any
other id succeeds with the message ``POST /v1/messages`` would answer.

The header ``x-streamsafe-batch`` on the create request scripts the batch
(``;``-separated ``name=value``):

``speed=S``
    Emulated seconds per real second (default 3600). Timestamps
    (``created_at``, ``expires_at`` 24 h later, ``ended_at``) follow the
    emulated clock.
``duration=D``
    Emulated seconds until every item is processed (default 60). Item *i* of
    *n* finishes at ``D * (i + 1) / n``; items after 24 h expire, and the batch
    ends at ``min(D, 24 h)``. ``request_counts`` show every item as
    ``processing`` until the batch ends, as the API documents.
``poll=F1,F2,...``
    Faults for the successive ``GET .../{id}`` of this batch, one per poll:
    ``ok``, a status (``529``, ``503``, ``500``, ``429``...) optionally with
    ``/ra=SECONDS`` (a ``retry-after`` header), ``reset`` (a TCP reset
    before any response) or ``stall/SECONDS`` (no answer for that long).
``cut=K1,K2,...``
    The successive results downloads are cut (connection closed) at byte K
    of the results file (a ranged download starting past K: at once).
``range=0``
    Ignore ``Range`` (answer 200 with the whole file, no ``accept-ranges``).
``retry_after=SECONDS``
    Send ``retry-after`` on every successful poll while the batch runs.

Cancelling moves the batch to ``canceling``; it ends five emulated
seconds later (items done by then keep their outcome, the others are
``canceled``).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

import anyio
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._content import plan_response
from ._faults import ERROR_TYPES, error_message, error_type_for_status
from ._http import AWS_REQUEST_ID_HEADER, derive_aws_request_id, wants_aws
from ._ids import make_id
from ._render import dump_json, message_object
from ._state import EmulatorState, RecordedRequest

__all__ = ["BATCH_HEADER", "MAX_BATCH_BYTES", "MAX_BATCH_REQUESTS", "batch_routes"]

BATCH_HEADER = "x-streamsafe-batch"
# The API's limits, stated here again on purpose: the emulator is an independent
# server (it imports nothing from the client), so a wrong limit in the client's
# checks (_batch_core) shows up as a disagreement instead of being shared.
MAX_BATCH_BYTES = 256 * 1024 * 1024
MAX_BATCH_REQUESTS = 100_000
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_EXPIRY = 24 * 3600.0
_CANCEL_DELAY = 5.0
_JSON = "application/json"


class _Gone(Exception):
    """The client disconnected: nothing more to send."""


class _Refused(Exception):
    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.status = status
        self.headers = headers


@dataclass
class _Batch:
    id: str
    items: list[tuple[str, Any]]
    created: float  # time.monotonic() at creation
    created_wall: float
    speed: float = 3600.0
    duration: float = 60.0
    poll_faults: deque[str] = field(default_factory=deque)
    cuts: deque[int] = field(default_factory=deque)
    ranges: bool = True
    retry_after: str | None = None
    cancel_at: float | None = None  # emulated seconds after creation
    results: bytes | None = None

    def elapsed(self) -> float:
        return (time.monotonic() - self.created) * self.speed

    def end_time(self) -> float:
        if self.cancel_at is not None:
            return min(self.cancel_at + _CANCEL_DELAY, self.duration, _EXPIRY)
        return min(self.duration, _EXPIRY)

    def finish_time(self, index: int) -> float:
        return self.duration * (index + 1) / len(self.items)

    def status(self) -> str:
        if self.elapsed() >= self.end_time():
            return "ended"
        return "canceling" if self.cancel_at is not None else "in_progress"

    def outcome(self, index: int) -> str:
        custom_id, params = self.items[index]
        for kind in ("canceled", "expired"):
            if custom_id.startswith(kind + "-"):
                return kind
        done = self.finish_time(index)
        if done > _EXPIRY:
            return "expired"
        if self.cancel_at is not None and done > self.cancel_at:
            return "canceled"
        if custom_id.startswith("errored-"):
            return "errored"
        return "errored" if _params_problem(params) else "succeeded"

    def stamp(self, emulated: float) -> str:
        moment = datetime.fromtimestamp(self.created_wall + emulated, tz=timezone.utc)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def to_dict(self, base_url: str) -> dict[str, Any]:
        status = self.status()
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if status == "ended":
            for index in range(len(self.items)):
                counts[self.outcome(index)] += 1
        else:
            counts["processing"] = len(self.items)
        ended = status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "created_at": self.stamp(0),
            "expires_at": self.stamp(_EXPIRY),
            "ended_at": self.stamp(self.end_time()) if ended else None,
            "cancel_initiated_at": None if self.cancel_at is None else self.stamp(self.cancel_at),
            "archived_at": None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }


def _params_problem(params: Any) -> str | None:
    if not isinstance(params, dict):
        return "params: must be an object"
    if not isinstance(params.get("model"), str):
        return "model: Field required"
    max_tokens = params.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        return "max_tokens: must be an integer greater than or equal to 1"
    if not isinstance(params.get("messages"), list):
        return "messages: Field required"
    if params.get("stream"):
        return "stream: streaming is not supported in a batch"
    return None


def _errored_type(custom_id: str) -> str:
    rest = custom_id[len("errored-") :]
    for error_type in sorted(ERROR_TYPES, key=len, reverse=True):
        if rest.startswith(error_type):
            return error_type
    return rest.split("-", 1)[0] or "api_error"


def _result_row(batch: _Batch, index: int) -> bytes:
    custom_id, params = batch.items[index]
    outcome = batch.outcome(index)
    result: dict[str, Any] = {"type": outcome}
    if outcome == "succeeded":
        size = len(dump_json(params))
        plan = plan_response(params, input_tokens=max(1, size // 4))
        result["message"] = message_object(
            plan,
            message_id=make_id("msg", batch.id, custom_id),
            model=str(params["model"]),
            input_tokens=max(1, size // 4),
        )
    elif outcome == "errored":
        problem = _params_problem(params)
        error_type = "invalid_request_error" if problem else _errored_type(custom_id)
        result["error"] = {
            "type": "error",
            "error": {"type": error_type, "message": problem or error_message(error_type)},
            "request_id": make_id("req", batch.id, custom_id),
        }
    return dump_json({"custom_id": custom_id, "result": result}) + b"\n"


def _parse_script(batch: _Batch, spec: str) -> None:
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name == "speed":
            batch.speed = float(value)
        elif name == "duration":
            batch.duration = float(value)
        elif name == "poll":
            batch.poll_faults.extend(v.strip() for v in value.split(",") if v.strip())
        elif name == "cut":
            batch.cuts.extend(int(v) for v in value.split(",") if v.strip())
        elif name == "range":
            batch.ranges = value.strip() not in ("0", "false", "no")
        elif name == "retry_after":
            batch.retry_after = value.strip()
        else:
            raise ValueError(f"unknown setting {name!r}")
    if not (batch.speed > 0 and batch.duration >= 0):
        raise ValueError("speed must be positive and duration not negative")


class _BatchApp:
    """The batch endpoints over one emulator state (one store per app)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._batches: dict[str, _Batch] = {}

    def routes(self) -> list[Route]:
        base = "/v1/messages/batches"
        return [
            Route(base, _Endpoint(self, self.create, reads_body=True), methods=["POST"]),
            Route(base, _Endpoint(self, self.list), methods=["GET"]),
            Route(base + "/{batch_id}", _Endpoint(self, self.retrieve), methods=["GET"]),
            Route(base + "/{batch_id}", _Endpoint(self, self.delete), methods=["DELETE"]),
            Route(base + "/{batch_id}/cancel", _Endpoint(self, self.cancel), methods=["POST"]),
            Route(base + "/{batch_id}/results", _Endpoint(self, self.results), methods=["GET"]),
        ]

    def _find(self, call: _Call) -> _Batch:
        batch_id = str(call.scope.get("path_params", {}).get("batch_id", ""))
        batch = self._batches.get(batch_id)
        if batch is None:
            raise _Refused(404, f"No batch with id {batch_id!r}.")
        return batch

    async def create(self, call: _Call) -> None:
        body = await call.body(MAX_BATCH_BYTES)
        if body is None:
            raise _Refused(413, f"Request exceeds the maximum size of {MAX_BATCH_BYTES} bytes.")
        try:
            payload = json.loads(body)
        except ValueError:
            raise _Refused(400, "The request body is not valid JSON.") from None
        requests = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(requests, list) or not requests:
            raise _Refused(400, "requests: must be a non-empty list")
        if len(requests) > MAX_BATCH_REQUESTS:
            raise _Refused(400, f"requests: at most {MAX_BATCH_REQUESTS} requests per batch")
        seen: set[str] = set()
        items: list[tuple[str, Any]] = []
        for index, item in enumerate(requests):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
                raise _Refused(
                    400, f"requests.{index}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$"
                )
            if custom_id in seen:
                raise _Refused(
                    400, f"requests.{index}.custom_id: duplicate custom_id {custom_id!r}"
                )
            seen.add(custom_id)
            if not isinstance(item.get("params"), dict):
                raise _Refused(400, f"requests.{index}.params: must be an object")
            items.append((custom_id, item["params"]))
        number = self.state.next_number()
        batch = _Batch(self.state.make_id("msgbatch", number), items, time.monotonic(), time.time())
        try:
            _parse_script(batch, call.headers.get(BATCH_HEADER, ""))
        except ValueError as exc:
            raise _Refused(400, f"{BATCH_HEADER}: {exc}") from None
        self._batches[batch.id] = batch
        await call.json(200, batch.to_dict(call.base_url))

    async def list(self, call: _Call) -> None:
        query = {
            k: v[-1] for k, v in parse_qs(call.scope.get("query_string", b"").decode()).items()
        }
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            raise _Refused(400, "limit: must be an integer from 1 to 1000")
        ids = list(reversed(self._batches))  # newest first
        start, stop = 0, len(ids)
        if "after_id" in query:
            start = ids.index(query["after_id"]) + 1 if query["after_id"] in ids else stop
            stop = min(stop, start + limit)
        elif "before_id" in query:
            stop = ids.index(query["before_id"]) if query["before_id"] in ids else 0
            start = max(0, stop - limit)
        else:
            stop = min(stop, limit)
        page = [self._batches[i].to_dict(call.base_url) for i in ids[start:stop]]
        has_more = (start > 0) if "before_id" in query else stop < len(ids)
        await call.json(
            200,
            {
                "data": page,
                "has_more": has_more,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            },
        )

    async def retrieve(self, call: _Call) -> None:
        batch = self._find(call)
        fault = batch.poll_faults.popleft() if batch.poll_faults else "ok"
        if fault == "reset":
            await call.reset()
            return
        if fault.startswith("stall/"):
            await call.stall(float(fault.split("/", 1)[1]))
        elif fault != "ok":
            status, _, option = fault.partition("/")
            extra = (("retry-after", option[3:]),) if option.startswith("ra=") else ()
            raise _Refused(int(status), error_message(error_type_for_status(int(status))), extra)
        extra_headers: tuple[tuple[str, str], ...] = ()
        if batch.retry_after is not None and batch.status() != "ended":
            extra_headers = (("retry-after", batch.retry_after),)
        await call.json(200, batch.to_dict(call.base_url), extra_headers)

    async def cancel(self, call: _Call) -> None:
        batch = self._find(call)
        if batch.cancel_at is None and batch.status() == "in_progress":
            batch.cancel_at = batch.elapsed()
        await call.json(200, batch.to_dict(call.base_url))

    async def delete(self, call: _Call) -> None:
        batch = self._find(call)
        if batch.status() != "ended":
            raise _Refused(
                400, f"Batch {batch.id} cannot be deleted while it is processing; cancel it first."
            )
        del self._batches[batch.id]
        await call.json(200, {"id": batch.id, "type": "message_batch_deleted"})

    async def results(self, call: _Call) -> None:
        batch = self._find(call)
        if batch.status() != "ended":
            raise _Refused(400, f"Batch {batch.id} has not ended; its results are not ready.")
        if batch.results is None:
            order = sorted(
                range(len(batch.items)),
                key=lambda i: hashlib.sha256(batch.items[i][0].encode()).digest(),
            )
            batch.results = b"".join(_result_row(batch, i) for i in order)
        body = batch.results
        status, start, headers = 200, 0, [("content-type", "application/x-jsonl")]
        match = re.fullmatch(r"bytes=(\d+)-", call.headers.get("range", "").strip())
        if batch.ranges:
            headers.append(("accept-ranges", "bytes"))
            if match is not None:
                start = int(match.group(1))
                if start >= len(body):
                    raise _Refused(416, "Requested range not satisfiable.")
                headers.append(("content-range", f"bytes {start}-{len(body) - 1}/{len(body)}"))
                status, body = 206, body[start:]
        cut = max(0, batch.cuts.popleft() - start) if batch.cuts else None
        await call.send_body(status, body, headers, cut=cut)


@dataclass
class _Call:
    """One request to a batch endpoint: what it asked, and the ways to answer."""

    scope: Scope
    receive: Receive
    send: Send
    request_id: str
    headers: dict[str, str]
    record: Callable[[int], None]
    size: int = 0
    #: Headers every response carries besides ``request-id`` (``x-amzn-requestid``).
    extra_headers: tuple[tuple[str, str], ...] = ()

    @property
    def base_url(self) -> str:
        host = self.headers.get("host") or "127.0.0.1"
        return f"{self.scope.get('scheme', 'http')}://{host}"

    async def body(self, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        keep = True
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk: bytes = message.get("body", b"")
            self.size += len(chunk)
            if keep and self.size > limit:
                chunks.clear()
                keep = False
            elif keep:
                chunks.append(chunk)
            if not message.get("more_body", False) or self.size > limit + (64 << 20):
                break
        self.record(self.size)
        return b"".join(chunks) if keep else None

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        all_headers = [("request-id", self.request_id), *self.extra_headers, *headers]
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in all_headers],
            }
        )

    async def json(
        self, status: int, value: Any, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        await self.send_body(status, dump_json(value), [("content-type", _JSON), *headers])

    async def send_body(
        self, status: int, body: bytes, headers: list[tuple[str, str]], cut: int | None = None
    ) -> None:
        await self.start(status, [*headers, ("content-length", str(len(body)))])
        if cut is None or cut >= len(body):
            await self.send({"type": "http.response.body", "body": body})
            return
        await self.send({"type": "http.response.body", "body": body[:cut], "more_body": True})
        await self._abort(reset=False)

    async def stall(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            while (await self.receive())["type"] != "http.disconnect":
                pass
            raise _Gone  # the client gave up: answer nothing

    async def reset(self) -> None:
        await self._abort(reset=True)

    async def _abort(self, *, reset: bool) -> None:
        transport = getattr(getattr(self.receive, "__self__", None), "transport", None)
        if transport is None:
            raise RuntimeError("streamsafe emulator: cannot reach the connection's socket")
        with anyio.move_on_after(1.0):
            while transport.get_write_buffer_size() > 0 and not transport.is_closing():  # noqa: ASYNC110
                await anyio.sleep(0.001)
        sock = transport.get_extra_info("socket")
        if reset and sock is not None:
            linger = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            transport.abort()
        else:
            transport.close()
        with anyio.move_on_after(2.0):
            while (await self.receive())["type"] != "http.disconnect":
                pass


class _Endpoint:
    """An ASGI app for one batch endpoint: records the request, turns refusals into errors.

    The request is recorded before it is answered (once its body is read), so a
    client that has its answer finds it in ``emu.requests``.
    """

    def __init__(
        self,
        app: _BatchApp,
        handler: Callable[[_Call], Awaitable[None]],
        *,
        reads_body: bool = False,
    ) -> None:
        self._app = app
        self._handler = handler
        self._reads_body = reads_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._app.state
        _, request_id = state.next_request_id()
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", []):
            headers[bytes(raw_name).decode("latin-1").lower()] = bytes(raw_value).decode("latin-1")

        def record(size: int) -> None:
            state.record(
                RecordedRequest(
                    method=str(scope.get("method", "")),
                    path=str(scope.get("path", "")),
                    headers=headers,
                    body_size=size,
                    json=None,
                    fault=None,
                    request_id=request_id,
                )
            )

        extra: tuple[tuple[str, str], ...] = ()
        if wants_aws(state, headers):
            extra = ((AWS_REQUEST_ID_HEADER, derive_aws_request_id(request_id)),)
        call = _Call(scope, receive, send, request_id, headers, record, extra_headers=extra)
        if not self._reads_body:
            record(0)
        try:
            await self._handler(call)
        except _Refused as refused:
            error_type = error_type_for_status(refused.status)
            if refused.status in (400, 416):
                error_type = "invalid_request_error"
            error = {"type": error_type, "message": str(refused)}
            body = {"type": "error", "error": error, "request_id": request_id}
            await call.json(refused.status, body, refused.headers)
        except _Gone:
            pass


def batch_routes(state: EmulatorState) -> list[Route]:
    """The routes of the batch endpoints, for the emulator's Starlette app."""
    return _BatchApp(state).routes()
