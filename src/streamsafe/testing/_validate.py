"""Request validation: what the API rejects with 400 ``invalid_request_error``.

Only the checks a client's behaviour depends on: the required fields of a
Messages or token counting request, prefill on models without it, and the
thinking budget's bounds on known models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._models import NO_PREFILL_MODELS, is_known_model, matches_model

__all__ = [
    "MIN_THINKING_BUDGET",
    "PREFILL_UNSUPPORTED",
    "BadRequest",
    "validate_count_tokens",
    "validate_messages",
]

#: Smallest thinking budget the API accepts.
MIN_THINKING_BUDGET = 1024
PREFILL_UNSUPPORTED = "Prefilling assistant messages is not supported for this model."


class BadRequest(Exception):
    """A request the API would reject with 400 invalid_request_error."""


def validate_messages(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise BadRequest("The request body must be a JSON object.")
    if not isinstance(payload.get("model"), str):
        raise BadRequest("model: Field required" if "model" not in payload else "model: str")
    max_tokens = payload.get("max_tokens")
    if "max_tokens" not in payload:
        raise BadRequest("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequest("max_tokens: must be an integer greater than or equal to 1")
    messages = payload.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("messages: Field required" if messages is None else "messages: list")
    if "stream" in payload and not isinstance(payload["stream"], bool):
        raise BadRequest("stream: bool")
    model = payload["model"]
    last = messages[-1] if messages else None
    prefill = isinstance(last, Mapping) and last.get("role") == "assistant"
    if prefill and matches_model(model, NO_PREFILL_MODELS):
        raise BadRequest(PREFILL_UNSUPPORTED)
    thinking = payload.get("thinking")
    if (
        is_known_model(model)
        and isinstance(thinking, Mapping)
        and thinking.get("type") == "enabled"
    ):
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and not isinstance(budget, bool):
            if budget < MIN_THINKING_BUDGET:
                raise BadRequest(
                    f"thinking.enabled.budget_tokens: Input should be greater than or equal "
                    f"to {MIN_THINKING_BUDGET}"
                )
            if budget >= max_tokens:
                raise BadRequest(
                    f"`max_tokens` must be greater than `thinking.budget_tokens` "
                    f"(got max_tokens={max_tokens}, budget_tokens={budget})."
                )
    return payload


def validate_count_tokens(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise BadRequest("The request body must be a JSON object.")
    if not isinstance(payload.get("model"), str):
        raise BadRequest("model: Field required")
    if not isinstance(payload.get("messages"), list):
        raise BadRequest("messages: Field required")
    return payload
