"""Gate semantics, end to end through the CLI: selections that select nothing, waivers that waive nothing,
and --strict next to --ignore (issue 11 §5)."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
from conftest import assert_no_traceback, run_in_process

from glm5check.engine.check import Result, Status
from glm5check.engine.registry import load_registry
from glm5check.engine.runner import Outcome, SelectionError, Waiver, check_patterns, summarize, unused_waivers


def _schema() -> dict:
    return json.loads(resources.files("glm5check.schema").joinpath("report-v1.json").read_text())


def _row(label: str, status: Status, waived: str | None = None) -> Outcome:
    check_id, _, item = label.partition("[")
    return Outcome(check_id, check_id.split(".")[0], "t", Result(status, "m", item.rstrip("]") or None), waived=waived)


def test_a_pattern_that_names_no_check_is_a_selection_error_with_a_suggestion() -> None:
    checks = load_registry().checks
    check_patterns(checks, ("packages.*", "net.node0"), ("weights.shared",))  # all name real checks
    for include, exclude, line in (
        (("packages.vlm",), (), "no check matches 'packages.vlm' (did you mean packages.vllm?)"),
        ((), ("memory.fits",), "no check matches 'memory.fits' (did you mean memory.fit?)"),
        (("zzz*",), (), "no check matches 'zzz*' (see glm5check checks)"),
    ):
        try:
            check_patterns(checks, include, exclude)
        except SelectionError as exc:
            assert str(exc) == line
        else:
            raise AssertionError(f"{include} {exclude} selected something")


def test_check_typo_exits_2_instead_of_an_empty_ready_run() -> None:
    for option in ("--check", "--skip"):
        result = run_in_process("--profile", "a2-multi", "--replay", "demo", option, "packages.vlm")
        assert result.returncode == 2 and not result.stdout, result.stdout
        assert (
            result.stderr.strip() == "glm5check: error: no check matches 'packages.vlm' (did you mean packages.vllm?)"
        )
    # A real check that does not run on this node selects nothing here either.
    single = run_in_process("--profile", "a2-single", "--replay", "demo", "--check", "net.node0")
    assert single.returncode == 2 and not single.stdout
    assert single.stderr.strip() == (
        "glm5check: error: the selected checks do not apply to this node (profile a2-single, single): "
        "net.node0 runs on multi-node (headless)"
    )
    everything = run_in_process("--profile", "a2-multi", "--replay", "demo", "--skip", "*")
    assert everything.returncode == 2 and "--skip leaves no check" in everything.stderr
    assert_no_traceback(everything)


def test_unused_waivers_are_named_with_the_closest_label() -> None:
    rows = [_row("env.vars[HCCL_BUFFSIZE]", Status.FAIL), _row("host.shm[size]", Status.PASS)]
    waivers = [Waiver.parse(p) for p in ("env.vars[HCCL_BUFSIZE]:typo", "host.shm[size]", "host.*", "nope.x")]
    assert unused_waivers(rows, waivers) == [
        "--ignore 'env.vars[HCCL_BUFSIZE]' matches no result (did you mean env.vars[HCCL_BUFFSIZE]?)",
        "--ignore 'nope.x' matches no result",
    ]


def test_an_ignore_that_matches_nothing_warns_on_stderr_and_in_json() -> None:
    args = ("--profile", "a2-multi", "--replay", "demo:a2-node1", "--check", "env.*", "--format", "json")
    result = run_in_process(*args, "--ignore", "env.vars[HCCL_BUFSIZE]", "--ignore", "env.vars[HCCL_BUFFSIZE]:ticket 7")
    line = "--ignore 'env.vars[HCCL_BUFSIZE]' matches no result (did you mean env.vars[HCCL_BUFFSIZE]?)"
    assert result.stderr.strip() == f"glm5check: warning: {line}"
    report = json.loads(result.stdout)
    jsonschema.validate(report, _schema())
    assert report["warnings"] == [line]
    clean = json.loads(run_in_process(*args).stdout)
    jsonschema.validate(clean, _schema())
    assert clean["warnings"] == []
    old = {k: v for k, v in clean.items() if k != "warnings"}  # a report of 0.1 still validates
    jsonschema.validate(old, _schema())


def test_strict_promotes_unwaived_warnings_only() -> None:
    waived = [_row("a.b", Status.WARN, waived="known"), _row("c.d", Status.PASS)]
    assert summarize(waived, strict=True).ok
    fresh = [*waived, _row("e.f", Status.WARN)]
    assert summarize(fresh).ok and not summarize(fresh, strict=True).ok


def test_a_waived_failure_passes_the_strict_gate_end_to_end() -> None:
    # node 1's /dev/shm is 64 MiB: host.shm fails on size and free space; nothing else of host.shm warns.
    args = ("--profile", "a2-multi", "--replay", "demo:a2-node1", "--check", "host.shm", "--strict")
    assert run_in_process(*args).returncode == 1
    waived = run_in_process(*args, "--ignore", "host.shm:ticket 7")
    assert waived.returncode == 0, waived.stdout
    assert waived.stdout.count("waived: ticket 7") == 2 and "exit 0" in waived.stdout
