"""pytest plugin: the ``streamsafe_emulator`` fixture.

Registered through the ``pytest11`` entry point ``streamsafe``, so it is
active wherever streamsafe is installed. The emulator (and with it starlette
and uvicorn, the ``server`` extra) is imported only when a test uses the
fixture, so installing streamsafe without that extra never breaks pytest.

::

    def test_retry(streamsafe_emulator):
        streamsafe_emulator.push_fault("status:529;retry_after=0")
        ...

    @pytest.mark.streamsafe_emulator(event_delay=0.01, ping_interval=0.05)
    def test_slow_stream(streamsafe_emulator): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from streamsafe.testing import Emulator

__all__ = ["pytest_configure", "streamsafe_emulator"]

_MARKER = "streamsafe_emulator"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(event_delay=0.0, ping_interval=None): "
        "options of the streamsafe_emulator fixture",
    )


@pytest.fixture
def streamsafe_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running :class:`streamsafe.testing.Emulator`, stopped after the test."""
    from streamsafe.testing import Emulator

    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        options.update(marker.kwargs)
    with Emulator(**options) as emulator:
        yield emulator
