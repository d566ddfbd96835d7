"""``AsyncClient`` and the resources it hands out: the I/O, written once.

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

What the clients share and is not I/O (construction, headers, URLs, the
request-size preflight, the retry policy) is in ``streamsafe/_client.py``;
the retry loop is in ``retry.py`` beside this module.

Every ``stream()`` / ``create()`` is one observed call
(:class:`~streamsafe._observe.Call`): the client reports its attempts and
retries, and ends it itself on a failure before the stream is handed over;
from then on the stream ends it (see :mod:`streamsafe._observe`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from functools import cached_property
from typing import Any, Literal, overload

import httpx

from .._client import _BaseClient, _json_result
from .._decode import token_count_from_dict
from .._events import Message, TokenCount
from .._failures import transport_error
from ..transport import default_async_client
from .batches import AsyncBatches
from .closable import AsyncClosable
from .retry import arun_with_retries
from .stream import AsyncMessageStream, aopen_message_stream

__all__ = ["AsyncClient", "AsyncMessageStreamManager", "AsyncMessages"]


class AsyncMessageStreamManager:
    """``async with client.messages.stream(...) as stream``: opened on entry, closed on exit."""

    def __init__(self, opener: Callable[[], Awaitable[AsyncMessageStream]]) -> None:
        self._opener = opener
        self._stream: AsyncMessageStream | None = None

    async def __aenter__(self) -> AsyncMessageStream:
        self._stream = await self._opener()
        return self._stream

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._stream is not None:  # its exit sees the exception this block's exit sees
            await self._stream.__aexit__(*exc_info)

    # unasync: begin async only
    def __await__(self) -> Generator[Any, None, AsyncMessageStream]:
        """``await client.messages.stream(...)``: the open stream, for the caller to close."""
        return self._opener().__await__()

    # unasync: end async only


class AsyncMessages:
    """``client.messages`` (``client``: a :class:`AsyncClient`)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @cached_property
    def batches(self) -> AsyncBatches:
        """The Message Batches API (see :class:`~streamsafe.AsyncBatches`)."""
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


class AsyncClient(_BaseClient[httpx.AsyncClient], AsyncClosable):
    """A client for the Messages API, an async one (``async with AsyncClient() as client``).

    Arguments, all keyword-only and optional: ``api_key`` (default:
    ``ANTHROPIC_API_KEY``), ``base_url`` (default: ``ANTHROPIC_BASE_URL``,
    else the public API), ``timeout`` (an :class:`httpx.Timeout` or seconds;
    default connect 5 s, read between bytes 600 s), ``max_retries`` (default
    2), ``backoff`` (:class:`~streamsafe.Backoff`), ``stream_idle_timeout``
    (seconds between content events, pings excluded; default 300, ``None``
    disables), ``max_event_bytes`` (largest SSE event accepted, default 16
    MiB), ``default_headers``, ``http_client`` (bring your own
    :class:`httpx.AsyncClient`; it is not closed with this client) and
    ``observer`` (an :class:`~streamsafe.Observer` told of every call's
    lifecycle).
    """

    _default_http = staticmethod(default_async_client)

    @cached_property
    def messages(self) -> AsyncMessages:
        """The Messages API: ``stream``, ``create``, ``count_tokens``, ``batches``."""
        return AsyncMessages(self)

    async def aclose(self) -> None:
        """Close the httpx client, unless it was given (``http_client``)."""
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

        return await arun_with_retries(
            self._config.retry, "POST /v1/messages (stream)", attempt, call
        )

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

        return await arun_with_retries(self._config.retry, "POST /v1/messages", attempt, call)

    async def _json(self, request: dict[str, Any]) -> Any:
        async def attempt() -> Any:
            try:
                response = await self._http.request(**request)
            except httpx.HTTPError as exc:
                raise transport_error(exc, None) from exc
            return _json_result(response)

        return await arun_with_retries(self._config.retry, f"POST {request['url'].path}", attempt)
