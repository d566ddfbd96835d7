"""Where a stream is in its life: one explicit phase, left once.

A stream starts :data:`OPEN` and leaves it once, for one of three endings:

* :data:`ENDED`: it came to its end (for an event source the end of the
  body; for a message stream the end of its iteration after ``message_stop``);
* :data:`FAILED`: an error ended it; :attr:`Lifecycle.error` keeps it;
* :data:`CLOSED`: its owner closed it before it ended.

The first ending is final: whatever the stream meets after it (a close after
the end, an error raised again when a failed stream is iterated again, a read
that was already in flight when another task or thread closed the stream)
keeps it. No later event is an error: with a close that may come from another
task or thread, the order of endings is a race, and bookkeeping must never
turn a complete message into an exception. So ``lifecycle.phase`` answers "is
it finished? did it end? was it closed early?" and ``lifecycle.error`` "what
error ended it?".

Two layers keep one each:

* the event source (:class:`~streamsafe._sse.SourceCore`): the state of the
  bytes: the body ended, an error frame arrived (raised again on every read
  once the events before it are consumed), or the ``connect_events`` block
  exited first;
* the message stream (:class:`~streamsafe._stream._MessageCore`): what its
  caller sees: the iteration is over (``message_stop`` arrived, then the body
  ended or something after it was ignored), an error was raised to the
  caller, or the caller closed it first.

Whether ``message_stop`` arrived (the message is complete) is the
accumulator's own knowledge (``MessageAccumulator.done``), not a phase; and
whether the bytes stopped on an event boundary is the decoder's
(``SSEDecoder.ended_cleanly``). Sans-IO: no sockets, no event loop.
"""

from __future__ import annotations

import enum

from ._errors import APIError

__all__ = [
    "CLOSED",
    "ENDED",
    "FAILED",
    "OPEN",
    "Lifecycle",
    "Phase",
]


class Phase(enum.Enum):
    OPEN = "open"
    ENDED = "ended"
    FAILED = "failed"
    CLOSED = "closed"


# Module constants: the per-read checks (``phase is not OPEN``) load a global.
OPEN = Phase.OPEN
ENDED = Phase.ENDED
FAILED = Phase.FAILED
CLOSED = Phase.CLOSED


class Lifecycle:
    """A phase, and the error that ended the stream (if one did)."""

    __slots__ = ("error", "phase")

    def __init__(self) -> None:
        self.phase = OPEN
        self.error: APIError | None = None

    def end(self) -> None:
        self._leave_open(ENDED)

    def fail(self, error: APIError) -> None:
        if self._leave_open(FAILED):
            self.error = error

    def close(self) -> None:
        self._leave_open(CLOSED)

    def _leave_open(self, to: Phase) -> bool:
        """Leave OPEN for ``to`` (True); after the first ending, keep it (False)."""
        if self.phase is OPEN:
            self.phase = to
            return True
        return False

    def __repr__(self) -> str:
        error = "" if self.error is None else f", {type(self.error).__name__}"
        return f"<Lifecycle {self.phase.value}{error}>"
