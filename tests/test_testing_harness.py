"""glm5check.testing, the plugin author's harness: its contexts are the ones a real --replay builds, its
runs go through the engine's runner (exceptions, failed probes and replay gaps become the rows a real run
shows), and a snapshot written by hand records absence explicitly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_in_process

from glm5check.api import (
    Context,
    DiskUsage,
    NotRecorded,
    ProbeFailed,
    Result,
    Status,
    check,
    npu_smi,
    passed,
    stack_choice,
)
from glm5check.engine.runner import SelectionError
from glm5check.testing import SnapshotBuilder, profile_from_toml, replay_context, run_check, run_selected

EXPLAIN = "Why: a test.\n\nWhat: nothing.\n\nFix: nothing."


def _rows(results: dict[str, list[Result]]) -> list[tuple[str, str | None, str, str]]:
    return [(i, r.item, r.status.value, r.message) for i, rs in results.items() for r in rs]


@pytest.mark.parametrize("snapshot", ["demo", "demo:a2-node1"])
def test_a_replay_context_gives_the_rows_of_a_real_replay(snapshot: str) -> None:
    patterns = ("host.*", "npu.*", "net.*", "env.vars", "serve.plan")
    harness = _rows(run_selected(replay_context(snapshot), *patterns))
    cli = run_in_process("--replay", snapshot, "--format", "json", *(w for p in patterns for w in ("--check", p)))
    real = [(r["id"], r["item"], r["status"], r["message"]) for r in json.loads(cli.stdout)["results"]]
    assert harness == real and len(real) > 10


@check("demo.raises", title="raises", explain=EXPLAIN)
def raises(ctx: Context) -> Iterator[Result]:
    yield passed("first item", item="a")
    raise KeyError("surprise")


@check("demo.probe", title="probe fails", explain=EXPLAIN)
def probe_fails(ctx: Context) -> Result:
    raise ProbeFailed("`site-tool status` did not answer within 10 s and was killed")


@check("demo.asks", title="asks something the snapshot lacks", explain=EXPLAIN)
def asks(ctx: Context) -> Result:
    read = ctx.host.read_file("/etc/site/owner")
    return passed(read.text or "")


def test_run_check_shows_what_a_run_shows_when_a_check_goes_wrong() -> None:
    ctx = SnapshotBuilder().context()
    [error] = run_check(raises, ctx)  # as in a run: the exception is the check's one row
    assert error.status is Status.ERROR
    assert error.message.startswith("internal error in demo.raises: KeyError: 'surprise' (at test_testing_harness.py:")
    [probe] = run_check(probe_fails, ctx)
    assert probe == Result(Status.ERROR, "`site-tool status` did not answer within 10 s and was killed")
    [gap] = run_check(asks, ctx)
    assert gap.status is Status.SKIP and gap.observed == "the file /etc/site/owner: not recorded"


def test_a_hand_written_snapshot_records_absence_and_starts_with_an_empty_environment() -> None:
    node = SnapshotBuilder("a2-single", env={"SITE_OWNER": "infra"})
    node.absent("/etc/site/owner")
    node.no_tool("npu-smi")
    ctx = node.context()
    assert ctx.env["SITE_OWNER"] == "infra"
    assert ctx.host.read_file("/etc/site/owner").error == "missing"
    assert not ctx.host.stat("/etc/site/owner").exists
    assert ctx.host.list_dir("/etc/site/owner").entries is None
    assert npu_smi(ctx).path is None
    with pytest.raises(NotRecorded, match="the file /etc/hostname: not recorded"):
        ctx.host.read_file("/etc/hostname")
    [result] = run_check(asks, ctx)
    assert result == Result(Status.PASS, "")


def test_the_recorded_launch_command_and_the_options_make_the_plan() -> None:
    node = SnapshotBuilder("a2-single")
    node.serve_command("vllm serve /models/GLM-5-w4a8 --tensor-parallel-size 8 --max-model-len 65536")
    assert node.context().plan.max_model_len == 65536
    replaced = replay_context(node, serve_cmd="vllm serve /m --tensor-parallel-size 4", model_dir="/elsewhere")
    assert replaced.plan.tensor_parallel_size == 4 and replaced.model_dir == "/elsewhere"
    script = "#!/bin/bash\nvllm serve /models/GLM-5 --tensor-parallel-size 16 --max-model-len 4096\n"
    node.serve_script(script)
    assert node.context().plan.tensor_parallel_size == 16


@pytest.mark.parametrize("stack", [None, "v0.18.0", "auto"])
def test_the_stack_is_chosen_as_the_command_line_chooses_it(stack: str | None) -> None:
    chosen = stack_choice(replay_context("demo", stack=stack))
    words = ("--stack", stack) if stack else ()
    cli = json.loads(run_in_process("--replay", "demo", *words, "--check", "host.shm", "--format", "json").stdout)
    assert chosen.to_json() == cli["stack"] and chosen.source == {None: "profile", "auto": "auto"}.get(stack, "option")
    assert chosen.stack.name == ("v0.18.0" if stack == "v0.18.0" else "glm5-2026-02")


def test_a_profile_given_as_toml_replaces_the_snapshots_own() -> None:
    profile = profile_from_toml('extends = "a3-single"\n[plugins.site]\nteam = "infra"\n')
    ctx = replay_context("demo", profile=profile)
    assert ctx.profile.name == "a3-single" and ctx.profile.plugins == {"site": {"team": "infra"}}
    assert replay_context("demo").profile.name == "a2-multi"
    assert replay_context("demo", profile="a2-single").profile.name == "a2-single"


def test_a_written_snapshot_replays_on_the_command_line_as_in_the_harness(tmp_path: Path) -> None:
    node = SnapshotBuilder("a2-single")
    node.disk_usage("/dev/shm", total=64 << 20, used=0, free=64 << 20)
    shm = run_selected(node.context(), "host.shm")["host.shm"]
    written = node.write(tmp_path / "node")
    assert run_selected(replay_context(written), "host.shm")["host.shm"] == shm
    cli = json.loads(run_in_process("--replay", str(written), "--check", "host.shm", "--format", "json").stdout)
    assert [(r["status"], r["message"]) for r in cli["results"]] == [(r.status.value, r.message) for r in shm]
    assert shm[0].status is Status.FAIL


def test_run_selected_selects_as_a_run_does() -> None:
    single = SnapshotBuilder("a2-single").context()
    assert "net.interfaces" not in run_selected(single, "net.*")  # multi-node only
    assert list(run_selected(single, "host.*", skip=("host.shm",))) == ["host.resources"]
    with pytest.raises(SelectionError, match=r"no check matches 'site\.\*'"):
        run_selected(single, "site.*")


@pytest.mark.parametrize("pd_role", ["prefill", "decode"])
def test_run_selected_selects_a_prefill_decode_nodes_checks_as_a_run_does(pd_role: str) -> None:
    node = SnapshotBuilder("a3-pd-4node")
    ctx = replay_context(node, pd_role=pd_role)
    assert ctx.profile.pd_group == pd_role and "serve.pd" in run_selected(ctx, "serve.*")
    assert "serve.pd" not in run_selected(SnapshotBuilder("a2-multi").context(), "serve.*")  # not P/D


def test_the_answer_types_are_the_hosts() -> None:
    node = SnapshotBuilder()
    node.disk_usage("/dev/shm", total=1, used=0, free=1)
    assert node.context().host.disk_usage("/dev/shm") == DiskUsage("/dev/shm", 1, 0, 1)
