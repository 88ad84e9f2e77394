"""The address and NIC this node should export in HCCL_IF_IP and the *_SOCKET_IFNAME variables."""

from __future__ import annotations

from typing import NamedTuple

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


class NodeEnvSuggestion(NamedTuple):
    """The address and NIC this node should name in HCCL_IF_IP and the three *_SOCKET_IFNAME variables."""

    nic: str
    address: str
    reason: str  # how they were found, for a comment in fix scripts

    @property
    def interface_exports(self) -> dict[str, str]:
        return {var: self.nic for var in SOCKET_IFNAME_VARS}

    @property
    def exports(self) -> dict[str, str]:
        return {HCCL_IF_IP: self.address, **self.interface_exports}


def suggested_node_env(ctx: Context) -> NodeEnvSuggestion | None:
    """On node 0 the NIC carrying node 0's address; on node >= 1 the source and device of the route towards
    node 0; else the NIC already carrying HCCL_IF_IP; else the first up physical-looking NIC (a guess)."""
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
    for nic in nics:
        if nic.kind == "nic" and nic.usable and nic.ipv4:
            return NodeEnvSuggestion(nic.name, nic.ipv4[0], f"the first up NIC ({nic.name}); check it")
    return None
