"""Iterate over the typed events of a stream with ``async for``.

    python examples/async_events.py

Each event is a typed model (``MessageStartEvent``, ``ContentBlockDeltaEvent``,
...). An event type the library does not know yet arrives as ``UnknownEvent``
with its raw JSON (``event.to_dict()``) instead of crashing the stream.
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
                max_tokens=64,
                messages=[{"role": "user", "content": "Say hello."}],
            ) as stream,
        ):
            print(f"request id: {stream.request_id}")
            async for event in stream:
                if isinstance(event, streamsafe.MessageStartEvent):
                    print(f"message_start        id={event.message.id} model={event.message.model}")
                elif isinstance(event, streamsafe.ContentBlockStartEvent):
                    print(f"content_block_start  #{event.index} {event.content_block.type}")
                elif isinstance(event, streamsafe.ContentBlockDeltaEvent):
                    if isinstance(event.delta, streamsafe.TextDelta):
                        print(f"content_block_delta  #{event.index} {event.delta.text!r}")
                    else:
                        print(f"content_block_delta  #{event.index} {event.delta.type}")
                elif isinstance(event, streamsafe.ContentBlockStopEvent):
                    print(f"content_block_stop   #{event.index}")
                elif isinstance(event, streamsafe.MessageDeltaEvent):
                    print(
                        f"message_delta        stop_reason={event.delta.stop_reason} "
                        f"output_tokens={event.usage.output_tokens}"
                    )
                elif isinstance(event, streamsafe.MessageStopEvent):
                    print("message_stop")
                else:  # ping, or an event type newer than this library
                    print(f"{event.type}")


if __name__ == "__main__":
    asyncio.run(main())
