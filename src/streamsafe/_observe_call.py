"""The bookkeeping of one observed message call: :class:`Call`.

It tells the observer (if any) of the call's attempts, headers, first
content, reads and retries, measures the stream (:mod:`._metrics`), and
ends the call exactly once, logging a call that did not complete. The only
per-event work is a hook that removes itself once the first content arrived.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ._errors import APIError
from ._metrics import StreamMetrics, measure
from ._observer import (
    AbandonReason,
    Observer,
    Outcome,
    ResponseHeaders,
    RetryScheduled,
    StreamEnd,
    describe_abnormal_end,
    is_cancellation,
)

if TYPE_CHECKING:
    import httpx

    from ._events import StreamEvent
    from ._stream import _MessageCore

__all__ = ["Call"]

logger = logging.getLogger("streamsafe")

_clock = time.perf_counter


class Call:
    """One observed call: its request and state (given to every :class:`Observer` method).

    ``params``: the request body (model, max_tokens, messages, ...; it holds
    message content: record it only if your users opted in); ``url``;
    ``stream``: the caller asked for a stream (``False`` for ``create()``,
    which streams underneath); ``attempt``; ``request_id`` /
    ``aws_request_id`` of the latest response; ``started`` (a
    ``time.perf_counter()`` value); ``state``: free for the observer's use.
    """

    def __init__(
        self,
        observer: Observer | None,
        params: dict[str, Any] | None,
        *,
        url: str = "",
        stream: bool = True,
        handed_over: bool = False,
    ) -> None:
        self.observer = observer
        self.params: dict[str, Any] = params if isinstance(params, dict) else {}
        self.url = url
        self.stream = stream
        self.state: Any = None
        self.attempt = 0
        self.request_id: str | None = None
        self.aws_request_id: str | None = None
        self.started = _clock()
        self.ended: StreamEnd | None = None
        #: The stream belongs to its caller, who ends the call by reading,
        #: closing or dropping it. Until then (a client's prefetch or
        #: create()) the client ends the call itself.
        self.handed_over = handed_over
        self._headers_at: float | None = None
        self._first_content_at: float | None = None
        self._last_read_at = 0.0
        self._core: _MessageCore | None = None
        self._wants_chunks = observer is not None and (
            type(observer).on_chunk is not Observer.on_chunk
        )
        if observer is not None:
            observer.on_start(self)

    # -- events ------------------------------------------------------------------

    def next_attempt(self) -> None:
        self.attempt += 1
        self._core = None
        self._headers_at = None
        self._first_content_at = None
        if self.observer is not None:
            self.observer.on_attempt(self, self.attempt)

    def on_response(self, response: httpx.Response) -> None:
        """Hook of ``connect_events``: the response headers arrived."""
        self._headers_at = _clock()
        headers = response.headers
        self.request_id = headers.get("request-id")
        self.aws_request_id = headers.get("x-amzn-requestid")
        if self.observer is not None:
            info = ResponseHeaders(
                self.attempt, response.status_code, self.request_id, self.aws_request_id
            )
            self.observer.on_headers(self, info)

    def attach(self, core: _MessageCore) -> None:
        """A stream of this call starts reading (each attempt makes one)."""
        self._core = core
        core.apply = self._apply_until_content
        if self._wants_chunks:
            core.source_core.on_read = self._on_read

    def _apply_until_content(self, event: StreamEvent) -> None:
        core = self._core
        assert core is not None
        core.accumulator.apply(event)
        if core.is_content_start(event):
            core.apply = core.accumulator.apply  # from now on, nothing per event
            self._first_content_at = now = _clock()
            self._last_read_at = now
            if self.observer is not None:
                self.observer.on_first_content(self, now - self.started)

    def _on_read(self) -> None:
        now = _clock()
        if self._first_content_at is not None and self.observer is not None:
            self.observer.on_chunk(self, now - self._last_read_at)
        self._last_read_at = now

    def retry(self, delay: float, error: APIError) -> None:
        content = self._first_content_at is not None
        if self.observer is not None:
            self.observer.on_retry(self, RetryScheduled(self.attempt, delay, error, content))

    # -- metrics -----------------------------------------------------------------

    def metrics(self, until: float | None = None) -> StreamMetrics:
        if until is None:
            until = self.ended_at if self.ended is not None else _clock()
        return measure(
            self._core,
            started=self.started,
            headers_at=self._headers_at,
            first_content_at=self._first_content_at,
            until=until,
            attempts=self.attempt,
        )

    # -- endings (each call ends once) -------------------------------------------

    ended_at = 0.0

    def end(
        self,
        outcome: Outcome,
        error: BaseException | None = None,
        reason: AbandonReason | None = None,
    ) -> None:
        if self.ended is not None:
            return
        self.ended_at = _clock()
        core = self._core
        message = None
        if isinstance(error, APIError) and error.partial_message is not None:
            message = error.partial_message
        elif core is not None:
            message = core.accumulator.snapshot()
        end = StreamEnd(
            outcome=outcome,
            reason=reason,
            error=error,
            message=message,
            metrics=self.metrics(self.ended_at),
            request_id=self.request_id,
            aws_request_id=self.aws_request_id,
        )
        self.ended = end
        if outcome != "completed":
            _log_abnormal_end(self, end)
        if self.observer is not None:
            self.observer.on_end(self, end)

    def end_with(self, exc: BaseException | None, *, raised_by_library: bool) -> None:
        """End the call as the exception leaving it says (``None``: closed normally).

        ``raised_by_library``: ``exc`` came out of streamsafe (opening, retrying)
        rather than out of the caller's code around the stream.
        """
        core = self._core
        if core is not None and core.accumulator.done:
            self.end("completed")
        elif exc is None:
            self.end("abandoned", reason="closed")
        elif is_cancellation(exc):
            self.end("abandoned", exc, "cancelled")
        elif raised_by_library and isinstance(exc, Exception):
            self.end("failed", exc)
        else:
            self.end("abandoned", exc, "closed")

    # Hooks of the stream, which end the call only once it is handed over.

    def stream_failed(self, exc: APIError) -> None:
        if self.handed_over:
            self.end("failed", exc)

    def stream_opening_failed(self, exc: BaseException) -> None:
        if self.handed_over:
            self.end_with(exc, raised_by_library=True)

    def stream_closed(self, exc: BaseException | None) -> None:
        if self.handed_over and self.ended is None:
            self.end_with(exc, raised_by_library=False)

    def stream_collected(self) -> None:
        # Only an unclosed stream that never failed calls this (see
        # _stream._CollectionWatch): the one being read, never an earlier attempt's.
        if self.handed_over and self.ended is None:
            core = self._core
            if core is not None and core.accumulator.done:
                self.end("completed")
            else:
                self.end("abandoned", reason="garbage_collected")


def _log_abnormal_end(call: Call, end: StreamEnd) -> None:
    """One line per call that did not complete, with both request ids."""
    level, what = describe_abnormal_end(end.outcome, end.error, end.reason)
    logger.log(
        level,
        "message call %s after %d attempt(s), %.3f s (request_id=%s, aws_request_id=%s)",
        what,
        call.attempt,
        end.metrics.duration,
        end.request_id,
        end.aws_request_id,
    )
