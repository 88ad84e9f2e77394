"""Real OpenSSH servers inside the two-node network namespaces of tests/netns.py, for `glm5check cluster
--via ssh`.

Each node's sshd (`/usr/sbin/sshd -D -e`, run with `ip netns exec`) has its own host key and listens on the
node's namespace address; its `ForceCommand` is the node's login script (tests/cluster_fakes.py), which sets
that node's environment (its own fake npu-smi / hccn_tool on PATH) and runs the client's command. The
client side is a key pair and an ssh config file made for the test (`ssh -F`): host aliases, the client
key, a known_hosts file with the nodes' host keys, strict host key checking. Everything lives in the
test's temporary folder; the servers are stopped on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from netns import Node

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")  # compiled into Debian's sshd; the service creates it at start


def unavailable_reason() -> str | None:
    if not os.access(SSHD, os.X_OK) or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "the real-ssh tests need OpenSSH's sshd, ssh and ssh-keygen (apt-get install openssh-server)"
    return None


def keygen(path: Path) -> str:
    """A new ed25519 key pair at path (no passphrase); returns the public key line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True, timeout=30
    )
    return path.with_suffix(".pub").read_text(encoding="utf-8").strip()


@dataclass
class Client:
    """The operator's side: its key and the ssh config file passed to `glm5check cluster --ssh-config`."""

    folder: Path

    @property
    def key(self) -> Path:
        return self.folder / "id_ed25519"

    @property
    def config(self) -> Path:
        return self.folder / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.folder / "known_hosts"

    def write_config(self, hosts: dict[str, tuple[str, int]]) -> Path:
        """Host aliases -> (address, port), every one with the test's key and strict host key checking."""
        blocks = [f"Host {alias}\n  HostName {address}\n  Port {port}\n" for alias, (address, port) in hosts.items()]
        common = (
            f"Host *\n  User root\n  IdentityFile {self.key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n  PasswordAuthentication no\n  LogLevel ERROR\n"
        )
        self.config.write_text("".join(blocks) + common, encoding="utf-8")
        return self.config


def make_client(folder: Path) -> Client:
    client = Client(folder)
    (folder / "authorized_keys").parent.mkdir(parents=True, exist_ok=True)
    (folder / "authorized_keys").write_text(keygen(client.key) + "\n", encoding="utf-8")
    client.known_hosts.write_text("", encoding="utf-8")
    return client


@contextmanager
def sshd(node: Node, folder: Path, login: Path, client: Client, port: int = 22) -> Iterator[subprocess.Popen[str]]:
    """An sshd in the node's namespace on address:port whose every session runs `login`; the node's host
    key is added to the client's known_hosts under its address."""
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    host_key = folder / "ssh_host_ed25519_key"
    public = keygen(host_key)
    with client.known_hosts.open("a", encoding="utf-8") as known:
        known.write(f"[{node.address}]:{port} {public}\n" if port != 22 else f"{node.address} {public}\n")
    config = folder / "sshd_config"
    config.write_text(
        f"ListenAddress {node.address}:{port}\nHostKey {host_key}\nPidFile {folder / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {client.folder / 'authorized_keys'}\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        f"StrictModes no\nUsePAM no\nForceCommand {login}\nLogLevel INFO\n",
        encoding="utf-8",
    )
    log = folder / "sshd.log"
    with log.open("w", encoding="utf-8") as stderr:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
    try:
        _wait_listening(proc, log, f"Server listening on {node.address} port {port}")
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _wait_listening(proc: subprocess.Popen[str], log: Path, wanted: str, within_s: float = 15.0) -> None:
    """sshd logs (-e) that it listens once its socket is bound."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if wanted in log.read_text(encoding="utf-8", errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not start ({wanted!r} not logged): {log.read_text(errors='replace')[-2000:]}")
