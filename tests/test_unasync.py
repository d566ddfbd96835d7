"""The text rules of ``scripts/unasync.py`` (its ``--check`` compares the generated files)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "unasync.py"


@pytest.fixture(scope="module")
def unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


MANAGER = """\
class AsyncManager:
    async def __aenter__(self) -> AsyncThing:
        return await self._opener()

    # unasync: begin async only
    def __await__(self) -> Generator[Any, None, AsyncThing]:
        return self._opener().__await__()

    # unasync: end async only
    def after(self) -> None:
        pass
"""


def test_a_block_marked_async_only_is_dropped_with_its_markers(unasync: ModuleType) -> None:
    assert unasync.unasync_text(MANAGER) == (
        "class Manager:\n"
        "    def __enter__(self) -> Thing:\n"
        "        return self._opener()\n"
        "\n"
        "    def after(self) -> None:\n"
        "        pass\n"
    )


def test_two_blocks_are_dropped_apart_keeping_what_is_between(unasync: ModuleType) -> None:
    text = (
        "# unasync: begin async only\nfirst = 1\n# unasync: end async only\n"
        "kept = 2\n"
        "    # unasync: begin async only\n    second = 3\n    # unasync: end async only\n"
    )
    assert unasync.unasync_text(text) == "kept = 2\n"


def test_a_line_marked_async_only_is_dropped(unasync: ModuleType) -> None:
    text = "close = aclose  # unasync: async only\nkept = 1\n"
    assert unasync.unasync_text(text) == "kept = 1\n"


@pytest.mark.parametrize(
    "text",
    [
        "# unasync: begin async only\nlost = 1\n",  # no end
        "kept = 1\n# unasync: end async only\n",  # no begin
        "# unasync: begin async-only\nx = 1\n# unasync: end async-only\n",  # misspelt
        # an END forgotten before the next block: the shared code between them is kept
        "# unasync: begin async only\nx = 1\nshared = 2\n"
        "# unasync: begin async only\ny = 3\n# unasync: end async only\n",
    ],
)
def test_a_marker_left_over_is_an_error(unasync: ModuleType, text: str) -> None:
    with pytest.raises(ValueError, match="keeps a marker"):
        unasync.unasync_text(text)


def test_awaitables_of_a_name_become_the_name(unasync: ModuleType) -> None:
    text = "opener: Callable[[], Awaitable[AsyncMessageStream]]\nx: Awaitable[_T]\n"
    assert unasync.unasync_text(text) == "opener: Callable[[], MessageStream]\nx: _T\n"


def test_the_retry_loop_takes_its_sync_name(unasync: ModuleType) -> None:
    text = "return await arun_with_retries(policy, what, attempt)\n"
    assert unasync.unasync_text(text) == "return run_with_retries(policy, what, attempt)\n"
