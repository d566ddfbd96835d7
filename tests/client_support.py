"""Helpers shared by the client tests (``test_client.py``, ``test_client_retries.py``,
``test_batches.py``, ``test_observe_batches.py``)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import streamsafe
from streamsafe import (
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    GatewayTimeoutError,
    InternalServerError,
    Message,
    NotFoundError,
    OverloadedError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
)
from streamsafe.testing import Emulator

#: Fast retries for tests: a few milliseconds between attempts.
FAST = streamsafe.Backoff(initial=0.01, maximum=0.05)
#: The design contract's table, written out independently of the library's mapping.
CLASS_FOR_ERROR_TYPE: dict[str, type[APIStatusError]] = {
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "billing_error": PaymentRequiredError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "request_too_large": RequestTooLargeError,
    "rate_limit_error": RateLimitError,
    "api_error": InternalServerError,
    "timeout_error": GatewayTimeoutError,
    "overloaded_error": OverloadedError,
}
#: A key whose distinctive part must never show up anywhere.
SECRET = "k3yS3cr3tXq9"
API_KEY = f"sk-ant-test-{SECRET * 4}"

#: Events of a stream before the fault strikes in the "after content" cases:
#: message_start, ping, content_block_start, two text deltas.
AFTER_CONTENT = 5


def params(
    text: str = "Tell me about streams", max_tokens: int = 48, **extra: Any
) -> dict[str, Any]:
    return {
        "model": "claude-emulated",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def aclient(emu: Emulator, **options: Any) -> AsyncClient:
    options.setdefault("api_key", API_KEY)
    options.setdefault("backoff", FAST)
    options.setdefault("base_url", emu.url)
    return AsyncClient(**options)


def sclient(emu: Emulator, **options: Any) -> Client:
    options.setdefault("api_key", API_KEY)
    options.setdefault("backoff", FAST)
    options.setdefault("base_url", emu.url)
    return Client(**options)


def text_of_first_events(emu: Emulator, count: int, **extra: Any) -> str:
    """The text a clean stream of the same request carries in its first ``count`` events."""
    with sclient(emu) as client, client.messages.stream(**params(**extra)) as stream:
        events = list(stream)
    emu.clear()
    return "".join(
        event.delta.text
        for event in events[:count]
        if isinstance(event, streamsafe.ContentBlockDeltaEvent)
        and isinstance(event.delta, streamsafe.TextDelta)
    )


def retry_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "streamsafe" and "retrying" in r.getMessage()]


def comparable(message: Message) -> dict[str, Any]:
    data = message.to_dict()
    data.pop("id")
    return data
