"""The request log entry of one Messages or token counting exchange, completed as it goes."""

from __future__ import annotations

from ._http import elapsed_ms
from ._state import EmulatorState, RecordedRequest

__all__ = ["Tracker"]


class Tracker:
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
        self._entry = self._state.update(self._entry, duration_ms=elapsed_ms(self._started))
        self._state.emit(self._entry.log_line())
