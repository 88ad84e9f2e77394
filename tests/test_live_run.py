"""A live run on this machine (no Ascend hardware): it completes, every NPU-dependent check says why it
cannot pass, nothing prints a traceback, and a hung npu-smi is killed at the timeout."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import assert_no_traceback, clean_env, run_cli, write_executable

NPU_DEPENDENT = ("npu.", "ascend.")


def _results(stdout: str) -> list[dict]:
    return json.loads(stdout)["results"]


@pytest.mark.slow
def test_live_run_without_ascend_hardware_explains_every_npu_check(tmp_path: Path) -> None:
    result = run_cli(
        "--profile",
        "a2-multi",
        "--format",
        "json",
        "--timeout",
        "5",
        "--model-dir",
        str(tmp_path / "no-weights"),
        env=clean_env(),
    )
    assert_no_traceback(result)
    assert result.returncode == 1
    rows = _results(result.stdout)
    npu_rows = [r for r in rows if r["id"].startswith(NPU_DEPENDENT)]
    assert {r["id"] for r in npu_rows} >= {
        "npu.smi",
        "npu.count",
        "npu.health",
        "npu.hbm",
        "ascend.devices",
        "ascend.cann",
        "ascend.driver",
    }
    for row in npu_rows:
        assert row["status"] in ("fail", "skip", "error"), row
        assert row["message"].strip(), row


@pytest.mark.slow
def test_a_hung_npu_smi_is_killed_at_the_timeout(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    write_executable(bin_dir, "npu-smi", "#!/bin/sh\nsleep 600\n")
    started = time.monotonic()
    result = run_cli(
        "--profile",
        "a2-single",
        "--check",
        "npu.*",
        "--format",
        "json",
        "--timeout",
        "2",
        env=clean_env(path_prepend=[bin_dir]),
    )
    assert time.monotonic() - started < 30
    assert_no_traceback(result)
    rows = {r["id"]: r for r in _results(result.stdout)}
    assert rows["npu.smi"]["status"] in ("error", "fail")
    assert "did not answer within 2 s" in rows["npu.smi"]["message"]


@pytest.mark.slow
def test_a_box_without_npus_reports_each_cause_once(tmp_path: Path) -> None:
    """No npu-smi, no devices: npu.smi FAILs once and the chip checks point at it; the guide's docker run
    fix that eleven device rows share is printed once in the table, and the fix plan has it once too."""
    args = ("--profile", "a2-multi", "--timeout", "5", "--model-dir", str(tmp_path / "no-weights"))
    rows = {(r["id"], r["item"]): r for r in _results(run_cli(*args, "--format", "json", env=clean_env()).stdout)}
    assert rows[("npu.smi", None)]["status"] == "fail"
    for check in ("npu.count", "npu.health", "npu.hbm", "npu.processes"):
        assert rows[(check, None)]["status"] == "skip" and rows[(check, None)]["message"].endswith("— see npu.smi")
    for check in ("weights.shards", "weights.mtp"):
        assert rows[(check, None)]["message"].endswith("— see weights.path")
    devices = [r for (check, _), r in rows.items() if check == "ascend.devices" and r["status"] == "fail"]
    shared = [r for r in devices if "--device=/dev/davinci_manager" in (r["remediation"] or "")]
    assert len(shared) == 11
    table = run_cli(*args, env=clean_env({"COLUMNS": "120"})).stdout
    assert table.count("--device=/dev/davinci_manager") == 1 and table.count("fix: as above") >= 10
    plan = run_cli(*args, "--fix-plan", env=clean_env()).stdout
    assert plan.count("--device=/dev/davinci_manager") == 1
