"""pytest plugin: the ``streamsafe_emulator`` fixture.

Registered through the ``pytest11`` entry point ``streamsafe``, so pytest
loads it in every venv where streamsafe is installed, with or without extras.
It therefore imports nothing but pytest at load time: the emulator (and with it
starlette and uvicorn, the ``server`` extra) is imported only when a test uses
the fixture. Without the extra, that test fails with a message naming the
extra, and nothing else in the session changes.

::

    def test_retry(streamsafe_emulator):
        streamsafe_emulator.push_fault("status:529;retry_after=0")
        ...

    @pytest.mark.streamsafe_emulator(event_delay=0.01, ping_interval=0.05)
    def test_slow_stream(streamsafe_emulator): ...

The module lives outside ``streamsafe.testing`` on purpose: importing any
module of that package runs its ``__init__``, which needs the extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from streamsafe.testing import Emulator

__all__ = ["pytest_configure", "streamsafe_emulator"]

_MARKER = "streamsafe_emulator"
#: The modules of the ``server`` extra the emulator needs.
_SERVER_MODULES = ("uvicorn", "starlette")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(event_delay=0.0, ping_interval=None): "
        "options of the streamsafe_emulator fixture",
    )


def _missing_server_module() -> str | None:
    """The first module of the ``server`` extra that cannot be imported, if any."""
    for name in _SERVER_MODULES:
        try:
            __import__(name)
        except ImportError:
            return name
    return None


@pytest.fixture
def streamsafe_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running :class:`streamsafe.testing.Emulator`, stopped after the test."""
    missing = _missing_server_module()
    if missing is not None:
        pytest.fail(
            f"the streamsafe_emulator fixture needs the 'server' extra ({missing} is not "
            "importable); install it with: pip install 'streamsafe[server]'",
            pytrace=False,
        )
    from streamsafe.testing import Emulator

    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        options.update(marker.kwargs)
    with Emulator(**options) as emulator:
        yield emulator
