"""Typed models of the Messages API: stream events, content blocks, deltas, Message.

The models are :mod:`msgspec` structs tagged by their ``type`` field, strict
(unknown fields are refused by the fast decode) and lossless (what they do not
know is kept in ``extra_fields``, and types they do not know become
:class:`UnknownEvent` / :class:`UnknownBlock` / :class:`UnknownDelta`);
:mod:`._decode` turns JSON into them.

Either way ``to_dict()`` returns the JSON shape the API sent, unknown parts
included: nothing the server sends is dropped on the way to the final message.
Optional fields the API may omit default to :data:`msgspec.UNSET` and are
left out of ``to_dict()`` when absent.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "UNSET",
    "CitationsDelta",
    "CompactionBlock",
    "CompactionDelta",
    "ContainerUploadBlock",
    "ContentBlock",
    "ContentBlockDeltaEvent",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "Delta",
    "ErrorEvent",
    "ErrorInfo",
    "FallbackBlock",
    "InputJSONDelta",
    "MCPToolResultBlock",
    "MCPToolUseBlock",
    "Message",
    "MessageDelta",
    "MessageDeltaEvent",
    "MessageDeltaUsage",
    "MessageStartEvent",
    "MessageStopEvent",
    "Model",
    "PingEvent",
    "RedactedThinkingBlock",
    "ServerToolResultBlock",
    "ServerToolUseBlock",
    "SignatureDelta",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
    "ThinkingBlock",
    "ThinkingDelta",
    "TokenCount",
    "ToolSearchToolResultBlock",
    "ToolUseBlock",
    "UnknownBlock",
    "UnknownDelta",
    "UnknownEvent",
    "Usage",
]

JSON: TypeAlias = Any


class Model(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, dict=True):
    """Base of every model: ``to_dict()``, ``to_json()`` and kept unknown fields."""

    @property
    def extra_fields(self) -> dict[str, JSON]:
        """Fields the API sent that this model does not know (kept verbatim)."""
        extra: dict[str, JSON] = self.__dict__.get("_extra", {})
        return extra

    def to_dict(self) -> dict[str, JSON]:
        """The JSON object the API uses for this model, unknown fields included."""
        return _to_plain(self)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """``to_dict()`` serialised as compact JSON text."""
        return msgspec.json.encode(self.to_dict()).decode()


def _to_plain(value: Any) -> Any:
    if isinstance(value, Model):
        out: dict[str, Any] = dict(value.__dict__.get("_extra", ()))
        tag = value.__struct_config__.tag
        if isinstance(tag, str):
            out["type"] = value.__dict__.get("_type", tag)
        for name, wire_name in zip(
            value.__struct_fields__, value.__struct_encode_fields__, strict=True
        ):
            item = getattr(value, name)
            if item is not UNSET:
                out[wire_name] = _to_plain(item)
        return out
    if isinstance(value, list):
        return [_to_plain(item) for item in value]
    return value


class _Tagged(Model, tag_field="type"):
    """A model whose JSON carries a ``type`` tag chosen by the class."""

    @property
    def type(self) -> str:
        """The ``type`` tag: the class's own, or the one an Unknown* model received."""
        return str(self.__dict__.get("_type", self.__struct_config__.tag))

    @property
    def unknown_deltas(self) -> list[Delta]:
        """On a content block: the deltas it could not take in full, in order.

        A delta of a type the models do not know, a delta of a type that does
        not apply to this block (a ``text_delta`` for a thinking block), and a
        known delta carrying fields the models do not know (its known part is
        merged; the whole delta is kept here). None of them changes
        ``to_dict()``, so the block stays valid as the next request's input.
        """
        deltas: list[Delta] = self.__dict__.get("_unknown_deltas", [])
        return deltas

    @property
    def input_json(self) -> str | None:
        """On a tool block whose input did not parse (or never finished): the raw JSON text.

        ``input`` is then the object parsed from the longest valid prefix of
        this text, and the block's index is in the message's
        ``incomplete_blocks``. ``None`` on every complete block.
        """
        text: str | None = self.__dict__.get("_input_json")
        return text


# ---------------------------------------------------------------------------
# Content blocks
# ---------------------------------------------------------------------------


