"""The ASGI application of the emulator: routing, and the Messages endpoints.

Routing, 404/405 handling and the middleware stack come from Starlette; the two
Messages endpoints (``/v1/messages``, ``/v1/messages/count_tokens``) are plain
ASGI callables so that they control every byte and every ASGI message they
send, which the faults need: a body cut after K bytes, a response that ends
without its last event, a connection reset.

For each request the handler reads the body (:mod:`._http`), chooses the
fault (the ``x-streamsafe-fault`` header, else the queue), records the
request (:mod:`._tracker`), validates it (:mod:`._validate`), plans the answer
(:mod:`._content`) and writes it with the fault applied (:mod:`._respond`,
through an :class:`~._exchange.Exchange`). Admin and batch routes come from
:mod:`._admin` and :mod:`._batches`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._admin import admin_routes
from ._batches import batch_routes
from ._content import plan_response
from ._exchange import Exchange
from ._faults import Fault, error_type_for_status
from ._http import (
    AWS_REQUEST_ID_HEADER,
    DELAY_HEADER,
    FAULT_HEADER,
    JSON_CONTENT_TYPE,
    MAX_REQUEST_BYTES,
    REFUSAL_HEADER,
    ClientGone,
    derive_aws_request_id,
    elapsed_ms,
    error_object,
    header_dict,
    parse_json,
    read_body,
    wants_aws,
)
from ._refusal import REFUSAL_CATEGORIES
from ._render import dump_json, message_object, stream_events
from ._reset import ConnectionsGetter
from ._respond import (
    WHOLESALE,
    send_json,
    send_stream,
    send_wholesale,
    send_wrong_content_type,
)
from ._state import EmulatorState, RecordedRequest
from ._tracker import Tracker
from ._validate import BadRequest, validate_count_tokens, validate_messages

__all__ = ["build_app"]


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
            body, size = await read_body(request.receive)
        except ClientGone:
            body, size = b"", 0
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers=header_dict(request.scope),
            body_size=size,
            json=parse_json(body),
            fault=None,
            request_id=request_id,
            status=status,
            duration_ms=elapsed_ms(started),
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
        if wants_aws(self._state, header_dict(request.scope)):
            headers[AWS_REQUEST_ID_HEADER] = derive_aws_request_id(request_id)
        return Response(
            dump_json(error_object(error_type, message, request_id)),
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
        answer: Callable[[Exchange, Any, Fault | None, int, int], Awaitable[None]],
        *,
        from_queue: bool,
    ) -> None:
        tracker = Tracker(self._state, time.perf_counter())
        number, request_id = self._state.next_request_id()
        headers = header_dict(scope)
        try:
            body, size = await read_body(receive)
        except ClientGone:
            return
        exchange = Exchange(scope, receive, send, request_id, self._connections, tracker)
        exchange.request_headers = headers
        if wants_aws(self._state, headers):
            exchange.aws_request_id = derive_aws_request_id(request_id)
        payload = parse_json(body)

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
            except BadRequest as exc:
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
        tracker: Tracker,
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
                raise BadRequest(f"{FAULT_HEADER}: {exc}") from None
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
            raise BadRequest(f"{DELAY_HEADER}: expected a non-negative number, got {raw!r}")
        return milliseconds / 1000

    # -- answers -----------------------------------------------------------------

    async def _answer_messages(
        self, exchange: Exchange, payload: Any, fault: Fault | None, size: int, number: int
    ) -> None:
        is_stream = isinstance(payload, Mapping) and payload.get("stream") is True
        if fault is not None and fault.kind in WHOLESALE:
            await send_wholesale(exchange, fault, is_stream=is_stream)
            return
        try:
            request = validate_messages(payload)
        except BadRequest as exc:
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
            await send_wrong_content_type(exchange, fault, json_body=body, events=events)
        elif is_stream:
            events = stream_events(
                plan, message_id=message_id, model=model, input_tokens=input_tokens
            )
            await send_stream(exchange, events)
        else:
            body = dump_json(
                message_object(plan, message_id=message_id, model=model, input_tokens=input_tokens)
            )
            await send_json(exchange, body)

    async def _answer_count_tokens(
        self, exchange: Exchange, payload: Any, fault: Fault | None, size: int, number: int
    ) -> None:
        if fault is not None and fault.kind in WHOLESALE:
            await send_wholesale(exchange, fault, is_stream=False)
            return
        try:
            validate_count_tokens(payload)
        except BadRequest as exc:
            await exchange.error_response(400, "invalid_request_error", str(exc))
            return
        body = dump_json({"input_tokens": max(1, size // 4)})
        if fault is not None and fault.kind == "content_type":
            await send_wrong_content_type(exchange, fault, json_body=body, events=None)
        else:
            await send_json(exchange, body)
