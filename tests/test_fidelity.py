"""Today's API over real loopback TCP: nothing lost, nothing refused (asyncio, trio, sync).

The emulator speaks each case the way the API does (see the *Scenarios* of
``streamsafe.testing``): fine-grained tool streaming cut by ``max_tokens``,
compaction, a refusal fallback, a refusal, ``stop_sequences``, the
documented validation 400s and the request ids of Claude Platform on AWS.
Each goes through ``messages.stream(...)`` and ``messages.create(...)``.
"""

from __future__ import annotations

from typing import Any

import pytest

import streamsafe
from streamsafe import BadRequestError, Message
from streamsafe.testing import AWS_HEADER, FAULT_HEADER, REFUSAL_MAGIC_STRING, Emulator

pytestmark = pytest.mark.anyio

MODEL = "claude-emulated"
API_KEY = "sk-ant-test-fidelity"

EAGER_TOOL = {
    "name": "write_file",
    "description": "Write a file.",
    "eager_input_streaming": True,
    "input_schema": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "body": {"type": "string"}},
        "required": ["path", "body"],
    },
}


def request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Tell me about the sea."}],
    }
    body.update(overrides)
    return body


EAGER_CUT = request(
    max_tokens=3,
    tools=[EAGER_TOOL],
    tool_choice={"type": "tool", "name": "write_file"},
)
COMPACTION = request(
    context_management={
        "edits": [{"type": "compact_20260112", "trigger": {"type": "input_tokens", "value": 1}}]
    },
)
FALLBACK = request(
    messages=[{"role": "user", "content": f"Please {REFUSAL_MAGIC_STRING}"}],
    fallbacks=[{"model": "claude-opus-4-8"}],
)
REFUSAL = request(messages=[{"role": "user", "content": f"Please {REFUSAL_MAGIC_STRING}"}])


def async_client(emulator: Emulator) -> streamsafe.AsyncClient:
    return streamsafe.AsyncClient(base_url=emulator.url, api_key=API_KEY, max_retries=0)


def sync_client(emulator: Emulator) -> streamsafe.Client:
    return streamsafe.Client(base_url=emulator.url, api_key=API_KEY, max_retries=0)


async def both_ways(emulator: Emulator, body: dict[str, Any], **kw: Any) -> list[Message]:
    """The final message by ``stream`` and by ``create``, async; then both, sync."""
    messages = []
    async with async_client(emulator) as client:
        async with client.messages.stream(**body, **kw) as stream:
            messages.append(await stream.get_final_message())
        messages.append(await client.messages.create(**body, **kw))
    with sync_client(emulator) as client:
        with client.messages.stream(**body, **kw) as sync_stream:
            messages.append(sync_stream.get_final_message())
        messages.append(client.messages.create(**body, **kw))
    return messages


async def test_tool_call_cut_by_max_tokens_returns_the_message_flagged(emulator: Emulator) -> None:
    for message in await both_ways(emulator, EAGER_CUT):
        assert message.stop_reason == "max_tokens"
        assert message.incomplete_blocks == (0,)
        (tool,) = message.content
        assert isinstance(tool, streamsafe.ToolUseBlock)
        assert tool.name == "write_file"
        assert tool.input == {}  # the cut string value is dropped, as by the SDK
        assert tool.input_json is not None
        assert tool.input_json.startswith('{"path": "')
        assert not tool.input_json.endswith('"')  # really cut inside the string


async def test_a_larger_budget_gives_the_whole_call(emulator: Emulator) -> None:
    body = {**EAGER_CUT, "max_tokens": 4096}
    for message in await both_ways(emulator, body):
        assert message.stop_reason == "tool_use"
        assert message.incomplete_blocks == ()
        tool = message.content[0]
        assert isinstance(tool, streamsafe.ToolUseBlock)
        assert set(tool.input) == {"path", "body"}
        assert tool.input_json is None


async def test_compaction_block_keeps_its_summary(emulator: Emulator) -> None:
    for message in await both_ways(emulator, COMPACTION):
        compaction = message.content[0]
        assert isinstance(compaction, streamsafe.CompactionBlock)
        assert isinstance(compaction.content, str)
        assert compaction.content
        assert isinstance(compaction.to_dict()["encrypted_content"], str)
        assert compaction.unknown_deltas == []
        assert message.to_dict()["context_management"] == {"applied_edits": []}
        kinds = [item["type"] for item in message.to_dict()["usage"]["iterations"]]
        assert kinds == ["compaction", "message"]
        assert isinstance(message.content[1], streamsafe.TextBlock)


