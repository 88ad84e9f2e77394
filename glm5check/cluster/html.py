"""The cluster report as one self-contained HTML page (`glm5check cluster --format html`), built from the
same blocks as a node's page (glm5check.reports.html): inline CSS, no script, nothing fetched.

Order: the header (nodes, launcher, profile, verdict), the nodes at a glance, the cluster's problems and
results (filterable), then a section per node: its launcher error when it gave no report, else its
problems, its own chips drawn with their HBM bars, and its results (filterable on their own). A node's
results and plan came over the network: they are read as the cluster judged them (judge.normal_result,
reports.plan.read_plan tolerates any shape) and every text is escaped. --redact-hosts masks the data
before it is rendered (`NodePage.masked`), so a pseudonym never lands inside the markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from glm5check.cluster.judge import NodeView
from glm5check.cluster.report import cluster_rows, header, shown, summary_counts, verdict_text
from glm5check.reports.html import (
    CSS,
    badge,
    esc,
    page,
    plan_section,
    problems_section,
    redaction_notice,
    results_section,
)
from glm5check.reports.model import Row
from glm5check.util.shapes import as_dict

CLUSTER_CSS = """
section.node-report{background:#fff;border:1px solid #d5d9e0;border-radius:8px;padding:4px 18px 14px;margin:24px 0}
section.node-report h2{font-size:16px} section.node-report>h2{font-size:19px;border:0}
table.nodes{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d5d9e0}
table.nodes th,table.nodes td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid #eceef2}
"""
NODE_PROBLEMS_LISTED = 8  # in the nodes table
Tree = Callable[[Any], Any]


@dataclass(frozen=True)
class NodePage:
    """What a node's section draws: its results (as the cluster judged them) and its report's facts.plan."""

    rows: tuple[Row, ...]
    plan: Any

    @classmethod
    def of(cls, view: NodeView) -> NodePage:
        return cls(view.results, as_dict(as_dict(view.outcome.report).get("facts")).get("plan"))

    def masked(self, tree: Tree) -> NodePage:
        """The same page with every string of its rows and plan passed through `tree` (--redact-hosts)."""
        rows = tuple(Row.from_json(tree(row.to_json())) for row in self.rows)
        return NodePage(rows, tree(self.plan))


def _header(document: dict[str, Any], strict: bool) -> str:
    ok = "ok" if document["summary"]["ok"] else "bad"
    fields = [
        ("cluster", header(document)),
        ("node 0", _node0(document.get("node0"))),
        ("results", summary_counts(document)),
        ("written", f"{document['created']} by glm5check {document['tool']['version']}"),
    ]
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in fields)
    verdict = verdict_text(document, strict)
    return (
        f"<header><h1>glm5check cluster report</h1><dl>{rows}</dl>"
        f'<div class="verdict {ok}" id="verdict">{esc(verdict)}</div></header>'
    )


def _node0(node0: dict[str, Any] | None) -> str:
    if not node0:
        return "not learnt (phase one gave nothing to pass on)"
    ips = node0.get("device_ips") or []
    return f"{node0.get('host')} · address {node0.get('address')} · {len(ips)} NPU device IP(s)"


def _nodes_table(nodes: Sequence[dict[str, Any]]) -> str:
    rows = []
    for index, node in enumerate(nodes):
        summary = node["summary"]
        results = "no report" if summary is None else f"{summary['pass']}/{summary['total']} pass"
        problems = node["error"] or _listed([_label(p) for p in node["problems"]])
        rows.append(
            f'<tr data-host-index="{index}"><td><a href="#node-{index}">{esc(node["host"])}</a></td>'
            f"<td>{esc(shown(node['rank']))}</td><td>{esc(shown(node['role']))}</td>"
            f"<td>{badge(node['status'])}</td><td>{esc(results)}</td><td>{esc(problems)}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("node", "rank", "role", "status", "results", "problems"))
    table = f'<table class="nodes"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return f'<section id="nodes"><h2>Nodes</h2>{table}</section>'


def _node_section(index: int, node: dict[str, Any], node_page: NodePage) -> tuple[str, str]:
    """A node's section and its filter CSS."""
    title = f"{node['host']} · rank {shown(node['rank'])} · {shown(node['role'])}"
    heading = f"<h2>{badge(node['status'])} {esc(title)}</h2>"
    if node["summary"] is None:
        fix = f'<p class="fix"><b>fix:</b> {esc(node["remediation"])}</p>' if node["remediation"] else ""
        body = f'<div class="problem fail"><p>{esc(node["error"] or "no report")}</p>{fix}</div>'
        return f'<section class="node-report" id="node-{index}">{heading}{body}</section>', ""
    results, css = results_section(node_page.rows, prefix=f"n{index}-", heading="Results")
    parts = (
        problems_section(node_page.rows, section_id=f"node-{index}-problems"),
        plan_section(node_page.plan, node_page.rows, this_node_only=True, section_id=f"node-{index}-plan"),
        results,
    )
    return f'<section class="node-report" id="node-{index}">{heading}{"".join(parts)}</section>', css


def render_cluster_html(
    document: dict[str, Any], pages: Sequence[NodePage], strict: bool = False, hosts_masked: bool = False
) -> str:
    """`pages` are the nodes' pages in the order of document["nodes"]."""
    rows = cluster_rows(document)
    cluster_results, css = results_section(rows, prefix="c-", heading="Cluster results")
    parts = [
        _header(document, strict),
        _nodes_table(document["nodes"]),
        problems_section(rows, section_id="cluster-problems"),
        cluster_results,
    ]
    for index, (node, node_page) in enumerate(zip(document["nodes"], pages)):
        section, node_css = _node_section(index, node, node_page)
        parts.append(section)
        css += node_css
    parts.append(redaction_notice(hosts_masked))
    return page(f"glm5check cluster report · {header(document)}", CSS + CLUSTER_CSS + css, parts)


def _listed(labels: list[str]) -> str:
    """The first problems of a node (its section lists them all)."""
    more = len(labels) - NODE_PROBLEMS_LISTED
    return ", ".join(labels[:NODE_PROBLEMS_LISTED]) + (f" (+{more} more below)" if more > 0 else "")


def _label(problem: dict[str, Any]) -> str:
    return f"{problem['id']}[{problem['item']}]" if problem["item"] else str(problem["id"])
