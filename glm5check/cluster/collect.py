"""Run glm5check on the nodes and read what each one answers.

Two phases where the checks need them: node 0 runs first; its report gives its address (its launch
command's --data-parallel-address, else its HCCL_IF_IP) and its NPU device IPs, which the other nodes then
get as --node0-ip and --peer-npu-ips, so that their net.node0 and cross-node NPU ping checks run. When the
command line already gives both, or there is one node, all nodes run at once.

Every node runs through the host layer's runner (argument list, own process group killed at the
deadline, output capped) with at most --fanout at a time, each within --node-timeout and all within
--deadline. A node's standard output is untrusted: it must be one glm5check report (or, with --snapshot,
a snapshot archive holding one), else the node gets an error that names the launcher's own message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from glm5check.cluster.inventory import Inventory, NodeSpec
from glm5check.cluster.transports import Transport
from glm5check.commands.compare import NodeReport, ReportError, parse_report
from glm5check.host.base import CapturedRun
from glm5check.host.live import run_process
from glm5check.parsers.hccn import valid_ip
from glm5check.util.shapes import as_dict, as_int, as_text
from glm5check.util.text import printable

REPORT_CAP_BYTES = 16 << 20
SNAPSHOT_CAP_BYTES = 128 << 20
STDERR_CAP_BYTES = 64 << 10
NOT_INSTALLED_EXIT = (126, 127)
_NOT_INSTALLED_WORDS = ("not found", "No such file or directory", "No module named glm5check")
# Shown by --dry-run where phase two will put what phase one finds.
NODE0_ADDRESS_PLACEHOLDER = "NODE0_ADDRESS_FROM_PHASE_1"
NODE0_DEVICE_IPS_PLACEHOLDER = "NODE0_NPU_IPS_FROM_PHASE_1"


@dataclass(frozen=True)
class Limits:
    node_timeout_s: float
    deadline_s: float
    fanout: int
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return self.deadline_s - (time.monotonic() - self.started)


@dataclass(frozen=True)
class Node0Facts:
    """What phase one learnt from node 0's report, for the other nodes."""

    host: str
    reported: bool
    address: str | None = None
    address_source: str | None = None
    device_ips: tuple[str, ...] = ()
    rpc_port: int | None = None


@dataclass(frozen=True)
class RemoteRun:
    """What every node runs: how glm5check starts there, and the options passed on to every node."""

    command: tuple[str, ...]
    forwarded: tuple[str, ...]
    snapshot: bool = False
    node0_ip: str | None = None  # given on our command line: wins over what phase one finds
    peer_npu_ips: str | None = None

    def argv(self, node: NodeSpec, node0: Node0Facts | None, is_node0: bool, dry_run: bool = False) -> list[str]:
        """The glm5check command line of one node; `node0` is what phase one found (None before it, when a
        dry run shows placeholders instead)."""
        mode = ("snapshot", "-o", "-") if self.snapshot else ("--format", "json")
        argv = [*self.command, *mode, *self.forwarded]
        if node.rank is not None:
            argv += ["--node-rank", str(node.rank)]
        if node.serve_script is not None:
            argv += ["--serve-script", node.serve_script]
        if self.node0_ip:
            argv += ["--node0-ip", self.node0_ip]
        return argv if is_node0 else argv + self._from_phase_one(node0, dry_run)

    def _from_phase_one(self, node0: Node0Facts | None, dry_run: bool) -> list[str]:
        """--node0-ip and --peer-npu-ips for the other nodes: as given here, else as phase one found them."""
        words: list[str] = []
        address = (node0.address if node0 else None) or (NODE0_ADDRESS_PLACEHOLDER if dry_run else None)
        if not self.node0_ip and address:
            words += ["--node0-ip", address]
        found = ",".join(node0.device_ips) if node0 else ""
        peers = self.peer_npu_ips or found or (NODE0_DEVICE_IPS_PLACEHOLDER if dry_run else "")
        return words + (["--peer-npu-ips", peers] if peers else [])


@dataclass(frozen=True)
class NodeOutcome:
    """One node's run: its report, or why there is none (error, and what to do about it)."""

    node: NodeSpec
    phase: int
    argv: tuple[str, ...]
    duration_ms: int = 0
    exit_code: int | None = None
    report: dict[str, Any] | None = None
    report_text: str | None = None
    snapshot: bytes | None = None
    error: str | None = None
    remedy: str | None = None


