"""Sans-IO parsing of a tool block's input JSON, whole or cut short.

The API streams a tool call's input as JSON text fragments
(``input_json_delta``). Usually the text is a complete JSON object. With
fine-grained tool streaming (``eager_input_streaming``) it is sent
unvalidated, and a call cut by ``max_tokens`` ends mid-parameter: the block is
closed with text that does not parse, and the response is still complete and
valid.

:func:`parse_tool_input` turns either into a value: the whole document when it
parses, otherwise the value parsed from its longest valid prefix, in the same
partial mode the official SDK uses (an unfinished string, number or literal
at the end is dropped; open objects and arrays are closed). ``jiter`` is the
parser for both, as in the SDK, so a complete input is the same value there
and here.
"""

from __future__ import annotations

import re
from typing import Any, Final

import jiter

__all__ = ["NO_VALUE", "parse_tool_input"]

#: Returned when no prefix of the text holds a value (the block keeps its start ``input``).
NO_VALUE: Final[Any] = object()

#: jiter's error messages end with the position of the offending byte.
_POSITION = re.compile(rb"at line (\d+) column (\d+)$")

#: Invalid text is cut at most this many times before giving up on a prefix.
_MAX_CUTS = 16


def parse_tool_input(text: str) -> tuple[Any, bool]:
    """``(value, complete)`` for a tool input's JSON text.

    ``complete`` is true when the whole text is one valid JSON document (or
    holds nothing but whitespace, the input of a call without parameters:
    then ``value`` is :data:`NO_VALUE`). Otherwise ``value`` is the value of
    the longest valid prefix, or :data:`NO_VALUE` when no prefix holds one.
    """
    if not text or text.isspace():
        return NO_VALUE, True
    data = text.encode("utf-8", "surrogatepass")
    try:
        return jiter.from_json(data), True
    except ValueError:
        pass
    return _longest_valid_prefix(data), False


def _longest_valid_prefix(data: bytes) -> Any:
    end = len(data)
    for _ in range(_MAX_CUTS):
        if end <= 0:
            break
        prefix = data[:end]
        try:
            return jiter.from_json(prefix, partial_mode=True)
        except ValueError as exc:
            offset = _error_offset(prefix, str(exc).encode())
            end = offset if offset is not None and offset < end else end - 1
    return NO_VALUE


def _error_offset(data: bytes, message: bytes) -> int | None:
    """The byte offset jiter's error message points at (line and column are 1-based)."""
    match = _POSITION.search(message)
    if match is None:
        return None
    line, column = int(match[1]), int(match[2])
    start = 0
    for _ in range(line - 1):
        newline = data.find(b"\n", start)
        if newline < 0:
            return None
        start = newline + 1
    return max(0, start + column - 1)
