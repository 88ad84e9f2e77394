"""The terminal table: grouped by category, problems first, colour only on a terminal and never under NO_COLOR.

Every result keeps its row. By default a PASS or SKIP row takes one line (its message cut to the width),
and FAIL, ERROR and WARN rows come first within their category with their whole message and fix.
`--problems` keeps only the rows that are not PASS; `--verbose` prints every row in full, with its expected
and observed values. The width follows the terminal (COLUMNS); when a label column would leave the message
fewer than MESSAGE_MIN columns, the label gets a line of its own and the message the width under it, so
that 80 columns stay readable.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from typing import Any, NamedTuple, TextIO

from glm5check.reports.model import Report, Row
from glm5check.reports.plan import plan_lines, read_plan
from glm5check.util.terminal import columns

MODES = ("default", "problems", "verbose")
DEFAULT_WIDTH = 120
MIN_WIDTH = 60
MESSAGE_MIN = 64  # the message column is never narrower: below that, labels get a line of their own
LABEL_MIN = 24
STATUS_WIDTH = 5
GAP = "  "
FIX_INDENT = "     "  # under "fix: "
SEE = " — see "  # how a SKIP names the check that reports its cause (glm5check.errors.SeeCheck)
_COLOURS = {"pass": "32", "warn": "33", "fail": "31", "error": "35", "skip": "36"}
# Within a category: the problems first, the worst first; the other rows keep their order.
_RANK = {"error": 0, "fail": 1, "warn": 2}


def use_colour(stream: TextIO | None) -> bool:
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_width() -> int:
    """The terminal's columns (COLUMNS wins), DEFAULT_WIDTH when not on a terminal, never below MIN_WIDTH."""
    return max(MIN_WIDTH, columns(DEFAULT_WIDTH))


def _paint(text: str, status: str, colour: bool) -> str:
    return f"\033[{_COLOURS[status]}m{text}\033[0m" if colour else text


def _joined(parts: Iterable[str], width: int, sep: str = " · ") -> list[str]:
    """The parts on as few lines as fit the width, split only between parts."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(sep) + len(part) <= width:
            lines[-1] += sep + part
        else:
            lines.append(part)
    return lines


def header_parts(report: Report) -> list[str]:
    """Tool, profile (its hardware), the plan vLLM will run (from the effective plan), node, host."""
    profile, node, tool = report.profile, report.node, report.tool
    hardware = profile.get("hardware", {})
    described = f"profile {profile['name']} ({hardware.get('nodes', '?')} × {hardware.get('platform', '?')})"
    if profile.get("pd_group"):  # a prefill-decode node: the deployment's nodes, then its group's
        groups = profile.get("pd") or {}
        whole = sum(g.get("nodes", 0) for g in groups.values() if isinstance(g, dict)) or "?"
        group = f"the {profile['pd_group']} group: {hardware.get('nodes', '?')} nodes"
        described = f"profile {profile['name']} ({whole} × {hardware.get('platform', '?')}; {group})"
    return [
        f"{tool['name']} {tool['version']}",
        described,
        *([stack_text(report.stack)] if report.stack else []),
        f"plan {plan_text(profile)}",
        node.rank_text,
        f"host {node.hostname}",
    ]


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


def verdict(report: Report, strict: bool = False) -> str:
    s = report.summary
    if strict and not s.ok and not (s.count("fail") or s.count("error")):
        return "exit 1 — warnings fail under --strict"
    if not s.ok:
        return "exit 1 — fix FAIL and ERROR before vllm serve"
    return "exit 0 — ready, read the warnings" if s.count("warn") else "exit 0 — ready for vllm serve"


def counts_line(report: Report) -> str:
    s = report.summary
    counts = " · ".join(f"{s.count(k)} {k}" for k in ("pass", "warn", "fail", "error", "skip"))
    return f"{s.total} results · {counts} · {s.duration_ms / 1000:.2f} s"


def summary_line(report: Report, strict: bool = False) -> str:
    return f"{counts_line(report)}    {verdict(report, strict)}"


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    # Paths, flags and commands are copied from here: never split a word or at its hyphens.
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(
            paragraph, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
        ) or [""]
    return lines


def _cut(text: str, width: int) -> str:
    """One line of at most width characters, cut with an ellipsis; a closing `— see <check>` is kept."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    head, see, owner = line.rpartition(SEE)
    tail = see + owner if see and len(see + owner) < width // 2 else ""
    head = head if tail else line
    return head[: max(width - len(tail) - 1, 0)].rstrip() + "…" + tail


def ordered(rows: Iterable[Row]) -> list[Row]:
    """Problems first (ERROR, FAIL, WARN), then the other rows in their order; stable within each."""
    return sorted(rows, key=lambda r: _RANK.get(r.status, len(_RANK)))


def is_problem(row: Row) -> bool:
    return row.status in _RANK


