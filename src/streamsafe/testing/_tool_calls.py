"""Tool calls: which tools an answer calls, and with what input.

Client tools only (a versioned server tool is skipped); inputs follow the
tool's ``input_schema`` and carry strings that force JSON escapes; the
serialized input is cut into ``input_json_delta`` fragments at awkward places.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from ._ids import make_id
from ._plan import PlannedBlock
from ._prose import word_tokens

__all__ = ["tool_calls", "usable_tools"]

# Fragments that force escapes in JSON: quotes, backslashes, control
# characters and non-ASCII text (json.dumps writes \uXXXX, astral characters
# as surrogate pairs). The first string of every tool input gets all kinds.
_TRICKY_FIRST = 'say "hi" at C:\\temp\nnaïve 日本 🚀'
_TRICKY: tuple[str, ...] = (
    'say "hi"',
    "C:\\temp\\new",
    "line one\nline two",
    "tab\there",
    "café",
    "日本語",
    "🚀 launch",
    "50% off & <b>",
    "naïve 𝄞",
)


def usable_tools(tools: Any) -> list[Mapping[str, Any]]:
    """Client tools (with a name; server tools that have a versioned type are skipped)."""
    if not isinstance(tools, list):
        return []
    usable: list[Mapping[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            continue
        if tool.get("type") not in (None, "custom") and "input_schema" not in tool:
            continue
        usable.append(tool)
    return usable


def tool_calls(
    rng: random.Random,
    tools: Sequence[Mapping[str, Any]],
    choice: Any,
    seed_text: bytes,
) -> list[PlannedBlock]:
    """One or two calls (``tool_choice`` permitting), their ids seeded from ``seed_text``."""
    choice_map: Mapping[str, Any] = choice if isinstance(choice, Mapping) else {}
    if choice_map.get("type") == "tool":
        named = [tool for tool in tools if tool.get("name") == choice_map.get("name")]
        picked = [named[0] if named else tools[0]]
    else:
        parallel = len(tools) > 1 and not choice_map.get("disable_parallel_tool_use", False)
        count = 2 if parallel and rng.random() < 0.5 else 1
        picked = rng.sample(list(tools), count)
    calls: list[PlannedBlock] = []
    for index, tool in enumerate(picked):
        value = _tool_input(rng, tool.get("input_schema"))
        text = json.dumps(value)
        calls.append(
            PlannedBlock(
                "tool_use",
                tuple(_split_json(rng, text)),
                tool_id=make_id("toolu", seed_text.hex(), index),
                name=str(tool["name"]),
                input=value,
            )
        )
    return calls


def _tool_input(rng: random.Random, schema: Any) -> dict[str, Any]:
    tricky = iter([_TRICKY_FIRST, *rng.sample(_TRICKY, len(_TRICKY))])
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if isinstance(properties, Mapping) and properties:
        value = _value(rng, schema, 0, tricky)
        if isinstance(value, dict):
            return value
    return {"query": _phrase(rng, tricky)}


def _phrase(rng: random.Random, tricky: Any) -> str:
    words = "".join(word_tokens(rng, rng.randint(2, 6)))
    extra = next(tricky, None)
    return f"{words} {extra}" if extra is not None else words


def _value(rng: random.Random, schema: Any, depth: int, tricky: Any) -> Any:
    if not isinstance(schema, Mapping):
        return _phrase(rng, tricky)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return rng.choice(enum)
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            return _value(rng, options[0], depth, tricky)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None and isinstance(schema.get("properties"), Mapping):
        kind = "object"
    if depth > 4:
        kind = "string"
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return {"value": _phrase(rng, tricky)}
        required = schema.get("required")
        needed = set(required) if isinstance(required, list) else set(properties)
        result: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in needed or rng.random() < 0.6:
                result[str(name)] = _value(rng, sub, depth + 1, tricky)
        return result
    if kind == "array":
        low = schema.get("minItems", 1)
        low = low if isinstance(low, int) and low >= 0 else 1
        high = schema.get("maxItems", low + 2)
        high = high if isinstance(high, int) and high >= low else low + 2
        count = rng.randint(low, min(high, low + 3))
        return [_value(rng, schema.get("items"), depth + 1, tricky) for _ in range(count)]
    if kind == "integer":
        low, high = _bounds(schema, 0, 100)
        return rng.randint(int(low), int(high))
    if kind == "number":
        low, high = _bounds(schema, 0.0, 1000.0)
        return round(rng.uniform(low, high), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _phrase(rng, tricky)


def _bounds(schema: Mapping[str, Any], low: float, high: float) -> tuple[float, float]:
    minimum = schema.get("minimum")
    maximum = schema.get("maximum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        low = minimum
        high = max(high, low)
    if isinstance(maximum, int | float) and not isinstance(maximum, bool):
        high = maximum
        low = min(low, high)
    return low, high


def _split_json(rng: random.Random, text: str) -> list[str]:
    """Cut serialized JSON into input_json_delta fragments at awkward places.

    Cuts land inside strings, between a backslash and the character it
    escapes, and in the middle of ``\\uXXXX`` escapes, as well as at random
    spots. The first fragment is empty, as the real API sends it.
    """
    cuts: set[int] = set()
    index = text.find("\\")
    while index != -1:
        if rng.random() < 0.6:
            cuts.add(index + 1)  # between the backslash and the escaped character
        if text.startswith("u", index + 1) and rng.random() < 0.6:
            cuts.add(index + rng.randint(2, 5))  # inside the hex digits
        index = text.find("\\", index + 2)
    position = 0
    while position < len(text):
        position += rng.randint(3, 16)
        cuts.add(position)
    bounds = sorted(cut for cut in cuts if 0 < cut < len(text))
    fragments = [""]
    start = 0
    for cut in bounds:
        fragments.append(text[start:cut])
        start = cut
    fragments.append(text[start:])
    return fragments
