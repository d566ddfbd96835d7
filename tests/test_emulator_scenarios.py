"""Emulator scenarios beyond the plain answer, observed over loopback TCP.

Each scenario is fetched streamed and non-streamed with plain httpx (async on
asyncio and trio, and sync), and once through the official SDK's beta stream
accumulator to show that the wire shapes fit its models.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from streamsafe.testing import Emulator

pytestmark = pytest.mark.anyio

Event = tuple[str, dict[str, Any]]
Fetched = tuple[httpx.Response, bytes]

MAGIC = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL_"
    "1FAEFB6177B4672DEE07F9D3AFC62588CCD2631EDCF22E8CCC1FB35B501C9C86"
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
NO_PREFILL = (
    "claude-fable-5",
    "claude-mythos-5",
    "claude-mythos-preview",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-6-20260205",
)
PREFILL_MESSAGE = "Prefilling assistant messages is not supported for this model."

WRITE_TOOL: dict[str, Any] = {
    "name": "write_file",
    "description": "Write a file",
    "eager_input_streaming": True,
    "input_schema": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "body": {"type": "string"}},
        "required": ["path", "body"],
    },
}
BUFFERED_TOOL = {key: value for key, value in WRITE_TOOL.items() if key != "eager_input_streaming"}


def body_for(text: str = "Write the report", max_tokens: int = 64, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-emulated",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def eager_body(max_tokens: int, tool: dict[str, Any] = WRITE_TOOL) -> dict[str, Any]:
    return body_for(
        max_tokens=max_tokens, tools=[tool], tool_choice={"type": "tool", "name": "write_file"}
    )


def compaction_body(threshold: int, *, pause: bool = False) -> dict[str, Any]:
    edit: dict[str, Any] = {
        "type": "compact_20260112",
        "trigger": {"type": "input_tokens", "value": threshold},
    }
    if pause:
        edit["pause_after_compaction"] = True
    return body_for(context_management={"edits": [edit]})


FALLBACK_BODY = body_for(MAGIC, model="claude-fable-5", fallbacks=[{"model": "claude-opus-4-8"}])


def parse_events(raw: bytes) -> list[Event]:
    frames = raw.decode("utf-8").split("\n\n")
    assert frames[-1] == ""
    events: list[Event] = []
    for frame in frames[:-1]:
        match = re.fullmatch(r"event: ([a-z_]+)\ndata: (\{.*\})", frame)
        assert match is not None, frame
        data = json.loads(match[2])
        assert data["type"] == match[1]
        events.append((match[1], data))
    return events


def names(events: list[Event]) -> list[str]:
    return [name for name, _ in events]


def rebuild(events: list[Event]) -> dict[str, Any]:
    """The Message a stream describes; a tool input stays the raw JSON text (``_json``)."""
    message = dict(events[0][1]["message"])
    blocks: list[dict[str, Any]] = []
    for name, data in events[1:]:
        if name == "content_block_start":
            assert data["index"] == len(blocks)
            blocks.append(dict(data["content_block"]))
            if blocks[-1]["type"] == "tool_use":
                blocks[-1]["_json"] = ""
        elif name == "content_block_delta":
            block, delta = blocks[data["index"]], data["delta"]
            kind = delta["type"]
            if kind == "text_delta":
                block["text"] += delta["text"]
            elif kind == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif kind == "signature_delta":
                block["signature"] = delta["signature"]
            elif kind == "input_json_delta":
                block["_json"] += delta["partial_json"]
            else:
                assert kind == "compaction_delta"
                block["content"] = delta["content"]
                block["encrypted_content"] = delta["encrypted_content"]
        elif name == "message_delta":
            message.update(data["delta"])
            message["usage"] = {**message["usage"], **data["usage"]}
            if "context_management" in data:
                message["context_management"] = data["context_management"]
    message["content"] = blocks
    return message


def same_content(streamed: dict[str, Any], whole: dict[str, Any]) -> None:
    """A stream and a non-streamed answer carry the same content (tool input aside)."""
    assert len(streamed["content"]) == len(whole["content"])
    for mine, theirs in zip(streamed["content"], whole["content"], strict=True):
        mine = {key: value for key, value in mine.items() if key != "_json"}
        if mine["type"] == "tool_use":
            mine.pop("input")
            theirs = {key: value for key, value in theirs.items() if key != "input"}
        assert mine == theirs
    for key in ("stop_reason", "stop_sequence", "stop_details", "context_management"):
        assert streamed.get(key) == whole.get(key), key
    assert streamed["usage"]["output_tokens"] == whole["usage"]["output_tokens"]

    # input_tokens follow the body size, which "stream": true changes.
    def iterations(message: dict[str, Any]) -> list[dict[str, Any]] | None:
        items = message["usage"].get("iterations")
        if items is None:
            return None
        return [{k: v for k, v in item.items() if k != "input_tokens"} for item in items]

    assert iterations(streamed) == iterations(whole)


# -- fixtures and fetching ---------------------------------------------------------------


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emu.url, timeout=5.0) as http:
        yield http


async def fetch(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Fetched:
    async with client.stream("POST", "/v1/messages", json=body, headers=headers) as response:
        return response, await response.aread()


async def both(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[list[Event], dict[str, Any]]:
    """The stream's events and the non-streamed Message for the same body."""
    streamed, raw = await fetch(client, {**body, "stream": True}, headers)
    whole, data = await fetch(client, body, headers)
    assert streamed.status_code == whole.status_code == 200, raw
    assert streamed.headers["content-type"].startswith("text/event-stream")
    return parse_events(raw), json.loads(data)


