"""TLS settings for the default clients: a custom CA, a client certificate, SSL_CERT_FILE.

``AsyncClient`` / ``Client`` take no TLS arguments; TLS and proxy settings go
to ``default_async_client`` / ``default_sync_client``, passed as
``http_client=`` (the README's "Corporate CA, client certificates, proxies").
Each test streams a Messages API answer from a real TLS server on loopback
whose certificate comes from a throwaway CA (trustme), on asyncio, trio and
the sync client.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

import streamsafe
from loopback_server import Reply, ScriptedServer
from sse_helpers import encode, text_stream_events

pytestmark = pytest.mark.anyio

TEXT = ["Hello", " over", " TLS"]
BODY = encode(text_stream_events(*TEXT))
REPLY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nrequest-id: req_tls\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)
PARAMS = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *, client_cert_required: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    if client_cert_required:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def trusting(ca: trustme.CA, *, client_cert: bool = False) -> ssl.SSLContext:
    """What a user builds: the default context plus the corporate CA (and a certificate)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)  # or: ssl.create_default_context(cafile="corp-ca.pem")
    if client_cert:
        ca.issue_cert("client@example.test").configure_cert(context)  # load_cert_chain(...)
    return context


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ScriptedServer]:
    with ScriptedServer([Reply([REPLY])], tls=server_context(ca)) as server:
        yield server


@pytest.fixture
def mtls_server(ca: trustme.CA) -> Iterator[ScriptedServer]:
    context = server_context(ca, client_cert_required=True)
    with ScriptedServer([Reply([REPLY])], tls=context) as server:
        yield server


def check(message: streamsafe.Message, server: ScriptedServer) -> None:
    assert message.text == "".join(TEXT)
    assert message.request_id == "req_tls"
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /v1/messages HTTP/1.1\r\n")


async def test_custom_ca_async(tls_server: ScriptedServer, ca: trustme.CA) -> None:
    http_client = streamsafe.default_async_client(verify=trusting(ca))
    assert streamsafe.transport.has_keepalive(http_client)
    async with streamsafe.AsyncClient(
        base_url=tls_server.url, api_key="test", http_client=http_client
    ) as client:
        message = await client.messages.create(**PARAMS)
    await http_client.aclose()
    check(message, tls_server)


def test_custom_ca_sync(tls_server: ScriptedServer, ca: trustme.CA) -> None:
    with (
        streamsafe.default_sync_client(verify=trusting(ca)) as http_client,
        streamsafe.Client(base_url=tls_server.url, api_key="test", http_client=http_client) as c,
    ):
        message = c.messages.create(**PARAMS)
    check(message, tls_server)


async def test_client_certificate_async(mtls_server: ScriptedServer, ca: trustme.CA) -> None:
    async with (
        streamsafe.default_async_client(verify=trusting(ca, client_cert=True)) as http_client,
        streamsafe.AsyncClient(
            base_url=mtls_server.url, api_key="test", http_client=http_client
        ) as client,
        client.messages.stream(**PARAMS) as stream,
    ):
        message = await stream.get_final_message()
    check(message, mtls_server)  # the server refuses handshakes without a client certificate


def test_client_certificate_sync(mtls_server: ScriptedServer, ca: trustme.CA) -> None:
    with (
        streamsafe.default_sync_client(verify=trusting(ca, client_cert=True)) as http_client,
        streamsafe.Client(base_url=mtls_server.url, api_key="test", http_client=http_client) as c,
        c.messages.stream(**PARAMS) as stream,
    ):
        message = stream.get_final_message()
    check(message, mtls_server)


async def test_without_the_ca_the_handshake_fails(tls_server: ScriptedServer) -> None:
    # The control: the same server is refused by the default trust store.
    async with streamsafe.AsyncClient(
        base_url=tls_server.url, api_key="test", max_retries=0
    ) as client:
        with pytest.raises(streamsafe.APIConnectionError) as caught:
            await client.messages.create(**PARAMS)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in chain(caught.value))


def chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and its causes (trio wraps the ssl error one level deeper than asyncio)."""
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


@pytest.mark.parametrize("api", ["async", "sync"])
async def test_ssl_cert_file_is_honoured_by_the_default_client(
    api: str,
    tls_server: ScriptedServer,
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    if api == "async":
        async with streamsafe.AsyncClient(base_url=tls_server.url, api_key="test") as client:
            message = await client.messages.create(**PARAMS)
    else:
        with streamsafe.Client(base_url=tls_server.url, api_key="test") as sync_client:
            message = sync_client.messages.create(**PARAMS)
    check(message, tls_server)


def test_proxy_routes_get_the_same_tls_settings(ca: trustme.CA) -> None:
    context = trusting(ca)
    with streamsafe.default_sync_client(
        verify=context, proxy="http://proxy.example.test:3128", trust_env=False
    ) as http_client:
        assert streamsafe.transport.has_keepalive(http_client)
        routes = [http_client._transport, *http_client._mounts.values()]
        pools = [
            inner.pool
            for route in routes
            if route is not None
            for inner in route.transports  # type: ignore[union-attr]
        ]
    assert any(type(pool).__name__ == "HTTPProxy" for pool in pools)
    assert all(
        inner.settings.ssl_context is context
        for route in routes
        if route is not None
        for inner in route.transports  # type: ignore[union-attr]
    )
