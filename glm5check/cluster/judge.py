"""The deployment's verdict from the nodes' outcomes.

Each node's report is read defensively (it came over the network: strings are already printable, but any
field may have any type): its results become report rows (reports.model.Row) whatever types they arrived
with, and its verdict is recomputed from them with the same rule as a single run's exit code. The cluster
results are rows too (ClusterRow: a Row with the per-node values compare found), category `cluster`:

- `cluster.node[HOST]`: the node reported and is ready (PASS/WARN), failed its checks, or gave no report
  (FAIL with the launcher's own error: unreachable, timed out, no glm5check, garbage on standard output);
- `cluster.node0`: what phase one learnt from node 0 and passed on (address, NPU device IPs, RPC port);
- `cluster.reach[HOST]`: each other node reaches node 0 (its net.node0 results);
- `cluster.npu-ping[HOST]`: each other node's NPUs reach node 0's NPU device IPs (npu.network's pings);
- `cluster.compare[TOPIC: ITEM]`: every difference `glm5check compare` finds between the reports (one
  PASS row when they agree).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from glm5check.cluster.collect import Node0Facts, NodeOutcome
from glm5check.commands.compare import NodeReport, compare
from glm5check.engine.check import Status
from glm5check.engine.runner import Summary, summarize_statuses, waived_warnings
from glm5check.reports.model import Row
from glm5check.util.shapes import as_dict, as_int, as_text

STATUSES = tuple(s.value for s in Status)
MAX_TEXT = 2000  # characters of one field of a node's result kept in the cluster report
MAX_PROBLEMS_SHOWN = 3
TITLES = {
    "cluster.node": "The node ran glm5check through the launcher and is ready",
    "cluster.node0": "Node 0's address and NPU device IPs reached the other nodes",
    "cluster.reach": "The node reaches node 0 (net.node0)",
    "cluster.npu-ping": "The node's NPUs reach node 0's NPU device IPs (hccn_tool ping)",
    "cluster.compare": "The nodes agree (glm5check compare)",
}


@dataclass(frozen=True)
class ClusterRow(Row):
    """A cluster result: a report row, plus each node's value where compare found them different."""

    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeView:
    """One node as the cluster report shows it."""

    outcome: NodeOutcome
    results: tuple[Row, ...] = ()
    summary: Summary | None = None

    @property
    def host(self) -> str:
        return self.outcome.node.host

    @property
    def status(self) -> str:
        if self.summary is None or not self.summary.total or not self.summary.ok:
            return "fail"
        return "warn" if self.summary.counts["warn"] else "pass"

    @property
    def problems(self) -> list[Row]:
        """FAIL and ERROR results first, then the warnings."""
        return [r for r in self.results if r.status in ("fail", "error")] + [
            r for r in self.results if r.status == "warn"
        ]

    @property
    def hostname(self) -> str | None:
        """The host name the node reports for itself."""
        return as_text(as_dict(as_dict(self.outcome.report).get("node")).get("hostname"))

    @property
    def rank(self) -> int | None:
        reported = as_dict(self.outcome.report).get("node")
        rank = as_dict(reported).get("rank")
        given = self.outcome.node.rank
        return given if given is not None else as_int(rank)

    @property
    def role(self) -> str | None:
        role = as_dict(as_dict(self.outcome.report).get("node")).get("role")
        return role if role in ("single", "primary", "headless") else self.outcome.node.role


def view(outcome: NodeOutcome, strict: bool) -> NodeView:
    if outcome.report is None:
        return NodeView(outcome)
    raw = outcome.report.get("results")
    results = tuple(normal_result(r) for r in raw) if isinstance(raw, list) else ()
    return NodeView(outcome, results, summarize_statuses([r.status for r in results], strict, waived_warnings(results)))


def normal_result(raw: Any) -> Row:
    """A node's result as a report row, whatever types it arrived with (a status it cannot have is error)."""
    data = as_dict(raw)
    status = data.get("status")
    duration = as_int(data.get("duration_ms"))
    return Row(
        id=_text(data.get("id")) or "?",
        item=_text(data.get("item")),
        category=_text(data.get("category")) or "?",
        title=_text(data.get("title")) or "",
        status=status if status in STATUSES else "error",
        message=_text(data.get("message")) or "",
        expected=_text(data.get("expected")),
        observed=_text(data.get("observed")),
        remediation=_text(data.get("remediation")),
        duration_ms=duration if duration is not None and 0 <= duration < 10**9 else 0,
        waived=_text(data.get("waived")),
    )


def cluster_results(
    views: list[NodeView], node0: Node0Facts | None, node0_host: str, why_no_phase: str
) -> list[ClusterRow]:
    results = [_node_result(v) for v in views]
    results.append(_node0_result(node0, why_no_phase))
    for node in (v for v in views if v.host != node0_host and v.summary is not None):
        results.append(_reach_result(node))
        results.append(_ping_result(node))
    results.extend(_compare_results(views))
    return results


def result(
    check_id: str,
    item: str | None,
    status: str,
    message: str,
    remediation: str | None = None,
    observed: str | None = None,
    duration_ms: int = 0,
    values: dict[str, str] | None = None,
) -> ClusterRow:
    return ClusterRow(
        id=check_id,
        item=item,
        category="cluster",
        title=TITLES[check_id],
        status=status,
        message=message,
        observed=observed,
        remediation=remediation,
        duration_ms=duration_ms,
        values=dict(values or {}),
    )


