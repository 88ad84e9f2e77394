"""The weights scan remembered: the snapshot digest (replay) and the scan cache (--cache-dir, live runs).

A digest is used only when its key is the one the replaying code and the recorded inputs make; an older
snapshot (no digest, whole-file reads), a newer glm5check (other scanning code), an edited input or a digest
that lies about its key are all re-read from the raw bytes, with the same verdicts. The cache is used only
by live runs, only while no file of the folder changed, and never trusts an entry it cannot vouch for.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO, clean_env, run_cli, run_in_process
from test_golden_reports import GOLDEN, _normalised_json

import glm5check.facts.weights as weights_facts
from glm5check.facts.context import Context, Options
from glm5check.facts.weights import scan_weights
from glm5check.facts.weights_digest import SCAN_KIND, scan_code, scan_from_json, scan_to_json
from glm5check.facts.weights_scan import WeightsScan, scan_folder
from glm5check.host.base import BytesRead
from glm5check.host.live import LiveHost
from glm5check.host.replay import ReplayHost
from glm5check.host.scancache import ScanCache
from glm5check.host.snapshot import Digest, SnapshotData, read_snapshot, write_snapshot
from glm5check.knowledge.profiles import load_builtin

sys.path.insert(0, str(FIXTURES))
import make_checkpoint as mc

DEMO = REPO / "glm5check" / "demo" / "a2-node0"
MODEL_DIR = load_builtin("a2-multi").model.path


class CountingReplay(ReplayHost):
    def __init__(self, data: SnapshotData) -> None:
        super().__init__(data)
        self.byte_reads = 0

    def read_bytes(self, path: str, offset: int, length: int) -> BytesRead:
        self.byte_reads += 1
        return super().read_bytes(path, offset, length)


class CountingLive(LiveHost):
    def __init__(self, cache_dir: str | None = None) -> None:
        super().__init__(cache_dir=cache_dir)
        self.byte_reads = 0

    def read_bytes(self, path: str, offset: int, length: int) -> BytesRead:
        self.byte_reads += 1
        return super().read_bytes(path, offset, length)


def _scan(host: Any, folder: str = MODEL_DIR) -> WeightsScan:
    return Context(load_builtin("a2-multi"), host, Options(model_dir=folder)).fact(scan_weights)


def _replay_json(snapshot: Path) -> str:
    result = run_cli("--profile", "a2-multi", "--replay", str(snapshot), "--format", "json")
    assert result.returncode == 0, result.stderr
    return _normalised_json(result.stdout)


@pytest.fixture(scope="module")
def parsed_demo() -> WeightsScan:
    """The demo's scan read from its raw bytes (the digest ignored)."""
    return scan_folder(ReplayHost(read_snapshot(DEMO)), MODEL_DIR)


# -- the snapshot digest --------------------------------------------------------------------------------


def test_demo_replay_uses_its_digest_and_reads_no_weight_bytes(parsed_demo: WeightsScan) -> None:
    host = CountingReplay(read_snapshot(DEMO))
    assert _scan(host) == parsed_demo
    assert host.byte_reads == 0


def test_newer_scanning_code_reparses_the_raw_bytes(monkeypatch: pytest.MonkeyPatch, parsed_demo: WeightsScan) -> None:
    monkeypatch.setattr(weights_facts, "scan_code", lambda: "2:another-scanner")
    host = CountingReplay(read_snapshot(DEMO))
    assert _scan(host) == parsed_demo
    assert host.byte_reads > 25  # every shard header, the index and the description, in chunks


def _copy_demo(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEMO, tmp_path / "demo"))


def _edit_digest(snapshot: Path, change: Any) -> None:
    path = snapshot / "digests" / f"{SCAN_KIND}.json"
    digests = json.loads(path.read_text())
    change(digests[MODEL_DIR])
    path.write_text(json.dumps(digests))


@pytest.mark.slow
def test_a_digest_that_lies_about_its_key_is_not_trusted(tmp_path: Path, parsed_demo: WeightsScan) -> None:
    snapshot = _copy_demo(tmp_path)

    def lie(entry: dict[str, Any]) -> None:
        entry["value"]["shards"][0][2] = "truncated"  # says a shard is cut short, which the bytes deny
        entry["value"]["shards"][0][3] = "truncated: made up"
        entry["key"] = "0" * 64

    _edit_digest(snapshot, lie)
    host = CountingReplay(read_snapshot(snapshot))
    assert _scan(host) == parsed_demo and host.byte_reads > 0
    assert _replay_json(snapshot) == (GOLDEN / "demo.json").read_text()


@pytest.mark.slow
def test_a_digest_key_that_is_not_ascii_only_means_the_inputs_are_read(
    tmp_path: Path, parsed_demo: WeightsScan
) -> None:
    snapshot = _copy_demo(tmp_path)

    def foreign(entry: dict[str, Any]) -> None:
        entry["key"] = "é" * 64  # hmac.compare_digest raised TypeError on this

    _edit_digest(snapshot, foreign)
    host = CountingReplay(read_snapshot(snapshot))
    assert _scan(host) == parsed_demo and host.byte_reads > 0


