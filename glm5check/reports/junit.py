"""JUnit XML: one testsuite per category, one testcase per result (fail → failure, error → error,
skip → skipped; warnings pass and carry their message in system-out).

Every suite and test name carries the node's hostname (`npu.hbm[NPU 3] @ npu-a2-02`), so that the files
of the nodes of one deployment merge in CI without two tests of the same name."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from itertools import groupby

from glm5check.reports.model import Report, Row


def _details(result: Row) -> str:
    lines = [result.message]
    for key in ("expected", "observed", "remediation", "waived"):
        value = getattr(result, key)
        if value:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


def render_junit(report: Report) -> str:
    host = str(report.node.hostname)
    root = testsuites(f"glm5check @ {host}", report.results, report.summary.duration_ms)
    add_suites(root, report.results, "glm5check", host, suffix=f" @ {host}")
    return finish(root)


def testsuites(name: str, results: Sequence[Row], duration_ms: int) -> ET.Element:
    root = ET.Element("testsuites", name=name, tests=str(len(results)))
    root.set("failures", str(sum(r.status == "fail" for r in results)))
    root.set("errors", str(sum(r.status == "error" for r in results)))
    root.set("time", f"{duration_ms / 1000:.3f}")
    return root


def finish(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def add_suites(root: ET.Element, results: Sequence[Row], prefix: str, hostname: str, suffix: str = "") -> None:
    """One testsuite `<prefix>.<category><suffix>` per category of results, its tests `<id>[<item>]<suffix>`
    (a node's own file ends every name in ` @ <hostname>`; the cluster's names the host in the prefix)."""
    for category, group in groupby(results, key=lambda r: r.category):
        cases = list(group)
        suite = ET.SubElement(root, "testsuite", name=f"{prefix}.{category}{suffix}", tests=str(len(cases)))
        suite.set("failures", str(sum(r.status == "fail" for r in cases)))
        suite.set("errors", str(sum(r.status == "error" for r in cases)))
        suite.set("skipped", str(sum(r.status == "skip" for r in cases)))
        suite.set("time", f"{sum(r.duration_ms for r in cases) / 1000:.3f}")
        suite.set("hostname", hostname)
        for result in cases:
            case = ET.SubElement(suite, "testcase", classname=f"{prefix}.{category}", name=f"{result.label}{suffix}")
            case.set("time", f"{result.duration_ms / 1000:.3f}")
            status = result.status
            if status == "fail":
                ET.SubElement(case, "failure", message=result.message, type="fail").text = _details(result)
            elif status == "error":
                ET.SubElement(case, "error", message=result.message, type="error").text = _details(result)
            elif status == "skip":
                ET.SubElement(case, "skipped", message=result.message)
            elif status == "warn":
                ET.SubElement(case, "system-out").text = "WARN: " + _details(result)