def _node_result(node: NodeView) -> ClusterRow:
    outcome = node.outcome
    if node.summary is None:
        return result(
            "cluster.node", node.host, "fail", outcome.error or "no report", outcome.remedy, observed="no report"
        )
    text = summary_text(node.summary.counts, node.summary.total)
    if not node.summary.total:
        return result("cluster.node", node.host, "fail", "its report holds no results", observed=text)
    problems = [r.label for r in node.problems if r.status != "warn"] or [r.label for r in node.problems]
    more = len(problems) - MAX_PROBLEMS_SHOWN
    shown = ", ".join(problems[:MAX_PROBLEMS_SHOWN]) + (f" (+{more} more)" if more > 0 else "")
    message = f"{text}; {'ready' if node.summary.ok else 'not ready'}" + (f": {shown}" if shown else "")
    remedy = None if node.summary.ok else f"fix the FAIL and ERROR items on {node.host} (its own report lists them)"
    return result("cluster.node", node.host, node.status, message, remedy, duration_ms=outcome.duration_ms)


def _node0_result(facts: Node0Facts | None, why_no_phase: str) -> ClusterRow:
    if facts is None:
        return result("cluster.node0", None, "skip", why_no_phase)
    if not facts.reported:
        return result(
            "cluster.node0",
            facts.host,
            "fail",
            f"node 0 ({facts.host}) did not report, so the other nodes were checked without its address and NPU "
            "device IPs",
            f"fix {facts.host} first (see cluster.node[{facts.host}]), or give --node0-ip and --peer-npu-ips",
        )
    unknown = []
    if facts.address is None:
        unknown.append("its address (no --data-parallel-address in its launch command, no HCCL_IF_IP)")
    if not facts.device_ips:
        unknown.append("its NPU device IPs (hccn_tool gave none)")
    found = (
        f"node 0 {facts.host}: address {facts.address or 'unknown'}"
        + (f" ({facts.address_source})" if facts.address_source else "")
        + f", {len(facts.device_ips)} NPU device IP(s), RPC port {facts.rpc_port or 'unknown'}"
    )
    if unknown:
        return result(
            "cluster.node0",
            facts.host,
            "warn",
            f"{found}; unknown: {'; '.join(unknown)}: the other nodes' checks that need it did not run",
            "give node 0 a launch script (--serve-script) with --data-parallel-address and HCCL_IF_IP, or pass "
            "--node0-ip / --peer-npu-ips",
        )
    return result(
        "cluster.node0", facts.host, "pass", f"{found}; given to the other nodes as --node0-ip and --peer-npu-ips"
    )


def _reach_result(node: NodeView) -> ClusterRow:
    rows = [r for r in node.results if r.id == "net.node0"]
    judged = [r for r in rows if r.status != "skip"]
    if not judged:
        why = rows[0].message if rows else "net.node0 did not run there (single-node profile, or --check/--skip)"
        return result("cluster.reach", node.host, "skip", why)
    return _rollup("cluster.reach", node.host, judged, f"{node.host} reaches node 0")


def _ping_result(node: NodeView) -> ClusterRow:
    rows = [r for r in node.results if r.id == "npu.network" and (r.item or "").startswith("ping ")]
    if not rows:
        skipped = [r for r in node.results if r.id == "npu.network" and r.item == "ping"]
        why = skipped[0].message if skipped else "npu.network did not run there"
        return result("cluster.npu-ping", node.host, "skip", why)
    return _rollup("cluster.npu-ping", node.host, rows, f"{node.host}'s NPUs reach node 0's NPU device IPs")


def _rollup(check_id: str, host: str, rows: list[Row], good: str) -> ClusterRow:
    bad = [r for r in rows if r.status in ("fail", "error")]
    passed = len(rows) - len(bad)
    counted = f"{passed} of {len(rows)} pass"
    if not bad:
        return result(check_id, host, "pass", f"{good}: {counted} ({', '.join(r.label for r in rows)})")
    first = "; ".join(f"{r.label}: {r.message}" for r in bad[:MAX_PROBLEMS_SHOWN])
    return result(check_id, host, "fail", f"{counted}: {first}", bad[0].remediation, observed=counted)


def _compare_results(views: list[NodeView]) -> Iterator[ClusterRow]:
    reported = [NodeReport(v.host, v.host, v.outcome.report) for v in views if v.outcome.report is not None]
    if len(reported) < 2:
        yield result("cluster.compare", None, "skip", f"{len(reported)} node(s) reported: nothing to compare")
        return
    differences = compare(reported)
    if not differences:
        names = ", ".join(n.label for n in reported)
        yield result("cluster.compare", None, "pass", f"{len(reported)} nodes agree ({names})")
    for difference in differences:
        shown = " · ".join(f"{label}: {value}" for label, value in difference.values.items())
        yield result(
            "cluster.compare",
            f"{difference.topic}: {difference.item}",
            "fail",
            difference.message,
            observed=shown,
            values=dict(difference.values),
        )


def summary_text(counts: Mapping[str, int], total: int) -> str:
    return f"{total} results · " + " · ".join(f"{counts[s]} {s}" for s in ("pass", "warn", "fail", "error"))


def _text(value: Any) -> str | None:
    text = as_text(value)
    return None if text is None else text[:MAX_TEXT]
