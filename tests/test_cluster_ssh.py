"""`glm5check cluster --via ssh` over real OpenSSH: one sshd per network namespace (tests/netns.py,
10.231.0.0/24), host and client keys made by the test, each node with its own fake npu-smi / hccn_tool and
environment (tests/cluster_fakes.py). The operator runs the command on node 0, as on a real cluster.

Node 0 is healthy; node 1's device 5 link is down and its ping to node 0's device 5 gets no answer. Node 1's
fake hccn_tool answers a ping only to node 0's own device IPs, so its ping results prove that phase one's
findings reached phase two. Faults: a node nobody answers at, an sshd that accepts and never speaks, a
node whose login prints a banner on standard output, a node without glm5check.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cluster_fakes import NODE0_OCTET, faulty_node1, healthy_node0, make_node, node_env, results_by_key
from conftest import assert_no_traceback, clean_env
from netns import NODE0_IP, NODE1_IP, Pair, netns_pair
from netns import unavailable_reason as netns_unavailable
from npu_fakes import device_ips
from sshd_nodes import Client, make_client, sshd
from sshd_nodes import unavailable_reason as sshd_unavailable
from test_cluster import cluster_schema

pytestmark = [pytest.mark.slow, pytest.mark.netns]

HOSTS = ("npu-a2-01", "npu-a2-02")
NOBODY = "10.231.0.77"  # on the namespaces' subnet, but no interface has it


@functools.lru_cache(maxsize=1)
def _skip_reason() -> str | None:
    return netns_unavailable() or sshd_unavailable()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Pair, Client, Path]]:
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with netns_pair() as pair:
        client = make_client(tmp_path / "client")
        client.write_config({HOSTS[0]: (NODE0_IP, 22), HOSTS[1]: (NODE1_IP, 22), "npu-a2-03": (NOBODY, 22)})
        yield pair, client, tmp_path


def run_cluster(
    pair: Pair, client: Client, *args: str, timeout: float = 120, via: str = "ssh"
) -> subprocess.CompletedProcess[str]:
    """`glm5check cluster --via ssh` (or pdsh) run on node 0 (inside its namespace) with the test's ssh config:
    ssh gets it with --ssh-config, pdsh's ssh module through PDSH_SSH_ARGS_APPEND, as a site would set it."""
    argv = ["ip", "netns", "exec", pair.node0.netns, sys.executable, "-m", "glm5check", "cluster", "--via", via]
    if via == "ssh":
        argv += ["--ssh-config", str(client.config)]
    env = clean_env({"PDSH_SSH_ARGS_APPEND": f"-F {client.config} -o BatchMode=yes"})
    done = subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert_no_traceback(done)
    return done


@pytest.mark.parametrize(
    "via",
    [
        "ssh",
        pytest.param(
            "pdsh",
            marks=pytest.mark.skipif(
                shutil.which("pdsh") is None, reason="pdsh is not installed (apt-get install pdsh)"
            ),
        ),
    ],
)
def test_two_real_sshd_nodes_healthy_and_faulty_and_phase_two_pings_node0(
    setup: tuple[Pair, Client, Path], via: str
) -> None:
    pair, client, tmp = setup
    node0 = healthy_node0(tmp / "nodes", HOSTS[0], NODE0_IP)
    node1 = faulty_node1(tmp / "nodes", HOSTS[1], NODE1_IP)
    out = tmp / "out"
    args = ["--hosts", ",".join(HOSTS), "--profile", "a2-multi", "--check", "npu.*", "--check", "net.*"]
    # A waiver whose reason is full of shell: it must reach glm5check on the nodes as one word, run nothing.
    hostile = f"net.ports:$(touch {tmp}/PWNED1); `touch {tmp}/PWNED2` | touch {tmp}/PWNED3 'x' \"y\" $HOME"
    args += ["--ignore", hostile]
    with (
        sshd(pair.node0, tmp / "sshd0", node0.folder / "login", client),
        sshd(pair.node1, tmp / "sshd1", node1.folder / "login", client),
    ):
        done = run_cluster(pair, client, *args, "--timeout", "5", "--format", "json", "--output", str(out), via=via)
    assert done.returncode == 1, done.stderr
    assert not list(tmp.glob("PWNED*"))
    document = json.loads((out / "cluster.json").read_text())
    jsonschema.validate(document, cluster_schema())
    results = {key: r["status"] for key, r in results_by_key(document).items()}
    assert results == {
        f"cluster.node[{HOSTS[0]}]": "warn",  # /etc/hccn.conf cannot be read in the namespace: a warning
        f"cluster.node[{HOSTS[1]}]": "fail",
        f"cluster.node0[{HOSTS[0]}]": "pass",
        f"cluster.reach[{HOSTS[1]}]": "pass",
        f"cluster.npu-ping[{HOSTS[1]}]": "fail",
        "cluster.compare": "pass",
    }
    assert document["node0"]["address"] == NODE0_IP and document["node0"]["rpc_port"] == 13389
    report1 = json.loads((out / f"{HOSTS[1]}.json").read_text())
    by_item = {r["item"]: r for r in report1["results"] if r["id"] == "npu.network"}
    pings = {item: r["status"] for item, r in by_item.items() if item.startswith("ping ")}
    node0_ips = device_ips(NODE0_OCTET)
    assert pings == {f"ping {d} -> {ip}": "fail" if d == 5 else "pass" for d, ip in enumerate(node0_ips)}
    assert by_item["device 5"]["status"] == "fail" and "link DOWN" in by_item["device 5"]["message"]
    reach = {r["item"]: r["status"] for r in report1["results"] if r["id"] == "net.node0"}
    assert reach == {"route": "pass", "rpc-connect": "pass"}
    assert (report1["node"]["rank"], report1["node"]["role"]) == (1, "headless")
    report0 = json.loads((out / f"{HOSTS[0]}.json").read_text())
    assert {r["status"] for r in report0["results"]} <= {"pass", "warn", "skip"}
    assert [n["phase"] for n in document["nodes"]] == [1, 2]


