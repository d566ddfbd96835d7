"""The tiers of the public API: what the top level holds, what moved, and where to."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

import streamsafe
import streamsafe.transport

ROOT = Path(__file__).resolve().parent.parent

MOVED_TO_TRANSPORT = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_LIMITS",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "ShardedAsyncTransport",
    "ShardedTransport",
    "has_keepalive",
    "keepalive_socket_options",
    "keepalive_transport",
    "sync_keepalive_transport",
]


def test_the_types_users_hold_are_exported() -> None:
    for name in (
        "AsyncClient",
        "Client",
        "AsyncMessages",
        "Messages",
        "AsyncMessageStreamManager",
        "MessageStreamManager",
        "AsyncMessageStream",
        "MessageStream",
        "aconnect_events",
        "connect_events",
        "aconnect_message_stream",
        "connect_message_stream",
        "SSEDecoder",
        "default_async_client",
        "default_sync_client",
    ):
        assert name in streamsafe.__all__, name
        assert getattr(streamsafe, name) is not None


# Old spellings of twins, now named AsyncX / X like every other pair.
RENAMED = {"ShardedAsyncTransport": "AsyncShardedTransport"}


@pytest.mark.parametrize("name", MOVED_TO_TRANSPORT)
def test_moved_names_warn_and_still_work(name: str) -> None:
    assert name not in streamsafe.__all__
    assert name in streamsafe.transport.__all__
    new_name = RENAMED.get(name, name)
    with pytest.warns(DeprecationWarning, match=rf"streamsafe\.transport\.{new_name}\b"):
        value = getattr(streamsafe, name)
    assert value is getattr(streamsafe.transport, name)
    assert value is getattr(streamsafe.transport, new_name)


def test_unset_is_msgspecs() -> None:
    assert "UNSET" not in streamsafe.__all__
    with pytest.warns(DeprecationWarning, match=r"msgspec\.UNSET"):
        assert streamsafe.UNSET is msgspec.UNSET


def test_unknown_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = streamsafe.no_such_name


def test_every_name_the_readme_and_examples_use_is_there_without_warning() -> None:
    texts = [ROOT / "README.md", *sorted((ROOT / "examples").glob("*.py"))]
    used: set[str] = set()
    for path in texts:
        used |= set(re.findall(r"\bstreamsafe\.([A-Za-z_]\w*)", path.read_text(encoding="utf-8")))
    submodules = {"transport", "testing", "errors", "otel"}
    # OpenTelemetry span, event and attribute names the README quotes (streamsafe.batch.poll, ...).
    telemetry = {"batch", "retry", "outcome", "attempts"}
    private = {name for name in used if name.startswith("_")}
    moved = set(MOVED_TO_TRANSPORT)  # the README names them as the old spellings
    assert "default_async_client" in used
    for name in sorted(used - submodules - telemetry - private - moved):
        assert name in streamsafe.__all__, name
