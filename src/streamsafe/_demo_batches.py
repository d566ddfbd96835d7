"""The batch scene of ``streamsafe demo``: the second road for long requests.

A batch is submitted; two of its polls fail (a 529 with ``retry-after``,
then a connection reset) and the wait goes on; the results download is cut
and resumed, every row delivered once; the errored item comes out as the
``OverloadedError`` a live call would raise.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from ._async.client import AsyncClient
from ._batch_core import BatchProgress
from ._batch_models import BatchErrored, BatchSucceeded
from ._errors import OverloadedError

__all__ = ["batch_scene"]

_SCRIPT = "speed=3600;duration=600;poll=529/ra=0.2,reset;cut=1500"


async def batch_scene(
    demo: Any, client: AsyncClient, number: int, failure: type[Exception]
) -> None:
    """Run the scene; raises ``failure`` when it does not show what it claims."""
    demo.scene(
        number,
        "Message Batches: the second road for long requests",
        "async with client.messages.batches.run(requests) as results: async for item in results: "
        "… — half the price, no connection to keep up: polls through failures, "
        "every result exactly once.",
    )
    params = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Summarise a river in one line."}],
    }
    requests = [{"custom_id": f"river-{i}", "params": params} for i in range(5)]
    requests.append({"custom_id": "errored-overloaded_error-1", "params": params})
    failed: list[str] = []

    def progress(p: BatchProgress) -> None:
        if p.error is not None:
            failed.append(type(p.error).__name__)

    batches = client.messages.batches
    async with batches.run(
        requests,
        poll_interval=0.05,
        on_progress=progress,
        extra_headers={"x-streamsafe-batch": _SCRIPT},
    ) as results:
        items = [item async for item in results]
    errored = [item for item in items if isinstance(item, BatchErrored)]
    succeeded = [item for item in items if isinstance(item, BatchSucceeded)]
    table = Table(show_header=False, box=None, padding=(0, 1, 0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("batch", str(results.batch.id if results.batch else "?"))
    table.add_row("polls survived", ", ".join(failed) or "none")
    resumed = f"cut, resumed {results.resumes} time(s): {len(items)} rows, each once"
    table.add_row("download", resumed)
    table.add_row("succeeded", f"{len(succeeded)} Messages")
    for item in errored:
        try:
            raise item.error
        except OverloadedError as error:
            table.add_row(
                "errored",
                f"{item.custom_id} → [bold]{type(error).__name__}[/] "
                f"status_code={error.status_code} retryable={error.retryable}",
            )
    demo.console.print(table)
    ids = [item.custom_id for item in items]
    if len(ids) != len(set(ids)) or len(ids) != len(requests):
        raise failure(f"expected {len(requests)} distinct rows, got {ids}")
    if len(failed) != 2 or results.resumes < 1:
        raise failure(
            f"expected 2 failed polls and a resumed download: {failed}, {results.resumes}"
        )
    if len(errored) != 1 or type(errored[0].error) is not OverloadedError:
        raise failure(f"expected one OverloadedError row, got {errored}")
