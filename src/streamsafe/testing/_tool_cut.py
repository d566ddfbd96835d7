"""Fine-grained tool streaming cut by ``max_tokens``.

A call to a tool with ``eager_input_streaming`` is streamed unvalidated, so
``max_tokens`` can stop it inside a string value (never inside an escape
sequence, nor between the halves of a surrogate pair); its ``input`` keeps
the top-level pairs that were complete.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._plan import PlannedBlock

__all__ = ["eager_cut"]


def eager_cut(
    calls: Sequence[PlannedBlock], eager: set[str], room: int
) -> list[PlannedBlock] | None:
    """The calls that fit in ``room`` tokens, then the first one cut inside a string.

    Only a call to a tool with ``eager_input_streaming`` is cut (its input is
    streamed unvalidated); None when the call that overflows is buffered.
    """
    if room < 1:
        return None
    kept: list[PlannedBlock] = []
    for call in calls:
        if call.cost() <= room:
            kept.append(call)
            room -= call.cost()
            continue
        if call.name not in eager:
            return None
        kept.append(_cut_call(call, room * 4))
        return kept
    return None  # pragma: no cover - the calls did not fit, so one overflows


def _cut_call(call: PlannedBlock, room: int) -> PlannedBlock:
    text = "".join(call.chunks)
    positions = _string_cut_positions(text)
    before = [p for p in positions if p <= room]
    cut = (
        before[-1] if before else (positions[0] if positions else max(1, min(room, len(text) - 1)))
    )
    chunks: list[str] = []
    taken = 0
    for chunk in call.chunks:
        if taken >= cut and chunks:
            break
        piece = chunk[: cut - taken]
        chunks.append(piece)
        taken += len(piece)
    return PlannedBlock(
        "tool_use",
        tuple(chunks),
        tool_id=call.tool_id,
        name=call.name,
        input=_complete_pairs(call.input, cut),
    )


def _string_cut_positions(text: str) -> list[int]:
    """Offsets inside JSON string *values* (not keys), never inside an escape sequence."""
    positions: list[int] = []
    stack: list[str] = []
    expect_key = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"':
            is_key = bool(stack) and stack[-1] == "{" and expect_key
            index += 1
            while text[index] != '"':
                escape = text[index] == "\\"
                step = (6 if text[index + 1] == "u" else 2) if escape else 1
                high = escape and step == 6 and text[index + 2 : index + 4].lower() in _HIGH
                index += step
                if not is_key and not high:  # never between the halves of a surrogate pair
                    positions.append(index)
            expect_key = False
        elif char == "{":
            stack.append("{")
            expect_key = True
        elif char == "[":
            stack.append("[")
        elif char in "}]":
            stack.pop()
        elif char == ",":
            expect_key = bool(stack) and stack[-1] == "{"
        index += 1
    return [p for p in positions if p < len(text)]


_HIGH = frozenset({"d8", "d9", "da", "db"})


def _complete_pairs(value: Any, cut: int) -> Any:
    """The top-level pairs of ``value`` whose JSON (``json.dumps``) ends before ``cut``."""
    if not isinstance(value, dict):
        return {}
    complete: dict[str, Any] = {}
    offset = 1  # "{"
    for key, item in value.items():
        offset += len(json.dumps(key)) + 2 + len(json.dumps(item))
        if offset > cut:
            break
        complete[key] = item
        offset += 2  # ", "
    return complete
