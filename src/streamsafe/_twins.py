"""What the async I/O shells use where their sync twins need something else.

The sync modules in ``_sync/`` are generated from ``_async/`` by
``scripts/unasync.py``, which renames ``AsyncX`` to ``X``; the pairs below are
how one async text stands for both behaviours.
"""

from __future__ import annotations

import inspect
import threading
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import anyio

__all__ = [
    "AsyncClock",
    "AsyncDeadline",
    "AsyncNotify",
    "AsyncSectionLock",
    "AsyncShield",
    "Clock",
    "Deadline",
    "Notify",
    "SectionLock",
    "Shield",
]

_T = TypeVar("_T")


class _Nothing:
    """A context manager that does nothing (the base of the no-op twins below)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: object, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        return None


class AsyncClock:
    """The event loop's clock (``now``) and sleep."""

    now = staticmethod(anyio.current_time)
    sleep = staticmethod(anyio.sleep)


class Clock:
    """Sync twin of :class:`AsyncClock`: the monotonic clock and a blocking sleep."""

    now = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


def AsyncDeadline(deadline: float) -> anyio.CancelScope:
    """Cancel the block at ``deadline`` (on :class:`AsyncClock`); the block then just ends."""
    return anyio.CancelScope(deadline=deadline)


class Deadline(_Nothing):
    """Sync twin of :func:`AsyncDeadline`: a blocking call cannot be cut short, so no-op.

    The sync code relies on its read timeout instead.
    """

    __slots__ = ()

    def __init__(self, deadline: float) -> None:
        del deadline


def AsyncShield() -> anyio.CancelScope:
    """Shield the block from cancellation (cleanup that must finish)."""
    return anyio.CancelScope(shield=True)


class Shield(_Nothing):
    """Sync twin of :func:`AsyncShield`: a thread has no cancellation to shield from."""

    __slots__ = ()


async def AsyncNotify(callback: Callable[[_T], object], value: _T) -> None:
    """Call a caller's ``callback(value)``; await what it returns if it is awaitable.

    So an async API takes a plain function or a coroutine function alike.
    """
    returned = callback(value)
    if inspect.isawaitable(returned):
        await returned


def Notify(callback: Callable[[_T], object], value: _T) -> None:
    """Sync twin of :func:`AsyncNotify`: call ``callback(value)``."""
    callback(value)


class AsyncSectionLock(_Nothing):
    """Guards a section with no ``await`` inside: a no-op on an event loop.

    Nothing else runs on the loop until the section yields, so there is nothing
    to exclude; the sync twin (:data:`SectionLock`) is a real thread lock.
    """

    __slots__ = ()


if TYPE_CHECKING:
    from _thread import LockType as SectionLock
else:
    SectionLock = threading.Lock