class TextBlock(_Tagged, tag="text"):
    text: str
    citations: list[JSON] | UnsetType | None = UNSET


class ToolUseBlock(_Tagged, tag="tool_use"):
    id: str
    name: str
    input: JSON


class ServerToolUseBlock(_Tagged, tag="server_tool_use"):
    id: str
    name: str
    input: JSON


class ThinkingBlock(_Tagged, tag="thinking"):
    thinking: str
    signature: str | UnsetType = UNSET


class RedactedThinkingBlock(_Tagged, tag="redacted_thinking"):
    data: str


class ServerToolResultBlock(_Tagged):
    """The result of a server-side tool (web search, web fetch, code execution, ...)."""

    tool_use_id: str
    content: JSON


class WebSearchToolResultBlock(ServerToolResultBlock, tag="web_search_tool_result"):
    pass


class WebFetchToolResultBlock(ServerToolResultBlock, tag="web_fetch_tool_result"):
    pass


class CodeExecutionToolResultBlock(ServerToolResultBlock, tag="code_execution_tool_result"):
    pass


class BashCodeExecutionToolResultBlock(
    ServerToolResultBlock, tag="bash_code_execution_tool_result"
):
    pass


class TextEditorCodeExecutionToolResultBlock(
    ServerToolResultBlock, tag="text_editor_code_execution_tool_result"
):
    pass


class ToolSearchToolResultBlock(ServerToolResultBlock, tag="tool_search_tool_result"):
    pass


class MCPToolUseBlock(_Tagged, tag="mcp_tool_use"):
    """A call to a tool of a remote MCP server; its input streams like a tool_use's."""

    id: str
    name: str
    server_name: str
    input: JSON


class MCPToolResultBlock(_Tagged, tag="mcp_tool_result"):
    tool_use_id: str
    is_error: bool = False
    content: JSON = None


class ContainerUploadBlock(_Tagged, tag="container_upload"):
    file_id: str


class CompactionBlock(_Tagged, tag="compaction"):
    """A summary of the earlier conversation: send it back unchanged on the next turn.

    Streamed as a start with ``content`` and ``encrypted_content`` null, then
    ``compaction_delta`` events that set them.
    """

    content: str | None = None
    encrypted_content: str | UnsetType | None = UNSET
    signature: str | UnsetType | None = UNSET
    tool_changes: list[JSON] | UnsetType | None = UNSET


class FallbackBlock(_Tagged, tag="fallback"):
    """Where one model's output gives way to another's (a refusal fallback).

    ``from_`` (``from`` in JSON) and ``to`` each name a ``model``; the
    message's ``model`` is relabelled to ``to["model"]`` when the block starts.
    """

    from_: JSON = msgspec.field(name="from")
    to: JSON
    trigger: JSON | UnsetType = UNSET


class UnknownBlock(_Tagged, tag="__unknown_block__"):
    """A content block of a type the models do not know; ``to_dict()`` is the raw JSON."""


ContentBlock: TypeAlias = (
    TextBlock
    | ToolUseBlock
    | ServerToolUseBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | WebSearchToolResultBlock
    | WebFetchToolResultBlock
    | CodeExecutionToolResultBlock
    | BashCodeExecutionToolResultBlock
    | TextEditorCodeExecutionToolResultBlock
    | ToolSearchToolResultBlock
    | MCPToolUseBlock
    | MCPToolResultBlock
    | ContainerUploadBlock
    | CompactionBlock
    | FallbackBlock
    | UnknownBlock
)

# ---------------------------------------------------------------------------
# Deltas
# ---------------------------------------------------------------------------


class TextDelta(_Tagged, tag="text_delta"):
    text: str


class InputJSONDelta(_Tagged, tag="input_json_delta"):
    partial_json: str


class ThinkingDelta(_Tagged, tag="thinking_delta"):
    thinking: str


class SignatureDelta(_Tagged, tag="signature_delta"):
    signature: str


class CitationsDelta(_Tagged, tag="citations_delta"):
    citation: JSON


class CompactionDelta(_Tagged, tag="compaction_delta"):
    """Sets (never extends) the ``content`` and ``encrypted_content`` of a compaction block."""

    content: str | UnsetType | None = UNSET
    encrypted_content: str | UnsetType | None = UNSET