@pytest.mark.slow
def test_an_input_edited_after_recording_makes_the_digest_stale(tmp_path: Path) -> None:
    snapshot = _copy_demo(tmp_path)
    stats_path = snapshot / "system" / "stat.json"
    stats = json.loads(stats_path.read_text())
    shard = next(path for path in stats if path.endswith("00003-of-00024.safetensors"))
    stats[shard]["size"] -= 4096  # the recorded file is now shorter than its header says
    stats_path.write_text(json.dumps(stats))
    result = run_cli(
        "--profile", "a2-multi", "--replay", str(snapshot), "--check", "weights.shards", "--format", "json"
    )
    rows = json.loads(result.stdout)["results"]
    assert result.returncode == 1
    assert [row["message"].split(":")[0] for row in rows] == ["truncated"], rows


def test_a_digest_with_a_matching_key_but_a_broken_value_is_reparsed(parsed_demo: WeightsScan) -> None:
    data = read_snapshot(DEMO)
    digest = data.digests[(SCAN_KIND, MODEL_DIR)]
    data.digests[(SCAN_KIND, MODEL_DIR)] = Digest({"path": MODEL_DIR, "shards": "nonsense"}, key=digest.key)
    assert _scan(ReplayHost(data)) == parsed_demo


def _as_older_glm5check_wrote_it(source: Path, target: Path) -> None:
    """The snapshot as glm5check 0.1.0 wrote it: big JSON files in one read each, no digest."""
    data = read_snapshot(source)
    old = SnapshotData(**{name: getattr(data, name) for name in data.__dataclass_fields__ if name != "lock"})
    reads = {key: data.byte_reads[key] for key in data.byte_reads}
    for path in {key[0] for key in reads if key[0].endswith(".json")}:
        parts = sorted(key for key in reads if key[0] == path)
        whole = b"".join(reads.pop(key).data or b"" for key in parts)
        reads[(path, 0, len(whole))] = BytesRead(path, 0, len(whole), whole)
    old.byte_reads, old.digests = reads, {}
    write_snapshot(old, target)


@pytest.mark.slow
def test_an_older_snapshot_without_digest_replays_to_the_same_report(tmp_path: Path) -> None:
    _as_older_glm5check_wrote_it(DEMO, tmp_path / "old")
    assert not (tmp_path / "old" / "digests").exists()
    assert _replay_json(tmp_path / "old") == (GOLDEN / "demo.json").read_text()


@pytest.mark.slow
def test_an_archived_snapshot_keeps_its_digest(tmp_path: Path, parsed_demo: WeightsScan) -> None:
    write_snapshot(read_snapshot(DEMO), tmp_path / "demo.tar.gz")
    host = CountingReplay(read_snapshot(tmp_path / "demo.tar.gz"))
    assert _scan(host) == parsed_demo and host.byte_reads == 0


@pytest.mark.slow
def test_recording_writes_a_digest_that_replays(tmp_path: Path, w4a8_small: Path) -> None:
    result = run_cli(
        "snapshot",
        "--profile",
        "a2-single",
        "--model-dir",
        str(w4a8_small),
        "--check",
        "weights.*",
        "-o",
        str(tmp_path / "snap"),
        env=clean_env(),
    )
    assert result.returncode in (0, 1), result.stderr
    data = read_snapshot(tmp_path / "snap")
    assert (SCAN_KIND, str(w4a8_small)) in data.digests
    live = scan_folder(LiveHost(), str(w4a8_small))
    host = CountingReplay(data)
    assert _scan(host, str(w4a8_small)) == live and host.byte_reads == 0


def test_scan_json_round_trip_and_refusals(parsed_demo: WeightsScan) -> None:
    value = json.loads(json.dumps(scan_to_json(parsed_demo)))
    assert scan_from_json(value, MODEL_DIR) == parsed_demo
    assert scan_from_json(value, "/elsewhere") is None
    for field, bad in (
        ("shards", [[1, 2]]),
        ("total_bytes", "many"),
        ("mtp_layer", True),
        ("tally", [["a", "b"]]),
        ("mtp_embed_head", "x"),
    ):
        assert scan_from_json({**value, field: bad}, MODEL_DIR) is None, field
    assert scan_from_json({**value, "extra": 1}, MODEL_DIR) is None
    assert scan_from_json([], MODEL_DIR) is None


# -- the live scan cache -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def w4a8_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mc.make_checkpoint(tmp_path_factory.mktemp("cache") / "GLM-5-w4a8", "w4a8", "full", 4).path


@pytest.fixture
def folder(w4a8_small: Path, tmp_path: Path) -> Path:
    return mc.link_copy(w4a8_small, tmp_path / "weights")


@pytest.mark.slow
def test_a_repeated_run_takes_the_scan_from_the_cache(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = CountingLive(str(cache))
    scanned = _scan(first, str(folder))
    second = CountingLive(str(cache))
    assert _scan(second, str(folder)) == scanned
    assert first.byte_reads > 0 and second.byte_reads == 0
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".json")] == []  # no temporary left