def both_sync(
    http: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[list[Event], dict[str, Any]]:
    streamed = http.post("/v1/messages", json={**body, "stream": True}, headers=headers)
    whole = http.post("/v1/messages", json=body, headers=headers)
    assert streamed.status_code == whole.status_code == 200, streamed.content
    return parse_events(streamed.content), whole.json()


# -- checks shared by the async and sync tests -------------------------------------------


def check_eager_cut(events: list[Event], whole: dict[str, Any], max_tokens: int) -> str:
    """The tool_use block closes on JSON that does not parse; returns that JSON."""
    assert names(events) == [
        "message_start",
        "ping",
        "content_block_start",
        *["content_block_delta"] * (len(events) - 6),
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[2][1]["content_block"]
    assert start == {"type": "tool_use", "id": start["id"], "name": "write_file", "input": {}}
    deltas = [data["delta"] for _, data in events[3:-3]]
    assert all(delta["type"] == "input_json_delta" for delta in deltas)
    cut = "".join(delta["partial_json"] for delta in deltas)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)
    # Cut inside a string value: closing the string and the object makes it parse.
    assert isinstance(json.loads(cut + '"}'), dict), cut
    assert not re.search(r"(?<!\\)(?:\\\\)*\\$", cut)  # never inside an escape
    assert events[-3][1] == {"type": "content_block_stop", "index": 0}
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
        "usage": {"output_tokens": max_tokens},
    }
    assert events[-1][1] == {"type": "message_stop"}
    # Non-streamed: the same call, its input made of the complete top-level pairs.
    (block,) = whole["content"]
    assert block["id"] == start["id"]
    assert block["name"] == "write_file"
    assert whole["stop_reason"] == "max_tokens"
    assert cut.startswith(json.dumps(block["input"])[:-1])
    assert json.loads(cut + '"}') == {**block["input"], **json.loads(cut + '"}')}
    assert len(json.loads(cut + '"}')) == len(block["input"]) + 1
    return cut


