"""Give the model a tool and read the tool call it makes.

    python examples/tool_use.py

The tool's input arrives as ``input_json_delta`` fragments; the final message
holds it parsed (``block.input`` is a dict). If the stream breaks in the
middle of a tool call, the error's ``incomplete_blocks`` names the cut block:
do not execute it.
"""

from __future__ import annotations

import asyncio
import json

from _setup import MODEL, client_options

import streamsafe

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}


async def main() -> None:
    with client_options() as options:
        async with (
            streamsafe.AsyncClient(**options) as client,
            client.messages.stream(
                model=MODEL,
                max_tokens=300,
                tools=[WEATHER_TOOL],
                tool_choice={"type": "tool", "name": "get_weather"},
                messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            ) as stream,
        ):
            message = await stream.get_final_message()

    print(f"stop reason: {message.stop_reason}")
    for block in message.content:
        if isinstance(block, streamsafe.ToolUseBlock):
            print(
                f"tool call {block.id}: {block.name}({json.dumps(block.input, ensure_ascii=False)})"
            )
        elif isinstance(block, streamsafe.TextBlock):
            print(f"text: {block.text[:100]}")


if __name__ == "__main__":
    asyncio.run(main())