def _faulty(kind: str, pair: Pair, client: Client, tmp: Path) -> Any:
    """What stands at node 1 for each fault: an sshd with a broken login, or a silent listener."""
    if kind == "banner":
        node = make_node(tmp / "nodes", HOSTS[1], node_env(NODE1_IP), banner=True)
        return sshd(pair.node1, tmp / "sshd1", node.folder / "login", client)
    if kind == "no glm5check":
        node = make_node(tmp / "nodes", HOSTS[1], node_env(NODE1_IP), glm5check=False)
        return sshd(pair.node1, tmp / "sshd1", node.folder / "login", client)
    if kind == "hang":
        pair.listen(pair.node1, NODE1_IP, 22)  # accepts connections and never says a word
    return _nothing()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    ("kind", "host", "expected"),
    [
        ("unreachable", "npu-a2-03", r"^ssh: connect to host 10\.231\.0\.77 port 22: (Connection timed out|No route)"),
        # ssh's own ConnectTimeout covers the banner exchange; were it not, --node-timeout would end it.
        ("hang", HOSTS[1], r"^ssh: Connection timed out during banner exchange|^no answer within 10 s"),
        ("banner", HOSTS[1], r"^its standard output is not JSON \(Expecting value, line 1\); it begins 'Welcome to"),
        ("no glm5check", HOSTS[1], r"^glm5check is not installed on npu-a2-02 .*: /bin/sh: 1: glm5check: not found$"),
    ],
)
def test_a_broken_node_over_real_ssh_is_a_fail_row_within_the_deadline(
    setup: tuple[Pair, Client, Path], kind: str, host: str, expected: str
) -> None:
    pair, client, tmp = setup
    node0 = healthy_node0(tmp / "nodes", HOSTS[0], NODE0_IP)
    args = ["--hosts", f"{HOSTS[0]},{host}", "--profile", "a2-multi", "--check", "npu.*", "--format", "json"]
    limits = ["--connect-timeout", "3", "--node-timeout", "10", "--deadline", "40"]
    started = time.monotonic()
    with sshd(pair.node0, tmp / "sshd0", node0.folder / "login", client), _faulty(kind, pair, client, tmp):
        done = run_cluster(pair, client, *args, *limits, timeout=90)
    assert time.monotonic() - started < 45
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    jsonschema.validate(document, cluster_schema())
    results = results_by_key(document)
    broken = results[f"cluster.node[{host}]"]
    assert broken["status"] == "fail" and re.search(expected, broken["message"]), broken["message"]
    assert broken["remediation"]
    assert results[f"cluster.node[{HOSTS[0]}]"]["status"] == "warn"
    assert document["nodes"][0]["summary"]["total"] > 0
