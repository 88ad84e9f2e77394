"""Nodes for the `glm5check cluster` tests: a folder per node with its own fake `npu-smi` and `hccn_tool`
(real captured outputs, tests/npu_fakes.py), its own environment and a login script, plus a stand-in `ssh`
for the fast tests.

The login script is what a node's sshd runs for every session (`ForceCommand` in the real-sshd tests):
it sets the node's environment and runs the client's command ($SSH_ORIGINAL_COMMAND) with /bin/sh -c,
as a login shell would. The stand-in `ssh` runs the same login script of the host it is given, so the
fast tests go through the same quoting and the same shell; what they do not cover (a real ssh client,
server, keys, network) the real-sshd tests in test_cluster_ssh.py do.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conftest import write_executable
from npu_fakes import A2_IDLE, device_ips, fake_tool, hccn_answers

VENV_BIN = Path(sys.executable).parent
NIC = "enp189s0f0"
NODE0_OCTET, NODE1_OCTET = "192", "193"  # first octet of each node's NPU device IPs
# The login banner a badly written shell profile prints on standard output.
BANNER = "Welcome to npu-a2-03! Last login: Mon Nov 30 03:12:44 2026 from 10.231.0.1"

FAKE_SSH = """#!{python}
import os, sys, time
args = sys.argv[1:]
host, remote = args[args.index("--") + 1], args[-1]
root = os.environ["FAKE_SSH_NODES"]
with open(os.path.join(root, host + ".argv"), "w") as log:
    log.write("\\0".join(args))
login = os.path.join(root, host, "login")
if not os.path.exists(login):
    sys.stderr.write(f"ssh: connect to host {{host}} port 22: No route to host\\r\\n")
    sys.exit(255)
os.execve(login, [login], {{"SSH_ORIGINAL_COMMAND": remote, "HOME": os.path.join(root, host)}})
"""


@dataclass
class FakeNode:
    host: str
    folder: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def argv_log(self) -> Path:
        return self.folder.parent / f"{self.host}.argv"

    def ssh_argv(self) -> list[str]:
        """The ssh command line the stand-in ssh was given for this node."""
        return self.argv_log.read_text(encoding="utf-8").split("\0")

    def remote_argv(self) -> list[str]:
        return shlex.split(self.ssh_argv()[-1])


def make_node(
    root: Path,
    host: str,
    env: dict[str, str],
    hccn: dict[str, str | tuple[str, int]] | None = None,
    glm5check: bool = True,
    banner: bool = False,
) -> FakeNode:
    """A node folder: bin/ with npu-smi and hccn_tool, and `login`, which sets PATH (bin/, then glm5check's
    venv unless glm5check=False, then the system) and env, then runs $SSH_ORIGINAL_COMMAND."""
    folder = root / host
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    fake_tool(bin_dir, "npu-smi", {"info": A2_IDLE.read_text()})
    fake_tool(bin_dir, "hccn_tool", hccn if hccn is not None else hccn_answers())
    path = [str(bin_dir), *([str(VENV_BIN)] if glm5check else []), "/usr/local/bin", "/usr/bin", "/bin"]
    values = {"PATH": ":".join(path), "HOME": str(folder), "NO_COLOR": "1", "LC_ALL": "C", **env}
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())
    greeting = f"echo {shlex.quote(BANNER)}\n" if banner else ""
    write_executable(folder, "login", f'#!/bin/sh\n{exports}{greeting}exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')
    return FakeNode(host, folder, values)


def node_env(address: str, nic: str = NIC) -> dict[str, str]:
    """The guide's per-node exports."""
    return {"HCCL_IF_IP": address, "HCCL_SOCKET_IFNAME": nic, "GLOO_SOCKET_IFNAME": nic, "TP_SOCKET_IFNAME": nic}


def healthy_node0(root: Path, host: str, address: str) -> FakeNode:
    return make_node(root, host, node_env(address), hccn_answers(first_octet=NODE0_OCTET))


def faulty_node1(root: Path, host: str, address: str, lost: Sequence[int] = (5,)) -> FakeNode:
    """Device 5's link is down, and its ping to node 0's device 5 gets nothing back; every device answers a
    ping only to node 0's own device IPs (so a ping happens only if phase one passed them on)."""
    peers = device_ips(NODE0_OCTET)
    answers = hccn_answers(down=lost[0] if lost else None, first_octet=NODE1_OCTET, peers=peers, lost=lost)
    return make_node(root, host, node_env(address), answers)


def fake_ssh(folder: Path) -> Path:
    return write_executable(folder, "ssh", FAKE_SSH.format(python=sys.executable))


def report_of(document: dict[str, object], host: str) -> dict[str, object]:
    return next(n for n in document["nodes"] if n["host"] == host)  # type: ignore[index, union-attr]


def results_by_key(document: dict[str, object]) -> dict[str, dict[str, object]]:
    return {
        (f"{r['id']}[{r['item']}]" if r["item"] else r["id"]): r  # type: ignore[index]
        for r in document["results"]  # type: ignore[attr-defined]
    }


def load_json(text: str) -> dict[str, object]:
    return json.loads(text)
