"""Reports: JSON valid against the shipped schema, JUnit a consumer accepts, the table grouped and coloured
only on a terminal."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from importlib import resources

import jsonschema
import pytest
from conftest import run_in_process

from glm5check.reports.model import Report
from glm5check.reports.table import render_table, use_colour


def _schema() -> dict:
    return json.loads(resources.files("glm5check.schema").joinpath("report-v1.json").read_text())


@pytest.mark.parametrize("demo", ["demo", "demo:a2-node1"])
def test_json_report_validates_against_the_shipped_schema(demo: str) -> None:
    result = run_in_process("--profile", "a2-multi", "--replay", demo, "--format", "json")
    report = json.loads(result.stdout)
    jsonschema.validate(report, _schema())
    assert report["schema"] == "glm5check.report/v1"
    assert report["node"]["rank"] == (0 if demo == "demo" else 1)
    assert report["summary"]["ok"] is (result.returncode == 0)
    assert report["profile"]["serve"]["tensor_parallel_size"] == 8


def test_the_schema_rejects_a_broken_report() -> None:
    report = json.loads(run_in_process("--profile", "a2-multi", "--replay", "demo", "--format", "json").stdout)
    report["results"][0]["status"] = "ok"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, _schema())


def test_junit_is_well_formed_with_one_testcase_per_result(tmp_path) -> None:
    target = tmp_path / "report.xml"
    run = run_in_process(
        "--profile", "a2-multi", "--replay", "demo:a2-node1", "--format", "junit", "--output", str(target)
    )
    assert run.returncode == 1 and run.stdout == ""
    assert "fail" in run.stderr  # the summary line goes to stderr when --output is used
    root = ET.parse(target).getroot()
    report = json.loads(run_in_process("--profile", "a2-multi", "--replay", "demo:a2-node1", "--format", "json").stdout)
    cases = root.findall("./testsuite/testcase")
    assert root.tag == "testsuites" and len(cases) == len(report["results"]) == int(root.get("tests"))
    by_status = {s: sum(r["status"] == s for r in report["results"]) for s in ("fail", "error", "skip")}
    assert len(root.findall("./testsuite/testcase/failure")) == by_status["fail"] > 0
    assert len(root.findall("./testsuite/testcase/error")) == by_status["error"]
    assert len(root.findall("./testsuite/testcase/skipped")) == by_status["skip"]
    assert int(root.get("failures")) == by_status["fail"]
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None and failure.get("message") and "remediation" in (failure.text or "")


def _report() -> dict:
    return json.loads(run_in_process("--profile", "a2-multi", "--replay", "demo:a2-node1", "--format", "json").stdout)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_table_groups_by_category_and_ends_with_the_summary(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    report = _report()
    text = render_table(Report.from_json(report), io.StringIO(), width=120)
    lines = text.rstrip().splitlines()
    header = text.split("\n\n")[0]  # wrapped at 120 columns between its parts
    assert header.startswith("glm5check ") and "profile a2-multi" in header and "node rank 1 (headless)" in header
    assert lines[-1].startswith(f"{report['summary']['total']} results") and "exit 1" in lines[-1]
    categories = [line.split()[0] for line in lines[2:-2] if line and not line.startswith(" ")]
    assert categories == [*dict.fromkeys(r["category"] for r in report["results"]), "plan"]
    assert re.search(r"fix: export\s+HCCL_SOCKET_IFNAME=enp189s0f0", text), text
    assert "\033[" not in text


def test_colour_only_on_a_terminal_and_never_under_no_color(monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(_Tty()) and not use_colour(io.StringIO())
    assert "\033[31mFAIL\033[0m" in render_table(Report.from_json(_report()), _Tty())
    monkeypatch.setenv("NO_COLOR", "")
    assert not use_colour(_Tty())


def test_junit_names_carry_the_hostname_so_two_nodes_files_merge(tmp_path) -> None:
    cases: dict[str, list[tuple[str, str]]] = {}
    for demo, host in (("demo", "npu-a2-01"), ("demo:a2-node1", "npu-a2-02")):
        xml = run_in_process("--profile", "a2-multi", "--replay", demo, "--format", "junit").stdout
        root = ET.fromstring(xml)
        assert root.get("name") == f"glm5check @ {host}"
        assert all(s.get("name").endswith(f" @ {host}") for s in root.findall("./testsuite"))
        cases[host] = [(c.get("classname"), c.get("name")) for c in root.findall("./testsuite/testcase")]
        assert all(name.endswith(f" @ {host}") for _, name in cases[host])
    merged = cases["npu-a2-01"] + cases["npu-a2-02"]
    assert len(set(merged)) == len(merged)  # no test of one node shadows the other's
    assert ("glm5check.npu", "npu.hbm[NPU 3] @ npu-a2-02") in cases["npu-a2-02"]
