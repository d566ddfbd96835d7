"""Error-code classes: parity with the official SDK, the mapping, and real bytes from the emulator.

The SDK (``anthropic``, from the ``bench`` extra) is the reference for names,
statuses, codes and bases; the mapping tables below are written out by hand,
independently of :mod:`streamsafe._error_codes`.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest

import streamsafe
import streamsafe.errors as errors
from streamsafe import APIError, APIStatusError, AsyncClient, Client
from streamsafe._error_codes import ERROR_CODE_CLASSES
from streamsafe._failures import error_from_payload, error_from_response, status_error_class
from streamsafe.testing import Emulator

pytestmark = pytest.mark.anyio

URL = "https://api.example/v1/messages"

# ---------------------------------------------------------------------------
# Parity with the official SDK
# ---------------------------------------------------------------------------

#: Top-level SDK exceptions streamsafe does not have, and why.
NOT_IN_STREAMSAFE = {
    "APIResponseValidationError": "no response-model validation (bad events: MalformedEventError)",
    "APIWebhookValidationError": "no webhooks",
    "RetryableError": "no middleware to raise it from",
    "CredentialsError": "no credential loading: the key is passed in",
    "IdentityTokenFileError": "no credential loading",
}


@pytest.fixture(scope="module")
def sdk() -> Any:
    return pytest.importorskip("anthropic", minversion="2.15.0")


def sdk_status_classes(sdk: Any) -> dict[str, type[Exception]]:
    """Every APIStatusError subclass reachable from ``anthropic`` and ``anthropic.types``,
    and every class of the SDK's ERROR_CLASSES table, by the name it is reached under."""
    import anthropic._error_classes
    import anthropic.types

    found: dict[str, type[Exception]] = {}
    for module in (sdk, anthropic.types):
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, sdk.APIStatusError):
                found[name] = value
    for cls in anthropic._error_classes.ERROR_CLASSES.values():
        found.setdefault(cls.__name__, cls)
    return found


def sdk_codes(sdk: Any) -> dict[type[Exception], tuple[int, str | None]]:
    import anthropic._error_classes

    return {cls: key for key, cls in anthropic._error_classes.ERROR_CLASSES.items()}


def test_every_sdk_status_class_exists_with_the_same_name_status_code_and_base(sdk: Any) -> None:
    classes = sdk_status_classes(sdk)
    codes = sdk_codes(sdk)
    assert len(classes) > 150  # the 2.15 table has 154 entries, plus two aliases
    for name, theirs in classes.items():
        ours = getattr(errors, name, None)
        assert inspect.isclass(ours), f"streamsafe.errors has no {name}"
        assert issubclass(ours, APIStatusError), name
        assert name in errors.__all__, name
        assert ours.__name__ == theirs.__name__, name  # an alias names the same class
        their_status = getattr(theirs, "status_code", None)
        if isinstance(their_status, int):
            assert ours.default_status == their_status, name
        status, code = codes.get(theirs, (None, None))
        if status is not None:
            assert ours.default_status == status, name
        assert ours.error_code == code, name
        assert issubclass(ours, errors.InternalServerError) == issubclass(
            theirs, sdk.InternalServerError
        ), name
        assert ours.__bases__[0].__name__ == theirs.__bases__[0].__name__, name
        assert len(ours.__bases__) == 1, name


def test_error_code_classes_are_exactly_the_sdk_table(sdk: Any) -> None:
    import anthropic._error_classes

    theirs = {
        key: cls.__name__ for key, cls in anthropic._error_classes.ERROR_CLASSES.items() if key[1]
    }
    ours = {key: cls.__name__ for key, cls in ERROR_CODE_CLASSES.items()}
    assert ours == theirs
    assert len(ours) == 137


def test_every_top_level_sdk_exception_is_at_streamsafe_top_level(sdk: Any) -> None:
    exported = [
        name
        for name in sdk.__all__
        if inspect.isclass(getattr(sdk, name)) and issubclass(getattr(sdk, name), BaseException)
    ]
    assert set(NOT_IN_STREAMSAFE) <= set(exported)  # the exclusions stay real
    missing = [
        name
        for name in exported
        if name not in NOT_IN_STREAMSAFE
        and not (name in streamsafe.__all__ and hasattr(streamsafe, name))
    ]
    assert missing == []
    for name in exported:
        if name in NOT_IN_STREAMSAFE:
            continue
        ours = getattr(streamsafe, name)
        assert ours is getattr(errors, name), name
        if issubclass(getattr(sdk, name), sdk.APIStatusError):
            assert issubclass(ours, APIStatusError), name
    assert streamsafe.AnthropicError is streamsafe.StreamsafeError


