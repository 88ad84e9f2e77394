"""`--stack` end to end: `glm5check stacks [show]`, the choice in the header and the JSON report (valid against the
shipped schema), snapshots that record the option, fix-env and compare."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import assert_no_traceback, clean_env, run_in_process
from test_packages_checks import demo
from test_packages_stacks import release_node

from glm5check.facts.packages import inspect_argv
from glm5check.host.snapshot import write_snapshot
from glm5check.knowledge.stacks import list_stacks


def _release_snapshot(tmp_path: Path, options: dict[str, Any] | None = None) -> Path:
    """A replayable snapshot of a node built like the v0.18.0 release image."""
    node = release_node()
    node.writer.data.meta["options"] = dict(options or {})
    inventory = demo.inventory_json(node.dists, node.packages, node.python_version)
    node.writer.command(inspect_argv("python3"), stdout=inventory)
    return write_snapshot(node.writer.data, tmp_path / "release-node")


def _report(*args: str) -> dict[str, Any]:
    result = run_in_process(*args, "--format", "json", "--check", "packages.vllm*")
    assert_no_traceback(result)
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    schema = json.loads(resources.files("glm5check.schema").joinpath("report-v1.json").read_text())
    jsonschema.validate(report, schema)
    return report


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in report["results"] if r["item"] is None}


def test_stacks_lists_every_stack_and_show_prints_the_sources() -> None:
    listing = run_in_process("stacks")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == list(list_stacks())
    assert "default" in lines[1] and "978a37c8 (empty)" in lines[1]
    shown = run_in_process("stacks", "show", "v0.18.0")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "torch-npu version 2.9.0.post1+git4c901a4" in text
    policy = "vllm-ascend@182b75ea84:docs/source/community/versioning_policy.md:32"
    assert f"source: {policy} (release compatibility matrix" in text
    assert "source (commit): vllm-project/vllm-ascend git tag v0.18.0" in text
    assert "image a3 quay.io/ascend/vllm-ascend:v0.18.0-a3" in text
    unknown = run_in_process("stacks", "show", "v0.18")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith("glm5check: error: unknown stack 'v0.18' (did you mean v0.18.0?)")


def test_auto_recorded_in_a_snapshot_picks_the_release_and_says_why(tmp_path: Path) -> None:
    snapshot = _release_snapshot(tmp_path, {"stack": "auto"})
    auto = _report("--replay", str(snapshot))
    assert auto["stack"] == {
        "name": "v0.18.0",
        "kind": "release",
        "guide_revision": "GLM5.md@2026-04-30-7b9438d524",
        "source": "auto",
        "picked_by": "--stack auto: vllm-ascend 0.18.0 is the v0.18.0 release",
    }
    assert _statuses(auto) == {"packages.vllm": "pass", "packages.vllm-ascend": "pass"}
    pinned = _report("--replay", str(snapshot), "--stack", "glm5-2026-02")
    assert (pinned["stack"]["source"], pinned["stack"]["picked_by"]) == ("option", "--stack glm5-2026-02")
    assert _statuses(pinned) == {"packages.vllm": "fail", "packages.vllm-ascend": "fail"}
    table = run_in_process("--replay", str(snapshot), "--check", "packages.vllm")
    header = " · ".join(table.stdout.split("\n\n")[0].splitlines())  # the header, wrapped between its parts
    assert "· stack v0.18.0 (--stack auto: vllm-ascend 0.18.0 is the v0.18.0 release) ·" in header


def test_without_stack_the_profile_decides_and_an_unknown_one_is_exit_2(tmp_path: Path) -> None:
    snapshot = _release_snapshot(tmp_path)
    report = _report("--replay", str(snapshot))
    assert (report["stack"]["name"], report["stack"]["source"]) == ("glm5-2026-02", "profile")
    assert report["stack"]["picked_by"] == "profile a2-single"
    assert report["profile"]["stack"] == "glm5-2026-02"
    wrong = run_in_process("--replay", str(snapshot), "--stack", "v0.18")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().startswith("glm5check: error: unknown stack 'v0.18' (did you mean v0.18.0?)")
    profile = tmp_path / "release.toml"
    profile.write_text('extends = "a2-single"\nname = "a2-release"\nstack = "v0.18.0"\n')
    named = _report("--replay", str(snapshot), "--profile-file", str(profile))
    assert (named["stack"]["name"], named["stack"]["picked_by"]) == ("v0.18.0", "profile a2-release")
    assert _statuses(named) == {"packages.vllm": "pass", "packages.vllm-ascend": "pass"}


def test_snapshot_records_the_stack_option_and_replay_reuses_it(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    recorded = run_in_process(
        "snapshot",
        "--profile",
        "a2-single",
        "--python",
        sys.executable,
        "--stack",
        "v0.21.0rc1",
        "--check",
        "packages.python",
        "-o",
        str(target),
        env=clean_env(),
    )
    assert_no_traceback(recorded)
    meta = json.loads((target / "snapshot.json").read_text())
    assert meta["options"]["stack"] == "v0.21.0rc1"
    replayed = run_in_process("--replay", str(target), "--check", "packages.python", "--format", "json")
    stack = json.loads(replayed.stdout)["stack"]
    assert (stack["name"], stack["source"]) == ("v0.21.0rc1", "option")


def test_fix_env_takes_the_stack_and_names_it(tmp_path: Path) -> None:
    snapshot = _release_snapshot(tmp_path)
    result = run_in_process("fix-env", "--replay", str(snapshot), "--stack", "auto")
    assert_no_traceback(result)
    assert result.stdout.startswith("# glm5check fix-env · profile a2-single · stack v0.18.0 · node rank 0")


@pytest.mark.parametrize("other", ["v0.18.0", "glm5-2026-02"])
def test_compare_flags_nodes_checked_against_different_stacks(tmp_path: Path, other: str) -> None:
    snapshot = _release_snapshot(tmp_path)
    reports = []
    for name, stack in (("a", "v0.18.0"), ("b", other)):
        path = tmp_path / f"{name}.json"
        run_in_process("--replay", str(snapshot), "--stack", stack, "--format", "json", "-o", str(path))
        reports.append(str(path))
    result = run_in_process("compare", *reports, "--format", "json")
    differences = [d for d in json.loads(result.stdout)["differences"] if d["item"] == "stack"]
    assert bool(differences) is (other != "v0.18.0")


def test_auto_reads_the_launch_command_with_the_chosen_stacks_flags(tmp_path: Path) -> None:
    """--swap-space left vLLM in 0.18.0: the same command passes serve.args under the pinned stack and fails
    once --stack auto has picked v0.18.0 from the installed packages."""
    snapshot = _release_snapshot(tmp_path)
    command = "vllm serve /models/GLM-5-w4a8 --swap-space 4 -tp 8"

    def swap_space(*stack: str) -> dict[str, Any] | None:
        result = run_in_process(
            "--replay", str(snapshot), "--serve-cmd", command, *stack, "--check", "serve.args", "--format", "json"
        )
        assert_no_traceback(result)
        rows = json.loads(result.stdout)["results"]
        return next((r for r in rows if r["item"] == "--swap-space"), None)

    assert swap_space() is None
    auto = swap_space("--stack", "auto")
    assert auto is not None and auto["status"] == "fail"
    assert auto["message"] == "--swap-space is not a flag of vllm 0.18.0 (stack v0.18.0)"
    assert auto["expected"] == "a flag of vllm 0.18.0 (stack v0.18.0)"
