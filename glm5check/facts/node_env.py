"""The address and NIC this node should export in HCCL_IF_IP and the *_SOCKET_IFNAME variables."""

from __future__ import annotations

from dataclasses import dataclass, replace

from glm5check.facts.context import Context
from glm5check.facts.net import (
    HCCL_IF_IP,
    SOCKET_IFNAME_VARS,
    local_nics,
    nic_by_name,
    nic_carrying,
    node0_address,
    normalise_ip,
    route_to_node0,
)
from glm5check.facts.node import node_info
from glm5check.facts.stack import inert_variables


@dataclass(frozen=True)
class NodeEnvSuggestion:
    """The address and NIC this node should name in HCCL_IF_IP and the three *_SOCKET_IFNAME variables."""

    nic: str
    address: str
    reason: str  # how they were found, for a comment in fix scripts
    inert: frozenset[str] = frozenset()  # variables nothing reads at the run's stack: never exported

    @property
    def interface_exports(self) -> dict[str, str]:
        return {var: self.nic for var in SOCKET_IFNAME_VARS if var not in self.inert}

    @property
    def exports(self) -> dict[str, str]:
        return {HCCL_IF_IP: self.address, **self.interface_exports}


def nic_candidates(ctx: Context) -> tuple[tuple[str, str], ...]:
    """(NIC, address) of every up physical-looking NIC address: what HCCL_IF_IP could be on this host."""
    return tuple(
        (nic.name, address) for nic in ctx.fact(local_nics) if nic.kind == "nic" and nic.usable for address in nic.ipv4
    )


def suggested_node_env(ctx: Context) -> NodeEnvSuggestion | None:
    found = _suggestion(ctx)
    return None if found is None else replace(found, inert=inert_variables(ctx))


def _suggestion(ctx: Context) -> NodeEnvSuggestion | None:
    """On node 0 the NIC carrying node 0's address; on node >= 1 the source and device of the route towards
    node 0; else the NIC already carrying HCCL_IF_IP; else the only up physical-looking NIC address. With
    several candidates and nothing to tell them apart, None: choosing one would be a guess (nic_candidates
    lists them)."""
    nics = ctx.fact(local_nics)
    node0 = ctx.fact(node0_address)
    if node0 is not None and ctx.fact(node_info).role == "primary":
        nic = nic_carrying(nics, node0.address)
        if nic is not None:
            return NodeEnvSuggestion(nic.name, node0.address, f"{nic.name} carries node 0's address")
    elif node0 is not None:
        route = ctx.fact(route_to_node0)
        lookup = route.lookup if route is not None else None
        nic = nic_by_name(nics, lookup.dev) if lookup is not None and lookup.found else None
        if nic is not None and lookup is not None and lookup.src and nic.kind != "loopback":
            return NodeEnvSuggestion(nic.name, lookup.src, f"the route towards node 0 {node0.address}")
    current = normalise_ip(ctx.env.get(HCCL_IF_IP))
    nic = nic_carrying(nics, current)
    if nic is not None and current is not None and nic.kind == "nic":
        return NodeEnvSuggestion(nic.name, current, f"{nic.name} carries HCCL_IF_IP")
    candidates = nic_candidates(ctx)
    if len(candidates) == 1:
        name, address = candidates[0]
        return NodeEnvSuggestion(name, address, f"{name} is the only up NIC with an address")
    return None


def candidates_text(candidates: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{address} ({name})" for name, address in candidates)