def check_compaction(events: list[Event], whole: dict[str, Any], threshold_hit: bool) -> None:
    streamed = rebuild(events)
    same_content(streamed, whole)
    if not threshold_hit:
        assert [block["type"] for block in whole["content"]] == ["text"]
        assert "iterations" not in whole["usage"]
        assert "context_management" not in whole
        return
    assert names(events)[:6] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
    ]
    assert events[2][1]["content_block"] == {
        "type": "compaction",
        "content": None,
        "encrypted_content": None,
    }
    delta = events[3][1]["delta"]
    assert delta["type"] == "compaction_delta"
    assert isinstance(delta["content"], str)
    assert delta["content"]
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", delta["encrypted_content"])
    assert events[5][1]["content_block"] == {"type": "text", "text": ""}
    assert [block["type"] for block in whole["content"]] == ["compaction", "text"]
    assert whole["content"][0] == {
        "type": "compaction",
        "content": delta["content"],
        "encrypted_content": delta["encrypted_content"],
    }
    message_delta = events[-2][1]
    assert message_delta["context_management"] == {"applied_edits": []}
    compaction, sampling = message_delta["usage"]["iterations"]
    assert compaction["type"] == "compaction"
    assert sampling["type"] == "message"
    assert sampling["output_tokens"] == message_delta["usage"]["output_tokens"]
    assert whole["stop_reason"] == "end_turn"


def check_fallback(events: list[Event], whole: dict[str, Any]) -> None:
    streamed = rebuild(events)
    same_content(streamed, whole)
    types = [block["type"] for block in whole["content"]]
    assert types == ["text", "fallback", "text"]
    start_names = [(n, d["index"]) for n, d in events if n.startswith("content_block_")]
    # The fallback block (index 1) has a start and a stop and nothing in between.
    position = start_names.index(("content_block_start", 1))
    assert start_names[position + 1] == ("content_block_stop", 1)
    assert whole["content"][1] == {
        "type": "fallback",
        "from": {"model": "claude-fable-5"},
        "to": {"model": "claude-opus-4-8"},
        "trigger": {"type": "refusal", "category": "cyber"},
    }
    assert events[0][1]["message"]["model"] == "claude-fable-5"
    assert whole["model"] == "claude-opus-4-8"
    assert whole["stop_reason"] == "end_turn"
    assert "stop_details" not in whole
    declined, served = whole["usage"]["iterations"]
    assert declined["type"] == "message"
    assert declined["model"] == "claude-fable-5"
    assert served["type"] == "fallback_message"
    assert served["model"] == "claude-opus-4-8"
    assert declined["output_tokens"] + served["output_tokens"] == whole["usage"]["output_tokens"]


def check_stop_sequence(events: list[Event], whole: dict[str, Any], full: str, stop: str) -> None:
    streamed = rebuild(events)
    same_content(streamed, whole)
    assert whole["content"] == [{"type": "text", "text": full[: full.index(stop)]}]
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": stop}
    assert whole["stop_reason"] == "stop_sequence"
    assert whole["stop_sequence"] == stop


# -- fine-grained tool streaming cut by max_tokens ----------------------------------------


@pytest.mark.parametrize("max_tokens", [3, 8, 27])
async def test_eager_tool_input_cut_inside_a_string(
    client: httpx.AsyncClient, max_tokens: int
) -> None:
    events, whole = await both(client, eager_body(max_tokens))
    cut = check_eager_cut(events, whole, max_tokens)
    assert cut.startswith('{"path": "')
    if max_tokens == 27:  # the path is complete, the body is cut
        assert set(whole["content"][0]["input"]) == {"path"}
        assert '"body": "' in cut


async def test_buffered_tool_that_does_not_fit_gives_a_cut_text(
    client: httpx.AsyncClient,
) -> None:
    events, whole = await both(client, eager_body(8, BUFFERED_TOOL))
    assert [block["type"] for block in whole["content"]] == ["text"]
    assert whole["stop_reason"] == "max_tokens"
    assert "input_json_delta" not in {d.get("delta", {}).get("type") for _, d in events}


async def test_eager_tool_that_fits_is_complete(client: httpx.AsyncClient) -> None:
    events, whole = await both(client, eager_body(4096))
    (block,) = whole["content"]
    json_text = "".join(d["delta"]["partial_json"] for n, d in events if n == "content_block_delta")
    assert json.loads(json_text) == block["input"]
    assert whole["stop_reason"] == "tool_use"


