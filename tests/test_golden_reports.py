"""Reports stay byte-identical (timings and creation time aside) on the bundled demo, its faulty twin and a
live run over the demo's GLM-5-w4a8 checkpoint rebuilt as real sparse files.

The golden files under tests/golden/ were written by glm5check before the weights scan was made to stream
(issue 14); a refactor of the scan, the snapshot digest or the scan cache must not change one byte of what a
user reads. After a deliberate change of a check's wording, regenerate them and review the diff:

    python tests/test_golden_reports.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, run_cli

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(FIXTURES))

# The demo's node-0 weights (fixtures/demo/parts/weights.py): msModelSlim GLM-5-w4a8 with the MTP layer,
# 24 main shards plus rot.safetensors.
DEMO_SHARDS = 24
LIVE_CHECKS = ("--check", "weights.*", "--check", "memory.fit", "--skip", "weights.shared")
PLACEHOLDER = "<checkpoint>"


def _normalised_json(text: str, folder: str | None = None) -> str:
    report = json.loads(text)
    report["created"] = "<created>"
    report["summary"]["duration_ms"] = 0
    for result in report["results"]:
        result["duration_ms"] = 0
    if folder is not None:
        report["node"]["hostname"] = "<host>"
    out = json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out.replace(folder, PLACEHOLDER) if folder else out


def _normalised_table(text: str) -> str:
    return re.sub(r"· [0-9.]+ s ", "· <time> s ", text)


def _runs(checkpoint: Path | None) -> dict[str, tuple[list[str], str | None]]:
    runs: dict[str, tuple[list[str], str | None]] = {
        "demo": (["--profile", "a2-multi", "--replay", "demo"], None),
        "demo-a2-node1": (["--profile", "a2-multi", "--replay", "demo:a2-node1"], None),
    }
    if checkpoint is not None:
        live = ["--profile", "a2-multi", "--model-dir", str(checkpoint), *LIVE_CHECKS]
        runs["live-w4a8"] = (live, str(checkpoint))
    return runs


def _render(args: list[str], folder: str | None) -> dict[str, str]:
    report = run_cli(*args, "--format", "json")
    assert report.returncode in (0, 1), report.stderr
    rendered = {"json": _normalised_json(report.stdout, folder), "exit": f"{report.returncode}\n"}
    if folder is None:  # the table wraps at the checkpoint's path, whose length varies: JSON holds every word
        rendered["table.txt"] = _normalised_table(run_cli(*args, "--format", "table").stdout)
    return rendered


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from make_checkpoint import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("golden") / "GLM-5-w4a8", "w4a8", "full", DEMO_SHARDS).path


@pytest.mark.parametrize("name", ["demo", "demo-a2-node1", "live-w4a8"])
@pytest.mark.slow
def test_report_matches_golden(name: str, checkpoint: Path) -> None:
    args, folder = _runs(checkpoint)[name]
    for suffix, text in _render(args, folder).items():
        golden = GOLDEN / f"{name}.{suffix}"
        assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs: run the golden regeneration"


def regenerate(target: Path = GOLDEN) -> None:
    import tempfile

    from make_checkpoint import make_checkpoint

    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="glm5check-golden-") as tmp:
        folder = make_checkpoint(Path(tmp) / "GLM-5-w4a8", "w4a8", "full", DEMO_SHARDS).path
        for name, (args, where) in _runs(folder).items():
            for suffix, text in _render(args, where).items():
                (target / f"{name}.{suffix}").write_text(text, encoding="utf-8")
                print(f"wrote {(target / f'{name}.{suffix}').relative_to(REPO)}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    regenerate()
