"""The terminal table: every item keeps its row, problems first with their fix, --problems and --verbose,
widths that follow the terminal and stay readable at 80 columns (checked on a real terminal under tmux)."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import clean_env, run_in_process

from glm5check.reports.model import Report
from glm5check.reports.table import header_parts, render_table


def _report(demo: str = "demo:a2-node1") -> Report:
    run = run_in_process("--profile", "a2-multi", "--replay", demo, "--format", "json")
    return Report.from_json(json.loads(run.stdout))


def _report_of(*args: str) -> Report:
    run = run_in_process("--profile", "a2-multi", "--replay", "demo", *args, "--format", "json")
    return Report.from_json(json.loads(run.stdout))


@pytest.fixture(scope="module")
def node1() -> Report:
    return _report()


def _status_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^\S*\s+(PASS|WARN|FAIL|ERROR|SKIP) ", line)]


def _status_of(line: str) -> str:
    """The status word of a status line (after the category, which only the first row of a group has)."""
    words = line.split()
    return words[0] if line.startswith(" ") else words[1]


@pytest.mark.parametrize("width", [80, 120, 160])
def test_every_item_keeps_one_row_and_pass_rows_take_one_line(node1: Report, width: int) -> None:
    text = render_table(node1, None, width=width)
    lines = text.splitlines()
    status_lines = _status_lines(text)
    assert len(status_lines) == len(node1.results) == node1.summary.total
    for row in node1.results:
        assert any(row.label in line for line in status_lines), row.label
    for row in (r for r in node1.results if r.status in ("pass", "skip")):
        own = re.compile(rf" {row.status.upper()} +{re.escape(row.label)}(  |$)")
        (index,) = [i for i, line in enumerate(lines) if own.search(line)]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        assert not following.startswith(" " * 16 + " "), (row.label, following)  # no continuation line
    assert all(len(line) <= width for line in lines if " " in line.strip()), [ln for ln in lines if len(ln) > width]


def test_problems_come_first_within_their_category_with_message_and_fix(node1: Report) -> None:
    text = render_table(node1, None, width=120)
    order = {"ERROR": 0, "FAIL": 1, "WARN": 2, "PASS": 3, "SKIP": 3}
    current: list[int] = []
    for line in _status_lines(text):
        if not line.startswith(" "):
            assert current == sorted(current), current
            current = []
        current.append(order[_status_of(line)])
    assert current == sorted(current)
    assert "fix: pip install 'torch-npu==2.9.0'" in text
    # The fix three net.interfaces rows share is printed once, then "as above".
    assert text.count("fix: export HCCL_SOCKET_IFNAME=enp189s0f0") == 1 and "fix: as above" in text


def test_problems_mode_shows_only_rows_that_are_not_pass_and_the_summary(node1: Report) -> None:
    text = render_table(node1, None, mode="problems", width=120)
    statuses = [_status_of(line) for line in _status_lines(text)]
    expected = [r for r in node1.results if r.status != "pass"]
    assert len(statuses) == len(expected) and "PASS" not in statuses
    for row in expected:
        assert row.label in text
    last = text.rstrip().splitlines()[-1]
    assert last.startswith(f"{node1.summary.total} results")
    assert last.endswith("exit 1 — fix FAIL and ERROR before vllm serve")


def test_problems_mode_on_a_healthy_node_says_so() -> None:
    report = _report("demo")
    text = render_table(report, None, mode="problems", width=120)
    problems = [r for r in report.results if r.status != "pass"]
    assert len(_status_lines(text)) == len(problems) and problems
    assert all(r.status in ("skip", "warn") for r in problems)  # node 0 fails nothing
    healthy = render_table(_report_of("--check", "npu.count"), None, mode="problems", width=120)
    assert "no problems: all 1 results pass" in healthy


def test_verbose_mode_prints_every_row_in_full(node1: Report) -> None:
    text = render_table(node1, None, mode="verbose", width=120)
    assert len(_status_lines(text)) == len(node1.results)
    python = next(r for r in node1.results if r.id == "packages.python")
    assert f"expected: {python.expected}" in text and "observed: " in text
    for row in node1.results:  # nothing is cut: every message's last word is there
        assert row.message.split()[-1] in text, row.label


def test_a_skip_cut_to_one_line_keeps_the_check_it_points_at(node1: Report) -> None:
    text = render_table(node1, None, width=80)
    skips = [line for line in _status_lines(text) if " SKIP " in line and "weights.shards" in line]
    assert len(skips) == 1 and skips[0].endswith("— see weights.path") and "…" in skips[0]


def test_width_follows_columns_and_80_columns_give_the_message_the_room(node1: Report) -> None:
    env = clean_env({"COLUMNS": "80"})
    narrow = run_in_process("--profile", "a2-multi", "--replay", "demo:a2-node1", env=env).stdout
    lines = narrow.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0] + " · " + lines[1] == " · ".join(header_parts(node1))  # the header wrapped between its parts
    fix = next(line for line in lines if "fix: export HCCL_SOCKET_IFNAME=enp189s0f0" in line)
    label = next(line for line in lines if line.rstrip().endswith("FAIL  net.interfaces[GLOO_SOCKET_IFNAME]"))
    assert len(fix) - len(fix.lstrip()) == label.index("net.interfaces")  # the message starts under the label
    wide_env = clean_env({"COLUMNS": "160"})
    wide = run_in_process("--profile", "a2-multi", "--replay", "demo:a2-node1", env=wide_env).stdout
    assert max(len(line) for line in wide.splitlines()) > 120
    assert len(wide.splitlines()) < len(lines)


def test_problems_and_verbose_together_are_a_usage_error() -> None:
    done = run_in_process("--replay", "demo", "--problems", "--verbose")
    assert done.returncode == 2 and "give --problems or --verbose, not both" in done.stderr


def test_colour_paints_the_status_only_on_a_terminal(node1: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    painted = render_table(node1, Tty(), width=80)
    plain = render_table(node1, io.StringIO(), width=80)
    assert "\033[31mFAIL\033[0m " in painted and "\033[" not in plain
    assert re.sub(r"\033\[\d+m", "", painted) == plain


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (Debian package tmux)")
def test_on_a_real_80_column_terminal_no_line_wraps(tmp_path: Path) -> None:
    """Run the table in tmux on an 80×200 terminal (COLUMNS unset: the width comes from the terminal) and
    read the screen back: every screen line is one output line, none wrapped by the terminal."""
    socket = f"glm5check-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "piped.txt"
    command = (
        f"{sys.executable} -m glm5check --profile a2-multi --replay demo:a2-node1 --problems; "
        f"COLUMNS=80 {sys.executable} -m glm5check --profile a2-multi --replay demo:a2-node1 --problems > {out}; "
        "tmux wait-for -S done; sleep 60"
    )
    env = {k: v for k, v in clean_env().items() if k not in ("COLUMNS", "NO_COLOR")}
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "200", command], env=env, check=True, timeout=30)
    try:
        subprocess.run([*tmux, "wait-for", "done"], timeout=120, check=True)
        time.sleep(0.2)
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "0"], capture_output=True, text=True, timeout=30)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=30)
    shown = [line.rstrip() for line in screen.stdout.rstrip().splitlines()]
    piped = out.read_text().rstrip().splitlines()
    duration = re.compile(r"\d+\.\d\d s")
    assert [duration.sub("N s", line) for line in shown] == [duration.sub("N s", line) for line in piped]
    assert max(len(line) for line in shown) <= 80 and any(" FAIL " in line for line in shown)


def test_the_console_lets_the_tables_own_colours_through_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    from glm5check import console

    buffer = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(buffer, encoding="utf-8"))
    console.out("\033[31mFAIL\033[0m  x \033]0;title\007 \033[2J\n", colours=True)
    sys.stdout.flush()
    written = buffer.getvalue().decode()
    assert written.startswith("\033[31mFAIL\033[0m  x ")
    assert "\033]0;" not in written and "\033[2J" not in written and "\\x1b" in written
