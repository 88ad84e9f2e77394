"""`glm5check plan`: the plan, drawn — per node and data-parallel rank its NPU chips (vLLM's logical ids and
the chips npu-smi shows on this node), its TP group, its expert-parallel ranks and the ports each node
uses, and for every planned chip of this node one rank's HBM budget split into weights / reserve / KV
cache / free, with the numbers. The same section ends the table and is `facts.plan` in the JSON report.

It reads npu-smi and the weights headers like a run does (or a snapshot with --replay), and judges
nothing: exit 0, or 2 on bad input.
"""

from __future__ import annotations

import json
from typing import Any

import click

from glm5check import console
from glm5check.commands.options import deployment_context, deployment_options
from glm5check.facts.deployment import drawn_plan
from glm5check.facts.node import node_info
from glm5check.knowledge.layout import overfull
from glm5check.reports.model import rank_text
from glm5check.reports.plan import plan_lines, read_plan
from glm5check.reports.table import terminal_width


@click.command("plan")
@deployment_options("Draw the plan of a recorded snapshot instead.")
@click.option("--model-dir", metavar="PATH", help="The weights folder (default: the profile's).")
@click.option("--format", "output_format", type=click.Choice(("table", "json")), default="table", show_default=True)
def plan_command(output_format: str, **kwargs: Any) -> None:
    """The plan, drawn: ranks, chips, TP/EP groups, ports and HBM bars per chip."""
    from glm5check.session import host_name

    ctx, host = deployment_context(kwargs)
    section = drawn_plan(ctx)
    if output_format == "json":
        console.out(json.dumps(section, indent=2) + "\n", "json")
        return
    node = ctx.fact(node_info)
    rank = rank_text(node.rank, node.role, node.group)
    head = f"plan of profile {ctx.profile.name} ({ctx.profile.description}) · {rank} · host {host_name(host)}"
    view = read_plan(section)
    assert view is not None  # drawn_plan always has nodes
    console.out("\n".join([head, *_cannot_start(ctx), "", *plan_lines(view, (), terminal_width())]) + "\n")


def _cannot_start(ctx: Any) -> list[str]:
    """A plan whose ranks do not fit on a node is still drawn (to show why), but never without saying so."""
    why = overfull(ctx.plan, ctx.profile.hardware)
    if why is None:
        return []
    first, last = ctx.profile.hardware.npus_per_node, ctx.plan.ranks_per_node - 1
    return [
        f"this plan cannot start: {why}",
        f"  (chips {first}-{last} below are not on the node; a run fails serve.args[--tensor-parallel-size])",
    ]
