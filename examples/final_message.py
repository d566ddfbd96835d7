"""Consume a stream and await the accumulated final ``Message``.

    python examples/final_message.py

``get_final_message()`` joins every delta (text, tool input JSON, thinking,
citations, usage) in linear time. If the stream fails or ends early it raises
instead of returning a silently truncated "final" message.
"""

from __future__ import annotations

import asyncio

from _setup import MODEL, client_options

import streamsafe


async def main() -> None:
    with client_options() as options:
        async with (
            streamsafe.AsyncClient(**options) as client,
            client.messages.stream(
                model=MODEL,
                max_tokens=300,
                system="You are concise.",
                messages=[{"role": "user", "content": "What is a server-sent event?"}],
            ) as stream,
        ):
            message = await stream.get_final_message()

    print(f"id:          {message.id}")
    print(f"request id:  {message.request_id}")
    print(f"stop reason: {message.stop_reason}")
    print(f"usage:       {message.usage.input_tokens} in, {message.usage.output_tokens} out")
    for block in message.content:
        if isinstance(block, streamsafe.TextBlock):
            print(f"text:        {block.text[:200]}")
    # to_dict() gives the JSON the API sent, fields unknown to streamsafe included,
    # ready to be sent back as the assistant turn of the next request.
    print(f"as JSON:     {len(message.to_json())} characters")


if __name__ == "__main__":
    asyncio.run(main())
