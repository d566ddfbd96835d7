"""Sans-IO accumulation of stream events into a :class:`~streamsafe.Message`.

:class:`MessageAccumulator` applies typed events one at a time and builds the
message only when asked (``snapshot()`` / ``final_message()``). Its cost is
linear in the size of the stream: text, thinking, signature and tool-input
fragments are appended to lists and joined once; a tool's input JSON is parsed
once, when its block stops — never re-parsed per delta.

The accumulator works on plain JSON data internally (each block is the dict
its ``content_block_start`` carried), so fields no model knows travel into the
final message untouched. Fields a known delta type carries beyond its model
are kept on the block too: a string extends the block's string field of that
name, anything else is set on the block (latest wins). A delta of an unknown
type that is a single string field of its block extends it; any other is kept,
in order, on the block's ``unknown_deltas``.

Protocol violations — a delta for a block never started, an event before
``message_start``, tool input that is not valid JSON — raise
:class:`~streamsafe.MalformedEventError`; the stream layer attaches the partial
message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._errors import MalformedEventError
from ._events import (
    CitationsDelta,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    InputJSONDelta,
    Message,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    SignatureDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    UnknownDelta,
    message_from_dict,
)

__all__ = ["MessageAccumulator"]


#: ``final_input`` of a block whose tool input has not been parsed (JSON ``null`` can be).
_NO_INPUT: Any = object()

#: Fragments collected before :class:`_Text` joins them into one chunk.
_COMPACT_AT = 1024


class _Text:
    """A string built from fragments: O(1) per append, joined once at the end.

    Every :data:`_COMPACT_AT` fragments are joined into one chunk, so a stream
    of tiny deltas does not keep tens of bytes of object overhead per
    fragment (each character is copied at most twice: linear).
    """

    __slots__ = ("chunks", "parts")

    def __init__(self, first: str) -> None:
        self.parts = [first]
        self.chunks: list[str] = []

    def append(self, fragment: str) -> None:
        parts = self.parts
        parts.append(fragment)
        if len(parts) >= _COMPACT_AT:
            self.compact()

    def compact(self) -> None:
        self.chunks.append("".join(self.parts))
        self.parts = []

    def join(self, prefix: str = "") -> str:
        """The whole string, built in one allocation; kept as the only chunk.

        Keeping the result lets the fragments go: the text is then held once,
        shared with the message that uses it.
        """
        whole = "".join([prefix, *self.chunks, *self.parts])
        self.chunks = [whole[len(prefix) :]] if prefix else [whole]
        self.parts = []
        return whole


class _Block:
    """One content block under construction."""

    __slots__ = (
        "base",
        "citations",
        "json_parts",
        "overrides",
        "parts",
        "stopped",
        "unknown_deltas",
    )

    def __init__(self, base: dict[str, Any]) -> None:
        self.base = base
        #: Appended string fragments per field name ("text", "thinking", "signature").
        self.parts: dict[str, _Text] = {}
        #: Tool input JSON fragments (``input_json_delta``), ``None`` if none arrived.
        self.json_parts: _Text | None = None
        self.citations: list[Any] | None = None
        self.unknown_deltas: list[UnknownDelta] = []
        #: Non-appendable fields set by deltas (fields no delta model knows).
        self.overrides: dict[str, Any] | None = None
        self.stopped = False

    def append(self, field: str, fragment: str) -> None:
        parts = self.parts.get(field)
        if parts is None:
            self.parts[field] = _Text(fragment)
        else:
            parts.append(fragment)

    def merge_fields(self, fields: dict[str, Any]) -> None:
        """Keep fields a delta carries beyond its model on the block.

        A string extends the block's string field of the same name (as set by
        ``content_block_start``); any other value is set on the block, the
        latest value winning.
        """
        for name, value in fields.items():
            if isinstance(value, str) and isinstance(self.base.get(name), str):
                self.append(name, value)
            else:
                if self.overrides is None:
                    self.overrides = {}
                self.overrides[name] = value

    def to_dict(self, *, final_input: Any = _NO_INPUT) -> dict[str, Any]:
        out = dict(self.base)
        for field, parts in self.parts.items():
            start = out.get(field)
            prefix = start if isinstance(start, str) else ""
            out[field] = parts.join(prefix)
        if self.citations is not None:
            existing = out.get("citations")
            out["citations"] = (existing if isinstance(existing, list) else []) + self.citations
        if self.overrides is not None:
            out.update(self.overrides)
        if final_input is not _NO_INPUT:
            out["input"] = final_input
        elif not self.stopped and (self.json_parts is not None or "input" in out):
            # Not stopped yet: the raw JSON text received so far (maybe ""), so a
            # cut tool call can never be mistaken for a complete one.
            out["input"] = self.json_parts.join() if self.json_parts is not None else ""
        return out


class MessageAccumulator:
    """Fold stream events into a message snapshot, in linear time.

    >>> acc = MessageAccumulator()
    >>> for event in events:  # doctest: +SKIP
    ...     acc.apply(event)
    >>> acc.final_message()  # doctest: +SKIP
    """

    def __init__(self, *, request_id: str | None = None) -> None:
        self.request_id = request_id
        self._message: dict[str, Any] | None = None
        self._blocks: list[_Block] = []
        self._final_inputs: dict[int, Any] = {}
        #: ``message_stop`` has been applied (a plain attribute: read per event).
        self.done = False
        #: The open text block, for apply's fast path (-1: none).
        self._hot_index = -1
        self._hot_text = _Text("")
        self._handlers: dict[type, Callable[[Any], None]] = {
            ContentBlockDeltaEvent: self._on_delta,
            ContentBlockStartEvent: self._on_block_start,
            ContentBlockStopEvent: self._on_block_stop,
            MessageStartEvent: self._on_message_start,
            MessageDeltaEvent: self._on_message_delta,
            MessageStopEvent: self._on_message_stop,
        }
        self._delta_handlers: dict[type, Callable[[_Block, Any], None]] = {
            TextDelta: _on_text,
            InputJSONDelta: _on_input_json,
            ThinkingDelta: _on_thinking,
            SignatureDelta: _on_signature,
            CitationsDelta: _on_citation,
            UnknownDelta: _on_unknown_delta,
        }

    # -- state -------------------------------------------------------------

    @property
    def started(self) -> bool:
        """``message_start`` has been applied."""
        return self._message is not None

    @property
    def has_content(self) -> bool:
        """At least one content block has started."""
        return bool(self._blocks)

    @property
    def incomplete_blocks(self) -> tuple[int, ...]:
        """Indices of blocks started but not stopped."""
        return tuple(i for i, block in enumerate(self._blocks) if not block.stopped)

    # -- applying events ---------------------------------------------------

    def apply(self, event: StreamEvent) -> None:
        """Apply one event. Pings, errors and unknown events change nothing."""
        # The fast path: a plain text_delta for the open text block (most events).
        if type(event) is ContentBlockDeltaEvent and event.index == self._hot_index:
            delta = event.delta
            if type(delta) is TextDelta and not delta.__dict__:
                hot = self._hot_text
                hot.parts.append(delta.text)
                if len(hot.parts) >= _COMPACT_AT:
                    hot.compact()
                return
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _require_started(self, what: str) -> dict[str, Any]:
        if self._message is None:
            raise MalformedEventError(f"{what} before message_start")
        if self.done:
            raise MalformedEventError(f"{what} after message_stop")
        return self._message

    def _block(self, index: int, what: str) -> _Block:
        self._require_started(what)
        if not 0 <= index < len(self._blocks):
            raise MalformedEventError(
                f"{what} for content block {index}, which was never started "
                f"({len(self._blocks)} started)"
            )
        block = self._blocks[index]
        if block.stopped:
            raise MalformedEventError(f"{what} for content block {index} after it stopped")
        return block

    def _on_message_start(self, event: MessageStartEvent) -> None:
        if self._message is not None:
            raise MalformedEventError("a second message_start in one stream")
        message = event.message.to_dict()
        for index, block in enumerate(message.pop("content", None) or []):
            self._blocks.append(_Block(block))
            self._blocks[index].stopped = True
        self._message = message

    def _on_block_start(self, event: ContentBlockStartEvent) -> None:
        self._require_started("content_block_start")
        if event.index != len(self._blocks):
            raise MalformedEventError(
                f"content_block_start with index {event.index}; expected {len(self._blocks)}"
            )
        block = _Block(event.content_block.to_dict())
        self._blocks.append(block)
        if block.base.get("type") == "text":
            self._hot_index = event.index
            self._hot_text = block.parts["text"] = _Text("")

    def _on_delta(self, event: ContentBlockDeltaEvent) -> None:
        block = self._block(event.index, "content_block_delta")
        delta = event.delta
        self._delta_handlers[type(delta)](block, delta)
        extra = delta.__dict__.get("_extra")  # Model.extra_fields, minus a call per delta
        if extra and type(delta) is not UnknownDelta:
            # Fields a newer API added to a known delta type: never dropped.
            block.merge_fields(extra)

    def _on_block_stop(self, event: ContentBlockStopEvent) -> None:
        block = self._block(event.index, "content_block_stop")
        if block.json_parts is not None:
            text = block.json_parts.join()
            try:
                self._final_inputs[event.index] = json.loads(text) if text.strip() else {}
            except ValueError as exc:
                raise MalformedEventError(
                    f"tool input of content block {event.index} is not valid JSON ({exc}): "
                    f"{text[:200]!r}"
                ) from None
        block.stopped = True
        if event.index == self._hot_index:
            self._hot_index = -1

    def _on_message_delta(self, event: MessageDeltaEvent) -> None:
        message = self._require_started("message_delta")
        for key, value in event.extra_fields.items():
            message[key] = value
        message.update(event.delta.to_dict())
        usage = message.get("usage")
        if not isinstance(usage, dict):
            usage = message["usage"] = {}
        for key, value in event.usage.to_dict().items():
            if value is not None:
                usage[key] = value

    def _on_message_stop(self, event: MessageStopEvent) -> None:
        self._require_started("message_stop")
        self.done = True
        self._hot_index = -1

    # -- building the message ----------------------------------------------

    def snapshot(self) -> Message | None:
        """The message as accumulated so far (``None`` before ``message_start``).

        Blocks not yet stopped are included as received so far; a tool block's
        ``input`` is then the raw JSON text, not a dict.
        """
        if self._message is None:
            return None
        message = dict(self._message)
        message["content"] = [
            block.to_dict(final_input=self._final_inputs.get(i, _NO_INPUT))
            for i, block in enumerate(self._blocks)
        ]
        result = message_from_dict(message)
        for block_model, block in zip(result.content, self._blocks, strict=False):
            if block.unknown_deltas:
                block_model.__dict__["_unknown_deltas"] = list(block.unknown_deltas)
        if self.request_id is not None:
            result.__dict__["_request_id"] = self.request_id
        return result

    def final_message(self) -> Message:
        """The complete message; raises if ``message_stop`` has not been applied."""
        if not self.done:
            raise MalformedEventError("the stream has not reached message_stop")
        message = self.snapshot()
        if message is None:  # unreachable: message_stop requires message_start
            raise MalformedEventError("message_stop without message_start")
        return message


def _on_text(block: _Block, delta: TextDelta) -> None:
    block.append("text", delta.text)


def _on_thinking(block: _Block, delta: ThinkingDelta) -> None:
    block.append("thinking", delta.thinking)


def _on_signature(block: _Block, delta: SignatureDelta) -> None:
    block.append("signature", delta.signature)


def _on_input_json(block: _Block, delta: InputJSONDelta) -> None:
    if block.json_parts is None:
        block.json_parts = _Text(delta.partial_json)
    else:
        block.json_parts.append(delta.partial_json)


def _on_citation(block: _Block, delta: CitationsDelta) -> None:
    if block.citations is None:
        block.citations = [delta.citation]
    else:
        block.citations.append(delta.citation)


def _on_unknown_delta(block: _Block, delta: UnknownDelta) -> None:
    """Keep an unknown delta; a ``{"<field>": "<str>"}`` delta extends that string field."""
    fields = delta.extra_fields
    if len(fields) == 1:
        ((name, value),) = fields.items()
        if isinstance(value, str) and isinstance(block.base.get(name), str):
            block.append(name, value)
            return
    block.unknown_deltas.append(delta)
