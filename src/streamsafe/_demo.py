"""``streamsafe demo``: four short scenes against the embedded emulator.

1. A message streams live, with a status line (tokens/s, request id).
2. A 200 stream fails mid-way with ``overloaded_error``: ``OverloadedError``
   is raised with ``status_code`` 529 and the partial text kept.
3. A stream fails twice before any content (a 529 with ``retry-after``, then
   an in-stream ``overloaded_error``): the client retries, the caller sees
   one clean message.
4. The drop-in ``messages.create()`` returns a long message.
5. A Message Batch (``_demo_batches``): failed polls survived, a cut
   download resumed, an errored item typed.

Everything runs on loopback with no API key, in about ten seconds. Output goes
through rich: coloured on a terminal, plain text when piped (CI logs).
Each scene checks its own claim; the demo exits 1 if one does not hold.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import anyio
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._async.client import AsyncClient
from ._demo_batches import batch_scene
from ._errors import APIError, OverloadedError
from ._events import ContentBlockDeltaEvent, MessageDeltaEvent, TextDelta
from ._retry import Backoff
from .testing import DELAY_HEADER, FAULT_HEADER, Emulator

__all__ = ["run"]

_MODEL = "claude-sonnet-4-5"
_PROMPT = [{"role": "user", "content": "Tell me how a stream of events reaches a client."}]


def run(*, live_delay: float = 0.035, console: Console | None = None) -> int:
    """Run the demo; returns the exit code (0 when every scene showed what it claims)."""
    demo = _Demo(console or Console(highlight=False), live_delay)
    return anyio.run(demo.run)


class _DemoFailure(Exception):
    """A scene did not show what it claims (a bug worth reporting)."""


@dataclass
class _LiveResult:
    text: str = ""
    tokens: int = 0
    elapsed: float = 0.0
    request_id: str | None = None
    error: APIError | None = None
    events: Counter[str] = field(default_factory=Counter)


class _RetryLog(logging.Handler):
    """Collects the ``streamsafe`` logger's retry lines while a scene runs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class _Demo:
    def __init__(self, console: Console, live_delay: float) -> None:
        self.console = console
        self.live_delay = max(0.0, live_delay)

    async def run(self) -> int:
        console = self.console
        started = time.perf_counter()
        console.rule("[bold cyan]streamsafe demo[/]")
        try:
            async with Emulator() as emu:
                console.print(
                    f"Messages API emulator on [bold]{emu.url}[/] "
                    "[dim](loopback: no network, no API key)[/]"
                )
                async with AsyncClient(
                    base_url=emu.url,
                    api_key="test",
                    backoff=Backoff(initial=0.2, maximum=1.0),
                ) as client:
                    await self.live_stream(client)
                    await self.error_mid_stream(client)
                    await self.retry_before_content(client, emu)
                    await self.drop_in_create(client)
                    await batch_scene(self, client, 5, _DemoFailure)
        except _DemoFailure as failure:
            reason = escape(str(failure))
            console.print(f"\n[bold red]✗ the demo did not go as expected:[/] {reason}")
            return 1
        elapsed = time.perf_counter() - started
        console.rule(f"[bold green]✓ demo finished in {elapsed:.1f} s[/]")
        console.print(
            "Next: [bold]python examples/text_stream.py[/], or [bold]streamsafe serve[/] and in\n"
            '      another terminal [bold]streamsafe chat "hello" --base-url http://127.0.0.1:8787[/]\n'
            "      (no API key: it is the emulator; the real API needs ANTHROPIC_API_KEY)"
        )
        return 0

    def scene(self, number: int, title: str, explanation: str) -> None:
        self.console.print()
        self.console.rule(f"[bold]{number} · {title}[/]", align="left", style="cyan")
        self.console.print(f"[dim]{explanation}[/]")

    # -- scene 1 --------------------------------------------------------------

    async def live_stream(self, client: AsyncClient) -> None:
        self.scene(
            1,
            "A message streaming live",
            "async with client.messages.stream(...) as stream: async for event in stream: …",
        )
        result = await self.stream_live(client, max_tokens=300, title="assistant")
        if result.error is not None:
            raise _DemoFailure(f"the live stream failed: {result.error!r}")

    # -- scene 2 --------------------------------------------------------------

    async def error_mid_stream(self, client: AsyncClient) -> None:
        self.scene(
            2,
            "An overloaded_error in the middle of a 200 stream",
            "The emulator sends `event: error` (overloaded_error) after 30 events. "
            "A naive client ignores it or raises a generic error; "
            "streamsafe raises OverloadedError — the same class as an HTTP 529 — "
            "and keeps the partial text.",
        )
        result = await self.stream_live(
            client,
            max_tokens=200,
            title="assistant (interrupted)",
            fault="error:overloaded_error@30",
        )
        error = result.error
        if not isinstance(error, OverloadedError):
            raise _DemoFailure(f"expected OverloadedError, got {error!r}")
        partial = error.partial_message
        partial_text = partial.text if partial is not None else ""
        table = _grid()
        table.add_row("raised", f"[bold red]streamsafe.{type(error).__name__}[/]")
        table.add_row("str(error)", escape(str(error)))
        table.add_row("status_code", f"{error.status_code}  [dim](what overloaded_error means)[/]")
        table.add_row("http_status", f"{error.http_status}  [dim](what the response said)[/]")
        table.add_row("in_stream", str(error.in_stream))
        table.add_row("retryable", str(error.retryable))
        table.add_row("request_id", str(error.request_id))
        table.add_row("incomplete_blocks", str(error.incomplete_blocks))
        table.add_row(
            "partial_message",
            f'{len(partial_text)} characters kept: "{_excerpt(partial_text, 70)}"',
        )
        self.console.print(table)
        self.console.print(
            "[dim]Not retried: content had already reached the caller, and continuing "
            "would duplicate it.[/]"
        )

    # -- scene 3 --------------------------------------------------------------

    async def retry_before_content(self, client: AsyncClient, emu: Emulator) -> None:
        self.scene(
            3,
            "A transparent retry before any content",
            "The next two requests fail before any content: an HTTP 529 with retry-after: 1, "
            "then an in-stream overloaded_error right after message_start. message_start is "
            "held back until content starts, so the client retries without the caller "
            "ever seeing the failed attempts.",
        )
        emu.push_fault("status:529;retry_after=1")
        emu.push_fault("error:overloaded_error@1")
        before = len(emu.requests)
        handler = _RetryLog()
        logger = logging.getLogger("streamsafe")
        old_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        started = time.perf_counter()
        try:
            async with client.messages.stream(
                model=_MODEL, max_tokens=60, messages=_PROMPT
            ) as stream:
                events = Counter([event.type async for event in stream])
                message = await stream.get_final_message()
        except APIError as error:
            raise _DemoFailure(f"the retried stream raised {error!r}") from error
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
        elapsed = time.perf_counter() - started
        attempts = len(emu.requests) - before

        table = _grid()
        for line in handler.lines:
            table.add_row("[yellow]log[/]", f"[dim]streamsafe:[/] {escape(line)}")
        table.add_row("requests", f"[bold]{attempts}[/] received by the emulator")
        table.add_row(
            "caller saw",
            f"[bold]one[/] clean message in {elapsed:.1f} s: "
            f"{events['message_start']} message_start, "
            f"{events['content_block_delta']} content_block_delta, "
            f"{events['message_stop']} message_stop",
        )
        table.add_row("stop_reason", str(message.stop_reason))
        table.add_row("request_id", f"{message.request_id} [dim](the attempt that succeeded)[/]")
        table.add_row("text", f"[italic]{_excerpt(message.text, 70)}[/]")
        self.console.print(table)
        if attempts != 3 or len(handler.lines) != 2 or events["message_start"] != 1:
            raise _DemoFailure(
                f"expected 3 requests, 2 retry log lines and 1 message_start; got {attempts}, "
                f"{len(handler.lines)} and {events['message_start']}"
            )

    # -- scene 4 --------------------------------------------------------------

    async def drop_in_create(self, client: AsyncClient) -> None:
        self.scene(
            4,
            "The drop-in create() for long requests",
            "await client.messages.create(...) without stream=True streams underneath — "
            "the connection is never idle for minutes — and returns the final Message, "
            "with the same typed errors.",
        )
        started = time.perf_counter()
        message = await client.messages.create(
            model=_MODEL,
            max_tokens=8000,
            messages=[{"role": "user", "content": "Write a long essay about rivers."}],
            extra_headers={DELAY_HEADER: "0"},
        )
        elapsed = time.perf_counter() - started
        text = message.text
        table = _grid()
        table.add_row("returned", f"[bold]streamsafe.Message[/] {message.id}")
        table.add_row("length", f"{len(text):,} characters, {len(text.split()):,} words")
        table.add_row("stop_reason", str(message.stop_reason))
        table.add_row(
            "usage",
            f"input_tokens={message.usage.input_tokens}, "
            f"output_tokens={message.usage.output_tokens}",
        )
        table.add_row("request_id", str(message.request_id))
        table.add_row("took", f"{elapsed:.2f} s")
        table.add_row("begins", f"[italic]{_excerpt(text, 70)}[/]")
        self.console.print(table)
        if len(text) < 5000:
            raise _DemoFailure(f"expected a long message, got {len(text)} characters")

    # -- the live view ----------------------------------------------------------

    async def stream_live(
        self, client: AsyncClient, *, max_tokens: int, title: str, fault: str | None = None
    ) -> _LiveResult:
        """Stream a message into a live panel with a status line; keep any error.

        On a terminal the panel grows token by token, up to the screen's height
        (then it shows the tail of the text); elsewhere (a pipe, a CI
        log) rich cannot redraw, so the panel is printed once, when it is done.
        """
        headers = {DELAY_HEADER: f"{self.live_delay * 1000:g}"}
        if fault is not None:
            headers[FAULT_HEADER] = fault
        result = _LiveResult()
        started = time.perf_counter()

        def render(final: bool = False) -> Group:
            result.elapsed = time.perf_counter() - started
            rate = result.tokens / result.elapsed if result.elapsed > 0 else 0.0
            if result.error is not None:
                style, state = "red", f"✗ {type(result.error).__name__} ·"
            elif final:
                style, state = "green", "✓"
            else:
                style, state = "cyan", "●"
            status = Text.assemble(
                (state, f"bold {style}"),
                f" {result.tokens} tokens · {rate:.0f} tok/s · {result.elapsed:.1f} s · ",
                ("request_id ", "dim"),
                (result.request_id or "…", "bold"),
            )
            # The live view must fit the screen: a region taller than the terminal
            # scrolls out of reach of rich's redraw and leaves stale copies behind.
            height = None if final else self.console.size.height - 1
            return live_view(self.console, result.text, status, title, style, height)

        live = Live(render(), console=self.console, auto_refresh=False, transient=True)
        interactive = self.console.is_terminal
        if interactive:
            live.start()
        try:
            async with client.messages.stream(
                model=_MODEL, max_tokens=max_tokens, messages=_PROMPT, extra_headers=headers
            ) as stream:
                result.request_id = stream.request_id
                last_refresh = 0.0
                async for event in stream:
                    result.events[event.type] += 1
                    if isinstance(event, ContentBlockDeltaEvent) and isinstance(
                        event.delta, TextDelta
                    ):
                        result.text += event.delta.text
                        # The emulator emits one word per token; the real count
                        # arrives with message_delta's usage, at the end.
                        result.tokens = len(result.text.split())
                        now = time.perf_counter()
                        if interactive and now - last_refresh >= 1 / 30:
                            live.update(render(), refresh=True)
                            last_refresh = now
                    elif isinstance(event, MessageDeltaEvent) and isinstance(
                        event.usage.output_tokens, int
                    ):
                        result.tokens = event.usage.output_tokens
        except APIError as error:
            result.error = error
            result.request_id = result.request_id or error.request_id
        finally:
            if interactive:
                live.stop()
        self.console.print(render(final=True))
        return result


def live_view(
    console: Console, text: str, status: Text, title: str, style: str, max_height: int | None
) -> Group:
    """A panel holding ``text`` above a one-line ``status``, at most ``max_height`` lines.

    When the text does not fit, the panel shows its last lines under a "…" line
    (the tail is what is streaming); ``max_height`` None shows all of it.
    """
    status = status.copy()
    status.no_wrap = True
    status.overflow = "ellipsis"
    body = Text(text or "…")
    if max_height is not None:
        room = max(max_height - 3, 1)  # the panel's two borders and the status line
        lines = body.wrap(console, max(console.size.width - 4, 1))  # borders, padding
        if len(lines) > room:
            marker = [Text("…", style="dim")] if room > 1 else []
            body = Text("\n").join([*marker, *lines[len(lines) - room + len(marker) :]])
    panel = Panel(body, title=title, title_align="left", border_style=style)
    return Group(panel, status)


def _grid() -> Table:
    """Two columns, name and value, without borders."""
    table = Table(show_header=False, box=None, padding=(0, 1, 0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def _excerpt(text: str, limit: int) -> str:
    """The start of ``text`` on one line, escaped for rich markup."""
    text = " ".join(text.split())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")