def test_errors_module_exports_the_whole_tree() -> None:
    for cls in ERROR_CODE_CLASSES.values():
        assert getattr(errors, cls.__name__) is cls
        assert cls.__name__ in errors.__all__
    for name in errors.__all__:
        value = getattr(errors, name)
        assert inspect.isclass(value), name
        assert issubclass(value, Exception), name
    assert len(set(errors.__all__)) == len(errors.__all__)
    for name in streamsafe.__all__:
        value = getattr(streamsafe, name)
        if inspect.isclass(value) and issubclass(value, Exception):
            assert name in errors.__all__, name


def test_every_error_code_class_is_registered_and_documented() -> None:
    """The registry holds every code class the public face exports, each naming its code."""
    exported = {
        value
        for value in (getattr(errors, name) for name in errors.__all__)
        if inspect.isclass(value) and issubclass(value, APIStatusError) and value.error_code
    }
    assert exported == set(ERROR_CODE_CLASSES.values())
    for (status, code), cls in ERROR_CODE_CLASSES.items():
        assert cls.error_code == code
        assert cls.default_status == status
        doc = cls.__doc__ or ""
        assert f"``{code}``" in doc, cls.__name__
        assert doc.startswith(f"{status} "), cls.__name__


# ---------------------------------------------------------------------------
# The mapping: HTTP status and in-stream event give the same class
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    error_type: str | None
    error_code: str | None
    http_status: int
    cls: type[APIStatusError]
    #: The status the class stands for (what ``status_code`` says in-stream too).
    status: int


#: Written out by hand: (type, code, HTTP status) → class.
SAME_BOTH_WAYS = [
    Case("rate_limit_error", "ramp_limit_exceeded", 429, errors.RampLimitExceededError, 429),
    Case(
        "rate_limit_error",
        "enforced_spend_limit_reached",
        429,
        errors.EnforcedSpendLimitReachedError,
        429,
    ),
    Case("overloaded_error", "compaction_unavailable", 529, errors.CompactionUnavailableError, 529),
    Case(
        "invalid_request_error",
        "image_dimensions_too_large",
        400,
        errors.ImageDimensionsTooLargeError,
        400,
    ),
    Case(
        "billing_error",
        "linked_organization_spend_limit_reached",
        402,
        errors.LinkedOrganizationSpendLimitReachedError,
        402,
    ),
    Case(
        "permission_error",
        "sandbox_egress_restricted",
        403,
        errors.SandboxEgressRestrictedError,
        403,
    ),
    Case("not_found_error", "file_expired", 404, errors.FileExpiredError, 404),
    Case("conflict_error", "storage_in_use", 409, errors.BetaStorageInUseError, 409),
    Case(
        "request_too_large",
        "request_body_too_large_after_decoding",
        413,
        errors.RequestBodyTooLargeAfterDecodingError,
        413,
    ),
    # A 503 code arriving as api_error: the code's class is a kind of InternalServerError.
    Case("api_error", "cmek_key_unreachable", 503, errors.CMEKKeyUnreachableError, 503),
    # An unknown code: the class of the type (and status).
    Case("rate_limit_error", "code_from_the_future", 429, errors.RateLimitError, 429),
    Case("overloaded_error", "code_from_the_future", 529, errors.OverloadedError, 529),
    # A known code of another kind than the type: ignored.
    Case("rate_limit_error", "compaction_unavailable", 429, errors.RateLimitError, 429),
    Case("invalid_request_error", "ramp_limit_exceeded", 400, errors.BadRequestError, 400),
    # No code at all.
    Case("rate_limit_error", None, 429, errors.RateLimitError, 429),
    Case("timeout_error", None, 504, errors.GatewayTimeoutError, 504),
]
CASE_IDS = [f"{c.error_type}-{c.error_code}" for c in SAME_BOTH_WAYS]


