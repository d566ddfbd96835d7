"""httpcore's exceptions as httpx's, mapped the way httpx's own transports map them.

An httpx transport must raise httpx's exceptions; the pools below streamsafe's
transports raise httpcore's. :func:`httpx_error` gives, for an exception, the
httpx exception httpx's ``HTTPTransport`` would raise in its place: the most
specific httpx class among those whose httpcore counterpart the exception is
an instance of (an ``httpcore.ConnectTimeout`` becomes an
``httpx.ConnectTimeout``, not just an ``httpx.TimeoutException``), built from
the same message; anything that is not httpcore's is left alone (None). The
class chosen for each exception type is remembered, so a mapping costs one
dictionary look-up after the first.
"""

from __future__ import annotations

from typing import Final

import httpcore
import httpx

__all__ = ["httpx_error", "httpx_error_class"]

_PAIRS: Final[tuple[tuple[type[Exception], type[httpx.TransportError]], ...]] = (
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
)

_CHOSEN: dict[type[BaseException], type[httpx.TransportError] | None] = {}


def httpx_error_class(kind: type[BaseException]) -> type[httpx.TransportError] | None:
    """The httpx exception class raised for an exception of type ``kind`` (None: not mapped)."""
    try:
        return _CHOSEN[kind]
    except KeyError:
        pass
    chosen: type[httpx.TransportError] | None = None
    for source, target in _PAIRS:
        if issubclass(kind, source) and (chosen is None or issubclass(target, chosen)):
            chosen = target
    _CHOSEN[kind] = chosen
    return chosen


def httpx_error(exc: BaseException) -> httpx.TransportError | None:
    """The httpx exception to raise (``from exc``) in place of ``exc``; None to re-raise it."""
    kind = httpx_error_class(type(exc))
    return None if kind is None else kind(str(exc))
