"""What the async I/O shells use where their sync twins need something else.

The sync modules in ``_sync/`` are generated from ``_async/`` by
``scripts/unasync.py``, which renames ``AsyncX`` to ``X``; the pairs below are
how one async text stands for both behaviours.
"""

from __future__ import annotations

import threading
import types
from typing import TYPE_CHECKING

import anyio

__all__ = ["AsyncSectionLock", "AsyncShield", "SectionLock", "Shield"]


def AsyncShield() -> anyio.CancelScope:
    """Shield the block from cancellation (cleanup that must finish)."""
    return anyio.CancelScope(shield=True)


class Shield:
    """Sync twin of :func:`AsyncShield`: a thread has no cancellation to shield from."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: object, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        return None


class AsyncSectionLock:
    """Guards a section with no ``await`` inside: a no-op on an event loop.

    Nothing else runs on the loop until the section yields, so there is nothing
    to exclude; the sync twin (:data:`SectionLock`) is a real thread lock.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: object, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        return None


if TYPE_CHECKING:
    from _thread import LockType as SectionLock
else:
    SectionLock = threading.Lock
