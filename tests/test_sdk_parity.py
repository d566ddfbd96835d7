"""Differential: the final message equals what the official SDK builds from the same bytes.

A corpus of streams written by hand covers every block and delta type the
newest SDK knows (text, citations, thinking, redacted thinking, signatures,
tool use with partial JSON, server tool use and every server tool result,
MCP, container upload, compaction, fallback, container, context management,
input transformations, stop details, usage details and iterations). Each
stream's bytes are served to streamsafe (``httpx.MockTransport``) and to the
installed SDK (its own ``MockTransport``), and the two final messages are
compared up to null-versus-absent: the SDK's models fill every field they
know with ``None``, the wire (and streamsafe) leaves absent ones out.

Every stream is checked against the SDK's beta stream (the superset of the
shapes); the ones without beta-only content also against its non-beta
stream. The differences streamsafe keeps on purpose are tested at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import streamsafe
from sse_helpers import (
    BASE_URL,
    MODEL,
    PATH,
    JSONDict,
    block_delta,
    block_start,
    block_stop,
    encode,
    json_delta,
    message_start,
    message_stop,
    sse_headers,
    text_delta,
)

anthropic = pytest.importorskip("anthropic", minversion="2.15.0")
httpx2 = pytest.importorskip("httpx2")

REQUEST = {"model": MODEL, "max_tokens": 1024, "messages": [{"role": "user", "content": "Hi"}]}


def delta_event(
    stop_reason: str | None,
    *,
    usage: JSONDict | None = None,
    delta_extra: JSONDict | None = None,
    **event_extra: Any,
) -> JSONDict:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None, **(delta_extra or {})},
        "usage": usage if usage is not None else {"output_tokens": 42},
        **event_extra,
    }


@dataclass(frozen=True)
class Stream:
    events: list[JSONDict]
    #: Holds content the SDK's non-beta stream does not model (checked on beta only).
    beta_only: bool = False


def block(index: int, start: JSONDict, *deltas: JSONDict) -> list[JSONDict]:
    return [block_start(index, start), *(block_delta(index, d) for d in deltas), block_stop(index)]


CITATION = {
    "type": "char_location",
    "cited_text": "The sky is blue.",
    "document_index": 0,
    "document_title": "Facts",
    "start_char_index": 0,
    "end_char_index": 16,
}
SEARCH_CITATION = {
    "type": "web_search_result_location",
    "cited_text": "Paris is the capital",
    "url": "https://example.com/paris",
    "title": "Paris",
    "encrypted_index": "Eo8BCioIAhgBIiQ",
}
USAGE_DETAILS = {
    "input_tokens": 2095,
    "output_tokens": 503,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 1800,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0},
    "service_tier": "standard",
}

CORPUS: dict[str, Stream] = {
    "text": Stream(
        [
            message_start(),
            *block(
                0,
                {"type": "text", "text": ""},
                {"type": "text_delta", "text": "Hello"},
                {"type": "text_delta", "text": ", wörld 🌍"},
                {"type": "text_delta", "text": ""},
                {"type": "text_delta", "text": ' \\ " \n done.'},
            ),
            delta_event("end_turn"),
            message_stop(),
        ]
    ),
    "text with citations": Stream(
        [
            message_start(),
            *block(
                0,
                {"type": "text", "text": "", "citations": []},
                {"type": "citations_delta", "citation": CITATION},
                {"type": "text_delta", "text": "The sky is blue"},
                {"type": "citations_delta", "citation": {**CITATION, "start_char_index": 4}},
                {"type": "text_delta", "text": "."},
            ),
            *block(1, {"type": "text", "text": "Plain "}, {"type": "text_delta", "text": "more"}),
            delta_event("end_turn"),
            message_stop(),
        ]
    ),
    "thinking, signature, redacted thinking": Stream(
        [
            message_start(),
            *block(
                0,
                {"type": "thinking", "thinking": "", "signature": ""},
                {"type": "thinking_delta", "thinking": "Let me think: "},
                {"type": "thinking_delta", "thinking": "2 + 2 = 4."},
                {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9G"},
                {"type": "signature_delta", "signature": "ErUBCkYIBBgCIkB3Jw=="},
            ),
            *block(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}),
            *block(2, {"type": "text", "text": ""}, {"type": "text_delta", "text": "4."}),
            delta_event("end_turn"),
            message_stop(),
        ]
    ),
    "tool use with partial JSON": Stream(
        [
            message_start(),
            *block(0, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Checking."}),
            block_start(1, {"type": "tool_use", "id": "toolu_01", "name": "weather", "input": {}}),
            json_delta(1, ""),
            json_delta(1, '{"loc'),
            json_delta(1, 'ation": "S\\u00e3o Pa'),
            json_delta(1, 'ulo 🌧", "days": [1, 2'),
            json_delta(1, '.5, -3e2], "deep": {"a": [null, true, false, {}]}, "esc": "q\\"\\\\"}'),
            block_stop(1),
            block_start(2, {"type": "tool_use", "id": "toolu_02", "name": "now", "input": {}}),
            json_delta(2, ""),
            block_stop(2),
            block_start(3, {"type": "tool_use", "id": "toolu_03", "name": "noop", "input": {}}),
            block_stop(3),
            delta_event("tool_use"),
            message_stop(),
        ]
    ),
    "fine-grained tool input cut by max_tokens": Stream(
        [
            message_start(),
            block_start(0, {"type": "tool_use", "id": "toolu_09", "name": "write", "input": {}}),
            json_delta(0, '{"path": "/tmp/report.md", "lines": [1, 2'),
            json_delta(0, '], "body": "# Quarterly rep'),
            block_stop(0),
            delta_event("max_tokens", usage={"output_tokens": 1024}),
            message_stop(),
        ]
    ),
    "web search: server tool use, result, cited text": Stream(
        [
            message_start(),
            block_start(
                0,
                {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {}},
            ),
            json_delta(0, '{"query": "capital of '),
            json_delta(0, 'France"}'),
            block_stop(0),
            *block(
                1,
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_01",
                    "content": [
                        {
                            "type": "web_search_result",
                            "url": "https://example.com/paris",
                            "title": "Paris",
                            "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM5",
                            "page_age": "April 30, 2025",
                        }
                    ],
                },
            ),
            *block(
                2,
                {"type": "text", "text": "", "citations": None},
                {"type": "citations_delta", "citation": SEARCH_CITATION},
                {"type": "text_delta", "text": "Paris."},
            ),
            delta_event(
                "end_turn",
                usage={
                    "output_tokens": 77,
                    "input_tokens": 2100,
                    "server_tool_use": {"web_search_requests": 1},
                },
            ),
            message_stop(),
        ]
    ),
    "code execution, bash, text editor, web fetch, tool search results": Stream(
        [
            message_start(usage_extra={"cache_read_input_tokens": 0}),
            block_start(
                0,
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_a",
                    "name": "bash_code_execution",
                    "input": {},
                },
            ),
            json_delta(0, '{"command": "ls -la"}'),
            block_stop(0),
            *block(
                1,
                {
                    "type": "bash_code_execution_tool_result",
                    "tool_use_id": "srvtoolu_a",
                    "content": {
                        "type": "bash_code_execution_result",
                        "stdout": "total 0\n",
                        "stderr": "",
                        "return_code": 0,
                        "content": [],
                    },
                },
            ),
            *block(
                2,
                {
                    "type": "text_editor_code_execution_tool_result",
                    "tool_use_id": "srvtoolu_b",
                    "content": {
                        "type": "text_editor_code_execution_view_result",
                        "content": "print('hi')\n",
                        "file_type": "text",
                        "num_lines": 1,
                        "start_line": 1,
                        "total_lines": 1,
                    },
                },
            ),
            *block(
                3,
                {
                    "type": "code_execution_tool_result",
                    "tool_use_id": "srvtoolu_c",
                    "content": {
                        "type": "code_execution_result",
                        "stdout": "4\n",
                        "stderr": "",
                        "return_code": 0,
                        "content": [],
                    },
                },
            ),
            *block(
                4,
                {
                    "type": "web_fetch_tool_result",
                    "tool_use_id": "srvtoolu_d",
                    "content": {
                        "type": "web_fetch_result",
                        "url": "https://example.com/a.pdf",
                        "retrieved_at": "2025-08-25T10:30:02Z",
                        "content": {
                            "type": "document",
                            "source": {"type": "text", "media_type": "text/plain", "data": "A"},
                            "title": "A",
                            "citations": {"enabled": True},
                        },
                    },
                },
            ),
            *block(
                5,
                {
                    "type": "tool_search_tool_result",
                    "tool_use_id": "srvtoolu_e",
                    "content": {
                        "type": "tool_search_tool_search_result",
                        "tool_references": [{"type": "tool_reference", "tool_name": "weather"}],
                    },
                },
            ),
            delta_event(
                "end_turn",
                delta_extra={
                    "container": {"id": "container_011", "expires_at": "2030-01-01T00:00:00Z"}
                },
            ),
            message_stop(),
        ]
    ),
    "MCP tool use, result and listing, container upload, advisor result": Stream(
        [
            message_start(),
            block_start(
                0,
                {
                    "type": "mcp_tool_use",
                    "id": "mcptoolu_01",
                    "name": "read_file",
                    "server_name": "files",
                    "input": {},
                },
            ),
            json_delta(0, '{"path": '),
            json_delta(0, '"/etc/hosts"}'),
            block_stop(0),
            *block(
                1,
                {
                    "type": "mcp_tool_result",
                    "tool_use_id": "mcptoolu_01",
                    "is_error": False,
                    "content": [{"type": "text", "text": "127.0.0.1 localhost"}],
                },
            ),
            *block(2, {"type": "container_upload", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}),
            *block(
                3,
                {
                    "type": "mcp_tool_listing",
                    "mcp_server_name": "files",
                    "tools": [
                        {
                            "name": "read_file",
                            "description": "Read a file",
                            "input_schema": {"type": "object", "properties": {}},
                        }
                    ],
                },
            ),
            *block(
                4,
                {
                    "type": "advisor_tool_result",
                    "tool_use_id": "srvtoolu_adv",
                    "content": {
                        "type": "advisor_result",
                        "text": "Looks right.",
                        "stop_reason": None,
                    },
                },
            ),
            delta_event("end_turn"),
            message_stop(),
        ],
        beta_only=True,
    ),
    "compaction with context management and iterations": Stream(
        [
            message_start(),
            *block(
                0,
                {"type": "compaction", "content": None, "encrypted_content": None},
                {
                    "type": "compaction_delta",
                    "content": "Summary: the user asked about weather in 3 cities.",
                    "encrypted_content": "Eo8BCioIAhgBIiQ3",
                },
            ),
            *block(1, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Continuing."}),
            delta_event(
                "end_turn",
                usage={
                    "output_tokens": 90,
                    "input_tokens": 180000,
                    "iterations": [
                        {"type": "compaction", "input_tokens": 180000, "output_tokens": 60},
                        {"type": "message", "input_tokens": 2000, "output_tokens": 30},
                    ],
                },
                context_management={"applied_edits": []},
            ),
            message_stop(),
        ],
        beta_only=True,
    ),
    "refusal fallback relabels the model": Stream(
        [
            message_start(message_extra={"input_transformations": []}),
            *block(
                0, {"type": "text", "text": ""}, {"type": "text_delta", "text": "I can help wi"}
            ),
            *block(
                1,
                {
                    "type": "fallback",
                    "from": {"model": MODEL},
                    "to": {"model": "claude-opus-4-8"},
                    "trigger": {"type": "refusal", "category": "cyber"},
                },
            ),
            *block(2, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Here it is."}),
            delta_event(
                "end_turn",
                usage={
                    "output_tokens": 60,
                    "iterations": [
                        {"type": "message", "input_tokens": 12, "output_tokens": 4},
                        {"type": "fallback_message", "input_tokens": 12, "output_tokens": 56},
                    ],
                },
                input_transformations=[{"type": "thinking_dropped", "message_index": 0}],
            ),
            message_stop(),
        ],
        beta_only=True,
    ),
    "refusal with stop details": Stream(
        [
            message_start(),
            *block(0, {"type": "text", "text": ""}, {"type": "text_delta", "text": "I"}),
            delta_event(
                "refusal",
                delta_extra={
                    "stop_details": {
                        "type": "refusal",
                        "category": "cyber",
                        "explanation": "This request could enable malware.",
                    }
                },
            ),
            message_stop(),
        ]
    ),
    "stop sequence and usage details that later events omit": Stream(
        [
            message_start(
                usage_extra={
                    k: v for k, v in USAGE_DETAILS.items() if "input" in k or k == "cache_creation"
                }
            ),
            *block(0, {"type": "text", "text": ""}, {"type": "text_delta", "text": "one, two, "}),
            {
                "type": "message_delta",
                "delta": {"stop_reason": "stop_sequence", "stop_sequence": "three"},
                "usage": {
                    "output_tokens": 503,
                    "server_tool_use": USAGE_DETAILS["server_tool_use"],
                    "output_tokens_details": {"thinking_tokens": 0},
                },
            },
            message_stop(),
        ]
    ),
}


def sse_body(events: list[JSONDict]) -> bytes:
    return encode(events)


def streamsafe_message(events: list[JSONDict]) -> streamsafe.Message:
    body = sse_body(events)
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers=sse_headers(), content=body)
    )
    with (
        httpx.Client(transport=transport, base_url=BASE_URL) as client,
        streamsafe.connect_message_stream(client, "POST", PATH, json=REQUEST) as stream,
    ):
        return stream.get_final_message()


def sdk_message(events: list[JSONDict], *, beta: bool) -> JSONDict:
    body = sse_body(events)

    def handler(request: Any) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    with anthropic.Anthropic(
        api_key="sk-test",
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    ) as client:
        messages = client.beta.messages if beta else client.messages
        with messages.stream(**REQUEST) as stream:
            final = stream.get_final_message()
    dumped: JSONDict = final.model_dump(mode="json", by_alias=True)
    return dumped


def without_nulls(value: Any) -> Any:
    """Null and absent are the same: drop every null member of every object."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


