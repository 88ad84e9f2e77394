"""Two real network namespaces joined by a veth pair, for the two-node network tests.

Each pair gets unique namespace names (pid + random suffix) and lives only inside them: test addresses in
10.231.0.0/24, interfaces named like an Atlas NIC. Everything is removed on exit, even after a failure.
Tests skip (saying why) when not root or when `ip netns` is not available.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

NIC = "enp189s0f0"
SUBNET_PREFIX = "10.231.0"
NODE0_IP = f"{SUBNET_PREFIX}.1"
NODE1_IP = f"{SUBNET_PREFIX}.2"
# Variables of the host that must not leak into the runs under test.
NET_VARS = ("HCCL_IF_IP", "HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME", "HCCL_IF_BASE_PORT")

LISTENER = """
import socket, sys, time
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
print("listening", flush=True)
time.sleep(600)
"""


def unavailable_reason() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return f"network-namespace tests need root (ip netns add); running as uid {os.geteuid()}"
    if shutil.which("ip") is None:
        return "network-namespace tests need iproute2's `ip` (apt-get install iproute2)"
    probe = f"g5probe{os.getpid()}{secrets.token_hex(2)}"
    added = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
    if added.returncode != 0:
        return f"`ip netns add` is not available here: {added.stderr.strip() or added.returncode}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


@dataclass
class Node:
    netns: str
    address: str
    nic: str = NIC

    def ip(self, *args: str) -> None:
        _ip("-n", self.netns, *args)

    def operstate(self) -> str:
        done = subprocess.run(
            ["ip", "netns", "exec", self.netns, "cat", f"/sys/class/net/{self.nic}/operstate"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout.strip()

    def wait_operstate(self, wanted: str, within_s: float = 10.0) -> None:
        """The kernel turns a veth's operstate up a moment after `link set up` (link watch): wait for it."""
        deadline = time.monotonic() + within_s
        while self.operstate() != wanted:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.nic} in {self.netns} stays {self.operstate()!r}, not {wanted!r}")
            time.sleep(0.05)

    def node_env(self, **overrides: str) -> dict[str, str]:
        """The guide's per-node exports: HCCL_IF_IP and the three socket variables naming the NIC."""
        values = {
            "HCCL_IF_IP": self.address,
            "HCCL_SOCKET_IFNAME": self.nic,
            "GLOO_SOCKET_IFNAME": self.nic,
            "TP_SOCKET_IFNAME": self.nic,
        }
        values.update(overrides)
        return values


@dataclass
class Pair:
    node0: Node
    node1: Node
    _listeners: list[subprocess.Popen[str]] = field(default_factory=list)

    def run_glm5check(
        self, node: Node, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """`ip netns exec NS python -m glm5check ARGS` with a clean network environment plus `env`."""
        child_env = {k: v for k, v in os.environ.items() if k not in NET_VARS}
        child_env.update(env or {})
        child_env["NO_COLOR"] = "1"
        argv = ["ip", "netns", "exec", node.netns, sys.executable, "-m", "glm5check", *args]
        return subprocess.run(argv, capture_output=True, text=True, env=child_env, timeout=timeout)

    def report(self, node: Node, args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
        done = self.run_glm5check(node, [*args, "--format", "json"], env)
        try:
            return json.loads(done.stdout)
        except json.JSONDecodeError:
            message = f"no JSON report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
            raise AssertionError(message) from None

    def listen(self, node: Node, address: str, port: int) -> subprocess.Popen[str]:
        """A process holding a listening TCP socket inside the node's namespace (stopped on exit)."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, sys.executable, "-c", LISTENER, address, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._listeners.append(proc)
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "listening":
            raise RuntimeError(f"listener did not start: {proc.stderr.read() if proc.stderr else ''}")
        return proc

    def stop_listeners(self) -> None:
        for proc in self._listeners:
            proc.kill()
            proc.wait(timeout=10)
        self._listeners.clear()


@contextmanager
def netns_pair() -> Iterator[Pair]:
    """Two namespaces `g5-<pid><hex>-0/1`, each with lo up and one end of a veth pair named NIC."""
    tag = f"g5-{os.getpid()}{secrets.token_hex(3)}"
    pair = Pair(Node(f"{tag}-0", NODE0_IP), Node(f"{tag}-1", NODE1_IP))
    created: list[str] = []
    try:
        for node in (pair.node0, pair.node1):
            _ip("netns", "add", node.netns)
            created.append(node.netns)
        _ip(
            "link",
            "add",
            NIC,
            "netns",
            pair.node0.netns,
            "type",
            "veth",
            "peer",
            "name",
            NIC,
            "netns",
            pair.node1.netns,
        )
        for node in (pair.node0, pair.node1):
            node.ip("link", "set", "lo", "up")
            node.ip("addr", "add", f"{node.address}/24", "dev", node.nic)
            node.ip("link", "set", node.nic, "up")
        for node in (pair.node0, pair.node1):
            node.wait_operstate("up")
        yield pair
    finally:
        pair.stop_listeners()
        for name in created:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def results_by_item(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`id[item]` -> result, for assertions."""
    return {(f"{r['id']}[{r['item']}]" if r.get("item") else r["id"]): r for r in report["results"]}


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {key: result["status"] for key, result in results_by_item(report).items()}