# -- compaction ---------------------------------------------------------------------------


async def test_compaction_block_first_when_input_reaches_the_trigger(
    client: httpx.AsyncClient,
) -> None:
    events, whole = await both(client, compaction_body(50))
    check_compaction(events, whole, threshold_hit=True)
    compaction, sampling = whole["usage"]["iterations"]
    assert compaction["input_tokens"] == sampling["input_tokens"] == whole["usage"]["input_tokens"]
    assert whole["usage"]["input_tokens"] > 50


async def test_no_compaction_below_the_trigger(client: httpx.AsyncClient) -> None:
    events, whole = await both(client, compaction_body(10**6))
    check_compaction(events, whole, threshold_hit=False)


async def test_compaction_pause(client: httpx.AsyncClient) -> None:
    events, whole = await both(client, compaction_body(1, pause=True))
    assert [block["type"] for block in whole["content"]] == ["compaction"]
    assert whole["stop_reason"] == "compaction"
    assert [n for n in names(events) if n.startswith("content_block")] == [
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
    ]
    same_content(rebuild(events), whole)
    assert [item["type"] for item in whole["usage"]["iterations"]] == ["compaction"]


# -- refusals and fallback ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "headers", "category"),
    [
        (MAGIC, None, "cyber"),
        ("Tell me", {"x-streamsafe-refusal": "bio"}, "bio"),
        ("Tell me", {"x-streamsafe-refusal": "null"}, None),
    ],
)
async def test_refusal_without_fallbacks(
    client: httpx.AsyncClient, text: str, headers: dict[str, str] | None, category: str | None
) -> None:
    events, whole = await both(client, body_for(text), headers)
    same_content(rebuild(events), whole)
    assert [block["type"] for block in whole["content"]] == ["text"]
    delta = events[-2][1]["delta"]
    assert delta["stop_reason"] == "refusal"
    assert delta["stop_sequence"] is None
    details = delta["stop_details"]
    assert details["type"] == "refusal"
    assert details["category"] == category
    if category is None:
        assert details["explanation"] is None
    else:
        assert isinstance(details["explanation"], str)
        assert details["explanation"]
    assert whole["stop_details"] == details


async def test_refusal_with_fallbacks(client: httpx.AsyncClient) -> None:
    events, whole = await both(client, FALLBACK_BODY)
    check_fallback(events, whole)


async def test_refusal_with_default_fallback(client: httpx.AsyncClient) -> None:
    _, whole = await both(client, {**FALLBACK_BODY, "fallbacks": "default"})
    assert whole["content"][1]["to"] == {"model": "claude-opus-4-8"}


async def test_bad_refusal_header(client: httpx.AsyncClient) -> None:
    response, raw = await fetch(client, body_for(), {"x-streamsafe-refusal": "nope"})
    assert response.status_code == 400
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"


# -- stop sequences -----------------------------------------------------------------------


async def test_stop_sequence_cuts_before_the_match(client: httpx.AsyncClient) -> None:
    _, plain = await both(client, body_for())
    full = plain["content"][0]["text"]
    words = full.split()
    stop = f" {words[len(words) // 2]}"  # a word that occurs, with its separator
    events, whole = await both(client, body_for(stop_sequences=["never-occurs", stop]), None)
    check_stop_sequence(events, whole, full, stop)


async def test_stop_sequence_that_does_not_occur(client: httpx.AsyncClient) -> None:
    _, plain = await both(client, body_for())
    _, whole = await both(client, body_for(stop_sequences=["@@@"]))
    assert whole["content"] == plain["content"]
    assert whole["stop_sequence"] is None
    assert whole["stop_reason"] == plain["stop_reason"]


# -- validation -----------------------------------------------------------------------------


async def expect_400(
    client: httpx.AsyncClient, body: dict[str, Any], message: str | None = None
) -> str:
    for stream in (False, True):
        response, raw = await fetch(client, {**body, "stream": stream})
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/json"
        error = json.loads(raw)
        assert error == {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": error["error"]["message"]},
            "request_id": response.headers["request-id"],
        }
        if message is not None:
            assert error["error"]["message"] == message
    return str(error["error"]["message"])