async def test_refusal_fallback_relabels_the_model(emulator: Emulator) -> None:
    for message in await both_ways(emulator, FALLBACK):
        assert message.model == "claude-opus-4-8"
        kinds = [block.type for block in message.content]
        assert "fallback" in kinds
        fallback = message.content[kinds.index("fallback")]
        assert isinstance(fallback, streamsafe.FallbackBlock)
        assert fallback.from_ == {"model": MODEL}
        assert fallback.to == {"model": "claude-opus-4-8"}
        assert message.stop_reason == "end_turn"


async def test_refusal_carries_its_stop_details(emulator: Emulator) -> None:
    for message in await both_ways(emulator, REFUSAL):
        assert message.stop_reason == "refusal"
        details = message.to_dict()["stop_details"]
        assert details["type"] == "refusal"
        assert details["category"] == "cyber"
        assert message.model == MODEL


async def test_stop_sequence_ends_the_text_early(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        full = (await client.messages.create(**request())).text
    words = full.split()
    stop = " ".join(words[3:5])
    for message in await both_ways(emulator, request(stop_sequences=["#never#", stop])):
        assert message.stop_reason == "stop_sequence"
        assert message.stop_sequence == stop
        assert message.text == full[: full.index(stop)]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            request(
                model="claude-opus-4-6",
                messages=[
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Sure, "},
                ],
            ),
            "Prefilling assistant messages is not supported for this model.",
        ),
        (
            request(
                model="claude-opus-4-5",
                max_tokens=4096,
                thinking={"type": "enabled", "budget_tokens": 512},
            ),
            "budget_tokens",
        ),
    ],
    ids=["prefill", "thinking budget"],
)
async def test_documented_validation_errors_are_bad_requests(
    emulator: Emulator, body: dict[str, Any], needle: str
) -> None:
    async with async_client(emulator) as client:
        with pytest.raises(BadRequestError) as info:
            await client.messages.create(**body)
    assert needle in info.value.message
    assert info.value.status_code == 400
    assert info.value.request_id is not None
    with sync_client(emulator) as client, pytest.raises(BadRequestError) as sync_info:
        client.messages.create(**body)
    assert needle in sync_info.value.message


async def test_prefill_is_accepted_by_models_that_support_it(emulator: Emulator) -> None:
    body = request(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure, "}],
    )
    async with async_client(emulator) as client:
        message = await client.messages.create(**body)
    assert message.stop_reason in {"end_turn", "max_tokens"}


AWS = {AWS_HEADER: "1"}


async def test_aws_request_ids_on_streams_messages_and_errors(emulator: Emulator) -> None:
    async with async_client(emulator) as client:
        async with client.messages.stream(**request(), extra_headers=AWS) as stream:
            message = await stream.get_final_message()
            assert stream.aws_request_id is not None
            assert stream.aws_request_id != stream.request_id
        assert message.aws_request_id == stream.aws_request_id
        assert message.request_id == message._request_id == stream.request_id
        created = await client.messages.create(**request(), extra_headers=AWS)
        assert created.aws_request_id is not None
        assert created.aws_request_id != message.aws_request_id
        # An HTTP error and an in-stream error carry both ids too.
        headers = {**AWS, FAULT_HEADER: "status:529"}
        with pytest.raises(streamsafe.OverloadedError) as http_error:
            await client.messages.create(**request(), extra_headers=headers)
        headers = {**AWS, FAULT_HEADER: "error:overloaded_error@4"}
        with pytest.raises(streamsafe.OverloadedError) as stream_error:
            async with client.messages.stream(**request(), extra_headers=headers) as stream:
                await stream.get_final_message()
    for error in (http_error.value, stream_error.value):
        assert error.aws_request_id is not None
        assert error.request_id is not None
        assert error.aws_request_id != error.request_id
    assert stream_error.value.in_stream
    assert stream_error.value.partial_message is not None
    assert stream_error.value.partial_message.aws_request_id == stream_error.value.aws_request_id
    # Without the platform's header there is no AWS id.
    async with async_client(emulator) as client:
        plain = await client.messages.create(**request())
    assert plain.aws_request_id is None
    assert plain.request_id is not None


def test_sync_aws_request_ids(emulator: Emulator) -> None:
    with sync_client(emulator) as client:
        with client.messages.stream(**request(), extra_headers=AWS) as stream:
            message = stream.get_final_message()
        assert message.aws_request_id == stream.aws_request_id is not None
        headers = {**AWS, FAULT_HEADER: "error:overloaded_error@4"}
        with (
            pytest.raises(streamsafe.OverloadedError) as info,
            client.messages.stream(**request(), extra_headers=headers) as failing,
        ):
            failing.get_final_message()
    assert info.value.aws_request_id is not None
    assert info.value.aws_request_id != info.value.request_id
