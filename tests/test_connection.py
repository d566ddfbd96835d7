"""Bulk HTTP/1.1 connections over real loopback sockets (asyncio, trio and sync).

A scripted server answers each request with the next reply of its script,
byte for byte, so framing, reuse and failures are exact. The clients are the
ones streamsafe builds by default.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpcore
import httpx
import pytest
import trustme

from loopback_server import CLOSE, HEAD_CHUNKED, Reply, ScriptedServer, chunked, sized
from streamsafe._async.connection import AsyncBulkConnection, AsyncBulkConnectionPool
from streamsafe._sync.connection import BulkConnection, BulkConnectionPool
from streamsafe.transport import (
    default_async_client,
    default_sync_client,
    has_keepalive,
    keepalive_socket_options,
    keepalive_transport,
    sync_keepalive_transport,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as scripted:
        yield scripted


SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: demo\r\nConnection: upgrade\r\n\r\n"
PIECES = [b"event %d;" % i for i in range(500)]


@contextlib.asynccontextmanager
async def async_client(**kwargs: object) -> AsyncIterator[httpx.AsyncClient]:
    async with default_async_client(timeout=httpx.Timeout(5.0), **kwargs) as client:  # type: ignore[arg-type]
        yield client


def inner_pools(client: httpx.AsyncClient | httpx.Client) -> list[object]:
    sharded = client._transport
    return [inner.pool for inner in sharded.transports]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------
# Where bulk connections are used
# --------------------------------------------------------------------------


async def test_default_async_client_uses_bulk_connections(server: ScriptedServer) -> None:
    server.replies.append(Reply([sized(b"ok")]))
    async with async_client() as client:
        assert all(type(p) is AsyncBulkConnectionPool for p in inner_pools(client))
        response = await client.get(server.url)
        assert response.text == "ok"
        connections = [c for p in inner_pools(client) for c in p.connections]  # type: ignore[attr-defined]
        assert [type(c) for c in connections] == [AsyncBulkConnection]
        assert "HTTP/1.1 (bulk), IDLE, Request Count: 1" in connections[0].info()


def test_default_sync_client_uses_bulk_connections(server: ScriptedServer) -> None:
    server.replies.append(Reply([sized(b"ok")]))
    with default_sync_client(timeout=httpx.Timeout(5.0)) as client:
        assert all(type(p) is BulkConnectionPool for p in inner_pools(client))
        assert client.get(server.url).text == "ok"
        connections = [c for p in inner_pools(client) for c in p.connections]  # type: ignore[attr-defined]
        assert [type(c) for c in connections] == [BulkConnection]


def test_opting_out_and_proxies_keep_httpcore_pools() -> None:
    assert type(keepalive_transport(bulk_reads=False).pool) is httpcore.AsyncConnectionPool
    assert type(sync_keepalive_transport(bulk_reads=False).pool) is httpcore.ConnectionPool
    proxied = keepalive_transport(proxy="http://127.0.0.1:9")
    assert type(proxied.pool) is httpcore.AsyncHTTPProxy
    # HTTP/2 needs httpcore's own connection: the bulk pool hands it over.
    pool = keepalive_transport(http2=True).pool
    origin = httpcore.Origin(b"https", b"example.com", 443)
    assert not isinstance(pool.create_connection(origin), AsyncBulkConnection)


# --------------------------------------------------------------------------
# Bulk reads
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "httpcore"])
async def test_many_chunks_in_one_read_come_up_as_one_piece(
    server: ScriptedServer, bulk: bool
) -> None:
    server.replies.append(Reply([HEAD_CHUNKED + chunked(*PIECES)]))
    transport = keepalive_transport(bulk_reads=bulk)
    client = httpx.AsyncClient(transport=transport, timeout=5.0)
    async with client, client.stream("GET", server.url) as response:
        pieces = [piece async for piece in response.aiter_raw()]
    assert b"".join(pieces) == b"".join(PIECES)
    if bulk:
        assert len(pieces) <= 10  # one per socket read
    else:
        assert len(pieces) == len(PIECES)  # httpcore: one per HTTP chunk


async def test_chunks_split_across_reads(server: ScriptedServer) -> None:
    body = HEAD_CHUNKED + chunked(*PIECES[:50], b"x" * 100_000, *PIECES[50:])
    writes = [body[i : i + 7] for i in range(0, 2002, 7)] + [body[2002:]]
    server.replies.append(Reply(writes, pause=0.0005))
    async with async_client() as client, client.stream("GET", server.url) as response:
        data = b"".join([piece async for piece in response.aiter_raw()])
    assert data == b"".join([*PIECES[:50], b"x" * 100_000, *PIECES[50:]])


# --------------------------------------------------------------------------
# Reuse
# --------------------------------------------------------------------------


async def test_one_connection_carries_sequential_exchanges(server: ScriptedServer) -> None:
    server.replies += [
        Reply([HEAD_CHUNKED + chunked(b"first", b" reply")]),
        Reply([sized(b"second")]),
        Reply([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"]),  # HEAD: no body follows
        Reply([b"HTTP/1.1 204 No Content\r\n\r\n"]),
        Reply([b"HTTP/1.1 100 Continue\r\n\r\n" + sized(b"after 100")]),
        Reply([HEAD_CHUNKED + b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n"]),
    ]
    async with async_client() as client:
        assert (await client.get(server.url)).text == "first reply"
        assert (await client.post(server.url, content=b"payload")).text == "second"
        head = await client.head(server.url)
        assert head.headers["content-length"] == "5"
        assert head.content == b""
        assert (await client.get(server.url)).status_code == 204
        assert (await client.get(server.url)).text == "after 100"
        assert (await client.get(server.url)).text == "hello"
    assert server.connections == 1
    assert server.requests[1].endswith(b"\r\n\r\npayload")


@pytest.mark.parametrize(
    "reply",
    [
        sized(b"bye", b"Connection: close"),
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbye",
        b"HTTP/1.0 200 OK\r\n\r\nbye" + CLOSE,  # framed by the close
    ],
    ids=["connection-close", "http-1.0", "until-close"],
)
async def test_connection_not_reused_when_the_response_says_so(
    server: ScriptedServer, reply: bytes
) -> None:
    head, _, tail = reply.partition(CLOSE)
    server.replies += [Reply([head, CLOSE] if tail == b"" and CLOSE in reply else [reply])]
    server.replies.append(Reply([sized(b"again")]))
    async with async_client() as client:
        assert (await client.get(server.url)).text == "bye"
        assert (await client.get(server.url)).text == "again"
    assert server.connections == 2


async def test_idle_connection_closed_by_the_server_is_replaced(server: ScriptedServer) -> None:
    server.replies += [Reply([sized(b"one"), CLOSE]), Reply([sized(b"two")])]
    async with async_client() as client:
        assert (await client.get(server.url)).text == "one"
        await anyio.sleep(0.2)  # the FIN reaches the idle connection
        assert (await client.get(server.url)).text == "two"
    assert server.connections == 2


async def test_streamed_request_body_is_chunked(server: ScriptedServer) -> None:
    server.replies.append(Reply([sized(b"got it")]))

    async def upload() -> AsyncIterator[bytes]:
        for piece in (b"alpha", b"", b"beta" * 30_000):
            yield piece

    async with async_client() as client:
        assert (await client.post(server.url, content=upload())).text == "got it"
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"5\r\nalpha\r\n" + b"%x\r\n" % 120_000 + b"beta" * 30_000 + b"\r\n0\r\n\r\n"


# --------------------------------------------------------------------------
# Failures: typed, and the connection is never reused after one
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (HEAD_CHUNKED + b"5\r\nhello\r\n" + CLOSE, "incomplete chunked read"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello" + CLOSE, "expected 10"),
        (HEAD_CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n", "invalid chunk size line"),
        (HEAD_CHUNKED + b"5\r\nhelloXX0\r\n\r\n", "not followed by CRLF"),
        (b"garbage\r\n\r\n", "illegal status line"),
        (CLOSE, "Server disconnected"),
    ],
    ids=["cut-chunked", "cut-length", "bad-size", "bad-crlf", "bad-head", "no-head"],
)
async def test_broken_responses_raise_remote_protocol_error(
    server: ScriptedServer, reply: bytes, message: str
) -> None:
    before, _, _ = reply.partition(CLOSE)
    server.replies.append(Reply([before, CLOSE] if before else [CLOSE]))
    server.replies.append(Reply([sized(b"fresh")]))
    async with async_client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match=message):
            await client.get(server.url)
        assert (await client.get(server.url)).text == "fresh"
    assert server.connections == 2


async def test_stall_mid_body_is_a_read_timeout(server: ScriptedServer) -> None:
    server.replies.append(Reply([HEAD_CHUNKED + b"5\r\nhello\r\n", b"0\r\n\r\n"], pause=1.0))
    timeout = httpx.Timeout(5.0, read=0.3)
    async with default_async_client(timeout=timeout) as client:
        started = time.monotonic()
        async with client.stream("GET", server.url) as response:
            with pytest.raises(httpx.ReadTimeout):
                await response.aread()
        assert time.monotonic() - started < 2.0


async def test_cancelled_mid_body_closes_the_connection(server: ScriptedServer) -> None:
    server.replies.append(Reply([HEAD_CHUNKED + b"5\r\nhello\r\n", b"0\r\n\r\n"], pause=1.0))
    server.replies.append(Reply([sized(b"next")]))
    async with async_client() as client:
        with anyio.move_on_after(0.3) as scope:
            async with client.stream("GET", server.url) as response:
                await response.aread()
        assert scope.cancelled_caught
        connections = [c for p in inner_pools(client) for c in p.connections]  # type: ignore[attr-defined]
        assert connections == []  # closed and dropped, not parked as idle
        assert (await client.get(server.url)).text == "next"
    assert server.connections == 2


# --------------------------------------------------------------------------
# Framing found by a real-server probe (regressions; h11 accepts both)
# --------------------------------------------------------------------------

PADDED = HEAD_CHUNKED + b"0000000000000000005\r\nhello\r\n00000000000000000000\r\n\r\n"
BARE_LF_END = HEAD_CHUNKED + b"5\r\nhello\r\n0\r\nX-Trailer: 1\n\n"


@pytest.mark.parametrize("reply", [PADDED, BARE_LF_END], ids=["20-digit-sizes", "bare-lf-end"])
async def test_padded_sizes_and_bare_lf_trailers_complete_the_body(
    server: ScriptedServer, reply: bytes
) -> None:
    # The server keeps the connection open: a body that is not seen as
    # complete would wait for the read timeout instead.
    server.replies += [Reply([reply]), Reply([sized(b"again")])]
    async with default_async_client(timeout=httpx.Timeout(5.0, read=2.0)) as client:
        started = time.monotonic()
        assert (await client.get(server.url)).text == "hello"
        assert (await client.get(server.url)).text == "again"
        assert time.monotonic() - started < 1.5
    assert server.connections == 1


@pytest.mark.parametrize("reply", [PADDED, BARE_LF_END], ids=["20-digit-sizes", "bare-lf-end"])
def test_sync_padded_sizes_and_bare_lf_trailers_complete_the_body(
    server: ScriptedServer, reply: bytes
) -> None:
    server.replies += [Reply([reply]), Reply([sized(b"again")])]
    with default_sync_client(timeout=httpx.Timeout(5.0, read=2.0)) as client:
        started = time.monotonic()
        with client.stream("GET", server.url) as response:
            assert response.read() == b"hello"
        assert client.get(server.url).text == "again"
        assert time.monotonic() - started < 1.5
    assert server.connections == 1


class _FailingWrite(httpcore.AsyncNetworkStream, httpcore.NetworkStream):
    """A socket whose write of a POST gets only the request head out, then fails."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _split(self, buffer: bytes) -> bytes | None:
        if not buffer.startswith(b"POST"):
            return None
        return buffer[: buffer.index(b"\r\n\r\n") + 4]

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # type: ignore[override]  # noqa: ASYNC109
        data: bytes = await self._stream.read(max_bytes, timeout)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # type: ignore[override]  # noqa: ASYNC109
        head = self._split(buffer)
        await self._stream.write(buffer if head is None else head, timeout)
        if head is not None:
            raise httpcore.WriteError("connection reset (simulated)")

    async def aclose(self) -> None:
        await self._stream.aclose()

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _SyncFailingWrite(_FailingWrite):
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # type: ignore[override]
        data: bytes = self._stream.read(max_bytes, timeout)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:  # type: ignore[override]
        head = self._split(buffer)
        self._stream.write(buffer if head is None else head, timeout)
        if head is not None:
            raise httpcore.WriteError("connection reset (simulated)")

    def close(self) -> None:
        self._stream.close()