@pytest.mark.parametrize("name", list(CORPUS))
def test_final_message_equals_the_sdk_beta_stream(name: str) -> None:
    events = CORPUS[name].events
    ours = without_nulls(streamsafe_message(events).to_dict())
    theirs = without_nulls(sdk_message(events, beta=True))
    assert ours == theirs


@pytest.mark.parametrize("name", [name for name, stream in CORPUS.items() if not stream.beta_only])
def test_final_message_equals_the_sdk_stream(name: str) -> None:
    events = CORPUS[name].events
    ours = without_nulls(streamsafe_message(events).to_dict())
    theirs = without_nulls(sdk_message(events, beta=False))
    assert ours == theirs


def test_the_corpus_covers_every_block_and_delta_type_the_sdk_knows() -> None:
    """If the SDK learns a new block or delta type, this corpus must learn it too."""
    from typing import get_args

    from anthropic.types.beta import BetaContentBlock, BetaRawContentBlockDelta

    def tags(union: Any) -> set[str]:
        members = get_args(get_args(union)[0]) if get_args(union) else ()
        return {get_args(member.model_fields["type"].annotation)[0] for member in members}

    seen_blocks: set[str] = set()
    seen_deltas: set[str] = set()
    for stream in CORPUS.values():
        for event in stream.events:
            if event["type"] == "content_block_start":
                seen_blocks.add(event["content_block"]["type"])
            elif event["type"] == "content_block_delta":
                seen_deltas.add(event["delta"]["type"])
    assert len(tags(BetaContentBlock)) >= 18
    assert tags(BetaContentBlock) <= seen_blocks
    assert tags(BetaRawContentBlockDelta) <= seen_deltas


