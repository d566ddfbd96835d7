"""Seeded prose: one emitted token is one word.

The random generator of an answer (seeded from bytes of the request), its
words (plain ones with a sprinkling of non-ASCII, so that every stream
exercises UTF-8 handling), and the text and thinking blocks made of them.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence

from ._plan import PlannedBlock

__all__ = ["seeded_rng", "text_block", "thinking_block", "word_tokens"]

# Plain words with a sprinkling of non-ASCII ones, so that UTF-8 handling
# (multi-byte characters, astral-plane emoji) is exercised by every stream.
_WORDS: tuple[str, ...] = (
    "the", "stream", "of", "events", "arrives", "over", "a", "long", "connection",
    "and", "each", "delta", "adds", "to", "message", "while", "client", "keeps",
    "reading", "until", "final", "stop", "model", "answers", "with", "careful",
    "words", "that", "follow", "question", "in", "order", "server", "sends",
    "bytes", "line", "by", "every", "block", "has", "an", "index", "so",
    "nothing", "is", "lost", "when", "network", "stays", "quiet", "for", "while",
    "retry", "later", "might", "help", "but", "only", "before", "any", "content",
    "shows", "up", "tokens", "count", "toward", "limit", "which", "bounds",
    "output", "text", "tool", "input", "grows", "as", "fragments", "join",
    "together", "into", "valid", "json", "object", "thinking", "comes", "first",
    "then", "signature", "closes", "it", "usage", "reports", "how", "many",
    "were", "used", "this", "response", "looks", "like", "prose", "yet",
    "means", "little", "gentle", "river", "mountain", "lantern", "harbor",
    "garden", "window", "morning", "evening", "quickly", "slowly", "bright",
)  # fmt: skip
_EXOTIC_WORDS: tuple[str, ...] = (
    "café", "naïve", "résumé", "façade", "Zürich", "São", "Ελλάδα",
    "Привет", "日本", "東京", "日本語", "한국어", "🚀", "✨", "🙂", "𝄞",
)  # fmt: skip
_EXOTIC_RATE = 0.05
_ENDINGS: tuple[str, ...] = (".", ".", ".", ".", "!", "?")


def seeded_rng(*seed: bytes) -> random.Random:
    """A generator seeded from ``seed`` (joined with a unit separator)."""
    material = b"\x1f".join(seed)
    return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))


def word_tokens(rng: random.Random, count: int) -> list[str]:
    """``count`` tokens of prose: each a word with its leading separator."""
    tokens: list[str] = []
    while len(tokens) < count:
        length = rng.randint(5, 14)
        paragraph = bool(tokens) and rng.random() < 0.15
        for position in range(length):
            word = rng.choice(_EXOTIC_WORDS if rng.random() < _EXOTIC_RATE else _WORDS)
            if position == 0:
                word = word[:1].upper() + word[1:]
            if position == length - 1:
                word += rng.choice(_ENDINGS)
            elif rng.random() < 0.08:
                word += ","
            if not tokens:
                separator = ""
            elif position == 0 and paragraph:
                separator = "\n\n"
            else:
                separator = " "
            tokens.append(separator + word)
            if len(tokens) == count:
                break
    return tokens


def _group(rng: random.Random, tokens: Sequence[str], smallest: int, largest: int) -> list[str]:
    chunks: list[str] = []
    index = 0
    while index < len(tokens):
        size = rng.randint(smallest, largest)
        chunks.append("".join(tokens[index : index + size]))
        index += size
    return chunks


def text_block(rng: random.Random, tokens: Sequence[str]) -> PlannedBlock:
    """A text block of ``tokens``, streamed one to three words per delta."""
    return PlannedBlock("text", tuple(_group(rng, tokens, 1, 3)))


def thinking_block(rng: random.Random, count: int) -> PlannedBlock:
    """A thinking block of ``count`` words and a signature derived from them."""
    tokens = word_tokens(rng, count)
    chunks = tuple(_group(rng, tokens, 3, 8))
    digest = hashlib.sha512("".join(chunks).encode("utf-8")).digest()
    signature = base64.b64encode(digest + hashlib.sha512(digest).digest()).decode("ascii")
    return PlannedBlock("thinking", chunks, signature=signature)
