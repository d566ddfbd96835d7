"""What a stream measured: :class:`StreamMetrics`, and how it is computed.

The counts come from the stream's own counters (events and bytes are counted
per read of the body, output tokens by the accumulator) and the times from
its :class:`~._observe_call.Call`: nothing is measured per event here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._stream import _MessageCore

__all__ = ["StreamMetrics", "measure"]


@dataclass(frozen=True)
class StreamMetrics:
    """What a stream measured. Times are seconds since the call started (retries included).

    ``time_to_first_byte``: until the response headers of the stream's attempt
    arrived; ``time_to_first_content``: until its first ``content_block_start``
    (``None`` if none arrived); ``duration``: until the call ended, or until
    now while it is open; ``events`` / ``bytes``: SSE events decoded and body
    bytes received by this stream; ``output_tokens``: the latest usage count;
    ``output_tokens_per_second``: output tokens over the time since the first
    content (``None`` before content or tokens).
    """

    time_to_first_byte: float | None
    time_to_first_content: float | None
    duration: float
    events: int
    bytes: int
    output_tokens: int | None
    attempts: int

    @property
    def output_tokens_per_second(self) -> float | None:
        first = self.time_to_first_content
        if first is None or not self.output_tokens:
            return None
        generating = self.duration - first
        return self.output_tokens / generating if generating > 0 else None


def measure(
    core: _MessageCore | None,
    *,
    started: float,
    headers_at: float | None,
    first_content_at: float | None,
    until: float,
    attempts: int,
) -> StreamMetrics:
    """The metrics of the stream of ``core`` (None: no stream yet), times since ``started``."""
    events = byte_count = 0
    tokens = None
    if core is not None:
        events = core.source_core.events_read
        byte_count = core.source_core.bytes_read
        tokens = core.accumulator.output_tokens
    return StreamMetrics(
        time_to_first_byte=None if headers_at is None else headers_at - started,
        time_to_first_content=(None if first_content_at is None else first_content_at - started),
        duration=until - started,
        events=events,
        bytes=byte_count,
        output_tokens=tokens,
        attempts=attempts,
    )