async def test_thinking_budget_below_1024(client: httpx.AsyncClient) -> None:
    thinking = {"type": "enabled", "budget_tokens": 512}
    message = await expect_400(
        client, body_for(max_tokens=4096, model="claude-sonnet-4-6", thinking=thinking)
    )
    assert "1024" in message


async def test_thinking_budget_not_below_max_tokens(client: httpx.AsyncClient) -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    message = await expect_400(
        client, body_for(max_tokens=2048, model="claude-haiku-4-5", thinking=thinking)
    )
    assert "max_tokens" in message


async def test_thinking_budget_checks_spare_emulator_models(client: httpx.AsyncClient) -> None:
    thinking = {"type": "enabled", "budget_tokens": 8}
    _, whole = await both(client, body_for(max_tokens=48, thinking=thinking))
    assert whole["content"][0]["type"] == "thinking"
    thinking = {"type": "enabled", "budget_tokens": 1024}
    _, whole = await both(
        client, body_for(max_tokens=2048, model="claude-opus-4-5", thinking=thinking)
    )
    assert whole["content"][0]["type"] == "thinking"


def prefill_body(model: str) -> dict[str, Any]:
    body = body_for(model=model)
    body["messages"].append({"role": "assistant", "content": "The answer is"})
    return body


@pytest.mark.parametrize("model", NO_PREFILL)
async def test_prefill_rejected(client: httpx.AsyncClient, model: str) -> None:
    await expect_400(client, prefill_body(model), PREFILL_MESSAGE)


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-fable-5-1", "claude-emulated"])
async def test_prefill_accepted(client: httpx.AsyncClient, model: str) -> None:
    events, whole = await both(client, prefill_body(model))
    same_content(rebuild(events), whole)
    assert whole["content"][0]["type"] == "text"
    assert whole["content"][0]["text"]


# -- AWS request ids --------------------------------------------------------------------------


def check_aws(response: httpx.Response) -> None:
    amzn = response.headers["x-amzn-requestid"]
    assert UUID.fullmatch(amzn), amzn
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", response.headers["request-id"])
    assert amzn != response.headers["request-id"]


async def test_aws_request_ids_on_request(client: httpx.AsyncClient) -> None:
    aws = {"x-streamsafe-aws": "1"}
    streamed, _ = await fetch(client, body_for(stream=True), aws)
    whole, _ = await fetch(client, body_for(), aws)
    check_aws(streamed)
    check_aws(whole)
    assert streamed.headers["x-amzn-requestid"] != whole.headers["x-amzn-requestid"]
    error, raw = await fetch(client, prefill_body("claude-opus-4-8"), aws)
    check_aws(error)
    assert json.loads(raw)["request_id"] == error.headers["request-id"]
    plain, _ = await fetch(client, body_for())
    assert "x-amzn-requestid" not in plain.headers


async def test_aws_request_ids_option() -> None:
    async with (
        Emulator(aws_request_ids=True) as emulator,
        httpx.AsyncClient(base_url=emulator.url, timeout=5.0) as http,
    ):
        assert emulator.aws_request_ids
        responses = [
            await fetch(http, body_for(stream=True)),
            await fetch(http, body_for()),
            await fetch(http, body_for(), {"x-streamsafe-fault": "status:529"}),
        ]
        missing = await http.get("/v1/nothing")
        for response, _ in responses:
            check_aws(response)
        check_aws(missing)
        assert missing.json()["request_id"] == missing.headers["request-id"]


# -- sync httpx ---------------------------------------------------------------------------------


