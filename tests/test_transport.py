from __future__ import annotations

import contextlib
import math
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpcore
import httpx
import pytest

from loopback_server import ScriptedServer, always_ok
from streamsafe.transport import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_LIMITS,
    DEFAULT_READ_TIMEOUT,
    KeepaliveTransport,
    ShardedAsyncTransport,
    ShardedTransport,
    default_async_client,
    default_sync_client,
    environment_proxy_routes,
    has_keepalive,
    keepalive_socket_options,
    keepalive_transport,
    sync_keepalive_transport,
)

pytestmark = pytest.mark.anyio

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from an environment without proxy settings."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)


# --------------------------------------------------------------------------
# The origin and the proxy: loopback servers answering every request with 200
# --------------------------------------------------------------------------


@pytest.fixture
def origin() -> Iterator[ScriptedServer]:
    with ScriptedServer(respond=always_ok(b"direct"), host="127.0.0.1") as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[ScriptedServer]:
    with ScriptedServer(respond=always_ok(b"via-proxy"), host="127.0.0.1") as server:
        yield server


def network_socket(response: httpx.Response) -> Any:
    """The socket the response arrived on (a socket, asyncio or trio socket object)."""
    sock = response.extensions["network_stream"].get_extra_info("socket")
    assert sock is not None
    return sock


def assert_keepalive(sock: Any, idle: int, interval: int, count: int) -> None:
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    for level, name, value in keepalive_socket_options(idle, interval, count)[1:]:
        assert sock.getsockopt(level, name) == value
    if sys.platform.startswith("linux"):
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == idle
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == interval
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == count


KEEPALIVE = {"keepalive_idle": 37, "keepalive_interval": 7, "keepalive_count": 3}


# --------------------------------------------------------------------------
# (a) keep-alive on real sockets
# --------------------------------------------------------------------------


async def test_async_default_client_socket_has_keepalive(origin: ScriptedServer) -> None:
    async with (
        default_async_client(**KEEPALIVE) as client,
        client.stream("GET", origin.url + "/a") as response,
    ):
        assert await response.aread() == b"direct"
        assert_keepalive(network_socket(response), 37, 7, 3)
    assert origin.request_lines == ["GET /a HTTP/1.1"]


async def test_async_default_client_uses_default_keepalive(origin: ScriptedServer) -> None:
    async with default_async_client() as client, client.stream("GET", origin.url) as response:
        assert_keepalive(network_socket(response), 60, 10, 5)


def test_sync_default_client_socket_has_keepalive(origin: ScriptedServer) -> None:
    with (
        default_sync_client(**KEEPALIVE) as client,
        client.stream("GET", origin.url + "/s") as response,
    ):
        assert response.read() == b"direct"
        assert_keepalive(network_socket(response), 37, 7, 3)
    assert origin.request_lines == ["GET /s HTTP/1.1"]


async def test_keepalive_transport_socket(origin: ScriptedServer) -> None:
    transport = keepalive_transport(idle=20, interval=4, count=2)
    async with (
        httpx.AsyncClient(transport=transport) as client,
        client.stream("GET", origin.url) as response,
    ):
        assert_keepalive(network_socket(response), 20, 4, 2)


def test_sync_keepalive_transport_socket(origin: ScriptedServer) -> None:
    transport = sync_keepalive_transport(idle=21, interval=5, count=4)
    with httpx.Client(transport=transport) as client, client.stream("GET", origin.url) as response:
        assert_keepalive(network_socket(response), 21, 5, 4)


def test_default_timeout() -> None:
    with default_sync_client() as client:
        assert client.timeout == httpx.Timeout(
            connect=DEFAULT_CONNECT_TIMEOUT,
            read=DEFAULT_READ_TIMEOUT,
            write=DEFAULT_READ_TIMEOUT,
            pool=DEFAULT_READ_TIMEOUT,
        )
        assert (client.timeout.connect, client.timeout.read) == (5.0, 600.0)
    custom = httpx.Timeout(3.0)
    with default_sync_client(timeout=custom) as client:
        assert client.timeout == custom


