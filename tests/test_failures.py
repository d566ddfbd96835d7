"""``_failures`` is the one owner of the mapping from foreign failures to streamsafe's exceptions.

The rule is checked on the source: outside ``streamsafe/_failures.py`` no
module decides on the type of an httpx exception, and no ``except`` clause
catching one builds a streamsafe exception itself; both go through
``_failures``. The checker is tested on code that breaks the rule, so it
cannot pass by seeing nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import streamsafe
import streamsafe.errors as errors
from streamsafe import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    StreamIdleTimeoutError,
    UnexpectedContentTypeError,
)
from streamsafe._failures import (
    error_from_rejected_response,
    error_from_response,
    status_error_class,
    transport_error,
    unreadable_json,
)

SRC = Path(streamsafe.__file__).parent
OWNER = SRC / "_failures.py"

#: Every class of the exception tree, by name.
TREE = frozenset(
    name
    for name in errors.__all__
    if isinstance(getattr(errors, name), type)
    and issubclass(getattr(errors, name), errors.StreamsafeError)
)


def _httpx_exception_names(tree: ast.Module) -> dict[str, str]:
    """Local names bound to httpx exception classes by ``from httpx import ...``."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "httpx":
            for alias in node.names:
                value = getattr(httpx, alias.name, None)
                if isinstance(value, type) and issubclass(value, BaseException):
                    names[alias.asname or alias.name] = alias.name
    return names


def _names_httpx_exception(node: ast.expr, imported: dict[str, str]) -> bool:
    if isinstance(node, ast.Tuple):
        return any(_names_httpx_exception(element, imported) for element in node.elts)
    if isinstance(node, ast.Name):
        return node.id in imported
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id != "httpx":
            return False
        value = getattr(httpx, node.attr, None)
        return isinstance(value, type) and issubclass(value, BaseException)
    return False


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def violations(source: str, filename: str) -> list[str]:
    """Where ``source`` maps an httpx failure to a streamsafe exception by itself."""
    tree = ast.parse(source)
    imported = _httpx_exception_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and _called(node) in ("isinstance", "issubclass")
            and len(node.args) == 2
            and _names_httpx_exception(node.args[1], imported)
        ):
            found.append(f"{filename}:{node.lineno}: decides on the type of an httpx exception")
        if (
            isinstance(node, ast.ExceptHandler)
            and node.type is not None
            and _names_httpx_exception(node.type, imported)
        ):
            for statement in node.body:
                for inner in ast.walk(statement):
                    if isinstance(inner, ast.Call) and _called(inner) in TREE:
                        found.append(
                            f"{filename}:{inner.lineno}: builds {_called(inner)} "
                            "from an httpx exception"
                        )
    return found


BREAKS_THE_RULE = """
import httpx
from httpx import ConnectError as Refused

def classify(exc):
    if isinstance(exc, (OSError, httpx.ReadTimeout)):
        return errors.APITimeoutError("slow")
    return None

def call():
    try:
        send()
    except (Refused, OSError) as exc:
        raise APIConnectionError("down") from exc
    except httpx.HTTPError as exc:
        if log():
            raise errors.StreamIdleTimeoutError("quiet") from exc
"""

KEEPS_THE_RULE = """
import httpx

def call(core, timeout):
    if isinstance(timeout, httpx.Timeout):  # not an exception
        pass
    try:
        send()
    except httpx.HTTPError as exc:
        raise core.transport_error(exc) from exc
    except ValueError:
        raise MalformedEventError("not JSON") from None
"""


def test_the_checker_finds_every_way_of_breaking_the_rule() -> None:
    found = violations(BREAKS_THE_RULE, "bad.py")
    assert found == [
        "bad.py:6: decides on the type of an httpx exception",
        "bad.py:14: builds APIConnectionError from an httpx exception",
        "bad.py:17: builds StreamIdleTimeoutError from an httpx exception",
    ]
    assert violations(KEEPS_THE_RULE, "good.py") == []


def test_only_failures_maps_httpx_failures_to_streamsafe_exceptions() -> None:
    modules = sorted(SRC.rglob("*.py"))
    assert OWNER in modules
    assert len(modules) > 50
    found = [
        problem
        for path in modules
        if path != OWNER
        for problem in violations(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)))
    ]
    assert found == []
    # The owner itself does decide: the check would see it.
    assert violations(OWNER.read_text(encoding="utf-8"), OWNER.name) != []


# ---------------------------------------------------------------------------
# transport_error
# ---------------------------------------------------------------------------

REQUEST = httpx.Request("POST", "https://api.example/v1/messages")


