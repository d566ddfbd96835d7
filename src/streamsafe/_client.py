"""``AsyncClient`` / ``Client``: the Messages API over streamsafe's streams.

``client.messages.stream(...)`` opens a message stream with retries;
``client.messages.create(...)`` without ``stream=True`` is the drop-in for
long requests: it streams underneath (so the connection is never idle for
minutes) and returns the final :class:`~streamsafe.Message`, raising the same
typed errors. ``count_tokens`` is a plain JSON call with the same retries.

Retries happen only while the caller has received nothing: a stream is read
ahead up to its first ``content_block_start`` (``message_start`` and pings are
held back) before it is handed over, so a stream that fails before content is
retried invisibly, and one that fails after content raises with its partial
message — it is never continued or duplicated. ``create()`` without
``stream=True`` hands over nothing before the message is complete, so it
retries a retryable failure at any point of the stream, starting over.

The async and sync clients share :class:`_ClientConfig` (headers, URLs, the
request-size preflight, the retry policy); each side only does its own I/O.

Every ``stream()`` / ``create()`` is one observed call
(:class:`~streamsafe._observe.Call`): the client reports its attempts and
retries, and ends it itself on a failure before the stream is handed over;
from then on the stream ends it (see :mod:`streamsafe._observe`).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Awaitable, Callable, Generator, Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

import anyio
import httpx

from ._async.stream import AsyncMessageStream, aopen_message_stream
from ._decode import token_count_from_dict
from ._errors import APIError, AuthenticationError, RequestTooLargeError
from ._events import Message, TokenCount
from ._failures import error_from_response, transport_error
from ._failures import unreadable_json as _unreadable_json
from ._observe import Call, Observer, Retried
from ._retry import Backoff, RetryPolicy
from ._sse import DEFAULT_MAX_EVENT_BYTES, checked_idle_timeout
from ._stream import DEFAULT_STREAM_IDLE_TIMEOUT
from ._sync.stream import MessageStream, open_message_stream
from ._version import __version__ as _version
from .transport import default_async_client, default_sync_client, has_keepalive

if TYPE_CHECKING:
    from ._batches import AsyncBatches
    from ._batches_sync import Batches

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "REQUEST_SIZE_LIMITS",
    "AsyncClient",
    "Client",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"

_MB = 1024 * 1024
#: Documented request-size limits by endpoint path prefix (checked before sending).
REQUEST_SIZE_LIMITS: dict[str, int] = {
    "/v1/messages/batches": 256 * _MB,
    "/v1/messages": 32 * _MB,
    "/v1/files": 500 * _MB,
}

_warned_no_keepalive = False


def _warn_without_keepalive(http_client: httpx.Client | httpx.AsyncClient) -> None:
    global _warned_no_keepalive
    if _warned_no_keepalive or has_keepalive(http_client):
        return
    _warned_no_keepalive = True
    warnings.warn(
        "the httpx client given to streamsafe has no TCP keep-alive; long requests may die "
        "on idle network paths. Build it with streamsafe.default_async_client() / "
        "default_sync_client() (keep-alive, proxies from the environment), or pass "
        "transport=streamsafe.transport.keepalive_transport().",
        RuntimeWarning,
        stacklevel=3,  # 1: here, 2: the client's __init__, 3: the caller building the client
    )


def _redact(api_key: str | None) -> str:
    if not api_key:
        return "None"
    return f"'{api_key[:7]}…'" if len(api_key) > 16 else "'…'"


def _check_api_key(api_key: str) -> None:
    """Refuse, before sending, a key httpx could not send as a header.

    httpx would fail on it with an error quoting the header value (the key)
    in its message; this one never shows the key.
    """
    if api_key == api_key.strip() and api_key.isascii() and api_key.isprintable():
        return
    raise AuthenticationError(
        "the API key contains surrounding whitespace, control or non-ASCII characters "
        "(a stray newline from a file?) and cannot be sent in an HTTP header; nothing was sent",
        status_code=401,
        http_status=0,
        error_type="authentication_error",
        retryable=False,
    )


def size_limit(path: str) -> int | None:
    """The documented request-size limit for an endpoint path, if any."""
    for prefix, limit in REQUEST_SIZE_LIMITS.items():
        if path.startswith(prefix):
            return limit
    return None


class _ClientConfig:
    """Everything the async and sync clients share; no I/O."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | httpx.URL | None,
        max_retries: int,
        backoff: Backoff | None,
        default_headers: Mapping[str, str] | None,
        stream_idle_timeout: float | None,
        max_event_bytes: int,
    ) -> None:
        self.api_key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = httpx.URL(str(url).rstrip("/") + "/")
        self.retry = RetryPolicy(max_retries=max_retries, backoff=backoff or Backoff())
        self.default_headers = dict(default_headers or {})
        self.stream_idle_timeout = checked_idle_timeout(stream_idle_timeout)
        self.max_event_bytes = max_event_bytes

    def headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {
            "anthropic-version": ANTHROPIC_VERSION,
            "content-type": "application/json",
            "user-agent": f"streamsafe/{_version} (python; httpx {httpx.__version__})",
        }
        if self.api_key:
            _check_api_key(self.api_key)
            headers["x-api-key"] = self.api_key
        headers.update(self.default_headers)
        if extra:
            headers.update(extra)
        return headers

    def url(self, path: str) -> httpx.URL:
        return self.base_url.join(path.lstrip("/"))

    def body(self, path: str, params: Mapping[str, Any]) -> bytes:
        """Serialise the JSON body once and check it against the endpoint's limit."""
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        limit = size_limit(path)
        if limit is not None and len(body) > limit:
            raise RequestTooLargeError(
                f"request body is {len(body):,} bytes, over the {limit:,}-byte limit of {path} "
                f"({limit // _MB} MB); nothing was sent",
                status_code=413,
                http_status=0,
                error_type="request_too_large",
                retryable=False,
            )
        return body

    def stream_request(
        self, params: dict[str, Any], extra_headers: Mapping[str, str] | None
    ) -> dict[str, Any]:
        params["stream"] = True
        return {
            "method": "POST",
            "url": self.url("/v1/messages"),
            "content": self.body("/v1/messages", params),
            "headers": self.headers(extra_headers),
            "max_event_bytes": self.max_event_bytes,
            "stream_idle_timeout": self.stream_idle_timeout,
        }

    def json_request(
        self, path: str, params: Mapping[str, Any], extra_headers: Mapping[str, str] | None
    ) -> dict[str, Any]:
        return {
            "method": "POST",
            "url": self.url(path),
            "content": self.body(path, params),
            "headers": self.headers(extra_headers),
        }

    def repr(self, name: str) -> str:
        return f"<{name} base_url='{self.base_url}' api_key={_redact(self.api_key)}>"


