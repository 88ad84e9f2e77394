"""README.md stays true: its check catalogue is the registry's, and .ci/run runs its test command."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO, clean_env, run_cli


def _readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def _quick_start_commands() -> list[str]:
    section = _readme().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [blocks[0].strip(), blocks[1].strip()]


def test_catalogue_in_readme_is_current() -> None:
    generated = run_cli("checks", "--format", "markdown").stdout.strip()
    block = re.search(r"<!-- catalogue:start -->\n(.*?)<!-- catalogue:end -->", _readme(), re.S)
    assert block is not None
    assert block.group(1).strip() == generated, "run: glm5check checks --format markdown, paste into README.md"


def test_ci_runs_the_readme_test_command() -> None:
    install, test = _quick_start_commands()
    assert "--replay demo" in install and "pytest" in test
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines


@pytest.mark.slow
def test_the_first_quick_start_command_works_in_a_fresh_venv(tmp_path) -> None:
    """`pip install .` (not editable) ships the demo snapshots, and the healthy demo exits 0."""
    install, _ = _quick_start_commands()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(REPO)], capture_output=True, text=True, timeout=600
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    assert install.endswith("glm5check --profile a2-multi --replay demo")
    demo = subprocess.run(
        [str(venv / "bin" / "glm5check"), "--profile", "a2-multi", "--replay", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert demo.returncode == 0, demo.stdout[-3000:]
    faulty = subprocess.run(
        [str(venv / "bin" / "glm5check"), "--replay", "demo:a2-node1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert faulty.returncode == 1
