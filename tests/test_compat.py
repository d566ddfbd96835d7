"""httpx's and httpcore's internals: touched only in ``_compat.py``, and still there.

* Outside ``streamsafe/_compat.py`` no module reads or writes a private
  attribute of an httpx or httpcore object (an AST scan of ``src/`` against
  the private names those packages use).
* With the installed httpx and httpcore, ``_compat`` never falls back: when a
  release renames what it reads, these tests fail before users see the
  fallback's warning.
* streamsafe's transports map httpcore's exceptions to exactly the httpx
  classes httpx's own transport picks.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

from streamsafe import _compat
from streamsafe.transport import (
    default_sync_client,
    has_keepalive,
    keepalive_socket_options,
    keepalive_transport,
    sync_keepalive_transport,
)
from streamsafe.transport._exceptions import httpx_error, httpx_error_class

SOURCE = Path(__file__).resolve().parent.parent / "src" / "streamsafe"
COMPAT = SOURCE / "_compat.py"
ACCESSORS = {"getattr", "setattr", "hasattr", "delattr"}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _package_files(name: str) -> Iterator[Path]:
    spec = importlib.util.find_spec(name)
    assert spec is not None
    assert spec.submodule_search_locations
    for location in spec.submodule_search_locations:
        yield from Path(location).rglob("*.py")


def private_names_of_httpx_and_httpcore() -> set[str]:
    """Every private attribute or method name httpx and httpcore use on their objects."""
    names: set[str] = set()
    for package in ("httpx", "httpcore"):
        for path in _package_files(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and _is_private(node.attr):
                    names.add(node.attr)
                elif isinstance(node, ast.ClassDef):
                    names.update(
                        item.name
                        for item in node.body
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                        and _is_private(item.name)
                    )
    return names


def private_accesses(tree: ast.Module, private: set[str]) -> list[tuple[int, str]]:
    """``(line, what)`` for each access on another object that may reach into httpx or httpcore.

    ``x._name`` (``x`` other than ``self`` / ``cls``) where httpx or httpcore
    use ``_name``, and ``getattr(x, "_name")`` and friends with any private name.
    """
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in private:
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append((node.lineno, ast.unparse(node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ACCESSORS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _is_private(node.args[1].value)
        ):
            found.append((node.lineno, ast.unparse(node)))
    return sorted(set(found))


def _class_source(cls: type) -> ast.ClassDef | None:
    """The class statement of ``cls``, found through the file its methods come from.

    (httpcore sets ``__module__`` to ``"httpcore"`` on its public classes, so
    ``inspect.getsource`` cannot find them.)
    """
    files = {
        value.__code__.co_filename
        for value in vars(cls).values()
        if inspect.isfunction(value) and value.__qualname__.startswith(cls.__qualname__ + ".")
    }
    for file in sorted(files):
        for node in ast.walk(ast.parse(Path(file).read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                return node
    return None


def _self_privates(cls: type) -> set[str]:
    """Private names a class defines or uses on ``self`` in its own body."""
    names = {n for n in vars(cls) if _is_private(n)}
    tree = _class_source(cls)
    for node in ast.walk(tree) if tree is not None else ():
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and _is_private(node.attr)
        ):
            names.add(node.attr)
    return names


def _from_httpx_or_httpcore(cls: type) -> bool:
    return cls.__module__.split(".")[0] in ("httpx", "httpcore")


def inherited_collisions(module_name: str) -> list[str]:
    """Private names that streamsafe's subclasses of httpx/httpcore classes share with a base.

    Such a subclass touching ``self._name`` where the httpx or httpcore base
    keeps ``_name`` reads or overwrites that base's internals.
    """
    module = importlib.import_module(module_name)
    found: list[str] = []
    for cls in vars(module).values():
        if not isinstance(cls, type) or cls.__module__ != module_name:
            continue
        theirs = [base for base in cls.__mro__ if _from_httpx_or_httpcore(base)]
        if not theirs:
            continue
        ours = [base for base in cls.__mro__ if base.__module__.startswith("streamsafe")]
        used = set().union(*(_self_privates(base) for base in ours))
        kept = set().union(*(_self_privates(base) for base in theirs))
        found += [f"{module_name}.{cls.__name__}: self.{name}" for name in sorted(used & kept)]
    return found


def test_the_scan_finds_what_it_looks_for() -> None:
    private = private_names_of_httpx_and_httpcore()
    assert {"_pool", "_transport", "_mounts", "_socket_options", "_network_backend"} <= private
    sample = ast.parse(
        "def g(t, c):\n    t._pool\n    getattr(c, '_mounts', None)\n    self._own\n"
    )
    lines = [line for line, _ in private_accesses(sample, private)]
    assert lines == [2, 3]

    class Leaky(httpcore.ConnectionPool):
        def peek(self) -> object:
            return self._requests

    class Clean(httpcore.ConnectionPool):
        def peek(self) -> object:
            return self._mine

    assert {"_requests", "_connections", "_network_backend"} <= _self_privates(
        httpcore.ConnectionPool
    )
    assert "_requests" in _self_privates(Leaky) & _self_privates(httpcore.ConnectionPool)
    assert not _self_privates(Clean) & _self_privates(httpcore.ConnectionPool)


def test_no_private_httpx_or_httpcore_access_outside_compat() -> None:
    private = private_names_of_httpx_and_httpcore()
    offences = [
        f"{path.relative_to(SOURCE.parent)}:{line}: {what}"
        for path in sorted(SOURCE.rglob("*.py"))
        if path != COMPAT
        for line, what in private_accesses(ast.parse(path.read_text(encoding="utf-8")), private)
    ]
    assert offences == []


def test_no_subclass_shares_private_names_with_its_httpx_or_httpcore_base() -> None:
    modules = [
        ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)
        for path in sorted(SOURCE.rglob("*.py"))
        # The core only: the emulator, the CLI, the demo and otel need extras to import.
        if "testing" not in path.relative_to(SOURCE).parts
        and path.name not in ("cli.py", "_demo.py", "_demo_batches.py", "otel.py")
        and ("httpx" in path.read_text(encoding="utf-8") or "httpcore" in path.read_text())
    ]
    assert "streamsafe._async.connection" in modules
    assert "streamsafe._sync.connection" in modules
    collisions = [found for name in modules for found in inherited_collisions(name)]
    assert collisions == []


# --------------------------------------------------------------------------
# No fallback with the installed versions
# --------------------------------------------------------------------------


@pytest.fixture
def fresh_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compat, "_fallen_back", set())


@pytest.mark.usefixtures("fresh_fallbacks")
def test_compat_reads_the_installed_versions_without_falling_back(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    options = keepalive_socket_options()
    plain = httpx.HTTPTransport(socket_options=options)
    mounted = httpx.HTTPTransport(uds=str(tmp_path / "s.sock"))
    with caplog.at_level(logging.WARNING, logger="streamsafe"):
        with httpx.Client(transport=plain, mounts={"http://unix": mounted}) as client:
            assert _compat.client_routes(client) == [plain, mounted]
            assert has_keepalive(client)
        routes = _compat.client_routes(httpx.AsyncClient())  # nothing opened: nothing to close
        assert routes is not None
        assert len(routes) == 1
        sockets = _compat.pool_sockets(_compat.transport_pool(plain))
        assert sockets == _compat.PoolSockets(None, list(options))
        uds = _compat.pool_sockets(_compat.transport_pool(mounted))
        assert uds is not None
        assert uds.uds == str(tmp_path / "s.sock")
        async_pool = _compat.transport_pool(httpx.AsyncHTTPTransport(socket_options=options))
        assert _compat.pool_sockets(async_pool) == _compat.PoolSockets(None, list(options))
        with default_sync_client() as ours:
            assert has_keepalive(ours)
    assert _compat.fallbacks() == frozenset()
    assert [r for r in caplog.records if r.name == "streamsafe"] == []


@pytest.mark.usefixtures("fresh_fallbacks")
def test_a_fallback_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    hollow = httpx.Client.__new__(httpx.Client)  # an httpx client without its attributes
    with caplog.at_level(logging.WARNING, logger="streamsafe"):
        assert _compat.client_routes(hollow) is None
        assert _compat.client_routes(hollow) is None
        assert not has_keepalive(hollow)
    warnings = [r for r in caplog.records if r.name == "streamsafe"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "routes of an httpx client" in warnings[0].getMessage()
    assert _compat.fallbacks() == {"the routes of an httpx client (_transport, _mounts)"}


def test_objects_of_other_kinds_are_no_fallback() -> None:
    before = _compat.fallbacks()
    assert _compat.client_routes(object()) is None
    assert _compat.transport_pool(httpx.MockTransport(lambda r: httpx.Response(200))) is None
    assert _compat.pool_sockets(keepalive_transport().pool) is None  # not httpcore's class
    assert _compat.pool_sockets(None) is None
    assert _compat.fallbacks() == before


# --------------------------------------------------------------------------
# httpcore's exceptions as httpx's
# --------------------------------------------------------------------------


def _httpx_own_mapping() -> dict[type[Exception], type[Exception]]:
    default = pytest.importorskip("httpx._transports.default")
    loader = getattr(default, "_load_httpcore_exceptions", None)
    mapping = loader() if loader is not None else default.HTTPCORE_EXC_MAP
    assert mapping
    return dict(mapping)


def _httpx_choice(mapping: dict[type[Exception], type[Exception]], kind: type) -> type | None:
    chosen: type | None = None
    for source, target in mapping.items():
        if issubclass(kind, source) and (chosen is None or issubclass(target, chosen)):
            chosen = target
    return chosen


class _CustomReadError(httpcore.ReadError):
    pass


def test_exception_mapping_matches_httpx() -> None:
    mapping = _httpx_own_mapping()
    kinds = [
        *(value for value in vars(httpcore).values() if isinstance(value, type)),
        _CustomReadError,
        ValueError,
        OSError,
    ]
    for kind in kinds:
        if issubclass(kind, Exception):
            assert httpx_error_class(kind) is _httpx_choice(mapping, kind), kind
    error = httpx_error(httpcore.ConnectTimeout("too slow"))
    assert type(error) is httpx.ConnectTimeout
    assert str(error) == "too slow"
    assert httpx_error(RuntimeError("not httpcore's")) is None


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("bulk_reads", [True, False])
def test_transport_raises_httpx_errors(bulk_reads: bool) -> None:
    url = f"http://127.0.0.1:{_refused_port()}/"
    transport = sync_keepalive_transport(bulk_reads=bulk_reads)
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError) as caught:
        client.get(url)
    assert isinstance(caught.value.__cause__, httpcore.ConnectError)
    assert caught.value.request.url == url
