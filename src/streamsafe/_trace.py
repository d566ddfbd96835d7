"""httpcore's ``trace`` extension events and debug log lines, for connections it does not own.

httpcore's own tracing is private to httpcore; the bulk connections
(:mod:`streamsafe._connection` and its I/O shells) emit the same events
through :class:`Trace`, so users' tracing and httpcore's loggers keep working.
"""

from __future__ import annotations

import inspect
import logging
import types
from typing import Any, Final

import httpcore

__all__ = ["CONNECTION_LOG", "HTTP11_LOG", "Trace"]

CONNECTION_LOG: Final = logging.getLogger("httpcore.connection")
HTTP11_LOG: Final = logging.getLogger("httpcore.http11")


class Trace:
    """httpcore's ``trace`` extension events and debug log lines, for one step.

    Same event names (``<logger suffix>.<step>.started|complete|failed``) and
    info dicts as httpcore's own tracing, which is private to httpcore: the
    extension gets the step's arguments when it starts, then
    ``{"return_value": ...}`` or ``{"exception": ...}``. Use as ``with`` in
    sync code and ``async with`` (an async callback) in async code.
    """

    __slots__ = ("_callback", "_debug", "_info", "_log", "_name", "return_value")

    def __init__(
        self,
        name: str,
        log: logging.Logger,
        request: httpcore.Request | None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self._name = f"{log.name.rsplit('.', 1)[-1]}.{name}"
        self._log = log
        self._callback = None if request is None else request.extensions.get("trace")
        self._debug = log.isEnabledFor(logging.DEBUG)
        self._info = info or {}
        self.return_value: Any = None

    def _debug_line(self, event: str, info: dict[str, Any]) -> None:
        if not info or ("return_value" in info and info["return_value"] is None):
            self._log.debug(event.split(".", 1)[1])
        else:
            details = " ".join(f"{key}={value!r}" for key, value in info.items())
            self._log.debug("%s %s", event.split(".", 1)[1], details)

    def _outcome(self, exc: BaseException | None) -> tuple[str, dict[str, Any]]:
        if exc is None:
            return f"{self._name}.complete", {"return_value": self.return_value}
        return f"{self._name}.failed", {"exception": exc}

    def _sync(self, event: str, info: dict[str, Any]) -> None:
        if self._callback is not None and inspect.iscoroutine(
            result := self._callback(event, info)
        ):
            result.close()
            raise TypeError("a sync client needs a plain function as its trace callback")
        if self._debug:
            self._debug_line(event, info)

    async def _async(self, event: str, info: dict[str, Any]) -> None:
        if self._callback is not None:
            result = self._callback(event, info)
            if not inspect.iscoroutine(result):
                raise TypeError("an async client needs an async function as its trace callback")
            await result
        if self._debug:
            self._debug_line(event, info)

    def __enter__(self) -> Trace:
        if self._callback is not None or self._debug:
            self._sync(f"{self._name}.started", self._info)
        return self

    def __exit__(
        self, exc_type: object, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        if self._callback is not None or self._debug:
            self._sync(*self._outcome(exc))

    async def __aenter__(self) -> Trace:
        if self._callback is not None or self._debug:
            await self._async(f"{self._name}.started", self._info)
        return self

    async def __aexit__(
        self, exc_type: object, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        if self._callback is not None or self._debug:
            await self._async(*self._outcome(exc))
