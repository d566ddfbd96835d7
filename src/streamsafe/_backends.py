"""Network backends that add socket options to every connection they open.

httpcore opens sockets through a *network backend* it takes as the public
``network_backend=`` argument of its pools. :class:`AsyncOptionsBackend` and
:class:`OptionsBackend` wrap httpcore's own backends (trio's under trio,
AnyIO's under asyncio, the blocking one for sync code, chosen as httpcore
chooses) and apply a fixed list of ``(level, option, value)`` socket options
to every TCP and Unix-socket connect, before any options the caller of
``connect_*`` passes. Handing one to every pool is how streamsafe gets TCP
keep-alive on all its sockets, including those httpcore's proxy pools open to
the proxy (httpcore 1.0 stores a proxy pool's ``socket_options`` without
applying them). Only connects go through the wrapper: the streams it returns
are httpcore's own, so reads and writes cost nothing extra.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore

__all__ = ["AsyncOptionsBackend", "OptionsBackend"]


def _running_trio() -> bool:
    """Whether the calling task runs under trio (without importing trio otherwise)."""
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


class _OptionsCore:
    def __init__(self, options: Sequence[Any] = ()) -> None:
        self.options: tuple[Any, ...] = tuple(options)
        """The options applied to every socket, in order."""

    def _with(self, extra: Iterable[Any] | None) -> list[Any]:
        return [*self.options, *(extra or ())]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} options={list(self.options)!r}>"


class AsyncOptionsBackend(_OptionsCore, httpcore.AsyncNetworkBackend):
    """An async network backend that applies ``options`` to every socket it opens."""

    def __init__(
        self, options: Sequence[Any] = (), inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        super().__init__(options)
        self.inner = inner
        """The backend that opens the sockets; None: httpcore's for the running event loop."""
        self._trio: httpcore.AsyncNetworkBackend | None = None
        self._anyio: httpcore.AsyncNetworkBackend | None = None

    def _inner(self) -> httpcore.AsyncNetworkBackend:
        if self.inner is not None:
            return self.inner
        if _running_trio():
            if self._trio is None:
                self._trio = httpcore.TrioBackend()
            return self._trio
        if self._anyio is None:
            self._anyio = httpcore.AnyIOBackend()
        return self._anyio

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner().connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=self._with(socket_options),
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner().connect_unix_socket(
            path, timeout=timeout, socket_options=self._with(socket_options)
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner().sleep(seconds)


class OptionsBackend(_OptionsCore, httpcore.NetworkBackend):
    """Synchronous twin of :class:`AsyncOptionsBackend` (over httpcore's ``SyncBackend``)."""

    def __init__(
        self, options: Sequence[Any] = (), inner: httpcore.NetworkBackend | None = None
    ) -> None:
        super().__init__(options)
        self.inner: httpcore.NetworkBackend = httpcore.SyncBackend() if inner is None else inner
        """The backend that opens the sockets (default: httpcore's ``SyncBackend``)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return self.inner.connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=self._with(socket_options),
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return self.inner.connect_unix_socket(
            path, timeout=timeout, socket_options=self._with(socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)