def test_scenarios_with_sync_httpx(emulator: Emulator) -> None:
    with httpx.Client(base_url=emulator.url, timeout=5.0) as http:
        check_eager_cut(*both_sync(http, eager_body(8)), 8)
        check_compaction(*both_sync(http, compaction_body(50)), threshold_hit=True)
        check_fallback(*both_sync(http, FALLBACK_BODY))
        _, plain = both_sync(http, body_for())
        full = plain["content"][0]["text"]
        stop = full.split()[3]
        check_stop_sequence(*both_sync(http, body_for(stop_sequences=[stop])), full, stop)
        response = http.post("/v1/messages", json=prefill_body("claude-sonnet-4-6"))
        assert response.status_code == 400
        assert response.json()["error"]["message"] == PREFILL_MESSAGE
        response = http.post("/v1/messages", json=body_for(), headers={"x-streamsafe-aws": "1"})
        check_aws(response)


# -- the official SDK ----------------------------------------------------------------------------


@pytest.fixture
def sdk(emulator: Emulator) -> Iterator[Any]:
    anthropic = pytest.importorskip("anthropic")
    with anthropic.Anthropic(base_url=emulator.url, api_key="test", max_retries=0) as sdk_client:
        yield sdk_client


def sdk_stream(sdk: Any, body: dict[str, Any], **extra: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with sdk.beta.messages.stream(**body, **extra) as stream:
            return stream.get_final_message()


def test_sdk_eager_tool_cut(sdk: Any, emulator: Emulator) -> None:
    message = sdk_stream(sdk, eager_body(27))
    (block,) = message.content
    assert block.type == "tool_use"
    assert block.name == "write_file"
    assert message.stop_reason == "max_tokens"
    # The SDK parses partial JSON leniently: the cut string is dropped, no error.
    http = httpx.post(f"{emulator.url}/v1/messages", json=eager_body(27))
    assert block.input == http.json()["content"][0]["input"] == {"path": block.input["path"]}


def test_sdk_compaction(sdk: Any) -> None:
    message = sdk_stream(sdk, compaction_body(50))
    compaction, text = message.content
    assert compaction.type == "compaction"
    assert compaction.content
    assert compaction.encrypted_content
    assert text.type == "text"
    assert text.text
    assert message.context_management is not None
    assert message.context_management.applied_edits == []
    assert [item.type for item in message.usage.iterations] == ["compaction", "message"]


def test_sdk_refusal(sdk: Any) -> None:
    message = sdk_stream(sdk, body_for(), extra_headers={"x-streamsafe-refusal": "frontier_llm"})
    assert message.stop_reason == "refusal"
    assert message.stop_details.type == "refusal"
    assert message.stop_details.category == "frontier_llm"


def test_sdk_fallback(sdk: Any) -> None:
    message = sdk_stream(sdk, FALLBACK_BODY)
    assert [block.type for block in message.content] == ["text", "fallback", "text"]
    fallback = message.content[1]
    assert fallback.from_.model == "claude-fable-5"
    assert fallback.to.model == "claude-opus-4-8"
    assert fallback.trigger.category == "cyber"
    assert message.model == "claude-opus-4-8"  # the SDK relabels, as the JSON answer does
    assert [item.type for item in message.usage.iterations] == ["message", "fallback_message"]


def test_sdk_stop_sequence(sdk: Any) -> None:
    full = sdk_stream(sdk, body_for()).content[0].text
    stop = full.split()[5]
    message = sdk_stream(sdk, body_for(stop_sequences=[stop]))
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == stop
    assert message.content[0].text == full[: full.index(stop)]


def test_sdk_400s_and_aws_request_id(sdk: Any) -> None:
    anthropic = pytest.importorskip("anthropic")
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk_stream(sdk, prefill_body("claude-mythos-preview"))
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["message"] == PREFILL_MESSAGE
    with pytest.raises(anthropic.BadRequestError):
        sdk_stream(
            sdk,
            body_for(
                model="claude-opus-4-7",
                max_tokens=4096,
                thinking={"type": "enabled", "budget_tokens": 100},
            ),
        )
    raw = sdk.beta.messages.with_raw_response.create(
        **body_for(), extra_headers={"x-streamsafe-aws": "1"}
    )
    check_aws(raw.http_response)
