"""One response of the Messages endpoints, written as plain ASGI messages.

:class:`Exchange` controls every byte and every ASGI message it sends, which
the faults need (:mod:`._respond` applies them through it): headers, body
bytes up to a ``truncate_bytes`` limit, the end of the body, a whole
response, the JSON error, the pauses between events with the periodic pings
due meanwhile, and the connection-level endings (a reset, a close without a
response; see :mod:`._reset`).

Each response runs inside :meth:`Exchange.run`, next to a task that waits
for ``http.disconnect``. A client that hangs up, or the emulator shutting
down (it aborts every connection), cancels the response at its next await:
no stall or delay outlives its connection.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from ._faults import Fault
from ._http import AWS_REQUEST_ID_HEADER, FAULT_HEADER, JSON_CONTENT_TYPE, error_object
from ._render import dump_json, encode_sse
from ._reset import ConnectionsGetter, abort, arm_reset, find_transport
from ._tracker import Tracker

__all__ = ["Exchange", "Finished"]


class Finished(Exception):
    """The response is over: completed, cut, or its connection is gone."""


class Exchange:
    """Writes one response; the request's fault decides how (:mod:`._respond`)."""

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        connections: ConnectionsGetter,
        tracker: Tracker | None = None,
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
            with contextlib.suppress(Finished):
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

    def limit_bytes(self, limit: int) -> None:
        """Cut the body after ``limit`` bytes (``truncate_bytes``): see :meth:`write`."""
        self._byte_limit = limit

    async def write(self, data: bytes) -> None:
        """Send body bytes; raises Finished once a ``truncate_bytes`` limit is hit."""
        if self._byte_limit is not None and self._sent_bytes + len(data) >= self._byte_limit:
            room = self._byte_limit - self._sent_bytes
            if room > 0:
                await self._send(
                    {"type": "http.response.body", "body": data[:room], "more_body": True}
                )
                self._sent_bytes += room
            await self.end()
            raise Finished
        if data:
            await self._send({"type": "http.response.body", "body": data, "more_body": True})
            self._sent_bytes += len(data)

    async def send_event(self, name: str, data: Mapping[str, Any]) -> None:
        """Send one SSE event; a ``ping`` puts off the next periodic one."""
        await self.write(encode_sse(name, data))
        if name == "ping" and self.ping_interval is not None:
            self._next_ping = anyio.current_time() + self.ping_interval

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
        body = dump_json(error_object(error_type, message, self.request_id, error_code))
        await self.full_response(status, body, JSON_CONTENT_TYPE, headers)

    # -- connection-level endings --------------------------------------------------

    async def _await_disconnect(self) -> None:
        # The disconnect watcher cancels the response once the server saw the
        # connection go; the timeout is a safety net only.
        with anyio.move_on_after(2.0):
            await anyio.sleep_forever()
        raise Finished

    async def reset(self) -> None:
        """Abort the connection with a TCP RST (see :mod:`._reset`)."""
        transport = find_transport(self._receive, self._scope, self._connections)
        if transport is None:
            raise RuntimeError(
                "streamsafe emulator: cannot reach the connection's socket to reset it"
            )
        await arm_reset(transport)
        self._finish_record()
        abort(transport)
        await self._await_disconnect()

    async def close_without_response(self) -> None:
        transport = find_transport(self._receive, self._scope, self._connections)
        if transport is None:
            raise RuntimeError("streamsafe emulator: cannot reach the connection to close it")
        self._finish_record()
        transport.close()
        await self._await_disconnect()

    # -- pacing --------------------------------------------------------------------

    async def ping(self) -> None:
        """Send a ``ping`` event now (a ``stall_pings`` fault, or one that fell due)."""
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
                await self.ping()
                continue
            if deadline > now:
                await anyio.sleep(deadline - now)
            return
