"""The HTML report (`--format html --output report.html`): one self-contained page to attach to a support
ticket. No network and no external asset: inline CSS and SVG, and no script — the results table is
filtered by status and category with CSS alone (checkbox and radio inputs before the table).

Order: the header (profile, stack, node, verdict), the problems with their fixes, the plan drawn with one
HBM bar per planned chip of this node, every result, the facts, and the redaction notice. Everything the
page shows from the report goes through html.escape (attributes too), and class names and element ids
are made here from indexes, never from report text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from glm5check.reports.fix_plan import command_line, printable
from glm5check.reports.model import Report, Row
from glm5check.reports.plan import (
    PARTS,
    Budget,
    ChipView,
    NodeView,
    PlanView,
    budget_line,
    chip_name,
    chip_problems,
    chip_state,
    gib,
    node_parts,
    rank_parts,
    read_plan,
    widths,
)
from glm5check.reports.table import counts_line, ordered, plan_text, verdict

BAR_PX = 480
BAR_HEIGHT = 18
STATUS_ORDER = ("fail", "error", "warn", "pass", "skip")
REDACTION_NOTICE = (
    "Secrets are not in this report: values of variables whose names look secret (TOKEN, KEY, SECRET, "
    "PASSWORD, PASSWD, CREDENTIAL, AUTH, COOKIE, …) and credentials inside URLs are replaced by <redacted> "
    "wherever they appear. With --redact-hosts, hostnames and IPv4 addresses are masked too ({hosts})."
)
PART_COLOURS = {"weights": "#3b6fb6", "reserve": "#e0a030", "held": "#c0392b", "kv": "#47a36a", "free": "#d9dde3"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
header{background:#fff;border:1px solid #d5d9e0;border-radius:8px;padding:16px 20px}
header dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:10px 0 0}
header dt{color:#5a6373} header dd{margin:0}
.verdict{display:inline-block;margin-top:10px;padding:6px 12px;border-radius:6px;font-weight:600;color:#fff}
.verdict.ok{background:#2e7d4f} .verdict.bad{background:#b3261e}
.badge{display:inline-block;min-width:44px;text-align:center;border-radius:4px;padding:1px 6px;font-size:12px;
font-weight:700;color:#fff}
.b-pass{background:#2e7d4f} .b-warn{background:#b7791f} .b-fail{background:#b3261e} .b-error{background:#7b1fa2}
.b-skip{background:#2b7a99}
.problem{background:#fff;border:1px solid #d5d9e0;border-left:5px solid #b3261e;border-radius:6px;padding:10px 14px;
margin:0 0 10px} .problem.warn{border-left-color:#b7791f} .problem.error{border-left-color:#7b1fa2}
.problem h3{font-size:15px;margin:0 0 4px} .problem p{margin:3px 0} .problem .eo{color:#5a6373;font-size:13px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f0f2f5;border-radius:4px;padding:6px 8px;white-space:pre-wrap;word-break:break-word;margin:4px 0}
.fix{color:#1d4f91}
table.results{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d5d9e0}
table.results th,table.results td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid #eceef2}
table.results td.label{white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
.filters{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 10px} .filters span{color:#5a6373;margin:2px 4px 0 10px}
.filters label{cursor:pointer;border:1px solid #c3c8d1;border-radius:14px;padding:2px 10px;background:#fff;
user-select:none;opacity:.45} input.f{position:absolute;opacity:0;pointer-events:none}
.plan{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:12px 16px}
.plan .node{font-weight:600;margin-top:8px} .plan .rank{margin-left:18px;color:#333}
.chip{display:grid;grid-template-columns:220px auto 1fr;align-items:center;gap:10px;margin:3px 0 3px 36px}
.chip .state{color:#5a6373;font-size:12.5px} .chip .state b{color:#b3261e}
.legend span{display:inline-block;margin-right:16px} .legend i{display:inline-block;width:12px;height:12px;
margin-right:5px;vertical-align:-1px;border-radius:2px}
details{background:#fff;border:1px solid #d5d9e0;border-radius:6px;margin:0 0 6px;padding:4px 10px}
summary{cursor:pointer;font-weight:600}
.notice{color:#5a6373;font-size:13px;margin-top:28px}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def badge(status: str) -> str:
    return f'<span class="badge b-{esc(status)}">{esc(status.upper())}</span>'


def _stack(profile: dict[str, Any]) -> str:
    """The software stack the profile pins (a named stack when the report has one)."""
    if isinstance(profile.get("stack"), (str, dict)):
        stack = profile["stack"]
        return str(stack.get("name", stack)) if isinstance(stack, dict) else stack
    recorded = profile.get("pins")
    pins: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    parts = [
        f"vllm {str(pins.get('vllm_commit', '?'))[:8]}",
        f"vllm-ascend {str(pins.get('vllm_ascend_commit', '?'))[:8]}",
        f"CANN ≥ {pins.get('cann_min', '?')}",
    ]
    return " · ".join(parts)


def _header(report: Report, strict: bool) -> str:
    profile, node = report.profile, report.node
    fields = [
        ("profile", f"{profile.get('name')} ({profile.get('description')})"),
        ("plan", f"{plan_text(profile)} (the effective plan: the launch command, vLLM's defaults for the rest)"),
        ("stack", _stack(profile)),
        ("node", f"{node.rank_text.removeprefix('node ')} · host {node.hostname}"),
        ("results", counts_line(report)),
        ("written", f"{report.created} by {report.tool.get('name')} {report.tool.get('version')}"),
    ]
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in fields)
    ok = "ok" if report.summary.ok else "bad"
    return (
        f"<header><h1>glm5check report · {esc(node.hostname)}</h1><dl>{rows}</dl>"
        f'<div class="verdict {ok}" id="verdict">{esc(verdict(report, strict))}</div></header>'
    )


def _fix_html(row: Row) -> str:
    parts = []
    if row.remediation:
        parts.append(f'<p class="fix"><b>fix:</b> {esc(row.remediation)}</p>')
    commands = [step.commands for step in row.fix if step.commands and printable(step.commands)]
    if commands:
        parts.append("<pre>" + esc("\n".join(command_line(c) for c in commands)) + "</pre>")
    return "".join(parts)


def _problem(row: Row) -> str:
    shown = [
        f"<b>{esc(key)}:</b> {esc(getattr(row, key))}"
        for key in ("expected", "observed", "waived")
        if getattr(row, key)
    ]
    details = f'<p class="eo">{" · ".join(shown)}</p>' if shown else ""
    return (
        f'<div class="problem {esc(row.status)}" data-id="{esc(row.id)}"><h3>{badge(row.status)} '
        f"<code>{esc(row.label)}</code> — {esc(row.title)}</h3><p>{esc(row.message)}</p>{details}{_fix_html(row)}</div>"
    )


def problems_section(rows: Sequence[Row], section_id: str = "problems") -> str:
    """The FAIL, ERROR and WARN rows as cards with their fixes, in the table's order."""
    problems = [r for r in ordered(rows) if r.status in ("fail", "error", "warn")]
    if not problems:
        return f'<section id="{section_id}"><h2>Problems</h2><p>None: every check passed or was skipped.</p></section>'
    cards = "".join(_problem(r) for r in problems)
    return f'<section id="{section_id}"><h2>Problems ({len(problems)})</h2>{cards}</section>'


