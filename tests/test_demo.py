"""The bundled demo snapshots: current with their builder, node 0 healthy, node 1 with typical faults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli

DEMO = REPO / "glm5check" / "demo"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_committed_demo_snapshots_are_what_the_builder_writes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "fixtures" / "demo" / "build.py"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for node in ("a2-node0", "a2-node1"):
        built, committed = _tree(tmp_path / node), _tree(DEMO / node)
        assert sorted(built) == sorted(committed), "run: python fixtures/demo/build.py"
        changed = [name for name in built if built[name] != committed[name]]
        assert not changed, f"demo {node} is stale in {changed[:5]}; run: python fixtures/demo/build.py"


def _run(demo: str) -> tuple[int, list[dict]]:
    result = run_cli("--profile", "a2-multi", "--replay", demo, "--format", "json")
    return result.returncode, json.loads(result.stdout)["results"]


@pytest.mark.slow
def test_demo_node0_is_healthy() -> None:
    code, rows = _run("demo")
    bad = [(r["id"], r["item"], r["message"]) for r in rows if r["status"] in ("fail", "error")]
    assert code == 0 and not bad, bad


@pytest.mark.slow
def test_demo_node1_shows_typical_faults_in_every_area() -> None:
    code, rows = _run("demo:a2-node1")
    assert code == 1
    failing = {r["category"] for r in rows if r["status"] in ("fail", "error")}
    assert {"packages", "npu", "net", "host", "weights"} <= failing, failing
    # Its HCCL_BUFFSIZE is unset: HCCL's default is the guide's 200, so that is no launch blocker.
    [size] = [r for r in rows if (r["id"], r["item"]) == ("env.vars", "HCCL_BUFFSIZE")]
    assert (size["status"], size["message"]) == ("pass", "unset; HCCL's default 200 is the guide's value")
