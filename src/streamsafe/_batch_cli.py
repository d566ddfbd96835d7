"""``streamsafe batch``: submit, wait for, read and resubmit Message Batches.

* ``submit FILE.jsonl`` — one ``{"custom_id", "params"}`` per line (checked
  locally first); prints the batch id on stdout.
* ``wait ID`` — polls until the batch ends, through failed polls; a live
  progress bar on a terminal when rich is installed, plain lines otherwise.
  ``--cancel-on-interrupt``: Ctrl-C cancels the remote batch.
* ``results ID [-o FILE]`` — every result row exactly once, as JSON Lines
  (stdout, or FILE written whole: a ``FILE.part`` renamed at the end).
* ``resubmit ID --requests FILE.jsonl`` — a new batch of the items worth
  another try (``--which``, default errored-retryable and expired); the API
  does not return params, so the original file is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ._batch_core import RESUBMIT_DEFAULT, BatchProgress
from ._batch_models import (
    BatchErrored,
    BatchOtherResult,
    BatchResult,
    BatchSucceeded,
    MessageBatch,
)
from ._errors import APIError, BatchRequestError, BatchWaitTimeoutError

__all__ = ["add_batch_parser", "run_batch"]


def add_batch_parser(commands: Any, formatter: Any) -> None:
    """Add ``batch`` and its subcommands to the ``streamsafe`` parser."""
    batch = commands.add_parser(
        "batch",
        help="submit, wait for, read and resubmit Message Batches",
        description=__doc__,
        formatter_class=formatter,
    )
    steps = batch.add_subparsers(dest="batch_command", metavar="STEP", required=True)
    submit = steps.add_parser("submit", help="submit FILE.jsonl; prints the batch id")
    submit.add_argument("file", type=Path, metavar="FILE.jsonl")
    wait = steps.add_parser("wait", help="wait for a batch to end, with progress")
    wait.add_argument("id", metavar="ID")
    wait.add_argument("--timeout", type=float, default=None, metavar="SECONDS")
    wait.add_argument("--poll", type=float, default=5.0, metavar="SECONDS", help="first poll gap")
    wait.add_argument("--cancel-on-interrupt", action="store_true", help="Ctrl-C cancels it")
    results = steps.add_parser("results", help="the result rows, exactly once, as JSON Lines")
    results.add_argument("id", metavar="ID")
    results.add_argument("-o", "--output", type=Path, metavar="FILE")
    again = steps.add_parser("resubmit", help="a new batch of the items worth another try")
    again.add_argument("id", metavar="ID")
    again.add_argument("--requests", type=Path, required=True, metavar="FILE.jsonl")
    again.add_argument(
        "--which",
        nargs="+",
        default=list(RESUBMIT_DEFAULT),
        choices=["errored-retryable", "errored", "expired", "canceled"],
    )
    for step in (submit, wait, results, again):
        step.add_argument("--base-url", metavar="URL", help="default: $ANTHROPIC_BASE_URL")


def _read_requests(path: Path) -> Iterator[Any]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise BatchRequestError(f"{path}:{number}: not JSON ({exc})") from None


def _row(item: BatchResult) -> dict[str, Any]:
    result: dict[str, Any]
    if isinstance(item, BatchSucceeded):
        result = {"type": "succeeded", "message": item.message.to_dict()}
    elif isinstance(item, BatchErrored):
        result = {"type": "errored", "error": item.error.body}
    elif isinstance(item, BatchOtherResult):
        result = item.raw
    else:
        result = {"type": item.type}
    return {"custom_id": item.custom_id, "result": result}


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _describe(progress: BatchProgress) -> str:
    counts = progress.batch.request_counts
    text = (
        f"{progress.batch.id}: {progress.batch.processing_status}, "
        f"{counts.done}/{counts.total} done, elapsed {_duration(progress.elapsed)}, "
        f"{_duration(progress.time_left)} to expiry"
    )
    if progress.failed_polls:
        text += f", {progress.failed_polls} failed polls survived"
    return text


def _progress_reporter() -> tuple[Callable[[BatchProgress], None], Callable[[], None]]:
    """A callback for ``wait`` and a function to close its display."""
    try:
        if not sys.stderr.isatty():
            raise ImportError
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:
        return (lambda p: print(_describe(p), file=sys.stderr, flush=True)), (lambda: None)
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=False
    )
    task = bar.add_task("waiting", total=None)
    bar.start()

    def report(progress: BatchProgress) -> None:
        counts = progress.batch.request_counts
        window = progress.elapsed + max(progress.time_left, 0.0)
        done = counts.done if progress.ended else None
        fraction = progress.elapsed / window if window > 0 else 0.0
        bar.update(
            task,
            description=_describe(progress),
            total=counts.total if progress.ended else 1.0,
            completed=done if done is not None else min(fraction, 1.0),
        )

    return report, bar.stop


def run_batch(args: argparse.Namespace, exit_code_for: Callable[[BaseException], int]) -> int:
    from ._sync.client import Client

    base_url: str | None = args.base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
    try:
        with Client(base_url=base_url) as client:
            return _step(client, args)
    except (APIError, BatchRequestError, BatchWaitTimeoutError, OSError) as error:
        print(f"streamsafe batch: {type(error).__name__}: {error}", file=sys.stderr)
        return 5 if isinstance(error, BatchRequestError) else exit_code_for(error)


def _step(client: Any, args: argparse.Namespace) -> int:
    batches = client.messages.batches
    if args.batch_command == "submit":
        batch: MessageBatch = batches.create(list(_read_requests(args.file)))
        print(batch.id)
        print(f"{batch.request_counts.total} requests submitted", file=sys.stderr)
        return 0
    if args.batch_command == "wait":
        report, close = _progress_reporter()
        try:
            batch = batches.wait(
                args.id,
                timeout=args.timeout,
                poll_interval=args.poll,
                max_poll_interval=max(60.0, args.poll),
                on_progress=report,
                cancel_on_exit=args.cancel_on_interrupt,
            )
        finally:
            close()
        counts = batch.request_counts
        print(
            f"{batch.id} ended: {counts.succeeded} succeeded, {counts.errored} errored, "
            f"{counts.canceled} canceled, {counts.expired} expired"
        )
        return 0
    if args.batch_command == "results":
        return _results(batches, args.id, args.output)
    again = batches.resubmit(args.id, list(_read_requests(args.requests)), which=args.which)
    if again is None:
        print("nothing to resubmit", file=sys.stderr)
        return 0
    print(again.id)
    print(f"{again.request_counts.total} requests resubmitted", file=sys.stderr)
    return 0


def _results(batches: Any, batch_id: str, output: Path | None) -> int:
    part = output.with_name(output.name + ".part") if output is not None else None
    out: IO[str] = part.open("w", encoding="utf-8") if part is not None else sys.stdout
    rows = 0
    try:
        with batches.results(batch_id) as results:
            for item in results:
                out.write(json.dumps(_row(item), ensure_ascii=False) + "\n")
                rows += 1
    finally:
        if part is not None:
            out.close()
    if part is not None and output is not None:
        part.replace(output)
        print(f"{rows} rows written to {output}", file=sys.stderr)
    return 0
