"""Ids of the emulator's objects: realistic looking (``msg_01…``), derived by hashing.

The same parts always give the same id; :class:`~._state.EmulatorState`
mixes a per-emulator salt into the parts unless the emulator is seeded.
"""

from __future__ import annotations

import hashlib

__all__ = ["make_id"]

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def make_id(prefix: str, *parts: object) -> str:
    """A realistic looking id (``msg_01…``) derived from ``parts`` by hashing."""
    material = "\x1f".join(str(part) for part in (prefix, *parts))
    number = int.from_bytes(
        hashlib.sha256(material.encode("utf-8", "surrogatepass")).digest(), "big"
    )
    chars: list[str] = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_B62[digit])
    return f"{prefix}_01{''.join(chars)}"
