"""What an answer contains, independent of how it is delivered.

A :class:`Plan` holds the content blocks (:class:`PlannedBlock`: each one's
delta chunks, its start and final objects, the tokens it costs), the stop
reason and the token counts; :func:`iteration` makes one ``usage.iterations``
entry. Planning fills it (:mod:`._content`), rendering reads it (:mod:`._render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["BlockType", "Plan", "PlannedBlock", "iteration"]

BlockType = Literal["thinking", "text", "tool_use", "compaction", "fallback"]


@dataclass(frozen=True)
class PlannedBlock:
    """One content block and the delta chunks it is streamed as."""

    type: BlockType
    #: text_delta / thinking_delta texts, or input_json_delta fragments.
    chunks: tuple[str, ...]
    signature: str = ""
    tool_id: str = ""
    name: str = ""
    #: tool_use: the input object (for a cut input: its complete top-level pairs).
    input: Any = None
    #: compaction: (content, encrypted_content); fallback: the whole block.
    extra: Any = None

    def start_object(self) -> dict[str, Any]:
        """The ``content_block`` of the block's content_block_start event."""
        if self.type == "text":
            return {"type": "text", "text": ""}
        if self.type == "thinking":
            return {"type": "thinking", "thinking": "", "signature": ""}
        if self.type == "compaction":
            return {"type": "compaction", "content": None, "encrypted_content": None}
        if self.type == "fallback":
            return dict(self.extra)
        return {"type": "tool_use", "id": self.tool_id, "name": self.name, "input": {}}

    def cost(self) -> int:
        """Output tokens the block stands for (one word, or four characters of JSON)."""
        if self.type in ("text", "thinking"):
            return len("".join(self.chunks).split())
        if self.type == "tool_use":
            return max(1, len("".join(self.chunks)) // 4)
        return 0

    def final_object(self) -> dict[str, Any]:
        """The complete block, as found in a non-streamed Message."""
        if self.type == "compaction":
            content, encrypted = self.extra
            return {"type": "compaction", "content": content, "encrypted_content": encrypted}
        if self.type == "fallback":
            return dict(self.extra)
        if self.type == "text":
            return {"type": "text", "text": "".join(self.chunks)}
        if self.type == "thinking":
            return {
                "type": "thinking",
                "thinking": "".join(self.chunks),
                "signature": self.signature,
            }
        return {"type": "tool_use", "id": self.tool_id, "name": self.name, "input": self.input}


@dataclass(frozen=True)
class Plan:
    """Everything an answer contains, independent of how it is delivered."""

    blocks: tuple[PlannedBlock, ...]
    stop_reason: str
    output_tokens: int
    stop_sequence: str | None = None
    #: ``stop_details`` of a refusal (None: the field is left out).
    stop_details: Mapping[str, Any] | None = None
    #: ``usage.iterations`` (None: left out).
    iterations: tuple[Mapping[str, Any], ...] | None = None
    #: ``context_management`` of the final message (None: left out).
    context_management: Mapping[str, Any] | None = None
    #: The model that served the answer when it differs from the requested one.
    served_model: str | None = None


def iteration(kind: str, input_tokens: int, output_tokens: int, **extra: Any) -> dict[str, Any]:
    """One entry of ``usage.iterations`` (``extra``: e.g. the ``model`` it ran on)."""
    return {
        "type": kind,
        **extra,
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }
