"""Model ids the emulator knows, and which of them refuse an assistant prefill.

The ids are those of the official SDK's ``Model`` type (anthropic 2.15.0).
An id matches a base id when it is the base itself or the base with a date
(``claude-opus-4-6-20260205``, ``claude-opus-4-6@20260205``), optionally with
a cloud provider's wrapping (``anthropic.`` / ``us.anthropic.`` prefix, ``-v1``
or ``-v1:0`` suffix). ``claude-fable-5-1`` does not match ``claude-fable-5``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["KNOWN_MODELS", "NO_PREFILL_MODELS", "is_known_model", "matches_model"]

KNOWN_MODELS: tuple[str, ...] = (
    "claude-fable-5-2",
    "claude-mythos-5-2",
    "claude-haiku-5-5",
    "claude-sonnet-5-5",
    "claude-fable-5-1",
    "claude-opus-5-5",
    "claude-mythos-5-1",
    "claude-sonnet-5",
    "claude-fable-5",
    "claude-mythos-5",
    "claude-opus-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-mythos-preview",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-opus-4-5",
)

#: Models that answer a last ``assistant`` message (a prefill) with a 400.
NO_PREFILL_MODELS: tuple[str, ...] = (
    "claude-fable-5",
    "claude-mythos-5",
    "claude-mythos-preview",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
)

_SHAPE = re.compile(
    r"(?:[a-z]{2,4}\.)?(?:anthropic\.)?(?P<base>claude-[a-z0-9-]+?)"
    r"(?:[-@](?P<date>\d{8}))?(?:-v\d+(?::\d+)?)?"
)


def _base(model: str) -> str | None:
    match = _SHAPE.fullmatch(model.strip().lower())
    return match["base"] if match is not None else None


def matches_model(model: str, bases: Iterable[str]) -> bool:
    """Whether ``model`` names one of ``bases`` (dated and provider variants included)."""
    return _base(model) in set(bases)


def is_known_model(model: str) -> bool:
    return matches_model(model, KNOWN_MODELS)
