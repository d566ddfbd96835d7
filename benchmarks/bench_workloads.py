"""Deterministic Messages-API SSE streams for the benchmarks.

Every workload is a complete, well-formed stream in the wire format of the
Anthropic Messages API (compact JSON, ``event:`` + ``data:`` lines, UTF-8):
``message_start``, a ``ping``, one content block with its deltas,
``content_block_stop``, ``message_delta`` and ``message_stop``.

The same seed always gives the same bytes, so every implementation in a run —
and every run on every machine — parses exactly the same input.

* :func:`text_events` — one text block split over ``n`` ``text_delta`` events
  of about ten characters each (words, punctuation, newlines, escaped quotes
  and a few Latin-1 letters), about 124 bytes per event on the wire.
* :func:`tool_events` — one ``tool_use`` block whose input JSON (about 50
  characters per delta) is split over ``n`` ``input_json_delta`` events.

:func:`iter_chunks` cuts any event iterator into fixed-size chunks lazily (the
memory workload never holds the whole stream); :func:`build` materialises a
workload for the in-memory benchmarks.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

CHUNK_SIZE = 16 * 1024
MODEL = "claude-sonnet-4-6"
REQUEST_ID = "req_bench_0001"
TOOL_CHARS_PER_DELTA = 50

_VOCABULARY = (
    "the stream of tokens arrives one delta at a time and the client joins them "
    "into a message while the server keeps sending events until the model stops "
    "a parser should cost almost nothing above reading the bytes from the "
    "socket latency throughput memory connection buffer decoder accumulator "
    "snapshot"
)
_WORDS = tuple(_VOCABULARY.split())
_LATIN1_WORDS = ("café", "naïve", "über", "façade", "señor", "déjà")
_PUNCTUATION = (",", ".", ";", ":", "!", "?")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _frame(event_type: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event_type}\ndata: {_dumps(payload)}\n\n".encode()


def _message_start(message_id: str) -> bytes:
    return _frame(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 25,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 1,
                },
            },
        },
    )


def _closing(stop_reason: str, output_tokens: int) -> Iterator[bytes]:
    yield _frame("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _frame(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )
    yield _frame("message_stop", {"type": "message_stop"})


#: Events a stream carries besides its deltas (start, ping, block start/stop, delta, stop).
FRAMING_EVENTS = 6


def _text_piece(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.02:
        return "\n\n"
    if roll < 0.04:
        return ' "' + rng.choice(_WORDS) + '"'
    if roll < 0.06:
        return " " + rng.choice(_LATIN1_WORDS)
    words = " " + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 2)))
    if roll > 0.9:
        words += rng.choice(_PUNCTUATION)
    return words


def text_deltas(n: int, seed: int = 1, pieces_per_delta: int = 1) -> Iterator[str]:
    """The ``n`` text fragments of a text workload, in order.

    A fragment is ``pieces_per_delta`` pieces of about ten characters each.
    """
    rng = random.Random(seed)
    if pieces_per_delta == 1:
        for _ in range(n):
            yield _text_piece(rng)
        return
    for _ in range(n):
        yield "".join(_text_piece(rng) for _ in range(pieces_per_delta))


def text_events(n: int, seed: int = 1, pieces_per_delta: int = 1) -> Iterator[bytes]:
    """A text stream with ``n`` ``text_delta`` events (plus the framing events)."""
    yield _message_start(f"msg_bench_text_{n}")
    yield _frame(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield _frame("ping", {"type": "ping"})
    for piece in text_deltas(n, seed, pieces_per_delta):
        yield _frame(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            },
        )
    yield from _closing("end_turn", n)


def tool_input(n: int, seed: int = 2) -> str:
    """A tool input JSON document of about ``n * 50`` characters."""
    rng = random.Random(seed)
    target = n * TOOL_CHARS_PER_DELTA
    lines: list[str] = []
    size = 0
    while size < target * 0.6:
        indent = "    " * rng.randint(0, 3)
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 7)))
        line = f'{indent}log("{words}")  # {rng.choice(_LATIN1_WORDS)}'
        lines.append(line)
        size += len(line) + 4
    items: list[dict[str, Any]] = []
    doc: dict[str, Any] = {
        "path": f"src/generated/module_{n}.py",
        "content": "\n".join(lines),
        "items": items,
    }
    while len(_dumps(doc)) < target:
        items.extend(
            {
                "id": len(items) + k,
                "name": rng.choice(_WORDS),
                "tags": [rng.choice(_WORDS) for _ in range(3)],
                "score": round(rng.random(), 4),
                "ok": rng.random() < 0.5,
            }
            for k in range(max(1, (target - len(_dumps(doc))) // 90))
        )
    return _dumps(doc)


def split_evenly(text: str, n: int) -> list[str]:
    """``text`` cut into ``n`` consecutive pieces of (almost) equal length."""
    bounds = [len(text) * i // n for i in range(n + 1)]
    return [text[bounds[i] : bounds[i + 1]] for i in range(n)]


def tool_events(n: int, seed: int = 2) -> Iterator[bytes]:
    """A stream with one tool_use block whose input arrives in ``n`` ``input_json_delta``."""
    yield _message_start(f"msg_bench_tool_{n}")
    yield _frame(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "tool_use",
                "id": f"toolu_bench_{n}",
                "name": "write_file",
                "input": {},
            },
        },
    )
    yield _frame("ping", {"type": "ping"})
    for piece in split_evenly(tool_input(n, seed), n):
        yield _frame(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            },
        )
    yield from _closing("tool_use", n)


def iter_chunks(events: Iterable[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Re-cut a byte stream into chunks of exactly ``size`` bytes (the last may be shorter)."""
    buffer = bytearray()
    for piece in events:
        buffer += piece
        if len(buffer) >= size:
            whole = len(buffer) - len(buffer) % size
            view = memoryview(buffer)
            for start in range(0, whole, size):
                yield bytes(view[start : start + size])
            view.release()
            del buffer[:whole]
    if buffer:
        yield bytes(buffer)


@dataclass(frozen=True)
class Workload:
    """A materialised stream: its chunks, how many events and deltas it carries."""

    kind: str
    deltas: int
    chunks: tuple[bytes, ...] = field(repr=False)
    events: int
    nbytes: int

    @property
    def label(self) -> str:
        return f"{self.kind} {self.deltas:,}"


def build(kind: str, deltas: int, chunk_size: int = CHUNK_SIZE) -> Workload:
    """Materialise a ``text`` or ``tool`` workload as 16 KiB chunks."""
    if kind == "text":
        source = text_events(deltas)
    elif kind == "tool":
        source = tool_events(deltas)
    else:
        raise ValueError(f"unknown workload kind {kind!r}")
    chunks = tuple(iter_chunks(source, chunk_size))
    return Workload(
        kind=kind,
        deltas=deltas,
        chunks=chunks,
        events=deltas + FRAMING_EVENTS,
        nbytes=sum(len(c) for c in chunks),
    )


def stream_body(kind: str, deltas: int) -> bytes:
    """The whole body of a workload as one bytes object (for the loopback server)."""
    return b"".join(text_events(deltas) if kind == "text" else tool_events(deltas))