# -- the differences kept on purpose -------------------------------------------------------


def test_unparseable_tool_input_flags_the_block_where_the_sdk_cannot_tell() -> None:
    """Same ``input`` as the SDK; streamsafe also says the call is not whole."""
    message = streamsafe_message(CORPUS["fine-grained tool input cut by max_tokens"].events)
    assert message.content[0].input == {"path": "/tmp/report.md", "lines": [1, 2]}
    assert message.incomplete_blocks == (0,)
    assert message.content[0].input_json == (
        '{"path": "/tmp/report.md", "lines": [1, 2], "body": "# Quarterly rep'
    )


def test_invalid_tool_input_the_sdk_raises_on_is_a_message_here() -> None:
    events = [
        message_start(),
        block_start(0, {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}),
        json_delta(0, '{"a": 1,, "b": 2}'),
        block_stop(0),
        delta_event("tool_use"),
        message_stop(),
    ]
    with pytest.raises(ValueError, match="Unable to parse tool parameter JSON"):
        sdk_message(events, beta=True)
    message = streamsafe_message(events)
    assert message.content[0].input == {"a": 1}
    assert message.incomplete_blocks == (0,)


def test_a_compaction_delta_omitting_a_field_keeps_it_where_the_sdk_resets_it() -> None:
    events = [
        message_start(),
        *block(
            0,
            {"type": "compaction", "content": None, "encrypted_content": None},
            {"type": "compaction_delta", "content": "Summary.", "encrypted_content": "Eo=="},
            {"type": "compaction_delta", "content": "Summary, revised."},
        ),
        delta_event("end_turn"),
        message_stop(),
    ]
    theirs = sdk_message(events, beta=True)["content"][0]
    assert theirs["encrypted_content"] is None  # lost by the SDK
    ours = streamsafe_message(events).content[0].to_dict()
    assert ours == {
        "type": "compaction",
        "content": "Summary, revised.",
        "encrypted_content": "Eo==",
    }


