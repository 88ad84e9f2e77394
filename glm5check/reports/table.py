"""The terminal table: grouped by category, colour only on a terminal and never under NO_COLOR."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Sequence
from itertools import groupby
from typing import Any, TextIO

from glm5check.reports.model import Report, Row

_COLOURS = {"pass": "32", "warn": "33", "fail": "31", "error": "35", "skip": "36"}


def use_colour(stream: TextIO | None) -> bool:
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _paint(text: str, status: str, colour: bool) -> str:
    return f"\033[{_COLOURS[status]}m{text}\033[0m" if colour else text


def header_line(report: Report) -> str:
    """Tool, profile (its hardware), the plan vLLM will run (from the effective plan), node, host."""
    profile, node, tool = report.profile, report.node, report.tool
    rank = node.rank_text
    hardware = profile.get("hardware", {})
    described = f"profile {profile['name']} ({hardware.get('nodes', '?')} × {hardware.get('platform', '?')})"
    if profile.get("pd_group"):  # a prefill-decode node: the deployment's nodes, then its group's
        groups = profile.get("pd") or {}
        whole = sum(g.get("nodes", 0) for g in groups.values() if isinstance(g, dict)) or "?"
        group = f"the {profile['pd_group']} group: {hardware.get('nodes', '?')} nodes"
        described = f"profile {profile['name']} ({whole} × {hardware.get('platform', '?')}; {group})"
    stack = f" · {stack_text(report.stack)}" if report.stack else ""
    plan = f" · plan {plan_text(profile)}"
    return f"{tool['name']} {tool['version']} · {described}{stack}{plan} · {rank} · host {node.hostname}"


def stack_text(stack: dict[str, str]) -> str:
    """`stack v0.18.0 (--stack auto: …)`; why only when it is not simply the profile's."""
    why = f" ({stack.get('picked_by')})" if stack.get("source") != "profile" else ""
    return f"stack {stack.get('name')}{why}"


def plan_text(profile: dict[str, Any]) -> str:
    """`GLM-5-w4a8, DP2 × TP8, EP` from the report's effective plan."""
    serve = profile.get("serve", {})
    model = (profile.get("serve_model") or {}).get("path") or profile.get("model", {}).get("path") or "?"
    name = str(model).rstrip("/").rsplit("/", 1)[-1] or str(model)
    parallel = f"DP{serve.get('data_parallel_size', '?')} × TP{serve.get('tensor_parallel_size', '?')}"
    return f"{name}, {parallel}" + (", EP" if serve.get("enable_expert_parallel") else ", no EP")


def summary_line(report: Report, strict: bool = False) -> str:
    s = report.summary
    counts = " · ".join(f"{s.count(k)} {k}" for k in ("pass", "warn", "fail", "error", "skip"))
    verdict = "exit 0 — ready for vllm serve" if s.ok else "exit 1 — fix the FAIL and ERROR items before vllm serve"
    if s.ok and s.count("warn"):
        verdict = "exit 0 — ready, read the warnings"
    if strict and not s.ok and not (s.count("fail") or s.count("error")):
        verdict = "exit 1 — warnings fail under --strict"
    return f"{s.total} results · {counts} · {s.duration_ms / 1000:.2f} s    {verdict}"


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    # Paths, flags and commands are copied from here: never split a word or at its hyphens.
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def _cell(result: Row, width: int) -> str:
    lines = _wrap(result.message, width) or [""]
    if result.waived:
        lines += _wrap(f"waived: {result.waived}", width)
    if result.status in ("fail", "error", "warn") and result.remediation:
        lines += _wrap(f"fix: {result.remediation}", width, indent="     ")
    return "\n".join(lines)


def render_table(report: Report, stream: TextIO | None, strict: bool = False) -> str:
    return f"{header_line(report)}\n\n{results_table(report.results, stream)}\n\n{summary_line(report, strict)}\n"


def results_table(results: Sequence[Row], stream: TextIO | None) -> str:
    """One row per result, grouped by category: status, id[item], message and fix."""
    from tabulate import tabulate

    colour = use_colour(stream)
    label_width = max((len(r.label) for r in results), default=10)
    message_width = max(40, shutil.get_terminal_size((120, 24)).columns - label_width - 20)
    rows = []
    for category, group in groupby(results, key=lambda r: r.category):
        for index, result in enumerate(group):
            status = result.status
            rows.append(
                [
                    category if index == 0 else "",
                    _paint(status.upper(), status, colour),
                    result.label,
                    _cell(result, message_width),
                ]
            )
    return tabulate(rows, tablefmt="plain", disable_numparse=True) if rows else "(no check selected)"
