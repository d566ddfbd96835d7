"""When to retry a request, and how long to wait first — decisions only, no I/O.

A request is retried when its error says it may succeed next time
(``error.retryable``: connection errors, 408, 409, 429, 5xx, 529 and the
matching in-stream error types, overridden by an ``x-should-retry`` header),
while attempts remain. The wait is the server's ``retry-after-ms`` /
``retry-after`` when given — unless it exceeds ``max_retry_after``, in which
case the error is raised at once rather than sleeping for, say, an hour — and
otherwise exponential backoff with jitter.

A stream is only ever retried before the caller has seen any of its content;
that rule lives in the client, which asks this policy only then.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from ._errors import APIError, APIStatusError
from ._failures import retry_after_seconds

__all__ = ["Backoff", "RetryPolicy", "Retrying", "logger"]

logger = logging.getLogger("streamsafe")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter.

    The n-th retry (n = 0, 1, ...) waits ``min(maximum, initial * multiplier**n)``
    seconds, shortened by a random fraction up to ``jitter``. Overload windows
    can last minutes: raise ``maximum`` and the client's ``max_retries`` to
    ride them out.
    """

    initial: float = 0.5
    maximum: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.25
    #: A server asking to wait longer than this gets its error raised at once.
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.max_retry_after < 0:
            raise ValueError("backoff durations must not be negative")
        if self.multiplier < 1:
            raise ValueError("backoff multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must be between 0 and 1")

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        base = min(self.maximum, self.initial * self.multiplier**retry_number)
        draw = (rng or random).random()
        return base * (1.0 - self.jitter * draw)


@dataclass
class RetryPolicy:
    """Decides, error by error, whether to retry and after what wait."""

    max_retries: int = 2
    backoff: Backoff = field(default_factory=Backoff)
    rng: random.Random | None = None

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")

    def next_delay(self, retries_done: int, error: APIError) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to raise ``error``."""
        if not error.retryable or retries_done >= self.max_retries:
            return None
        if isinstance(error, APIStatusError) and error.response is not None and not error.in_stream:
            asked = retry_after_seconds(error.response.headers)
            if asked is not None:
                if asked > self.backoff.max_retry_after:
                    error.message += (
                        f" (the server asked to retry after {asked:g} s, more than "
                        f"max_retry_after={self.backoff.max_retry_after:g} s)"
                    )
                    return None
                return asked
        return self.backoff.delay(retries_done, self.rng)

    def start(self, what: str) -> Retrying:
        """Begin the attempts of one request (``what`` names it in log lines)."""
        return Retrying(self, what)


class Retrying:
    """The retry state of one request: call :meth:`delay_after` on each failure."""

    def __init__(self, policy: RetryPolicy, what: str) -> None:
        self.policy = policy
        self.what = what
        self.retries = 0

    def delay_after(self, error: APIError) -> float:
        """The wait before the next attempt; re-raises ``error`` when there is none.

        Must be called while ``error`` is being handled (inside ``except``).
        """
        delay = self.policy.next_delay(self.retries, error)
        if delay is None:
            raise error
        self.retries += 1
        logger.info(
            "retrying %s in %.2f s after %s: %s (retry %d of %d, request_id=%s, aws_request_id=%s)",
            self.what,
            delay,
            type(error).__name__,
            error.message,
            self.retries,
            self.policy.max_retries,
            error.request_id,
            error.aws_request_id,
        )
        return delay
