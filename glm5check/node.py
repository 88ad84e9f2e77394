"""Which node of the deployment this is: its data-parallel rank and role."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glm5check.context import NodeInfo

if TYPE_CHECKING:
    from glm5check.context import Context


def role_for_rank(rank: int, multi_node: bool) -> str:
    if not multi_node:
        return "single"
    return "primary" if rank == 0 else "headless"


def resolve_node(ctx: Context) -> NodeInfo:
    multi = ctx.profile.multi_node
    if not multi:
        return NodeInfo(0, "single", "single-node profile")
    if ctx.options.node_rank is not None:
        rank = ctx.options.node_rank
        return NodeInfo(rank, role_for_rank(rank, multi), "--node-rank")
    if ctx.plan.data_parallel_start_rank is not None or ctx.plan.headless:
        rank = ctx.plan.data_parallel_start_rank or 0
        if ctx.plan.headless and rank == 0:
            return NodeInfo(rank, "headless", "serve script (--headless)")
        return NodeInfo(rank, role_for_rank(rank, multi), "serve script")
    return NodeInfo(0, "primary", "default (no --node-rank, serve script or local address of node 0)")