def _json_result(response: httpx.Response) -> Any:
    if not response.is_success:
        raise error_from_response(response)
    try:
        return response.json()
    except ValueError:
        raise _unreadable_json(response) from None


_T = TypeVar("_T")


# ---------------------------------------------------------------------------
# async
# ---------------------------------------------------------------------------


async def _aretry(
    config: _ClientConfig,
    what: str,
    attempt: Callable[[], Awaitable[_T]],
    call: Retried | None = None,
) -> _T:
    retrying = config.retry.start(what)
    try:
        while True:
            try:
                return await attempt()
            except APIError as error:
                delay = retrying.delay_after(error)
                if call is not None:
                    call.retry(delay, error)
            await anyio.sleep(delay)
    except BaseException as exc:
        if call is not None:  # a no-op if the call already ended
            call.end_with(exc, raised_by_library=True)
        raise


class AsyncMessageStreamManager:
    """``async with client.messages.stream(...) as stream``; also awaitable."""

    def __init__(self, opener: Callable[[], Awaitable[AsyncMessageStream]]) -> None:
        self._opener = opener
        self._stream: AsyncMessageStream | None = None

    async def __aenter__(self) -> AsyncMessageStream:
        self._stream = await self._opener()
        return self._stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            await self._stream.__aexit__(exc_type, exc, tb)

    def __await__(self) -> Generator[Any, None, AsyncMessageStream]:
        return self._opener().__await__()