class _FailingWriteBackend(httpcore.AnyIOBackend):
    async def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return _FailingWrite(await super().connect_tcp(*args, **kwargs))


class _SyncFailingWriteBackend(httpcore.SyncBackend):
    def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return _SyncFailingWrite(super().connect_tcp(*args, **kwargs))


# The server answers a complete, keep-alive 413 as soon as the head is in and
# leaves the connection open, so nothing but the failed write tells the
# connection it cannot be reused.
EARLY_413 = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!"


async def test_failed_last_write_leaves_the_connection_closed(server: ScriptedServer) -> None:
    # Regression: the request was marked done before its last batch was
    # written, so the connection went back to the pool as idle.
    server.replies += [Reply([EARLY_413], early=True), Reply([sized(b"fresh")])]
    async with AsyncBulkConnectionPool(network_backend=_FailingWriteBackend()) as pool:
        response = await pool.request("POST", server.url, content=b"x" * 100)
        assert (response.status, response.content) == (413, b"too big!")
        assert pool.connections == []  # closed, not parked as idle
        assert (await pool.request("GET", server.url)).content == b"fresh"
    assert server.connections == 2


def test_sync_failed_last_write_leaves_the_connection_closed(server: ScriptedServer) -> None:
    server.replies += [Reply([EARLY_413], early=True), Reply([sized(b"fresh")])]
    with BulkConnectionPool(network_backend=_SyncFailingWriteBackend()) as pool:
        response = pool.request("POST", server.url, content=b"x" * 100)
        assert (response.status, response.content) == (413, b"too big!")
        assert pool.connections == []
        assert pool.request("GET", server.url).content == b"fresh"
    assert server.connections == 2


