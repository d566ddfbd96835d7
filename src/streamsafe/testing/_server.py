"""The ASGI application of the emulator.

Routing, 404/405 handling and the middleware stack come from Starlette; the two
Messages endpoints are plain ASGI callables so that they control every byte
and every ASGI message they send, which the faults need: a body cut after K
bytes, a response that ends without its last event, a connection reset.

Each response runs inside :class:`_Exchange.run`, next to a task that waits
for ``http.disconnect``. A client that hangs up, or the emulator shutting
down (it aborts every connection), cancels the response at its next await:
no stall or delay outlives its connection.

Connection resets: an RST is produced by closing the socket with
``SO_LINGER = (on, 0 s)``. The socket comes from the asyncio transport of
the connection, ``transport.get_extra_info("socket")``. The transport is found
through the ASGI ``receive`` callable: uvicorn hands the bound method of its
per-request cycle object, which holds the connection's ``transport``. When
that is not available (another server, a wrapped ``receive``), the transport
is looked up among the server's open connections by the client's address.
Before the reset, the response waits (up to a second) until the transport
has handed everything written so far to the kernel and, where the kernel
tells (Linux: ``TIOCOUTQ``), until the client has acknowledged every byte:
an RST discards the sender's unsent queue, and on a reused keep-alive
connection slow start after idle plus delayed ACKs keep part of a response
there for tens of milliseconds. The client then reads the events that
preceded the fault, then ``ECONNRESET``.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import hashlib
import json
import math
import socket
import struct
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._admin import admin_routes
from ._batches import batch_routes
from ._content import (
    REFUSAL_CATEGORIES,
    Event,
    dump_json,
    encode_sse,
    message_object,
    plan_response,
    stream_events,
)
from ._faults import (
    Fault,
    RawResponse,
    error_message,
    error_type_for_status,
    status_for_error_type,
)
from ._models import NO_PREFILL_MODELS, is_known_model, matches_model
from ._state import EmulatorState, RecordedRequest

try:  # POSIX only
    import fcntl
    import termios
except ImportError:  # pragma: no cover - Windows
    fcntl = termios = None  # type: ignore[assignment]

__all__ = [
    "AWS_HEADER",
    "AWS_REQUEST_ID_HEADER",
    "DELAY_HEADER",
    "FAULT_HEADER",
    "MAX_REQUEST_BYTES",
    "REFUSAL_HEADER",
    "build_app",
]

#: Largest accepted request body (the API's limit for Messages and token counting).
MAX_REQUEST_BYTES = 32 * 1024 * 1024
# An oversize body is read (and discarded) up to this size so that the client
# finishes sending and sees the 413; beyond it the connection is dropped.
_DRAIN_LIMIT = 512 * 1024 * 1024

FAULT_HEADER = "x-streamsafe-fault"
DELAY_HEADER = "x-streamsafe-delay-ms"
#: ``x-streamsafe-aws: 1`` asks for an ``x-amzn-requestid`` header on the response.
AWS_HEADER = "x-streamsafe-aws"
AWS_REQUEST_ID_HEADER = "x-amzn-requestid"
#: ``x-streamsafe-refusal: <category>|null`` scripts a refusal.
REFUSAL_HEADER = "x-streamsafe-refusal"
#: Smallest thinking budget the API accepts.
MIN_THINKING_BUDGET = 1024
PREFILL_UNSUPPORTED = "Prefilling assistant messages is not supported for this model."
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

# Faults that strike at a position of the body (events or bytes).
_POSITIONED = frozenset({"error", "truncate", "truncate_bytes", "reset", "stall", "stall_pings"})
# Faults that replace the whole response and need no valid request.
_WHOLESALE = frozenset({"status", "html", "empty", "empty_200", "raw"})

ConnectionsGetter = Callable[[], Iterable[object]]


class _Finished(Exception):
    """The response is over: completed, cut, or its connection is gone."""


class _ClientGone(Exception):
    """The client disconnected while sending its request."""


class _BadRequest(Exception):
    """A request the API would reject with 400 invalid_request_error."""


def build_app(state: EmulatorState, connections: ConnectionsGetter | None = None) -> Starlette:
    """The Starlette application serving ``state``.

    ``connections`` lists the server's open connections (objects with a
    ``transport`` attribute); it is only a fallback to find a socket to reset.
    """
    handler = _Handler(state, connections or (lambda: ()))
    return Starlette(
        routes=[
            Route("/v1/messages", _Asgi(handler.messages), methods=["POST"]),
            Route("/v1/messages/count_tokens", _Asgi(handler.count_tokens), methods=["POST"]),
            *admin_routes(state),
            *batch_routes(state),
        ],
        exception_handlers={HTTPException: handler.http_exception},
    )


class _Asgi:
    """Wraps a coroutine function so that Starlette routes to it as an ASGI app."""

    def __init__(self, function: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._function = function

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._function(scope, receive, send)


def _header_dict(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = bytes(raw_name).decode("latin-1").lower()
        value = bytes(raw_value).decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def _read_body(receive: Receive) -> tuple[bytes | None, int]:
    """The request body (None beyond MAX_REQUEST_BYTES) and its size in bytes."""
    chunks: list[bytes] = []
    size = 0
    keep = True
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if keep:
            if size > MAX_REQUEST_BYTES:
                chunks.clear()
                keep = False
            else:
                chunks.append(chunk)
        if not message.get("more_body", False) or size > _DRAIN_LIMIT:
            break
    return (b"".join(chunks) if keep else None), size


def _error_object(
    error_type: str, message: str, request_id: str, error_code: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    return {"type": "error", "error": error, "request_id": request_id}


def _html_page(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return (
        "<!DOCTYPE html>\n<html>\n"
        f"<head><title>{status} {phrase}</title></head>\n"
        f"<body>\n<h1>{status} {phrase}</h1>\n"
        "<p>An intermediary answered this request (emulated by streamsafe).</p>\n"
        "</body>\n</html>\n"
    ).encode()


def _retry_headers(fault: Fault) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        headers.append(("retry-after", fault.retry_after))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", fault.retry_after_ms))
    if fault.should_retry is not None:
        headers.append(("x-should-retry", "true" if fault.should_retry else "false"))
    return headers


def _validate_messages(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise _BadRequest("The request body must be a JSON object.")
    if not isinstance(payload.get("model"), str):
        raise _BadRequest("model: Field required" if "model" not in payload else "model: str")
    max_tokens = payload.get("max_tokens")
    if "max_tokens" not in payload:
        raise _BadRequest("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _BadRequest("max_tokens: must be an integer greater than or equal to 1")
    messages = payload.get("messages")
    if not isinstance(messages, list):
        raise _BadRequest("messages: Field required" if messages is None else "messages: list")
    if "stream" in payload and not isinstance(payload["stream"], bool):
        raise _BadRequest("stream: bool")
    model = payload["model"]
    last = messages[-1] if messages else None
    prefill = isinstance(last, Mapping) and last.get("role") == "assistant"
    if prefill and matches_model(model, NO_PREFILL_MODELS):
        raise _BadRequest(PREFILL_UNSUPPORTED)
    thinking = payload.get("thinking")
    if (
        is_known_model(model)
        and isinstance(thinking, Mapping)
        and thinking.get("type") == "enabled"
    ):
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and not isinstance(budget, bool):
            if budget < MIN_THINKING_BUDGET:
                raise _BadRequest(
                    f"thinking.enabled.budget_tokens: Input should be greater than or equal "
                    f"to {MIN_THINKING_BUDGET}"
                )
            if budget >= max_tokens:
                raise _BadRequest(
                    f"`max_tokens` must be greater than `thinking.budget_tokens` "
                    f"(got max_tokens={max_tokens}, budget_tokens={budget})."
                )
    return payload


def _aws_request_id(request_id: str) -> str:
    """A UUID-shaped id derived from the request id (as Claude Platform on AWS sends)."""
    digest = hashlib.sha256(request_id.encode("ascii")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _wants_aws(state: EmulatorState, headers: Mapping[str, str]) -> bool:
    flag = headers.get(AWS_HEADER, "").strip().lower()
    return state.aws_request_ids or flag in ("1", "true", "yes")


def _validate_count_tokens(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise _BadRequest("The request body must be a JSON object.")
    if not isinstance(payload.get("model"), str):
        raise _BadRequest("model: Field required")
    if not isinstance(payload.get("messages"), list):
        raise _BadRequest("messages: Field required")
    return payload


class _Handler:
    def __init__(self, state: EmulatorState, connections: ConnectionsGetter) -> None:
        self._state = state
        self._connections = connections

    # -- endpoints -------------------------------------------------------------

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send, self._answer_messages, from_queue=True)

    async def count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send, self._answer_count_tokens, from_queue=False)

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        started = time.perf_counter()
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        extra = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        _, request_id = self._state.next_request_id()
        try:
            body, size = await _read_body(request.receive)
        except _ClientGone:
            body, size = b"", 0
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers=_header_dict(request.scope),
            body_size=size,
            json=_parse_json(body),
            fault=None,
            request_id=request_id,
            status=status,
            duration_ms=_elapsed_ms(started),
        )
        self._state.record(recorded)
        self._state.emit(recorded.log_line())
        error_type = error_type_for_status(status) if status != 405 else "invalid_request_error"
        message = (
            f"Not found: {request.method} {request.url.path}"
            if status == 404
            else f"Method {request.method} not allowed for {request.url.path}"
        )
        headers = {**extra, "request-id": request_id}
        if _wants_aws(self._state, _header_dict(request.scope)):
            headers[AWS_REQUEST_ID_HEADER] = _aws_request_id(request_id)
        return Response(
            dump_json(_error_object(error_type, message, request_id)),
            status_code=status,
            media_type=JSON_CONTENT_TYPE,
            headers=headers,
        )

    # -- the request / response cycle ----------------------------------------------

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        answer: Callable[[_Exchange, Any, Fault | None, int, int], Awaitable[None]],
        *,
        from_queue: bool,
    ) -> None:
        tracker = _Tracker(self._state, time.perf_counter())
        number, request_id = self._state.next_request_id()
        headers = _header_dict(scope)
        try:
            body, size = await _read_body(receive)
        except _ClientGone:
            return
        exchange = _Exchange(scope, receive, send, request_id, self._connections, tracker)
        exchange.request_headers = headers
        if _wants_aws(self._state, headers):
            exchange.aws_request_id = _aws_request_id(request_id)
        payload = _parse_json(body)

        async def respond() -> None:
            if body is None:
                self._record(tracker, scope, headers, size, None, None, request_id)
                await exchange.error_response(
                    413,
                    "request_too_large",
                    f"Request exceeds the maximum allowed size of {MAX_REQUEST_BYTES} bytes.",
                )
                return
            try:
                fault = self._choose_fault(headers, from_queue=from_queue)
                exchange.event_delay = self._event_delay(headers)
            except _BadRequest as exc:
                self._record(tracker, scope, headers, size, payload, None, request_id)
                await exchange.error_response(400, "invalid_request_error", str(exc))
                return
            self._record(tracker, scope, headers, size, payload, fault, request_id)
            exchange.fault = fault
            exchange.ping_interval = self._state.ping_interval
            await answer(exchange, payload, fault, size, number)

        try:
            await exchange.run(respond)
        finally:
            tracker.finish()

    def _record(
        self,
        tracker: _Tracker,
        scope: Scope,
        headers: dict[str, str],
        size: int,
        payload: Any,
        fault: Fault | None,
        request_id: str,
    ) -> None:
        entry = RecordedRequest(
            method=str(scope.get("method", "")),
            path=str(scope.get("path", "")),
            headers=headers,
            body_size=size,
            json=payload,
            fault=fault,
            request_id=request_id,
        )
        tracker.record(entry)

    def _choose_fault(self, headers: Mapping[str, str], *, from_queue: bool) -> Fault | None:
        spec = headers.get(FAULT_HEADER)
        fault: Fault | None
        if spec is not None:
            try:
                fault = Fault.parse(spec)
            except ValueError as exc:
                raise _BadRequest(f"{FAULT_HEADER}: {exc}") from None
            if not self._state.count_header_fault(fault):
                fault = None  # its `times` are used up: a clean answer
        elif from_queue:
            fault = self._state.pop_fault()
        else:
            fault = None
        return None if fault is None or fault.kind == "none" else fault

    def _event_delay(self, headers: Mapping[str, str]) -> float:
        raw = headers.get(DELAY_HEADER)
        if raw is None:
            return self._state.event_delay
        try:
            milliseconds = float(raw)
        except ValueError:
            milliseconds = math.nan
        if not math.isfinite(milliseconds) or milliseconds < 0:
            raise _BadRequest(f"{DELAY_HEADER}: expected a non-negative number, got {raw!r}")
        return milliseconds / 1000

    # -- answers -----------------------------------------------------------------

    async def _answer_messages(
        self, exchange: _Exchange, payload: Any, fault: Fault | None, size: int, number: int
    ) -> None:
        is_stream = isinstance(payload, Mapping) and payload.get("stream") is True
        if fault is not None and fault.kind in _WHOLESALE:
            await exchange.wholesale(fault, is_stream=is_stream)
            return
        try:
            request = _validate_messages(payload)
        except _BadRequest as exc:
            await exchange.error_response(400, "invalid_request_error", str(exc))
            return
        refusal = exchange.request_headers.get(REFUSAL_HEADER)
        if refusal is not None and refusal not in (*REFUSAL_CATEGORIES, "null"):
            choices = ", ".join((*REFUSAL_CATEGORIES, "null"))
            await exchange.error_response(
                400, "invalid_request_error", f"{REFUSAL_HEADER}: expected one of {choices}"
            )
            return
        message_id = self._state.make_id("msg", number)
        model = str(request["model"])
        input_tokens = max(1, size // 4)
        plan = plan_response(request, input_tokens=input_tokens, refusal=refusal)
        if fault is not None and fault.kind == "content_type":
            body = dump_json(
                message_object(plan, message_id=message_id, model=model, input_tokens=input_tokens)
            )
            events = stream_events(
                plan, message_id=message_id, model=model, input_tokens=input_tokens
            )
            await exchange.wrong_content_type(fault, json_body=body, events=events)
        elif is_stream:
            events = stream_events(
                plan, message_id=message_id, model=model, input_tokens=input_tokens
            )
            await exchange.stream(events)
        else:
            body = dump_json(
                message_object(plan, message_id=message_id, model=model, input_tokens=input_tokens)
            )
            await exchange.json_body(body)

    async def _answer_count_tokens(
        self, exchange: _Exchange, payload: Any, fault: Fault | None, size: int, number: int
    ) -> None:
        if fault is not None and fault.kind in _WHOLESALE:
            await exchange.wholesale(fault, is_stream=False)
            return
        try:
            _validate_count_tokens(payload)
        except _BadRequest as exc:
            await exchange.error_response(400, "invalid_request_error", str(exc))
            return
        body = dump_json({"input_tokens": max(1, size // 4)})
        if fault is not None and fault.kind == "content_type":
            await exchange.wrong_content_type(fault, json_body=body, events=None)
        else:
            await exchange.json_body(body)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class _Tracker:
    """Completes a request's record: status when headers go out, duration at the end.

    Both are set before the client can see them (before the headers, before the
    last byte or the reset), so a client reading the request log right after its
    response finds them; the log line is emitted once, at the end.
    """

    def __init__(self, state: EmulatorState, started: float) -> None:
        self._state = state
        self._started = started
        self._entry: RecordedRequest | None = None
        self._status: int | None = None
        self._done = False

    def record(self, entry: RecordedRequest) -> None:
        self._state.record(entry)
        self._entry = entry

    def set_status(self, status: int) -> None:
        self._status = status
        if self._entry is not None:
            self._entry = self._state.update(self._entry, status=status)

    def finish(self) -> None:
        if self._done or self._entry is None:
            return
        self._done = True
        self._entry = self._state.update(self._entry, duration_ms=_elapsed_ms(self._started))
        self._state.emit(self._entry.log_line())


def _parse_json(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _unacknowledged_bytes(sock: socket.socket) -> int:
    """Bytes written to ``sock`` that the peer has not acknowledged (0 where unknown)."""
    request = getattr(termios, "TIOCOUTQ", None)
    if fcntl is None or request is None or sys.platform != "linux":
        return 0
    count = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), request, count)
    except OSError:
        return 0
    return count[0]


class _Exchange:
    """Writes one response, applying the request's fault."""

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        connections: ConnectionsGetter,
        tracker: _Tracker | None = None,
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._connections = connections
        self._tracker = tracker
        self.request_id = request_id
        self.request_headers: Mapping[str, str] = {}
        self.aws_request_id: str | None = None
        self.fault: Fault | None = None
        self.event_delay = 0.0
        self.ping_interval: float | None = None
        self._next_ping = math.inf
        self._byte_limit: int | None = None
        self._sent_bytes = 0
        self._started = False
        self._complete = False

    # -- lifecycle --------------------------------------------------------------

    async def run(self, body: Callable[[], Awaitable[None]]) -> None:
        """Run ``body``; a disconnect of the client cancels it."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._watch_disconnect, group.cancel_scope)
            with contextlib.suppress(_Finished):
                await body()
            group.cancel_scope.cancel()

    async def _watch_disconnect(self, scope: anyio.CancelScope) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return

    # -- low-level writing ---------------------------------------------------------

    def _base_headers(self) -> list[tuple[str, str]]:
        headers = [("request-id", self.request_id)]
        if self.aws_request_id is not None:
            headers.append((AWS_REQUEST_ID_HEADER, self.aws_request_id))
        if self.fault is not None:
            headers.append((FAULT_HEADER, self.fault.spec))
        return headers

    async def start(
        self, status: int, headers: Sequence[tuple[str, str]], *, base: bool = True
    ) -> None:
        all_headers = [*(self._base_headers() if base else []), *headers]
        if self._tracker is not None:
            self._tracker.set_status(status)
        await self._send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in all_headers],
            }
        )
        self._started = True

    async def write(self, data: bytes) -> None:
        """Send body bytes; raises _Finished once a ``truncate_bytes`` limit is hit."""
        if self._byte_limit is not None and self._sent_bytes + len(data) >= self._byte_limit:
            room = self._byte_limit - self._sent_bytes
            if room > 0:
                await self._send(
                    {"type": "http.response.body", "body": data[:room], "more_body": True}
                )
                self._sent_bytes += room
            await self.end()
            raise _Finished
        if data:
            await self._send({"type": "http.response.body", "body": data, "more_body": True})
            self._sent_bytes += len(data)

    def _finish_record(self) -> None:
        if self._tracker is not None:
            self._tracker.finish()

    async def end(self) -> None:
        if not self._complete:
            self._complete = True
            self._finish_record()
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    async def full_response(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        head = [("content-type", content_type)] if content_type is not None else []
        head += [*headers, ("content-length", str(len(body)))]
        await self.start(status, head)
        self._complete = True
        self._finish_record()
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def error_response(
        self,
        status: int,
        error_type: str,
        message: str,
        headers: Sequence[tuple[str, str]] = (),
        error_code: str | None = None,
    ) -> None:
        body = dump_json(_error_object(error_type, message, self.request_id, error_code))
        await self.full_response(status, body, JSON_CONTENT_TYPE, headers)

    # -- connection-level faults ---------------------------------------------------

    def _transport(self) -> asyncio.BaseTransport | None:
        owner = getattr(self._receive, "__self__", None)
        transport = getattr(owner, "transport", None)
        if isinstance(transport, asyncio.BaseTransport):
            return transport
        client = self._scope.get("client")
        if not client:
            return None
        for connection in self._connections():
            candidate = getattr(connection, "transport", None)
            if not isinstance(candidate, asyncio.BaseTransport):
                continue
            peer = candidate.get_extra_info("peername")
            if peer is not None and tuple(peer)[:2] == tuple(client)[:2]:
                return candidate
        return None

    async def _await_disconnect(self) -> None:
        # The disconnect watcher cancels the response once the server saw the
        # connection go; the timeout is a safety net only.
        with anyio.move_on_after(2.0):
            await anyio.sleep_forever()
        raise _Finished

    async def reset(self) -> None:
        """Abort the connection with a TCP RST (see the module docstring)."""
        transport = self._transport()
        if transport is None:
            raise RuntimeError(
                "streamsafe emulator: cannot reach the connection's socket to reset it"
            )
        sock = transport.get_extra_info("socket")
        with anyio.move_on_after(1.0):
            if isinstance(transport, asyncio.WriteTransport):
                # asyncio has no "write buffer drained" event outside its protocols.
                while transport.get_write_buffer_size() > 0 and not transport.is_closing():  # noqa: ASYNC110
                    await anyio.sleep(0.001)
            # The RST would discard what the kernel has not delivered yet.
            while sock is not None and _unacknowledged_bytes(sock):  # noqa: ASYNC110
                await anyio.sleep(0.001)
        if sock is not None:
            linger = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self._finish_record()
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
        else:  # pragma: no cover - every stream transport is a WriteTransport
            transport.close()
        await self._await_disconnect()

    async def close_without_response(self) -> None:
        transport = self._transport()
        if transport is None:
            raise RuntimeError("streamsafe emulator: cannot reach the connection to close it")
        self._finish_record()
        transport.close()
        await self._await_disconnect()

    async def _before_headers(self, fault: Fault) -> None:
        """Apply an ``@start`` fault. Returns only after a stall."""
        if fault.kind == "reset":
            await self.reset()
        elif fault.kind == "truncate":
            await self.close_without_response()
        else:
            await anyio.sleep(fault.seconds)

    # -- pacing --------------------------------------------------------------------

    async def _ping(self) -> None:
        await self.write(encode_sse("ping", {"type": "ping"}))
        if self.ping_interval is not None:
            self._next_ping = anyio.current_time() + self.ping_interval

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, sending the periodic pings that fall due meanwhile."""
        deadline = anyio.current_time() + seconds
        while True:
            now = anyio.current_time()
            if self.ping_interval is not None and self._next_ping <= deadline:
                if self._next_ping > now:
                    await anyio.sleep(self._next_ping - now)
                await self._ping()
                continue
            if deadline > now:
                await anyio.sleep(deadline - now)
            return

    # -- responses -------------------------------------------------------------------

    def _positioned(self) -> Fault | None:
        fault = self.fault
        return fault if fault is not None and fault.kind in _POSITIONED else None

    async def stream(self, events: Sequence[Event], content_type: str = SSE_CONTENT_TYPE) -> None:
        fault = self._positioned()
        strike: int | None = None
        if fault is not None:
            position = fault.position
            if position is None:
                await self._before_headers(fault)  # only a stall comes back
            elif fault.kind == "truncate_bytes":
                self._byte_limit = position
            else:
                strike = min(position, len(events))
        await self.start(200, [("content-type", content_type), ("cache-control", "no-cache")])
        for index, (name, data) in enumerate(events):
            if index == strike and fault is not None:
                await self._strike(fault, index)
            if index > 0:
                await self.pause(self.event_delay)
            await self.write(encode_sse(name, data))
            if name == "ping" and self.ping_interval is not None:
                self._next_ping = anyio.current_time() + self.ping_interval
        if strike == len(events) and fault is not None:
            await self._strike(fault, len(events))
        await self.end()

    async def _strike(self, fault: Fault, index: int) -> None:
        """Apply a positioned fault inside a stream; returns only after stalls."""
        if fault.kind == "error":
            if index > 0:
                await self.pause(self.event_delay)
            error_type = fault.resolved_error_type()
            message = fault.message or error_message(error_type)
            await self.write(
                encode_sse("error", _error_object(error_type, message, self.request_id, fault.code))
            )
            await self.end()
            raise _Finished
        if fault.kind == "truncate":
            await self.end()
            raise _Finished
        if fault.kind == "reset":
            await self.reset()
        if fault.kind == "stall":
            await anyio.sleep(fault.seconds)
        elif fault.kind == "stall_pings":
            deadline = anyio.current_time() + fault.seconds
            while True:
                remaining = deadline - anyio.current_time()
                if remaining < fault.every:
                    await anyio.sleep(max(remaining, 0.0))
                    break
                await anyio.sleep(fault.every)
                await self._ping()

    async def json_body(self, body: bytes, content_type: str = JSON_CONTENT_TYPE) -> None:
        """A non-streamed JSON answer; positioned faults count bytes of ``body``."""
        fault = self._positioned()
        if fault is None:
            await self.full_response(200, body, content_type)
            return
        if fault.kind == "error":
            error_type = fault.resolved_error_type()
            message = fault.message or error_message(error_type)
            await self.error_response(
                status_for_error_type(error_type), error_type, message, error_code=fault.code
            )
            return
        position = fault.position
        if position is None:
            await self._before_headers(fault)  # only a stall comes back
            await self.full_response(200, body, content_type)
            return
        cut = min(position, len(body))
        await self.start(200, [("content-type", content_type)])
        await self.write(body[:cut])
        if fault.kind == "reset":
            await self.reset()
        if fault.kind in ("stall", "stall_pings"):
            await anyio.sleep(fault.seconds)
            await self.write(body[cut:])
        await self.end()

    async def wholesale(self, fault: Fault, *, is_stream: bool) -> None:
        """Faults that replace the whole response."""
        if fault.kind == "status":
            status = fault.status or 500
            error_type = fault.resolved_error_type()
            message = fault.message or error_message(error_type)
            await self.error_response(
                status, error_type, message, _retry_headers(fault), error_code=fault.code
            )
        elif fault.kind == "html":
            status = fault.status or 500
            await self.full_response(
                status, _html_page(status), HTML_CONTENT_TYPE, _retry_headers(fault)
            )
        elif fault.kind == "empty":
            await self.full_response(fault.status or 500, b"", None, _retry_headers(fault))
        elif fault.kind == "empty_200":
            default = SSE_CONTENT_TYPE if is_stream else JSON_CONTENT_TYPE
            await self.full_response(200, b"", fault.content_type or default)
        elif fault.raw is not None:
            await self.raw(fault.raw)

    async def wrong_content_type(
        self, fault: Fault, *, json_body: bytes, events: Sequence[Event] | None
    ) -> None:
        """A 200 labelled with the fault's content type, with a body to match it."""
        content_type = fault.content_type or "text/plain"
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "text/event-stream" and events is not None:
            await self.stream(events, content_type=content_type)
        elif "json" in media or media == "text/event-stream":
            await self.full_response(200, json_body, content_type)
        elif "html" in media:
            await self.full_response(200, _html_page(200), content_type)
        else:
            await self.full_response(200, b"This is not a Messages API response.\n", content_type)

    async def raw(self, raw: RawResponse) -> None:
        names = {name.lower() for name, _ in raw.headers}
        headers: list[tuple[str, str]] = []
        if raw.content_type is not None and "content-type" not in names:
            headers.append(("content-type", raw.content_type))
        if "request-id" not in names:
            headers.append(("request-id", self.request_id))
        if self.aws_request_id is not None and AWS_REQUEST_ID_HEADER not in names:
            headers.append((AWS_REQUEST_ID_HEADER, self.aws_request_id))
        headers.extend(raw.headers)
        await self.start(raw.status, headers, base=False)
        size = raw.chunk_size or max(len(raw.body), 1)
        for offset in range(0, len(raw.body), size):
            if offset and raw.chunk_delay:
                await anyio.sleep(raw.chunk_delay)
            await self.write(raw.body[offset : offset + size])
        await self.end()