class AsyncMessages:
    """``client.messages`` of an :class:`AsyncClient`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @cached_property
    def batches(self) -> AsyncBatches:
        """The Message Batches API (see :class:`~streamsafe.AsyncBatches`)."""
        from ._batches import AsyncBatches

        return AsyncBatches(self._client)

    def stream(
        self, *, extra_headers: Mapping[str, str] | None = None, **params: Any
    ) -> AsyncMessageStreamManager:
        """Open a streamed request: ``async with client.messages.stream(...) as stream``."""
        request = self._client._config.stream_request(params, extra_headers)
        return AsyncMessageStreamManager(lambda: self._client._open_stream(request, params))

    @overload
    async def create(
        self,
        *,
        stream: Literal[True],
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> AsyncMessageStream: ...

    @overload
    async def create(
        self,
        *,
        stream: Literal[False] = False,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Message: ...

    async def create(
        self, *, stream: bool = False, extra_headers: Mapping[str, str] | None = None, **params: Any
    ) -> Message | AsyncMessageStream:
        """Create a message.

        With ``stream=True``, return the open :class:`AsyncMessageStream`
        (close it, or use ``async with``). Otherwise stream underneath and
        return the final :class:`Message`: the drop-in for long requests.
        """
        request = self._client._config.stream_request(params, extra_headers)
        if stream:
            return await self._client._open_stream(request, params)
        return await self._client._create(request, params)

    async def count_tokens(
        self, *, extra_headers: Mapping[str, str] | None = None, **params: Any
    ) -> TokenCount:
        """Count the input tokens of a request (``POST /v1/messages/count_tokens``)."""
        request = self._client._config.json_request(
            "/v1/messages/count_tokens", params, extra_headers
        )
        data = await self._client._json(request)
        return token_count_from_dict(data)


_Http = TypeVar("_Http", httpx.Client, httpx.AsyncClient)


class _BaseClient(Generic[_Http]):
    """Construction shared by :class:`AsyncClient` and :class:`Client`.

    Arguments: ``api_key`` (default: ``ANTHROPIC_API_KEY``), ``base_url``
    (default: ``ANTHROPIC_BASE_URL``, else the public API), ``timeout``
    (an :class:`httpx.Timeout` or seconds; default connect 5 s, read between
    bytes 600 s), ``max_retries`` (default 2), ``backoff``
    (:class:`~streamsafe.Backoff`), ``stream_idle_timeout`` (seconds between
    content events, pings excluded; default 300, ``None`` disables),
    ``max_event_bytes`` (largest SSE event accepted, default 16 MiB),
    ``default_headers``, and ``http_client`` (bring your own httpx client of
    the matching kind; it is not closed with this client), and ``observer``
    (an :class:`~streamsafe.Observer` told of every call's lifecycle).
    """

    #: Builds the keep-alive httpx client used when none is given.
    _default_http: Callable[..., _Http]

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        timeout: httpx.Timeout | float | None = None,
        max_retries: int = 2,
        backoff: Backoff | None = None,
        stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        default_headers: Mapping[str, str] | None = None,
        http_client: _Http | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer
        self._config = _ClientConfig(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            backoff=backoff,
            default_headers=default_headers,
            stream_idle_timeout=stream_idle_timeout,
            max_event_bytes=max_event_bytes,
        )
        self._owns_http = http_client is None
        if http_client is None:
            http_client = type(self)._default_http(timeout=_as_timeout(timeout))
        else:
            _warn_without_keepalive(http_client)
        self._http: _Http = http_client

    def __repr__(self) -> str:
        return self._config.repr(type(self).__name__)

    def _call(self, request: dict[str, Any], params: dict[str, Any], *, stream: bool) -> Call:
        return Call(self._observer, params, url=str(request["url"]), stream=stream)

    @property
    def http_client(self) -> _Http:
        """The httpx client requests go through."""
        return self._http


class AsyncClient(_BaseClient[httpx.AsyncClient]):
    """Async client for the Messages API (arguments: see :class:`_BaseClient`)."""

    _default_http = staticmethod(default_async_client)

    @cached_property
    def messages(self) -> AsyncMessages:
        """The Messages API: ``stream``, ``create``, ``count_tokens``."""
        return AsyncMessages(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _open_stream(
        self, request: dict[str, Any], params: dict[str, Any]
    ) -> AsyncMessageStream:
        call = self._call(request, params, stream=True)

        async def attempt() -> AsyncMessageStream:
            call.next_attempt()
            stream = await aopen_message_stream(self._http, call=call, **request)
            try:
                await stream._prefetch()
            except BaseException:
                await stream.aclose()
                raise
            call.handed_over = True
            return stream

        return await _aretry(self._config, "POST /v1/messages (stream)", attempt, call)

    async def _create(self, request: dict[str, Any], params: dict[str, Any]) -> Message:
        # Nothing reaches the caller before the message is complete, so a
        # retryable failure is retried at any point: the request starts over,
        # nothing is continued or duplicated.
        call = self._call(request, params, stream=False)

        async def attempt() -> Message:
            call.next_attempt()
            async with await aopen_message_stream(self._http, call=call, **request) as stream:
                message = await stream.get_final_message()
                call.handed_over = True  # complete: closing the stream ends the call
            return message

        return await _aretry(self._config, "POST /v1/messages", attempt, call)

    async def _json(self, request: dict[str, Any]) -> Any:
        async def attempt() -> Any:
            try:
                response = await self._http.request(**request)
            except httpx.HTTPError as exc:
                raise transport_error(exc, None) from exc
            return _json_result(response)

        return await _aretry(self._config, f"POST {request['url'].path}", attempt)


# ---------------------------------------------------------------------------
# sync
# ---------------------------------------------------------------------------


def _retry(
    config: _ClientConfig, what: str, attempt: Callable[[], _T], call: Retried | None = None
) -> _T:
    retrying = config.retry.start(what)
    try:
        while True:
            try:
                return attempt()
            except APIError as error:
                delay = retrying.delay_after(error)
                if call is not None:
                    call.retry(delay, error)
            time.sleep(delay)
    except BaseException as exc:
        if call is not None:
            call.end_with(exc, raised_by_library=True)
        raise


class MessageStreamManager:
    """``with client.messages.stream(...) as stream``."""

    def __init__(self, opener: Callable[[], MessageStream]) -> None:
        self._opener = opener
        self._stream: MessageStream | None = None

    def __enter__(self) -> MessageStream:
        self._stream = self._opener()
        return self._stream

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream.__exit__(exc_type, exc, tb)


class Messages:
    """``client.messages`` of a :class:`Client` (sync twin of :class:`AsyncMessages`)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @cached_property
    def batches(self) -> Batches:
        """The Message Batches API (see :class:`~streamsafe.Batches`)."""
        from ._batches_sync import Batches

        return Batches(self._client)

    def stream(
        self, *, extra_headers: Mapping[str, str] | None = None, **params: Any
    ) -> MessageStreamManager:
        """Open a streamed request: ``with client.messages.stream(...) as stream``."""
        request = self._client._config.stream_request(params, extra_headers)
        return MessageStreamManager(lambda: self._client._open_stream(request, params))

    @overload
    def create(
        self,
        *,
        stream: Literal[True],
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> MessageStream: ...

    @overload
    def create(
        self,
        *,
        stream: Literal[False] = False,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Message: ...

    def create(
        self, *, stream: bool = False, extra_headers: Mapping[str, str] | None = None, **params: Any
    ) -> Message | MessageStream:
        """Create a message; see :meth:`AsyncMessages.create`."""
        request = self._client._config.stream_request(params, extra_headers)
        if stream:
            return self._client._open_stream(request, params)
        return self._client._create(request, params)

    def count_tokens(
        self, *, extra_headers: Mapping[str, str] | None = None, **params: Any
    ) -> TokenCount:
        """Count the input tokens of a request (``POST /v1/messages/count_tokens``)."""
        request = self._client._config.json_request(
            "/v1/messages/count_tokens", params, extra_headers
        )
        return token_count_from_dict(self._client._json(request))


class Client(_BaseClient[httpx.Client]):
    """Sync client for the Messages API; the same arguments as :class:`AsyncClient`."""

    _default_http = staticmethod(default_sync_client)

    @cached_property
    def messages(self) -> Messages:
        """The Messages API: ``stream``, ``create``, ``count_tokens``."""
        return Messages(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _open_stream(self, request: dict[str, Any], params: dict[str, Any]) -> MessageStream:
        call = self._call(request, params, stream=True)

        def attempt() -> MessageStream:
            call.next_attempt()
            stream = open_message_stream(self._http, call=call, **request)
            try:
                stream._prefetch()
            except BaseException:
                stream.close()
                raise
            call.handed_over = True
            return stream

        return _retry(self._config, "POST /v1/messages (stream)", attempt, call)

    def _create(self, request: dict[str, Any], params: dict[str, Any]) -> Message:
        call = self._call(request, params, stream=False)

        def attempt() -> Message:
            call.next_attempt()
            with open_message_stream(self._http, call=call, **request) as stream:
                message = stream.get_final_message()
                call.handed_over = True
            return message

        return _retry(self._config, "POST /v1/messages", attempt, call)

    def _json(self, request: dict[str, Any]) -> Any:
        def attempt() -> Any:
            try:
                response = self._http.request(**request)
            except httpx.HTTPError as exc:
                raise transport_error(exc, None) from exc
            return _json_result(response)

        return _retry(self._config, f"POST {request['url'].path}", attempt)


def _as_timeout(timeout: httpx.Timeout | float | None) -> httpx.Timeout | None:
    if timeout is None or isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout, connect=min(timeout, 5.0))
