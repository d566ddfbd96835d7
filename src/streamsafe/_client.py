"""What ``AsyncClient`` and ``Client`` share and is not I/O.

:class:`_BaseClient` builds either client (arguments documented on
:class:`~streamsafe.AsyncClient`); :class:`_ClientConfig` holds what every
request needs (headers, URLs, the request-size preflight, the retry policy);
:func:`_json_result` reads the answer of a plain JSON call. The clients and
the resources they hand out, which do the I/O, are ``_async/client.py``
(written once) and ``_sync/client.py`` (generated from it); the Message
Batches shells (``_async/batches.py``) use this module too.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import httpx

from ._errors import AuthenticationError, RequestTooLargeError
from ._failures import error_from_response
from ._failures import unreadable_json as _unreadable_json
from ._observe import Call, Observer
from ._retry import Backoff, RetryPolicy
from ._sse import DEFAULT_MAX_EVENT_BYTES, checked_idle_timeout
from ._stream import DEFAULT_STREAM_IDLE_TIMEOUT
from ._version import __version__ as _version
from .transport import has_keepalive

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "REQUEST_SIZE_LIMITS",
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
        retry: RetryPolicy,
        default_headers: Mapping[str, str] | None,
        stream_idle_timeout: float | None,
        max_event_bytes: int,
    ) -> None:
        self.api_key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = httpx.URL(str(url).rstrip("/") + "/")
        self.retry = retry
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


_Http = TypeVar("_Http", httpx.Client, httpx.AsyncClient)


class _BaseClient(Generic[_Http]):
    """Construction shared by ``AsyncClient`` and ``Client``.

    The arguments are documented on :class:`~streamsafe.AsyncClient` (and
    :class:`~streamsafe.Client`, its sync twin, takes the same).
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
            retry=RetryPolicy(max_retries=max_retries, backoff=backoff or Backoff()),
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


def _as_timeout(timeout: httpx.Timeout | float | None) -> httpx.Timeout | None:
    if timeout is None or isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout, connect=min(timeout, 5.0))
