"""The cluster report: a JSON document (schema `glm5check.cluster/v1`, glm5check/schema/cluster-v1.json),
JUnit XML and the terminal table, and the `--output DIR` folder (every file written atomically).

    DIR/<host>.json               each node's report, as it arrived (nodes that gave none have no file)
    DIR/<host>.snapshot.tar.gz    each node's snapshot (with --snapshot)
    DIR/cluster.json              the cluster report (always), plus cluster.xml (--format junit) or
    DIR/cluster.html              (--format html)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from glm5check import __version__
from glm5check.cluster.collect import Node0Facts
from glm5check.cluster.judge import ClusterRow, NodeView
from glm5check.engine.runner import summarize_statuses, waived_warnings
from glm5check.errors import ConfigError
from glm5check.host.output import output_folder, write_atomic
from glm5check.util.redact import redact_text, redact_tree
from glm5check.util.terminal import columns

CLUSTER_SCHEMA = "glm5check.cluster/v1"
REPORT_SUFFIX = ".json"
SNAPSHOT_SUFFIX = ".snapshot.tar.gz"
KEPT_FORMATS = {"junit": "cluster.xml", "html": "cluster.html"}  # kept in --output DIR beside cluster.json


def file_stems(views: list[NodeView], masked: bool = False) -> dict[str, str]:
    """A file name stem per host: the host with `:` and `%` (IPv6) replaced, unique; `node<N>` (its place in
    the list) when host names are masked."""
    stems: dict[str, str] = {}
    for index, view in enumerate(views):
        stem = f"node{index}" if masked else re.sub(r"[^A-Za-z0-9_.-]", "_", view.host)
        while stem in stems.values() or stem.startswith(".") or stem == "cluster":
            stem = "_" + stem
        stems[view.host] = stem
    return stems


def build_document(
    views: list[NodeView],
    results: list[ClusterRow],
    node0: Node0Facts | None,
    run: dict[str, Any],
    strict: bool,
    stems: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`run` holds via, profile and duration_ms; `stems` the file names when --output keeps the nodes' files."""
    verdict = summarize_statuses([r.status for r in results], strict, waived_warnings(results))
    document = {
        "schema": CLUSTER_SCHEMA,
        "tool": {"name": "glm5check", "version": __version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "via": run["via"],
        "profile": run.get("profile"),
        "node0": None if node0 is None else {**asdict(node0), "device_ips": list(node0.device_ips)},
        "nodes": [_node_json(v, stems) for v in views],
        "results": [r.to_json() for r in results],
        "summary": {
            "nodes": len(views),
            "ready": sum(v.status != "fail" for v in views),
            **verdict.counts,
            "total": verdict.total,
            "ok": verdict.ok,
            "duration_ms": run["duration_ms"],
        },
    }
    return redact_tree(document)


def _node_json(view: NodeView, stems: dict[str, str] | None) -> dict[str, Any]:
    outcome, summary = view.outcome, view.summary
    kept = stems is not None and outcome.report is not None
    return {
        "host": view.host,
        "rank": view.rank,
        "role": view.role,
        "phase": outcome.phase,
        "status": view.status,
        "exit_code": outcome.exit_code,
        "duration_ms": outcome.duration_ms,
        "command": [redact_text(word) for word in outcome.argv],
        "summary": None if summary is None else {**summary.counts, "total": summary.total, "ok": summary.ok},
        "problems": [
            {"id": r.id, "item": r.item, "status": r.status, "message": r.message, "remediation": r.remediation}
            for r in view.problems
        ],
        "error": outcome.error,
        "remediation": outcome.remedy,
        "report": stems[view.host] + REPORT_SUFFIX if kept and stems else None,
        "snapshot": stems[view.host] + SNAPSHOT_SUFFIX if kept and stems and outcome.snapshot else None,
    }


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def cluster_rows(document: dict[str, Any]) -> list[ClusterRow]:
    """The cluster results of a document this module built, as rows for the renderers."""
    return [ClusterRow(**result) for result in document["results"]]


def render_junit(document: dict[str, Any], views: list[NodeView]) -> str:
    from glm5check.reports.junit import add_suites, finish, testsuites

    rows = cluster_rows(document)
    every = [*rows, *(r for v in views for r in v.results)]
    root = testsuites("glm5check cluster", every, document["summary"]["duration_ms"])
    add_suites(root, rows, "glm5check", "cluster")
    for view in views:
        add_suites(root, list(view.results), f"glm5check.{view.host}", view.host)
    return finish(root)


def render_table(document: dict[str, Any], stream: TextIO | None, strict: bool) -> str:
    from tabulate import tabulate

    from glm5check.reports.table import results_table

    rows = [_node_row(node) for node in document["nodes"]]
    headers = ["node", "rank", "role", "status", "results", "problems"]
    # tabulate pads headers by 2 and puts 2 spaces between columns; the problems column takes what is left.
    fixed = sum(max(len(headers[i]) + 2, *(len(row[i]) for row in rows)) + 2 for i in range(5))
    width = max(30, columns(120) - fixed)
    nodes = tabulate(
        rows,
        headers=headers,
        tablefmt="simple",
        maxcolwidths=[None, None, None, None, None, width],
        disable_numparse=True,
    )
    # A node that reported is a row of the node table already; one that did not keeps its error and fix here.
    silent = {n["host"] for n in document["nodes"] if n["summary"] is None}
    listed = [r for r in cluster_rows(document) if r.id != "cluster.node" or r.item in silent]
    results = results_table(listed, stream)
    return f"{header(document)}\n\n{nodes}\n\n{results}\n\n{summary_line(document, strict)}\n"


def _node_row(node: dict[str, Any]) -> list[str]:
    summary = node["summary"]
    if summary is None:
        return [node["host"], shown(node["rank"]), shown(node["role"]), "FAIL", "no report", node["error"] or ""]
    problems = ", ".join(f"{p['id']}[{p['item']}]" if p["item"] else p["id"] for p in node["problems"])
    counts = f"{summary['pass']}/{summary['total']} pass" + "".join(
        f" · {summary[s]} {s}" for s in ("warn", "fail", "error") if summary[s]
    )
    return [node["host"], shown(node["rank"]), shown(node["role"]), node["status"].upper(), counts, problems]


def header(document: dict[str, Any]) -> str:
    count = len(document["nodes"])
    nodes = f"{count} node{'s' * (count != 1)} over {document['via']}"
    profile = f" · profile {document['profile']}" if document["profile"] else ""
    return f"glm5check {document['tool']['version']} cluster · {nodes}{profile}"


def summary_line(document: dict[str, Any], strict: bool = False) -> str:
    return f"{summary_counts(document)}    {verdict_text(document, strict)}"


def summary_counts(document: dict[str, Any]) -> str:
    """`1 of 2 nodes ready · 6 cluster results · 2 pass · … · 0.61 s`."""
    s = document["summary"]
    counts = " · ".join(f"{s[k]} {k}" for k in ("pass", "warn", "fail", "error", "skip"))
    ready = f"{s['ready']} of {s['nodes']} nodes ready"
    return f"{ready} · {s['total']} cluster results · {counts} · {s['duration_ms'] / 1000:.2f} s"


def verdict_text(document: dict[str, Any], strict: bool = False) -> str:
    """The exit code and what it means for the deployment."""
    s = document["summary"]
    if s["ok"]:
        return "exit 0 — the deployment is ready" + (", read the warnings" if s["warn"] else "")
    verdict = "exit 1 — the deployment is not ready: fix the FAIL rows"
    return verdict + (" and the warnings (--strict)" if strict and s["warn"] else "")


def write_output(
    folder: str,
    views: list[NodeView],
    stems: dict[str, str],
    document: dict[str, Any],
    rendered: str | None,
    rendered_format: str,
    mask: Callable[[str], str] = str,
) -> None:
    """The nodes' reports and snapshots and the cluster report in folder (created if missing), plus the
    report `rendered` in `rendered_format` when it is one of KEPT_FORMATS (already masked); `mask` is
    applied to every other text (--redact-hosts)."""
    try:
        root = output_folder(Path(folder))
        for view in views:
            outcome = view.outcome
            if outcome.report_text is not None:
                write_atomic(root / (stems[view.host] + REPORT_SUFFIX), mask(outcome.report_text).encode("utf-8"))
            if outcome.snapshot is not None:
                write_atomic(root / (stems[view.host] + SNAPSHOT_SUFFIX), outcome.snapshot)
        write_atomic(root / "cluster.json", mask(render_json(document)).encode("utf-8"))
        if rendered is not None:
            write_atomic(root / KEPT_FORMATS[rendered_format], rendered.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {folder}: {exc.strerror or exc}") from None


def shown(value: Any) -> str:
    return "—" if value is None else str(value)