class UnknownDelta(_Tagged, tag="__unknown_delta__"):
    """A delta of a type the models do not know; ``to_dict()`` is the raw JSON."""


Delta: TypeAlias = (
    TextDelta
    | InputJSONDelta
    | ThinkingDelta
    | SignatureDelta
    | CitationsDelta
    | CompactionDelta
    | UnknownDelta
)

# ---------------------------------------------------------------------------
# Message
# ---------------------------------------------------------------------------


class Usage(Model):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int | UnsetType | None = UNSET
    cache_read_input_tokens: int | UnsetType | None = UNSET
    cache_creation: JSON | UnsetType = UNSET
    server_tool_use: JSON | UnsetType = UNSET
    service_tier: str | UnsetType | None = UNSET


class Message(Model):
    """A complete (or, on an error, partial) assistant message."""

    id: str
    type: str = "message"
    role: str = "assistant"
    model: str = ""
    content: list[ContentBlock] = msgspec.field(default_factory=list)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage = msgspec.field(default_factory=Usage)

    @property
    def request_id(self) -> str | None:
        """The ``request-id`` of the response that produced this message.

        Also readable as ``message._request_id``, as with the official SDK.
        """
        value: str | None = self.__dict__.get("_request_id")
        return value

    @property
    def aws_request_id(self) -> str | None:
        """The ``x-amzn-requestid`` of the response (Claude Platform on AWS), else ``None``."""
        value: str | None = self.__dict__.get("_aws_request_id")
        return value

    @property
    def incomplete_blocks(self) -> tuple[int, ...]:
        """Indices of content blocks that are not whole: never stopped, or tool input cut.

        A tool call listed here must not be executed: its ``input`` was parsed
        from a prefix of what the model meant to send (``block.input_json``
        holds the raw text). A complete stream can end this way: fine-grained
        tool streaming cut by ``max_tokens`` closes a block mid-parameter.
        """
        value: tuple[int, ...] = self.__dict__.get("_incomplete_blocks", ())
        return value

    @property
    def text(self) -> str:
        """All text blocks joined: a convenience for the common case."""
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))


class TokenCount(Model):
    """The answer of ``messages.count_tokens``."""

    input_tokens: int


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------


class MessageStartEvent(_Tagged, tag="message_start"):
    message: Message


class ContentBlockStartEvent(_Tagged, tag="content_block_start"):
    index: int
    content_block: ContentBlock


class ContentBlockDeltaEvent(_Tagged, tag="content_block_delta"):
    index: int
    delta: Delta


class ContentBlockStopEvent(_Tagged, tag="content_block_stop"):
    index: int


class MessageDelta(Model):
    stop_reason: str | None = None
    stop_sequence: str | None = None


class MessageDeltaUsage(Model):
    output_tokens: int | UnsetType = UNSET
    input_tokens: int | UnsetType | None = UNSET
    cache_creation_input_tokens: int | UnsetType | None = UNSET
    cache_read_input_tokens: int | UnsetType | None = UNSET
    server_tool_use: JSON | UnsetType = UNSET


class MessageDeltaEvent(_Tagged, tag="message_delta"):
    delta: MessageDelta
    usage: MessageDeltaUsage = msgspec.field(default_factory=MessageDeltaUsage)


class MessageStopEvent(_Tagged, tag="message_stop"):
    pass


class PingEvent(_Tagged, tag="ping"):
    pass


class ErrorInfo(Model):
    type: str | None = None
    message: str | None = None


class ErrorEvent(_Tagged, tag="error"):
    error: ErrorInfo
    request_id: str | UnsetType | None = UNSET


class UnknownEvent(_Tagged, tag="__unknown_event__"):
    """An event of a type the models do not know; ``to_dict()`` is the raw JSON."""


StreamEvent: TypeAlias = (
    MessageStartEvent
    | ContentBlockStartEvent
    | ContentBlockDeltaEvent
    | ContentBlockStopEvent
    | MessageDeltaEvent
    | MessageStopEvent
    | PingEvent
    | ErrorEvent
    | UnknownEvent
)
