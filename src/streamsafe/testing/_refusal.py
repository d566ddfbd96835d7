"""Refusals and the server-side fallback to another model.

A refusal (the documented magic string, or a scripted category) stops after
a few words with ``stop_reason: refusal``; with ``fallbacks``, a ``fallback``
block follows and the fallback model answers in the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ._answer import plan_answer, stop_at_sequence
from ._plan import Plan, PlannedBlock, iteration
from ._prose import seeded_rng, text_block, word_tokens

__all__ = [
    "DEFAULT_FALLBACK_MODEL",
    "REFUSAL_CATEGORIES",
    "REFUSAL_MAGIC_STRING",
    "refusal_plan",
]

#: The model a ``"fallbacks": "default"`` request falls back to.
DEFAULT_FALLBACK_MODEL = "claude-opus-4-8"
#: The documented string that makes the real API refuse (streaming refusals guide).
REFUSAL_MAGIC_STRING = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL_"
    "1FAEFB6177B4672DEE07F9D3AFC62588CCD2631EDCF22E8CCC1FB35B501C9C86"
)
#: ``stop_details.category`` values (None: a refusal without a named category).
REFUSAL_CATEGORIES: tuple[str, ...] = (
    "cyber",
    "bio",
    "frontier_llm",
    "reasoning_extraction",
    "general_harms",
)


def refusal_plan(
    request: Mapping[str, Any],
    last_text: bytes,
    answered_tools: bool,
    category: str,
    input_tokens: int,
) -> Plan:
    """A refusal after a few words; with ``fallbacks``, the fallback model's answer follows."""
    model = str(request["model"])
    max_tokens = int(request["max_tokens"])
    rng = seeded_rng(last_text, b"refusal")
    spoken = min(max_tokens, rng.randint(4, 12))
    partial = text_block(rng, word_tokens(rng, spoken))
    named = None if category == "null" else category
    fallback_model, fallback_max = _fallback_target(request.get("fallbacks"))
    if fallback_model is None:
        details = {
            "type": "refusal",
            "category": named,
            "explanation": None if named is None else _explanation(named),
        }
        return Plan((partial,), "refusal", spoken, stop_details=details)
    answer = plan_answer(
        request,
        seeded_rng(last_text, fallback_model.encode()),
        fallback_max or max_tokens,
        answered_tools,
    )
    answer = stop_at_sequence(answer, request.get("stop_sequences"))
    marker = PlannedBlock(
        "fallback",
        (),
        extra={
            "type": "fallback",
            "from": {"model": model},
            "to": {"model": fallback_model},
            "trigger": {"type": "refusal", "category": named},
        },
    )
    iterations = (
        iteration("message", input_tokens, spoken, model=model),
        iteration("fallback_message", input_tokens, answer.output_tokens, model=fallback_model),
    )
    return replace(
        answer,
        blocks=(partial, marker, *answer.blocks),
        output_tokens=spoken + answer.output_tokens,
        iterations=iterations,
        served_model=fallback_model,
    )


def _explanation(category: str) -> str:
    return f"The emulated model declined this request ({category.replace('_', ' ')})."


def _fallback_target(fallbacks: Any) -> tuple[str | None, int | None]:
    """The model (and max_tokens override) of the first ``fallbacks`` entry."""
    if fallbacks == "default":
        return DEFAULT_FALLBACK_MODEL, None
    if isinstance(fallbacks, list) and fallbacks and isinstance(fallbacks[0], Mapping):
        entry = fallbacks[0]
        override = entry.get("max_tokens")
        if isinstance(entry.get("model"), str):
            return entry["model"], override if isinstance(override, int) else None
    return None, None
