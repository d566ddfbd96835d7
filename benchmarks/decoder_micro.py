"""Micro-benchmark: SSE decoding of an Anthropic-like stream, streamsafe vs httpx-sse.

Run with ``.venv/bin/python benchmarks/decoder_micro.py [--events N] [--repeat R]``.

The stream is N events of the Messages streaming shape (mostly
``content_block_delta`` text deltas, ~125 bytes each, framed by the usual
``message_start`` / ``content_block_start`` / ``ping`` / ``..._stop`` events),
cut into 16 KiB chunks. Contestants:

* ``streamsafe SSEDecoder``: ``SSEDecoder.feed()`` over the chunk list.
* ``httpx-sse decoders``: the two classes httpx-sse 0.4.3 itself uses in
  ``EventSource.iter_sse()``, driven exactly the way it drives them: an
  incremental UTF-8 text decoder (what ``response.iter_text()`` does), its
  ``SSELineDecoder`` to split lines, ``line.rstrip("\\n")`` and its
  ``SSEDecoder.decode()`` per line. They live in the private module
  ``httpx_sse._decoders``; this is the decoder-only cost, no HTTP machinery.
* ``... via httpx``: the same body served by ``httpx.MockTransport`` in 16 KiB
  chunks; httpx-sse through its public ``EventSource.iter_sse()``, streamsafe
  through ``response.iter_bytes()`` + ``SSEDecoder.feed()``.
* ``+ json.loads``: the same, parsing every event's data with ``json.loads``.

Every contestant must produce the same (event, data) sequence; the script
checks that before timing. Contestants run round-robin, R times each, and the
best time is reported. By default each event is counted and dropped, as a
streaming consumer would; ``--keep`` appends them all to a list instead (the
garbage collector then does noticeably more work, on both sides).
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import time
from collections.abc import Callable, Iterator

import httpx
from httpx_sse import EventSource, ServerSentEvent
from httpx_sse._decoders import SSEDecoder as HttpxSSEDecoder
from httpx_sse._decoders import SSELineDecoder

from streamsafe._decoder import SSEDecoder

CHUNK = 16 * 1024

_DELTA = (
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"hello world "}}\n\n'
)


def build_stream(n_events: int) -> bytes:
    head = [
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
        b'"type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,'
        b'"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}\n\n',
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n',
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ]
    tail = [
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
        b'"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}\n\n',
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    return b"".join(head) + _DELTA * (n_events - len(head) - len(tail)) + b"".join(tail)


def chunked(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- contestants ------------------------------------------------------------
#
# Each contestant hands every event to ``sink`` as soon as it is decoded, the
# way a streaming consumer would: list.append to keep them all, or a counter.

Sink = Callable[[ServerSentEvent], object]


def streamsafe_decoder(chunks: list[bytes], sink: Sink) -> None:
    decoder = SSEDecoder()
    for chunk in chunks:
        for event in decoder.feed(chunk):
            sink(event)
    for event in decoder.end():
        sink(event)


def httpx_sse_decoders(chunks: list[bytes], sink: Sink) -> None:
    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    line_decoder = SSELineDecoder()
    decoder = HttpxSSEDecoder()

    def lines() -> Iterator[str]:
        for chunk in chunks:
            yield from line_decoder.decode(text_decoder.decode(chunk))
        yield from line_decoder.flush()

    for line in lines():
        event = decoder.decode(line.rstrip("\n"))
        if event is not None:
            sink(event)


class _ChunkStream(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)


def _client(chunks: list[bytes]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=_ChunkStream(chunks)
        )

    return httpx.Client(transport=httpx.MockTransport(handler))


def httpx_sse_via_httpx(chunks: list[bytes], sink: Sink) -> None:
    with _client(chunks) as client, client.stream("GET", "http://test/") as response:
        for event in EventSource(response).iter_sse():
            sink(event)


def streamsafe_via_httpx(chunks: list[bytes], sink: Sink) -> None:
    with _client(chunks) as client, client.stream("GET", "http://test/") as response:
        decoder = SSEDecoder()
        for chunk in response.iter_bytes():
            for event in decoder.feed(chunk):
                sink(event)
        for event in decoder.end():
            sink(event)


Contestant = Callable[[list[bytes], Sink], None]


def with_json(decode: Contestant) -> Contestant:
    def run(chunks: list[bytes], sink: Sink) -> None:
        loads = json.loads
        decode(chunks, lambda event: sink(loads(event.data)))

    return run


def collect(fn: Contestant, chunks: list[bytes]) -> list[ServerSentEvent]:
    events: list[ServerSentEvent] = []
    fn(chunks, events.append)
    return events


# --- harness ----------------------------------------------------------------


def timed(fn: Contestant, chunks: list[bytes], keep: bool) -> float:
    kept: list[object] = []
    count = 0

    def counter(_: object) -> None:
        nonlocal count
        count += 1

    start = time.perf_counter()
    fn(chunks, kept.append if keep else counter)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep every decoded event in a list (more GC work) instead of counting them",
    )
    args = parser.parse_args(argv)

    stream = build_stream(args.events)
    lf = chunked(stream)
    crlf = chunked(stream.replace(b"\n", b"\r\n"))
    with_ids = chunked(
        b"".join(
            b"id: %d\n%s" % (i, block + b"\n\n")
            for i, block in enumerate(stream.split(b"\n\n")[:-1])
        )
    )

    reference = [(e.event, e.data) for e in collect(httpx_sse_decoders, lf)]
    assert len(reference) == args.events
    for fn, chunks in (
        (streamsafe_decoder, lf),
        (streamsafe_decoder, crlf),
        (streamsafe_decoder, with_ids),
        (httpx_sse_via_httpx, lf),
        (streamsafe_via_httpx, lf),
    ):
        assert [(e.event, e.data) for e in collect(fn, chunks)] == reference, fn.__name__

    # (label, stream kind, httpx-sse contestant, streamsafe contestant, chunks)
    pairs: list[tuple[str, str, Contestant, Contestant, list[bytes]]] = [
        ("decoder only", "LF", httpx_sse_decoders, streamsafe_decoder, lf),
        ("decoder only", "CRLF", httpx_sse_decoders, streamsafe_decoder, crlf),
        ("decoder only", "LF + id", httpx_sse_decoders, streamsafe_decoder, with_ids),
        ("via httpx", "LF", httpx_sse_via_httpx, streamsafe_via_httpx, lf),
        (
            "via httpx + json.loads",
            "LF",
            with_json(httpx_sse_via_httpx),
            with_json(streamsafe_via_httpx),
            lf,
        ),
    ]
    # Round-robin repetitions, best time kept: background load hits both sides alike.
    best = [[float("inf"), float("inf")] for _ in pairs]
    for _ in range(args.repeat):
        for row, (_label, _kind, theirs, ours, chunks) in enumerate(pairs):
            for side, fn in enumerate((theirs, ours)):
                best[row][side] = min(best[row][side], timed(fn, chunks, args.keep))

    print(
        f"{args.events:,} events, {len(stream) / args.events:.0f} B/event, "
        f"{CHUNK // 1024} KiB chunks, best of {args.repeat}, events "
        f"{'kept in a list' if args.keep else 'counted'}; Python {sys.version.split()[0]}"
    )
    header = f"{'pipeline':<24} {'stream':<8} {'httpx-sse ev/s':>15} {'streamsafe ev/s':>16}"
    print(header + f" {'speed-up':>9}")
    print("-" * (len(header) + 10))
    for (label, kind, *_), (theirs, ours) in zip(pairs, best, strict=True):
        print(
            f"{label:<24} {kind:<8} {args.events / theirs:>15,.0f} {args.events / ours:>16,.0f}"
            f" {theirs / ours:>8.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
