"""How one command runs on one node through each launcher: the argument list we start (never a shell on
our side) and how to tell the launcher's own failure from the remote command's.

ssh and pdsh hand the remote command to the node's login shell as one string, so every word is quoted
with shlex.quote (a serve-script path like `x; rm -rf /` stays one argument). srun and kubectl exec pass
an argument list to the node as it is. Host, user, namespace and container names were checked by the
inventory (plain names, never starting with `-`), and the host comes after `--` where the launcher takes it.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from glm5check.cluster.inventory import InventoryError, NodeSpec
from glm5check.host.base import CapturedRun
from glm5check.util.text import printable

VIAS = ("ssh", "pdsh", "srun", "kubectl")
SSH_EXIT = 255  # ssh's own failure (connection, authentication, host key)


@dataclass(frozen=True)
class Transport:
    name: str
    connect_timeout_s: int = 10
    node_timeout_s: int = 120
    ssh_config: str | None = None

    @property
    def binary_safe(self) -> bool:
        """Whether the node's standard output arrives byte for byte (pdsh relays it line by line)."""
        return self.name != "pdsh"

    def argv(self, node: NodeSpec, remote: Sequence[str]) -> list[str]:
        return _BUILDERS[self.name](self, node, list(remote))

    def failure(self, run: CapturedRun) -> str | None:
        """The launcher's own error (could not connect, no such pod, …), or None when the remote command
        ran and its exit code and output are its own."""
        stderr = run.stderr.decode("utf-8", errors="replace")
        lines = [printable(line.strip()) for line in stderr.splitlines() if line.strip()]
        if self.name == "ssh" and run.exit_code == SSH_EXIT:
            return lines[-1] if lines else "ssh failed (exit 255) without saying why"
        own = _OWN_ERRORS[self.name]
        mine = [line for line in lines if own.search(line)]
        if mine and not run.stdout.strip():
            return mine[0]
        return None


def remote_text(remote: Sequence[str]) -> str:
    """The remote command as one string for a POSIX shell: every word quoted."""
    return " ".join(shlex.quote(word) for word in remote)


def _ssh(transport: Transport, node: NodeSpec, remote: list[str]) -> list[str]:
    argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={transport.connect_timeout_s}"]
    if transport.ssh_config:
        argv += ["-F", transport.ssh_config]
    if node.user:
        argv += ["-l", node.user]
    if node.port:
        argv += ["-p", str(node.port)]
    return [*argv, "--", node.host, remote_text(remote)]


def _pdsh(transport: Transport, node: NodeSpec, remote: list[str]) -> list[str]:
    if node.port or transport.ssh_config:
        raise InventoryError(
            f"pdsh cannot take a port or an ssh config file per run ({node.host}): put them in ~/.ssh/config "
            "(Host … Port …), or use --via ssh"
        )
    argv = ["pdsh", "-S", "-N", "-t", str(transport.connect_timeout_s), "-u", str(transport.node_timeout_s)]
    if "PDSH_RCMD_TYPE" not in os.environ:
        argv += ["-R", "ssh"]  # pdsh's built-in default is rsh, which clusters no longer run
    if node.user:
        argv += ["-l", node.user]
    return [*argv, "-w", node.host, remote_text(remote)]


def _srun(transport: Transport, node: NodeSpec, remote: list[str]) -> list[str]:
    # One job step on exactly this node of the current allocation; srun runs the argument list itself.
    return ["srun", "--nodes=1", "--ntasks=1", f"--nodelist={node.host}", "--job-name=glm5check", "--quiet", *remote]


def _kubectl(transport: Transport, node: NodeSpec, remote: list[str]) -> list[str]:
    argv = ["kubectl", "exec"]
    if node.namespace:
        argv += ["--namespace", node.namespace]
    if node.container:
        argv += ["--container", node.container]
    return [*argv, node.host, "--", *remote]


_BUILDERS = {"ssh": _ssh, "pdsh": _pdsh, "srun": _srun, "kubectl": _kubectl}
# Lines a launcher prints about itself (as opposed to the remote command's standard error).
_OWN_ERRORS = {
    "ssh": re.compile(r"^ssh: "),
    "pdsh": re.compile(r"^pdsh@"),
    "srun": re.compile(r"^srun: error: "),
    "kubectl": re.compile(r"^(error: |Error from server|Unable to connect to the server)"),
}
