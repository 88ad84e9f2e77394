"""env.vars, host.shm and host.resources, each passing and failing on recorded host answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from glm5check.engine.check import Status
from glm5check.engine.registry import load_registry
from glm5check.engine.runner import run_one
from glm5check.facts.context import Context
from glm5check.host.base import DiskUsage, Resources
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotWriter
from glm5check.knowledge.launch_command import profile_launch
from glm5check.knowledge.profiles import load_builtin

GUIDE_ENV = {
    "HCCL_OP_EXPANSION_MODE": "AIV",
    "OMP_PROC_BIND": "false",
    "OMP_NUM_THREADS": "10",
    "VLLM_USE_V1": "1",
    "HCCL_BUFFSIZE": "200",
    "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True",
}
GIB = 1 << 30


def _run(
    check_id: str,
    profile: str = "a2-single",
    env: dict | None = None,
    shm: tuple | None = None,
    resources: Resources | None = None,
    script_env: dict | None = None,
) -> dict:
    writer = SnapshotWriter(profile)
    writer.env(env if env is not None else {})
    if shm:
        writer.disk_usage("/dev/shm", *shm)
    if resources:
        writer.resources(resources)
    chosen = load_builtin(profile)
    launch = replace(profile_launch(chosen), env=dict(script_env or {}))
    ctx = Context(chosen, ReplayHost(writer.data), launch=launch)
    check = load_registry().get(check_id)
    assert check is not None
    return {o.item: o for o in run_one(check, ctx)}


def test_env_vars_pass_when_the_guide_exports_are_set() -> None:
    rows = _run("env.vars", env=GUIDE_ENV)
    assert {o.status for o in rows.values()} == {Status.PASS}
    assert set(rows) == {*GUIDE_ENV, "VLLM_ASCEND_BALANCE_SCHEDULING"}
    balance = rows["VLLM_ASCEND_BALANCE_SCHEDULING"]
    assert balance.message.startswith("unset; inert at stack glm5-2026-02: read only when vLLM's version is exactly")


def test_a_set_inert_variable_warns_only_where_it_misleads() -> None:
    rows = _run("env.vars", env={**GUIDE_ENV, "VLLM_ASCEND_BALANCE_SCHEDULING": "1"})
    balance = rows["VLLM_ASCEND_BALANCE_SCHEDULING"]
    # 1 asks for the balance scheduler; at this stack it is not loaded: misleading.
    assert balance.status is Status.WARN and "has no effect at stack glm5-2026-02" in balance.message
    assert balance.remediation == "none needed; unset it to say what runs (unset VLLM_ASCEND_BALANCE_SCHEDULING)"
    # VLLM_USE_V1=1 asks for the V1 engine, the only one there is: a note, not a warning.
    assert rows["VLLM_USE_V1"].status is Status.PASS and "inert at stack glm5-2026-02" in rows["VLLM_USE_V1"].message
    assert (
        _run("env.vars", env={**GUIDE_ENV, "VLLM_ASCEND_BALANCE_SCHEDULING": "0"})[
            "VLLM_ASCEND_BALANCE_SCHEDULING"
        ].status
        is Status.PASS
    )


def test_unset_is_a_pass_where_the_default_is_the_guides_value() -> None:
    env = {k: v for k, v in GUIDE_ENV.items() if k not in ("HCCL_BUFFSIZE", "PYTORCH_NPU_ALLOC_CONF", "OMP_PROC_BIND")}
    rows = _run("env.vars", env=env)
    size = rows["HCCL_BUFFSIZE"]
    assert (size.status, size.message) == (Status.PASS, "unset; HCCL's default 200 is the guide's value")
    assert "The default value is 200" in (size.observed or "")
    assert rows["PYTORCH_NPU_ALLOC_CONF"].status is Status.PASS  # vllm-ascend sets expandable_segments:True
    assert rows["OMP_PROC_BIND"].status is Status.PASS  # libgomp's default false
    # With OMP_PLACES set, libgomp's default becomes true: no longer the guide's value.
    placed = _run("env.vars", env={**env, "OMP_PLACES": "cores"})["OMP_PROC_BIND"]
    assert placed.status is Status.WARN and placed.remediation == "export OMP_PROC_BIND=false"


def test_env_vars_missing_wrong_and_malformed_warn() -> None:
    env = {**GUIDE_ENV, "HCCL_OP_EXPANSION_MODE": "HOST", "HCCL_BUFFSIZE": "200MB", "OMP_PROC_BIND": "FALSE"}
    del env["VLLM_USE_V1"], env["OMP_NUM_THREADS"]
    rows = _run("env.vars", env=env)
    assert rows["VLLM_USE_V1"].status is Status.PASS and rows["VLLM_USE_V1"].remediation is None
    mode = rows["HCCL_OP_EXPANSION_MODE"]
    assert mode.status is Status.WARN and mode.message == "is 'HOST', the guide uses 'AIV'"
    assert (mode.expected, mode.observed) == ("AIV", "HOST")
    size = rows["HCCL_BUFFSIZE"]
    assert size.status is Status.WARN and "is not a whole number of MB" in size.message
    assert size.remediation == "export HCCL_BUFFSIZE=200"
    threads = rows["OMP_NUM_THREADS"]  # vLLM gives each worker 1 thread when it is unset
    assert threads.status is Status.WARN and threads.remediation == "export OMP_NUM_THREADS=10"
    assert "sets OMP_NUM_THREADS=1 for its workers" in threads.message
    assert rows["OMP_PROC_BIND"].status is Status.PASS  # OpenMP reads booleans case-insensitively


@pytest.mark.parametrize("profile", ["a2-single", "a2-multi"])
def test_a_value_that_stops_vllm_serve_fails_in_the_profile_or_not(profile: str) -> None:
    rows = _run("env.vars", profile=profile, env={**GUIDE_ENV, "VLLM_ASCEND_BALANCE_SCHEDULING": "true"})
    broken = rows["VLLM_ASCEND_BALANCE_SCHEDULING"]
    assert broken.status is Status.FAIL
    assert broken.message.startswith("'true' is not a number: vllm-ascend reads it with int()")
    assert "ValueError" in broken.message


@pytest.mark.parametrize("profile", ["a2-single", "a3-single", "a2-multi", "a3-multi"])
def test_no_variable_fails_when_unset_or_at_another_value(profile: str) -> None:
    """Only a value that stops vllm serve fails; unset and another plain value never do, so a variable is
    never a FAIL when unset and a WARN when set."""
    chosen = load_builtin(profile)
    for name in (*chosen.env, *chosen.node_env):
        unset = _run("env.vars", profile=profile, env={})[name].status
        other = _run("env.vars", profile=profile, env={name: "2"})[name].status
        assert Status.FAIL not in (unset, other), (profile, name, unset, other)


def test_env_vars_serve_script_exports_override_the_process_environment() -> None:
    rows = _run("env.vars", env={}, script_env=GUIDE_ENV)
    assert {o.status for o in rows.values()} == {Status.PASS}


def test_env_vars_multi_node_lists_the_per_node_variables() -> None:
    rows = _run("env.vars", profile="a2-multi", env={**GUIDE_ENV, "HCCL_IF_IP": "10.20.0.11"})
    assert rows["HCCL_IF_IP"].status is Status.PASS
    gloo = rows["GLOO_SOCKET_IFNAME"]
    assert gloo.status is Status.WARN and gloo.remediation.startswith("export GLOO_SOCKET_IFNAME=<the NIC")
    tensorpipe = rows["TP_SOCKET_IFNAME"]  # nothing reads it: a note, never a fix to export
    assert tensorpipe.status is Status.PASS and tensorpipe.remediation is None and "inert" in tensorpipe.message
    assert "VLLM_ASCEND_BALANCE_SCHEDULING" not in rows


@pytest.mark.slow
def test_explain_env_vars_shows_every_profile_variables_meaning() -> None:
    from conftest import run_cli

    text = run_cli("explain", "env.vars").stdout
    for name in ("HCCL_BUFFSIZE", "VLLM_USE_V1", "TP_SOCKET_IFNAME", "VLLM_ASCEND_BALANCE_SCHEDULING", "HCCL_IF_IP"):
        assert f"\n{name}  (" in text, name
    assert "HCCL_BUFFSIZE  (a2-single: 200; a3-single: 200; a2-multi: 200; a3-multi: 200; " in text
    assert "; a3-pd-4node: 256)" in text  # the prefill-decode nodes of GLM5.md@2026-08-21
    assert "  when unset = 200: 200 (MB)" in text
    assert "at this stack: inert: removed from vLLM before the pinned commit" in text
    assert "source: vllm-ascend@ff3a50d0:vllm_ascend/patch/platform/__init__.py:28" not in text  # effect source
    assert "source: vllm_ascend/envs.py (this stack's tables, env.vllm_ascend)" in text


@pytest.mark.parametrize(
    ("total", "free", "size_status", "free_status"),
    [
        (GIB, GIB, Status.PASS, Status.PASS),
        (64 << 20, 64 << 20, Status.FAIL, Status.FAIL),
        (8 * GIB, 512 << 20, Status.PASS, Status.FAIL),
    ],
)
def test_host_shm(total: int, free: int, size_status: Status, free_status: Status) -> None:
    rows = _run("host.shm", shm=(total, total - free, free))
    assert rows["size"].status is size_status and rows["free"].status is free_status
    if size_status is Status.FAIL:
        assert rows["size"].message == "/dev/shm is 64.0 MiB, below 1.0 GiB"
        assert "--shm-size=1g" in rows["size"].remediation


def test_host_shm_unreadable_is_a_failure_and_unrecorded_a_skip() -> None:
    writer = SnapshotWriter("a2-single")
    writer.env({})
    writer.data.disk_usage["/dev/shm"] = DiskUsage("/dev/shm", error="No such file or directory")
    ctx = Context(load_builtin("a2-single"), ReplayHost(writer.data))
    shm_check = load_registry().get("host.shm")
    assert shm_check is not None
    rows = {o.item: o for o in run_one(shm_check, ctx)}
    assert rows["size"].status is Status.FAIL and "No such file or directory" in rows["size"].message
    [gap] = _run("host.shm").values()
    assert gap.status is Status.SKIP and "the disk usage of /dev/shm is not recorded" in gap.message


BIG = Resources(
    cpu_count=192, mem_total_bytes=1024 * GIB, mem_available_bytes=900 * GIB, nofile_soft=1024, nofile_hard=1048576
)


def test_host_resources_pass_on_a_big_host() -> None:
    rows = _run("host.resources", env=GUIDE_ENV, resources=BIG)
    assert {o.status for o in rows.values()} == {Status.PASS}


def test_host_resources_warn_with_numbers() -> None:
    small = BIG._replace(cpu_count=32, mem_available_bytes=64 * GIB, nofile_hard=4096)
    rows = _run("host.resources", env=GUIDE_ENV, resources=small)
    assert rows["cpu"].status is Status.WARN
    assert rows["cpu"].message.startswith("32 CPU cores < OMP_NUM_THREADS 10 × 8 local ranks = 80")
    # The guide's profile sets OMP_NUM_THREADS=10: the hint never asks for less (env.vars would then fail).
    assert rows["cpu"].remediation == "give the container at least 80 CPU cores (docker run --cpuset-cpus=0-79)"
    assert rows["ram"].status is Status.WARN and "8 ranks want about 128 GiB" in rows["ram"].message
    assert rows["open-files"].status is Status.WARN and "hard 4096" in rows["open-files"].observed


def test_cpu_hint_lowers_omp_threads_only_where_the_profile_does_not_set_them() -> None:
    small = BIG._replace(cpu_count=32)
    profile = replace(load_builtin("a2-single"), env={})
    writer = SnapshotWriter("a2-single")
    writer.env({"OMP_NUM_THREADS": "10"})
    writer.resources(small)
    check = load_registry().get("host.resources")
    assert check is not None
    rows = {o.item: o for o in run_one(check, Context(profile, ReplayHost(writer.data)))}
    assert rows["cpu"].remediation.endswith(", or export OMP_NUM_THREADS=4")


def test_host_resources_unreadable_is_an_error_and_unrecorded_a_skip() -> None:
    rows = _run("host.resources", env=GUIDE_ENV, resources=Resources())
    assert {rows[i].status for i in ("cpu", "ram", "open-files")} == {Status.ERROR}
    [gap] = _run("host.resources", env=GUIDE_ENV).values()
    assert gap.status is Status.SKIP and "CPU, memory and open-files limits is not recorded" in gap.message


def test_digits_int_refuses_are_malformed_not_a_crash() -> None:
    env = {**GUIDE_ENV, "HCCL_BUFFSIZE": "2²", "OMP_NUM_THREADS": "1²"}
    rows = _run("env.vars", env=env)
    assert rows["HCCL_BUFFSIZE"].status is Status.WARN and "not a whole number" in rows["HCCL_BUFFSIZE"].message
    assert rows["OMP_NUM_THREADS"].status is Status.WARN
    cpu = _run("host.resources", env=env, resources=BIG)["cpu"]
    assert cpu.status is Status.WARN and "OMP_NUM_THREADS is not a positive number" in cpu.message
