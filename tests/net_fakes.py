"""A Context over a hand-written snapshot (SnapshotWriter + ReplayHost), for the net checks' unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from glm5check.engine.check import Check, Result
from glm5check.facts.context import Context, Options
from glm5check.host.base import Address, ConnectResult, Interface, ListeningSocket, Process
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotWriter
from glm5check.knowledge.launch_command import ServeInput, profile_launch
from glm5check.knowledge.profiles import Profile, load_builtin

NIC = "enp189s0f0"
NODE0_IP = "10.20.0.11"
NODE1_IP = "10.20.0.12"


@dataclass(frozen=True)
class FakeNic:
    name: str
    ipv4: tuple[str, ...] = ()
    flags: str | None = "0x1003"  # IFF_UP|BROADCAST|MULTICAST; "0x1002" is administratively down
    operstate: str | None = "up"
    mtu: int = 1500
    prefix_mask: str = "255.255.255.0"
    is_up: bool | None = None  # psutil's answer; by default derived from operstate

    def interface(self) -> Interface:
        addresses = tuple(Address("ipv4", a, self.prefix_mask) for a in self.ipv4)
        is_up = self.is_up if self.is_up is not None else self.operstate in ("up", "unknown")
        return Interface(self.name, is_up=is_up, mtu=self.mtu, addresses=addresses)


def lo() -> FakeNic:
    return FakeNic("lo", ("127.0.0.1",), "0x9", "unknown", 65536, "255.0.0.0")


def guide_env(address: str, nic: str = NIC, **overrides: str | None) -> dict[str, str]:
    env = {
        "HCCL_IF_IP": address,
        "HCCL_SOCKET_IFNAME": nic,
        "GLOO_SOCKET_IFNAME": nic,
        "TP_SOCKET_IFNAME": nic,
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)  # None removes the variable
        else:
            env[name] = value
    return env


@dataclass
class Scenario:
    env: dict[str, str]
    nics: Sequence[FakeNic]
    profile: str = "a2-multi"
    node_rank: int | None = None
    node0_ip: str | None = None
    serve_source: str | None = None
    plan_changes: dict[str, Any] = field(default_factory=dict)
    script_env: dict[str, str] = field(default_factory=dict)
    hostname: str = "npu-a2-01"
    resolves_to: Sequence[str] = (NODE0_IP,)
    sockets: Sequence[ListeningSocket] = ()
    processes: Sequence[Process] = ()
    route: tuple[str, str, int] | None = None  # stdout, stderr, exit code of `ip -o route get NODE0`
    connect: ConnectResult | None = None
    route_for: str | None = None  # the address `ip route get` is recorded for (default: node 0's)
    names: dict[str, Sequence[str]] = field(default_factory=dict)  # other names the resolver knows

    def writer(self) -> SnapshotWriter:
        """The node as a snapshot. A replay answers only what is recorded, so what the node lacks is recorded
        as absent: a sysfs file given as None is missing, `ip` without a route answer is not installed."""
        writer = SnapshotWriter(self.profile, hostname=self.hostname)
        writer.env(self.env)
        writer.interfaces([nic.interface() for nic in self.nics])
        for nic in self.nics:
            for leaf, value in (("flags", nic.flags), ("operstate", nic.operstate)):
                path = f"/sys/class/net/{nic.name}/{leaf}"
                writer.file(path, value + "\n") if value is not None else writer.file(path, error="missing")
        writer.resolve(self.hostname, list(self.resolves_to))
        writer.sockets(list(self.sockets))
        writer.processes(list(self.processes))
        for name, addresses in self.names.items():
            writer.resolve(name, list(addresses))
        target = self.route_for or self.plan_changes.get("data_parallel_address") or self.node0_ip
        if target:
            stdout, stderr, code = self.route or ("", "", None)
            flags = {} if self.route is not None else {"not_found": True}
            writer.command(["ip", "-o", "route", "get", target], stdout, stderr, code, **flags)
        if self.connect is not None:
            writer.connect(self.connect)
        return writer

    def context(self) -> Context:
        writer = self.writer()
        profile = load_builtin(self.profile)
        options = Options(node_rank=self.node_rank, node0_ip=self.node0_ip, serve_source=self.serve_source)
        return Context(profile, ReplayHost(writer.data), options, self.launch(profile))

    def launch(self, profile: Profile) -> ServeInput:
        """The profile's launch command with plan_changes, as a serve script's lines when serve_source
        names one (a None value removes the flag)."""
        base = profile_launch(profile)
        where = "script line 1" if self.serve_source else "profile"
        given = {k: v for k, v in {**base.given, **self.plan_changes}.items() if v is not None}
        sources = {k: (where if k in self.plan_changes else v) for k, v in base.sources.items()}
        sources.update({k: where for k in given if k in self.plan_changes})
        return replace(
            base,
            given=given,
            sources={k: v for k, v in sources.items() if k in given},
            env=dict(self.script_env),
            origin=self.serve_source or "profile",
        )


def run_check(check: Check, ctx: Context) -> dict[str, Result]:
    """Run a check and index its results by item ("" for an item-less result)."""
    output = check.func(ctx)
    results = [output] if isinstance(output, Result) else list(output)
    return {r.item or "": r for r in results}