# --------------------------------------------------------------------------
# Protocol switch, TLS, keep-alive
# --------------------------------------------------------------------------


async def test_switching_protocols_hands_over_the_socket(server: ScriptedServer) -> None:
    server.replies.append(
        Reply(
            [
                SWITCH + b"early",
                b"late",
            ],
            pause=0.1,
        )
    )
    headers = {"Upgrade": "demo", "Connection": "upgrade"}
    async with (
        async_client() as client,
        client.stream("GET", server.url, headers=headers) as response,
    ):
        assert response.status_code == 101
        stream = response.extensions["network_stream"]
        assert await stream.read(1024) == b"early"
        assert await stream.read(1024) == b"late"


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


async def test_tls_connection_is_bulk_and_keeps_alive(certificate_authority: trustme.CA) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    certificate_authority.configure_trust(client_context)
    replies = [Reply([HEAD_CHUNKED + chunked(*PIECES)]), Reply([sized(b"again")])]
    with ScriptedServer(replies, tls=server_context) as scripted:
        async with async_client(verify=client_context) as client:
            response = await client.get(scripted.url)
            assert response.content == b"".join(PIECES)
            assert response.http_version == "HTTP/1.1"
            stream = response.extensions["network_stream"]
            assert stream.get_extra_info("ssl_object").selected_alpn_protocol() in (
                None,
                "http/1.1",
            )
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
            assert (await client.get(scripted.url)).text == "again"
    assert scripted.connections == 1


