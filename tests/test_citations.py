"""Docstrings, comments, docs and data cite only what is inside the repository or a primary source
(repository@commit:file:line, a package and version, a URL): never the research folder the project was
started with. Its pages that matter are copied into docs/reference/ with their origin."""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import REPO

# Names of that folder's pages and sub-folders as code and docs used to cite them.
OUTSIDE = re.compile(
    r"\.\./shared|/work/shared|guide-history/|(?<![\w/])KEY-FACTS|install-facts/FACTS\.md|glm5-model/FACTS\.md"
    r"|(?<!docs/)reference/(?:ascend-outputs|install-facts|glm5-model|glm5-deployment-guide)"
)
CHECKED = (".py", ".md", ".toml", ".sh", ".json")
# Verbatim copies (they keep their own relative citations), generated snapshots, and this test (it names them).
EXEMPT = ("docs/reference/", "glm5check/demo/", "CHANGELOG.md", "tests/test_citations.py")


def _tracked() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, timeout=60)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [name for name in listed.stdout.split() if name.endswith(CHECKED) and not name.startswith(EXEMPT)]


def test_nothing_cites_the_folder_outside_the_repository() -> None:
    found = [
        f"{name}:{number}: {line.strip()[:100]}"
        for name in _tracked()
        for number, line in enumerate((REPO / name).read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, "cite docs/reference/… or the primary source instead:\n" + "\n".join(found)


def test_the_outside_names_are_recognised() -> None:
    cited_outside = ("KEY-FACTS.md", "guide-history/GLM5.md@2026-02-27-a95c0b8b82:125", "reference/glm5-model/x.md")
    for cited in cited_outside:
        assert OUTSIDE.search(f"see {cited}"), cited
    inside = "see docs/reference/KEY-FACTS.md, docs/reference/glm5-model.md and vllm-ascend@a95c0b8b82:docs/x.md:1"
    assert not OUTSIDE.search(inside)
