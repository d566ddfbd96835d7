# generated from src/streamsafe/_async/closable.py by scripts/unasync.py: do not edit
"""``with`` for the resources with their own ``close()``: written once.

A class with its own ``close()`` inherits :class:`Closable`: entering
gives the resource itself, leaving the block (however it is left) closes it.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["Closable"]

_Resource = TypeVar("_Resource", bound="Closable")


class Closable:
    """``with resource``: the resource itself, closed on leaving the block."""

    def close(self) -> None:
        """Release what the resource holds (each subclass says what)."""
        raise NotImplementedError

    def __enter__(self: _Resource) -> _Resource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