def error_payload(
    error_type: str | None, message: str = "no", *, details: object = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if error_type is not None:
        error["type"] = error_type
    if details is not None:
        error["details"] = details
    return {"type": "error", "error": error, "request_id": "req_body"}


def code_payload(error_type: str | None, code: str | None) -> dict[str, Any]:
    return error_payload(error_type, details=None if code is None else {"error_code": code})


def http_error(
    status: int, payload: object = None, *, content: bytes | None = None, **headers: str
) -> APIStatusError:
    request = httpx.Request("POST", URL)
    if content is None:
        content = json.dumps(payload).encode()
    response = httpx.Response(status, content=content, headers=headers, request=request)
    return error_from_response(response)


def stream_error(payload: object, **headers: str) -> APIStatusError:
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream", **headers}, request=None
    )
    return error_from_payload(payload, http_status=200, in_stream=True, response=response)


def retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


@pytest.mark.parametrize("case", SAME_BOTH_WAYS, ids=CASE_IDS)
def test_http_and_in_stream_give_the_same_class(case: Case) -> None:
    payload = code_payload(case.error_type, case.error_code)
    over_http = http_error(case.http_status, payload)
    in_stream = stream_error(payload)
    assert type(over_http) is case.cls
    assert type(in_stream) is case.cls
    assert status_error_class(case.error_type, case.http_status, case.error_code) is case.cls
    assert status_error_class(case.error_type, None, case.error_code) is case.cls
    for error, http_status in ((over_http, case.http_status), (in_stream, 200)):
        assert error.status_code == case.status
        assert error.http_status == http_status
        assert error.in_stream is (http_status == 200)
        assert error.error_type == case.error_type
        assert error.error_code == case.error_code
        expected_details = None if case.error_code is None else {"error_code": case.error_code}
        assert error.details == expected_details
        assert error.retryable is retryable_status(case.status)
        assert error.request_id == "req_body"
        assert error.message == "no"


@pytest.mark.parametrize(
    ("error_type", "error_code", "status", "cls"),
    [
        # The HTTP status decides what the type cannot.
        ("future_error_type", "ramp_limit_exceeded", 429, errors.RampLimitExceededError),
        (None, "compaction_unavailable", 529, errors.CompactionUnavailableError),
        (None, "heartbeat_precondition_failed", 412, errors.BetaHeartbeatPreconditionFailedError),
        (None, "cmek_key_unreachable", 503, errors.CMEKKeyUnreachableError),
        (None, "code_from_the_future", 503, errors.ServiceUnavailableError),
        # A type that disagrees with the status: the code is tried under both.
        ("overloaded_error", "compaction_unavailable", 500, errors.CompactionUnavailableError),
        ("rate_limit_error", "ramp_limit_exceeded", 400, errors.RampLimitExceededError),
        # A code under another status than the response's and the type's: ignored.
        (None, "ramp_limit_exceeded", 400, errors.BadRequestError),
        # Statuses without an error type, and unlisted ones.
        (None, None, 408, errors.RequestTimeoutError),
        (None, None, 409, errors.ConflictError),
        (None, None, 412, errors.PreconditionFailedError),
        (None, None, 422, errors.UnprocessableEntityError),
        (None, None, 431, errors.RequestHeaderFieldsTooLargeError),
        (None, None, 499, errors.ClientClosedRequestError),
        (None, None, 501, errors.HTTPNotImplementedError),
        (None, None, 503, errors.ServiceUnavailableError),
        ("api_error", None, 503, errors.ServiceUnavailableError),
        ("api_error", None, 502, errors.InternalServerError),
        ("future_error_type", None, 418, errors.APIStatusError),
        ("future_error_type", "ramp_limit_exceeded", 418, errors.APIStatusError),
        ("future_error_type", None, 507, errors.InternalServerError),
        # The type wins over a status of another kind.
        ("invalid_request_error", None, 503, errors.BadRequestError),
    ],
)
def test_http_mapping(
    error_type: str | None, error_code: str | None, status: int, cls: type[APIStatusError]
) -> None:
    assert status_error_class(error_type, status, error_code) is cls
    error = http_error(status, code_payload(error_type, error_code))
    assert type(error) is cls
    assert error.error_code == error_code
    assert error.http_status == status


