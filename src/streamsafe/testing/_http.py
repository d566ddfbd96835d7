"""The HTTP conventions every endpoint of the emulator shares.

Its headers (``x-streamsafe-*``, the request ids), the body size limit and
reading a body up to it, the JSON error object, the HTML page an
intermediary answers with, and the request log's JSON and timings.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.types import Receive, Scope

from ._state import EmulatorState

__all__ = [
    "AWS_HEADER",
    "AWS_REQUEST_ID_HEADER",
    "DELAY_HEADER",
    "FAULT_HEADER",
    "HTML_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "MAX_REQUEST_BYTES",
    "REFUSAL_HEADER",
    "SSE_CONTENT_TYPE",
    "ClientGone",
    "derive_aws_request_id",
    "elapsed_ms",
    "error_object",
    "header_dict",
    "html_page",
    "parse_json",
    "read_body",
    "wants_aws",
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
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"


class ClientGone(Exception):
    """The client disconnected while sending its request."""


def header_dict(scope: Scope) -> dict[str, str]:
    """The request's headers, names lower-cased, repeated ones joined with ``, ``."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = bytes(raw_name).decode("latin-1").lower()
        value = bytes(raw_value).decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def read_body(receive: Receive) -> tuple[bytes | None, int]:
    """The request body (None beyond MAX_REQUEST_BYTES) and its size in bytes."""
    chunks: list[bytes] = []
    size = 0
    keep = True
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
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


def error_object(
    error_type: str, message: str, request_id: str, error_code: str | None = None
) -> dict[str, Any]:
    """The API's error object (``details.error_code`` when given)."""
    error: dict[str, Any] = {"type": error_type, "message": message}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    return {"type": "error", "error": error, "request_id": request_id}


def html_page(status: int) -> bytes:
    """The page a proxy or load balancer answers with instead of the API."""
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


def derive_aws_request_id(request_id: str) -> str:
    """A UUID-shaped id derived from the request id (as Claude Platform on AWS sends)."""
    digest = hashlib.sha256(request_id.encode("ascii")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def wants_aws(state: EmulatorState, headers: Mapping[str, str]) -> bool:
    """Whether the response carries an ``x-amzn-requestid`` (emulator-wide, or asked for)."""
    flag = headers.get(AWS_HEADER, "").strip().lower()
    return state.aws_request_ids or flag in ("1", "true", "yes")


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` value), for the request log."""
    return round((time.perf_counter() - started) * 1000, 3)


def parse_json(body: bytes | None) -> Any:
    """The body as JSON for the request log (None: empty, too large or not JSON)."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
