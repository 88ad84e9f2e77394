"""README.md stays true: its check catalogue is the registry's, its example is a real run's rows, and
.ci/run runs its test command. `python tests/test_readme.py` rewrites the example block."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO, clean_env, run_cli, run_in_process

from glm5check.reports.model import Report
from glm5check.reports.table import render_table, summary_line

EXAMPLE_ARGS = ("--profile", "a2-multi", "--replay", "demo:a2-node1")
# The rows README shows of that run: one per area, every FAIL a launch blocker judged on the plan vLLM runs.
EXAMPLE_ROWS = (
    ("packages.vllm", None),
    ("packages.transformers", None),
    ("npu.count", None),
    ("npu.hbm", "NPU 3"),
    ("npu.network", "device 5"),
    ("net.interfaces", "HCCL_SOCKET_IFNAME"),
    ("host.shm", "size"),
    ("weights.path", "folder"),
    ("serve.args", "--enable-expert-paralel"),
    ("serve.plan", "enable_expert_parallel"),
)
_DURATION = re.compile(r"\d+\.\d\d s ")


def _readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def _quick_start_commands() -> list[str]:
    section = _readme().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [blocks[0].strip(), blocks[1].strip()]


@pytest.mark.slow
def test_catalogue_in_readme_is_current() -> None:
    generated = run_cli("checks", "--format", "markdown").stdout.strip()
    block = re.search(r"<!-- catalogue:start -->\n(.*?)<!-- catalogue:end -->", _readme(), re.S)
    assert block is not None
    assert block.group(1).strip() == generated, "run: glm5check checks --format markdown, paste into README.md"


def example_block() -> str:
    """The README example: the excerpted rows of a real run of the faulty demo node, with its summary."""
    data = json.loads(run_cli(*EXAMPLE_ARGS, "--format", "json").stdout)
    chosen = [row for row in data["results"] if (row["id"], row["item"]) in EXAMPLE_ROWS]
    assert len(chosen) == len(EXAMPLE_ROWS), "a README example row is gone from the demo run"
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "120"
    try:
        table = render_table(Report.from_json({**data, "results": chosen}), None).splitlines()
    finally:
        os.environ.pop("COLUMNS") if before is None else os.environ.update(COLUMNS=before)
    table[-1] = summary_line(Report.from_json(data))
    command = f"$ glm5check {' '.join(EXAMPLE_ARGS)}      # excerpt: {len(chosen)} of its {len(data['results'])} rows"
    return "\n".join([command, *table[:-2], "…", "", table[-1]])


def _example_in_readme() -> str:
    block = re.search(r"<!-- example:start -->\n```\n(.*?)\n```\n<!-- example:end -->", _readme(), re.S)
    assert block is not None
    return block.group(1)


@pytest.mark.slow
def test_example_in_readme_is_a_real_run() -> None:
    assert _DURATION.sub("", _example_in_readme()) == _DURATION.sub("", example_block()), (
        "run: python tests/test_readme.py"
    )


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs README's install command, then the lint, format and type checks, then README's test command
    (the fast tier), then the slow tier."""
    install, test = _quick_start_commands()
    assert "--replay demo" in install and "pytest" in test
    setup, _, fast = test.rpartition(" && ")
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    steps = [setup, "ruff check .", "ruff format --check .", "mypy", fast, f"{fast} -m slow -n 0"]
    assert all(step in ci_lines for step in steps), steps
    assert [ci_lines.index(step) for step in steps] == sorted(ci_lines.index(step) for step in steps)


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


@pytest.mark.slow  # the README's snippet runs `python -m glm5check` in bash
def test_the_readme_way_to_read_node0s_device_ips_works_on_the_demo() -> None:
    """The README's snippet, run on demo node 0, prints the addresses that make demo node 1's pings run."""
    block = re.search(r"<!-- peer-ips:start -->\n```sh\n(.*?)```", _readme(), re.S)
    assert block is not None
    lines = [line for line in block.group(1).splitlines() if not line.startswith("#")]
    node0 = "\n".join(lines[:2]).replace("glm5check --profile a2-multi", "python -m glm5check --replay demo", 1)
    done = subprocess.run(["bash", "-c", node0], capture_output=True, text=True, timeout=120, env=clean_env())
    addresses = done.stdout.strip()
    assert addresses == ",".join(f"10.20.11.{13 + n}" for n in range(8)), done.stderr
    assert "--peer-npu-ips" in lines[2]
    node1 = run_in_process(
        "--replay", "demo:a2-node1", "--check", "npu.network", "--peer-npu-ips", addresses, "--format", "json"
    )  # fmt: skip
    pings = [r for r in json.loads(node1.stdout)["results"] if (r["item"] or "").startswith("ping ")]
    assert len(pings) == 8


def test_the_way_explain_gives_to_read_node0s_device_ips_works_on_the_demo() -> None:
    """explain npu.network names a command for node 0 and where its output lists the device IPs."""
    text = " ".join(run_in_process("explain", "npu.network").stdout.split())
    found = re.search(r"on node 0, `(glm5check [^`]+)` lists them under facts\.(\w+)", text)
    assert found is not None, text
    command = found.group(1).split()[1:]
    done = run_in_process("--replay", "demo", *command)
    ips = json.loads(done.stdout)["facts"][found.group(2)]
    assert sorted(ips.values()) == [f"10.20.11.{13 + n}" for n in range(8)]
    assert "--peer-npu-ips" in text and "peer_npu_ips" in text  # and how to give them to the other nodes


if __name__ == "__main__":
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    text = text.replace(_example_in_readme(), example_block())
    readme.write_text(text, encoding="utf-8")


def test_profiles_table_numbers_are_what_fit_says() -> None:
    """README's Profiles table: every single-group row's KV tokens and full-length sequences, from `fit`."""
    from glm5check.commands.fit import compute, fit

    rows = re.findall(r"^\| `([a-z0-9-]+)` \|[^\n]*\| ([\d,]+) \| ([\d.]+) \|$", _readme(), re.M)
    assert len(rows) == 10
    for name, tokens, sequences in rows:
        flags = fit.make_context("fit", ["--profile", name]).params
        result = compute({k: v for k, v in flags.items() if k != "output_format"})
        assert f"{result.kv_tokens:,}" == tokens and f"{result.full_sequences:.2f}" == sequences, name
