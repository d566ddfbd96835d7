"""Sans-IO accumulation of stream events into a :class:`~streamsafe.Message`.

:class:`MessageAccumulator` applies typed events one at a time and builds the
message only when asked (``snapshot()`` / ``final_message()``). Its cost is
linear in the size of the stream: text, thinking and tool-input fragments are
appended to lists and joined once; a tool's input JSON is parsed once, when
its block stops — never re-parsed per delta.

The final message is the one the newest official SDK builds from the same
bytes (its ``lib/streaming/_beta_messages.py``, the superset of the beta and
non-beta shapes, states the facts):

* ``text_delta`` extends a text block's ``text``, ``thinking_delta`` a thinking
  block's ``thinking``, ``citations_delta`` appends to a text block's
  ``citations``; ``signature_delta`` *sets* a thinking block's ``signature``,
  and ``compaction_delta`` *sets* a compaction block's ``content`` and
  ``encrypted_content`` (each only when the delta carries it: an omitted value
  survives, where the SDK would reset it to null);
* ``input_json_delta`` builds the input of ``tool_use``, ``server_tool_use``
  and ``mcp_tool_use`` blocks. Input that does not parse never fails the
  stream: ``input`` is the value of the longest valid prefix, the raw text is
  kept (``block.input_json``) and the block is listed in
  ``incomplete_blocks`` (see :mod:`._tool_input`);
* a ``fallback`` block relabels the message's ``model`` with ``to.model``;
* ``message_delta`` sets ``stop_reason``, ``stop_sequence`` and
  ``stop_details``; any other field it carries (``container``,
  ``context_management``, ``input_transformations``, ...) and every usage
  count replace the current value only when not null, so what
  ``message_start`` said survives when a later event omits it.

Everything the SDK drops stays reachable without making the message invalid
as the next request's assistant turn: a delta of an unknown type, a delta
that does not apply to its block, and a known delta carrying unknown fields
are kept whole on the block's ``unknown_deltas`` (never merged into its
fields); unknown fields of ``message_start``, blocks and ``message_delta``
are kept on the message and blocks as sent.

Protocol violations — a delta for a block never started, an event before
``message_start`` — raise :class:`~streamsafe.MalformedEventError`; the stream
layer attaches the partial message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._decode import message_from_dict
from ._errors import MalformedEventError
from ._events import (
    CitationsDelta,
    CompactionDelta,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    Delta,
    InputJSONDelta,
    Message,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    SignatureDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
)
from ._tool_input import NO_VALUE, parse_tool_input

__all__ = ["MessageAccumulator"]

#: Block types whose ``input`` is built from ``input_json_delta`` fragments.
_TOOL_INPUT_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})

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
        "input_complete",
        "input_value",
        "json_parts",
        "kind",
        "overrides",
        "parts",
        "stopped",
        "unknown_deltas",
    )

    def __init__(self, base: dict[str, Any]) -> None:
        self.base = base
        self.kind = base.get("type")
        #: Appended string fragments per field name ("text", "thinking").
        self.parts: dict[str, _Text] = {}
        #: Tool input JSON fragments (``input_json_delta``), ``None`` if none arrived.
        self.json_parts: _Text | None = None
        #: The parsed input once the block stopped (NO_VALUE: keep the start's).
        self.input_value: Any = NO_VALUE
        self.input_complete = True
        self.citations: list[Any] | None = None
        self.unknown_deltas: list[Delta] = []
        #: Fields set (not extended) by deltas: signature, compaction content.
        self.overrides: dict[str, Any] | None = None
        self.stopped = False

    def append(self, field: str, fragment: str) -> None:
        parts = self.parts.get(field)
        if parts is None:
            self.parts[field] = _Text(fragment)
        else:
            parts.append(fragment)

    def set(self, field: str, value: Any) -> None:
        if self.overrides is None:
            self.overrides = {}
        self.overrides[field] = value

    def stop(self) -> None:
        self.stopped = True
        if self.json_parts is not None:
            self.input_value, self.input_complete = parse_tool_input(self.json_parts.join())

    @property
    def complete(self) -> bool:
        return self.stopped and self.input_complete

    def input_json(self) -> str | None:
        """The raw input text of a tool block that is not complete, else ``None``."""
        if self.complete or self.kind not in _TOOL_INPUT_BLOCKS:
            return None
        return self.json_parts.join() if self.json_parts is not None else ""

    def to_dict(self) -> dict[str, Any]:
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
        if self.json_parts is not None:
            value = self.input_value
            if not self.stopped:  # a snapshot mid-block: what arrived so far
                value, _ = parse_tool_input(self.json_parts.join())
            if value is not NO_VALUE:
                out["input"] = value
        return out


class MessageAccumulator:
    """Fold stream events into a message snapshot, in linear time.

    ``request_id`` and ``aws_request_id`` (the response's ``request-id`` and
    ``x-amzn-requestid``) are attached to every message it builds.

    >>> acc = MessageAccumulator()
    >>> for event in events:  # doctest: +SKIP
    ...     acc.apply(event)
    >>> acc.final_message()  # doctest: +SKIP
    """

    def __init__(self, *, request_id: str | None = None, aws_request_id: str | None = None) -> None:
        self.request_id = request_id
        self.aws_request_id = aws_request_id
        self._message: dict[str, Any] | None = None
        self._blocks: list[_Block] = []
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
    def output_tokens(self) -> int | None:
        """The latest ``usage.output_tokens`` (``None`` before ``message_start``)."""
        usage = None if self._message is None else self._message.get("usage")
        tokens = usage.get("output_tokens") if isinstance(usage, dict) else None
        return tokens if isinstance(tokens, int) else None

    @property
    def incomplete_blocks(self) -> tuple[int, ...]:
        """Indices of blocks not whole: started but not stopped, or tool input cut short."""
        return tuple(i for i, block in enumerate(self._blocks) if not block.complete)

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
        for block in message.pop("content", None) or []:
            self._blocks.append(_Block(block))
            self._blocks[-1].stopped = True
        self._message = message

    def _on_block_start(self, event: ContentBlockStartEvent) -> None:
        message = self._require_started("content_block_start")
        if event.index != len(self._blocks):
            raise MalformedEventError(
                f"content_block_start with index {event.index}; expected {len(self._blocks)}"
            )
        block = _Block(event.content_block.to_dict())
        self._blocks.append(block)
        if block.kind == "text":
            self._hot_index = event.index
            self._hot_text = block.parts["text"] = _Text("")
        elif block.kind == "fallback":
            # The model named here served what follows: the message is relabelled.
            to = block.base.get("to")
            if isinstance(to, dict) and isinstance(to.get("model"), str):
                message["model"] = to["model"]

    def _on_delta(self, event: ContentBlockDeltaEvent) -> None:
        block = self._block(event.index, "content_block_delta")
        delta = event.delta
        rule = _MERGES.get(type(delta))
        if rule is not None and block.kind in rule[0]:
            rule[1](block, delta)
            if not delta.__dict__.get("_extra"):
                return
        # Unknown, not for this kind of block, or carrying unknown fields: kept
        # whole (its known part merged, if any), never merged into the block's fields.
        block.unknown_deltas.append(delta)

    def _on_block_stop(self, event: ContentBlockStopEvent) -> None:
        self._block(event.index, "content_block_stop").stop()
        if event.index == self._hot_index:
            self._hot_index = -1

    def _on_message_delta(self, event: MessageDeltaEvent) -> None:
        message = self._require_started("message_delta")
        for key, value in event.extra_fields.items():
            if value is not None:
                message[key] = value
        delta = event.delta
        for key, value in delta.extra_fields.items():
            if value is not None:
                message[key] = value
        message["stop_reason"] = delta.stop_reason
        message["stop_sequence"] = delta.stop_sequence
        if "stop_details" in message and delta.extra_fields.get("stop_details") is None:
            message["stop_details"] = None
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
        ``input`` is then the value of the longest valid prefix of its JSON.
        """
        if self._message is None:
            return None
        message = dict(self._message)
        message["content"] = [block.to_dict() for block in self._blocks]
        result = message_from_dict(message)
        for block_model, block in zip(result.content, self._blocks, strict=True):
            if block.unknown_deltas:
                block_model.__dict__["_unknown_deltas"] = list(block.unknown_deltas)
            input_json = block.input_json()
            if input_json is not None:
                block_model.__dict__["_input_json"] = input_json
        extra = result.__dict__
        extra["_request_id"] = self.request_id
        extra["_aws_request_id"] = self.aws_request_id
        extra["_incomplete_blocks"] = self.incomplete_blocks
        return result

    def final_message(self) -> Message:
        """The complete message; raises if ``message_stop`` has not been applied.

        Complete means the stream is: blocks in ``message.incomplete_blocks``
        (a tool call cut by ``max_tokens``, a block never stopped) are part of
        it, flagged.
        """
        if not self.done:
            raise MalformedEventError("the stream has not reached message_stop")
        message = self.snapshot()
        if message is None:  # unreachable: message_stop requires message_start
            raise MalformedEventError("message_stop without message_start")
        return message