def test_unknown_delta_fields_stay_on_the_delta_like_the_sdk_drops_them_from_the_block() -> None:
    events = [
        message_start(),
        *block(
            0,
            {"type": "text", "text": ""},
            {"type": "text_delta", "text": "Hi", "logprob": -0.25},
        ),
        delta_event("end_turn"),
        message_stop(),
    ]
    ours = streamsafe_message(events)
    assert without_nulls(ours.to_dict()) == without_nulls(sdk_message(events, beta=True))
    assert ours.content[0].unknown_deltas[0].extra_fields == {"logprob": -0.25}


def test_usage_counts_the_sdk_does_not_name_are_kept_from_message_delta() -> None:
    """The SDK copies only the usage fields it names; any other non-null count is kept."""
    events = [
        message_start(),
        delta_event(
            "end_turn",
            usage={"output_tokens": 3, "cache_creation": {"ephemeral_5m_input_tokens": 9}},
        ),
        message_stop(),
    ]
    assert "cache_creation" not in without_nulls(sdk_message(events, beta=True))["usage"]
    usage = streamsafe_message(events).to_dict()["usage"]
    assert usage["cache_creation"] == {"ephemeral_5m_input_tokens": 9}


def test_text_delta_helpers_build_the_same_bytes_for_both() -> None:
    """The corpus really reaches both parsers as bytes (a guard against a vacuous test)."""
    body = sse_body([message_start(), text_delta(0, "x")])
    assert body.startswith(b"event: message_start\ndata: ")
