"""`glm5check fix-env`: its output, sourced by a real bash, makes env.vars (and on two nodes
net.interfaces) pass when glm5check runs again in that shell; the undo line puts the old values back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, assert_no_traceback, clean_env, run_cli

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is needed to source the generated script")


def fix_script(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Path]:
    done = run_cli("fix-env", *args, env=env or clean_env())
    assert_no_traceback(done)
    path = tmp_path / "fix.sh"
    path.write_text(done.stdout)
    return done.returncode, path


def in_bash(script: str, env: dict[str, str], prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The test (not glm5check) runs bash: source the generated file, then run glm5check in that shell."""
    assert BASH is not None
    return subprocess.run(
        [*prefix, BASH, "--noprofile", "--norc", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def statuses(report: dict[str, Any], check_id: str) -> dict[str | None, str]:
    return {r["item"]: r["status"] for r in report["results"] if r["id"] == check_id}


def test_sourced_output_makes_env_vars_pass(tmp_path: Path) -> None:
    env = clean_env({"HCCL_BUFFSIZE": "abc", "OMP_NUM_THREADS": "4"})
    before = json.loads(run_cli("--profile", "a2-single", "--check", "env.vars", "--format", "json", env=env).stdout)
    assert set(statuses(before, "env.vars").values()) == {"pass", "warn"}
    code, script = fix_script(tmp_path, "--profile", "a2-single", env=env)
    assert code == 0
    text = script.read_text()
    assert "export HCCL_BUFFSIZE=200" in text and "export OMP_NUM_THREADS=10" in text
    # Unset with the guide's value as default (HCCL_BUFFSIZE aside), or inert: nothing to export.
    for name in ("OMP_PROC_BIND", "PYTORCH_NPU_ALLOC_CONF", "VLLM_USE_V1", "VLLM_ASCEND_BALANCE_SCHEDULING"):
        assert f"export {name}=" not in text, name
    done = in_bash(
        f"source {script} && exec {sys.executable} -m glm5check --profile a2-single --check env.vars --format json",
        env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = statuses(json.loads(done.stdout), "env.vars")
    assert len(after) == 7 and set(after.values()) == {"pass"}


def test_undo_line_restores_the_previous_values(tmp_path: Path) -> None:
    env = clean_env({"HCCL_BUFFSIZE": "100"})
    _, script = fix_script(tmp_path, "--profile", "a2-single", env=env)
    done = in_bash(
        f'source {script}; echo "$HCCL_BUFFSIZE ${{HCCL_OP_EXPANSION_MODE-unset}}"; glm5check_fix_env_undo; '
        'echo "$HCCL_BUFFSIZE ${HCCL_OP_EXPANSION_MODE-unset}"; '
        "type glm5check_fix_env_undo >/dev/null 2>&1 || echo gone",
        env,
    )
    assert done.stdout.splitlines() == ["200 AIV", "100 unset", "gone"], done.stderr


def test_nothing_to_fix(tmp_path: Path) -> None:
    profile_env = {
        "HCCL_OP_EXPANSION_MODE": "AIV", "OMP_PROC_BIND": "false", "OMP_NUM_THREADS": "10",
        "VLLM_USE_V1": "1",
        "HCCL_BUFFSIZE": "200", "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True",
        "VLLM_ASCEND_BALANCE_SCHEDULING": "1",
    }  # fmt: skip
    code, script = fix_script(tmp_path, "--profile", "a2-single", env=clean_env(profile_env))
    assert code == 0
    assert "export " not in script.read_text() and "nothing to export" in script.read_text()


def test_serve_script_value_cannot_be_overridden_by_an_export(tmp_path: Path) -> None:
    launch = tmp_path / "serve.sh"
    launch.write_text(
        (FIXTURES / "serve-scripts" / "a2-single.sh").read_text().replace("HCCL_BUFFSIZE=200", "HCCL_BUFFSIZE=100")
    )
    code, script = fix_script(tmp_path, "--profile", "a2-single", "--serve-script", str(launch))
    text = script.read_text()
    assert code == 1
    assert "# NOT FIXED: the serve script sets HCCL_BUFFSIZE=100" in text
    assert "# STILL FAILING[HCCL_BUFFSIZE]" in text


def test_replayed_node1_gets_the_nic_towards_node0(tmp_path: Path) -> None:
    """The faulty demo node 1 names eth0 in its socket variables while HCCL_IF_IP is on enp189s0f0."""
    code, script = fix_script(tmp_path, "--profile", "a2-multi", "--replay", "demo:a2-node1")
    text = script.read_text()
    assert code == 0, text
    for name in ("HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"):
        assert f"export {name}=enp189s0f0" in text
        assert f"export {name}=eth0" in text.splitlines()[2]  # the undo line
    # Inert at the stack (nothing starts TensorPipe) and unset with HCCL's default 200: nothing to export.
    assert "TP_SOCKET_IFNAME" not in text and "HCCL_BUFFSIZE" not in text


def test_node0_with_several_up_nics_lists_them_and_exits_1(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from net_fakes import NIC, NODE0_IP, FakeNic, Scenario, lo

    nics = [lo(), FakeNic(NIC, (NODE0_IP,)), FakeNic("eth0", ("192.168.100.11",))]
    scenario = Scenario({}, nics, node_rank=0, hostname="npu-a2-01", resolves_to=(NODE0_IP,))
    snap = scenario.writer().write(tmp_path / "snap")
    args = ("--profile", "a2-multi", "--node-rank", "0", "--replay", str(snap))
    code, script = fix_script(tmp_path, *args)
    text = script.read_text()
    assert code == 1, text
    assert f"# NOT FIXED: several up NICs could carry HCCL_IF_IP: {NODE0_IP} ({NIC}), 192.168.100.11 (eth0)" in text
    exported = [line.split("=")[0] for line in text.splitlines() if line.startswith("export ")]
    assert "export HCCL_IF_IP" not in exported and "export HCCL_SOCKET_IFNAME" not in exported
    # Node 0's address given: its NIC is known, nothing is guessed.
    code, script = fix_script(tmp_path, *args, "--node0-ip", NODE0_IP)
    assert (
        f"export HCCL_IF_IP={NODE0_IP}" in script.read_text()
        and f"export HCCL_SOCKET_IFNAME={NIC}" in script.read_text()
    )


@pytest.mark.netns
def test_two_node_exports_make_net_interfaces_pass_in_a_namespace(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from netns import NET_VARS, NODE0_IP, netns_pair, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    env = {k: v for k, v in clean_env().items() if k not in NET_VARS}
    env.update(HCCL_SOCKET_IFNAME="eth0", GLOO_SOCKET_IFNAME="docker0", HCCL_IF_IP="192.0.2.7")
    args = ("--profile", "a2-multi", "--node-rank", "1", "--node0-ip", NODE0_IP)
    checks = "--check env.vars --check net.interfaces --format json"
    with netns_pair() as pair:
        prefix = ("ip", "netns", "exec", pair.node1.netns)
        generated = in_bash(f"exec {sys.executable} -m glm5check fix-env {' '.join(args)}", env, prefix)
        assert_no_traceback(generated)
        assert generated.returncode == 0, generated.stdout + generated.stderr
        script = tmp_path / "fix.sh"
        script.write_text(generated.stdout)
        assert f"export HCCL_IF_IP={pair.node1.address}" in generated.stdout
        done = in_bash(f"source {script} && exec {sys.executable} -m glm5check {' '.join(args)} {checks}", env, prefix)
    report = json.loads(done.stdout)
    assert set(statuses(report, "env.vars").values()) == {"pass"}
    net = statuses(report, "net.interfaces")
    assert {net[name] for name in ("HCCL_IF_IP", "HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME")} == {"pass"}
    assert "fail" not in net.values(), net
