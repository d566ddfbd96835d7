"""Packaging: every third-party module the core imports is a declared dependency."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "streamsafe"

#: Modules that import the extras at load time, and the pytest plugin (loaded by pytest).
NOT_CORE = {"_demo.py", "_demo_batches.py", "_pytest_plugin.py", "otel.py"}
#: Import name -> distribution name, where they differ.
DISTRIBUTION = {"httpx_sse": "httpx-sse"}


def core_modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if path.name not in NOT_CORE and "testing" not in path.relative_to(PACKAGE).parts
    )


def is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def load_time_imports(tree: ast.Module) -> set[str]:
    """Top-level names imported when the module loads (not in functions, not for type checkers)."""
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.If) and not is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
    return found


def third_party_imports() -> dict[str, list[str]]:
    """Distribution name -> the core modules importing it."""
    users: dict[str, list[str]] = {}
    for path in core_modules():
        for name in load_time_imports(ast.parse(path.read_text())):
            if name in sys.stdlib_module_names or name in ("streamsafe", "__future__"):
                continue
            users.setdefault(DISTRIBUTION.get(name, name), []).append(path.name)
    return users


def declared() -> dict[str, Requirement]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    requirements = (Requirement(line) for line in project["dependencies"])
    return {re.sub(r"[-_.]+", "-", r.name).lower(): r for r in requirements}


def test_the_check_sees_the_http_layers() -> None:
    imports = third_party_imports()
    assert "_http11.py" in imports["h11"]
    assert "_connection.py" in imports["httpcore"]


def test_every_import_of_the_core_is_declared() -> None:
    dependencies = declared()
    missing = {
        name: users for name, users in third_party_imports().items() if name not in dependencies
    }
    assert missing == {}, f"imported by the core but not in [project] dependencies: {missing}"


@pytest.mark.parametrize("name", sorted(third_party_imports()))
def test_the_installed_version_is_in_the_declared_range(name: str) -> None:
    requirement = declared()[name]
    installed = importlib.metadata.version(name)
    assert requirement.specifier.contains(installed, prereleases=True), (requirement, installed)


def test_the_wheel_declares_the_license_file() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 streamsafe contributors\n")
