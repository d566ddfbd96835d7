"""Deterministic responses: the same request body always yields the same content.

A response is first *planned* (:func:`plan_response`: the content blocks, their
delta chunks, the stop reason and the token count), then rendered either as
the list of SSE events of a stream (:func:`stream_events`) or as one Message
object (:func:`message_object`). Both renderings come from the same plan, so
a streamed and a non-streamed request with the same body carry the same
content; only the message id differs.

One emitted "token" is one word. The randomness is seeded from the text of
the last user message, so a conversation gets a new answer at every turn.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "DEFAULT_COMPACTION_TRIGGER",
    "DEFAULT_FALLBACK_MODEL",
    "DEFAULT_THINKING_BUDGET",
    "REFUSAL_CATEGORIES",
    "REFUSAL_MAGIC_STRING",
    "MAX_OUTPUT_WORDS",
    "Plan",
    "PlannedBlock",
    "encode_sse",
    "make_id",
    "message_object",
    "plan_response",
    "stream_events",
]

#: Upper bound on the words of one answer, whatever max_tokens says.
MAX_OUTPUT_WORDS = 4096
#: Shortest "natural" answer: a smaller max_tokens cuts the text (stop_reason max_tokens).
MIN_ANSWER_WORDS = 24
MAX_THINKING_WORDS = 1024
DEFAULT_THINKING_BUDGET = 1024
#: Input tokens that trigger a ``compact_20260112`` edit without a ``trigger``.
DEFAULT_COMPACTION_TRIGGER = 150_000
COMPACTION_SUMMARY_WORDS = 40
#: The model a ``"fallbacks": "default"`` request falls back to.
DEFAULT_FALLBACK_MODEL = "claude-opus-4-8"
#: The documented string that makes the real API refuse (streaming refusals guide).
REFUSAL_MAGIC_STRING = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL_"
    "1FAEFB6177B4672DEE07F9D3AFC62588CCD2631EDCF22E8CCC1FB35B501C9C86"
)
#: ``stop_details.category`` values (None: a refusal without a named category).
REFUSAL_CATEGORIES: tuple[str, ...] = (
    "cyber",
    "bio",
    "frontier_llm",
    "reasoning_extraction",
    "general_harms",
)

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

# Fragments that force escapes in JSON: quotes, backslashes, control
# characters and non-ASCII text (json.dumps writes \uXXXX, astral characters
# as surrogate pairs). The first string of every tool input gets all kinds.
_TRICKY_FIRST = 'say "hi" at C:\\temp\nnaïve 日本 🚀'
_TRICKY: tuple[str, ...] = (
    'say "hi"',
    "C:\\temp\\new",
    "line one\nline two",
    "tab\there",
    "café",
    "日本語",
    "🚀 launch",
    "50% off & <b>",
    "naïve 𝄞",
)

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

BlockType = Literal["thinking", "text", "tool_use", "compaction", "fallback"]


def make_id(prefix: str, *parts: object) -> str:
    """A realistic looking id (``msg_01…``) derived from ``parts`` by hashing."""
    material = "\x1f".join(str(part) for part in (prefix, *parts))
    number = int.from_bytes(
        hashlib.sha256(material.encode("utf-8", "surrogatepass")).digest(), "big"
    )
    chars: list[str] = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_B62[digit])
    return f"{prefix}_01{''.join(chars)}"


@dataclass(frozen=True)
class PlannedBlock:
    """One content block and the delta chunks it is streamed as."""

    type: BlockType
    #: text_delta / thinking_delta texts, or input_json_delta fragments.
    chunks: tuple[str, ...]
    signature: str = ""
    tool_id: str = ""
    name: str = ""
    #: tool_use: the input object (for a cut input: its complete top-level pairs).
    input: Any = None
    #: compaction: (content, encrypted_content); fallback: the whole block.
    extra: Any = None

    def start_object(self) -> dict[str, Any]:
        """The ``content_block`` of the block's content_block_start event."""
        if self.type == "text":
            return {"type": "text", "text": ""}
        if self.type == "thinking":
            return {"type": "thinking", "thinking": "", "signature": ""}
        if self.type == "compaction":
            return {"type": "compaction", "content": None, "encrypted_content": None}
        if self.type == "fallback":
            return dict(self.extra)
        return {"type": "tool_use", "id": self.tool_id, "name": self.name, "input": {}}

    def cost(self) -> int:
        """Output tokens the block stands for (one word, or four characters of JSON)."""
        if self.type in ("text", "thinking"):
            return len("".join(self.chunks).split())
        if self.type == "tool_use":
            return max(1, len("".join(self.chunks)) // 4)
        return 0

    def final_object(self) -> dict[str, Any]:
        """The complete block, as found in a non-streamed Message."""
        if self.type == "compaction":
            content, encrypted = self.extra
            return {"type": "compaction", "content": content, "encrypted_content": encrypted}
        if self.type == "fallback":
            return dict(self.extra)
        if self.type == "text":
            return {"type": "text", "text": "".join(self.chunks)}
        if self.type == "thinking":
            return {
                "type": "thinking",
                "thinking": "".join(self.chunks),
                "signature": self.signature,
            }
        return {"type": "tool_use", "id": self.tool_id, "name": self.name, "input": self.input}


@dataclass(frozen=True)
class Plan:
    """Everything an answer contains, independent of how it is delivered."""

    blocks: tuple[PlannedBlock, ...]
    stop_reason: str
    output_tokens: int
    stop_sequence: str | None = None
    #: ``stop_details`` of a refusal (None: the field is left out).
    stop_details: Mapping[str, Any] | None = None
    #: ``usage.iterations`` (None: left out).
    iterations: tuple[Mapping[str, Any], ...] | None = None
    #: ``context_management`` of the final message (None: left out).
    context_management: Mapping[str, Any] | None = None
    #: The model that served the answer when it differs from the requested one.
    served_model: str | None = None


# -- planning ---------------------------------------------------------------


def plan_response(
    request: Mapping[str, Any], *, input_tokens: int = 1, refusal: str | None = None
) -> Plan:
    """Plan the answer to a (validated) Messages request.

    ``input_tokens`` decides whether a compaction edit triggers; ``refusal``
    (a category, or ``"null"``) scripts a refusal, as the magic string does.
    """
    messages: Sequence[Any] = request.get("messages") or []
    last_text, answered_tools = _last_user_turn(messages)
    if refusal is None and REFUSAL_MAGIC_STRING.encode("ascii") in last_text:
        refusal = REFUSAL_CATEGORIES[0]
    if refusal is not None:
        plan = _refusal_plan(request, last_text, answered_tools, refusal, input_tokens)
    else:
        plan = _answer(request, _rng(last_text), int(request["max_tokens"]), answered_tools)
        plan = _stop_at_sequence(plan, request.get("stop_sequences"))
    compaction = _compaction_edit(request.get("context_management"))
    if compaction is None or input_tokens < compaction[0]:
        return plan
    return _with_compaction(plan, last_text, input_tokens, pause=compaction[1])


def _rng(*seed: bytes) -> random.Random:
    material = b"\x1f".join(seed)
    return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))


