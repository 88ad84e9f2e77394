"""Shared test helpers: running the real CLI, fake executables on PATH, snapshots, hypothesis profiles."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
# The guide's six launch scripts (fixtures/serve-scripts/) and the profile of the deployment each is for.
GUIDE_SCRIPTS = {
    "a2-single.sh": "a2-single",
    "a3-single.sh": "a3-single",
    "a2-multi-node0.sh": "a2-multi",
    "a2-multi-node1.sh": "a2-multi",
    "a3-multi-node0.sh": "a3-multi",
    "a3-multi-node1.sh": "a3-multi",
}
# The launch scripts of GLM5.md@2026-08-21-92616f3a64 (one per node where the nodes differ) and their profiles.
GUIDE_2026_08_SCRIPTS = {
    "a3-single-w4a8-200k.sh": "a3-single-w4a8-200k",
    "a3-single-w8a8.sh": "a3-single-w8a8",
    "a3-multi-w8a8-node0.sh": "a3-multi-w8a8",
    "a3-multi-w8a8-node1.sh": "a3-multi-w8a8",
    "a3-multi-bf16-node0.sh": "a3-multi-bf16",
    "a3-multi-bf16-node1.sh": "a3-multi-bf16",
    "a2-single-w4a8.sh": "a2-single-w4a8",
    "a2-multi-w4a8-node0.sh": "a2-multi-w4a8",
    "a2-multi-w4a8-node1.sh": "a2-multi-w4a8",
    "glm51-a3-single-w4a8-200k.sh": "glm51-a3-single-w4a8-200k",
    "glm51-a3-single-w8a8.sh": "glm51-a3-single-w8a8",
    "glm51-a3-multi-bf16-node0.sh": "glm51-a3-multi-bf16",
    "glm51-a3-multi-bf16-node1.sh": "glm51-a3-multi-bf16",
}

# CI runs a modest number of examples; `pytest --hypothesis-profile=fuzz` runs many.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile("ci")


def clean_env(extra: dict[str, str] | None = None, path_prepend: Sequence[Path | str] = ()) -> dict[str, str]:
    """An environment without the developer's HCCL/vLLM settings, so results do not depend on the shell."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["NO_COLOR"] = "1"
    if path_prepend:
        env["PATH"] = os.pathsep.join([*(str(p) for p in path_prepend), env.get("PATH", "")])
    env.update(extra or {})
    return env


# Whether the running test is marked slow (None outside a pytest run, e.g. `python tests/test_readme.py`).
_RUNNING_SLOW: list[bool | None] = [None]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _RUNNING_SLOW[0] = item.get_closest_marker("slow") is not None


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | str | None = None,
    python: str = sys.executable,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m glm5check ARGS` as a real process and capture its output. Only slow tests may: the
    default tier (README's test command) runs checks in-process and stays under a minute."""
    if _RUNNING_SLOW[0] is False:
        pytest.fail(
            "run_cli starts glm5check as a process: mark the test @pytest.mark.slow (the fast tier runs "
            "checks in-process, see tests/test_net_checks.py)",
            pytrace=False,
        )
    return subprocess.run(
        [python, "-m", "glm5check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else clean_env(),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def report_for(python: Path | str, *args: str) -> dict[str, Any]:
    """The JSON report of `glm5check --profile a2-single --python PYTHON ARGS` run as a real process on that
    interpreter's packages."""
    import json

    result = run_cli("--profile", "a2-single", "--python", str(python), "--format", "json", *args, env=clean_env())
    assert_no_traceback(result)
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def run_in_process(
    *args: str, env: dict[str, str] | None = None, cwd: Path | str | None = None
) -> subprocess.CompletedProcess[str]:
    """What run_cli gives, from glm5check.cli.main called in this process with that environment, working
    folder, stdin, stdout and stderr: the same code path after the interpreter starts, without starting one
    (the fast tier's way to run the whole command; run_cli stays for what only a process shows)."""
    from glm5check import cli

    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="") for _ in range(2))
    saved = (dict(os.environ), os.getcwd(), sys.stdin, sys.stdout, sys.stderr)
    os.environ.clear()
    os.environ.update(env if env is not None else clean_env())
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(""), out, err
    try:
        os.chdir(cwd or saved[1])
        cli.main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved[0])
        os.chdir(saved[1])
        sys.stdin, sys.stdout, sys.stderr = saved[2:]
    texts = []
    for stream in (out, err):
        stream.flush()
        texts.append(stream.buffer.getvalue().decode("utf-8", "replace"))  # type: ignore[attr-defined]
    return subprocess.CompletedProcess(["glm5check", *args], code, texts[0], texts[1])


def write_executable(folder: Path, name: str, script: str) -> Path:
    """A small executable (e.g. a fake npu-smi) with the given script text (include the #! line)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_printing(folder: Path, name: str, output_file: Path, exit_code: int = 0) -> Path:
    """A fake tool that prints a captured real output file and exits with exit_code."""
    return write_executable(folder, name, f"#!/bin/sh\ncat '{output_file}'\nexit {exit_code}\n")


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback (most recent call last)" not in result.stdout + result.stderr, result.stderr[-3000:]


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder
