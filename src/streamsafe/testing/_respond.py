"""Responses with the request's fault applied (the grammar is in :mod:`._faults`).

A clean answer is a stream (:func:`send_stream`) or a JSON body (:func:`send_json`);
a positioned fault strikes inside it (before an event, or at a byte of the
body; ``@start``: before the headers). :func:`send_wholesale` answers the faults
that replace the whole response (an error status, an HTML page, an empty or
raw body), :func:`send_wrong_content_type` a 200 with the wrong label. Everything
is written through an :class:`~._exchange.Exchange`.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from ._exchange import Exchange, Finished
from ._faults import Fault, RawResponse, error_message, status_for_error_type
from ._http import (
    AWS_REQUEST_ID_HEADER,
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    error_object,
    html_page,
)
from ._render import Event

__all__ = [
    "WHOLESALE",
    "send_json",
    "send_raw",
    "send_stream",
    "send_wholesale",
    "send_wrong_content_type",
]

# Faults that strike at a position of the body (events or bytes).
_POSITIONED = frozenset({"error", "truncate", "truncate_bytes", "reset", "stall", "stall_pings"})
#: Faults that replace the whole response and need no valid request.
WHOLESALE = frozenset({"status", "html", "empty", "empty_200", "raw"})


def _positioned(exchange: Exchange) -> Fault | None:
    fault = exchange.fault
    return fault if fault is not None and fault.kind in _POSITIONED else None


def _retry_headers(fault: Fault) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        headers.append(("retry-after", fault.retry_after))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", fault.retry_after_ms))
    if fault.should_retry is not None:
        headers.append(("x-should-retry", "true" if fault.should_retry else "false"))
    return headers


async def _before_headers(exchange: Exchange, fault: Fault) -> None:
    """Apply an ``@start`` fault. Returns only after a stall."""
    if fault.kind == "reset":
        await exchange.reset()
    elif fault.kind == "truncate":
        await exchange.close_without_response()
    else:
        await anyio.sleep(fault.seconds)


async def send_stream(
    exchange: Exchange, events: Sequence[Event], content_type: str = SSE_CONTENT_TYPE
) -> None:
    """The events, ``event_delay`` apart, with a positioned fault where it strikes."""
    fault = _positioned(exchange)
    strike: int | None = None
    if fault is not None:
        position = fault.position
        if position is None:
            await _before_headers(exchange, fault)  # only a stall comes back
        elif fault.kind == "truncate_bytes":
            exchange.limit_bytes(position)
        else:
            strike = min(position, len(events))
    await exchange.start(200, [("content-type", content_type), ("cache-control", "no-cache")])
    for index, (name, data) in enumerate(events):
        if index == strike and fault is not None:
            await _strike(exchange, fault, index)
        if index > 0:
            await exchange.pause(exchange.event_delay)
        await exchange.send_event(name, data)
    if strike == len(events) and fault is not None:
        await _strike(exchange, fault, len(events))
    await exchange.end()


async def _strike(exchange: Exchange, fault: Fault, index: int) -> None:
    """Apply a positioned fault inside a stream; returns only after stalls."""
    if fault.kind == "error":
        if index > 0:
            await exchange.pause(exchange.event_delay)
        error_type = fault.resolved_error_type()
        message = fault.message or error_message(error_type)
        await exchange.send_event(
            "error", error_object(error_type, message, exchange.request_id, fault.code)
        )
        await exchange.end()
        raise Finished
    if fault.kind == "truncate":
        await exchange.end()
        raise Finished
    if fault.kind == "reset":
        await exchange.reset()
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
            await exchange.ping()


async def send_json(exchange: Exchange, body: bytes, content_type: str = JSON_CONTENT_TYPE) -> None:
    """A non-streamed JSON answer; positioned faults count bytes of ``body``."""
    fault = _positioned(exchange)
    if fault is None:
        await exchange.full_response(200, body, content_type)
        return
    if fault.kind == "error":
        error_type = fault.resolved_error_type()
        message = fault.message or error_message(error_type)
        await exchange.error_response(
            status_for_error_type(error_type), error_type, message, error_code=fault.code
        )
        return
    position = fault.position
    if position is None:
        await _before_headers(exchange, fault)  # only a stall comes back
        await exchange.full_response(200, body, content_type)
        return
    cut = min(position, len(body))
    await exchange.start(200, [("content-type", content_type)])
    await exchange.write(body[:cut])
    if fault.kind == "reset":
        await exchange.reset()
    if fault.kind in ("stall", "stall_pings"):
        await anyio.sleep(fault.seconds)
        await exchange.write(body[cut:])
    await exchange.end()


async def send_wholesale(exchange: Exchange, fault: Fault, *, is_stream: bool) -> None:
    """Faults that replace the whole response."""
    if fault.kind == "status":
        status = fault.status or 500
        error_type = fault.resolved_error_type()
        message = fault.message or error_message(error_type)
        await exchange.error_response(
            status, error_type, message, _retry_headers(fault), error_code=fault.code
        )
    elif fault.kind == "html":
        status = fault.status or 500
        await exchange.full_response(
            status, html_page(status), HTML_CONTENT_TYPE, _retry_headers(fault)
        )
    elif fault.kind == "empty":
        await exchange.full_response(fault.status or 500, b"", None, _retry_headers(fault))
    elif fault.kind == "empty_200":
        default = SSE_CONTENT_TYPE if is_stream else JSON_CONTENT_TYPE
        await exchange.full_response(200, b"", fault.content_type or default)
    elif fault.raw is not None:
        await send_raw(exchange, fault.raw)


async def send_wrong_content_type(
    exchange: Exchange, fault: Fault, *, json_body: bytes, events: Sequence[Event] | None
) -> None:
    """A 200 labelled with the fault's content type, with a body to match it."""
    content_type = fault.content_type or "text/plain"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/event-stream" and events is not None:
        await send_stream(exchange, events, content_type=content_type)
    elif "json" in media or media == "text/event-stream":
        await exchange.full_response(200, json_body, content_type)
    elif "html" in media:
        await exchange.full_response(200, html_page(200), content_type)
    else:
        await exchange.full_response(200, b"This is not a Messages API response.\n", content_type)


async def send_raw(exchange: Exchange, raw: RawResponse) -> None:
    """Arbitrary bytes (``push_raw_stream``), in ``chunk_size`` pieces."""
    names = {name.lower() for name, _ in raw.headers}
    headers: list[tuple[str, str]] = []
    if raw.content_type is not None and "content-type" not in names:
        headers.append(("content-type", raw.content_type))
    if "request-id" not in names:
        headers.append(("request-id", exchange.request_id))
    if exchange.aws_request_id is not None and AWS_REQUEST_ID_HEADER not in names:
        headers.append((AWS_REQUEST_ID_HEADER, exchange.aws_request_id))
    headers.extend(raw.headers)
    await exchange.start(raw.status, headers, base=False)
    size = raw.chunk_size or max(len(raw.body), 1)
    for offset in range(0, len(raw.body), size):
        if offset and raw.chunk_delay:
            await anyio.sleep(raw.chunk_delay)
        await exchange.write(raw.body[offset : offset + size])
    await exchange.end()
