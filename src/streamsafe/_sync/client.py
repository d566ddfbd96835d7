# generated from src/streamsafe/_async/client.py by scripts/unasync.py: do not edit
"""``Client`` and the resources it hands out: the I/O, written once.

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

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, Literal, overload

import httpx

from .._client import _BaseClient, _json_result
from .._decode import token_count_from_dict
from .._events import Message, TokenCount
from .._failures import transport_error
from ..transport import default_sync_client
from .batches import Batches
from .closable import Closable
from .retry import run_with_retries
from .stream import MessageStream, open_message_stream

__all__ = ["Client", "MessageStreamManager", "Messages"]


class MessageStreamManager:
    """``with client.messages.stream(...) as stream``: opened on entry, closed on exit."""

    def __init__(self, opener: Callable[[], MessageStream]) -> None:
        self._opener = opener
        self._stream: MessageStream | None = None

    def __enter__(self) -> MessageStream:
        self._stream = self._opener()
        return self._stream

    def __exit__(self, *exc_info: Any) -> None:
        if self._stream is not None:  # its exit sees the exception this block's exit sees
            self._stream.__exit__(*exc_info)


class Messages:
    """``client.messages`` (``client``: a :class:`Client`)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @cached_property
    def batches(self) -> Batches:
        """The Message Batches API (see :class:`~streamsafe.Batches`)."""
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
        """Create a message.

        With ``stream=True``, return the open :class:`MessageStream`
        (close it, or use ``with``). Otherwise stream underneath and
        return the final :class:`Message`: the drop-in for long requests.
        """
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
        data = self._client._json(request)
        return token_count_from_dict(data)


class Client(_BaseClient[httpx.Client], Closable):
    """A client for the Messages API, a sync one (``with Client() as client``).

    Arguments, all keyword-only and optional: ``api_key`` (default:
    ``ANTHROPIC_API_KEY``), ``base_url`` (default: ``ANTHROPIC_BASE_URL``,
    else the public API), ``timeout`` (an :class:`httpx.Timeout` or seconds;
    default connect 5 s, read between bytes 600 s), ``max_retries`` (default
    2), ``backoff`` (:class:`~streamsafe.Backoff`), ``stream_idle_timeout``
    (seconds between content events, pings excluded; default 300, ``None``
    disables), ``max_event_bytes`` (largest SSE event accepted, default 16
    MiB), ``default_headers``, ``http_client`` (bring your own
    :class:`httpx.Client`; it is not closed with this client) and
    ``observer`` (an :class:`~streamsafe.Observer` told of every call's
    lifecycle).
    """

    _default_http = staticmethod(default_sync_client)

    @cached_property
    def messages(self) -> Messages:
        """The Messages API: ``stream``, ``create``, ``count_tokens``, ``batches``."""
        return Messages(self)

    def close(self) -> None:
        """Close the httpx client, unless it was given (``http_client``)."""
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

        return run_with_retries(self._config.retry, "POST /v1/messages (stream)", attempt, call)

    def _create(self, request: dict[str, Any], params: dict[str, Any]) -> Message:
        # Nothing reaches the caller before the message is complete, so a
        # retryable failure is retried at any point: the request starts over,
        # nothing is continued or duplicated.
        call = self._call(request, params, stream=False)

        def attempt() -> Message:
            call.next_attempt()
            with open_message_stream(self._http, call=call, **request) as stream:
                message = stream.get_final_message()
                call.handed_over = True  # complete: closing the stream ends the call
            return message

        return run_with_retries(self._config.retry, "POST /v1/messages", attempt, call)

    def _json(self, request: dict[str, Any]) -> Any:
        def attempt() -> Any:
            try:
                response = self._http.request(**request)
            except httpx.HTTPError as exc:
                raise transport_error(exc, None) from exc
            return _json_result(response)

        return run_with_retries(self._config.retry, f"POST {request['url'].path}", attempt)