def test_in_stream_unknown_type_ignores_the_code() -> None:
    error = stream_error(code_payload("future_error_type", "ramp_limit_exceeded"))
    assert type(error) is APIStatusError
    assert error.status_code == 200
    assert error.error_code == "ramp_limit_exceeded"
    assert error.retryable is False


#: The error type each status's codes arrive with in-stream (412 has none).
TYPE_FOR_CODE_STATUS = {
    400: "invalid_request_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "api_error",
    529: "overloaded_error",
}


@pytest.mark.parametrize(
    "key", sorted(ERROR_CODE_CLASSES), ids=[f"{s}-{c}" for s, c in sorted(ERROR_CODE_CLASSES)]
)
def test_every_code_maps_to_its_class_both_ways(key: tuple[int, str]) -> None:
    status, code = key
    cls = ERROR_CODE_CLASSES[key]
    assert cls.default_status == status
    assert cls.error_code == code
    over_http = http_error(status, code_payload("future_error_type", code))
    assert type(over_http) is cls
    assert over_http.retryable is retryable_status(status)
    assert over_http.error_code == code
    if status in TYPE_FOR_CODE_STATUS:
        in_stream = stream_error(code_payload(TYPE_FOR_CODE_STATUS[status], code))
        assert type(in_stream) is cls
        assert in_stream.status_code == status
        assert in_stream.retryable is retryable_status(status)
    else:
        assert status == 412


@pytest.mark.parametrize(
    ("details", "error_code", "kept"),
    [
        ({"error_code": 42}, None, {"error_code": 42}),
        ({"error_code": None, "limit": 3}, None, {"error_code": None, "limit": 3}),
        ("ramp_limit_exceeded", None, None),
        (["ramp_limit_exceeded"], None, None),
        ({"error_code": "ramp_limit_exceeded", "extra": [1]}, "ramp_limit_exceeded", None),
    ],
)
def test_details_of_any_shape(details: object, error_code: str | None, kept: object) -> None:
    error = http_error(429, error_payload("rate_limit_error", details=details))
    assert error.error_code == error_code
    if error_code is None:
        assert type(error) is errors.RateLimitError
        assert error.details == kept
    else:
        assert type(error) is errors.RampLimitExceededError
        assert error.details == details


def test_html_and_empty_bodies_have_no_code() -> None:
    page = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    error = http_error(503, content=page, **{"content-type": "text/html"})
    assert type(error) is errors.ServiceUnavailableError
    assert error.status_code == 503
    assert error.error_code is None
    assert error.details is None
    assert "503 Service Temporarily Unavailable" in error.message
    empty = http_error(431, content=b"")
    assert type(empty) is errors.RequestHeaderFieldsTooLargeError
    assert empty.error_code is None
    assert empty.retryable is False


def test_header_ids_and_str() -> None:
    payload = code_payload("rate_limit_error", "ramp_limit_exceeded")
    headers = {
        "request-id": "req_header",
        "x-amzn-requestid": "aws-1234",
        "anthropic-workspace-id": "wrkspc_1",
    }
    for error in (http_error(429, payload, **headers), stream_error(payload, **headers)):
        assert error.request_id == "req_header"
        assert error.aws_request_id == "aws-1234"
        assert error.workspace_id == "wrkspc_1"
        assert "error_code=ramp_limit_exceeded" in str(error)
        assert "rate_limit_error" in str(error)
    plain = http_error(429, code_payload("rate_limit_error", None))
    assert plain.aws_request_id is None
    assert plain.workspace_id is None
    assert "error_code" not in str(plain)
    assert streamsafe.APIConnectionError("reset").aws_request_id is None
    assert APIError("x", aws_request_id="aws-9").aws_request_id == "aws-9"


def test_x_should_retry_overrides_a_code_class() -> None:
    payload = code_payload("rate_limit_error", "ramp_limit_exceeded")
    error = http_error(429, payload, **{"x-should-retry": "false"})
    assert type(error) is errors.RampLimitExceededError
    assert error.retryable is False