def phases(inventory: Inventory, remote: RemoteRun) -> list[list[NodeSpec]]:
    node0 = inventory.node0
    others = [n for n in inventory.nodes if n is not node0]
    if not others or (remote.node0_ip and remote.peer_npu_ips):
        return [list(inventory.nodes)]
    return [[node0], others]


def collect(
    inventory: Inventory, transport: Transport, remote: RemoteRun, limits: Limits, stop: threading.Event
) -> tuple[list[NodeOutcome], Node0Facts | None]:
    """Every node's outcome, in inventory order, and node 0's facts when a first phase found them."""
    outcomes: dict[str, NodeOutcome] = {}
    node0: Node0Facts | None = None
    planned = phases(inventory, remote)
    for number, nodes in enumerate(planned, start=1):
        jobs = [(n, transport.argv(n, remote.argv(n, node0, n is inventory.node0))) for n in nodes]
        for outcome in _run_phase(jobs, number, transport, remote.snapshot, limits, stop):
            outcomes[outcome.node.host] = outcome
        if number == 1 and len(planned) > 1:
            node0 = node0_facts(outcomes[inventory.node0.host])
    return [outcomes[n.host] for n in inventory.nodes], node0


def _run_phase(
    jobs: Sequence[tuple[NodeSpec, list[str]]],
    phase: int,
    transport: Transport,
    snapshot: bool,
    limits: Limits,
    stop: threading.Event,
) -> list[NodeOutcome]:
    def one(job: tuple[NodeSpec, list[str]]) -> NodeOutcome:
        return run_node(job[0], job[1], phase, transport, snapshot, limits, stop)

    pool = ThreadPoolExecutor(max_workers=max(1, min(limits.fanout, len(jobs))), thread_name_prefix="glm5check-node")
    try:
        return list(pool.map(one, jobs))
    except KeyboardInterrupt:
        stop.set()  # every running launcher's process group is killed within 0.1 s
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_node(
    node: NodeSpec,
    argv: list[str],
    phase: int,
    transport: Transport,
    snapshot: bool,
    limits: Limits,
    stop: threading.Event,
) -> NodeOutcome:
    remaining = limits.remaining()
    base = NodeOutcome(node, phase, tuple(argv))
    if remaining <= 0 or stop.is_set():
        return _failed(base, f"not started: the whole run's --deadline of {limits.deadline_s:g} s had passed")
    timeout = min(limits.node_timeout_s, remaining)
    cap = SNAPSHOT_CAP_BYTES if snapshot else REPORT_CAP_BYTES
    started = time.monotonic()
    run = run_process(argv, timeout, stdout_cap=cap, stderr_cap=STDERR_CAP_BYTES, stop=stop)
    timed = NodeOutcome(node, phase, tuple(argv), int((time.monotonic() - started) * 1000), run.exit_code)
    if timeout == limits.node_timeout_s:
        limit = f"within {timeout:g} s (--node-timeout)"
    else:
        limit = f"before the whole run's --deadline of {limits.deadline_s:g} s"
    return read_answer(timed, run, transport, snapshot, limit)


