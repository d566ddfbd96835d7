"""Run `streamsafe demo` in real terminals of given sizes (tmux) and check the screen.

    python scripts/demo_in_tmux.py              # 80x24 and 120x40
    python scripts/demo_in_tmux.py 100x30 60x20

For each size the demo runs in a detached tmux session (a private tmux server,
``-L``), then the whole pane, scrollback included, is captured with wrapped
lines joined (``capture-pane -p -J -S -``) and checked:

* the demo exited 0;
* no line is wider than the terminal (a joined line wider than it wrapped);
* each live panel's top border appears exactly once (a live region taller
  than the screen leaves a stale copy of its top in the scrollback);
* no in-progress status line (``● N tokens ·``) remains: the live view is
  transient, only the final ✓/✗ lines stay.

Exit status: 0 when every check passed, 1 when one failed, 2 when tmux is not
installed (install it: ``apt-get install tmux`` / ``brew install tmux``).
Needs the ``cli`` and ``server`` extras, like the demo. Not a pytest test: a
terminal multiplexer is not something CI can be assumed to have, and a test
that skips silently would prove nothing; run it by hand, it takes ~15 s per size.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.cells import cell_len

ROOT = Path(__file__).resolve().parent.parent
TITLES = ("assistant", "assistant (interrupted)")
MARKER = "DEMO-EXIT="
TIMEOUT = 90.0


def size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")
    return int(match[1]), int(match[2])


def tmux(socket: str, *args: str) -> str:
    result = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout


def run_demo(width: int, height: int) -> list[str]:
    """The captured pane (scrollback included, wrapped lines joined) once the demo ended."""
    socket = f"streamsafe-demo-check-{os.getpid()}-{width}x{height}"
    env = f"PYTHONPATH={shlex.quote(str(ROOT / 'src'))}"
    command = (
        f"cd {shlex.quote(str(ROOT))} && {env} {shlex.quote(sys.executable)} -m streamsafe demo; "
        f"echo {MARKER}$?; sleep {TIMEOUT:.0f}"
    )
    tmux(socket, "new-session", "-d", "-x", str(width), "-y", str(height), "-s", "demo", command)
    try:
        tmux(socket, "set-option", "-t", "demo", "history-limit", "10000")
        deadline = time.monotonic() + TIMEOUT
        while MARKER not in tmux(socket, "capture-pane", "-p", "-t", "demo"):
            if time.monotonic() > deadline:
                raise SystemExit(f"{width}x{height}: the demo did not finish in {TIMEOUT:.0f} s")
            time.sleep(0.25)
        captured = tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-t", "demo")
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    lines = [line.rstrip() for line in captured.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def check(width: int, height: int, lines: list[str]) -> list[str]:
    """The problems found in a captured pane (empty: all good)."""
    problems: list[str] = []
    exit_lines = [line for line in lines if line.startswith(MARKER)]
    if exit_lines != [f"{MARKER}0"]:
        problems.append(f"the demo's exit status: {exit_lines or 'missing'}")
    for number, line in enumerate(lines, 1):
        if cell_len(line) > width:
            problems.append(f"line {number} is {cell_len(line)} cells wide: {line[:60]!r}…")
    for title in TITLES:
        tops = [n for n, line in enumerate(lines, 1) if line.startswith(f"╭─ {title} ─")]
        if len(tops) != 1:
            problems.append(f"panel {title!r}: {len(tops)} top borders (lines {tops}), want 1")
    stale = [n for n, line in enumerate(lines, 1) if re.match(r"● \d+ tokens ·", line)]
    if stale:
        problems.append(f"stale in-progress status lines: {stale}")
    if not any("demo finished" in line for line in lines):
        problems.append("no 'demo finished' line")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=size, default=[(80, 24), (120, 40)])
    parser.add_argument("--show", action="store_true", help="print each captured pane")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed: nothing was checked (apt-get install tmux)", file=sys.stderr)
        return 2
    failed = False
    for width, height in args.sizes:
        lines = run_demo(width, height)
        if args.show:
            print("\n".join(lines))
        problems = check(width, height, lines)
        verdict = "ok" if not problems else "FAILED"
        print(f"{width}x{height}: {verdict} ({len(lines)} lines captured, scrollback included)")
        for problem in problems:
            print(f"  - {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
