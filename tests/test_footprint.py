"""What a run holds and loads (bounds, not timings: speed targets live in bench/).

- The weights scan's memory grows with the number of distinct name patterns and shapes, and with the
  largest shard header (headers are parsed one at a time, read ahead by at most 2 MiB), not with the number
  of tensors: GLM-5-w4a8 (237,031 tensors in 25 shards) peaks within a few MiB of the bf16 skeleton
  (59,870 tensors in 282 shards).
- `glm5check --version` imports neither click nor the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, clean_env

sys.path.insert(0, str(FIXTURES))
import make_checkpoint as mc

# The CLI and the scanner as real processes: the slow tier (.ci/run runs it).
pytestmark = pytest.mark.slow

# The bound: what the w4a8 peak may exceed the bf16 skeleton's by.
PEAK_MARGIN_MIB = 8


def _peak_rss_mib(argv: list[str]) -> float:
    """Peak RSS of a fresh process (wait4's resource usage), in MiB."""
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=clean_env()
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) in (0, 1)
    return usage.ru_maxrss / 1024


def _scan_peak(folder: Path) -> float:
    argv = [
        sys.executable,
        "-m",
        "glm5check",
        "--profile",
        "a2-multi",
        "--model-dir",
        str(folder),
        "--check",
        "weights.*",
        "--check",
        "memory.fit",
        "--format",
        "json",
    ]
    return min(_peak_rss_mib(argv) for _ in range(2))


def test_scan_memory_grows_with_shapes_not_tensors(tmp_path_factory: pytest.TempPathFactory) -> None:
    bf16 = mc.make_checkpoint(tmp_path_factory.mktemp("bf16") / "GLM5-bf16", "bf16", "layer")
    w4a8 = mc.make_checkpoint(tmp_path_factory.mktemp("w4a8") / "GLM-5-w4a8", "w4a8", "full", 24)
    assert len(w4a8.tensors) > 3.9 * len(bf16.tensors)
    small, big = _scan_peak(bf16.path), _scan_peak(w4a8.path)
    assert big - small <= PEAK_MARGIN_MIB, f"bf16 {small:.1f} MiB, w4a8 {big:.1f} MiB"


def test_version_imports_neither_click_nor_the_cli() -> None:
    probe = (
        "import sys; sys.argv = ['glm5check', '--version']\n"
        "from glm5check.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m == 'click' or m.startswith('glm5check.')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=clean_env())
    lines = result.stdout.splitlines()
    assert lines[0] == "glm5check 0.1.0"
    assert lines[1] == "['glm5check.entry']", lines[1]
