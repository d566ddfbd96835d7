"""Tests for the sans-IO SSE decoder (``streamsafe._decoder.SSEDecoder``).

Rule numbers (R1...) and section numbers refer to ``docs/sse.md``. Every table
row is decoded whole, byte by byte and in several seeded random chunkings; all
must give the same events and the same final state.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pytest
from httpx_sse import ServerSentEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from streamsafe._decoder import SSEDecoder
from streamsafe._errors import EventTooLargeError

BOM = b"\xef\xbb\xbf"

# (event type, data, id, retry)
Ev = tuple[str, str, str, int | None]


def ev(data: str, event: str = "message", id: str = "", retry: int | None = None) -> Ev:
    return (event, data, id, retry)


@dataclass(frozen=True)
class Outcome:
    events: list[Ev]
    last_event_id: str
    retry: int | None
    ended_cleanly: bool


@dataclass(frozen=True)
class Row:
    name: str
    stream: bytes
    events: list[Ev]
    last_event_id: str | None = None  # None: the id of the last event, else ""
    retry: int | None = None
    clean: bool = True
    notes: str = field(default="", compare=False)


def _as_tuple(event: ServerSentEvent) -> Ev:
    assert type(event) is ServerSentEvent
    return (event.event, event.data, event.id, event.retry)


def decode(chunks: Iterable[bytes], **kwargs: int) -> Outcome:
    """Decode with ``feed``/``end``, and check ``feed_raw``/``end_raw`` give the same."""
    decoder = SSEDecoder(**kwargs)
    raw_decoder = SSEDecoder(**kwargs)
    events: list[Ev] = []
    raw: list[Ev] = []
    for chunk in chunks:
        events += map(_as_tuple, decoder.feed(chunk))
        raw += raw_decoder.feed_raw(chunk)
    events += map(_as_tuple, decoder.end())
    raw += raw_decoder.end_raw()
    assert raw == events
    assert all(type(event) is tuple for event in raw)  # plain tuples: the GC untracks them
    assert raw_decoder.ended_cleanly is decoder.ended_cleanly
    return Outcome(events, decoder.last_event_id, decoder.retry, decoder.ended_cleanly)


def random_chunks(data: bytes, rng: random.Random, max_size: int) -> list[bytes]:
    chunks = []
    pos = 0
    while pos < len(data):
        size = rng.randint(1, max_size)
        chunks.append(data[pos : pos + size])
        pos += size
    return chunks


def chunkings(data: bytes, seed: str) -> dict[str, list[bytes]]:
    """Whole, byte by byte, and seeded random chunkings (plus empty chunks)."""
    rng = random.Random(seed)
    result = {
        "whole": [data],
        "bytewise": [data[i : i + 1] for i in range(len(data))],
    }
    for n, max_size in enumerate((2, 5, 17, 64)):
        result[f"random{n}"] = random_chunks(data, rng, max_size)
    with_empty = random_chunks(data, rng, 9)
    result["with-empty-chunks"] = [b"", *(c for chunk in with_empty for c in (chunk, b""))]
    return result


def check_all_chunkings(data: bytes, seed: str, **kwargs: int) -> Outcome:
    outcomes = {name: decode(chunks, **kwargs) for name, chunks in chunkings(data, seed).items()}
    whole = outcomes["whole"]
    for name, outcome in outcomes.items():
        assert outcome == whole, f"{name} differs from whole-stream decoding"
    return whole


# ---------------------------------------------------------------------------
# The rule table
# ---------------------------------------------------------------------------

KB2 = b"x" * 2048

ROWS: list[Row] = [
    # --- R1: always UTF-8 (the decoder sees bytes; no charset can interfere)
    Row("R1-utf8", b"data: ok\xe2\x80\xa6\n\n", [ev("ok\u2026")]),
    Row("R1-utf8-multibyte", "data: é ☃ 😀 中\n\n".encode(), [ev("é ☃ 😀 中")]),
    Row(
        "R1-utf8-in-event-and-id",
        "event: ünï\nid: ☃\ndata: x\n\n".encode(),
        [ev("x", "ünï", "☃")],
    ),
    # --- R2: one leading BOM, only at stream start
    Row("R2-bom-at-start", BOM + b"data: 1\n\n", [ev("1")]),
    Row("R2-bom-only", BOM, []),
    Row("R2-bom-then-blank", BOM + b"\n\ndata: 1\n\n", [ev("1")]),
    Row(
        "R2-second-bom-is-content",
        BOM + BOM + b"data:1\n\ndata:2\n\n",
        [ev("2")],
        notes="\\uFEFFdata is an unknown field",
    ),
    Row(
        "R2-bom-later-is-content", b"data:1\n\n" + BOM + b"data:2\n\ndata:3\n\n", [ev("1"), ev("3")]
    ),
    Row("R2-bom-inside-value", b"data: a" + BOM + b"b\n\n", [ev("a\ufeffb")]),
    Row("R2-bom-at-value-start", b"data: " + BOM + b"b\n\n", [ev("\ufeffb")]),
    Row(
        "R2-partial-bom-is-not-a-bom",
        b"\xef\xbbdata: 1\n\ndata: 2\n\n",
        [ev("2")],
        notes="EF BB + 'd' decodes to U+FFFD 'data': unknown field",
    ),
    Row("R2-bom-then-lf-is-blank", BOM + b"\ndata: 1\n\n", [ev("1")]),
    # --- R3: invalid bytes become U+FFFD per maximal subpart
    Row("R3-truncated-then-lf", b"data: \xe2\x82\ndata: x\n\n", [ev("\ufffd\nx")]),
    Row("R3-truncated-then-cr", b"data: \xe2\x82\rdata: x\r\r", [ev("\ufffd\nx")]),
    Row("R3-c0-af", b"data: \xc0\xaf\n\n", [ev("\ufffd\ufffd")]),
    Row("R3-surrogate", b"data: \xed\xa0\x80\n\n", [ev("\ufffd" * 3)]),
    Row("R3-overlong-4", b"data: \xf0\x80\x80\x80\n\n", [ev("\ufffd" * 4)]),
    Row("R3-above-max", b"data: \xf4\x90\x80\x80\n\n", [ev("\ufffd" * 4)]),
    Row("R3-lone-continuation", b"data: a\x80b\n\n", [ev("a\ufffdb")]),
    Row("R3-invalid-in-event-type", b"event: \xff\ndata: x\n\n", [ev("x", "\ufffd")]),
    Row("R3-invalid-in-id", b"id: \xfe1\ndata: x\n\n", [ev("x", id="\ufffd1")]),
    Row(
        "R3-invalid-in-name",
        b"d\xffata: x\ndata: y\n\n",
        [ev("y")],
        notes="the name is not 'data'",
    ),
    # --- R4: incremental decoding (random/bytewise chunkings split every sequence)
    Row("R4-split-4-byte", b"data: \xf0\x9f\x98\x80\xf0\x9f\x98\x81\n\n", [ev("😀😁")]),
    Row("R4-split-3-byte", "data: ☃☃☃\n\n".encode(), [ev("☃☃☃")]),
    # --- R5: three line endings, nothing else
    Row("R5-lf", b"data: a\ndata: b\n\n", [ev("a\nb")]),
    Row("R5-crlf", b"data: a\r\ndata: b\r\n\r\n", [ev("a\nb")]),
    Row("R5-cr", b"data: a\rdata: b\r\r", [ev("a\nb")]),
    Row("R5-mixed", b"data: a\rdata: b\r\ndata: c\n\r\n", [ev("a\nb\nc")]),
    Row(
        "R5-other-separators-are-content",
        "data: a\u2028b\u2029c\u0085d\x0be\x0cf\x1cg\x1dh\x1ei\n\n".encode(),
        [ev("a\u2028b\u2029c\u0085d\x0be\x0cf\x1cg\x1dh\x1ei")],
    ),
    Row(
        "R5-u2028-in-json",
        'event: delta\ndata: {"text":"a\u2028b"}\n\n'.encode(),
        [ev('{"text":"a\u2028b"}', "delta")],
    ),
    # --- R6: CR at chunk boundaries (the chunkings put a boundary everywhere)
    Row("R6-split-crlf-is-one-ending", b"data: a\r\ndata: b\r\n\r\n", [ev("a\nb")]),
    Row("R6-lone-cr-ends-line", b"data: a\rdata: b\n\n", [ev("a\nb")]),
    Row("R6-lf-cr-is-two-endings", b"data: a\n\rdata: b\n\n", [ev("a"), ev("b")]),
    Row("R6-cr-cr-lf", b"data: a\r\r\ndata: b\n\n", [ev("a"), ev("b")]),
    Row("R6-cr-cr", b"data: a\r\rdata: b\r\r", [ev("a"), ev("b")]),
    Row("R6-crlf-crlf", b"data: a\r\n\r\n", [ev("a")]),
    Row("R6-cr-lf-lf", b"data: a\r\n\ndata: b\r\n\n", [ev("a"), ev("b")]),
    # --- R7: end of stream
    Row("R7-clean-end", b"data: a\n\n", [ev("a")]),
    Row("R7-partial-line-dropped", b"data: a\n\ndata: b", [ev("a")], clean=False),
    Row("R7-unfinished-block-dropped", b"data: a\n\ndata: b\n", [ev("a")], clean=False),
    Row("R7-cr-ends-last-line", b"data: a\n\ndata: b\r", [ev("a")], clean=False),
    Row("R7-final-cr-blank-dispatches", b"data: a\r\r", [ev("a")]),
    Row("R7-final-cr-after-lf", b"data: a\n\r", [ev("a")]),
    Row("R7-empty-stream", b"", []),
    Row("R7-comment-only-tail-is-clean", b"data: a\n\n: ping\n", [ev("a")]),
    Row("R7-partial-comment-is-not-clean", b"data: a\n\n: pi", [ev("a")], clean=False),
    Row(
        "R7-unfinished-event-only-block",
        b"data: a\n\nevent: x\n",
        [ev("a")],
        clean=False,
    ),
    Row(
        "R7-unfinished-id-does-not-move-last-id",
        b"id: 1\ndata: a\n\nid: 2\ndata: b\n",
        [ev("a", id="1")],
        last_event_id="1",
        clean=False,
    ),
    Row("R7-unknown-field-tail-not-clean", b"data: a\n\nfoo: bar\n", [ev("a")], clean=False),
    # --- R8: blank lines; whitespace lines are not blank
    Row("R8-space-line-is-not-blank", b"data: a\n \ndata: b\n\n", [ev("a\nb")]),
    Row("R8-tab-line-is-not-blank", b"data: a\n\t\ndata: b\n\n", [ev("a\nb")]),
    Row("R8-many-blank-lines", b"\n\n\n\ndata: a\n\n\n\n\ndata: b\n\n\n", [ev("a"), ev("b")]),
    # --- R9: comments
    Row("R9-comment-ignored", b": data: x\ndata: a\n\n", [ev("a")]),
    Row("R9-comment-only-block", b": ping\n\n: ping\n\n", []),
    Row("R9-comment-with-nul", b":\0\0\ndata: a\n\n", [ev("a")]),
    Row("R9-long-comment", b":" + KB2 + b"\ndata: a\n\n", [ev("a")]),
    Row("R9-bare-colon", b":\ndata: a\n:\n\n", [ev("a")]),
    Row("R9-comment-between-data", b"data: a\n:c\ndata: b\n\n", [ev("a\nb")]),
    # --- R10: field with a colon
    Row("R10-no-space", b"data:x\n\n", [ev("x")]),
    Row("R10-one-space-removed", b"data: x\n\n", [ev("x")]),
    Row("R10-only-one-space", b"data:  x\n\n", [ev(" x")]),
    Row("R10-tab-kept", b"data:\tx\n\n", [ev("\tx")]),
    Row("R10-trailing-space-kept", b"data: x  \n\n", [ev("x  ")]),
    Row("R10-later-colons", b"data: a:b: c\n\n", [ev("a:b: c")]),
    Row("R10-event-one-space", b"event:  x\ndata: y\n\n", [ev("y", " x")]),
    Row("R10-nbsp-not-removed", "data:\u00a0x\n\n".encode(), [ev("\u00a0x")]),
    # --- R11: field without a colon
    Row("R11-bare-data", b"data\ndata\n\n", [ev("\n")]),
    Row("R11-bare-data-single", b"data\n\n", [ev("")]),
    Row("R11-bare-event-resets-type", b"event: x\nevent\ndata: y\n\n", [ev("y")]),
    Row(
        "R11-bare-id-resets-id",
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        [ev("a", id="1"), ev("b")],
    ),
    Row("R11-bare-retry-ignored", b"retry: 5\nretry\ndata: a\n\n", [ev("a", retry=5)], retry=5),
    # --- R12: names compared literally
    Row(
        "R12-literal-names",
        b"Data: 1\nDATA: 2\ndata : 3\n data: 4\nda-ta: 5\ndata_: 6\ndata\0: 7\nEvent: x\n"
        b"ID: 9\nRetry: 10\ndata: ok\n\n",
        [ev("ok")],
    ),
    # --- R13: event
    Row("R13-event", b"event: add\ndata: a\n\n", [ev("a", "add")]),
    Row("R13-last-event-wins", b"event: a\nevent: b\ndata: x\n\n", [ev("x", "b")]),
    Row("R13-empty-event-is-message", b"event:\ndata: x\n\n", [ev("x")]),
    Row("R13-event-not-persisted", b"event: a\ndata: x\n\ndata: y\n\n", [ev("x", "a"), ev("y")]),
    Row("R13-event-after-data", b"data: x\nevent: late\n\n", [ev("x", "late")]),
    Row("R13-event-with-colon", b"event: a:b\ndata: x\n\n", [ev("x", "a:b")]),
    # --- R14: data
    Row("R14-multi-line", b"data: a\ndata: b\ndata: c\n\n", [ev("a\nb\nc")]),
    Row("R14-empty-lines", b"data:\ndata:\n\n", [ev("\n")]),
    Row("R14-json", b'data: {"a": [1, 2]}\n\n', [ev('{"a": [1, 2]}')]),
    # --- R15: id
    Row(
        "R15-id-persists",
        b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\ndata: d\n\nid:\ndata: e\n\n",
        [ev("a", id="1"), ev("b", id="1"), ev("c", id="2"), ev("d", id="2"), ev("e")],
    ),
    Row("R15-id-with-nul-ignored", b"id: a\0b\ndata: x\n\n", [ev("x")]),
    Row(
        "R15-nul-id-keeps-previous",
        b"id: 1\ndata: a\n\nid: \0\0\ndata: b\n\n",
        [ev("a", id="1"), ev("b", id="1")],
    ),
    Row("R15-last-id-wins", b"id: 1\nid: 2\ndata: x\n\n", [ev("x", id="2")]),
    Row("R15-id-spaces-kept", b"id:  7 \ndata: x\n\n", [ev("x", id=" 7 ")]),
    Row("R15-id-after-data", b"data: x\nid: 5\n\n", [ev("x", id="5")]),
    # --- R16: retry
    Row("R16-retry", b"retry: 1000\ndata: x\n\n", [ev("x", retry=1000)], retry=1000),
    Row("R16-leading-zeros", b"retry:02000\ndata: x\n\n", [ev("x", retry=2000)], retry=2000),
    Row("R16-zero", b"retry: 0\ndata: x\n\n", [ev("x", retry=0)], retry=0),
    Row(
        "R16-bogus-ignored",
        b"retry: 2000\n"
        + b"".join(
            b"retry:" + bogus + b"\n"
            for bogus in (
                b"1000x",
                b"-5",
                b"+5",
                b"  100",
                b"100 ",
                b"1 0",
                b"1.5",
                b"0x10",
                b"1_000",
                "\u0661\u0662\u0663".encode(),
                "\uff15".encode(),
                b"",
                b" ",
                b"1e3",
                b"\xff",
            )
        )
        + b"data: x\n\n",
        [ev("x", retry=2000)],
        retry=2000,
    ),
    Row("R16-empty-retry-is-not-zero", b"retry:\ndata: x\n\n", [ev("x")]),
    Row(
        "R16-retry-is-stream-state",
        b"data: a\n\nretry: 50\n\ndata: b\n\n",
        [ev("a"), ev("b", retry=50)],
        retry=50,
    ),
    Row(
        "R16-retry-applies-without-dispatch",
        b"data: a\n\nretry: 70\n",
        [ev("a")],
        retry=70,
        clean=False,
    ),
    Row(
        "R16-huge-retry",
        b"retry: " + b"9" * 30 + b"\ndata: x\n\n",
        [ev("x", retry=int("9" * 30))],
        retry=int("9" * 30),
    ),
    # --- R17: unknown fields
    Row("R17-unknown", b"foo: bar\nbaz\ndata: x\n\n", [ev("x")]),
    Row("R17-unknown-only-block", b"foo: bar\n\n", []),
    # --- section 5: dispatch
    Row(
        "S5.1-id-only-block-moves-last-id",
        b"data: a\n\nid: 7\n\n",
        [ev("a")],
        last_event_id="7",
    ),
    Row("S5.2-event-only-block", b"event: x\n\n", []),
    Row("S5.2-retry-only-block", b"retry: 5\n\n", [], retry=5),
    Row("S5.2-id-only-block", b"id: 1\n\n", [], last_event_id="1"),
    Row("S5.2-comment-only-block", b": ping\n\n", []),
    Row("S5.2-type-reset-on-skip", b"event: x\n\ndata: y\n\n", [ev("y")]),
    Row(
        "S5.2-no-phantom-after-id",
        b"id: 1\ndata: a\n\n\n\n: ping\n\nevent: e\n\nretry: 3\n\n",
        [ev("a", id="1")],
        last_event_id="1",
        retry=3,
    ),
    Row("S5.3-empty-data", b"data:\n\n", [ev("")]),
    Row("S5.3-two-bare-data", b"data\ndata\n\n", [ev("\n")]),
    Row("S5.3-trailing-empty-data", b"data: a\ndata:\n\n", [ev("a\n")]),
    Row("S5.3-only-one-lf-removed", b"data: a\ndata:\ndata:\n\n", [ev("a\n\n")]),
    Row(
        "S5.4-fields",
        b"event: t\nid: i\nretry: 9\ndata: d\n\n",
        [ev("d", "t", "i", 9)],
        retry=9,
    ),
    Row("S5.7-reset", b"event: t\ndata: a\n\ndata: b\n\n", [ev("a", "t"), ev("b")]),
    # --- section 7: the WPT format-* streams
    Row("WPT-format-bom", BOM + b"data:1\n\n" + BOM + b"data:2\n\ndata:3\n\n", [ev("1"), ev("3")]),
    Row("WPT-format-bom-2", BOM + BOM + b"data:1\n\ndata:2\n\ndata:3\n\n", [ev("2"), ev("3")]),
    Row(
        "WPT-format-comments",
        b"data:1\r:\0\n:\r\ndata:2\n:" + KB2 + b"\rdata:3\n:data:fail\r:" + KB2 + b"\ndata:4\n\n",
        [ev("1\n2\n3\n4")],
    ),
    Row(
        "WPT-format-data-before-final-empty-line",
        b"retry:1000\ndata:test1\n\nid:test\ndata:test2\n",
        [ev("test1", retry=1000)],
        last_event_id="",
        retry=1000,
        clean=False,
    ),
    Row(
        "WPT-format-field-data",
        b"data:\n\ndata\ndata\n\ndata:test\n",
        [ev(""), ev("\n")],
        clean=False,
        notes="the last block has no blank line: discarded (R7)",
    ),
    Row(
        "WPT-format-field-data-terminated",
        b"data:\n\ndata\ndata\n\ndata:test\n\n",
        [ev(""), ev("\n"), ev("test")],
    ),
    Row("WPT-format-field-event", b"event:test\ndata:x\n\ndata:x\n\n", [ev("x", "test"), ev("x")]),
    Row("WPT-format-field-event-empty", b"event: \ndata:data\n\n", [ev("data")]),
    Row(
        "WPT-format-field-id",
        b"id:1\ndata:1\n\nid:2\ndata:2\n\n",
        [ev("1", id="1"), ev("2", id="2")],
    ),
    Row(
        "WPT-format-field-id-2",
        b"id:1\ndata:1\n\ndata:2\n\nid:\ndata:3\n\n",
        [ev("1", id="1"), ev("2", id="1"), ev("3")],
    ),
    Row(
        "WPT-format-field-id-3",
        b"id:1\ndata:persist\n\ndata:persist\n\nid:2\ndata:change\n\ndata:persist\n\n"
        b"id\ndata:reset\n\ndata:reset\n\n",
        [
            ev("persist", id="1"),
            ev("persist", id="1"),
            ev("change", id="2"),
            ev("persist", id="2"),
            ev("reset"),
            ev("reset"),
        ],
    ),
    Row(
        "WPT-format-field-id-null",
        b"id:\0\0\ndata:x\n\n",
        [ev("x")],
        notes="current standard: an id containing NUL is ignored",
    ),
    Row(
        "WPT-format-field-parsing",
        b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\r"
        b"data:\r\n data:32\ndata:4\n\n",
        [ev("\0\n 2\n1\n3\n\n4")],
    ),
    Row("WPT-format-field-retry", b"retry:02000\ndata:x\n\n", [ev("x", retry=2000)], retry=2000),
    Row(
        "WPT-format-field-retry-bogus",
        b"retry:2000\nretry:1000x\ndata:x\n\n",
        [ev("x", retry=2000)],
        retry=2000,
    ),
    Row("WPT-format-field-retry-empty", b"retry\ndata:test\n\n", [ev("test")]),
    Row(
        "WPT-format-field-unknown",
        b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:comment\ndata:test\n\n",
        [ev("test\n\ntest")],
    ),
    Row("WPT-format-leading-space", b"data:\ttest\rdata: \ndata:test\n\n", [ev("\ttest\n\ntest")]),
    Row("WPT-format-newlines", b"data:test\r\ndata\ndata:test\r\n\r\n", [ev("test\n\ntest")]),
    Row("WPT-format-null-character", b"data:\0\n\n", [ev("\0")]),
    Row("WPT-format-utf-8", b"data:ok\xe2\x80\xa6\n\n", [ev("ok\u2026")]),
    # --- section 8: pitfalls not already covered above
    Row("P3-cr-only-stream", b"data: a\r\rdata: b\r\r", [ev("a"), ev("b")]),
    Row("P3-crlf-only-stream", b"data: a\r\n\r\ndata: b\r\n\r\n", [ev("a"), ev("b")]),
    Row("P7-no-strip", b"data:  x \t\n\n", [ev(" x \t")]),
    Row("P8-first-colon", b"data: http://x:80/\n\n", [ev("http://x:80/")]),
    Row("P9-case-sensitive", b"DATA: x\nEvent: y\n\n", []),
    Row(
        "P10-int-accepts-too-much",
        b"retry: \xd9\xa1\nretry: 1_0\nretry: -1\ndata: x\n\n",
        [ev("x")],
    ),
    Row(
        "P11-no-phantom-events",
        b"id: 5\n\n\n\nevent: x\n\nretry: 1\n\n: c\n\n",
        [],
        last_event_id="5",
        retry=1,
    ),
    Row("P12-type-reset", b"event: stale\n\ndata: a\n\n", [ev("a")]),
    Row("P13-no-eof-dispatch", b"event: x\ndata: a", [], clean=False),
    # --- the fast shapes (bulk runs) and their neighbours
    Row(
        "fast-event-data-run",
        b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\nevent: \ndata: 3\n\n",
        [ev("1", "a"), ev("2", "b"), ev("3")],
    ),
    Row("fast-data-run", b"data: 1\n\ndata: 2\n\ndata: \n\n", [ev("1"), ev("2"), ev("")]),
    Row(
        "fast-mixed-run",
        b"id: 1\nevent: a\ndata: 1\n\ndata: 2\n\nid: \ndata: 3\n\nevent: b\ndata: 4\n\n",
        [ev("1", "a", "1"), ev("2", id="1"), ev("3"), ev("4", "b")],
    ),
    Row(
        "fast-runs-interleaved-with-general",
        b"event: a\ndata: 1\n\ndata:2\n\nevent: b\ndata: 3\n\n: c\ndata: 4\n\n"
        b"data: 5\n\nid: \0\ndata: 6\n\nevent: c\ndata: 7\n\n",
        [ev("1", "a"), ev("2"), ev("3", "b"), ev("4"), ev("5"), ev("6"), ev("7", "c")],
    ),
    Row(
        "fast-shape-after-pending-id",
        b"id: 3\n" + b"data: 1\n\n",
        [ev("1", id="3")],
        last_event_id="3",
    ),
    Row(
        "fast-shape-after-pending-event",
        b"event: pending\ndata: 1\n\nevent: a\n",
        [ev("1", "pending")],
        clean=False,
    ),
    Row(
        "fast-shape-lookalikes",
        b"event: a\ndata: 1\ndata: 2\n\nevent: b\nid: 1\ndata: 3\n\nevent: c\ndata:4\n\n",
        [ev("1\n2", "a"), ev("3", "b", "1"), ev("4", "c", "1")],
    ),
]


def _expected_last_id(row: Row) -> str:
    if row.last_event_id is not None:
        return row.last_event_id
    return row.events[-1][2] if row.events else ""


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_rule_table(row: Row) -> None:
    outcome = check_all_chunkings(row.stream, row.name)
    assert outcome.events == row.events
    assert outcome.last_event_id == _expected_last_id(row)
    assert outcome.retry == row.retry
    assert outcome.ended_cleanly is row.clean
    # The same events with CRLF and with CR line endings (LF rows only).
    if b"\r" not in row.stream:
        for ending in (b"\r\n", b"\r"):
            other = check_all_chunkings(row.stream.replace(b"\n", ending), row.name + "-alt")
            assert other == outcome


def test_row_names_are_unique() -> None:
    assert len({row.name for row in ROWS}) == len(ROWS)


# ---------------------------------------------------------------------------
# CR at a chunk boundary: no delay, and the LF after it is swallowed
# ---------------------------------------------------------------------------


def _tuples(events: Sequence[ServerSentEvent]) -> list[Ev]:
    return [_as_tuple(event) for event in events]


def test_lone_cr_blank_line_dispatches_in_the_same_feed() -> None:
    decoder = SSEDecoder()
    assert _tuples(decoder.feed(b"event: a\rdata: 1\r\r")) == [ev("1", "a")]
    assert decoder.ended_cleanly
    # The next chunk starts with the LF of a CRLF: swallowed, not a blank line.
    assert decoder.feed(b"\ndata: 2\r") == []
    assert _tuples(decoder.feed(b"\r")) == [ev("2")]
    assert decoder.end() == []


def test_lf_after_chunk_final_cr_is_not_a_second_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\ndata: a\r") == []
    assert _tuples(decoder.feed(b"\ndata: b\r\n\r\n")) == [ev("x\na\nb")]


def test_only_one_lf_is_swallowed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert _tuples(decoder.feed(b"\n\n")) == [ev("a")]


def test_cr_then_empty_chunk_keeps_skipping() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\ndata: b\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert _tuples(decoder.feed(b"\n")) == [ev("a\nb")]


def test_lf_blank_line_dispatches_in_the_same_feed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert _tuples(decoder.feed(b"\n")) == [ev("a")]


def test_split_bom() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef") == []
    assert not decoder.ended_cleanly  # could still be content
    assert decoder.feed(b"\xbb") == []
    assert decoder.feed(b"\xbf") == []
    assert decoder.ended_cleanly
    assert _tuples(decoder.feed(b"data: 1\n\n")) == [ev("1")]
    # A BOM at the start of a later chunk is content.
    assert decoder.feed(BOM + b"data: 2\n\n") == []


# ---------------------------------------------------------------------------
# State: last_event_id, retry, ended_cleanly, end()
# ---------------------------------------------------------------------------


def test_last_event_id_moves_only_on_dispatch() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n")
    assert decoder.last_event_id == ""
    decoder.feed(b"\n")
    assert decoder.last_event_id == "1"
    decoder.feed(b"id: 2\ndata: b\n")
    assert decoder.last_event_id == "1"
    decoder.end()
    assert decoder.last_event_id == "1"
    assert not decoder.ended_cleanly


def test_ended_cleanly_tracks_partial_and_pending() -> None:
    decoder = SSEDecoder()
    assert decoder.ended_cleanly
    decoder.feed(b"data")
    assert not decoder.ended_cleanly
    assert decoder.pending_bytes == 4
    decoder.feed(b": a\n")
    assert not decoder.ended_cleanly
    decoder.feed(b"\n")
    assert decoder.ended_cleanly
    assert decoder.pending_bytes == 0
    decoder.feed(b": keep-alive\n")
    assert decoder.ended_cleanly
    decoder.feed(b"id: 3\n")
    assert not decoder.ended_cleanly
    decoder.feed(b"\n")
    assert decoder.ended_cleanly


def test_end_records_truncation_and_closes() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\ndata: b\n")
    assert decoder.end() == []
    assert not decoder.ended_cleanly
    assert decoder.pending_bytes == 0
    assert decoder.end() == []  # idempotent
    assert not decoder.ended_cleanly
    with pytest.raises(RuntimeError):
        decoder.feed(b"data: c\n\n")


def test_end_after_clean_stream() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\n")
    assert decoder.end() == []
    assert decoder.ended_cleanly


def test_accepts_bytearray_and_memoryview() -> None:
    decoder = SSEDecoder()
    assert _tuples(decoder.feed(bytearray(b"event: a\ndata: 1\n\n"))) == [ev("1", "a")]
    assert _tuples(decoder.feed(memoryview(b"data: 2\n\n"))) == [ev("2")]  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1])
def test_limit_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="max_event_bytes"):
        SSEDecoder(max_event_bytes=bad)


def test_event_type_cache_is_bounded() -> None:
    decoder = SSEDecoder()
    stream = b"".join(b"event: t%d\ndata: x\n\n" % i for i in range(1000))
    events = decoder.feed(stream)
    assert [event.event for event in events] == [f"t{i}" for i in range(1000)]
    assert len(decoder._names) <= 256


# ---------------------------------------------------------------------------
# Bounded memory: max_event_bytes
# ---------------------------------------------------------------------------

LIMIT = 1000


class Feeder:
    """Feeds chunks, recording the events and the peak of pending_bytes."""

    def __init__(self, decoder: SSEDecoder) -> None:
        self.decoder = decoder
        self.events: list[Ev] = []
        self.peak = 0

    def feed_all(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.events += _tuples(self.decoder.feed(chunk))
            self.peak = max(self.peak, self.decoder.pending_bytes)
        self.events += _tuples(self.decoder.end())


@pytest.mark.parametrize("chunk_size", [1, 7, 100, 4096, 10**6])
def test_line_without_ending_is_bounded(chunk_size: int) -> None:
    stream = b"data: a\n\ndata: " + b"x" * 5000
    chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
    feeder = Feeder(SSEDecoder(max_event_bytes=LIMIT))
    with pytest.raises(EventTooLargeError, match=f"max_event_bytes={LIMIT}"):
        feeder.feed_all(chunks)
    assert feeder.events == [ev("a")]
    assert feeder.peak <= LIMIT
    decoder = feeder.decoder
    assert decoder.pending_bytes == 0
    assert not decoder.ended_cleanly
    with pytest.raises(EventTooLargeError, match="line without a line ending"):
        decoder.feed(b"\n\n")
    assert decoder.end() == []  # already raised: not raised a second time
    assert not decoder.ended_cleanly


def test_deferred_error_is_raised_by_end() -> None:
    decoder = SSEDecoder(max_event_bytes=LIMIT)
    events = decoder.feed(b"data: a\n\ndata: " + b"x" * LIMIT)
    assert _tuples(events) == [ev("a")]
    assert decoder.pending_bytes == 0
    assert not decoder.ended_cleanly
    with pytest.raises(EventTooLargeError, match="line without a line ending"):
        decoder.end()
    assert decoder.end() == []


def test_runs_of_blank_lines() -> None:
    stream = b"id: 1\n" + b"\n" * 20_000 + b"data: a\n" + b"\r\n" * 1000 + b"data: b\n\n"
    assert check_all_chunkings(stream, "blanks").events == [ev("a", id="1"), ev("b", id="1")]


def test_long_event_lines_are_not_cached() -> None:
    decoder = SSEDecoder()
    long_name = "n" * 500
    events = decoder.feed(f"event: {long_name}\ndata: x\n\n".encode() * 3)
    assert [event.event for event in events] == [long_name] * 3
    assert all(len(key) <= 128 for key in decoder._names)


def test_endless_line_never_buffers_past_limit() -> None:
    decoder = SSEDecoder(max_event_bytes=LIMIT)
    fed = 0
    while fed + 10 <= LIMIT:
        assert decoder.feed(b"y" * 10) == []
        fed += 10
        assert decoder.pending_bytes == fed
    with pytest.raises(EventTooLargeError, match="line without a line ending"):
        decoder.feed(b"y" * 10)
    assert decoder.pending_bytes == 0


@pytest.mark.parametrize("chunk_size", [1, 13, 512, 10**6])
def test_many_data_lines_are_bounded(chunk_size: int) -> None:
    stream = b"data: a\n\n" + b"data: 0123456789abcdef\n" * 200 + b"\n"
    chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
    feeder = Feeder(SSEDecoder(max_event_bytes=LIMIT))
    with pytest.raises(EventTooLargeError, match=f"max_event_bytes={LIMIT} .data of one event"):
        feeder.feed_all(chunks)
    assert feeder.events == [ev("a")]
    # The data buffer never exceeds the limit; a partial line is at most one line.
    assert feeder.peak <= LIMIT + len(b"data: 0123456789abcdef")


@pytest.mark.parametrize("chunk_size", [1, 3, 50, 10**6])
def test_limits_are_exact(chunk_size: int) -> None:
    def run(stream: bytes) -> list[Ev]:
        decoder = SSEDecoder(max_event_bytes=LIMIT)
        events: list[Ev] = []
        for i in range(0, len(stream), chunk_size):
            events += _tuples(decoder.feed(stream[i : i + chunk_size]))
        return events + _tuples(decoder.end())

    line = b"data: " + b"z" * (LIMIT - 6)  # exactly LIMIT bytes
    assert run(line + b"\n\n") == [ev("z" * (LIMIT - 6))]
    assert run(b"event: x\n" + line + b"\n\n") == [ev("z" * (LIMIT - 6), "x")]
    with pytest.raises(EventTooLargeError):
        run(line + b"z\n\n")
    with pytest.raises(EventTooLargeError):
        run(b"event: x\n" + line + b"z\n\n")
    # Data buffer: each value plus one LF; 10 lines of 99 bytes + LF = 1000.
    assert run(b"data: " + b"q" * 99 + b"\n") == []
    many = (b"data: " + b"q" * 99 + b"\n") * 10
    assert run(many + b"\n") == [ev("\n".join(["q" * 99] * 10))]
    with pytest.raises(EventTooLargeError, match="data of one event"):
        run(many + b"data:\n\n")


def test_comments_and_unknown_fields_do_not_count() -> None:
    stream = (b": keep-alive " + b"." * 80 + b"\n") * 50 + b"foo: bar\n" * 200 + b"data: ok\n\n"
    assert check_all_chunkings(stream, "comments", max_event_bytes=100).events == [ev("ok")]


def test_big_buffer_of_small_events() -> None:
    """A chunk longer than the limit: the bulk paths check each line."""
    stream = b"".join(b"event: e%d\ndata: %d\n\n" % (i % 3, i) for i in range(200))
    stream += b"".join(b"data: %d\n\n" % i for i in range(200))
    stream += b"".join(b"id: %d\ndata: %d\n\n" % (i, i) for i in range(200))
    expected = (
        [ev(str(i), f"e{i % 3}") for i in range(200)]
        + [ev(str(i)) for i in range(200)]
        + [ev(str(i), id=str(i)) for i in range(200)]
    )
    decoder = SSEDecoder(max_event_bytes=64)
    assert _tuples(decoder.feed(stream)) == expected
    assert decoder.ended_cleanly


@pytest.mark.parametrize(
    "block",
    [
        b"event: big\ndata: " + b"w" * 70 + b"\n\n",
        b"data: " + b"w" * 70 + b"\n\n",
        b"id: 1\ndata: " + b"w" * 70 + b"\n\n",
        b"event: " + b"w" * 70 + b"\ndata: x\n\n",
    ],
)
def test_oversize_line_inside_a_bulk_run(block: bytes) -> None:
    before = b"event: a\ndata: 1\n\n" * 5
    decoder = SSEDecoder(max_event_bytes=64)
    events = decoder.feed(before + block + before)
    assert _tuples(events) == [ev("1", "a")] * 5
    with pytest.raises(EventTooLargeError, match="line of 7"):
        decoder.feed(b"data: later\n\n")


def test_oversize_without_events_raises_at_once() -> None:
    decoder = SSEDecoder(max_event_bytes=10)
    with pytest.raises(EventTooLargeError, match="max_event_bytes=10"):
        decoder.feed(b"data: 0123456789\n\n")


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=12,
)
_ENDINGS = (b"\n", b"\r", b"\r\n")


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = []
    last = 0
    for point in [*points, len(data)]:
        pieces.append(data[last:point])
        last = point
    return pieces


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(st.tuples(_TEXT, st.lists(_TEXT, min_size=1, max_size=3)), max_size=6),
    bom=st.booleans(),
    data=st.data(),
)
def test_roundtrip_any_endings_any_chunking(
    events: list[tuple[str, list[str]]], bom: bool, data: st.DataObject
) -> None:
    lines: list[bytes] = []
    expected: list[Ev] = []
    for event, data_lines in events:
        if event or data.draw(st.booleans()):
            lines.append(b"event: " + event.encode())
        lines += [b"data: " + value.encode() for value in data_lines]
        lines.append(b"")
        expected.append(ev("\n".join(data_lines), event or "message"))
    stream = BOM if bom else b""
    previous = b""
    for line in lines:
        ending = data.draw(st.sampled_from(_ENDINGS))
        if previous == b"\r" and not line and ending == b"\n":
            ending = b"\r\n"  # CR + LF would merge into one CRLF ending
        stream += line + ending
        previous = ending
    cuts = data.draw(st.lists(st.integers(min_value=0), max_size=12))
    assert decode(_cut(stream, cuts)).events == expected
    assert decode([stream]).events == expected


# A direct, slow transcription of the standard, for differential testing.
_LINE_END = re.compile(r"\r\n|\r|\n")


def reference(stream: bytes) -> Outcome:
    if stream.startswith(BOM):
        stream = stream[3:]
    text = stream.decode("utf-8", "replace")
    *lines, _partial = _LINE_END.split(text)
    events: list[Ev] = []
    data: list[str] = []
    event_type = ""
    id_buffer = last_id = ""
    retry: int | None = None
    for line in lines:
        if line == "":
            last_id = id_buffer
            if data:
                events.append((event_type or "message", "\n".join(data), last_id, retry))
            data, event_type = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _colon, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id":
            if "\0" not in value:
                id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return Outcome(events, last_id, retry, ended_cleanly=True)


_TOKENS = [
    b"data:",
    b"data: ",
    b"event: ",
    b"event:",
    b"id: ",
    b"id:",
    b"retry: ",
    b"\n",
    b"\n",
    b"\n\n",
    b"\r",
    b"\r\n",
    b":",
    b" ",
    b"x",
    b"ab",
    b"7",
    b"\0",
    BOM,
    b"\xe2\x82",
    b"\xe2\x82\xac",
    b"\xff",
    b"Data",
    b"dat",
]


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(_TOKENS), max_size=40),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_matches_reference_for_any_token_soup(tokens: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(tokens)
    expected = reference(stream)
    for chunks in ([stream], _cut(stream, cuts), [stream[i : i + 1] for i in range(len(stream))]):
        got = decode(chunks)
        assert got.events == expected.events
        assert got.last_event_id == expected.last_event_id
        assert got.retry == expected.retry


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(_TOKENS), max_size=40),
    limit=st.integers(min_value=1, max_value=40),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_limit_is_independent_of_chunking(tokens: list[bytes], limit: int, cuts: list[int]) -> None:
    stream = b"".join(tokens)
    results = []
    for chunks in ([stream], _cut(stream, cuts), [stream[i : i + 1] for i in range(len(stream))]):
        decoder = SSEDecoder(max_event_bytes=limit)
        events: list[Ev] = []
        failed = False
        try:
            for chunk in chunks:
                events += _tuples(decoder.feed(chunk))
                # partial line <= limit, data buffer <= limit, undecided BOM <= 2
                assert decoder.pending_bytes <= 2 * limit + 2
            events += _tuples(decoder.end())
        except EventTooLargeError:
            failed = True
        results.append((events, failed))
    assert results[0] == results[1] == results[2]
    if not results[0][1]:
        assert results[0][0] == reference(stream).events


@pytest.mark.parametrize(
    "before",
    [b"", b"id: 7\n", b"retry: 250\n", b": comment\n", b"id: 7\nretry: 9\n", b"foo: bar\n"],
)
def test_one_event_per_chunk_matches_whole_feeding(before: bytes) -> None:
    # Servers that flush every event send chunks of exactly one block: that
    # shortcut must agree with the general path, whatever came before.
    blocks = [
        b"event: ping\ndata: {}\n\n",
        b'event: content_block_delta\ndata: {"text": "h\xc3\xa9"}\n\n',
        b"event: \ndata: empty name\n\n",
        b"event: x\ndata: \n\n",
    ]
    chunked = SSEDecoder()
    got = chunked.feed(b"data: first\n\n") + chunked.feed(before)
    for block in blocks:
        got += chunked.feed(block)
    whole = SSEDecoder()
    expected = whole.feed(b"data: first\n\n" + before + b"".join(blocks))
    assert [(e.event, e.data, e.id, e.retry) for e in got] == [
        (e.event, e.data, e.id, e.retry) for e in expected
    ]
    assert chunked.last_event_id == whole.last_event_id
    assert chunked.ended_cleanly
    assert whole.ended_cleanly