async def test_bulk_connection_sockets_have_keepalive(server: ScriptedServer) -> None:
    server.replies.append(Reply([sized(b"ok")]))
    async with async_client(keepalive_idle=41, keepalive_interval=9, keepalive_count=4) as client:
        response = await client.get(server.url)
        sock = response.extensions["network_stream"].get_extra_info("socket")
        for level, name, value in keepalive_socket_options(41, 9, 4):
            assert sock.getsockopt(level, name) == value


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets here")
async def test_unix_socket_origin(tmp_path: Path) -> None:
    replies = [Reply([HEAD_CHUNKED + chunked(*PIECES)]), Reply([sized(b"again")])]
    with ScriptedServer(replies, unix_path=str(tmp_path / "api.sock")) as scripted:
        transport = keepalive_transport(uds=scripted.unix_path)
        assert type(transport.pool) is AsyncBulkConnectionPool
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
            assert (await client.get("http://api/v1")).content == b"".join(PIECES)
            assert (await client.get("http://api/v1")).text == "again"
            connections = transport.pool.connections
            assert [type(c) for c in connections] == [AsyncBulkConnection]
    assert scripted.connections == 1
    assert scripted.requests[0].startswith(b"GET /v1 HTTP/1.1\r\n")


def test_unix_socket_transports_need_no_keepalive(tmp_path: Path) -> None:
    # TCP keep-alive options on a Unix socket fail to set (EOPNOTSUPP): they are
    # left out, and a Unix-socket client does not count as missing keep-alive.
    path = str(tmp_path / "api.sock")
    transport = sync_keepalive_transport(uds=path, socket_options=[(1, 7, 65536)])
    assert transport.socket_options == ((1, 7, 65536),)
    assert has_keepalive(httpx.Client(transport=transport))
    assert has_keepalive(httpx.Client(transport=httpx.HTTPTransport(uds=path)))
    assert not has_keepalive(httpx.Client(transport=httpx.HTTPTransport()))


