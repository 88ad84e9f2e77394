"""Red-team findings on the weights scan (review2): inputs that made it crash or differ."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, run_in_process

from glm5check.facts.weights_scan import scan_folder
from glm5check.host.live import LiveHost

sys.path.insert(0, str(FIXTURES))
import make_checkpoint as mc

UNDECODABLE = b"\xff\xfe.safetensors"  # listed by os.listdir as '\udcff\udcfe.safetensors'


class InProcess(LiveHost):
    """A live host the scan does not fork for."""


@pytest.fixture(scope="module")
def undecodable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bf16 folder without an index (the listing names the shards) holding a shard whose file name is
    not UTF-8."""
    checkpoint = mc.make_checkpoint(tmp_path_factory.mktemp("undecodable") / "GLM5-bf16", "bf16", "layer", shards=3)
    (checkpoint.path / checkpoint.index_name).unlink()
    os.rename(checkpoint.path / checkpoint.shard_names[0], os.path.join(bytes(checkpoint.path), UNDECODABLE))
    return checkpoint.path


def test_a_shard_whose_name_is_not_utf8_is_scanned_not_crashed_on(undecodable: Path) -> None:
    scan = scan_folder(InProcess(), str(undecodable))
    assert os.fsdecode(UNDECODABLE) in {shard.name for shard in scan.shards}
    assert scan.complete and scan.fingerprint and scan.fingerprint.startswith("sha256:")
    assert scan_folder(LiveHost(), str(undecodable)) == scan


def test_such_a_folder_is_recorded_and_replayed(undecodable: Path, tmp_path: Path) -> None:
    base = ("--profile", "a2-multi", "--model-dir", str(undecodable), "--check", "weights.*", "--format", "json")
    recorded = run_in_process("snapshot", *base[:-2], "-o", str(tmp_path / "snap"))
    assert "internal error" not in recorded.stdout + recorded.stderr
    replayed = run_in_process(*base, "--replay", str(tmp_path / "snap"))
    statuses = {row["id"]: row["status"] for row in json.loads(replayed.stdout)["results"]}
    assert "error" not in statuses.values() and statuses["weights.shards"] == "fail"  # no index