# -- merging deltas into blocks: what each known delta does to the blocks it applies to


def _extend_text(block: _Block, delta: TextDelta) -> None:
    block.append("text", delta.text)


def _extend_thinking(block: _Block, delta: ThinkingDelta) -> None:
    block.append("thinking", delta.thinking)


def _set_signature(block: _Block, delta: SignatureDelta) -> None:
    block.set("signature", delta.signature)


def _add_citation(block: _Block, delta: CitationsDelta) -> None:
    if block.citations is None:
        block.citations = [delta.citation]
    else:
        block.citations.append(delta.citation)


def _extend_input_json(block: _Block, delta: InputJSONDelta) -> None:
    if block.json_parts is None:
        block.json_parts = _Text(delta.partial_json)
    else:
        block.json_parts.append(delta.partial_json)


def _set_compaction(block: _Block, delta: CompactionDelta) -> None:
    for field, value in delta.to_dict().items():
        if field in ("content", "encrypted_content"):
            block.set(field, value)


_TEXT = frozenset({"text"})
_THINKING = frozenset({"thinking"})

#: Known delta type -> (the block types it applies to, how it merges): the SDK's rules.
_MERGES: dict[type, tuple[frozenset[str], Callable[[_Block, Any], None]]] = {
    TextDelta: (_TEXT, _extend_text),
    ThinkingDelta: (_THINKING, _extend_thinking),
    SignatureDelta: (_THINKING, _set_signature),
    CitationsDelta: (_TEXT, _add_citation),
    InputJSONDelta: (_TOOL_INPUT_BLOCKS, _extend_input_json),
    CompactionDelta: (frozenset({"compaction"}), _set_compaction),
}