def test_code_classes_are_caught_by_their_status_class() -> None:
    error = http_error(529, code_payload("overloaded_error", "compaction_unavailable"))
    with pytest.raises(streamsafe.OverloadedError):
        raise error
    with pytest.raises(streamsafe.InternalServerError):
        raise error
    ramp = http_error(429, code_payload("rate_limit_error", "ramp_limit_exceeded"))
    with pytest.raises(streamsafe.RampLimitExceededError):
        raise ramp
    with pytest.raises(streamsafe.RateLimitError):
        raise ramp


# ---------------------------------------------------------------------------
# Real bytes over loopback TCP: the emulator's code= option
# ---------------------------------------------------------------------------

How = Literal["stream", "create"]
HOWS: tuple[How, ...] = ("stream", "create")
HTTP_SPEC = "status:429;code=ramp_limit_exceeded"
STREAM_SPEC = "error:overloaded_error@3;code=compaction_unavailable"
PARAMS: dict[str, Any] = {
    "model": "claude-emulated",
    "max_tokens": 48,
    "messages": [{"role": "user", "content": "Tell me about streams"}],
}


async def arun(client: AsyncClient, how: How) -> None:
    if how == "create":
        await client.messages.create(**PARAMS)
        return
    async with client.messages.stream(**PARAMS) as stream:
        await stream.get_final_message()


def srun(client: Client, how: How) -> None:
    if how == "create":
        client.messages.create(**PARAMS)
        return
    with client.messages.stream(**PARAMS) as stream:
        stream.get_final_message()


async def afail(emu: Emulator, spec: str, how: How) -> APIError:
    """One request under the fault ``spec`` (no retries); the error it raised."""
    emu.clear()
    emu.push_fault(spec)
    async with AsyncClient(api_key="k", base_url=emu.url, max_retries=0) as client:
        with pytest.raises(APIError) as info:
            await arun(client, how)
    return info.value


def sfail(emu: Emulator, spec: str, how: How) -> APIError:
    """Sync twin of :func:`afail`."""
    emu.clear()
    emu.push_fault(spec)
    with (
        Client(api_key="k", base_url=emu.url, max_retries=0) as client,
        pytest.raises(APIError) as info,
    ):
        srun(client, how)
    return info.value


def check_http_code_error(error: APIError, emu: Emulator) -> None:
    assert type(error) is errors.RampLimitExceededError
    assert isinstance(error, streamsafe.RateLimitError)
    assert error.error_code == "ramp_limit_exceeded"
    assert error.details == {"error_code": "ramp_limit_exceeded"}
    assert error.error_type == "rate_limit_error"
    assert error.status_code == 429
    assert error.http_status == 429
    assert error.in_stream is False
    assert error.retryable is True
    [request] = emu.requests
    assert error.request_id == request.request_id
    assert error.aws_request_id is None
    assert error.partial_message is None


def check_stream_code_error(error: APIError, emu: Emulator) -> None:
    assert type(error) is errors.CompactionUnavailableError
    assert isinstance(error, streamsafe.OverloadedError)
    assert error.error_code == "compaction_unavailable"
    assert error.details == {"error_code": "compaction_unavailable"}
    assert error.error_type == "overloaded_error"
    assert error.status_code == 529
    assert error.http_status == 200
    assert error.in_stream is True
    assert error.retryable is True
    [request] = emu.requests
    assert error.request_id == request.request_id
    # Three events arrived: message_start, ping, content_block_start (an empty text block).
    partial = error.partial_message
    assert partial is not None
    assert partial.request_id == request.request_id
    assert partial.id.startswith("msg_")
    assert [block.type for block in partial.content] == ["text"]
    assert partial.text == ""
    assert error.incomplete_blocks == (0,)


@pytest.mark.parametrize("how", HOWS)
async def test_emulated_http_error_code(emu: Emulator, how: How) -> None:
    check_http_code_error(await afail(emu, HTTP_SPEC, how), emu)


@pytest.mark.parametrize("how", HOWS)
async def test_emulated_in_stream_error_code(emu: Emulator, how: How) -> None:
    check_stream_code_error(await afail(emu, STREAM_SPEC, how), emu)


@pytest.mark.parametrize("how", HOWS)
def test_sync_emulated_error_codes(emu: Emulator, how: How) -> None:
    check_http_code_error(sfail(emu, HTTP_SPEC, how), emu)
    check_stream_code_error(sfail(emu, STREAM_SPEC, how), emu)
