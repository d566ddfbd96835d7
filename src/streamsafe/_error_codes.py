"""The registry of error-code classes: one per ``(HTTP status, error.details.error_code)``.

The API names the cause of many errors with a stable code in
``error.details.error_code`` (``{"type": "rate_limit_error", "message": ...,
"details": {"error_code": "ramp_limit_exceeded"}}``). Each code the official
Python SDK knows (2.15, its ``ERROR_CLASSES`` table) has a class, with the
SDK's name, under the status class the SDK puts it (a 429 code is a
:class:`RateLimitError`, a 503 code a :class:`ServiceUnavailableError`), so
``except streamsafe.errors.RampLimitExceededError`` catches what
``except anthropic.RampLimitExceededError`` does, over HTTP and mid-stream.

The classes are defined by family: :mod:`streamsafe._error_codes_400` (the
codes of 400 ``invalid_request_error``, most of them) and
:mod:`streamsafe._error_codes_402_529` (every other status). Each class
declares only its ``error_code``; its status (``default_status``) and its
``retryable`` default come from its status class, and its docstring, unless it
has one, names its code. :data:`ERROR_CODE_CLASSES` is built from the classes
here, so each code is written once; :func:`streamsafe._failures.status_error_class`
looks codes up in it. A code missing here (a new one) keeps the class of its
error type or status. Many names start with ``Beta``: the SDK's own names,
kept for migration. The public face is :mod:`streamsafe.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from . import _error_codes_400, _error_codes_402_529
from ._errors import APIStatusError

__all__ = ["ERROR_CODE_CLASSES", "for_code"]


def _code_classes(*families: ModuleType) -> dict[tuple[int, str], type[APIStatusError]]:
    """Every class the family modules define, by its ``(default_status, error_code)``.

    A class without a docstring of its own gets one naming its code.
    """
    table: dict[tuple[int, str], type[APIStatusError]] = {}
    for family in families:
        for value in vars(family).values():
            if not (
                isinstance(value, type)
                and issubclass(value, APIStatusError)
                and value.__module__ == family.__name__
            ):
                continue
            status, code = value.default_status, value.error_code
            if status is None or code is None:  # pragma: no cover - every class has both
                raise TypeError(f"{value.__name__} needs a status and an error_code")
            if (status, code) in table:  # pragma: no cover - a copy-paste slip
                raise TypeError(f"{value.__name__} repeats ({status}, {code!r})")
            if value.__doc__ is None:
                base = value.__mro__[1].__name__
                value.__doc__ = (
                    f"{status} ``{code}``: an API error whose ``error.details.error_code`` "
                    f"is ``{code}`` (a :class:`{base}`)."
                )
            table[status, code] = value
    return table


#: ``(status, error_code)`` → the class, for :func:`streamsafe._failures.status_error_class`.
ERROR_CODE_CLASSES: Mapping[tuple[int, str], type[APIStatusError]] = _code_classes(
    _error_codes_400, _error_codes_402_529
)


def _by_code() -> dict[str, type[APIStatusError] | None]:
    table: dict[str, type[APIStatusError] | None] = {}
    for (_, code), cls in ERROR_CODE_CLASSES.items():
        table[code] = None if code in table else cls  # a code under two statuses: ambiguous
    return table


_BY_CODE = _by_code()


def for_code(error_code: str) -> type[APIStatusError] | None:
    """The class of a code, whatever its status; ``None`` if unknown or under several statuses."""
    return _BY_CODE.get(error_code)
