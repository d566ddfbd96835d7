"""streamsafe under trio: the async client runs on asyncio and trio alike (via anyio).

    pip install trio   # not installed by the 'cli' extra
    python examples/trio_example.py

Two requests stream concurrently in a trio nursery.
"""

from __future__ import annotations

import sys

try:
    import trio
except ImportError:  # not in the 'cli' extra the README's first command installs
    sys.exit("trio_example.py needs trio, which is not installed: pip install trio")

from _setup import MODEL, client_options

import streamsafe


async def ask(client: streamsafe.AsyncClient, question: str) -> None:
    async with client.messages.stream(
        model=MODEL,
        max_tokens=60,
        messages=[{"role": "user", "content": question}],
    ) as stream:
        message = await stream.get_final_message()
    print(f"{question!r} -> {message.usage.output_tokens} tokens: {message.text[:70]}…")


async def main() -> None:
    with client_options() as options:
        async with streamsafe.AsyncClient(**options) as client, trio.open_nursery() as nursery:
            nursery.start_soon(ask, client, "What is a river?")
            nursery.start_soon(ask, client, "What is a mountain?")


if __name__ == "__main__":
    trio.run(main)
