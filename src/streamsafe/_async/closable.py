"""``async with`` for the resources with their own ``aclose()``: written once.

A class with its own ``aclose()`` inherits :class:`AsyncClosable`: entering
gives the resource itself, leaving the block (however it is left) closes it.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["AsyncClosable"]

_Resource = TypeVar("_Resource", bound="AsyncClosable")


class AsyncClosable:
    """``async with resource``: the resource itself, closed on leaving the block."""

    async def aclose(self) -> None:
        """Release what the resource holds (each subclass says what)."""
        raise NotImplementedError

    async def __aenter__(self: _Resource) -> _Resource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
