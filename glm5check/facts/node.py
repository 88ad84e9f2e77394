"""Which node of the deployment this is: its node rank and role.

In order: a single-node profile; `--node-rank`; the serve plan (`--data-parallel-start-rank`,
`--headless`, `--data-parallel-rank`; a serve script with none of them is node 0's, as in the guide); then
detection from local addresses: a local interface carrying node 0's address makes this node 0, otherwise it
is node 1; then the node index a launcher exports (Slurm's `SLURM_NODEID`, LeaderWorkerSet's
`LWS_WORKER_INDEX`). Node 0's address comes from the serve script's `--data-parallel-address`, `--node0-ip` or
the profile.

A node of a prefill-decode deployment runs its group's profile (the session chose the group); its rank and
role are within the group (the group's node 0 is its primary, which holds DP rank 0 and the group's DP
address), and `group` names it. `--node-rank` and a launcher's index number the whole deployment (prefill
nodes first); a `--data-parallel-rank R` process is on the group's node R ÷ the DP ranks one node runs.
"""

from __future__ import annotations

from typing import NamedTuple

from glm5check.errors import ProbeFailed
from glm5check.facts.context import Context
from glm5check.facts.net import local_nics, nic_carrying, node0_address
from glm5check.knowledge.limits import NODE_RANK
from glm5check.util.numbers import whole

DEFAULT_SOURCE = "default (no --node-rank, serve script, node 0 address or launcher rank to go by)"
# Variables in which multi-node launchers give each node its 0-based index.
LAUNCHER_RANK_VARS = ("SLURM_NODEID", "LWS_WORKER_INDEX")


class NodeInfo(NamedTuple):
    rank: int
    role: str  # single, primary, headless
    source: str  # where the rank came from: single-node profile, --node-rank, serve script, detected, default
    group: str | None = None  # prefill or decode in a prefill-decode deployment (rank and role are within it)


def role_for_rank(rank: int, multi_node: bool) -> str:
    if not multi_node:
        return "single"
    return "primary" if rank == 0 else "headless"


def node_info(ctx: Context) -> NodeInfo:
    """This node's rank and role (a fact: resolved once, shared by the session and every check)."""
    return _node_info(ctx)._replace(group=ctx.profile.pd_group)


def _node_info(ctx: Context) -> NodeInfo:
    multi = ctx.profile.multi_node
    if not multi:
        return NodeInfo(0, "single", "single-node profile" if not ctx.profile.pd_group else "a one-node group")
    if ctx.options.node_rank is not None:
        rank, source = _in_group(ctx, ctx.options.node_rank, "--node-rank")
        return NodeInfo(rank, role_for_rank(rank, multi), source)
    from_plan = _from_plan(ctx)
    if from_plan is not None:
        return from_plan
    detected = _from_local_addresses(ctx)
    if detected is not None:
        return detected
    launched = _from_launcher(ctx)
    if launched is not None:
        return launched
    return NodeInfo(0, "primary", DEFAULT_SOURCE)


def _first_node(ctx: Context) -> int:
    """The deployment's node number of this node's group's node 0 (0 outside a prefill-decode deployment)."""
    group = ctx.profile.pd_group
    return ctx.profile.group(group).first_node if group else 0


def _in_group(ctx: Context, node: int, where: str) -> tuple[int, str]:
    """A node number of the whole deployment as a rank within this node's group."""
    first = _first_node(ctx)
    if not ctx.profile.pd_group:
        return node, where
    return node - first, f"{where} {node}: node {node - first} of the {ctx.profile.pd_group} group"


def _from_plan(ctx: Context) -> NodeInfo | None:
    plan = ctx.plan
    origin = "serve script" if ctx.options.serve_source else "profile"
    if plan.data_parallel_rank is not None and ctx.effective.given("data_parallel_rank"):
        # One vllm serve per DP rank: the node runs a group's DP ranks in consecutive blocks.
        per_node = ctx.profile.group(ctx.profile.pd_group).dp_per_node if ctx.profile.pd_group else plan.dp_local
        rank = plan.data_parallel_rank // max(per_node, 1)
        where = f"{origin} (--data-parallel-rank {plan.data_parallel_rank}, {per_node} DP rank(s) per node)"
        return NodeInfo(rank, role_for_rank(rank, True), where)
    # vLLM's own default start rank is 0: only a value the launch command gives says which node this is.
    if ctx.effective.given("data_parallel_start_rank") or plan.headless:
        start = plan.data_parallel_start_rank or 0
        # The start rank counts data-parallel ranks; a node holds dp_local of them.
        rank = start // plan.dp_local if plan.dp_local > 0 and start % plan.dp_local == 0 else start
        if plan.headless and rank == 0:
            return NodeInfo(rank, "headless", f"{origin} (--headless)")
        flags = "--headless, " if plan.headless else ""
        return NodeInfo(rank, role_for_rank(rank, True), f"{origin} ({flags}--data-parallel-start-rank {start})")
    if ctx.options.serve_source:
        return NodeInfo(0, "primary", "serve script (no --headless or --data-parallel-start-rank)")
    return None


def _from_local_addresses(ctx: Context) -> NodeInfo | None:
    try:
        node0 = ctx.fact(node0_address)
        if node0 is None:
            return None
        nic = nic_carrying(ctx.fact(local_nics), node0.address)
    except ProbeFailed:
        return None
    if nic is not None:
        return NodeInfo(0, "primary", f"detected: {nic.name} carries node 0's address {node0.address}")
    return NodeInfo(1, "headless", f"detected: node 0's address {node0.address} is not on this host")


def _from_launcher(ctx: Context) -> NodeInfo | None:
    try:
        env = ctx.env
    except ProbeFailed:  # an environment a snapshot did not record names no launcher rank
        return None
    nodes = range(_first_node(ctx), _first_node(ctx) + ctx.profile.hardware.nodes)
    for name in LAUNCHER_RANK_VARS:
        value = env.get(name, "").strip()
        rank = whole(value)
        if rank is not None and NODE_RANK.admits(rank) and (rank in nodes or not ctx.profile.pd_group):
            rank, source = _in_group(ctx, rank, f"launcher environment ({name}={value})")
            return NodeInfo(rank, role_for_rank(rank, True), source)
    return None
