"""The module map holds: no import cycles, and the sans-IO cores stay free of I/O.

The imports are read from the source with :mod:`ast` (every import a module
runs, at its top or inside a function; those under ``if TYPE_CHECKING:`` never
run and are left out), so a cycle hidden in a function-level import is a cycle
here too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

#: Modules that never touch sockets or the event loop (CONTRIBUTING.md, "Sans-IO core").
SANS_IO = (
    "streamsafe._decoder",
    "streamsafe._decode",
    "streamsafe._accumulate",
    "streamsafe._lifecycle",
    "streamsafe._tool_input",
    "streamsafe._retry",
    "streamsafe._http11",
    "streamsafe._jsonl",
    "streamsafe._batch_core",
)
#: What a sans-IO module may not import: the event loop, sockets, and the I/O shells.
IO_MODULES = (
    "anyio",
    "asyncio",
    "trio",
    "socket",
    "ssl",
    "selectors",
    "streamsafe._async",
    "streamsafe._sync",
    "streamsafe.transport",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:`` (not ``if not TYPE_CHECKING:``)."""
    test = node.test
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` except the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def imports_of(module: str) -> set[str]:
    """The modules ``module`` imports when it runs (``from a import b``: ``a.b`` if a module)."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            submodules = [f"{source}.{alias.name}" for alias in node.names]
            if all(name in MODULES for name in submodules):
                found.update(submodules)
            else:
                found.add(source)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _internal_graph() -> dict[str, set[str]]:
    # An edge to a package's __init__ from inside that package is how Python
    # imports any submodule, not a dependency on what __init__ holds: left out.
    return {
        module: {
            target
            for target in imports_of(module)
            if target in MODULES and target != module and not module.startswith(target + ".")
        }
        for module in MODULES
    }


def test_no_import_cycles() -> None:
    assert _cycles(_internal_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = _internal_graph()
    graph["streamsafe._errors"] = graph["streamsafe._errors"] | {"streamsafe._accumulate"}
    assert any("streamsafe._errors" in cycle for cycle in _cycles(graph))


def test_the_emulator_imports_nothing_of_the_client() -> None:
    """``streamsafe.testing`` is an independent server: it can test the client only if it
    shares none of its code (a wrong limit or rule would be wrong on both sides)."""
    leaks = {
        (module, target)
        for module in MODULES
        if module.startswith("streamsafe.testing")
        for target in imports_of(module)
        if target.startswith("streamsafe")
        and not target.startswith("streamsafe.testing")
        # the pytest plugin of the emulator, kept outside so pytest can load it without extras
        and target != "streamsafe._pytest_plugin"
    }
    assert leaks == set()


@pytest.mark.parametrize("module", SANS_IO)
def test_sans_io_cores_import_no_io(module: str) -> None:
    assert module in MODULES
    io = {
        name
        for name in imports_of(module)
        for banned in IO_MODULES
        if name == banned or name.startswith(banned + ".")
    }
    assert io == set(), f"{module} imports {sorted(io)}"
