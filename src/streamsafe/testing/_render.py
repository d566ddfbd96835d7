"""A plan rendered: the events of a stream, or one non-streamed Message object.

Both come from the same :class:`~._plan.Plan`, so they carry the same
content. Also the compact JSON (raw UTF-8) and the SSE framing the API writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._plan import Plan

__all__ = ["Event", "dump_json", "encode_sse", "message_object", "stream_events"]

Event = tuple[str, dict[str, Any]]


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def stream_events(plan: Plan, *, message_id: str, model: str, input_tokens: int) -> list[Event]:
    """The events of a stream, in order, as ``(event name, data object)`` pairs."""
    events: list[Event] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _usage(input_tokens, 1),
                },
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(plan.blocks):
        events.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": block.start_object(),
                },
            )
        )
        if block.type == "compaction":
            content, encrypted = block.extra
            delta = {"type": "compaction_delta", "content": content, "encrypted_content": encrypted}
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        for chunk in block.chunks:
            if block.type == "text":
                delta = {"type": "text_delta", "text": chunk}
            elif block.type == "thinking":
                delta = {"type": "thinking_delta", "thinking": chunk}
            else:
                delta = {"type": "input_json_delta", "partial_json": chunk}
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        if block.type == "thinking":
            delta = {"type": "signature_delta", "signature": block.signature}
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    final: dict[str, Any] = {"stop_reason": plan.stop_reason, "stop_sequence": plan.stop_sequence}
    if plan.stop_details is not None:
        final["stop_details"] = dict(plan.stop_details)
    usage: dict[str, Any] = {"output_tokens": plan.output_tokens}
    if plan.iterations is not None:
        usage["iterations"] = [dict(item) for item in plan.iterations]
    message_delta: dict[str, Any] = {"type": "message_delta", "delta": final, "usage": usage}
    if plan.context_management is not None:
        message_delta["context_management"] = dict(plan.context_management)
    events.append(("message_delta", message_delta))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def message_object(plan: Plan, *, message_id: str, model: str, input_tokens: int) -> dict[str, Any]:
    """The non-streamed Message carrying the same content as the stream."""
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": plan.served_model or model,
        "content": [block.final_object() for block in plan.blocks],
        "stop_reason": plan.stop_reason,
        "stop_sequence": plan.stop_sequence,
    }
    if plan.stop_details is not None:
        message["stop_details"] = dict(plan.stop_details)
    if plan.context_management is not None:
        message["context_management"] = dict(plan.context_management)
    usage: dict[str, Any] = _usage(input_tokens, plan.output_tokens)
    if plan.iterations is not None:
        usage["iterations"] = [dict(item) for item in plan.iterations]
    message["usage"] = usage
    return message


def dump_json(value: Any) -> bytes:
    """Compact JSON with raw UTF-8, as the API writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_sse(event: str, data: Mapping[str, Any]) -> bytes:
    """One SSE event: ``event: <name>\\ndata: <json>\\n\\n``."""
    return b"event: " + event.encode("ascii") + b"\ndata: " + dump_json(data) + b"\n\n"
