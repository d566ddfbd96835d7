"""Server-side compaction: a ``compact_20260112`` edit of ``context_management``.

Once the input reaches the edit's trigger, the answer starts with a
``compaction`` block (a summary and its encrypted form); with
``pause_after_compaction`` the answer is that block alone.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ._plan import Plan, PlannedBlock, iteration
from ._prose import seeded_rng, word_tokens

__all__ = ["DEFAULT_COMPACTION_TRIGGER", "compaction_edit", "with_compaction"]

#: Input tokens that trigger a ``compact_20260112`` edit without a ``trigger``.
DEFAULT_COMPACTION_TRIGGER = 150_000
COMPACTION_SUMMARY_WORDS = 40


def compaction_edit(context_management: Any) -> tuple[int, bool] | None:
    """(trigger threshold in input tokens, pause_after_compaction) of a compaction edit."""
    if not isinstance(context_management, Mapping):
        return None
    edits = context_management.get("edits")
    for edit in edits if isinstance(edits, list) else ():
        if not isinstance(edit, Mapping) or edit.get("type") != "compact_20260112":
            continue
        trigger = edit.get("trigger")
        value = trigger.get("value") if isinstance(trigger, Mapping) else None
        threshold = value if isinstance(value, int) else DEFAULT_COMPACTION_TRIGGER
        return threshold, edit.get("pause_after_compaction") is True
    return None


def with_compaction(plan: Plan, last_text: bytes, input_tokens: int, *, pause: bool) -> Plan:
    """``plan`` after a compaction block (``pause``: the block alone)."""
    rng = seeded_rng(last_text, b"compaction")
    summary = "".join(word_tokens(rng, COMPACTION_SUMMARY_WORDS))
    digest = hashlib.sha512(summary.encode("utf-8")).digest()
    encrypted = base64.b64encode(digest + hashlib.sha512(digest).digest()).decode("ascii")
    block = PlannedBlock("compaction", (), extra=(summary, encrypted))
    spent = iteration("compaction", input_tokens, COMPACTION_SUMMARY_WORDS)
    applied: dict[str, Any] = {"applied_edits": []}
    if pause:
        return Plan((block,), "compaction", 0, iterations=(spent,), context_management=applied)
    rest = plan.iterations or (iteration("message", input_tokens, plan.output_tokens),)
    return replace(
        plan,
        blocks=(block, *plan.blocks),
        iterations=(spent, *rest),
        context_management=applied,
    )
