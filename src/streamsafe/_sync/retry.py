# generated from src/streamsafe/_async/retry.py by scripts/unasync.py: do not edit
"""The retry loop of requests: the I/O, written once.

Every decision is in ``streamsafe/_retry.py`` (:class:`~streamsafe._retry.RetryPolicy`:
whether an error is retried, after how long); this module makes the attempts
and sleeps between them, for the clients and the Message Batches API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .._errors import APIError
from .._observe import Retried
from .._retry import RetryPolicy
from .._twins import Clock

__all__ = ["run_with_retries"]

_T = TypeVar("_T")


def run_with_retries(
    policy: RetryPolicy,
    what: str,
    attempt: Callable[[], _T],
    call: Retried | None = None,
) -> _T:
    """Run ``attempt()`` until it returns, retrying each :class:`APIError` ``policy`` allows.

    ``what`` names the request in the policy's messages. ``call``, if given,
    is told of every retry, and ended with the exception when this gives up
    or is interrupted (a no-op if the call already ended).
    """
    retrying = policy.start(what)
    try:
        while True:
            try:
                return attempt()
            except APIError as error:
                delay = retrying.delay_after(error)
                if call is not None:
                    call.retry(delay, error)
            Clock.sleep(delay)
    except BaseException as exc:
        if call is not None:
            call.end_with(exc, raised_by_library=True)
        raise
