"""The plan, drawn: per node and DP rank its chips, TP group, EP ranks and ports, and per planned chip of
this node an HBM bar of one rank's budget split into weights / reserve / KV cache / free.

`read_plan` reads the report's `facts.plan` (built by glm5check.facts.deployment) into typed views,
tolerating anything missing or of the wrong type (a report may come from elsewhere). `plan_lines` draws
it as text for the terminal; the HTML report draws the same views as SVG (glm5check.reports.html).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from glm5check.util.units import GIB

BAR_WIDTH = 40
# The parts of a bar, in order: (key in the budget, name, text bar character).
PARTS = (
    ("weights", "weights", "█"),
    ("reserve", "reserve", "▓"),
    ("held", "held by others", "#"),
    ("kv", "KV cache", "▒"),
    ("free", "free", "░"),
)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, list) and len(value) == 2 and all(_int(v) is not None for v in value):
        return (value[0], value[1])
    return None


class Budget(NamedTuple):
    budget: int
    parts: tuple[tuple[str, int], ...]  # (key, bytes) in PARTS order; they add up to budget
    over: int
    hbm: int | None
    utilization: float | None
    kv_tokens: int | None
    source: str
    held_total: int = 0  # HBM other processes hold on the chip, also beyond the budget

    @classmethod
    def read(cls, data: Any) -> Budget | None:
        if not isinstance(data, dict) or _int(data.get("budget_bytes")) is None:
            return None
        parts = tuple((key, max(_int(data.get(f"{key}_bytes")) or 0, 0)) for key, _, _ in PARTS)
        util = data.get("gpu_memory_utilization")
        util = util if isinstance(util, (int, float)) and not isinstance(util, bool) and math.isfinite(util) else None
        return cls(
            data["budget_bytes"],
            parts,
            max(_int(data.get("over_bytes")) or 0, 0),
            _int(data.get("hbm_bytes")),
            util,
            _int(data.get("kv_tokens")),
            _text(data.get("source")) or "memory.fit",
            max(_int(data.get("held_total_bytes")) or 0, 0),
        )


class ChipView(NamedTuple):
    logical: int
    label: str | None  # as npu-smi names it in the results (`NPU 3`), None when unknown
    device: int | None
    name: str | None
    hbm_total_mb: int | None
    hbm_used_mb: int | None
    budget: Budget | None  # this chip's split of the budget (HBM other processes hold taken out)

    @classmethod
    def read(cls, data: Any, logical: int) -> ChipView:
        data = data if isinstance(data, dict) else {}
        recorded = _int(data.get("logical"))
        return cls(
            recorded if recorded is not None else logical,
            _text(data.get("label")),
            _int(data.get("device")),
            _text(data.get("name")),
            _int(data.get("hbm_total_mb")),
            _int(data.get("hbm_used_mb")),
            Budget.read(data.get("budget")),
        )


class RankView(NamedTuple):
    dp_rank: int | None
    tp_ranks: tuple[int, int] | None
    ep_ranks: tuple[int, int] | None
    ep_size: int | None
    chips: tuple[ChipView, ...]

    @classmethod
    def read(cls, data: Any) -> RankView:
        data = data if isinstance(data, dict) else {}
        chips = data.get("chips") if isinstance(data.get("chips"), list) else []
        return cls(
            _int(data.get("dp_rank")),
            _pair(data.get("tp_ranks")),
            _pair(data.get("ep_ranks")),
            _int(data.get("ep_size")),
            tuple(ChipView.read(chip, i) for i, chip in enumerate(chips)),
        )


class NodeView(NamedTuple):
    node: int | None
    role: str | None
    this_node: bool
    api_port: int | None
    rpc: str | None
    hccl_ports: str | None
    ranks: tuple[RankView, ...]

    @classmethod
    def read(cls, data: Any) -> NodeView:
        data = data if isinstance(data, dict) else {}
        ranks = data.get("ranks") if isinstance(data.get("ranks"), list) else []
        return cls(
            _int(data.get("node")),
            _text(data.get("role")),
            data.get("this_node") is True,
            _int(data.get("api_port")),
            _text(data.get("rpc")),
            _text(data.get("hccl_ports")),
            tuple(RankView.read(rank) for rank in ranks),
        )


class PlanView(NamedTuple):
    budget: Budget | None
    nodes: tuple[NodeView, ...]


def read_plan(data: Any) -> PlanView | None:
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return None
    return PlanView(Budget.read(data.get("budget")), tuple(NodeView.read(node) for node in data["nodes"]))


def widths(parts: Sequence[tuple[str, int]], total: int, width: int) -> list[int]:
    """Each part's share of `width` cells, adding up to exactly `width` (largest remainders)."""
    if total <= 0:
        return [0] * len(parts)
    exact = [width * size / total for _, size in parts]
    cells = [math.floor(share) for share in exact]
    by_remainder = sorted(range(len(parts)), key=lambda i: exact[i] - cells[i], reverse=True)
    for i in by_remainder[: width - sum(cells)]:
        cells[i] += 1
    return cells


def gib(count: int) -> str:
    return f"{count / GIB:.1f} GiB"


def text_bar(budget: Budget, width: int = BAR_WIDTH) -> str:
    marks = {key: mark for key, _, mark in PARTS}
    cells = widths(budget.parts, budget.budget, width)
    return "".join(marks[key] * n for (key, _), n in zip(budget.parts, cells))


