"""Differential: httpcore's stock HTTP/1.1 pool and streamsafe's bulk pool, same bytes in.

Every case scripts what a raw-socket server sends back; the same script is
played to ``httpcore.AsyncConnectionPool`` / ``httpcore.ConnectionPool`` and to
:class:`AsyncBulkConnectionPool` / :class:`BulkConnectionPool` (asyncio, trio
and sync). Each request's outcome, ``(status, body)`` or the class of the error
raised, and the number of connections the server saw (so reuse too) must be
the same. The few places where the two legitimately differ are listed in
:data:`DIFFERENCES`, each with the reason and the outcome of each side.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpcore
import pytest

from loopback_server import CLOSE, HEAD_CHUNKED, Reply, ScriptedServer, chunked, sized
from streamsafe._async.connection import AsyncBulkConnectionPool
from streamsafe._sync.connection import BulkConnectionPool

pytestmark = pytest.mark.anyio

Outcome = tuple[int, bytes] | type[Exception]
Result = tuple[list[Outcome], int]  # per request, then connections opened


@dataclass
class Case:
    """Replies in order; requests in order (each a method and an optional body)."""

    replies: list[Reply]
    requests: list[tuple[bytes, bytes | None]] = field(
        default_factory=lambda: [(b"GET", None), (b"GET", None)]
    )
    #: Seconds between requests: lets a FIN or late bytes reach an idle connection
    #: (without it both pools race the server's close the same way).
    pause: float = 0.0

    def server(self) -> ScriptedServer:
        """A fresh server playing this case's replies (the case itself is left as it is)."""
        return ScriptedServer(copy.deepcopy(self.replies))


NEXT = Reply([sized(b"next")])  # the reply to the request after the case's own
HELLO = b"5\r\nhello\r\n"
TIMEOUTS = {"timeout": {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}}


def once(*writes: bytes, pause: float = 0.0) -> list[Reply]:
    """One scripted reply, then :data:`NEXT` for the follow-up request."""
    return [Reply(list(writes), pause=pause), NEXT]


def cut(data: bytes) -> list[Reply]:
    """A reply cut short: ``data``, then the server hangs up."""
    return once(data, CLOSE)


