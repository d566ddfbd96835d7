"""Generate the sync I/O shells of streamsafe from their async originals.

Every I/O shell is written once, as async code, in a package directory named
``_async`` (``src/streamsafe/_async/``, ``src/streamsafe/transport/_async/``).
This script writes its sync twin to the sibling ``_sync`` directory, file for
file, by the textual rules below (the approach of httpcore's unasync script),
then lets ruff apply the project's safe fixes (imports sorted and pruned,
nested ``with`` blocks merged) and format the result, so that the
generated file passes the linters as it is. Each generated file starts with a
header naming its source; never edit one by hand.

    python scripts/unasync.py           # regenerate every _sync file
    python scripts/unasync.py --check   # exit 1 if any _sync file differs (CI)

The rules, applied in this order to the whole text of an async module:

==============================================  ========================================
async                                           sync
==============================================  ========================================
the lines from ``# unasync: begin async only``  dropped, both marker lines included
to ``# unasync: end async only``
a line ending ``# unasync: async only``         dropped
``async def`` / ``async with`` / ``async for``  ``def`` / ``with`` / ``for``
``await it.__anext__()``                        ``next(it)``
``await x``                                     ``x``
``Awaitable[X]`` (X a single name)              ``X``
``for x in y: yield x``                         ``yield from y``
``__aenter__`` ``__aexit__`` ``__aiter__``      ``__enter__`` ``__exit__``
``__anext__``                                   ``__iter__`` ``__next__``
``AsyncIterator`` ``AsyncIterable``             ``Iterator`` ``Iterable``
``AsyncGenerator``                              ``Generator``
``asynccontextmanager``                         ``contextmanager``
``aclose`` ``aread`` ``aiter_bytes``            ``close`` ``read`` ``iter_bytes``
``aiter_raw`` ``aiter_lines`` ``aiter_sse``     ``iter_raw`` ``iter_lines`` ``iter_sse``
``handle_async_request``                        ``handle_request``
``StopAsyncIteration``                          ``StopIteration``
``httpx.AsyncByteStream``                       ``httpx.SyncByteStream``
``enter_async_context`` (an exit stack's)       ``enter_context``
names in ``NAMES`` (``aconnect_events`` ...)    their sync names
``AsyncX`` / ``_AsyncX`` (any capitalised X)    ``X`` / ``_X``
``._async`` in a module path                    ``._sync``
"an async" / "An async" in prose                "a sync" / "A sync"
``# noqa: ASYNCnnn`` (async-only lint rules)    dropped
==============================================  ========================================

So an async shell names its twin-aware helpers ``AsyncX`` (``AsyncShield``,
``AsyncDeadline``, ``AsyncClock``, ``AsyncSectionLock``, ``AsyncNotify`` in
:mod:`streamsafe._twins`) and the sync code gets ``X``.
Code that has no sync meaning (``__await__``, a comment about the event loop)
is marked: one line with a trailing ``# unasync: async only``, several lines
between the two block markers, each a comment line of its own, at any indent::

    # unasync: begin async only
    def __await__(self) -> Generator[Any, None, AsyncThing]:
        return self._open().__await__()
    # unasync: end async only

Blocks do not nest. A marker left in the generated text (a block without its
end, a misspelt marker) is an error, in ``--check`` too.
Code that neither twin needs in a different form does not belong in an
``_async`` module: put it in a shared (sans-IO) module both twins import.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src"

#: Project names whose sync twin does not follow the ``AsyncX`` -> ``X`` rule.
NAMES: dict[str, str] = {
    "aconnect_events": "connect_events",
    "aconnect_message_stream": "connect_message_stream",
    "aopen_message_stream": "open_message_stream",
    "_aclose_shielded": "_close_shielded",
    "arun_with_retries": "run_with_retries",
    "_aread_rejected": "_read_rejected",
    "aclose_quietly": "close_quietly",
    "default_async_client": "default_sync_client",
    "keepalive_transport": "sync_keepalive_transport",
    "get_async_backend": "get_sync_backend",
}

#: Marks the start and the end of lines only async code has (see the docstring).
BEGIN_ASYNC_ONLY = "# unasync: begin async only"
END_ASYNC_ONLY = "# unasync: end async only"

RULES: list[tuple[str, str]] = [  # the table above, as regular expressions
    (
        # A block never spans another BEGIN: a forgotten END leaves its BEGIN in the output
        # (an error), instead of the shared code up to the next block's END being dropped.
        rf"(?ms)^[ \t]*{re.escape(BEGIN_ASYNC_ONLY)}\n"
        rf"(?:(?!^[ \t]*{re.escape(BEGIN_ASYNC_ONLY)}\n).)*?"
        rf"^[ \t]*{re.escape(END_ASYNC_ONLY)}\n",
        "",
    ),
    (r"(?m)^[^\n]*# unasync: async only\n", ""),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ([\w.]+)\.__anext__\(\)", r"next(\1)"),
    (r"\bawait ", ""),
    (r"\bAwaitable\[(\w+)\]", r"\1"),
    (r"(?m)^( *)for (\w+) in ([^\n]+):\n\1    yield \2\n", r"\1yield from \3\n"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncIterable\b", "Iterable"),
    (r"\bAsyncGenerator\b", "Generator"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_(bytes|raw|lines|sse)\b", r"iter_\1"),
    (r"\bhandle_async_request\b", "handle_request"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\bhttpx\.AsyncByteStream\b", "httpx.SyncByteStream"),
    (r"\benter_async_context\b", "enter_context"),
    *((rf"\b{re.escape(name)}\b", sync) for name, sync in NAMES.items()),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\b_Async([A-Z]\w*)", r"_\1"),
    (r"\._async\b", "._sync"),
    (r"\bAn async\b", "A sync"),
    (r"\ban async\b", "a sync"),
    (r"  # noqa: ASYNC\d+", ""),
]

_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in RULES]


def header(source: Path) -> str:
    relative = source.relative_to(ROOT).as_posix()
    return f"# generated from {relative} by scripts/unasync.py: do not edit\n"


def unasync_text(text: str) -> str:
    """The sync twin of an async module's text (the rules only, no header, no ruff).

    Raises :class:`ValueError` if a marker survives the rules: a block whose
    begin or end is missing, or a misspelt marker, would otherwise leave
    async-only code in the sync twin, or drop code meant for both.
    """
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    for number, line in enumerate(text.splitlines(), 1):
        if "# unasync:" in line:
            raise ValueError(f"line {number} of the output keeps a marker: {line.strip()!r}")
    return text


def _ruff() -> str:
    beside = Path(sys.executable).parent / "ruff"
    found = str(beside) if beside.exists() else shutil.which("ruff")
    if found is None:
        sys.exit("unasync: ruff not found (install the test extra)")
    return found


def _ruff_pipe(arguments: list[str], text: str, target: Path) -> str:
    result = subprocess.run(
        [_ruff(), *arguments, "--stdin-filename", str(target), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"unasync: ruff failed on {target}:\n{result.stderr}")
    return result.stdout


def generate(source: Path, target: Path) -> str:
    try:
        text = header(source) + unasync_text(source.read_text(encoding="utf-8"))
    except ValueError as error:
        sys.exit(f"unasync: {source.relative_to(ROOT)}: {error}")
    # The project's own safe fixes: imports the rules made duplicate or unused,
    # ``with`` blocks that became nestable (SIM117), and the like.
    text = _ruff_pipe(["check", "--fix-only", "--quiet"], text, target)
    return _ruff_pipe(["format", "--quiet"], text, target)


def pairs() -> list[tuple[Path, Path]]:
    found = []
    for directory in sorted(SOURCE.rglob("_async")):
        if directory.is_dir():
            for source in sorted(directory.glob("*.py")):
                found.append((source, directory.parent / "_sync" / source.name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a _sync file differs")
    check = parser.parse_args().check
    stale: list[str] = []
    expected = {target for _, target in pairs()}
    for source, target in pairs():
        text = generate(source, target)
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if text == current:
            continue
        if check:
            stale.append(str(target.relative_to(ROOT)))
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    str(target.relative_to(ROOT)),
                    f"generated from {source.relative_to(ROOT)}",
                )
            )
        else:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"unasync: wrote {target.relative_to(ROOT)}")
    # A _sync module without an async original is left over from a removed one.
    for directory in sorted(SOURCE.rglob("_sync")):
        for orphan in sorted(set(directory.glob("*.py")) - expected):
            if orphan.name != "__init__.py":
                stale.append(f"{orphan.relative_to(ROOT)} (no async original)")
    if stale:
        print("unasync: out of date: " + ", ".join(stale), file=sys.stderr)
        if check:
            print("run: python scripts/unasync.py", file=sys.stderr)
        return 1
    if check:
        print(f"unasync: {len(expected)} generated files up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
