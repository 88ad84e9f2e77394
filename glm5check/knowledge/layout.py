"""Where the ranks of a vLLM deployment run: per node, per data-parallel rank, its NPU chips, its
tensor-parallel group and its expert-parallel ranks, and the ports each node uses. Pure: computed from
the serve plan and the number of nodes.

How vLLM (with vllm-ascend) numbers them at the pinned commits:
- a node runs `data_parallel_size_local` DP ranks, from `data_parallel_start_rank` (node n: n × DP-local);
- the DP rank with local index i drives the visible chips i × TP .. i × TP + TP − 1 (vLLM's device ids,
  which ASCEND_RT_VISIBLE_DEVICES maps to physical chips);
- its TP group holds the global ranks dp × TP .. dp × TP + TP − 1 (TP × DP ranks in all);
- with --enable-expert-parallel the experts are split over EP = TP × DP ranks and DP rank dp holds EP
  ranks dp × TP .. dp × TP + TP − 1; without it each DP rank holds every expert, split over its TP group;
- node 0 serves the API on --port (a --headless node serves none); every node's DP engines meet node 0
  at --data-parallel-address:--data-parallel-rpc-port.
"""

from __future__ import annotations

from typing import NamedTuple

from glm5check.knowledge.profiles import Hardware, ServePlan


class RankPlacement(NamedTuple):
    dp_rank: int
    local_index: int  # among the node's DP ranks
    chips: tuple[int, ...]  # vLLM's device ids on the node (visible chips, in order)
    global_ranks: tuple[int, int]  # first and last rank of its TP group in the whole deployment
    ep_ranks: tuple[int, int] | None  # first and last expert-parallel rank, None without expert parallel
    ep_size: int


class NodePlacement(NamedTuple):
    node: int
    role: str  # single, primary, headless
    ranks: tuple[RankPlacement, ...]
    api_port: int | None  # the OpenAI API, on node 0 only
    rpc: str | None  # node 0's DP RPC address:port every node's engines connect to


def overfull(plan: ServePlan, hardware: Hardware) -> str | None:
    """Why one node cannot hold the plan's ranks (each drives an NPU of its node), or None when it can."""
    if plan.ranks_per_node <= hardware.npus_per_node:
        return None
    return (
        f"TP {plan.tensor_parallel_size} × DP-local {plan.dp_local} = {plan.ranks_per_node} NPUs per node, "
        f"but one {hardware.platform} has {hardware.npus_per_node}"
    )


def _rank(plan: ServePlan, dp_rank: int, local_index: int) -> RankPlacement:
    tp = plan.tensor_parallel_size
    first = dp_rank * tp
    ep_size = tp * plan.data_parallel_size if plan.enable_expert_parallel else 1
    ep = (first, first + tp - 1) if plan.enable_expert_parallel else None
    chips = tuple(range(local_index * tp, local_index * tp + tp))
    return RankPlacement(dp_rank, local_index, chips, (first, first + tp - 1), ep, ep_size)


def _rpc(plan: ServePlan, nodes: int) -> str | None:
    if nodes <= 1 or plan.data_parallel_rpc_port is None:
        return None
    return f"{plan.data_parallel_address or 'node 0'}:{plan.data_parallel_rpc_port}"


def layout(plan: ServePlan, nodes: int) -> tuple[NodePlacement, ...]:
    """Every node of the deployment, node 0 first."""
    local = plan.dp_local
    placements = []
    for node in range(max(nodes, 1)):
        role = "single" if nodes <= 1 else ("primary" if node == 0 else "headless")
        start = node * local
        ranks = tuple(_rank(plan, start + i, i) for i in range(local) if start + i < plan.data_parallel_size)
        api = plan.port if role != "headless" else None
        placements.append(NodePlacement(node, role, ranks, api, _rpc(plan, nodes)))
    return tuple(placements)


def span(first_last: tuple[int, int] | None) -> str:
    if first_last is None:
        return "-"
    first, last = first_last
    return str(first) if first == last else f"{first}-{last}"