def _span(pair: tuple[int, int] | None) -> str:
    if pair is None:
        return "?"
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}-{pair[1]}"


def node_parts(node: NodeView) -> list[str]:
    parts = [f"node {node.node}", node.role or "?"]
    parts += ["this node"] if node.this_node else []
    parts += [f"API port {node.api_port}"] if node.api_port is not None else []
    parts += [f"DP RPC {node.rpc}"] if node.rpc else []
    parts += [f"HCCL ports {node.hccl_ports}"] if node.hccl_ports else []
    return parts


def rank_parts(rank: RankView) -> list[str]:
    parts = [f"DP rank {rank.dp_rank}", f"TP group ranks {_span(rank.tp_ranks)}"]
    parts.append(f"EP ranks {_span(rank.ep_ranks)} of {rank.ep_size}" if rank.ep_ranks else "expert parallel off")
    logical = [c.logical for c in rank.chips]
    if logical:
        parts.append(f"chips {_span((min(logical), max(logical)))}")
    return parts


def chip_name(chip: ChipView) -> str:
    device = f", device {chip.device}" if chip.device is not None else ""
    return f"chip {chip.logical} = {chip.label}{device}" if chip.label else f"chip {chip.logical}"


def _names_chip(item: str, chip: ChipView) -> bool:
    """An npu.* item about this chip: its label (`NPU 3`, `NPU 3 pid 4242`) or its device (`device 3`)."""
    names = [chip.label] if chip.label else []
    names += [f"device {chip.device}"] if chip.device is not None else []
    return any(item == name or item.startswith(name + " ") for name in names)


def chip_problems(rows: Sequence[Any], chip: ChipView) -> list[str]:
    """The problems the npu.* results report for one chip, e.g. `npu.hbm FAIL`."""
    return list(
        dict.fromkeys(
            f"{row.id} {row.status.upper()}"
            for row in rows
            if row.status in ("fail", "error", "warn")
            and row.id.startswith("npu.")
            and row.item
            and _names_chip(row.item, chip)
        )
    )


def chip_state(chip: ChipView, rows: Sequence[Any]) -> str:
    used = f"{chip.hbm_used_mb} MB in use now" if chip.hbm_used_mb is not None else ""
    held = chip.budget.held_total if chip.budget else 0
    over = chip.budget.over if chip.budget else 0
    used += f" ({gib(held)} held by others" + (f", over the budget by {gib(over)})" if over else ")") if held else ""
    return "; ".join(x for x in (used, ", ".join(chip_problems(rows, chip))) if x)


def legend_parts(budget: Budget) -> list[str]:
    """Each part with its size; `held by others` only where some chip has it (it differs per chip)."""
    names = {key: (name, mark) for key, name, mark in PARTS}
    return [f"{names[key][1]} {names[key][0]} {gib(size)}" for key, size in budget.parts if key != "held"]


def budget_line(budget: Budget) -> str:
    of = f" = {gib(budget.hbm)} HBM × {budget.utilization}" if budget.hbm and budget.utilization else ""
    over = f" · OVER by {gib(budget.over)}: no room for the KV cache" if budget.over else ""
    return f"HBM budget of one rank ({budget.source}): {gib(budget.budget)}{of}{over}"


NAME_WIDTH = 24
STATE_ROOM = 34  # kept after a bar for the chip's state, when the width allows


def _wrapped(parts: Sequence[str], width: int, indent: str) -> Iterator[str]:
    """The parts joined with ' · ' on as few lines as fit, continuation lines indented."""
    line = ""
    for part in parts:
        if line and len(line) + 3 + len(part) > width:
            yield line
            line = indent + part
        else:
            line = f"{line} · {part}" if line else part
    if line:
        yield line


def _chip_lines(plan: PlanView, chip: ChipView, rows: Sequence[Any], width: int) -> Iterator[str]:
    """A chip's bar, and its state after it, or under it when the line would be too wide."""
    room = width - 4 - NAME_WIDTH - 3 - STATE_ROOM
    budget = chip.budget or plan.budget
    bar = f" [{text_bar(budget, min(BAR_WIDTH, max(room, 16)))}]" if budget else ""
    line = f"    {chip_name(chip):<{NAME_WIDTH}}{bar}"
    state = chip_state(chip, rows)
    if state and len(line) + 2 + len(state) <= width:
        yield f"{line}  {state}"
        return
    yield line.rstrip()
    indent = " " * (4 + NAME_WIDTH + 2)
    yield from textwrap.wrap(state, max(width, len(indent) + 20), initial_indent=indent, subsequent_indent=indent)


def plan_lines(plan: PlanView, rows: Sequence[Any] = (), width: int = 120) -> Iterator[str]:
    """The plan as text: a line per node and per DP rank, then per chip of this node its bar (and the
    problems the results report for that chip)."""
    for node in plan.nodes:
        yield from _wrapped(node_parts(node), width, "  ")
        for rank in node.ranks:
            yield from ("  " + line for line in _wrapped(rank_parts(rank), width - 2, "  "))
            if node.this_node:
                for chip in rank.chips:
                    yield from _chip_lines(plan, chip, rows, width)
    if plan.budget:
        yield budget_line(plan.budget)
        yield from ("  " + line for line in _wrapped(legend_parts(plan.budget), width - 2, ""))
