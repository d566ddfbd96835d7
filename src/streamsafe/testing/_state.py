"""State shared between the emulator's owner thread and its server thread."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ._faults import Fault
from ._ids import make_id

__all__ = ["EmulatorState", "RecordedRequest"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received."""

    method: str
    path: str
    #: Lower-cased header names; repeated headers are joined with ", ".
    headers: dict[str, str]
    #: Bytes of the request body that were received.
    body_size: int
    #: The parsed JSON body; None when the body was too large or not JSON.
    json: Any
    #: The fault applied to this request, if any.
    fault: Fault | None
    #: The ``request-id`` header of the response.
    request_id: str
    #: The response's HTTP status, set when its headers are sent; None before,
    #: or when the connection was closed or reset before any response.
    status: int | None = None
    #: Milliseconds from the request's arrival to the end of its response (the
    #: last byte, a cut, a reset or the client hanging up); None until then.
    duration_ms: float | None = None

    def log_line(self) -> str:
        """``POST /v1/messages 200 req_01… error:overloaded_error@3 12ms``: the server log's line.

        Fields: method, path, status (``-``: no response), request id, the fault
        applied (``-``: none) and the duration (``-``: still in progress).
        """
        return format_log_line(
            self.method,
            self.path,
            self.status,
            self.request_id,
            self.fault.spec if self.fault is not None else None,
            self.duration_ms,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``fault`` as its spec string)."""
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "request_id": self.request_id,
            "fault": self.fault.spec if self.fault is not None else None,
            "duration_ms": self.duration_ms,
            "headers": self.headers,
            "body_size": self.body_size,
            "json": self.json,
        }


def format_log_line(
    method: str,
    path: str,
    status: int | None,
    request_id: str | None,
    fault: str | None,
    duration_ms: float | None,
) -> str:
    duration = "-" if duration_ms is None else f"{duration_ms:.0f}ms"
    return " ".join([method, path, str(status or "-"), request_id or "-", fault or "-", duration])


class EmulatorState:
    """Fault queue, request log and settings, guarded by a lock.

    Ids (``req_…``, ``msg_…``) hash a per-instance salt with a counter: random
    unless ``seed`` is given, so they differ across emulators and runs.
    """

    def __init__(
        self,
        event_delay: float = 0.0,
        ping_interval: float | None = None,
        seed: int | str | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._header_counts: Counter[str] = Counter()
        self._counter = 0
        self._salt = secrets.token_hex(16) if seed is None else f"seed={seed}"
        self.event_delay = event_delay
        self.ping_interval = ping_interval
        #: Send an ``x-amzn-requestid`` header on every response.
        self.aws_request_ids = False
        #: Called with each request's log line once its response is over.
        self.log: Callable[[str], None] | None = None

    def next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def next_request_id(self) -> tuple[int, str]:
        number = self.next_number()
        return number, self.make_id("req", number)

    def make_id(self, prefix: str, number: int) -> str:
        """The id of the ``number``-th request's ``prefix`` object for this instance."""
        return make_id(prefix, self._salt, number)

    def push_faults(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def pop_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def count_header_fault(self, fault: Fault) -> bool:
        """Count one more request carrying ``fault`` by header; True if it still applies."""
        if fault.times is None:
            return True
        with self._lock:
            self._header_counts[fault.counter_key] += 1
            return self._header_counts[fault.counter_key] <= fault.times

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def update(self, request: RecordedRequest, **changes: Any) -> RecordedRequest:
        """Replace a recorded request by a copy with ``changes``; returns the copy."""
        new = dataclasses.replace(request, **changes)
        with self._lock:
            for index in range(len(self._requests) - 1, -1, -1):
                if self._requests[index] is request:
                    self._requests[index] = new
                    break
        return new

    def emit(self, line: str) -> None:
        log = self.log
        if log is not None:
            log(line)

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Drop the queued faults, the recorded requests and the ``times`` counters."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self._header_counts.clear()
