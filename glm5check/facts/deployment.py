"""The plan, drawn: where every rank runs (knowledge.layout) with this node's real chips from npu-smi, and the
HBM budget of one rank split into weights, reserve, HBM other processes hold, KV cache and free — memory.fit's
budget, the one npu.hbm judges too (usable HBM × gpu_memory_utilization), per planned chip.

`plan_section(ctx, chips, fit)` builds the JSON-ready section; the report's `facts.plan` builds it from
what the checks already computed (it never probes), `glm5check plan` from the facts themselves.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from glm5check.facts.context import Context
from glm5check.facts.net import hccl_port_range
from glm5check.facts.node import NodeInfo, node_info
from glm5check.facts.npu import ChipPlan, chip_plan, device_number
from glm5check.facts.weights import memory_fit
from glm5check.knowledge.layout import NodePlacement, RankPlacement, layout
from glm5check.knowledge.memfit import IDLE_USED_MB, Fit
from glm5check.util.units import MIB

BUDGET_SOURCE = "memory.fit"


def budget_split(fit: Fit, held_bytes: int = 0) -> dict[str, Any]:
    """One rank's HBM budget (vllm-ascend's: usable HBM × gpu_memory_utilization, memory.fit's) in parts
    that add up to it: weights (with MLAPO's fused copies), reserve, HBM another process holds on the chip
    (vllm-ascend counts it in the peak), the KV cache vLLM allocates (whole blocks), and what is left. When
    the parts do not fit, they are cut at the budget and `over_bytes` says by how much."""
    chip = replace(fit, held_bytes=held_bytes)
    budget = chip.budget_bytes
    weights = min(_weights_bytes(fit), budget)
    reserve = min(fit.reserve_bytes, budget - weights)
    held = min(held_bytes, budget - weights - reserve)
    kv = min(chip.kv_tokens * chip.kv_bytes_per_token, budget - weights - reserve - held)
    return {
        "source": BUDGET_SOURCE,
        "budget_bytes": budget,
        "weights_bytes": weights,
        "reserve_bytes": reserve,
        "held_bytes": held,
        "held_total_bytes": held_bytes,  # all of it; held_bytes is the part within the budget
        "kv_bytes": kv,
        "free_bytes": budget - weights - reserve - held - kv,
        "over_bytes": max(_weights_bytes(fit) + fit.reserve_bytes + held_bytes - budget, 0),
        "hbm_bytes": fit.plan.hbm_bytes,
        "gpu_memory_utilization": fit.plan.gpu_memory_utilization,
        "kv_tokens": chip.kv_tokens,
        "verdict": chip.verdict,
    }


def _weights_bytes(fit: Fit) -> int:
    """The rank's weights as they sit in HBM: its shard, plus MLAPO's fused copies when MLAPO runs."""
    return fit.weights.per_rank + fit.mlapo_bytes


def held_by_others(used_mb: int | None) -> int:
    """HBM another process holds on a chip: what npu-smi shows in use beyond an idle chip's."""
    return max((used_mb or 0) - IDLE_USED_MB, 0) * MIB


def _chip(chips: ChipPlan | None, logical: int, fit: Fit | None) -> dict[str, Any]:
    found = chips.visible[logical] if chips is not None and logical < len(chips.visible) else None
    if found is None:
        return {"logical": logical, "label": None, "npu": None, "chip": None, "device": None, "name": None,
                "hbm_total_mb": None, "hbm_used_mb": None, "budget": None}  # fmt: skip
    return {
        "logical": logical,
        "label": chips.label(found) if chips is not None else None,
        "npu": found.npu,
        "chip": found.chip,
        "device": device_number(found),
        "name": found.name,
        "hbm_total_mb": found.hbm_total_mb,
        "hbm_used_mb": found.hbm_used_mb,
        "budget": budget_split(fit, held_by_others(found.hbm_used_mb)) if fit is not None else None,
    }


def _rank(rank: RankPlacement, chips: ChipPlan | None, fit: Fit | None) -> dict[str, Any]:
    return {
        "dp_rank": rank.dp_rank,
        "tp_ranks": list(rank.global_ranks),
        "ep_ranks": list(rank.ep_ranks) if rank.ep_ranks else None,
        "ep_size": rank.ep_size,
        "chips": [_chip(chips, logical, fit) for logical in rank.chips],
    }


def _node(
    ctx: Context, placed: NodePlacement, here: NodeInfo | None, chips: ChipPlan | None, fit: Fit | None
) -> dict[str, Any]:
    this_node = here is not None and here.rank == placed.node
    first, last, _ = hccl_port_range(ctx) if this_node else (None, None, None)
    return {
        "node": placed.node,
        "role": placed.role,
        "this_node": this_node,
        "api_port": placed.api_port,
        "rpc": placed.rpc,
        "hccl_ports": f"{first}-{last}" if first is not None else None,
        "ranks": [_rank(rank, chips if this_node else None, fit) for rank in placed.ranks],
    }


def plan_section(ctx: Context, here: NodeInfo | None, chips: ChipPlan | None, fit: Fit | None) -> dict[str, Any]:
    """The JSON-ready plan: every node and DP rank, this node's chips, the budget split of one rank."""
    placements = layout(ctx.plan, ctx.profile.hardware.nodes)
    return {
        "budget": budget_split(fit) if fit is not None else None,
        "nodes": [_node(ctx, placed, here, chips, fit) for placed in placements],
    }


def drawn_plan(ctx: Context) -> dict[str, Any]:
    """The plan with this node's facts computed (probes npu-smi and the weights): `glm5check plan`."""
    return plan_section(ctx, ctx.fact(node_info), ctx.fact(chip_plan), ctx.fact(memory_fit))


def report_plan(ctx: Context) -> dict[str, Any]:
    """The report's `facts.plan`, from what the checks already computed (never a probe)."""
    return plan_section(ctx, ctx.facts.peek(node_info), ctx.facts.peek(chip_plan), ctx.facts.peek(memory_fit))
