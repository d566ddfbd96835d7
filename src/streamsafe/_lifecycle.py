"""Where a stream is in its life: one explicit phase, and every transition in one place.

A stream starts :data:`OPEN` and leaves it once, for one of three endings:

* :data:`ENDED`: it came to its end (for an event source the end of the
  body; for a message stream the end of its iteration after ``message_stop``);
* :data:`FAILED`: an error ended it; :attr:`Lifecycle.error` keeps it;
* :data:`CLOSED`: its owner closed it before it ended.

The ending is final. What a stream meets after it (closing a stream that
ended, a read after an early close finding the end, an error raised again when
a failed stream is iterated again) is either listed in the layer's
``LATE`` table, and changes nothing, or a bug, and raises ``RuntimeError``.
So ``lifecycle.phase`` answers "is it finished? did it end? was it closed
early?" and ``lifecycle.error`` "what error ended it?".

Two layers keep one each, and both tables are here:

* the event source (:class:`~streamsafe._sse.SourceCore`): :class:`SourceLifecycle`,
  the state of the bytes: the body ended, an error frame arrived (raised
  again on every read once the events before it are consumed), or the
  ``connect_events`` block exited first;
* the message stream (:class:`~streamsafe._stream._MessageCore`):
  :class:`StreamLifecycle`, what its caller sees: the iteration is over
  (``message_stop`` arrived, then the body ended or something after it was
  ignored), an error was raised to the caller, or the caller closed it first.

Whether ``message_stop`` arrived (the message is complete) is the
accumulator's own knowledge (``MessageAccumulator.done``), not a phase; and
whether the bytes stopped on an event boundary is the decoder's
(``SSEDecoder.ended_cleanly``). Sans-IO: no sockets, no event loop.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from ._errors import APIError

__all__ = [
    "CLOSED",
    "ENDED",
    "FAILED",
    "OPEN",
    "Lifecycle",
    "Phase",
    "SourceLifecycle",
    "StreamLifecycle",
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
    """A phase, the error that ended the stream (if one did), and the legal transitions."""

    __slots__ = ("error", "phase")

    #: ``(ending, event)`` pairs a stream may meet after its ending, which keep the ending.
    LATE: ClassVar[frozenset[tuple[Phase, Phase]]] = frozenset()

    def __init__(self) -> None:
        self.phase = OPEN
        self.error: APIError | None = None

    def end(self) -> None:
        self._move(ENDED)

    def fail(self, error: APIError) -> None:
        if self._move(FAILED):
            self.error = error

    def close(self) -> None:
        self._move(CLOSED)

    def _move(self, to: Phase) -> bool:
        """Leave OPEN for ``to`` (True); after the ending, only a ``LATE`` event (False)."""
        if self.phase is OPEN:
            self.phase = to
            return True
        if (self.phase, to) in self.LATE:
            return False
        raise RuntimeError(
            f"{type(self).__name__}: a stream that is {self.phase.value} cannot become {to.value}"
        )

    def __repr__(self) -> str:
        error = "" if self.error is None else f", {type(self.error).__name__}"
        return f"<{type(self).__name__} {self.phase.value}{error}>"


class SourceLifecycle(Lifecycle):
    """An event source's: the body ended, an error frame arrived, or its block exited first."""

    __slots__ = ()

    LATE = frozenset(
        {
            (ENDED, CLOSED),  # the block exits after the body ended
            (FAILED, CLOSED),  # the block exits after an error frame
            (CLOSED, ENDED),  # a read after the close tells the decoder the end
        }
    )


class StreamLifecycle(Lifecycle):
    """A message stream's: its iteration ended, an error was raised, or its caller closed it."""

    __slots__ = ()

    LATE = frozenset(
        {
            (ENDED, CLOSED),  # closed (or read to the end, which closes it) after it ended
            (FAILED, CLOSED),  # closed after the error
            (CLOSED, CLOSED),  # closed again (aclose is idempotent)
            (FAILED, FAILED),  # iterated again after the error: the first one ended it
            (CLOSED, FAILED),  # iterated again after an early close: IncompleteStreamError
        }
    )
