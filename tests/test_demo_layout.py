"""The demo's live view fits the terminal (scripts/demo_in_tmux.py checks a real one)."""

from __future__ import annotations

import io

import pytest
from rich.cells import cell_len
from rich.console import Console, Group
from rich.text import Text

from streamsafe import _demo
from streamsafe._demo import live_view

LONG = " ".join(f"word{i} 日本語 🚀" for i in range(1500)) + " THE-END"
STATUS = Text("● 123 tokens · 45 tok/s · 1.2 s · request_id req_01abcdefghijklmnopqrstuvwx")


def terminal(width: int, height: int) -> Console:
    return Console(width=width, height=height, file=io.StringIO(), force_terminal=True)


def rendered(console: Console, view: Group) -> list[str]:
    lines = console.render_lines(view, console.options, pad=False)
    return ["".join(segment.text for segment in line) for line in lines]


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40), (40, 12), (30, 5)])
def test_live_view_is_bounded_by_the_terminal(width: int, height: int) -> None:
    console = terminal(width, height)
    lines = rendered(console, live_view(console, LONG, STATUS, "assistant", "cyan", height - 1))
    assert len(lines) <= height - 1
    assert all(cell_len(line) <= width for line in lines)
    assert lines[0].startswith("╭─ assistant ─")
    assert lines[-1].startswith("● 123 tokens")  # one line, cut with an ellipsis
    body = "".join(lines[1:-2])
    assert "THE-END" in body  # the tail is what is shown...
    assert "word0 " not in body  # ...not the start
    assert ("…" in lines[1]) == (height > 5)  # above the tail, if there is room


def test_short_text_is_shown_whole_and_final_view_is_unbounded() -> None:
    console = terminal(80, 24)
    short = rendered(console, live_view(console, "Hello there.", STATUS, "a", "cyan", 23))
    assert len(short) == 4
    assert "Hello there." in short[1]
    assert "…" not in short[1]
    final = rendered(console, live_view(console, LONG, STATUS, "a", "green", None))
    assert len(final) > 100
    assert "word0 " in "".join(final)


def test_the_demo_bounds_every_live_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real demo on a fake 80x10 terminal: every live frame fits in 9 lines."""
    frames: list[tuple[int | None, int]] = []

    def recording_view(
        console: Console, text: str, status: Text, title: str, style: str, max_height: int | None
    ) -> Group:
        view = live_view(console, text, status, title, style, max_height)
        frames.append((max_height, len(rendered(console, view))))
        return view

    monkeypatch.setattr(_demo, "live_view", recording_view)
    console = Console(width=80, height=10, file=io.StringIO(), force_terminal=True)
    assert _demo.run(live_delay=0.003, console=console) == 0
    live = [lines for max_height, lines in frames if max_height is not None]
    assert live
    assert all(max_height == 9 for max_height, _ in frames if max_height is not None)
    assert max(live) <= 9
    assert max(live) == 9  # some frames were cropped to the bound
    final = [lines for max_height, lines in frames if max_height is None]
    assert len(final) == 2  # scenes 1 and 2 print their whole panel once, at the end
    assert max(final) > 9
