"""A sans-IO JSON Lines splitter: bytes in, complete lines out.

:class:`JSONLReader` is fed the chunks of a body as they arrive and returns
the complete, non-blank lines they finish, without their terminator. It
knows nothing about JSON or HTTP; the batch results reader decodes the lines.

* Linear in line length: each chunk is split once (``bytes.split`` in C); the
  piece of a line still open at the end of a chunk is kept in a list and
  joined once, when its terminator arrives. Nothing is re-scanned or
  re-concatenated per read (the official SDK appends to one ``bytes`` per
  piece: quadratic in the length of a line).
* LF and CRLF, however they are split across reads (a CR at the end of one
  chunk, the LF at the start of the next). Blank lines, and lines of only
  whitespace, are skipped.
* Bounded: a line longer than ``max_line_bytes`` raises
  :class:`~streamsafe.LineTooLargeError` as soon as the buffered part exceeds
  it, so memory stays bounded by the largest allowed line.
* Resumable: :attr:`offset` is the number of body bytes up to the end of the
  last complete line (blank ones included) and :attr:`rows` the number of
  lines returned, so a cut download can continue from ``offset`` (a ``Range``
  request, or skipping that many bytes of a new download).
"""

from __future__ import annotations

from ._errors import LineTooLargeError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "JSONLReader"]

#: Largest JSON line accepted by default (a result row holds one Message).
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024

_WHITESPACE = b" \t\r\n"


class JSONLReader:
    """Splits a JSON Lines body into lines, chunk by chunk (no I/O)."""

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, offset: int = 0) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.max_line_bytes = max_line_bytes
        #: Body bytes up to the end of the last complete line.
        self.offset = offset
        #: Non-blank lines returned so far.
        self.rows = 0
        self._pending: list[bytes] = []
        self._pending_size = 0

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished line held back."""
        return self._pending_size

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes (blank ones skipped), in order."""
        if not chunk:
            return []
        pieces = chunk.split(b"\n")
        tail = pieces.pop()  # the start of a line still open (b"" after a final LF)
        lines: list[bytes] = []
        if pieces:
            self.offset += self._pending_size + len(chunk) - len(tail)
            if self._pending:
                self._check(self._pending_size + len(pieces[0]))
                self._pending.append(pieces[0])
                pieces[0] = b"".join(self._pending)
                self._pending.clear()
                self._pending_size = 0
            limit = self.max_line_bytes
            for piece in pieces:
                if len(piece) > limit:
                    self._check(len(piece))
                if piece.endswith(b"\r"):
                    piece = piece[:-1]
                if piece and not piece.isspace():
                    lines.append(piece)
            self.rows += len(lines)
        if tail:
            self._check(self._pending_size + len(tail))
            self._pending.append(tail)
            self._pending_size += len(tail)
        return lines

    def discard_partial(self) -> None:
        """Drop the unfinished line (a download was cut: it will be read again)."""
        self._pending.clear()
        self._pending_size = 0

    def end(self) -> list[bytes]:
        """The body ended cleanly: its last line, when it had no terminator."""
        if not self._pending:
            return []
        line = b"".join(self._pending)
        self.offset += len(line)
        self._pending.clear()
        self._pending_size = 0
        line = line.strip(_WHITESPACE)
        if not line:
            return []
        self.rows += 1
        return [line]

    def _check(self, size: int) -> None:
        if size > self.max_line_bytes:
            raise LineTooLargeError(
                f"a JSON line is over max_line_bytes={self.max_line_bytes:,} bytes "
                f"(after {self.rows:,} lines, at byte {self.offset:,} of the body)"
            )
