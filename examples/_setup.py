"""Shared by the examples: the real API when ANTHROPIC_API_KEY is set, else the emulator.

Every example does::

    with client_options() as options:
        client = streamsafe.AsyncClient(**options)

With ``ANTHROPIC_API_KEY`` set, ``options`` is empty and the client reads the
key (and ``ANTHROPIC_BASE_URL``) from the environment. Without it, an
emulator of the Messages API (``streamsafe.testing``) is started on loopback
for the duration of the block, so the examples run with no network and no key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The model the examples ask for (the emulator accepts any name).
MODEL = os.environ.get("STREAMSAFE_EXAMPLE_MODEL", "claude-sonnet-4-5")


def using_emulator() -> bool:
    """True when the examples run against the emulator (no API key in the environment)."""
    return not os.environ.get("ANTHROPIC_API_KEY")


@contextmanager
def client_options(**emulator_options: Any) -> Iterator[dict[str, Any]]:
    """Keyword arguments for ``AsyncClient``/``Client``; starts the emulator when needed.

    ``emulator_options`` (e.g. ``event_delay=0.01``) go to ``Emulator(...)``.
    """
    if not using_emulator():
        yield {}
        return
    from streamsafe.testing import Emulator

    with Emulator(**emulator_options) as emulator:
        yield {"base_url": emulator.url, "api_key": "test"}
