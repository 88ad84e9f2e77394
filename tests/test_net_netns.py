"""glm5check as node 0 and node 1 in two real network namespaces joined by a veth pair.

Each test builds its own pair (unique names, test addresses 10.231.0.0/24, removed afterwards) and runs
`ip netns exec NS python -m glm5check --profile a2-multi --check 'net.*'` in them, with the guide's exports.
Node roles are not given: each run detects its role from node 0's address (--node0-ip).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns import NIC, NODE0_IP, NODE1_IP, Pair, netns_pair, results_by_item, unavailable_reason

pytestmark = [pytest.mark.netns, pytest.mark.slow]

RPC_PORT = 13389  # a2-multi
SERVE_SCRIPTS = Path(__file__).resolve().parents[1] / "fixtures" / "serve-scripts"
ARGS = ("--profile", "a2-multi", "--check", "net.*", "--timeout", "5", "--node0-ip", NODE0_IP)
COMPARED = ("id", "item", "status", "message", "expected", "observed", "remediation")


@functools.lru_cache(maxsize=1)
def _skip_reason() -> str | None:
    return unavailable_reason()


@pytest.fixture
def pair() -> Iterator[Pair]:
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with netns_pair() as created:
        yield created


def test_skip_reason_names_root_when_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert unavailable_reason() == "network-namespace tests need root (ip netns add); running as uid 1000"


def test_skip_reason_names_iproute2_when_ip_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert "iproute2" in (unavailable_reason() or "")


def net_results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: r for key, r in results_by_item(report).items() if r["id"].startswith("net.")}


def run_node(pair: Pair, node_index: int, **env: str) -> dict[str, Any]:
    node = pair.node1 if node_index else pair.node0
    return pair.report(node, ARGS, node.node_env(**env))


def test_all_pass_when_the_environment_is_right(pair: Pair) -> None:
    report0, report1 = run_node(pair, 0), run_node(pair, 1)
    assert report0["node"]["role"] == "primary" and report0["node"]["rank"] == 0
    assert report1["node"]["role"] == "headless" and report1["node"]["rank"] == 1
    results0, results1 = net_results(report0), net_results(report1)
    assert {k: r["status"] for k, r in results0.items()} == dict.fromkeys(results0, "pass")
    assert {k: r["status"] for k, r in results1.items()} == dict.fromkeys(results1, "pass")
    assert {"net.interfaces[data-parallel-address]", "net.ports[rpc-port]", "net.ports[api-port]"} <= set(results0)
    assert {"net.node0[route]", "net.node0[rpc-connect]"} <= set(results1)
    assert "refused the connection" in results1["net.node0[rpc-connect]"]["message"]
    assert results1["net.interfaces[HCCL_IF_IP]"]["observed"] == f"{NODE1_IP} on {NIC} (up, MTU 1500)"
    interfaces = {i["name"]: i for i in report1["facts"]["interfaces"]}
    assert interfaces[NIC]["ipv4"] == [NODE1_IP] and interfaces[NIC]["state"] == "up"


def test_the_guides_scripts_with_namespace_addresses_pass(pair: Pair, tmp_path: Path) -> None:
    """The guide's a2-multi node scripts, addresses changed to the namespaces': role from the script, and
    HCCL_IF_IP / *_SOCKET_IFNAME from its exports (the process environment has none of them)."""
    for index, node in enumerate((pair.node0, pair.node1)):
        text = (SERVE_SCRIPTS / f"a2-multi-node{index}.sh").read_text(encoding="utf-8")
        script = tmp_path / f"node{index}.sh"
        text = text.replace("10.20.0.11", NODE0_IP).replace("10.20.0.12", NODE1_IP)
        script.write_text(text, encoding="utf-8")
        args = ["--profile", "a2-multi", "--check", "net.*", "--timeout", "5", "--serve-script", str(script)]
        report = pair.report(node, args)
        assert report["node"]["rank"] == index
        assert report["node"]["rank_source"].startswith("serve script")
        results = net_results(report)
        assert {k: r["status"] for k, r in results.items()} == dict.fromkeys(results, "pass")
        assert results["net.interfaces[HCCL_IF_IP]"]["observed"] == f"{node.address} on {NIC} (up, MTU 1500)"


def test_hccl_if_ip_not_local_fails(pair: Pair) -> None:
    results = net_results(run_node(pair, 1, HCCL_IF_IP="10.231.0.77"))
    assert results["net.interfaces[HCCL_IF_IP]"]["status"] == "fail"
    assert "10.231.0.77 is not an address of this host" in results["net.interfaces[HCCL_IF_IP]"]["message"]
    assert f"HCCL_IF_IP={NODE1_IP}" in results["net.interfaces[HCCL_IF_IP]"]["remediation"]
    # The route towards node 0 leaves from the real address, not from HCCL_IF_IP.
    assert results["net.node0[route]"]["status"] == "fail"


def test_wrong_interface_name_fails(pair: Pair) -> None:
    results = net_results(run_node(pair, 0, HCCL_SOCKET_IFNAME="eth0", GLOO_SOCKET_IFNAME="eth0"))
    # HCCL takes its NIC from HCCL_IF_IP, which is right: the wrong HCCL_SOCKET_IFNAME only misleads.
    assert results["net.interfaces[HCCL_SOCKET_IFNAME]"]["status"] == "warn"
    assert results["net.interfaces[GLOO_SOCKET_IFNAME]"]["status"] == "fail"
    assert "no interface named eth0" in results["net.interfaces[GLOO_SOCKET_IFNAME]"]["message"]
    assert f"GLOO_SOCKET_IFNAME={NIC}" in results["net.interfaces[GLOO_SOCKET_IFNAME]"]["remediation"]


def test_interface_down_fails(pair: Pair) -> None:
    pair.node1.ip("link", "set", NIC, "down")
    results = net_results(run_node(pair, 1))
    hccl_if_ip = results["net.interfaces[HCCL_IF_IP]"]
    assert hccl_if_ip["status"] == "fail"
    assert f"is on {NIC}, which is administratively down" in hccl_if_ip["message"]
    assert hccl_if_ip["remediation"] == f"ip link set {NIC} up"
    assert results["net.interfaces[GLOO_SOCKET_IFNAME]"]["status"] == "fail"
    assert results["net.node0[route]"]["status"] == "fail"  # the kernel drops the route with the link


def test_interface_that_does_not_carry_the_ip_fails(pair: Pair) -> None:
    # A second, healthy NIC on node 0 with another test address.
    pair.node0.ip("link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
    pair.node0.ip("addr", "add", "10.231.1.1/24", "dev", "eth1")
    for name in ("eth1", "eth1p"):
        pair.node0.ip("link", "set", name, "up")
    results = net_results(run_node(pair, 0, HCCL_SOCKET_IFNAME="eth1", GLOO_SOCKET_IFNAME="eth1"))
    # HCCL reads "eth1" as a name prefix (eth1p matches too); Gloo as an exact name.
    for var, selected, status in (
        ("HCCL_SOCKET_IFNAME", "eth1, eth1p", "warn"),
        ("GLOO_SOCKET_IFNAME", "eth1", "fail"),
    ):
        result = results[f"net.interfaces[{var}]"]
        assert result["status"] == status
        assert result["message"].startswith(f"HCCL_IF_IP {NODE0_IP} is on {NIC}, but {var}=eth1 selects {selected}")
    assert results["net.interfaces[HCCL_IF_IP]"]["status"] == "pass"


def test_rpc_port_already_bound_on_node0_fails(pair: Pair) -> None:
    listener = pair.listen(pair.node0, NODE0_IP, RPC_PORT)
    results0 = net_results(run_node(pair, 0))
    rpc = results0["net.ports[rpc-port]"]
    assert rpc["status"] == "fail"
    assert f"{NODE0_IP}:{RPC_PORT} held by pid {listener.pid} (python" in rpc["message"]
    assert (
        rpc["remediation"] == f"stop pid {listener.pid} (kill {listener.pid}), or choose another "
        "--data-parallel-rpc-port"
    )
    assert results0["net.ports[api-port]"]["status"] == "pass"
    # Node 1 now finds something listening on node 0's RPC port: reachable.
    assert "accepted the connection" in net_results(run_node(pair, 1))["net.node0[rpc-connect]"]["message"]


def test_hccl_port_range_in_use_warns_naming_the_holder(pair: Pair) -> None:
    listener = pair.listen(pair.node1, "0.0.0.0", 60007)
    ports = net_results(run_node(pair, 1))["net.ports[hccl-ports]"]
    assert ports["status"] == "warn"
    assert f"0.0.0.0:60007 held by pid {listener.pid}" in ports["message"]
    assert "HCCL default, HCCL_IF_BASE_PORT unset" in ports["message"]
    moved = net_results(run_node(pair, 1, HCCL_IF_BASE_PORT="61000"))["net.ports[hccl-ports]"]
    assert moved["status"] == "pass" and "61000-61031" in moved["message"]


def test_node0_unreachable_when_its_link_is_down(pair: Pair) -> None:
    pair.node0.ip("link", "set", NIC, "down")
    pair.node1.wait_operstate("down")
    results = net_results(run_node(pair, 1))
    route, connect = results["net.node0[route]"], results["net.node0[rpc-connect]"]
    assert route["status"] == "fail"
    assert f"uses {NIC}, which is no carrier" in route["message"]
    assert connect["status"] == "fail"
    assert f"{NODE0_IP}:{RPC_PORT} did not answer" in connect["message"]
    assert f"dev {NIC} src {NODE1_IP}" in connect["message"]


def test_snapshot_replays_identically_outside_the_namespaces(pair: Pair, tmp_path: Path) -> None:
    snap = tmp_path / "node1-snapshot"
    # A node 1 with a socket-interface fault and node 0 answering: recorded live in node 1's namespace.
    env = pair.node1.node_env(GLOO_SOCKET_IFNAME="eth0")
    recorded = pair.run_glm5check(pair.node1, ["snapshot", *ARGS, "-o", str(snap), "--format", "json"], env)
    live = json.loads(recorded.stdout)
    # Take node 0 off the link first: a replay that probed anything would now get other answers (and it
    # runs outside the namespaces, where the test addresses do not exist at all).
    pair.node0.ip("link", "set", NIC, "down")
    replay = subprocess.run(
        [sys.executable, "-m", "glm5check", "--replay", str(snap), "--check", "net.*", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    replayed = json.loads(replay.stdout)
    assert replayed["node"] == live["node"]
    assert live["node"]["role"] == "headless"

    def rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(r[k] for k in COMPARED) for r in report["results"] if r["id"].startswith("net.")]

    assert rows(replayed) == rows(live)
    statuses = {f"{r[0]}[{r[1]}]": r[2] for r in rows(live)}
    assert statuses["net.interfaces[GLOO_SOCKET_IFNAME]"] == "fail"
    assert statuses["net.node0[rpc-connect]"] == "pass"
    assert replayed["facts"]["interfaces"] == live["facts"]["interfaces"]
