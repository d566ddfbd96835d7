"""Message Batches: many requests at half the price, no connection to keep up.

    python examples/batches.py

``client.messages.batches.run(...)`` submits the requests, waits for the
batch to end (polling through resets, timeouts and 529s), then yields every
result exactly once, typed: a ``Message``, or the exception a live call would
have raised. ``resubmit`` sends again what is worth another try. Against the
emulator, the custom id ``errored-overloaded_error-...`` scripts an item that
fails with ``overloaded_error``.
"""

from __future__ import annotations

import asyncio

from _setup import MODEL, client_options, using_emulator

import streamsafe

QUESTIONS = ["What is a river?", "What is a delta?", "What is an estuary?"]


def progress(p: streamsafe.BatchProgress) -> None:
    counts = p.batch.request_counts
    print(f"  {p.batch.processing_status}: {counts.done}/{counts.total} done, {p.polls} polls")


async def main() -> None:
    requests = [
        {
            "custom_id": f"question-{i}",
            "params": {
                "model": MODEL,
                "max_tokens": 200,
                "messages": [{"role": "user", "content": question}],
            },
        }
        for i, question in enumerate(QUESTIONS)
    ]
    if using_emulator():
        requests.append(
            {"custom_id": "errored-overloaded_error-1", "params": requests[0]["params"]}
        )
    poll = 0.05 if using_emulator() else 10.0

    with client_options() as options:
        async with streamsafe.AsyncClient(**options) as client:
            batches = client.messages.batches
            async with batches.run(requests, poll_interval=poll, on_progress=progress) as results:
                async for item in results:
                    if isinstance(item, streamsafe.BatchSucceeded):
                        print(f"{item.custom_id}: {item.message.text[:60]!r}…")
                    elif isinstance(item, streamsafe.BatchErrored):
                        error = item.error
                        print(
                            f"{item.custom_id}: {type(error).__name__} retryable={error.retryable}"
                        )
                    else:
                        print(f"{item.custom_id}: {item.type}")
            assert results.batch is not None
            print(f"batch {results.batch.id} ended after {results.resumes} resumed downloads")
            again = await batches.resubmit(results.batch, requests)
            if again is None:
                print("nothing worth another try")
            else:
                print(f"resubmitted {again.request_counts.total} item(s) as {again.id}")


if __name__ == "__main__":
    asyncio.run(main())