def _idle() -> APITimeoutError:
    return StreamIdleTimeoutError("no content for 5 s")


@pytest.mark.parametrize(
    ("exc", "cls", "retryable"),
    [
        (httpx.ReadTimeout("slow", request=REQUEST), APITimeoutError, True),
        (httpx.ConnectTimeout("slow", request=REQUEST), APITimeoutError, True),
        (httpx.ConnectError("refused", request=REQUEST), APIConnectionError, True),
        (httpx.RemoteProtocolError("cut", request=REQUEST), APIConnectionError, True),
        (httpx.UnsupportedProtocol("no scheme", request=REQUEST), APIConnectionError, False),
        (httpx.LocalProtocolError("bad header", request=REQUEST), APIConnectionError, False),
        (httpx.TooManyRedirects("loop", request=REQUEST), APIConnectionError, False),
    ],
)
def test_transport_error(
    exc: httpx.HTTPError, cls: type[APIConnectionError], retryable: bool
) -> None:
    error = transport_error(exc, "req_1")
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.request_id == "req_1"
    assert repr(exc) in error.message


def test_a_read_timeout_lowered_to_the_watchdog_raises_the_watchdog_error() -> None:
    timeout = httpx.ReadTimeout("slow", request=REQUEST)
    assert type(transport_error(timeout, None, idle_error=_idle)) is StreamIdleTimeoutError
    # Only a read timeout stands for the watchdog's silence.
    connect = httpx.ConnectTimeout("slow", request=REQUEST)
    assert type(transport_error(connect, None, idle_error=_idle)) is APITimeoutError
    assert type(transport_error(timeout, None)) is APITimeoutError


# ---------------------------------------------------------------------------
# Responses that are not what was asked for
# ---------------------------------------------------------------------------


def _response(status: int, content_type: str, body: bytes) -> httpx.Response:
    headers = {"content-type": content_type, "request-id": "req_2", "x-amzn-requestid": "aws_2"}
    return httpx.Response(status, headers=headers, content=body, request=REQUEST)


@pytest.mark.parametrize(
    ("reader", "expected"),
    [(error_from_rejected_response, "text/event-stream"), (unreadable_json, "JSON")],
)
def test_a_2xx_of_the_wrong_content_type(
    reader: Callable[[httpx.Response], APIError], expected: str
) -> None:
    error = reader(_response(200, "text/html", b"<html>portal</html>"))
    assert type(error) is UnexpectedContentTypeError
    assert f"expected a {expected} response" in error.message
    assert "<html>portal</html>" in error.message
    assert error.request is REQUEST  # an httpx.TransportError too: .request must work
    assert (error.request_id, error.aws_request_id) == ("req_2", "aws_2")
    assert error.retryable is False


def test_json_cut_short_is_a_retryable_connection_error() -> None:
    error = unreadable_json(_response(200, "application/json", b'{"input_tokens": 1'))
    assert type(error) is APIConnectionError
    assert error.retryable is True
    assert error.request_id == "req_2"


def test_a_rejected_error_status_is_the_typed_api_error() -> None:
    body = b'{"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}'
    error = error_from_rejected_response(_response(529, "application/json", body))
    assert type(error) is errors.OverloadedError
    assert error.message == "busy"


# ---------------------------------------------------------------------------
# Retryable: the tree's defaults agree with the mapping
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [*range(400, 432), 499, *range(500, 512), 529])
def test_a_status_class_built_by_hand_is_retryable_as_the_mapping_says(status: int) -> None:
    cls = status_error_class(None, status)
    by_hand = cls("m", status_code=status, http_status=status)
    assert by_hand.retryable is (status in (408, 409, 429) or status >= 500)
    assert cls("m", status_code=status, http_status=status, retryable=False).retryable is False


@pytest.mark.parametrize("status", [408, 429, 500, 503, 529, 600, 699])
def test_the_base_class_built_by_hand_is_retryable_by_its_status(status: int) -> None:
    """As before the tree and the mapping were split: a plain APIStatusError (a user's
    fake, a test) is as retryable as its status, and so is any class given a status."""
    assert errors.APIStatusError("m", status_code=status, http_status=status).retryable
    assert errors.BadRequestError("m", status_code=status, http_status=status).retryable
    assert not errors.APIStatusError("m", status_code=400, http_status=400).retryable


def test_a_status_past_599_with_no_known_type_is_retryable() -> None:
    body = b'{"type": "error", "error": {"type": "some_new_error", "message": "odd"}}'
    error = error_from_response(_response(600, "application/json", body))
    assert type(error) is errors.APIStatusError
    assert error.retryable is True
