"""The drop-in ``messages.create()`` for long requests.

    python examples/long_request.py

Without ``stream=True``, ``create()`` streams underneath and returns the final
``Message``. A request that runs for many minutes therefore never sits on a
silent connection (which middleboxes drop), and its errors are the same typed
exceptions as a stream's.
"""

from __future__ import annotations

import asyncio
import time

from _setup import MODEL, client_options

import streamsafe


async def main() -> None:
    with client_options() as options:
        async with streamsafe.AsyncClient(**options) as client:
            started = time.perf_counter()
            message = await client.messages.create(
                model=MODEL,
                max_tokens=4000,
                messages=[{"role": "user", "content": "Write a long essay about rivers."}],
            )
            elapsed = time.perf_counter() - started

    print(f"received {len(message.text):,} characters in {elapsed:.1f} s")
    print(f"stop reason: {message.stop_reason}")
    print(f"usage: {message.usage.input_tokens} input, {message.usage.output_tokens} output tokens")
    print(f"begins: {message.text[:120]}…")


if __name__ == "__main__":
    asyncio.run(main())