def _filter_css(categories: Sequence[str], prefix: str) -> str:
    """The CSS that filters the results: a hidden row for an unchecked status or another category."""
    rules = [
        f"#{prefix}f-st-{s}:not(:checked)~table tr.st-{s}{{display:none}}"
        f"#{prefix}f-st-{s}:checked~.filters label[for={prefix}f-st-{s}]{{opacity:1}}"
        for s in STATUS_ORDER
    ]
    for index in range(len(categories)):
        rules.append(
            f"#{prefix}f-cat-{index}:checked~table tbody tr:not(.cat-{index}){{display:none}}"
            f"#{prefix}f-cat-{index}:checked~.filters label[for={prefix}f-cat-{index}]{{opacity:1}}"
        )
    rules.append(f"#{prefix}f-cat-all:checked~.filters label[for={prefix}f-cat-all]{{opacity:1}}")
    return "".join(rules)


def _result_row(row: Row, row_id: str, category_index: int) -> str:
    fix = f'<div class="fix">fix: {esc(row.remediation)}</div>' if row.remediation and row.status != "pass" else ""
    return (
        f'<tr id="{row_id}" class="st-{esc(row.status)} cat-{category_index}" data-id="{esc(row.id)}" '
        f'data-item="{esc(row.item or "")}" data-status="{esc(row.status)}"><td>{badge(row.status)}</td>'
        f'<td class="label">{esc(row.label)}</td><td>{esc(row.message)}{fix}</td></tr>'
    )


def _filters(rows: Sequence[Row], categories: Sequence[str], prefix: str) -> str:
    """The hidden inputs the filter CSS keys on, and their labels (ids made here, never from report text)."""
    counts = {s: sum(r.status == s for r in rows) for s in STATUS_ORDER}
    group = f"{prefix}category"
    inputs = "".join(f'<input type="checkbox" class="f" id="{prefix}f-st-{s}" checked>' for s in STATUS_ORDER)
    inputs += f'<input type="radio" class="f" name="{group}" id="{prefix}f-cat-all" checked>'
    inputs += "".join(
        f'<input type="radio" class="f" name="{group}" id="{prefix}f-cat-{i}">' for i in range(len(categories))
    )
    labels = "<span>status</span>" + "".join(
        f'<label for="{prefix}f-st-{s}">{esc(s.upper())} ({counts[s]})</label>' for s in STATUS_ORDER
    )
    labels += f'<span>category</span><label for="{prefix}f-cat-all">all</label>'
    labels += "".join(f'<label for="{prefix}f-cat-{i}">{esc(c)}</label>' for i, c in enumerate(categories))
    return f'{inputs}<div class="filters">{labels}</div>'


