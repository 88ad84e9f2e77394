"""Red-team findings on the weights scan (review2): inputs that made it crash or differ."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, run_in_process

import glm5check.facts.weights_scan as weights_scan
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


class _Unsearchable(list[str]):
    """A share that may be iterated, sliced and counted, but not searched item by item."""

    def __contains__(self, item: object) -> bool:
        raise AssertionError("a linear search of the child's share: quadratic in a listing of 100k shards")


def test_the_childs_share_is_looked_up_in_a_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    checkpoint = mc.make_checkpoint(tmp_path / "GLM5-bf16", "bf16", "layer", shards=9)
    original = weights_scan._Headers._child_share

    def share(self: weights_scan._Headers, index_name: str | None, listed: list[str]) -> list[str]:
        return _Unsearchable(original(self, index_name, listed))

    monkeypatch.setattr(weights_scan._Headers, "_child_share", share)
    forked_scan = scan_folder(LiveHost(), str(checkpoint.path))
    assert forked_scan == scan_folder(InProcess(), str(checkpoint.path)) and forked_scan.complete