class Layout(NamedTuple):
    """Column widths: category, status, label (0: the label has a line of its own), and the message."""

    width: int
    category: int
    label: int

    @property
    def indent(self) -> int:
        return self.category + len(GAP) + STATUS_WIDTH + 1

    @property
    def message_column(self) -> int:
        return self.indent + (self.label + len(GAP) if self.label else 0)

    @property
    def message_width(self) -> int:
        return self.width - self.message_column


def layout_for(rows: list[Row], width: int) -> Layout:
    category = min(max((len(r.category) for r in rows), default=8), 12)
    longest = max((len(r.label) for r in rows), default=10)
    room = width - Layout(width, category, 0).indent - len(GAP) - MESSAGE_MIN
    return Layout(width, category, min(longest, room) if room >= LABEL_MIN else 0)


def _full_lines(row: Row, width: int, verbose: bool, previous_fix: str | None) -> list[str]:
    """The message of a row in full, with its fix ('as above' when the previous problem had the same)."""
    lines = _wrap(row.message, width)
    if verbose:
        for key in ("expected", "observed"):
            value = getattr(row, key)
            if value:
                lines += _wrap(f"{key}: {value}", width, indent=" " * (len(key) + 2))
    if row.waived:
        lines += _wrap(f"waived: {row.waived}", width)
    if row.remediation and (verbose or is_problem(row)):
        fix = "as above" if row.remediation == previous_fix and not verbose else row.remediation
        lines += _wrap(f"fix: {fix}", width, indent=FIX_INDENT)
    return lines


def _row_lines(row: Row, lay: Layout, full: list[str] | None, status_cell: str, category_cell: str) -> Iterator[str]:
    lead = f"{category_cell:<{lay.category}}{GAP}{status_cell} "
    pad = " " * lay.message_column
    if full is None:  # one line: label and message cut to the width
        room = lay.width - lay.indent - max(len(row.label), lay.label) - len(GAP)
        label = row.label.ljust(lay.label)
        yield (lead + label + GAP + _cut(row.message, room)).rstrip() if room > 8 else lead + row.label
        return
    if lay.label and len(row.label) <= lay.label:
        yield (lead + row.label.ljust(lay.label) + GAP + full[0]).rstrip()
        full = full[1:]
    else:
        yield lead + row.label
    for line in full:
        yield (pad + line).rstrip()


def _category_lines(rows: list[Row], lay: Layout, mode: str, colour: bool) -> Iterator[str]:
    previous_fix: str | None = None
    for index, row in enumerate(ordered(rows)):
        in_full = mode == "verbose" or is_problem(row)
        full = _full_lines(row, lay.message_width, mode == "verbose", previous_fix) if in_full else None
        if is_problem(row):
            previous_fix = row.remediation
        word = row.status.upper()
        status = _paint(word, row.status, colour) + " " * (STATUS_WIDTH - len(word))
        yield from _row_lines(row, lay, full, status, row.category if index == 0 else "")


def _body(results: Sequence[Row], lay: Layout, mode: str, colour: bool) -> list[str]:
    lines: list[str] = []
    for _, group in groupby(results, key=lambda r: r.category):
        rows = list(group)
        if mode == "problems":
            rows = [r for r in rows if r.status != "pass"]
        lines += _category_lines(rows, lay, mode, colour) if rows else []
    return lines


def results_table(
    results: Sequence[Row], stream: TextIO | None, mode: str = "default", width: int | None = None
) -> str:
    """The rows of results grouped by category (the table without its header and summary)."""
    if mode not in MODES:
        raise ValueError(f"table mode {mode!r} is not one of {', '.join(MODES)}")
    if not results:
        return "(no check selected)"
    lay = layout_for(list(results), max(MIN_WIDTH, width or terminal_width()))
    body = _body(results, lay, mode, use_colour(stream))
    return "\n".join(body) if body else f"no problems: all {len(results)} results pass"


def render_table(
    report: Report, stream: TextIO | None, strict: bool = False, mode: str = "default", width: int | None = None
) -> str:
    width = max(MIN_WIDTH, width or terminal_width())
    body = results_table(report.results, stream, mode, width)
    head = _joined(header_parts(report), width)
    tail = _joined((counts_line(report), verdict(report, strict)), width, sep="    ")
    lay = layout_for(list(report.results), width)
    plan = _plan_section(report, lay) if mode != "problems" else []
    return "\n".join([*head, "", body, *plan, "", *tail]) + "\n"


def _plan_section(report: Report, lay: Layout) -> list[str]:
    """The plan drawn under the results, in the category column's place."""
    plan = read_plan(report.facts.get("plan"))
    if plan is None or not plan.nodes:
        return []
    pad = " " * (lay.category + len(GAP))
    lines = list(plan_lines(plan, report.results, lay.width - len(pad)))
    return ["", *(("plan".ljust(len(pad)) if i == 0 else pad) + line for i, line in enumerate(lines))]
