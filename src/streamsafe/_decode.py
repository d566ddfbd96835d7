"""Decoding: JSON event data to the typed models of :mod:`._events`, losing nothing.

Two steps:

* the **strict decode** (:data:`decode_known_event`) decodes the JSON
  straight into a struct. Every struct forbids unknown fields, so this only
  succeeds when the event holds exactly what the models know;
* the **lossless build** (:func:`decode_unfamiliar_event`) runs when it does
  not: an event, block or delta of a type the models do not know, or a known
  type carrying new fields. The JSON is decoded to plain data and built field
  by field; unknown types become :class:`~._events.UnknownEvent` /
  ``UnknownBlock`` / ``UnknownDelta``, and unknown fields are kept on the
  model they belong to (``extra_fields``).

:func:`decode_event` is the two in order; the stream's hot path inlines them.
Invalid JSON, or a known type of the wrong shape, raises
:class:`~streamsafe.MalformedEventError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import msgspec

from ._errors import MalformedEventError
from ._events import (
    JSON,
    BashCodeExecutionToolResultBlock,
    CitationsDelta,
    CodeExecutionToolResultBlock,
    CompactionBlock,
    CompactionDelta,
    ContainerUploadBlock,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ErrorEvent,
    ErrorInfo,
    FallbackBlock,
    InputJSONDelta,
    MCPToolResultBlock,
    MCPToolUseBlock,
    Message,
    MessageDelta,
    MessageDeltaEvent,
    MessageDeltaUsage,
    MessageStartEvent,
    MessageStopEvent,
    Model,
    PingEvent,
    RedactedThinkingBlock,
    ServerToolUseBlock,
    SignatureDelta,
    StreamEvent,
    TextBlock,
    TextDelta,
    TextEditorCodeExecutionToolResultBlock,
    ThinkingBlock,
    ThinkingDelta,
    TokenCount,
    ToolSearchToolResultBlock,
    ToolUseBlock,
    UnknownBlock,
    UnknownDelta,
    UnknownEvent,
    Usage,
    WebFetchToolResultBlock,
    WebSearchToolResultBlock,
    _Tagged,
)

__all__ = [
    "decode_event",
    "decode_known_event",
    "decode_unfamiliar_event",
    "message_from_dict",
    "token_count_from_dict",
]


_KNOWN_EVENTS = (
    MessageStartEvent
    | ContentBlockStartEvent
    | ContentBlockDeltaEvent
    | ContentBlockStopEvent
    | MessageDeltaEvent
    | MessageStopEvent
    | PingEvent
    | ErrorEvent
)
_fast_decoder = msgspec.json.Decoder(_KNOWN_EVENTS)

#: The strict decode alone: known types and fields only, msgspec's errors for
#: anything else. :func:`decode_event` is this, then
#: :func:`decode_unfamiliar_event` for whatever it refuses.
decode_known_event: Callable[[str | bytes], StreamEvent] = _fast_decoder.decode


def _tag_map(*classes: type[_Tagged]) -> dict[str, type[_Tagged]]:
    return {str(cls.__struct_config__.tag): cls for cls in classes}


_EVENT_TYPES = _tag_map(
    MessageStartEvent,
    ContentBlockStartEvent,
    ContentBlockDeltaEvent,
    ContentBlockStopEvent,
    MessageDeltaEvent,
    MessageStopEvent,
    PingEvent,
    ErrorEvent,
)
_BLOCK_TYPES = _tag_map(
    TextBlock,
    ToolUseBlock,
    ServerToolUseBlock,
    ThinkingBlock,
    RedactedThinkingBlock,
    WebSearchToolResultBlock,
    WebFetchToolResultBlock,
    CodeExecutionToolResultBlock,
    BashCodeExecutionToolResultBlock,
    TextEditorCodeExecutionToolResultBlock,
    ToolSearchToolResultBlock,
    MCPToolUseBlock,
    MCPToolResultBlock,
    ContainerUploadBlock,
    CompactionBlock,
    FallbackBlock,
)
_DELTA_TYPES = _tag_map(
    TextDelta, InputJSONDelta, ThinkingDelta, SignatureDelta, CitationsDelta, CompactionDelta
)


#: Fields whose values are models themselves, per model: name -> builder.
_NESTED: dict[type[Model], dict[str, Callable[[JSON], Any]]] = {}


class _Shape(Exception):
    """Raised inside the lossless builder; turned into MalformedEventError at the top."""


# msgspec evaluates a class's annotations on every fields() call (about 0.2 ms
# for a model): once per class is enough.
_fields: Callable[[type[Model]], tuple[msgspec.structs.FieldInfo, ...]] = functools.cache(
    msgspec.structs.fields
)


def _build_model(cls: type[Model], raw: JSON) -> Any:
    if not isinstance(raw, dict):
        raise _Shape(f"{cls.__name__} must be a JSON object, got {type(raw).__name__}")
    fields = _fields(cls)
    nested = _NESTED.get(cls, {})
    known = {f.encode_name for f in fields}
    tag = cls.__struct_config__.tag
    kwargs: dict[str, Any] = {}
    for f in fields:
        if f.encode_name not in raw:
            continue
        value = raw[f.encode_name]
        builder = nested.get(f.name)
        if builder is not None:
            kwargs[f.name] = builder(value)
        else:
            try:
                kwargs[f.name] = msgspec.convert(value, f.type)
            except msgspec.ValidationError as exc:
                raise _Shape(f"{cls.__name__}.{f.encode_name}: {exc}") from None
    try:
        obj = cls(**kwargs)
    except TypeError as exc:
        raise _Shape(f"{cls.__name__}: {exc}") from None
    extra = {k: v for k, v in raw.items() if k not in known and not (tag and k == "type")}
    if extra:
        obj.__dict__["_extra"] = extra
    return obj


def _build_tagged(
    table: dict[str, type[_Tagged]], unknown: type[_Tagged], what: str
) -> Callable[[JSON], Any]:
    def build(raw: JSON) -> Any:
        if not isinstance(raw, dict):
            raise _Shape(f"{what} must be a JSON object, got {type(raw).__name__}")
        kind = raw.get("type")
        if not isinstance(kind, str):
            raise _Shape(f"{what} has no string 'type' field")
        cls = table.get(kind)
        if cls is None:
            obj = _build_model(unknown, raw)
            obj.__dict__["_type"] = kind
            return obj
        return _build_model(cls, raw)

    return build


def _build_list(item: Callable[[JSON], Any]) -> Callable[[JSON], list[Any]]:
    def build(raw: JSON) -> list[Any]:
        if not isinstance(raw, list):
            raise _Shape(f"expected a JSON array, got {type(raw).__name__}")
        return [item(value) for value in raw]

    return build


def _builder(cls: type[Model]) -> Callable[[JSON], Any]:
    return lambda raw: _build_model(cls, raw)


_build_block = _build_tagged(_BLOCK_TYPES, UnknownBlock, "content block")
_build_delta = _build_tagged(_DELTA_TYPES, UnknownDelta, "delta")
_build_event = _build_tagged(_EVENT_TYPES, UnknownEvent, "event")

_NESTED[Message] = {"content": _build_list(_build_block), "usage": _builder(Usage)}
_NESTED[MessageStartEvent] = {"message": _builder(Message)}
_NESTED[ContentBlockStartEvent] = {"content_block": _build_block}
_NESTED[ContentBlockDeltaEvent] = {"delta": _build_delta}
_NESTED[MessageDeltaEvent] = {
    "delta": _builder(MessageDelta),
    "usage": _builder(MessageDeltaUsage),
}
_NESTED[ErrorEvent] = {"error": _builder(ErrorInfo)}


def decode_event(data: str | bytes) -> StreamEvent:
    """Decode one SSE ``data`` payload into a typed event.

    Raises :class:`MalformedEventError` for invalid JSON or a known event
    type of the wrong shape; unknown types and fields are kept, never an error.
    Two steps: :data:`decode_known_event`, then :func:`decode_unfamiliar_event`
    for whatever it refuses.
    """
    try:
        return decode_known_event(data)
    except msgspec.MsgspecError:
        return decode_unfamiliar_event(data)


def decode_unfamiliar_event(data: str | bytes) -> StreamEvent:
    """The second step of :func:`decode_event`, for data the strict decode refused.

    An unknown type or field, a wrong shape, or invalid JSON (the strict
    decode may stop at an unknown field before it reaches a syntax error, so
    the JSON is checked here in full). Builds the event field by field,
    keeping what is new; raises :class:`MalformedEventError` for the rest.
    """
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise MalformedEventError(f"event data is not valid JSON ({exc}): {_clip(data)}") from None
    try:
        event: StreamEvent = _build_event(raw)
    except _Shape as exc:
        raise MalformedEventError(f"event has the wrong shape ({exc}): {_clip(data)}") from None
    return event


def message_from_dict(raw: dict[str, JSON]) -> Message:
    """Build a :class:`Message` from its JSON object, keeping unknown parts."""
    try:
        # The strict conversion, as in decode_event; anything new takes the
        # lossless builder below.
        return msgspec.convert(raw, Message)
    except msgspec.ValidationError:
        pass
    try:
        message: Message = _build_model(Message, raw)
    except _Shape as exc:
        raise MalformedEventError(f"message has the wrong shape: {exc}") from None
    return message


def _clip(data: str | bytes, limit: int = 200) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"


def token_count_from_dict(raw: JSON) -> TokenCount:
    """The answer of ``messages.count_tokens``, checked (``MalformedEventError`` if not one)."""
    try:
        count: TokenCount = _build_model(TokenCount, raw)
    except _Shape as exc:
        raise MalformedEventError(f"token count has the wrong shape: {exc}") from None
    return count
