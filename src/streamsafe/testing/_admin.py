"""The emulator's admin endpoints, under ``/_emulator/``: script it over HTTP.

For clients that cannot call :class:`Emulator` methods (``streamsafe serve``
driven from another language, curl, the official SDK): queue faults, read the
request log, reset. Admin requests are logged but not recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._faults import Fault
from ._render import dump_json
from ._state import EmulatorState, format_log_line

__all__ = ["ADMIN_PREFIX", "admin_routes"]

ADMIN_PREFIX = "/_emulator"
_MAX_TIMES = 10_000

Endpoint = Callable[[Request], Awaitable[Response]]


class _Invalid(Exception):
    pass


def _json(data: Any, status: int = 200) -> Response:
    return Response(dump_json(data), status_code=status, media_type="application/json")


def admin_routes(state: EmulatorState) -> list[Route]:
    """``/_emulator/faults`` (GET, POST), ``/_emulator/requests``, ``/_emulator/reset``."""

    def pending() -> Response:
        return _json({"pending": [fault.spec for fault in state.pending_faults()]})

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return pending()
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise _Invalid("the body must be JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("spec"), str):
            raise _Invalid('expected {"spec": "<fault spec>", "times": N}')
        try:
            fault = Fault.parse(body["spec"])
        except ValueError as exc:
            raise _Invalid(str(exc)) from None
        times = body.get("times", fault.times or 1)
        if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= _MAX_TIMES:
            raise _Invalid(f"times must be an integer from 0 to {_MAX_TIMES}")
        state.push_faults([fault.without_counter()] * times)
        return pending()

    async def requests(request: Request) -> Response:
        return _json({"requests": [entry.to_json() for entry in state.requests()]})

    async def reset(request: Request) -> Response:
        state.clear()
        return _json({"reset": True})

    def logged(endpoint: Endpoint) -> Endpoint:
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await endpoint(request)
            except _Invalid as exc:
                error = {"type": "invalid_request_error", "message": str(exc)}
                response = _json({"type": "error", "error": error}, 400)
            duration = (time.perf_counter() - started) * 1000
            line = format_log_line(
                request.method, request.url.path, response.status_code, None, None, duration
            )
            state.emit(line)
            return response

        return run

    return [
        Route(f"{ADMIN_PREFIX}/faults", logged(faults), methods=["GET", "POST"]),
        Route(f"{ADMIN_PREFIX}/requests", logged(requests), methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/reset", logged(reset), methods=["POST"]),
    ]
