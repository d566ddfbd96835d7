"""Print an answer as it is generated, with ``stream.text_stream``.

    python examples/text_stream.py

``text_stream`` yields only the text of the answer; errors still raise
(typed: an ``overloaded_error`` in the middle of the stream raises
``streamsafe.OverloadedError``), they are never swallowed.
"""

from __future__ import annotations

import asyncio

from _setup import MODEL, client_options

import streamsafe


async def main() -> None:
    with client_options(event_delay=0.005) as options:
        async with (
            streamsafe.AsyncClient(**options) as client,
            client.messages.stream(
                model=MODEL,
                max_tokens=200,
                messages=[{"role": "user", "content": "Describe a river in two sentences."}],
            ) as stream,
        ):
            async for text in stream.text_stream:
                print(text, end="", flush=True)
            print()
            # The stream keeps the whole message too: no need to join the pieces yourself.
            message = await stream.get_final_message()
            print(f"[{message.usage.output_tokens} tokens, stop_reason={message.stop_reason}]")


if __name__ == "__main__":
    asyncio.run(main())
