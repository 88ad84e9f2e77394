"""The progress line on stderr: shown on a real terminal (a pty) while a probe takes over a second, erased
at the end; never when stderr is piped, for --format json, or with NO_COLOR or CI set."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, clean_env, write_executable

from glm5check import console
from glm5check.reports.progress import ProgressLine, wanted

TABLE = FIXTURES / "npu-smi-info" / "vllm-ascend-issue152-8x910B1-24.1.rc3-idle.txt"
ERASE = "\r\033[K"


def _slow_npu_smi(folder: Path) -> Path:
    """An npu-smi that answers with a real table after 1.5 s, like one on a busy driver."""
    return write_executable(folder, "npu-smi", f"#!/bin/sh\nsleep 1.5\ncat '{TABLE}'\n")


def _run(fake_bin: Path, *args: str, tty: bool, extra_env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run a check of npu-smi with stderr on a pty (tty=True) or a pipe; return (code, stdout, stderr)."""
    env = {k: v for k, v in clean_env(path_prepend=[fake_bin]).items() if k not in ("NO_COLOR", "CI")}
    env.update(extra_env or {})
    command = [sys.executable, "-m", "glm5check", "--profile", "a2-single", "--check", "npu.smi", *args]
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        return done.returncode, done.stdout, done.stderr
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, env=env, stdin=subprocess.DEVNULL)
        os.close(slave)
        out, _ = process.communicate(timeout=60)
        return process.returncode, out.decode(), _drain(master)
    finally:
        os.close(master)


def _drain(master: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed and everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_on_a_terminal_a_slow_probe_shows_a_line_that_is_erased(fake_bin: Path) -> None:
    _slow_npu_smi(fake_bin)
    code, out, err = _run(fake_bin, tty=True)
    assert "\rglm5check: waiting for npu.smi (1 s)\033[K" in err
    assert err.endswith(ERASE)
    assert "npu.smi" in out and "waiting" not in out and code == 0


@pytest.mark.parametrize(
    ("args", "env", "tty"),
    [
        ((), {}, False),
        (("--format", "json"), {}, True),
        ((), {"NO_COLOR": "1"}, True),
        ((), {"CI": "true"}, True),
    ],
    ids=["piped", "json", "NO_COLOR", "CI"],
)
def test_no_progress_line_when_piped_json_no_color_or_ci(
    fake_bin: Path, args: tuple[str, ...], env: dict[str, str], tty: bool
) -> None:
    _slow_npu_smi(fake_bin)
    _, out, err = _run(fake_bin, *args, tty=tty, extra_env=env)
    assert "waiting" not in err and "\r" not in err and "waiting" not in out


def test_fast_checks_write_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    line = ProgressLine(console.status)
    line({"npu.smi": 0.2, "env.vars": 0.9})
    line.close()
    assert stream.getvalue() == ""


def test_the_line_names_the_slow_checks_longest_first_and_fits_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    line = ProgressLine(console.status)
    line({"weights.shards": 3.2, "npu.network": 1.4, "env.vars": 0.1})
    line.close()
    first = stream.getvalue().split("\033[K")[0]
    whole = "glm5check: waiting for weights.shards, npu.network (3 s)"
    assert first == "\r" + whole[:38] + "…"  # 39 columns: the cursor never reaches the last one
    assert stream.getvalue().endswith(ERASE)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_wanted_only_for_a_terminal_and_a_person() -> None:
    assert wanted(_Tty(), "table", {}) and wanted(_Tty(), "html", {})
    assert not wanted(io.StringIO(), "table", {})
    assert not wanted(_Tty(), "json", {}) and not wanted(_Tty(), "junit", {})
    assert not wanted(_Tty(), "table", {"NO_COLOR": ""}) and not wanted(_Tty(), "table", {"CI": "1"})