# --------------------------------------------------------------------------
# (b) keepalive_socket_options, per platform
# --------------------------------------------------------------------------


def test_options_linux() -> None:
    assert keepalive_socket_options(60, 10, 5, platform="linux") == [
        (1, 9, 1),  # SOL_SOCKET, SO_KEEPALIVE
        (6, 4, 60),  # IPPROTO_TCP, TCP_KEEPIDLE
        (6, 5, 10),  # TCP_KEEPINTVL
        (6, 6, 5),  # TCP_KEEPCNT
    ]


def test_options_darwin_sets_idle_time() -> None:
    # TCP_KEEPALIVE (0x10) is macOS's idle time: without it the first probe
    # waits two hours whatever the interval says.
    assert keepalive_socket_options(45, 9, 4, platform="darwin") == [
        (0xFFFF, 0x8, 1),
        (6, 0x10, 45),
        (6, 0x101, 9),
        (6, 0x102, 4),
    ]


def test_options_windows() -> None:
    assert keepalive_socket_options(30, 3, 7, platform="win32") == [
        (0xFFFF, 0x8, 1),
        (6, 3, 30),  # TCP_KEEPIDLE
        (6, 17, 3),  # TCP_KEEPINTVL
        (6, 16, 7),  # TCP_KEEPCNT
    ]


