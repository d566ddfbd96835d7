"""The pytest plugin loads in any install: without the ``server`` extra only the fixture fails.

A user's venv may hold streamsafe without extras, and the ``pytest11`` entry
point makes pytest load the plugin there too. These tests run pytest in a
subprocess on a throwaway project, with uvicorn and starlette made
unimportable by packages that shadow them on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

UNRELATED = """
import sys

def test_unrelated():
    assert 1 + 1 == 2

def test_the_plugin_imported_nothing_of_the_extra():
    assert "streamsafe._pytest_plugin" in sys.modules
    for name in ("streamsafe.testing", "uvicorn", "starlette"):
        assert name not in sys.modules, name
"""

USES_FIXTURE = """
import pytest

@pytest.mark.streamsafe_emulator(event_delay=0.01)
def test_uses_the_emulator(streamsafe_emulator):
    raise AssertionError("never reached without the server extra")
"""


def blocked_modules(directory: Path) -> Path:
    """Packages named like the ``server`` extra's that fail to import, as a missing one does."""
    for name in ("uvicorn", "starlette"):
        package = directory / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(
            f"raise ModuleNotFoundError({f'No module named {name} (blocked)'!r}, name={name!r})\n"
        )
    return directory


def run_pytest(project: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [*map(str, pythonpath), str(ROOT / "src"), env.get("PYTHONPATH", "")]
    )
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            # Load the plugin module itself, whatever entry point the installed
            # metadata names (an editable install may predate a rename).
            "-p",
            "no:streamsafe",
            "-p",
            "streamsafe._pytest_plugin",
            "-p",
            "no:cacheprovider",
            "--strict-markers",
            "-rA",
            str(project),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def project_with(tmp_path: Path, **files: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    for name, text in files.items():
        (project / f"{name}.py").write_text(textwrap.dedent(text))
    return project


def test_without_the_server_extra_only_the_fixture_fails(tmp_path: Path) -> None:
    blocked = blocked_modules(tmp_path / "blocked")
    check = subprocess.run(
        [sys.executable, "-c", "import uvicorn"],
        env={**os.environ, "PYTHONPATH": str(blocked)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "ModuleNotFoundError: No module named uvicorn (blocked)" in check.stderr, check.stderr
    project = project_with(tmp_path, test_unrelated=UNRELATED, test_fixture=USES_FIXTURE)

    result = run_pytest(project, [blocked])
    out = result.stdout + result.stderr
    assert result.returncode == 1, out  # tests failed; not 3 (internal error) or 4 (usage)
    assert "Error while loading plugin" not in out, out
    assert re.search(r"PASSED .*test_unrelated\.py::test_unrelated\b", out), out
    assert re.search(r"PASSED .*test_the_plugin_imported_nothing_of_the_extra", out), out
    assert re.search(r"ERROR .*test_fixture\.py::test_uses_the_emulator", out), out
    assert "never reached" not in out
    assert "the streamsafe_emulator fixture needs the 'server' extra" in out
    assert "pip install 'streamsafe[server]'" in out
    assert "2 passed, 1 error" in out, out


def test_with_the_server_extra_the_fixture_runs_an_emulator(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        test_fixture="""
        import httpx
        import pytest

        @pytest.mark.streamsafe_emulator(event_delay=0.01)
        def test_uses_the_emulator(streamsafe_emulator):
            assert streamsafe_emulator.event_delay == 0.01
            response = httpx.post(streamsafe_emulator.url + "/v1/messages/count_tokens", json={
                "model": "m", "messages": [{"role": "user", "content": "hi"}]})
            assert response.status_code == 200
        """,
    )
    result = run_pytest(project, [])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_entry_point_names_the_module_that_loads_without_extras() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.entry-points.pytest11]", 1)[1].split("[", 1)[0]
    assert section.strip() == 'streamsafe = "streamsafe._pytest_plugin"'
