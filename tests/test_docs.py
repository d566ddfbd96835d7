"""What the code and tests cite lives in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*ROOT.glob("src/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("*.md")]


def test_cited_docs_exist() -> None:
    cited = {
        (path.name, name)
        for path in SOURCES
        for name in re.findall(r"\bdocs/[\w./-]+\.md\b", path.read_text(encoding="utf-8"))
    }
    assert cited, "no citation found: the pattern is wrong"
    missing = sorted((where, name) for where, name in cited if not (ROOT / name).is_file())
    assert missing == []


def test_no_citation_of_files_outside_the_repository() -> None:
    outside = "SSE" + "-SPEC"  # a research note outside the repository, once cited
    for path in SOURCES:
        assert outside not in path.read_text(encoding="utf-8"), path


def test_every_rule_the_decoder_tests_cite_is_in_docs_sse() -> None:
    doc = (ROOT / "docs" / "sse.md").read_text(encoding="utf-8")
    defined = set(re.findall(r"\*\*(R\d+) —", doc))
    assert defined == {f"R{n}" for n in range(1, 18)}
    for name in ("tests/test_decoder.py", "src/streamsafe/_decoder.py"):
        cited = set(re.findall(r"\b(R\d+)\b", (ROOT / name).read_text(encoding="utf-8")))
        assert cited <= defined, (name, cited - defined)
    sections = set(re.findall(r"^## (\d+)\. ", doc, re.MULTILINE))
    cited_sections = set(
        re.findall(r"section (\d+)", (ROOT / "tests/test_decoder.py").read_text(encoding="utf-8"))
    )
    assert cited_sections <= sections, cited_sections - sections
