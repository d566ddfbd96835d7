"""Deterministic responses: the same request body always yields the same content.

A response is first *planned* (:func:`plan_response`: the content blocks, their
delta chunks, the stop reason and the token count), then rendered either as
the list of SSE events of a stream (:func:`stream_events`) or as one Message
object (:func:`message_object`). Both renderings come from the same plan, so
a streamed and a non-streamed request with the same body carry the same
content; only the message id differs.

One emitted "token" is one word. The randomness is seeded from the text of
the last user message, so a conversation gets a new answer at every turn.

Planning (:func:`plan_response`) takes its parts from one module each:
:mod:`._answer` (the model's own answer, stop sequences), :mod:`._refusal`
(refusals, server-side fallback), :mod:`._compaction`; below them
:mod:`._prose`, :mod:`._tool_calls`, :mod:`._tool_cut`, and :mod:`._plan`
(what a plan holds). Rendering is :mod:`._render`; ids are :mod:`._ids`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._answer import (
    last_user_turn,
    plan_answer,
    stop_at_sequence,
)
from ._compaction import compaction_edit, with_compaction
from ._plan import Plan
from ._prose import seeded_rng
from ._refusal import (
    REFUSAL_CATEGORIES,
    REFUSAL_MAGIC_STRING,
    refusal_plan,
)

__all__ = ["plan_response"]


def plan_response(
    request: Mapping[str, Any], *, input_tokens: int = 1, refusal: str | None = None
) -> Plan:
    """Plan the answer to a (validated) Messages request.

    ``input_tokens`` decides whether a compaction edit triggers; ``refusal``
    (a category, or ``"null"``) scripts a refusal, as the magic string does.
    """
    messages: Sequence[Any] = request.get("messages") or []
    last_text, answered_tools = last_user_turn(messages)
    if refusal is None and REFUSAL_MAGIC_STRING.encode("ascii") in last_text:
        refusal = REFUSAL_CATEGORIES[0]
    if refusal is not None:
        plan = refusal_plan(request, last_text, answered_tools, refusal, input_tokens)
    else:
        plan = plan_answer(
            request, seeded_rng(last_text), int(request["max_tokens"]), answered_tools
        )
        plan = stop_at_sequence(plan, request.get("stop_sequences"))
    compaction = compaction_edit(request.get("context_management"))
    if compaction is None or input_tokens < compaction[0]:
        return plan
    return with_compaction(plan, last_text, input_tokens, pause=compaction[1])
