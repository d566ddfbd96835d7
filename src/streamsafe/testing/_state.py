"""State shared between the emulator's owner thread and its server thread."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._content import make_id
from ._faults import Fault

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


class EmulatorState:
    """Fault queue, request log and settings, guarded by a lock."""

    def __init__(self, event_delay: float = 0.0, ping_interval: float | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._counter = 0
        self.event_delay = event_delay
        self.ping_interval = ping_interval
        #: Send an ``x-amzn-requestid`` header on every response.
        self.aws_request_ids = False

    def next_number(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def next_request_id(self) -> tuple[int, str]:
        number = self.next_number()
        return number, make_id("req", number)

    def push_faults(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def pop_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._requests.clear()