def results_section(rows: Sequence[Row], prefix: str = "", heading: str = "All results") -> tuple[str, str]:
    """The results table, filterable by status and category, and its filter CSS; `prefix` keeps the ids of
    several tables on one page apart (it is made by the caller, never from report text)."""
    categories = list(dict.fromkeys(r.category for r in rows))
    body = "".join(_result_row(r, f"{prefix}result-{i}", categories.index(r.category)) for i, r in enumerate(rows))
    table = (
        '<table class="results"><thead><tr><th>status</th><th>check</th><th>message</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )
    section = (
        f'<section id="{prefix}results"><h2>{esc(heading)} ({len(rows)})</h2>'
        f"{_filters(rows, categories, prefix)}{table}</section>"
    )
    return section, _filter_css(categories, prefix)


def bar_svg(budget: Budget, width: int = BAR_PX) -> str:
    """One rank's budget as an SVG bar: a rect per part, pixel widths adding up to the bar's width."""
    cells = widths(budget.parts, budget.budget, width)
    names = {key: name for key, name, _ in PARTS}
    rects, x = [], 0
    for (key, size), cell in zip(budget.parts, cells):
        rects.append(
            f'<rect class="part part-{key}" x="{x}" y="0" width="{cell}" height="{BAR_HEIGHT}" '
            f'fill="{PART_COLOURS[key]}" data-part="{key}" data-bytes="{size}"><title>{esc(names[key])} '
            f"{esc(gib(size))}</title></rect>"
        )
        x += cell
    return (
        f'<svg class="bar" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{BAR_HEIGHT}" '
        f'viewBox="0 0 {width} {BAR_HEIGHT}" data-budget="{budget.budget}" role="img" '
        f'aria-label="HBM budget {esc(gib(budget.budget))}">{"".join(rects)}</svg>'
    )


def _chip(plan: PlanView, chip: ChipView, rows: Sequence[Row]) -> str:
    budget = chip.budget or plan.budget
    bar = bar_svg(budget) if budget else ""
    found = ", ".join(chip_problems(rows, chip))
    state = esc(chip_state(chip, ())) + (f" · <b>{esc(found)}</b>" if found else "")
    return (
        f'<div class="chip" data-logical="{chip.logical}"><span>{esc(chip_name(chip))}</span>{bar}'
        f'<span class="state">{state}</span></div>'
    )


def _node(plan: PlanView, node: NodeView, rows: Sequence[Row]) -> Iterator[str]:
    yield f'<div class="node">{esc(" · ".join(node_parts(node)))}</div>'
    for rank in node.ranks:
        yield f'<div class="rank">{esc(" · ".join(rank_parts(rank)))}</div>'
        if node.this_node:
            yield from (_chip(plan, chip, rows) for chip in rank.chips)


def _legend(budget: Budget) -> str:
    names = {key: name for key, name, _ in PARTS}
    items = "".join(
        f'<span><i style="background:{PART_COLOURS[key]}"></i>{esc(names[key])} {esc(gib(size))}</span>'
        for key, size in budget.parts
        if key != "held"
    )
    items += f'<span><i style="background:{PART_COLOURS["held"]}"></i>held by others (per chip)</span>'
    return f'<p>{esc(budget_line(budget))}</p><p class="legend">{items}</p>'


def plan_section(data: Any, rows: Sequence[Row], this_node_only: bool = False, section_id: str = "plan") -> str:
    """The plan drawn from a report's facts.plan (any shape: read_plan tolerates it); with `this_node_only`,
    only the node whose report it is (the cluster page has a section per node)."""
    plan = read_plan(data)
    nodes = [n for n in plan.nodes if n.this_node or not this_node_only] if plan else []
    if plan is None or not nodes:
        return f'<section id="{section_id}"><h2>Plan</h2><p>No plan in this report.</p></section>'
    lines = "".join(line for node in nodes for line in _node(plan, node, rows))
    legend = _legend(plan.budget) if plan.budget else ""
    return f'<section id="{section_id}"><h2>Plan</h2><div class="plan">{lines}{legend}</div></section>'


def _facts(report: Report) -> str:
    items = (
        f"<details><summary>{esc(key)}</summary><pre>{esc(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"
        "</details>"
        for key, value in sorted(report.facts.items())
        if key != "plan"
    )
    return f'<section id="facts"><h2>Facts</h2>{"".join(items)}</section>'


def page(title: str, css: str, parts: Iterable[str]) -> str:
    """A whole self-contained page: inline CSS, no script, a policy that forbids any fetch."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>{esc(title)}</title><style>{css}</style></head><body><main>{''.join(parts)}</main></body></html>\n"
    )


def redaction_notice(hosts_masked: bool) -> str:
    notice = REDACTION_NOTICE.format(hosts="they are masked here" if hosts_masked else "not used for this report")
    return f'<p class="notice" id="redaction">{esc(notice)}</p>'


def render_html(report: Report, strict: bool = False, hosts_masked: bool = False) -> str:
    results, filter_css = results_section(report.results)
    parts = [
        _header(report, strict),
        problems_section(report.results),
        plan_section(report.facts.get("plan"), report.results),
        results,
        _facts(report),
        redaction_notice(hosts_masked),
    ]
    return page(f"glm5check report · {report.node.hostname}", CSS + filter_css, parts)
