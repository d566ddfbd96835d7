"""The sans-IO JSON Lines splitter: every split of every body gives the same lines."""

from __future__ import annotations

import pytest

from streamsafe import LineTooLargeError
from streamsafe._jsonl import JSONLReader

BODY = b'{"a":1}\r\n\n{"b":2}\n  \r\n{"c":3}\r\n{"d":4}'
LINES = [b'{"a":1}', b'{"b":2}', b'{"c":3}', b'{"d":4}']


def read(chunks: list[bytes], **options: int) -> tuple[list[bytes], JSONLReader]:
    reader = JSONLReader(**options)
    lines: list[bytes] = []
    for chunk in chunks:
        lines += reader.feed(chunk)
    lines += reader.end()
    return lines, reader


def test_every_two_way_split_gives_the_same_lines() -> None:
    for cut in range(len(BODY) + 1):
        lines, reader = read([BODY[:cut], BODY[cut:]])
        assert lines == LINES, cut
        assert reader.rows == 4
        assert reader.offset == len(BODY)


def test_byte_by_byte_and_crlf_split_across_reads() -> None:
    lines, _ = read([BODY[i : i + 1] for i in range(len(BODY))])
    assert lines == LINES
    assert read([b'{"x":1}\r', b'\n{"y":2}\r', b"\n"])[0] == [b'{"x":1}', b'{"y":2}']


def test_offset_counts_complete_lines_only() -> None:
    reader = JSONLReader()
    assert reader.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert reader.offset == 8
    assert reader.buffered == 4
    reader.discard_partial()
    assert reader.buffered == 0
    assert reader.feed(b"\n\n") == []  # an empty (discarded) line, then a blank one
    assert reader.offset == 10


def test_a_line_over_the_limit_is_a_typed_error_before_it_is_buffered_whole() -> None:
    reader = JSONLReader(max_line_bytes=10)
    assert reader.feed(b"0123456789\n") == [b"0123456789"]
    reader.feed(b"01234")
    with pytest.raises(LineTooLargeError, match="max_line_bytes=10"):
        reader.feed(b"567890")
    with pytest.raises(LineTooLargeError):
        JSONLReader(max_line_bytes=10).feed(b"x" * 11 + b"\n")


def test_long_line_in_many_chunks_is_joined_once() -> None:
    line = b"y" * 1_000_000
    chunks = [line[i : i + 1000] for i in range(0, len(line), 1000)] + [b"\n"]
    assert read(chunks)[0] == [line]
