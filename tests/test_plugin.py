"""Acceptance of the plugin API: README's plugin example and docs/plugins.md's example, taken from the
documents as written, are built into real wheels and installed with pip into a fresh venv next to
glm5check installed from its own wheel (py.typed included). `glm5check checks` lists them with their
distributions, they run on `--replay demo`, `mypy --strict` passes on their sources against the shipped
types (and finds a wrong attribute), and the example's own tests pass with glm5check.testing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, assert_no_traceback, clean_env

from glm5check.engine.registry import load_registry

README_SECTION = "## Writing a plugin"
EXAMPLE_SECTION = "## Example: a site storage policy"
SETTINGS_SECTION = "## Settings"
PIP_TIMEOUT = 900


def _section(document: str, heading: str) -> str:
    text = (REPO / document).read_text(encoding="utf-8")
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def _files(section: str) -> dict[str, str]:
    """The code blocks of a section whose first line names their file (`# pyproject.toml`), by file."""
    blocks = re.findall(r"```(?:python|toml)\n(.*?)```", section, re.S)
    return {b.splitlines()[0].removeprefix("# ").strip(): b for b in blocks if re.match(r"# [\w/.-]+\n", b)}


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Installed:
    root: Path  # the working folder of every command: never the repository (python -m would import it)
    python: Path
    readme_example: Path  # the project folders, as the documents write them
    doc_example: Path
    profile: Path  # docs/plugins.md's profile with the [plugins.site-storage] table

    def run(self, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=cwd or self.root,
            env=clean_env(env),
        )

    def glm5check(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = self.run("-m", "glm5check", *args, **env)
        assert_no_traceback(result)
        return result


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("plugins")
    readme_example = _write(root / "my-site-checks", _files(_section("README.md", README_SECTION)))
    doc_example = _write(root / "glm5check-site-storage", _files(_section("docs/plugins.md", EXAMPLE_SECTION)))
    assert sorted(p.name for p in readme_example.iterdir()) == ["my_site_checks.py", "pyproject.toml"]
    assert (doc_example / "tests" / "test_site_storage.py").is_file()
    [settings] = re.findall(r"```toml\n(.*?)```", _section("docs/plugins.md", SETTINGS_SECTION), re.S)
    profile = root / "site.toml"
    profile.write_text(settings, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=300)
    python = root / "venv" / "bin" / "python"
    _pip(python, "install", "-q", str(REPO), "mypy", "pytest")  # glm5check from its wheel, not editable
    _pip(python, "wheel", "-q", "--no-deps", "-w", str(root / "wheels"), str(readme_example), str(doc_example))
    wheels = sorted(str(w) for w in (root / "wheels").glob("*.whl"))
    assert [Path(w).name.split("-")[0] for w in wheels] == ["glm5check_site_storage", "my_site_checks"]
    _pip(python, "install", "-q", "--no-index", "--no-deps", *wheels)
    return Installed(root, python, readme_example, doc_example, profile)


def _rows(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in json.loads(result.stdout)["results"]}


@pytest.mark.slow
def test_the_examples_are_listed_with_their_distributions(installed: Installed) -> None:
    listed = json.loads(installed.glm5check("checks", "--format", "json").stdout)
    supplied = {row["id"]: (row["distribution"], row["version"]) for row in listed}
    assert len(supplied) == len(load_registry().checks) + 2  # every built-in check loads from the wheel
    assert supplied["site.owner"] == ("my-site-checks", "1.0")
    assert supplied["site.model-store"] == ("glm5check-site-storage", "1.0")
    assert supplied["env.vars"][0] == "glm5check"
    table = installed.glm5check("checks").stdout
    assert re.search(r"site\.model-store .* glm5check-site-storage 1\.0\n", table)


@pytest.mark.slow
def test_the_examples_run_on_the_demo_replay(installed: Installed) -> None:
    plain = installed.glm5check("--replay", "demo", "--check", "site.*", "--format", "json")
    rows = _rows(plain)
    assert (rows["site.owner"]["status"], rows["site.model-store"]["status"]) == ("fail", "skip")
    assert rows["site.owner"]["plugin"] == {"entry_point": "site", "distribution": "my-site-checks", "version": "1.0"}
    assert plain.returncode == 1
    policy = ("--profile-file", str(installed.profile), "--check", "site.model-store", "--format", "json")
    healthy = installed.glm5check("--replay", "demo", *policy)
    [row] = _rows(healthy).values()
    assert (row["status"], row["observed"], healthy.returncode) == ("pass", "10.0.0.5:/export/modelscope", 0)
    assert row["plugin"]["distribution"] == "glm5check-site-storage"
    assert json.loads(healthy.stdout)["facts"]["site_storage"]["device"] == "10.0.0.5:/export/modelscope"
    faulty = installed.glm5check("--replay", "demo:a2-node1", *policy)
    assert _rows(faulty)["site.model-store"]["status"] == "fail" and faulty.returncode == 1


@pytest.mark.slow
def test_the_readme_example_judges_a_live_run(installed: Installed) -> None:
    args = ("--profile", "a2-single", "--check", "site.owner", "--format", "json")
    assert _rows(installed.glm5check(*args))["site.owner"]["status"] == "fail"
    owned = installed.glm5check(*args, SITE_OWNER="inference-oncall")
    assert _rows(owned)["site.owner"]["message"] == "owned by inference-oncall" and owned.returncode == 0


def _mypy(installed: Installed, folder: Path, *sources: str) -> subprocess.CompletedProcess[str]:
    return installed.run("-m", "mypy", "--strict", "--no-incremental", *sources, cwd=folder)


@pytest.mark.slow
def test_mypy_passes_on_the_examples_against_the_shipped_types(installed: Installed) -> None:
    readme = _mypy(installed, installed.readme_example, "my_site_checks.py")
    assert readme.returncode == 0, readme.stdout
    doc = _mypy(installed, installed.doc_example, "site_storage.py", "tests")
    assert doc.returncode == 0, doc.stdout
    assert "Success: no issues found in 2 source files" in doc.stdout


@pytest.mark.slow
def test_mypy_finds_a_wrong_attribute_in_a_plugin(installed: Installed) -> None:
    source = (installed.doc_example / "site_storage.py").read_text(encoding="utf-8")
    broken = installed.doc_example / "broken_storage.py"
    broken.write_text(source.replace("mount.fstype", "mount.filesystem").replace("ctx.facts.peek", "ctx.fact.peek"))
    found = _mypy(installed, installed.doc_example, "broken_storage.py")
    broken.unlink()
    assert found.returncode == 1
    assert '"Mount" has no attribute "filesystem"' in found.stdout
    assert "peek" in found.stdout


@pytest.mark.slow
def test_the_doc_example_passes_its_own_tests_with_glm5check_testing(installed: Installed) -> None:
    tests = installed.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=installed.doc_example)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "5 passed" in tests.stdout


def test_a_plugin_is_not_visible_without_installing_it() -> None:
    registry = load_registry()
    assert registry.get("site.owner") is None and registry.get("site.model-store") is None
    assert all(check.origin is not None and check.origin.built_in for check in registry.checks)