def read_answer(base: NodeOutcome, run: CapturedRun, transport: Transport, snapshot: bool, limit: str) -> NodeOutcome:
    """The node's report from what its launcher answered, or the reason there is none. `limit` says which
    time limit a timeout was (`within 180 s (--node-timeout)`)."""
    launcher = base.argv[0]
    if run.not_found:
        return _failed(base, f"{launcher}: command not found on this machine", f"install {launcher} here")
    if run.error:
        return _failed(base, f"{launcher} could not run: {run.error}")
    if run.timed_out:
        return _failed(
            base,
            f"no answer {limit}; {launcher} and all it started were killed",
            "check the node by hand (--dry-run prints the command); raise --node-timeout and --deadline if it is "
            "only slow",
        )
    own = transport.failure(run)
    if own is not None:
        said = own if own.startswith(transport.name) else f"{transport.name}: {own}"
        return _failed(base, said, _REMEDY[transport.name].format(host=base.node.host))
    if run.truncated and len(run.stdout) >= (SNAPSHOT_CAP_BYTES if snapshot else REPORT_CAP_BYTES):
        return _failed(base, f"printed more than {len(run.stdout) >> 20} MiB on standard output; not read")
    stderr = [printable(ln.strip()) for ln in run.stderr.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    if _not_installed(run, stderr):
        return _failed(
            base,
            f"glm5check is not installed on {base.node.host} (or not on the PATH of a non-interactive login): "
            f"{stderr[-1] if stderr else f'exit {run.exit_code}'}",
            "install glm5check there, or say how it starts: --remote-command 'python3 -m glm5check' "
            "(command = … in an inventory)",
        )
    return _parsed(base, run, snapshot, stderr)


def _not_installed(run: CapturedRun, stderr: list[str]) -> bool:
    if run.stdout.strip():
        return False
    return run.exit_code in NOT_INSTALLED_EXIT or any(w in line for line in stderr for w in _NOT_INSTALLED_WORDS)


def _parsed(base: NodeOutcome, run: CapturedRun, snapshot: bool, stderr: list[str]) -> NodeOutcome:
    try:
        text = _report_text(run.stdout, snapshot)
        report = parse_report(text)
    except ReportError as exc:
        if run.exit_code == 2 and stderr:
            return _failed(base, f"glm5check on {base.node.host} stopped with a usage error (exit 2): {stderr[0]}")
        start = printable(run.stdout[:60].decode("utf-8", errors="replace"))
        return _failed(
            base,
            f"its standard output is {exc}; it begins {start!r}" if start else f"no output (exit {run.exit_code})",
            "run the command --dry-run prints by hand: a login script that prints (motd, echo in .bashrc) "
            "breaks the report",
        )
    return replace(base, report=report, report_text=text, snapshot=run.stdout if snapshot else None)


def _report_text(stdout: bytes, snapshot: bool) -> str:
    if not snapshot:
        return stdout.decode("utf-8", errors="replace")
    from glm5check.host.snapshot import SnapshotError, archive_report

    try:
        return archive_report(stdout, REPORT_CAP_BYTES)
    except SnapshotError as exc:
        raise ReportError(f"not a snapshot archive ({exc})") from None


def _failed(base: NodeOutcome, error: str, remedy: str | None = None) -> NodeOutcome:
    return replace(base, error=error, remedy=remedy)


def node0_facts(outcome: NodeOutcome) -> Node0Facts:
    """Node 0's address, NPU device IPs (by device number) and RPC port, from its untrusted report."""
    host = outcome.node.host
    if outcome.report is None:
        return Node0Facts(host, reported=False)
    node = NodeReport(host, host, outcome.report)
    address, source = _node0_address(node)
    port = as_int(node.plan.get("data_parallel_rpc_port"))
    rpc_port = port if port is not None and 0 < port < 65536 else None
    return Node0Facts(host, True, address, source, _device_ips(node), rpc_port)


def _node0_address(node: NodeReport) -> tuple[str | None, str | None]:
    candidates = [
        (as_text(node.plan_given("data_parallel_address")), "its launch command's --data-parallel-address"),
        (as_text(as_dict(node.facts.get("env")).get("HCCL_IF_IP")), "its HCCL_IF_IP"),
    ]
    usable = [(valid_ip(a), source) for a, source in candidates if valid_ip(a)]
    local = [(a, source) for a, source in usable if a in node.addresses]
    return (local or usable or [(None, None)])[0]


def _device_ips(node: NodeReport) -> tuple[str, ...]:
    """The addresses in device-number order, so that device N of the other node pings device N here."""
    found = as_dict(node.facts.get("npu_device_ips"))
    numbered = [(int(k), valid_ip(as_text(v))) for k, v in found.items() if k.isdecimal() and len(k) <= 4]
    return tuple(ip for _, ip in sorted(numbered) if ip)


_REMEDY = {
    "ssh": "check that `ssh {host} true` works from here without a prompt (BatchMode: a key or the agent, a known "
    "host key, the user's ~/.ssh/config)",
    "pdsh": "check that `pdsh -w {host} true` works from here (rcmd module, keys, host keys)",
    "srun": "run inside an allocation that holds {host} (salloc / sbatch), and check its name in sinfo",
    "kubectl": "check the pod {host}, its namespace and container with `kubectl get pods`",
}
