"""Fault descriptions for the emulator and the parser of their string form.

The grammar is documented in the docstring of :mod:`streamsafe.testing`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "DEFAULT_STALL_SECONDS",
    "ERROR_TYPES",
    "STATUS_FOR_ERROR_TYPE",
    "Fault",
    "FaultKind",
    "Position",
    "RawResponse",
    "error_message",
    "error_type_for_status",
    "status_for_error_type",
]

FaultKind = Literal[
    "none",
    "error",
    "status",
    "html",
    "empty",
    "truncate",
    "truncate_bytes",
    "reset",
    "stall",
    "stall_pings",
    "content_type",
    "empty_200",
    "raw",
]
Position = int | Literal["start"]

#: The documented error types and the HTTP status each one stands for.
STATUS_FOR_ERROR_TYPE: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
ERROR_TYPES: tuple[str, ...] = tuple(STATUS_FOR_ERROR_TYPE)
_ERROR_TYPE_FOR_STATUS = {status: kind for kind, status in STATUS_FOR_ERROR_TYPE.items()}

_MESSAGES: Mapping[str, str] = {
    "invalid_request_error": "The request is malformed or has invalid content.",
    "authentication_error": "The API key is missing or invalid.",
    "billing_error": "There is a problem with the billing details of this account.",
    "permission_error": "The API key is not allowed to use this resource.",
    "not_found_error": "The requested resource does not exist.",
    "request_too_large": "The request is larger than the maximum allowed size.",
    "rate_limit_error": "This account has hit a rate limit.",
    "api_error": "An unexpected internal error occurred.",
    "timeout_error": "The request timed out.",
    "overloaded_error": "Overloaded",
}

DEFAULT_STALL_SECONDS = 30.0
DEFAULT_PING_EVERY = 0.2

# Which kinds take an `@position`, and which of them accept `@start`.
_POSITIONED: frozenset[str] = frozenset(
    {"error", "truncate", "truncate_bytes", "reset", "stall", "stall_pings"}
)
_START_OK: frozenset[str] = frozenset({"truncate", "reset", "stall"})
_STATUS_KINDS: frozenset[str] = frozenset({"status", "html", "empty"})
# Options every kind accepts.
_COUNTER_OPTIONS: frozenset[str] = frozenset({"times", "key"})
# Options each kind accepts (besides its argument and position).
_OPTIONS: Mapping[str, frozenset[str]] = {
    "none": frozenset(),
    "error": frozenset({"message", "code"}),
    "status": frozenset(
        {"retry_after", "retry_after_ms", "should_retry", "type", "message", "code"}
    ),
    "html": frozenset({"retry_after", "retry_after_ms", "should_retry"}),
    "empty": frozenset({"retry_after", "retry_after_ms", "should_retry"}),
    "truncate": frozenset(),
    "truncate_bytes": frozenset(),
    "reset": frozenset(),
    "stall": frozenset({"seconds"}),
    "stall_pings": frozenset({"seconds", "every"}),
}


def error_type_for_status(status: int) -> str:
    """The documented error type for an HTTP status (``api_error`` when unlisted)."""
    return _ERROR_TYPE_FOR_STATUS.get(status, "api_error")


def status_for_error_type(error_type: str) -> int:
    """The HTTP status an error type stands for (500 for unknown types)."""
    return STATUS_FOR_ERROR_TYPE.get(error_type, 500)


def error_message(error_type: str) -> str:
    """A human readable message for an error type."""
    return _MESSAGES.get(error_type, f"Emulated {error_type}.")


@dataclass(frozen=True)
class RawResponse:
    """Arbitrary bytes served verbatim for one request (see ``Emulator.push_raw_stream``)."""

    body: bytes
    content_type: str | None = "text/event-stream"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    chunk_size: int | None = None
    chunk_delay: float = 0.0

    def __post_init__(self) -> None:
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if self.chunk_delay < 0:
            raise ValueError("chunk_delay must not be negative")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status out of range: {self.status}")
        for name, value in self.headers:
            if not name or any(c in name for c in " :\r\n") or "\r" in value or "\n" in value:
                raise ValueError(f"invalid header {name!r}: {value!r}")

    def __repr__(self) -> str:
        return f"RawResponse(status={self.status}, {len(self.body)} bytes)"


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour of the emulator.

    Build one with :meth:`parse` (``Fault.parse("error:overloaded_error@3")``)
    or directly (``Fault("error", error_type="overloaded_error", at=3)``).
    ``str(fault)`` gives back a spec that parses to an equal fault.
    """

    kind: FaultKind
    #: Events (streams) or bytes (JSON bodies, ``truncate_bytes``) sent before the
    #: fault strikes; ``"start"`` means before the response headers.
    at: Position = 0
    status: int | None = None
    error_type: str | None = None
    message: str | None = None
    #: ``error.details.error_code`` of the error body (``error`` and ``status`` faults).
    code: str | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None
    should_retry: bool | None = None
    seconds: float = DEFAULT_STALL_SECONDS
    every: float = DEFAULT_PING_EVERY
    content_type: str | None = None
    raw: RawResponse | None = None
    #: ``times=N``: in the ``x-streamsafe-fault`` header, apply the fault to the
    #: first N requests carrying it (see :attr:`counter_key`); in a queue, N copies.
    times: int | None = None
    #: ``key=K``: names the ``times`` counter (default: the spec itself).
    key: str | None = None

    def __post_init__(self) -> None:
        kind = self.kind
        if kind not in _OPTIONS and kind not in ("content_type", "empty_200", "raw"):
            raise ValueError(f"unknown fault kind {kind!r}")
        if self.at == "start":
            if kind not in _START_OK:
                raise ValueError(f"{kind} does not accept @start")
        elif isinstance(self.at, bool) or not isinstance(self.at, int) or self.at < 0:
            raise ValueError(f"position must be a non-negative integer or 'start': {self.at!r}")
        if kind in _STATUS_KINDS and (self.status is None or not 100 <= self.status <= 599):
            raise ValueError(f"{kind} needs an HTTP status between 100 and 599")
        if kind == "error" and not self.error_type:
            raise ValueError("error needs an error type, e.g. error:overloaded_error@3")
        if self.code is not None and kind not in ("error", "status"):
            raise ValueError(f"{kind} takes no error code (only error and status do)")
        if kind == "content_type" and not self.content_type:
            raise ValueError("content_type needs a media type, e.g. content_type:text/html")
        if kind == "raw" and self.raw is None:
            raise ValueError("raw needs a RawResponse")
        if not math.isfinite(self.seconds) or self.seconds < 0:
            raise ValueError(f"seconds must be a non-negative number: {self.seconds!r}")
        if not math.isfinite(self.every) or self.every <= 0:
            raise ValueError(f"every must be a positive number: {self.every!r}")
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1
        ):
            raise ValueError(f"times must be a positive integer: {self.times!r}")
        if self.key is not None and (not self.key or any(c in self.key for c in ";\r\n")):
            raise ValueError(f"key must be a non-empty string without ';': {self.key!r}")

    @property
    def position(self) -> int | None:
        """The numeric position, or None for ``@start``."""
        return None if self.at == "start" else self.at

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse a fault spec such as ``status:529;retry_after=2``. Raises ValueError."""
        text = spec.strip()
        if not text:
            raise ValueError("empty fault spec")
        # These two take the rest of the spec verbatim (media types contain ';'),
        # except trailing ``times=`` / ``key=`` options.
        for verbatim in ("content_type", "empty_200"):
            if text != verbatim and not text.startswith((f"{verbatim}:", f"{verbatim};")):
                continue
            tail = text[len(verbatim) :]
            media, counter = _peel_counter_options(tail.removeprefix(":"), spec)
            if tail.startswith(";") and media:
                raise ValueError(f"{verbatim} does not accept {media!r}: {spec!r}")
            return cls(verbatim, content_type=media or None, **counter)  # type: ignore[arg-type]
        head, *option_texts = text.split(";")
        main, at_sep, position_text = head.partition("@")
        kind, arg_sep, argument = main.partition(":")
        kind = kind.strip()
        argument = argument.strip()
        if kind not in _OPTIONS:
            raise ValueError(f"unknown fault kind {kind!r} in {spec!r}")
        allowed = _OPTIONS[kind]
        values: dict[str, object] = {"kind": kind}

        if kind in _POSITIONED:
            if at_sep:
                values["at"] = _parse_position(position_text.strip(), spec)
        elif at_sep:
            raise ValueError(f"{kind} takes no @position: {spec!r}")

        if kind == "error":
            if not argument:
                raise ValueError(f"error needs an error type: {spec!r}")
            values["error_type"] = argument
        elif kind in _STATUS_KINDS:
            values["status"] = _parse_int(argument, "status", spec)
        elif arg_sep:
            raise ValueError(f"{kind} takes no ':' argument: {spec!r}")

        for option_text in option_texts:
            option_text = option_text.strip()
            if not option_text:
                continue
            name, eq, value = option_text.partition("=")
            name, value = name.strip(), value.strip()
            if name not in allowed and name not in _COUNTER_OPTIONS:
                raise ValueError(f"{kind} does not accept option {name!r}: {spec!r}")
            if not eq:
                raise ValueError(f"option {name!r} needs a value: {spec!r}")
            if name in ("seconds", "every"):
                values[name] = _parse_float(value, name, spec)
            elif name == "times":
                values[name] = _parse_int(value, name, spec)
            elif name == "should_retry":
                if value.lower() not in ("true", "false"):
                    raise ValueError(f"should_retry must be true or false: {spec!r}")
                values[name] = value.lower() == "true"
            elif name == "type":
                values["error_type"] = value
            else:  # retry_after, retry_after_ms, message, code: passed through verbatim
                values[name] = value
        try:
            return cls(**values)  # type: ignore[arg-type]
        except TypeError as exc:  # pragma: no cover - defensive
            raise ValueError(f"invalid fault spec {spec!r}: {exc}") from None

    @property
    def spec(self) -> str:
        """The canonical string form of this fault."""
        counter: list[str] = []
        if self.times is not None:
            counter.append(f"times={self.times}")
        if self.key is not None:
            counter.append(f"key={self.key}")
        return ";".join([self._main_spec(), *counter])

    @property
    def counter_key(self) -> str:
        """What a header fault's ``times`` counter is keyed by: ``key=`` or the spec."""
        return self.key if self.key is not None else self.spec

    def without_counter(self) -> Fault:
        """This fault without its ``times`` and ``key`` options."""
        return replace(self, times=None, key=None)

    def _main_spec(self) -> str:
        kind = self.kind
        if kind == "content_type":
            return f"content_type:{self.content_type}"
        if kind == "empty_200":
            return f"empty_200:{self.content_type}" if self.content_type else "empty_200"
        if kind in ("none", "raw"):
            return kind
        text: str = kind
        if kind == "error":
            text += f":{self.error_type}"
        elif kind in _STATUS_KINDS:
            text += f":{self.status}"
        if kind in _POSITIONED:
            text += f"@{self.at}"
        options: list[str] = []
        if kind == "status" and self.error_type is not None:
            options.append(f"type={self.error_type}")
        if self.message is not None:
            options.append(f"message={self.message}")
        if self.code is not None:
            options.append(f"code={self.code}")
        if self.retry_after is not None:
            options.append(f"retry_after={self.retry_after}")
        if self.retry_after_ms is not None:
            options.append(f"retry_after_ms={self.retry_after_ms}")
        if self.should_retry is not None:
            options.append(f"should_retry={'true' if self.should_retry else 'false'}")
        if kind in ("stall", "stall_pings"):
            options.append(f"seconds={self.seconds:g}")
        if kind == "stall_pings":
            options.append(f"every={self.every:g}")
        return ";".join([text, *options])

    def __str__(self) -> str:
        return self.spec

    def resolved_error_type(self) -> str:
        """The error type sent for ``error`` and ``status`` faults."""
        if self.error_type is not None:
            return self.error_type
        return error_type_for_status(self.status or 500)


def _peel_counter_options(text: str, spec: str) -> tuple[str, dict[str, object]]:
    """Split trailing ``;times=N`` / ``;key=K`` off a verbatim media type."""
    counter: dict[str, object] = {}
    while True:
        rest, sep, last = text.rpartition(";")
        name, eq, value = last.partition("=")
        name = name.strip()
        if not sep or not eq or name not in _COUNTER_OPTIONS or name in counter:
            return text.strip(), counter
        value = value.strip()
        counter[name] = _parse_int(value, name, spec) if name == "times" else value
        text = rest


def _parse_position(text: str, spec: str) -> Position:
    if text == "start":
        return "start"
    return _parse_int(text, "position", spec)


def _parse_int(text: str, what: str, spec: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{what} must be a non-negative integer, got {text!r}: {spec!r}")
    return int(text)


def _parse_float(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}: {spec!r}") from None
    return value