def _answer(
    request: Mapping[str, Any], rng: random.Random, max_tokens: int, answered_tools: bool
) -> Plan:
    """The model's own answer: thinking, text and tool calls, cut at max_tokens."""
    messages: Sequence[Any] = request.get("messages") or []
    last_text, _ = _last_user_turn(messages)
    blocks: list[PlannedBlock] = []
    used = 0

    budget = _thinking_budget(request.get("thinking"), max_tokens)
    if budget is not None:
        wanted = max(1, min(budget, 16 + max_tokens // 8, MAX_THINKING_WORDS))
        words = min(wanted, max_tokens)
        blocks.append(_thinking_block(rng, words))
        used += words
        if words < wanted or used >= max_tokens:
            return Plan(tuple(blocks), "max_tokens", used)

    natural = min(MAX_OUTPUT_WORDS, max(MIN_ANSWER_WORDS, (max_tokens - used) * 3 // 4))
    tools = _usable_tools(request.get("tools"))
    choice = request.get("tool_choice")
    choice_type = choice.get("type", "auto") if isinstance(choice, Mapping) else "auto"
    forced = choice_type in ("any", "tool")
    if tools and choice_type != "none" and (forced or not answered_tools):
        intro = 0 if forced else rng.randint(8, 20)
        intro_tokens = _words(rng, intro)
        calls = _tool_calls(rng, tools, choice, last_text)
        cost = intro + sum(call.cost() for call in calls)
        if used + cost <= max_tokens:
            if intro:
                blocks.append(_text_block(rng, intro_tokens))
            blocks.extend(calls)
            return Plan(tuple(blocks), "tool_use", used + cost)
        eager = {str(t["name"]) for t in tools if t.get("eager_input_streaming") is True}
        room = max_tokens - used - intro
        cut = _eager_cut(calls, eager, room)
        if cut is not None:
            if intro:
                blocks.append(_text_block(rng, intro_tokens))
            blocks.extend(cut)
            return Plan(tuple(blocks), "max_tokens", max_tokens)
        natural = max_tokens + 1  # the tool calls do not fit: a cut text answer

    stop_reason = "end_turn"
    words = natural
    if used + words > max_tokens:
        words = max_tokens - used
        stop_reason = "max_tokens"
    if words > 0:
        blocks.append(_text_block(rng, _words(rng, words)))
        used += words
    return Plan(tuple(blocks), stop_reason, max(used, 1))


# -- fine-grained tool streaming cut by max_tokens ------------------------------


def _eager_cut(
    calls: Sequence[PlannedBlock], eager: set[str], room: int
) -> list[PlannedBlock] | None:
    """The calls that fit in ``room`` tokens, then the first one cut inside a string.

    Only a call to a tool with ``eager_input_streaming`` is cut (its input is
    streamed unvalidated); None when the call that overflows is buffered.
    """
    if room < 1:
        return None
    kept: list[PlannedBlock] = []
    for call in calls:
        if call.cost() <= room:
            kept.append(call)
            room -= call.cost()
            continue
        if call.name not in eager:
            return None
        kept.append(_cut_call(call, room * 4))
        return kept
    return None  # pragma: no cover - the calls did not fit, so one overflows


def _cut_call(call: PlannedBlock, room: int) -> PlannedBlock:
    text = "".join(call.chunks)
    positions = _string_cut_positions(text)
    before = [p for p in positions if p <= room]
    cut = (
        before[-1] if before else (positions[0] if positions else max(1, min(room, len(text) - 1)))
    )
    chunks: list[str] = []
    taken = 0
    for chunk in call.chunks:
        if taken >= cut and chunks:
            break
        piece = chunk[: cut - taken]
        chunks.append(piece)
        taken += len(piece)
    return PlannedBlock(
        "tool_use",
        tuple(chunks),
        tool_id=call.tool_id,
        name=call.name,
        input=_complete_pairs(call.input, cut),
    )


def _string_cut_positions(text: str) -> list[int]:
    """Offsets inside JSON string *values* (not keys), never inside an escape sequence."""
    positions: list[int] = []
    stack: list[str] = []
    expect_key = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"':
            is_key = bool(stack) and stack[-1] == "{" and expect_key
            index += 1
            while text[index] != '"':
                escape = text[index] == "\\"
                step = (6 if text[index + 1] == "u" else 2) if escape else 1
                high = escape and step == 6 and text[index + 2 : index + 4].lower() in _HIGH
                index += step
                if not is_key and not high:  # never between the halves of a surrogate pair
                    positions.append(index)
            expect_key = False
        elif char == "{":
            stack.append("{")
            expect_key = True
        elif char == "[":
            stack.append("[")
        elif char in "}]":
            stack.pop()
        elif char == ",":
            expect_key = bool(stack) and stack[-1] == "{"
        index += 1
    return [p for p in positions if p < len(text)]


_HIGH = frozenset({"d8", "d9", "da", "db"})


def _complete_pairs(value: Any, cut: int) -> Any:
    """The top-level pairs of ``value`` whose JSON (``json.dumps``) ends before ``cut``."""
    if not isinstance(value, dict):
        return {}
    complete: dict[str, Any] = {}
    offset = 1  # "{"
    for key, item in value.items():
        offset += len(json.dumps(key)) + 2 + len(json.dumps(item))
        if offset > cut:
            break
        complete[key] = item
        offset += 2  # ", "
    return complete


# -- stop sequences -------------------------------------------------------------


def _stop_at_sequence(plan: Plan, stop_sequences: Any) -> Plan:
    """Cut the answer right before the first stop sequence found in its text."""
    if not isinstance(stop_sequences, list):
        return plan
    wanted = [s for s in stop_sequences if isinstance(s, str) and s]
    if not wanted:
        return plan
    kept: list[PlannedBlock] = []
    for block in plan.blocks:
        if block.type == "text":
            text = "".join(block.chunks)
            hits = [(text.find(s), -len(s), s) for s in wanted if s in text]
            if hits:
                start, _, matched = min(hits)
                if start > 0:
                    kept.append(replace(block, chunks=_cut_chunks(block.chunks, start)))
                tokens = sum(b.cost() for b in kept)
                return replace(
                    plan,
                    blocks=tuple(kept),
                    stop_reason="stop_sequence",
                    output_tokens=max(tokens, 1),
                    stop_sequence=matched,
                )
        kept.append(block)
    return plan


def _cut_chunks(chunks: Sequence[str], length: int) -> tuple[str, ...]:
    kept: list[str] = []
    taken = 0
    for chunk in chunks:
        if taken >= length:
            break
        kept.append(chunk[: length - taken])
        taken += len(kept[-1])
    return tuple(kept)


# -- refusals and server-side fallback --------------------------------------------


def _refusal_plan(
    request: Mapping[str, Any],
    last_text: bytes,
    answered_tools: bool,
    category: str,
    input_tokens: int,
) -> Plan:
    """A refusal after a few words; with ``fallbacks``, the fallback model's answer follows."""
    model = str(request["model"])
    max_tokens = int(request["max_tokens"])
    rng = _rng(last_text, b"refusal")
    spoken = min(max_tokens, rng.randint(4, 12))
    partial = _text_block(rng, _words(rng, spoken))
    named = None if category == "null" else category
    fallback_model, fallback_max = _fallback_target(request.get("fallbacks"))
    if fallback_model is None:
        details = {
            "type": "refusal",
            "category": named,
            "explanation": None if named is None else _explanation(named),
        }
        return Plan((partial,), "refusal", spoken, stop_details=details)
    answer = _answer(
        request,
        _rng(last_text, fallback_model.encode()),
        fallback_max or max_tokens,
        answered_tools,
    )
    answer = _stop_at_sequence(answer, request.get("stop_sequences"))
    marker = PlannedBlock(
        "fallback",
        (),
        extra={
            "type": "fallback",
            "from": {"model": model},
            "to": {"model": fallback_model},
            "trigger": {"type": "refusal", "category": named},
        },
    )
    iterations = (
        _iteration("message", input_tokens, spoken, model=model),
        _iteration("fallback_message", input_tokens, answer.output_tokens, model=fallback_model),
    )
    return replace(
        answer,
        blocks=(partial, marker, *answer.blocks),
        output_tokens=spoken + answer.output_tokens,
        iterations=iterations,
        served_model=fallback_model,
    )


def _explanation(category: str) -> str:
    return f"The emulated model declined this request ({category.replace('_', ' ')})."


def _fallback_target(fallbacks: Any) -> tuple[str | None, int | None]:
    """The model (and max_tokens override) of the first ``fallbacks`` entry."""
    if fallbacks == "default":
        return DEFAULT_FALLBACK_MODEL, None
    if isinstance(fallbacks, list) and fallbacks and isinstance(fallbacks[0], Mapping):
        entry = fallbacks[0]
        override = entry.get("max_tokens")
        if isinstance(entry.get("model"), str):
            return entry["model"], override if isinstance(override, int) else None
    return None, None


def _iteration(kind: str, input_tokens: int, output_tokens: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        **extra,
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


# -- compaction --------------------------------------------------------------------


def _compaction_edit(context_management: Any) -> tuple[int, bool] | None:
    """(trigger threshold in input tokens, pause_after_compaction) of a compaction edit."""
    if not isinstance(context_management, Mapping):
        return None
    edits = context_management.get("edits")
    for edit in edits if isinstance(edits, list) else ():
        if not isinstance(edit, Mapping) or edit.get("type") != "compact_20260112":
            continue
        trigger = edit.get("trigger")
        value = trigger.get("value") if isinstance(trigger, Mapping) else None
        threshold = value if isinstance(value, int) else DEFAULT_COMPACTION_TRIGGER
        return threshold, edit.get("pause_after_compaction") is True
    return None


def _with_compaction(plan: Plan, last_text: bytes, input_tokens: int, *, pause: bool) -> Plan:
    rng = _rng(last_text, b"compaction")
    summary = "".join(_words(rng, COMPACTION_SUMMARY_WORDS))
    digest = hashlib.sha512(summary.encode("utf-8")).digest()
    encrypted = base64.b64encode(digest + hashlib.sha512(digest).digest()).decode("ascii")
    block = PlannedBlock("compaction", (), extra=(summary, encrypted))
    spent = _iteration("compaction", input_tokens, COMPACTION_SUMMARY_WORDS)
    applied: dict[str, Any] = {"applied_edits": []}
    if pause:
        return Plan((block,), "compaction", 0, iterations=(spent,), context_management=applied)
    rest = plan.iterations or (_iteration("message", input_tokens, plan.output_tokens),)
    return replace(
        plan,
        blocks=(block, *plan.blocks),
        iterations=(spent, *rest),
        context_management=applied,
    )


def _last_user_turn(messages: Sequence[Any]) -> tuple[bytes, bool]:
    """The seed text of the last user message, and whether it answers tool calls."""
    for message in reversed(messages):
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content.encode("utf-8", "surrogatepass"), False
        if isinstance(content, list):
            has_result = any(
                isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content
            )
            seed = json.dumps(content, sort_keys=True, ensure_ascii=True)
            return seed.encode("ascii"), has_result
        return json.dumps(content, sort_keys=True).encode("ascii"), False
    return b"", False


def _thinking_budget(thinking: Any, max_tokens: int) -> int | None:
    if not isinstance(thinking, Mapping):
        return None
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        return budget if isinstance(budget, int) and budget > 0 else DEFAULT_THINKING_BUDGET
    if kind == "adaptive":
        return max(1, max_tokens // 2)
    return None


def _words(rng: random.Random, count: int) -> list[str]:
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


def _text_block(rng: random.Random, tokens: Sequence[str]) -> PlannedBlock:
    return PlannedBlock("text", tuple(_group(rng, tokens, 1, 3)))


def _thinking_block(rng: random.Random, count: int) -> PlannedBlock:
    tokens = _words(rng, count)
    chunks = tuple(_group(rng, tokens, 3, 8))
    digest = hashlib.sha512("".join(chunks).encode("utf-8")).digest()
    signature = base64.b64encode(digest + hashlib.sha512(digest).digest()).decode("ascii")
    return PlannedBlock("thinking", chunks, signature=signature)


def _usable_tools(tools: Any) -> list[Mapping[str, Any]]:
    """Client tools (with a name; server tools that have a versioned type are skipped)."""
    if not isinstance(tools, list):
        return []
    usable: list[Mapping[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            continue
        if tool.get("type") not in (None, "custom") and "input_schema" not in tool:
            continue
        usable.append(tool)
    return usable


def _tool_calls(
    rng: random.Random,
    tools: Sequence[Mapping[str, Any]],
    choice: Any,
    seed_text: bytes,
) -> list[PlannedBlock]:
    choice_map: Mapping[str, Any] = choice if isinstance(choice, Mapping) else {}
    if choice_map.get("type") == "tool":
        named = [tool for tool in tools if tool.get("name") == choice_map.get("name")]
        picked = [named[0] if named else tools[0]]
    else:
        parallel = len(tools) > 1 and not choice_map.get("disable_parallel_tool_use", False)
        count = 2 if parallel and rng.random() < 0.5 else 1
        picked = rng.sample(list(tools), count)
    calls: list[PlannedBlock] = []
    for index, tool in enumerate(picked):
        value = _tool_input(rng, tool.get("input_schema"))
        text = json.dumps(value)
        calls.append(
            PlannedBlock(
                "tool_use",
                tuple(_split_json(rng, text)),
                tool_id=make_id("toolu", seed_text.hex(), index),
                name=str(tool["name"]),
                input=value,
            )
        )
    return calls


def _tool_input(rng: random.Random, schema: Any) -> dict[str, Any]:
    tricky = iter([_TRICKY_FIRST, *rng.sample(_TRICKY, len(_TRICKY))])
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if isinstance(properties, Mapping) and properties:
        value = _value(rng, schema, 0, tricky)
        if isinstance(value, dict):
            return value
    return {"query": _phrase(rng, tricky)}


def _phrase(rng: random.Random, tricky: Any) -> str:
    words = "".join(_words(rng, rng.randint(2, 6)))
    extra = next(tricky, None)
    return f"{words} {extra}" if extra is not None else words


def _value(rng: random.Random, schema: Any, depth: int, tricky: Any) -> Any:
    if not isinstance(schema, Mapping):
        return _phrase(rng, tricky)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return rng.choice(enum)
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            return _value(rng, options[0], depth, tricky)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None and isinstance(schema.get("properties"), Mapping):
        kind = "object"
    if depth > 4:
        kind = "string"
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return {"value": _phrase(rng, tricky)}
        required = schema.get("required")
        needed = set(required) if isinstance(required, list) else set(properties)
        result: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in needed or rng.random() < 0.6:
                result[str(name)] = _value(rng, sub, depth + 1, tricky)
        return result
    if kind == "array":
        low = schema.get("minItems", 1)
        low = low if isinstance(low, int) and low >= 0 else 1
        high = schema.get("maxItems", low + 2)
        high = high if isinstance(high, int) and high >= low else low + 2
        count = rng.randint(low, min(high, low + 3))
        return [_value(rng, schema.get("items"), depth + 1, tricky) for _ in range(count)]
    if kind == "integer":
        low, high = _bounds(schema, 0, 100)
        return rng.randint(int(low), int(high))
    if kind == "number":
        low, high = _bounds(schema, 0.0, 1000.0)
        return round(rng.uniform(low, high), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _phrase(rng, tricky)


def _bounds(schema: Mapping[str, Any], low: float, high: float) -> tuple[float, float]:
    minimum = schema.get("minimum")
    maximum = schema.get("maximum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        low = minimum
        high = max(high, low)
    if isinstance(maximum, int | float) and not isinstance(maximum, bool):
        high = maximum
        low = min(low, high)
    return low, high


def _split_json(rng: random.Random, text: str) -> list[str]:
    """Cut serialized JSON into input_json_delta fragments at awkward places.

    Cuts land inside strings, between a backslash and the character it
    escapes, and in the middle of ``\\uXXXX`` escapes, as well as at random
    spots. The first fragment is empty, as the real API sends it.
    """
    cuts: set[int] = set()
    index = text.find("\\")
    while index != -1:
        if rng.random() < 0.6:
            cuts.add(index + 1)  # between the backslash and the escaped character
        if text.startswith("u", index + 1) and rng.random() < 0.6:
            cuts.add(index + rng.randint(2, 5))  # inside the hex digits
        index = text.find("\\", index + 2)
    position = 0
    while position < len(text):
        position += rng.randint(3, 16)
        cuts.add(position)
    bounds = sorted(cut for cut in cuts if 0 < cut < len(text))
    fragments = [""]
    start = 0
    for cut in bounds:
        fragments.append(text[start:cut])
        start = cut
    fragments.append(text[start:])
    return fragments


# -- rendering ----------------------------------------------------------------

Event = tuple[str, dict[str, Any]]


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def stream_events(plan: Plan, *, message_id: str, model: str, input_tokens: int) -> list[Event]:
    """The events of a stream, in order, as ``(event name, data object)`` pairs."""
    events: list[Event] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _usage(input_tokens, 1),
                },
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(plan.blocks):
        events.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": block.start_object(),
                },
            )
        )
        if block.type == "compaction":
            content, encrypted = block.extra
            delta = {"type": "compaction_delta", "content": content, "encrypted_content": encrypted}
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        for chunk in block.chunks:
            if block.type == "text":
                delta = {"type": "text_delta", "text": chunk}
            elif block.type == "thinking":
                delta = {"type": "thinking_delta", "thinking": chunk}
            else:
                delta = {"type": "input_json_delta", "partial_json": chunk}
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        if block.type == "thinking":
            delta = {"type": "signature_delta", "signature": block.signature}
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    final: dict[str, Any] = {"stop_reason": plan.stop_reason, "stop_sequence": plan.stop_sequence}
    if plan.stop_details is not None:
        final["stop_details"] = dict(plan.stop_details)
    usage: dict[str, Any] = {"output_tokens": plan.output_tokens}
    if plan.iterations is not None:
        usage["iterations"] = [dict(item) for item in plan.iterations]
    message_delta: dict[str, Any] = {"type": "message_delta", "delta": final, "usage": usage}
    if plan.context_management is not None:
        message_delta["context_management"] = dict(plan.context_management)
    events.append(("message_delta", message_delta))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def message_object(plan: Plan, *, message_id: str, model: str, input_tokens: int) -> dict[str, Any]:
    """The non-streamed Message carrying the same content as the stream."""
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": plan.served_model or model,
        "content": [block.final_object() for block in plan.blocks],
        "stop_reason": plan.stop_reason,
        "stop_sequence": plan.stop_sequence,
    }
    if plan.stop_details is not None:
        message["stop_details"] = dict(plan.stop_details)
    if plan.context_management is not None:
        message["context_management"] = dict(plan.context_management)
    usage: dict[str, Any] = _usage(input_tokens, plan.output_tokens)
    if plan.iterations is not None:
        usage["iterations"] = [dict(item) for item in plan.iterations]
    message["usage"] = usage
    return message


def dump_json(value: Any) -> bytes:
    """Compact JSON with raw UTF-8, as the API writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_sse(event: str, data: Mapping[str, Any]) -> bytes:
    """One SSE event: ``event: <name>\\ndata: <json>\\n\\n``."""
    return b"event: " + event.encode("ascii") + b"\ndata: " + dump_json(data) + b"\n\n"
