from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from streamsafe.testing import Emulator


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """An emulator of the Messages API on loopback, one per test module."""
    from streamsafe.testing import Emulator  # only the modules that use it import the extra

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator, with no recorded request and no queued fault."""
    emulator.clear()
    yield emulator
    emulator.clear()
