"""The model's own answer to a request: thinking, text and tool calls.

Sized by ``max_tokens`` (a natural answer is about 3/4 of it, a smaller
``max_tokens`` cuts it), shaped by ``thinking``, ``tools`` and ``tool_choice``,
then cut before the first of the ``stop_sequences`` found in its text.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ._plan import Plan, PlannedBlock
from ._prose import text_block, thinking_block, word_tokens
from ._tool_calls import tool_calls, usable_tools
from ._tool_cut import eager_cut

__all__ = [
    "DEFAULT_THINKING_BUDGET",
    "MAX_OUTPUT_WORDS",
    "last_user_turn",
    "plan_answer",
    "stop_at_sequence",
]

#: Upper bound on the words of one answer, whatever max_tokens says.
MAX_OUTPUT_WORDS = 4096
#: Shortest "natural" answer: a smaller max_tokens cuts the text (stop_reason max_tokens).
MIN_ANSWER_WORDS = 24
MAX_THINKING_WORDS = 1024
DEFAULT_THINKING_BUDGET = 1024


def plan_answer(
    request: Mapping[str, Any], rng: random.Random, max_tokens: int, answered_tools: bool
) -> Plan:
    """The model's own answer: thinking, text and tool calls, cut at max_tokens."""
    messages: Sequence[Any] = request.get("messages") or []
    last_text, _ = last_user_turn(messages)
    blocks: list[PlannedBlock] = []
    used = 0

    budget = _thinking_budget(request.get("thinking"), max_tokens)
    if budget is not None:
        wanted = max(1, min(budget, 16 + max_tokens // 8, MAX_THINKING_WORDS))
        words = min(wanted, max_tokens)
        blocks.append(thinking_block(rng, words))
        used += words
        if words < wanted or used >= max_tokens:
            return Plan(tuple(blocks), "max_tokens", used)

    natural = min(MAX_OUTPUT_WORDS, max(MIN_ANSWER_WORDS, (max_tokens - used) * 3 // 4))
    tools = usable_tools(request.get("tools"))
    choice = request.get("tool_choice")
    choice_type = choice.get("type", "auto") if isinstance(choice, Mapping) else "auto"
    forced = choice_type in ("any", "tool")
    if tools and choice_type != "none" and (forced or not answered_tools):
        intro = 0 if forced else rng.randint(8, 20)
        intro_tokens = word_tokens(rng, intro)
        calls = tool_calls(rng, tools, choice, last_text)
        cost = intro + sum(call.cost() for call in calls)
        if used + cost <= max_tokens:
            if intro:
                blocks.append(text_block(rng, intro_tokens))
            blocks.extend(calls)
            return Plan(tuple(blocks), "tool_use", used + cost)
        eager = {str(t["name"]) for t in tools if t.get("eager_input_streaming") is True}
        room = max_tokens - used - intro
        cut = eager_cut(calls, eager, room)
        if cut is not None:
            if intro:
                blocks.append(text_block(rng, intro_tokens))
            blocks.extend(cut)
            return Plan(tuple(blocks), "max_tokens", max_tokens)
        natural = max_tokens + 1  # the tool calls do not fit: a cut text answer

    stop_reason = "end_turn"
    words = natural
    if used + words > max_tokens:
        words = max_tokens - used
        stop_reason = "max_tokens"
    if words > 0:
        blocks.append(text_block(rng, word_tokens(rng, words)))
        used += words
    return Plan(tuple(blocks), stop_reason, max(used, 1))


# -- stop sequences -------------------------------------------------------------


def stop_at_sequence(plan: Plan, stop_sequences: Any) -> Plan:
    """Cut the answer right before the first stop sequence found in its text."""
    if not isinstance(stop_sequences, list):
        return plan
    wanted = [s for s in stop_sequences if isinstance(s, str) and s]
    if not wanted:
        return plan
    kept: list[PlannedBlock] = []
    for block in plan.blocks:
        if block.type == "text":
            text = "".join(block.chunks)
            hits = [(text.find(s), -len(s), s) for s in wanted if s in text]
            if hits:
                start, _, matched = min(hits)
                if start > 0:
                    kept.append(replace(block, chunks=_cut_chunks(block.chunks, start)))
                tokens = sum(b.cost() for b in kept)
                return replace(
                    plan,
                    blocks=tuple(kept),
                    stop_reason="stop_sequence",
                    output_tokens=max(tokens, 1),
                    stop_sequence=matched,
                )
        kept.append(block)
    return plan


def _cut_chunks(chunks: Sequence[str], length: int) -> tuple[str, ...]:
    kept: list[str] = []
    taken = 0
    for chunk in chunks:
        if taken >= length:
            break
        kept.append(chunk[: length - taken])
        taken += len(kept[-1])
    return tuple(kept)


# -- reading the request -----------------------------------------------------------


def last_user_turn(messages: Sequence[Any]) -> tuple[bytes, bool]:
    """The seed text of the last user message, and whether it answers tool calls."""
    for message in reversed(messages):
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content.encode("utf-8", "surrogatepass"), False
        if isinstance(content, list):
            has_result = any(
                isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content
            )
            seed = json.dumps(content, sort_keys=True, ensure_ascii=True)
            return seed.encode("ascii"), has_result
        return json.dumps(content, sort_keys=True).encode("ascii"), False
    return b"", False


def _thinking_budget(thinking: Any, max_tokens: int) -> int | None:
    if not isinstance(thinking, Mapping):
        return None
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        return budget if isinstance(budget, int) and budget > 0 else DEFAULT_THINKING_BUDGET
    if kind == "adaptive":
        return max(1, max_tokens // 2)
    return None