class _RefusingBackend(httpcore.AsyncNetworkBackend, httpcore.NetworkBackend):
    """A backend whose every connect fails; counts attempts and pauses."""

    def __init__(self) -> None:
        self.attempts: list[dict[str, object]] = []
        self.pauses: list[float] = []

    def _refuse(self, **arguments: object) -> Any:
        self.attempts.append(arguments)
        raise httpcore.ConnectError("refused")

    async def connect_tcp(self, host: str, port: int, **arguments: Any) -> Any:  # type: ignore[override]
        return self._refuse(host=host, port=port, **arguments)

    async def sleep(self, seconds: float) -> None:  # type: ignore[override]
        self.pauses.append(seconds)


class _SyncRefusingBackend(_RefusingBackend):
    def connect_tcp(self, host: str, port: int, **arguments: Any) -> Any:  # type: ignore[override]
        return self._refuse(host=host, port=port, **arguments)

    def sleep(self, seconds: float) -> None:  # type: ignore[override]
        self.pauses.append(seconds)


async def test_connect_retries_follow_the_pool_setting() -> None:
    backend = _RefusingBackend()
    options = keepalive_socket_options()
    pool = AsyncBulkConnectionPool(retries=3, network_backend=backend, socket_options=options)
    with pytest.raises(httpcore.ConnectError):
        await pool.request("GET", "http://example.invalid:8080/")
    assert len(backend.attempts) == 4
    assert backend.pauses == [0.0, 0.5, 1.0]
    first = backend.attempts[0]
    assert (first["host"], first["port"], first["socket_options"]) == (
        "example.invalid",
        8080,
        options,
    )
    assert pool.connections == []  # the failed connection is dropped, not reused


def test_sync_connect_retries_follow_the_pool_setting() -> None:
    backend = _SyncRefusingBackend()
    pool = BulkConnectionPool(retries=1, network_backend=backend)
    with pytest.raises(httpcore.ConnectError):
        pool.request("GET", "http://example.invalid/")
    assert len(backend.attempts) == 2
    assert backend.pauses == [0.0]
    assert pool.connections == []


# --------------------------------------------------------------------------
# The sync twin
# --------------------------------------------------------------------------


def test_sync_bulk_reads_reuse_and_failures(server: ScriptedServer) -> None:
    server.replies += [
        Reply([HEAD_CHUNKED + chunked(*PIECES)]),
        Reply([sized(b"second")]),
        Reply([HEAD_CHUNKED + b"5\r\nhello\r\n", CLOSE]),
        Reply([HEAD_CHUNKED + b"5\r\nhello\r\n", b"0\r\n\r\n"], pause=1.0),
        Reply([sized(b"last")]),
    ]
    timeout = httpx.Timeout(5.0, read=0.3)
    with default_sync_client(timeout=timeout) as client:
        with client.stream("GET", server.url) as response:
            pieces = list(response.iter_raw())
        assert b"".join(pieces) == b"".join(PIECES)
        assert len(pieces) <= 10
        assert client.get(server.url).text == "second"
        assert server.connections == 1
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            client.get(server.url)
        with pytest.raises(httpx.ReadTimeout):
            client.get(server.url)
        assert client.get(server.url).text == "last"
    assert server.connections == 3


def test_sync_switching_protocols(server: ScriptedServer) -> None:
    server.replies.append(Reply([SWITCH + b"early"]))
    headers = {"Upgrade": "demo", "Connection": "upgrade"}
    with (
        default_sync_client() as client,
        client.stream("GET", server.url, headers=headers) as response,
    ):
        assert response.status_code == 101
        assert response.extensions["network_stream"].read(1024) == b"early"