CASES: dict[str, Case] = {
    # -- framing by Content-Length ------------------------------------------
    "length": Case(once(sized(b"hello"))),
    "length-zero": Case(once(sized(b""))),
    "length-short": Case(cut(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")),
    "length-long": Case(once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello")),
    "length-split-writes": Case(once(sized(b"hello")[:-5], b"hel", b"lo", pause=0.01)),
    "head-request": Case(
        once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        requests=[(b"HEAD", None), (b"GET", None)],
    ),
    "no-content-204": Case(once(b"HTTP/1.1 204 No Content\r\n\r\n")),
    # -- close-delimited and HTTP/1.0 ---------------------------------------
    "close-delimited": Case(cut(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")),
    "close-delimited-empty": Case(cut(b"HTTP/1.1 200 OK\r\n\r\n")),
    "connection-close": Case(once(sized(b"bye", b"Connection: close"))),
    "http-1.0-length": Case(once(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold")),
    "http-1.0-keep-alive": Case(
        once(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nold")
    ),
    "http-1.0-until-close": Case(cut(b"HTTP/1.0 200 OK\r\n\r\nold and long")),
    # -- interim responses ----------------------------------------------------
    "100-continue": Case(once(b"HTTP/1.1 100 Continue\r\n\r\n" + sized(b"after"))),
    "1xx-several": Case(
        once(
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n",
            sized(b"after"),
            pause=0.01,
        )
    ),
    "1xx-then-cut": Case(cut(b"HTTP/1.1 100 Continue\r\n\r\n")),
    # -- an early answer while the request body is still going out ------------
    "early-413-upload": Case(
        [Reply([sized(b"too big", b"Connection: close")], early=True), NEXT],
        requests=[(b"POST", b"u" * 2_000_000), (b"GET", None)],
    ),
    "early-413-keep-alive": Case(
        # The server answers and keeps reading (and dropping) the upload; it
        # answers nothing more on that connection, so one request only.
        [Reply([b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"], early=True)],
        requests=[(b"POST", b"u" * 2_000_000)],
    ),
    # -- chunked: valid --------------------------------------------------------
    "chunked": Case(once(HEAD_CHUNKED + chunked(b"hello", b" ", b"world"))),
    "chunked-split-writes": Case(
        once(*(bytes([b]) for b in HEAD_CHUNKED + chunked(b"hello", b"world")), pause=0.0)
    ),
    "chunked-extensions": Case(
        once(HEAD_CHUNKED + b'5;name=value;q="a;b"\r\nhello\r\n0;last=1\r\n\r\n')
    ),
    "chunked-trailers": Case(
        once(HEAD_CHUNKED + HELLO + b"0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n")
    ),
    "chunked-trailer-folded": Case(once(HEAD_CHUNKED + HELLO + b"0\r\nX-A: 1\r\n  more\r\n\r\n")),
    "chunked-padded-sizes": Case(
        once(HEAD_CHUNKED + b"0000000000000000005\r\nhello\r\n00000000000000000000\r\n\r\n")
    ),
    "chunked-extension-after-space": Case(
        once(HEAD_CHUNKED + b"5 ;name=value\r\nhello\r\n0\r\n\r\n")
    ),
    "chunked-extension-bare-cr": Case(once(HEAD_CHUNKED + b"5;a\rb\r\nhello\r\n0\r\n\r\n")),
    "chunked-upper-hex": Case(once(HEAD_CHUNKED + b"A\r\n0123456789\r\n0\r\n\r\n")),
    "chunked-size-trailing-space": Case(once(HEAD_CHUNKED + b"5  \r\nhello\r\n0\r\n\r\n")),
    # -- chunked: LF-only line ends ---------------------------------------------
    "lf-head": Case(once(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")),
    "lf-ending-trailers": Case(once(HEAD_CHUNKED + HELLO + b"0\r\n\n")),
    "lf-trailer-lines": Case(once(HEAD_CHUNKED + HELLO + b"0\r\nX-A: 1\nX-B: 2\n\n")),
    "lf-trailer-then-crlf": Case(once(HEAD_CHUNKED + HELLO + b"0\r\nX-A: 1\n\r\n")),
    "lf-size-line": Case(once(HEAD_CHUNKED + b"5\nhello\r\n0\r\n\r\n")),
    "lf-after-data": Case(once(HEAD_CHUNKED + b"5\r\nhello\n0\r\n\r\n")),
    "lf-last-chunk": Case(once(HEAD_CHUNKED + HELLO + b"0\n\r\n")),
    # -- chunked: malformed ------------------------------------------------------
    "bad-size": Case(once(HEAD_CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n")),
    "size-21-digits": Case(once(HEAD_CHUNKED + b"000000000000000000005\r\nhello\r\n0\r\n\r\n")),
    "size-over-64-bits": Case(cut(HEAD_CHUNKED + b"10000000000000000\r\nhello\r\n")),
    "data-longer-than-size": Case(once(HEAD_CHUNKED + b"3\r\nhello\r\n0\r\n\r\n")),
    "trailer-without-colon": Case(once(HEAD_CHUNKED + HELLO + b"0\r\nno colon\r\n\r\n")),
    # -- chunked: truncated in each part of a chunk ------------------------------
    "cut-before-size": Case(cut(HEAD_CHUNKED)),
    "cut-in-size-line": Case(cut(HEAD_CHUNKED + b"5")),
    "cut-in-extension": Case(cut(HEAD_CHUNKED + b"5;name=va")),
    "cut-before-size-lf": Case(cut(HEAD_CHUNKED + b"5\r")),
    "cut-in-data": Case(cut(HEAD_CHUNKED + b"5\r\nhel")),
    "cut-before-data-crlf": Case(cut(HEAD_CHUNKED + b"5\r\nhello")),
    "cut-in-data-crlf": Case(cut(HEAD_CHUNKED + b"5\r\nhello\r")),
    "cut-after-chunk": Case(cut(HEAD_CHUNKED + HELLO)),
    "cut-in-last-chunk": Case(cut(HEAD_CHUNKED + HELLO + b"0")),
    "cut-after-last-chunk": Case(cut(HEAD_CHUNKED + HELLO + b"0\r\n")),
    "cut-in-trailers": Case(cut(HEAD_CHUNKED + HELLO + b"0\r\nX-Checksum: ab")),
    "cut-before-final-crlf": Case(cut(HEAD_CHUNKED + HELLO + b"0\r\nX-Checksum: abc\r\n")),
    "cut-in-final-crlf": Case(cut(HEAD_CHUNKED + HELLO + b"0\r\n\r")),
    # -- heads -------------------------------------------------------------------
    "no-response": Case(cut(b"")),
    "cut-in-head": Case(cut(b"HTTP/1.1 200 OK\r\nContent-Len")),
    "garbage-head": Case(once(b"garbage\r\n\r\n")),
    "conflicting-lengths": Case(
        once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
    ),
    "unknown-transfer-coding": Case(once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc")),
    # -- whatever follows a response ----------------------------------------------
    "garbage-after-response-later": Case(once(sized(b"ok"), b"garbage", pause=0.1), pause=0.3),
    "garbage-after-response": Case(once(sized(b"ok") + b"garbage")),
    "garbage-after-chunked": Case(once(HEAD_CHUNKED + chunked(b"ok") + b"garbage")),
    "two-responses-at-once": Case([Reply([sized(b"one") + sized(b"two")])]),
    "close-after-response": Case(once(sized(b"ok"), CLOSE), pause=0.2),
}

RemoteError = httpcore.RemoteProtocolError

# Where the two pools legitimately part: (stock outcome, bulk outcome, why).
DIFFERENCES: dict[str, tuple[Result, Result]] = {
    # Bytes past the end of a response, in the same read: h11 keeps them as the
    # start of the next response and the stock pool parks the connection as
    # idle, so the next request reads them as its status line and fails. The
    # bulk connection sees a response with leftovers and closes the connection
    # instead, so the next request goes out on a new one and succeeds.
    "garbage-after-response": (
        ([(200, b"ok"), RemoteError], 1),
        ([(200, b"ok"), (200, b"next")], 2),
    ),
    "garbage-after-chunked": (
        ([(200, b"ok"), RemoteError], 1),
        ([(200, b"ok"), (200, b"next")], 2),
    ),
    "length-long": (
        ([(200, b"he"), RemoteError], 1),
        ([(200, b"he"), (200, b"next")], 2),
    ),
    # RFC 9112 §7.1.1 allows whitespace (BWS) before a chunk extension's ";";
    # h11's chunk-size grammar does not, the bulk framing does.
    "chunked-extension-after-space": (
        ([RemoteError, (200, b"next")], 2),
        ([(200, b"hello"), (200, b"next")], 1),
    ),
    # A bare CR inside a chunk extension: h11's ";.*" lets it through, the bulk
    # framing refuses it (a lone CR is a classic request-smuggling lever, and no
    # extension grammar allows it).
    "chunked-extension-bare-cr": (
        ([(200, b"hello"), (200, b"next")], 1),
        ([RemoteError, (200, b"next")], 2),
    ),
    # Two pipelined responses to one request: the stock pool hands the second
    # to the next request (it was never asked for on that connection, so this
    # is a server bug it happens to paper over); the bulk connection refuses to
    # reuse a connection with bytes left over, and the server has no reply
    # scripted for the new connection, so it hangs up.
    "two-responses-at-once": (
        ([(200, b"one"), (200, b"two")], 1),
        ([(200, b"one"), RemoteError], 2),
    ),
}


async def _async_run(pool_class: Callable[..., Any], case: Case) -> Result:
    outcomes: list[Outcome] = []
    with case.server() as server:
        async with pool_class() as pool:
            for index, (method, content) in enumerate(case.requests):
                if index:
                    await anyio.sleep(case.pause)
                try:
                    response = await pool.request(
                        method, server.url, content=content, extensions=TIMEOUTS
                    )
                    outcomes.append((response.status, response.content))
                except Exception as exc:  # the class is the outcome
                    outcomes.append(type(exc))
    return outcomes, server.connections


def _sync_run(pool_class: Callable[..., Any], case: Case) -> Result:
    outcomes: list[Outcome] = []
    with case.server() as server, pool_class() as pool:
        for index, (method, content) in enumerate(case.requests):
            if index:
                time.sleep(case.pause)
            try:
                response = pool.request(method, server.url, content=content, extensions=TIMEOUTS)
                outcomes.append((response.status, response.content))
            except Exception as exc:  # the class is the outcome
                outcomes.append(type(exc))
    return outcomes, server.connections


def _check(name: str, stock: Result, bulk: Result) -> None:
    if name in DIFFERENCES:
        assert (stock, bulk) == DIFFERENCES[name]
    else:
        assert bulk == stock
        assert httpcore.ReadTimeout not in stock[0], "a case must not end in a timeout"


@pytest.mark.parametrize("name", list(CASES))
async def test_async_pools_agree(name: str) -> None:
    case = CASES[name]
    stock = await _async_run(httpcore.AsyncConnectionPool, case)
    bulk = await _async_run(AsyncBulkConnectionPool, case)
    _check(name, stock, bulk)


@pytest.mark.parametrize("name", list(CASES))
def test_sync_pools_agree(name: str) -> None:
    case = CASES[name]
    stock = _sync_run(httpcore.ConnectionPool, case)
    bulk = _sync_run(BulkConnectionPool, case)
    _check(name, stock, bulk)


# --------------------------------------------------------------------------
# httpcore's ``trace`` extension: the same events through both pools
# --------------------------------------------------------------------------

TRACED: dict[str, Case] = {
    "get": Case(once(HEAD_CHUNKED + chunked(b"hello", b"world")), requests=[(b"GET", None)]),
    "post-reused": Case(
        [Reply([sized(b"one")]), Reply([sized(b"two")])],
        requests=[(b"POST", b"payload"), (b"GET", None)],
    ),
    "cut-body": Case(cut(HEAD_CHUNKED + HELLO), requests=[(b"GET", None)]),
    "bad-head": Case(once(b"garbage\r\n\r\n"), requests=[(b"GET", None)]),
}

Event = tuple[str, object]


def _summary(name: str, info: dict[str, Any]) -> Event:
    """An event as compared: its name and what its info says, stream objects aside."""
    if "exception" in info:
        return name, type(info["exception"])
    if "return_value" in info and name.startswith("http11."):
        return name, info["return_value"]
    return name, sorted(info)


async def _async_trace(pool_class: Callable[..., Any], case: Case) -> list[Event]:
    events: list[Event] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        events.append(_summary(name, info))

    with case.server() as server:
        async with pool_class() as pool:
            for method, content in case.requests:
                extensions = {**TIMEOUTS, "trace": trace}
                with contextlib.suppress(httpcore.RemoteProtocolError):
                    await pool.request(method, server.url, content=content, extensions=extensions)
    return events


def _sync_trace(pool_class: Callable[..., Any], case: Case) -> list[Event]:
    events: list[Event] = []

    def trace(name: str, info: dict[str, Any]) -> None:
        events.append(_summary(name, info))

    with case.server() as server, pool_class() as pool:
        for method, content in case.requests:
            extensions = {**TIMEOUTS, "trace": trace}
            with contextlib.suppress(httpcore.RemoteProtocolError):
                pool.request(method, server.url, content=content, extensions=extensions)
    return events


@pytest.mark.parametrize("name", list(TRACED))
async def test_async_trace_events_agree(name: str) -> None:
    stock = await _async_trace(httpcore.AsyncConnectionPool, TRACED[name])
    bulk = await _async_trace(AsyncBulkConnectionPool, TRACED[name])
    assert ("http11.receive_response_headers.started", ["request"]) in stock
    assert bulk == stock


@pytest.mark.parametrize("name", list(TRACED))
def test_sync_trace_events_agree(name: str) -> None:
    stock = _sync_trace(httpcore.ConnectionPool, TRACED[name])
    bulk = _sync_trace(BulkConnectionPool, TRACED[name])
    assert ("connection.connect_tcp.started", _CONNECT_ARGUMENTS) in stock
    assert bulk == stock


_CONNECT_ARGUMENTS = ["host", "local_address", "port", "socket_options", "timeout"]


def test_trace_events_name_every_step() -> None:
    events = _sync_trace(BulkConnectionPool, TRACED["get"])
    assert [name for name, _ in events] == [
        f"{step}.{when}"
        for step in (
            "connection.connect_tcp",
            "http11.send_request_headers",
            "http11.send_request_body",
            "http11.receive_response_headers",
            "http11.receive_response_body",
            "http11.response_closed",
        )
        for when in ("started", "complete")
    ]
