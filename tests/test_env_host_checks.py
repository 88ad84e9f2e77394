"""env.vars, host.shm and host.resources, each passing and failing on recorded host answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from glm5check.engine.check import Status
from glm5check.engine.registry import load_registry
from glm5check.engine.runner import run_one
from glm5check.facts.context import Context
from glm5check.host.base import Resources
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


def _run(check_id: str, profile: str = "a2-single", env: dict | None = None, shm: tuple | None = None,
         resources: Resources | None = None, script_env: dict | None = None) -> dict:
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
    rows = _run("env.vars", env={**GUIDE_ENV, "VLLM_ASCEND_BALANCE_SCHEDULING": "1"})
    assert {o.status for o in rows.values()} == {Status.PASS}
    assert set(rows) == {*GUIDE_ENV, "VLLM_ASCEND_BALANCE_SCHEDULING"}


def test_env_vars_missing_wrong_and_malformed() -> None:
    env = {**GUIDE_ENV, "HCCL_OP_EXPANSION_MODE": "HOST", "HCCL_BUFFSIZE": "200MB", "OMP_PROC_BIND": "FALSE"}
    del env["VLLM_USE_V1"]
    rows = _run("env.vars", env=env)
    assert rows["VLLM_USE_V1"].status is Status.FAIL and rows["VLLM_USE_V1"].remediation == "export VLLM_USE_V1=1"
    mode = rows["HCCL_OP_EXPANSION_MODE"]
    assert mode.status is Status.FAIL and mode.message == "is 'HOST', the guide uses 'AIV'"
    assert (mode.expected, mode.observed) == ("AIV", "HOST")
    size = rows["HCCL_BUFFSIZE"]
    assert size.status is Status.FAIL and "is not a whole number of MB" in size.message
    assert size.remediation == "export HCCL_BUFFSIZE=200"
    assert rows["OMP_PROC_BIND"].status is Status.PASS  # OpenMP reads booleans case-insensitively
    assert rows["PYTORCH_NPU_ALLOC_CONF"].remediation is None


def test_env_vars_serve_script_exports_override_the_process_environment() -> None:
    rows = _run("env.vars", env={}, script_env={**GUIDE_ENV, "VLLM_ASCEND_BALANCE_SCHEDULING": "1"})
    assert {o.status for o in rows.values()} == {Status.PASS}


def test_env_vars_multi_node_needs_the_per_node_variables() -> None:
    rows = _run("env.vars", profile="a2-multi", env={**GUIDE_ENV, "HCCL_IF_IP": "10.20.0.11"})
    assert rows["HCCL_IF_IP"].status is Status.PASS
    assert rows["GLOO_SOCKET_IFNAME"].status is Status.FAIL
    assert rows["GLOO_SOCKET_IFNAME"].remediation.startswith("export GLOO_SOCKET_IFNAME=<the NIC")
    assert "VLLM_ASCEND_BALANCE_SCHEDULING" not in rows


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


def test_host_shm_unreadable_is_a_failure() -> None:
    rows = _run("host.shm")
    assert rows["size"].status is Status.FAIL and "not recorded" in rows["size"].message


BIG = Resources(cpu_count=192, mem_total_bytes=1024 * GIB, mem_available_bytes=900 * GIB, nofile_soft=1024,
                nofile_hard=1048576)


def test_host_resources_pass_on_a_big_host() -> None:
    rows = _run("host.resources", env=GUIDE_ENV, resources=BIG)
    assert {o.status for o in rows.values()} == {Status.PASS}


def test_host_resources_warn_with_numbers() -> None:
    small = BIG._replace(cpu_count=32, mem_available_bytes=64 * GIB, nofile_hard=4096)
    rows = _run("host.resources", env=GUIDE_ENV, resources=small)
    assert rows["cpu"].status is Status.WARN
    assert rows["cpu"].message.startswith("32 CPU cores < OMP_NUM_THREADS 10 × 8 local ranks = 80")
    assert rows["cpu"].remediation.endswith("export OMP_NUM_THREADS=4")
    assert rows["ram"].status is Status.WARN and "8 ranks want about 128 GiB" in rows["ram"].message
    assert rows["open-files"].status is Status.WARN and "hard 4096" in rows["open-files"].observed


def test_host_resources_unreadable_is_an_error() -> None:
    rows = _run("host.resources", env=GUIDE_ENV)
    assert {rows[i].status for i in ("cpu", "ram", "open-files")} == {Status.ERROR}


def test_digits_int_refuses_are_malformed_not_a_crash() -> None:
    env = {**GUIDE_ENV, "HCCL_BUFFSIZE": "2²", "OMP_NUM_THREADS": "1²"}
    rows = _run("env.vars", env=env)
    assert rows["HCCL_BUFFSIZE"].status is Status.FAIL and "not a whole number" in rows["HCCL_BUFFSIZE"].message
    assert rows["OMP_NUM_THREADS"].status is Status.FAIL
    cpu = _run("host.resources", env=env, resources=BIG)["cpu"]
    assert cpu.status is Status.WARN and "OMP_NUM_THREADS is not a positive number" in cpu.message
