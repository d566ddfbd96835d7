"""Catch streamsafe's typed errors and read what they carry.

    python examples/error_handling.py

Against the emulator each request asks for a scripted fault with the
``x-streamsafe-fault`` header (the real API ignores that header, so with
``ANTHROPIC_API_KEY`` set the requests simply succeed).

Every error has ``request_id`` (quote it to support) and ``retryable``; an
error that interrupts a stream has ``partial_message`` (what arrived before
it) and ``incomplete_blocks`` (blocks cut in the middle: never execute a cut
tool call). Status errors add ``status_code`` (529 for an overloaded_error,
even when it arrived inside a 200 stream) and ``in_stream``.
"""

from __future__ import annotations

import asyncio

from _setup import MODEL, client_options

import streamsafe

FAULTS = [
    "error:overloaded_error@8",  # an `event: error` after 8 events of a 200 stream
    "status:429;retry_after=10",  # an HTTP 429 with a retry-after header
    "status:400",  # an HTTP 400 invalid_request_error
    "html:413",  # a proxy's HTML page instead of a JSON error body
    "truncate@8",  # the stream ends without message_stop
    "reset@8",  # the connection is reset mid-stream
]


def describe(error: streamsafe.APIError) -> str:
    partial = error.partial_message
    kept = f"{len(partial.text)} characters kept" if partial is not None else "nothing received"
    return f"request_id={error.request_id} retryable={error.retryable} ({kept})"


async def ask(client: streamsafe.AsyncClient, fault: str) -> None:
    print(f"--- fault {fault}")
    try:
        async with client.messages.stream(
            model=MODEL,
            max_tokens=100,
            messages=[{"role": "user", "content": "Tell me about streams."}],
            extra_headers={"x-streamsafe-fault": fault},
        ) as stream:
            message = await stream.get_final_message()
        print(f"no error: {len(message.text)} characters")
    # Most specific first: OverloadedError is an InternalServerError is an APIStatusError.
    except streamsafe.OverloadedError as error:
        # The same class whether the API answered 529 or sent overloaded_error mid-stream.
        where = "in the stream" if error.in_stream else f"as HTTP {error.http_status}"
        print(f"OverloadedError {where}: status_code={error.status_code}, {describe(error)}")
        if error.partial_message is not None:
            print(f"  partial text: {error.partial_message.text[:60]!r}…")
    except streamsafe.RateLimitError as error:
        retry_after = error.response.headers.get("retry-after") if error.response else None
        print(f"RateLimitError: retry after {retry_after} s, {describe(error)}")
    except streamsafe.APIStatusError as error:
        # Any other error the API answered with: BadRequestError, ContentTooLargeError, ...
        print(f"{type(error).__name__} (status {error.status_code}): {error.message}")
        print(f"  {describe(error)}")
    except streamsafe.IncompleteStreamError as error:
        # The stream stopped before message_stop: never a silently truncated "final" message.
        print(f"IncompleteStreamError: {describe(error)}, cut blocks {error.incomplete_blocks}")
    except streamsafe.APIConnectionError as error:
        # Reset, refused, timed out; __cause__ holds the underlying httpx error.
        cause = type(error.__cause__).__name__
        print(f"{type(error).__name__} (caused by {cause}): {describe(error)}")


async def main() -> None:
    with client_options() as options:
        # max_retries=0: every error reaches us at once. With the default (2), the
        # retryable ones that strike before any content are first retried.
        async with streamsafe.AsyncClient(max_retries=0, **options) as client:
            for fault in FAULTS:
                await ask(client, fault)


if __name__ == "__main__":
    asyncio.run(main())
