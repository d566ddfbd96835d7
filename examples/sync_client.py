"""The synchronous client: the same API without async/await.

    python examples/sync_client.py

``streamsafe.Client`` mirrors ``AsyncClient``: ``messages.stream()``,
``messages.create()`` and ``messages.count_tokens()``, the same typed errors
and retries.
"""

from __future__ import annotations

from _setup import MODEL, client_options

import streamsafe

MESSAGES = [{"role": "user", "content": "Name three rivers."}]


def main() -> None:
    with client_options(event_delay=0.005) as options, streamsafe.Client(**options) as client:
        count = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
        print(f"the prompt is {count.input_tokens} tokens")

        with client.messages.stream(model=MODEL, max_tokens=120, messages=MESSAGES) as stream:
            for text in stream.text_stream:
                print(text, end="", flush=True)
            print()
            message = stream.get_final_message()
        print(f"[stop_reason={message.stop_reason}, request_id={message.request_id}]")


if __name__ == "__main__":
    main()
