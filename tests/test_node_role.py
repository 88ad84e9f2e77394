"""Node rank and role: from --node-rank, from the serve plan, from local addresses; shown in the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from net_fakes import NIC, NODE0_IP, NODE1_IP, FakeNic, Scenario, guide_env, lo

from glm5check.facts.net import node0_address
from glm5check.facts.node import DEFAULT_SOURCE, node_info

REPO = Path(__file__).resolve().parents[1]
SERVE_SCRIPTS = REPO / "fixtures" / "serve-scripts"


def on_node(address: str, **kwargs: object) -> Scenario:
    values: dict[str, object] = {"env": guide_env(address), "nics": [lo(), FakeNic(NIC, (address,))]}
    values.update(kwargs)
    return Scenario(**values)  # type: ignore[arg-type]


def test_single_node_profile_is_single() -> None:
    node = node_info(on_node(NODE0_IP, profile="a2-single", node_rank=1).context())
    assert (node.rank, node.role, node.source) == (0, "single", "single-node profile")


@pytest.mark.parametrize(("rank", "role"), [(0, "primary"), (1, "headless")])
def test_node_rank_flag(rank: int, role: str) -> None:
    # The flag wins over detection: this host carries node 0's address.
    node = node_info(on_node(NODE0_IP, node_rank=rank, node0_ip=NODE0_IP).context())
    assert (node.rank, node.role, node.source) == (rank, role, "--node-rank")


def test_serve_plan_of_node1() -> None:
    scenario = on_node(
        NODE1_IP,
        serve_source="node1.sh",
        plan_changes={"headless": True, "data_parallel_start_rank": 1, "data_parallel_address": NODE0_IP},
    )
    node = node_info(scenario.context())
    assert (node.rank, node.role) == (1, "headless")
    assert node.source == "serve script (--headless, --data-parallel-start-rank 1)"


def test_serve_plan_of_node0_has_neither_flag() -> None:
    scenario = on_node(NODE0_IP, serve_source="node0.sh", plan_changes={"data_parallel_address": NODE0_IP})
    node = node_info(scenario.context())
    assert (node.rank, node.role) == (0, "primary")
    assert node.source.startswith("serve script")


def test_start_rank_counts_data_parallel_ranks() -> None:
    # Two DP ranks per node: start rank 2 is the second node.
    changes = {"data_parallel_start_rank": 2, "data_parallel_size": 4, "data_parallel_size_local": 2}
    node = node_info(on_node(NODE1_IP, serve_source="x.sh", plan_changes=changes).context())
    assert (node.rank, node.role) == (1, "headless")


def test_headless_without_start_rank() -> None:
    node = node_info(on_node(NODE1_IP, serve_source="x.sh", plan_changes={"headless": True}).context())
    assert node.role == "headless"


def test_detected_node0_from_local_address() -> None:
    node = node_info(on_node(NODE0_IP, node0_ip=NODE0_IP).context())
    assert (node.rank, node.role) == (0, "primary")
    assert node.source == f"detected: {NIC} carries node 0's address {NODE0_IP}"


def test_detected_node1_when_node0_address_is_elsewhere() -> None:
    node = node_info(on_node(NODE1_IP, node0_ip=NODE0_IP).context())
    assert (node.rank, node.role) == (1, "headless")
    assert node.source == f"detected: node 0's address {NODE0_IP} is not on this host"


def test_serve_script_address_wins_over_node0_ip_option() -> None:
    scenario = on_node(
        NODE1_IP,
        node0_ip=NODE1_IP,
        serve_source="--serve-cmd",
        plan_changes={"data_parallel_address": NODE0_IP},
    )
    # A serve command with --data-parallel-address but neither --headless nor a start rank is node 0's
    # command by the guide, whatever the addresses say.
    assert node_info(scenario.context()).role == "primary"
    assert scenario.context().fact(node0_address).source == "--data-parallel-address (script line 1)"


@pytest.mark.parametrize("variable", ["SLURM_NODEID", "LWS_WORKER_INDEX"])
def test_launcher_node_index(variable: str) -> None:
    env = {**guide_env(NODE1_IP), variable: "1"}
    node = node_info(on_node(NODE1_IP, env=env).context())
    assert (node.rank, node.role, node.source) == (1, "headless", f"launcher environment ({variable}=1)")


def test_local_address_detection_wins_over_launcher_index() -> None:
    env = {**guide_env(NODE0_IP), "SLURM_NODEID": "1"}
    assert node_info(on_node(NODE0_IP, env=env, node0_ip=NODE0_IP).context()).role == "primary"


def test_default_without_any_clue() -> None:
    node = node_info(on_node(NODE1_IP).context())
    assert (node.rank, node.role, node.source) == (0, "primary", DEFAULT_SOURCE)


# -- shown in the report ------------------------------------------------------------------------------


def _snapshot(tmp_path: Path, address: str) -> Path:
    scenario = Scenario(guide_env(address), [FakeNic(NIC, (address,))], hostname="npu-a2-02", resolves_to=(address,))
    return scenario.writer().write(tmp_path / "snap")


def _replay(snap: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`glm5check --profile a2-multi --replay SNAP --check 'net.*' EXTRA` in a clean environment."""
    argv = [sys.executable, "-m", "glm5check", "--profile", "a2-multi", "--replay", str(snap)]
    argv += ["--check", "net.*"]
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    return subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=120, env=env)


def test_report_shows_detected_role(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path, NODE1_IP)
    node = json.loads(_replay(snap, "--node0-ip", NODE0_IP, "--format", "json").stdout)["node"]
    assert (node["rank"], node["role"]) == (1, "headless")
    assert node["rank_source"] == f"detected: node 0's address {NODE0_IP} is not on this host"
    table = _replay(snap, "--node0-ip", NODE0_IP)
    header = table.stdout.split("\n\n")[0]  # the header lines, wrapped to the terminal between their parts
    assert "node rank 1 (headless)" in header


def test_report_shows_role_from_serve_script(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path, NODE0_IP)
    script = str(SERVE_SCRIPTS / "a2-multi-node1.sh")
    report = json.loads(_replay(snap, "--serve-script", script, "--format", "json").stdout)
    node = report["node"]
    assert (node["rank"], node["role"]) == (1, "headless")
    assert node["rank_source"].startswith("serve script")
    # The node-1 script on the host that carries node 0's address: net.node0 says so.
    address = next(r for r in report["results"] if r["id"] == "net.node0")
    assert address["status"] == "fail" and "is on this host" in address["message"]


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (("--node-rank", "5"), "--node-rank 5: profile a2-multi has nodes 0-1"),
        (("--profile", "a2-single", "--node-rank", "1"), "--node-rank 1: profile a2-single has node 0 only"),
        (("--node-rank", "1"), None),
        (("--profile", "a2-single", "--node-rank", "0"), None),
    ],
)
def test_a_node_rank_the_profile_does_not_have_exits_2(args: tuple[str, ...], refusal: str | None) -> None:
    """Rank 5 of a two-node profile was judged as a headless node; any rank of a one-node profile was node 0."""
    from conftest import run_in_process

    done = run_in_process("--replay", "demo", *args)
    assert (done.returncode == 2) == (refusal is not None), done.stderr
    assert refusal is None or refusal in done.stderr