def test_options_running_platform_uses_socket_constants() -> None:
    options = keepalive_socket_options(60, 10, 5)
    assert options[0] == (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if sys.platform.startswith("linux"):
        assert options[1:] == [
            (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60),
            (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10),
            (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5),
        ]


def test_options_darwin_without_python_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    # Running on a macOS whose Python lacks socket.TCP_KEEPALIVE: use 0x10.
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.delattr(socket, "TCP_KEEPALIVE", raising=False)
    options = keepalive_socket_options(50, 10, 5, platform="darwin")
    assert options[0] == (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    assert (socket.IPPROTO_TCP, 0x10, 50) in options


def test_options_old_windows_only_existing_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # CPython removes TCP_KEEPIDLE/INTVL/CNT on Windows releases that reject
    # them: then only SO_KEEPALIVE may be set (no guessed numbers).
    monkeypatch.setattr(sys, "platform", "win32")
    for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"):
        monkeypatch.delattr(socket, name, raising=False)
    assert keepalive_socket_options(60, 10, 5, platform="win32") == [
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    ]
    monkeypatch.setattr(socket, "TCP_KEEPIDLE", 3, raising=False)
    assert keepalive_socket_options(60, 10, 5, platform="win32") == [
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, 3, 60),
    ]


def test_options_round_up_to_whole_seconds() -> None:
    assert keepalive_socket_options(0.2, 59.5, 1, platform="linux")[1:] == [
        (6, 4, 1),
        (6, 5, 60),
        (6, 6, 1),
    ]


@pytest.mark.parametrize(
    ("idle", "interval", "count", "message"),
    [
        (0, 10, 5, "idle must be a positive number"),
        (-1, 10, 5, "idle must be a positive number"),
        (math.nan, 10, 5, "idle must be a positive number"),
        (math.inf, 10, 5, "idle must be a positive number"),
        ("60", 10, 5, "idle must be a positive number"),
        (True, 10, 5, "idle must be a positive number"),
        (40000, 10, 5, "idle must be at most 32767"),
        (60, 0, 5, "interval must be a positive number"),
        (60, None, 5, "interval must be a positive number"),
        (60, 10, 0, "count must be between 1 and 127"),
        (60, 10, 128, "count must be between 1 and 127"),
        (60, 10, 2.5, "count must be a positive integer"),
    ],
)
def test_options_validation(idle: Any, interval: Any, count: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        keepalive_socket_options(idle, interval, count)
    with pytest.raises(ValueError, match=message):
        keepalive_transport(idle=idle, interval=interval, count=count)
    with pytest.raises(ValueError, match=message):
        sync_keepalive_transport(idle=idle, interval=interval, count=count)


def test_options_unknown_platform() -> None:
    with pytest.raises(ValueError, match="no keep-alive option table"):
        keepalive_socket_options(60, 10, 5, platform="plan9")


def test_extra_socket_options_are_kept() -> None:
    nodelay = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = sync_keepalive_transport(socket_options=[nodelay])
    options = list(transport.socket_options)
    assert options[-1] == nodelay
    assert options[:-1] == keepalive_socket_options()


# --------------------------------------------------------------------------
# (c) proxies
# --------------------------------------------------------------------------


async def test_env_proxy_is_used_with_keepalive(
    monkeypatch: pytest.MonkeyPatch, proxy: ScriptedServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with default_async_client(**KEEPALIVE) as client:
        assert has_keepalive(client)
        async with client.stream("GET", "http://upstream.invalid/v1/messages") as response:
            assert await response.aread() == b"via-proxy"
            sock = network_socket(response)
            assert sock.getpeername()[1] == proxy.port
            assert_keepalive(sock, 37, 7, 3)
    assert proxy.request_lines == ["GET http://upstream.invalid/v1/messages HTTP/1.1"]


class _RecordingBackend(httpcore.AsyncNetworkBackend):
    """Reads the keep-alive options back from each socket right after connecting."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner
        self.seen: list[list[int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        sock = stream.get_extra_info("socket")
        self.seen.append([sock.getsockopt(level, name) for level, name, _ in socket_options])
        return stream

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


async def test_https_tunnel_through_proxy_has_keepalive(
    monkeypatch: pytest.MonkeyPatch, proxy: ScriptedServer
) -> None:
    # CONNECT tunnels are opened by a different httpcore class than forwarded
    # requests; the socket to the proxy must get keep-alive all the same.
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    async with default_async_client(shards=1, **KEEPALIVE) as client:
        assert has_keepalive(client)
        (route,) = client._mounts.values()
        assert isinstance(route, ShardedAsyncTransport)
        backend = route.transports[0].network_backend  # type: ignore[attr-defined]
        recorder = _RecordingBackend(httpcore.AnyIOBackend())
        backend.inner = recorder
        # The stand-in proxy accepts the CONNECT, then cannot speak TLS.
        with pytest.raises(httpx.HTTPError):
            await client.get("https://upstream.invalid/v1/messages")
    assert proxy.request_lines[0] == "CONNECT upstream.invalid:443 HTTP/1.1"
    expected = [value for _, _, value in keepalive_socket_options(37, 7, 3)]
    assert len(recorder.seen) == 1
    assert [bool(v) for v in recorder.seen[0][:1]] == [True]
    assert recorder.seen[0][1:] == expected[1:]


def test_plain_httpx_proxy_transport_is_not_trusted(proxy: ScriptedServer) -> None:
    # httpcore 1.0 keeps socket_options on its proxy pool but never applies
    # them to proxy connections: has_keepalive must not be fooled.
    options = keepalive_socket_options()
    transport = httpx.HTTPTransport(proxy=proxy.url, socket_options=options)
    with httpx.Client(transport=transport) as client:
        assert not has_keepalive(client)
    with httpx.Client(transport=sync_keepalive_transport(proxy=proxy.url)) as client:
        assert has_keepalive(client)
        with client.stream("GET", "http://upstream.invalid/k") as response:
            assert_keepalive(network_socket(response), 60, 10, 5)


async def test_no_proxy_host_goes_direct(
    monkeypatch: pytest.MonkeyPatch, proxy: ScriptedServer, origin: ScriptedServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost, 127.0.0.1")
    async with default_async_client(**KEEPALIVE) as client:
        async with client.stream("GET", origin.url + "/direct") as response:
            assert await response.aread() == b"direct"
            assert_keepalive(network_socket(response), 37, 7, 3)
        # Another host still goes through the proxy.
        response2 = await client.get("http://upstream.invalid/p")
        assert response2.content == b"via-proxy"
    assert origin.request_lines == ["GET /direct HTTP/1.1"]
    assert proxy.request_lines == ["GET http://upstream.invalid/p HTTP/1.1"]


def test_sync_env_proxy_is_used(monkeypatch: pytest.MonkeyPatch, proxy: ScriptedServer) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    with default_sync_client(**KEEPALIVE) as client:
        assert has_keepalive(client)
        with client.stream("GET", "http://upstream.invalid/s") as response:
            assert response.read() == b"via-proxy"
            assert_keepalive(network_socket(response), 37, 7, 3)
    assert proxy.request_lines == ["GET http://upstream.invalid/s HTTP/1.1"]


async def test_explicit_proxy_overrides_environment(
    monkeypatch: pytest.MonkeyPatch, proxy: ScriptedServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would fail if used
    async with default_async_client(proxy=proxy.url) as client:
        assert has_keepalive(client)
        response = await client.get("http://upstream.invalid/e")
        assert response.content == b"via-proxy"
    assert proxy.request_lines == ["GET http://upstream.invalid/e HTTP/1.1"]


async def test_trust_env_false_ignores_proxy_variables(
    monkeypatch: pytest.MonkeyPatch, origin: ScriptedServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    async with default_async_client(trust_env=False) as client:
        response = await client.get(origin.url + "/t")
        assert response.content == b"direct"


def test_transport_argument_is_refused() -> None:
    with pytest.raises(TypeError, match="builds its own transports"):
        default_async_client(transport=keepalive_transport())
    with pytest.raises(TypeError, match="builds its own transports"):
        default_sync_client(transport=sync_keepalive_transport())


def _proxy_of(transport: Any) -> tuple[bytes, bytes, int | None] | None:
    """Which proxy a route uses (None: direct), for plain and sharded transports."""
    if isinstance(transport, ShardedTransport):
        transport = transport.transports[0]
    if isinstance(transport, KeepaliveTransport):
        proxy = transport.settings.proxy
        if proxy is None:
            return None
        return (proxy.url.raw_scheme, proxy.url.raw_host, proxy.url.port)
    url = getattr(transport._pool, "_proxy_url", None)  # a plain httpx transport
    return None if url is None else (url.scheme, url.host, url.port)


PROXY_ENVIRONMENTS: list[dict[str, str]] = [
    {},
    {"HTTP_PROXY": "http://p1.test:8080"},
    {"HTTPS_PROXY": "p2.test:3128"},
    {"http_proxy": "http://lower.test:1", "HTTPS_PROXY": "http://upper.test:2"},
    {"ALL_PROXY": "http://p3.test:1", "NO_PROXY": "example.com"},
    {
        "HTTP_PROXY": "http://p1.test:1",
        "HTTPS_PROXY": "http://p2.test:2",
        "NO_PROXY": ".example.com, localhost,127.0.0.1,::1, http://skip.test,10.0.0.0/8",
    },
    {"HTTP_PROXY": "http://p1.test:1", "NO_PROXY": "*"},
    {"HTTP_PROXY": "http://p1.test:1", "NO_PROXY": "a.test,*"},
    {"HTTPS_PROXY": "http://p2.test:2", "NO_PROXY": "https://only-https.test:8443"},
]

ROUTED_URLS = [
    "http://example.com/",
    "https://example.com/",
    "http://www.example.com/x",
    "https://api.example.com/",
    "http://wwwexample.com/",
    "http://localhost:8000/",
    "http://127.0.0.1/",
    "http://[::1]:80/",
    "http://10.0.0.0/",
    "http://10.1.2.3/",
    "http://skip.test/",
    "https://skip.test/",
    "http://a.test/",
    "https://only-https.test:8443/",
    "https://only-https.test/",
    "http://other.test/",
    "https://other.test:8443/",
]


@pytest.mark.parametrize("environment", PROXY_ENVIRONMENTS)
def test_proxy_routing_matches_httpx(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    httpx_utils = pytest.importorskip("httpx._utils")
    if hasattr(httpx_utils, "get_environment_proxies"):
        assert environment_proxy_routes() == httpx_utils.get_environment_proxies()
    with httpx.Client() as plain, default_sync_client(shards=1) as ours:
        assert has_keepalive(ours)
        for url in ROUTED_URLS:
            expected = _proxy_of(plain._transport_for_url(httpx.URL(url)))
            assert _proxy_of(ours._transport_for_url(httpx.URL(url))) == expected, url


def test_user_mounts_take_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://p1.test:1")
    mock = httpx.MockTransport(lambda request: httpx.Response(204))
    with default_sync_client(mounts={"http://": mock}) as client:
        assert client.get("http://anything.test/").status_code == 204
        assert not has_keepalive(client)  # one route has no keep-alive


# --------------------------------------------------------------------------
# (d) sharded transport
# --------------------------------------------------------------------------


class _Body(httpx.AsyncByteStream, httpx.SyncByteStream):
    """A response body that is streamed (not pre-read like ``content=`` bodies)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data


def _recording_mocks(
    count: int, calls: list[int], handler: Callable[[httpx.Request], Any] | None = None
) -> list[httpx.MockTransport]:
    def make(index: int) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> Any:
            calls.append(index)
            if handler is not None:
                return handler(request)
            return httpx.Response(200, stream=_Body(b"shard %d" % index))

        return httpx.MockTransport(handle)

    return [make(index) for index in range(count)]


async def test_sharded_spreads_concurrent_requests_and_releases() -> None:
    calls: list[int] = []
    sharded = ShardedAsyncTransport.from_transports(_recording_mocks(4, calls))
    opened = 0
    all_open = anyio.Event()
    release = anyio.Event()

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal opened
        async with client.stream("GET", "http://t.test/") as response:
            opened += 1
            if opened == 8:
                all_open.set()
            await release.wait()
            await response.aread()

    async with httpx.AsyncClient(transport=sharded) as client:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one, client)
            await all_open.wait()
            assert sharded.in_flight == (2, 2, 2, 2)
            assert sorted(calls) == [0, 0, 1, 1, 2, 2, 3, 3]
            release.set()
        assert sharded.in_flight == (0, 0, 0, 0)


async def test_sharded_closing_unread_response_releases() -> None:
    calls: list[int] = []
    sharded = ShardedAsyncTransport.from_transports(_recording_mocks(3, calls))
    async with httpx.AsyncClient(transport=sharded) as client:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(5):
                await stack.enter_async_context(client.stream("GET", "http://t.test/"))
            assert sharded.in_flight == (2, 2, 1)
        assert sharded.in_flight == (0, 0, 0)
        # Non-streamed requests release as soon as the body is read.
        for _ in range(5):
            await client.get("http://t.test/")
        assert sharded.in_flight == (0, 0, 0)


async def test_sharded_pre_read_response_releases_at_once() -> None:
    # A response built from bytes is already closed: its slot is free at once.
    mock = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x"))
    sharded = ShardedAsyncTransport.from_transports([mock, mock])
    async with (
        httpx.AsyncClient(transport=sharded) as client,
        client.stream("GET", "http://t.test/") as response,
    ):
        assert sharded.in_flight == (0, 0)
        assert await response.aread() == b"x"


async def test_sharded_sequential_traffic_stays_on_first_shard() -> None:
    calls: list[int] = []
    sharded = ShardedAsyncTransport.from_transports(_recording_mocks(4, calls))
    async with httpx.AsyncClient(transport=sharded) as client:
        for _ in range(6):
            assert (await client.get("http://t.test/")).content == b"shard 0"
    assert calls == [0] * 6


async def test_sharded_failed_request_releases() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sharded = ShardedAsyncTransport.from_transports(_recording_mocks(2, [], fail))
    async with httpx.AsyncClient(transport=sharded) as client:
        for _ in range(3):
            with pytest.raises(httpx.ConnectError):
                await client.get("http://t.test/")
    assert sharded.in_flight == (0, 0)


async def test_sharded_cancelled_request_releases() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    sharded = ShardedAsyncTransport.from_transports([httpx.MockTransport(hang)] * 2)
    async with httpx.AsyncClient(transport=sharded) as client:
        with anyio.move_on_after(0.05):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.get, "http://t.test/")
                tg.start_soon(client.get, "http://t.test/")
                await anyio.sleep(0.01)
                assert sharded.in_flight == (1, 1)
    assert sharded.in_flight == (0, 0)


async def test_sharded_real_connections_spread_over_pools(origin: ScriptedServer) -> None:
    async with default_async_client(shards=4, **KEEPALIVE) as client:
        sharded = client._transport
        assert isinstance(sharded, ShardedAsyncTransport)
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(8):
                response = await stack.enter_async_context(client.stream("GET", origin.url))
                assert_keepalive(network_socket(response), 37, 7, 3)
            assert sharded.in_flight == (2, 2, 2, 2)
            pools = [inner.pool for inner in sharded.transports]  # type: ignore[attr-defined]
            assert [len(pool.connections) for pool in pools] == [2, 2, 2, 2]
        assert sharded.in_flight == (0, 0, 0, 0)
    assert origin.connections == 8


def test_sync_sharded_spreads_and_releases(origin: ScriptedServer) -> None:
    with default_sync_client(shards=3) as client:
        sharded = client._transport
        assert isinstance(sharded, ShardedTransport)
        with contextlib.ExitStack() as stack:
            for _ in range(6):
                stack.enter_context(client.stream("GET", origin.url))
            assert sharded.in_flight == (2, 2, 2)
        assert sharded.in_flight == (0, 0, 0)
        assert client.get(origin.url).content == b"direct"
        assert sharded.in_flight == (0, 0, 0)


def test_sync_sharded_from_transports_threads() -> None:
    calls: list[int] = []
    sharded = ShardedTransport.from_transports(_recording_mocks(4, calls))
    with httpx.Client(transport=sharded) as client:
        threads = [
            threading.Thread(target=lambda: [client.get("http://t.test/") for _ in range(20)])
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(calls) == 80
    assert sharded.in_flight == (0, 0, 0, 0)


def _pool_limits(transport: ShardedAsyncTransport) -> list[tuple[int, int]]:
    return [
        (inner.settings.limits.max_connections, inner.settings.limits.max_keepalive_connections)  # type: ignore[attr-defined]
        for inner in transport.transports
    ]


def test_sharded_limits_are_divided() -> None:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    split = _pool_limits(ShardedAsyncTransport(8, limits=limits))
    assert split == [(13, 3)] * 4 + [(12, 2)] * 4
    assert sum(c for c, _ in split) == 100
    assert sum(k for _, k in split) == 20

    default = _pool_limits(ShardedAsyncTransport())
    assert sum(c for c, _ in default) == DEFAULT_LIMITS.max_connections
    assert sum(k for _, k in default) == DEFAULT_LIMITS.max_keepalive_connections

    # Never more shards than connections.
    assert (
        _pool_limits(ShardedAsyncTransport(8, limits=httpx.Limits(max_connections=3)))
        == [(1, None)] * 3  # no keep-alive bound: httpcore caps it at max_connections
    )
    unbounded = ShardedAsyncTransport(4, limits=httpx.Limits(max_connections=None))
    assert len(unbounded.transports) == 4
    assert all(c is None for c, _ in _pool_limits(unbounded))


def test_default_client_divides_user_limits() -> None:
    with default_sync_client(shards=4, limits=httpx.Limits(max_connections=10)) as client:
        sharded = client._transport
        assert isinstance(sharded, ShardedTransport)
        maxima = [inner.settings.limits.max_connections for inner in sharded.transports]  # type: ignore[attr-defined]
        assert maxima == [3, 3, 2, 2]


@pytest.mark.parametrize("shards", [0, -1, 1.5, True, "8"])
def test_sharded_validates_shards(shards: Any) -> None:
    with pytest.raises(ValueError, match="shards must be a positive integer"):
        ShardedAsyncTransport(shards)
    with pytest.raises(ValueError, match="shards must be a positive integer"):
        ShardedTransport(shards)
    with pytest.raises(ValueError, match="at least one transport"):
        ShardedAsyncTransport.from_transports([])


class _ClosingTransport(httpx.AsyncBaseTransport):
    def __init__(self, fail: bool = False) -> None:
        self.closed = False
        self.fail = fail

    async def aclose(self) -> None:
        self.closed = True
        if self.fail:
            raise RuntimeError("close failed")


async def test_sharded_aclose_closes_every_shard() -> None:
    inner = [_ClosingTransport(), _ClosingTransport(fail=True), _ClosingTransport()]
    sharded = ShardedAsyncTransport.from_transports(inner)
    with pytest.raises(RuntimeError, match="close failed"):
        await sharded.aclose()
    assert all(transport.closed for transport in inner)


async def test_default_client_aclose_closes_shards(origin: ScriptedServer) -> None:
    client = default_async_client(shards=2)
    await client.get(origin.url)
    sharded = client._transport
    assert isinstance(sharded, ShardedAsyncTransport)
    await client.aclose()
    for inner in sharded.transports:
        assert inner.pool.connections == []  # type: ignore[attr-defined]


# --------------------------------------------------------------------------
# has_keepalive
# --------------------------------------------------------------------------


async def test_has_keepalive_default_clients() -> None:
    async with default_async_client() as client:
        assert has_keepalive(client)
    with default_sync_client() as sync_client:
        assert has_keepalive(sync_client)


async def test_has_keepalive_false_for_plain_and_mock_clients() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=mock) as client:
        assert not has_keepalive(client)
    async with httpx.AsyncClient() as client:
        assert not has_keepalive(client)
    with httpx.Client() as sync_client:
        assert not has_keepalive(sync_client)
    async with httpx.AsyncClient(
        transport=ShardedAsyncTransport.from_transports([keepalive_transport(), mock])
    ) as client:
        assert not has_keepalive(client)


async def test_has_keepalive_recognises_transports_built_elsewhere() -> None:
    async with httpx.AsyncClient(transport=keepalive_transport()) as client:
        assert has_keepalive(client)
    # Not built here, but carrying the options: found through the httpcore pool.
    options = keepalive_socket_options(30, 5, 3)
    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(socket_options=options)) as c:
        assert has_keepalive(c)
    only_switch = options[:1]
    async with httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(socket_options=only_switch)
    ) as c:
        assert not has_keepalive(c)  # SO_KEEPALIVE alone: the OS's 2-hour idle time


async def test_has_keepalive_checks_proxy_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://p.test:3128")
    async with httpx.AsyncClient(transport=keepalive_transport()) as client:
        assert has_keepalive(client)  # httpx ignores the environment here
    async with httpx.AsyncClient() as client:
        assert not has_keepalive(client)
    async with default_async_client() as client:
        assert len(client._mounts) == 1
        assert has_keepalive(client)


def test_has_keepalive_never_raises() -> None:
    class Odd:
        @property
        def _transport(self) -> Any:
            raise RuntimeError("boom")

    assert not has_keepalive(Odd())  # type: ignore[arg-type]
    assert not has_keepalive(object())  # type: ignore[arg-type]