@pytest.mark.slow
def test_a_touched_shard_is_rescanned(folder: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    assert _scan(CountingLive(cache), str(folder)).complete
    shard = sorted(folder.glob("quant_model_weights-*.safetensors"))[1]
    mc.replace_file(shard, _head(shard), shard.stat().st_size - 8)
    host = CountingLive(cache)
    scan = _scan(host, str(folder))
    assert host.byte_reads > 0 and not scan.complete
    assert [s.cause for s in scan.shards if not s.ok] == ["truncated"]


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        return prefix + handle.read(int.from_bytes(prefix, "little"))


@pytest.mark.parametrize(
    "entry",
    [b"not json", b'{"schema": "glm5check.scan-cache/v1", "key": "0", "value": {}}', b"[" * 100000, b"\xff\xfe"],
)
@pytest.mark.slow
def test_a_corrupt_or_hostile_cache_entry_is_ignored(folder: Path, tmp_path: Path, entry: bytes) -> None:
    cache = tmp_path / "cache"
    truth = _scan(CountingLive(str(cache)), str(folder))
    (stored,) = cache.iterdir()
    stored.write_bytes(entry)
    host = CountingLive(str(cache))
    assert _scan(host, str(folder)) == truth and host.byte_reads > 0


@pytest.mark.slow
def test_a_cache_entry_that_lies_under_another_key_is_ignored(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    truth = _scan(CountingLive(str(cache)), str(folder))
    (stored,) = cache.iterdir()
    entry = json.loads(stored.read_text())
    entry["key"] = "f" * 64  # a valid entry, but for another folder state
    entry["value"]["shards"][0][2] = "missing"
    stored.write_text(json.dumps(entry))
    assert _scan(CountingLive(str(cache)), str(folder)) == truth


@pytest.mark.slow
def test_a_symlinked_cache_entry_is_not_followed(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    truth = _scan(CountingLive(str(cache)), str(folder))
    (stored,) = cache.iterdir()
    elsewhere = tmp_path / "elsewhere.json"
    os.replace(stored, elsewhere)
    stored.symlink_to(elsewhere)
    host = CountingLive(str(cache))
    assert _scan(host, str(folder)) == truth and host.byte_reads > 0


@pytest.mark.slow
def test_cache_dir_writes_only_inside_it_and_never_in_replay(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = clean_env({"GLM5CHECK_CACHE_DIR": str(cache)})
    replay = run_cli("--profile", "a2-multi", "--replay", "demo", "--check", "weights.*", env=env, cwd=tmp_path)
    assert replay.returncode == 0 and not cache.exists()
    live = run_cli("--profile", "a2-single", "--model-dir", str(folder), "--check", "weights.*", env=env, cwd=tmp_path)
    assert live.returncode in (0, 1), live.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "weights"]
    assert len(list(cache.iterdir())) == 1


@pytest.mark.slow
def test_no_cache_without_the_option(folder: Path, tmp_path: Path) -> None:
    host = CountingLive()
    _scan(host, str(folder))
    assert host.recall(SCAN_KIND, str(folder), scan_code() or "") is None


def test_a_cache_inside_the_folder_it_vouches_for_is_never_written(tmp_path: Path) -> None:
    """An entry written into the scanned folder changes that folder's identity: it would never be found again,
    and every run would add another file to the weights."""
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "config.json").write_text("{}")
    for cache_dir in (weights, weights / ".cache"):
        cache = ScanCache(str(cache_dir), lambda func: func())
        assert cache.recall(SCAN_KIND, str(weights), "code") is None
        cache.remember(SCAN_KIND, str(weights), "code", {"shards": []})
    assert sorted(p.name for p in weights.iterdir()) == ["config.json"]


@pytest.mark.parametrize("where", ["weights", "weights/.cache", "link"])
def test_a_cache_dir_in_the_weights_folder_exits_2(tmp_path: Path, where: str) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    (tmp_path / "link").symlink_to(weights)
    done = run_in_process(
        "--profile",
        "a2-single",
        "--model-dir",
        str(weights),
        "--cache-dir",
        str(tmp_path / where),
        "--check",
        "weights.*",
    )
    assert done.returncode == 2 and "is inside the weights folder" in done.stderr, done.stderr
    assert sorted(p.name for p in weights.iterdir()) == []


def test_output_into_the_weights_folder_of_the_launch_command_exits_2(tmp_path: Path) -> None:
    """The weights folder the serve command names is protected like --model-dir's: -o its config.json would
    have replaced the model's config."""
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "config.json").write_text("{}")
    command = f"vllm serve {weights} --tensor-parallel-size 8"
    done = run_in_process(
        "--profile", "a2-single", "--serve-cmd", command, "--check", "weights.*", "-o", str(weights / "config.json")
    )
    assert done.returncode == 2 and "is inside the weights folder" in done.stderr, done.stderr
    assert (weights / "config.json").read_text() == "{}"
