"""Reading snapshots from others: what the fault scenarios (tests/faults/hardening.py) do not reach from
the command line. The demo archive reads back exactly as its folder; a `tar czf x.tgz -C dir .` archive is
accepted; the per-replay read budget holds for lazily read byte parts; nothing of this machine is read."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from conftest import REPO, run_in_process

from glm5check.host import snapshot_source
from glm5check.host.base import CommandResult, StatInfo
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotError, SnapshotWriter, read_snapshot, typed

DEMO = REPO / "glm5check" / "demo" / "a2-node0"


def _tar(target: Path, folder: Path, top: str) -> Path:
    with tarfile.open(target, "w:gz") as archive:
        archive.add(folder, arcname=top)
    return target


def test_an_archive_reads_back_exactly_as_its_folder(tmp_path: Path) -> None:
    from_folder = read_snapshot(DEMO)
    from_archive = read_snapshot(_tar(tmp_path / "demo.tar.gz", DEMO, "a2-node0"))
    assert from_archive.meta == from_folder.meta
    assert from_archive.commands == from_folder.commands
    assert from_archive.files == from_folder.files
    assert dict(from_archive.byte_reads.items()) == dict(from_folder.byte_reads.items())


def test_an_archive_made_with_dot_as_its_root_is_read(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    shutil.copytree(DEMO, outer / "node0")
    archive = _tar(tmp_path / "dot.tgz", outer, ".")
    with tarfile.open(archive) as opened:
        assert opened.getmembers()[0].name == "."
    assert read_snapshot(archive).meta["hostname"] == "npu-a2-01"


def test_a_replay_reads_at_most_its_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = SnapshotWriter("a2-single")
    big = b"{" + b" " * (3 << 20) + b"}"  # stored gzipped: tiny on disk, 3 MiB when read
    for offset in range(4):
        writer.bytes("/w/model.safetensors", offset, len(big), data=big)
    target = writer.write(tmp_path / "snap")
    monkeypatch.setattr(snapshot_source, "READ_BUDGET_BYTES", 8 << 20)
    host = ReplayHost(read_snapshot(target))
    reads = [host.read_bytes("/w/model.safetensors", offset, len(big)) for offset in range(4)]
    assert [r.data == big for r in reads] == [True, True, False, False]
    assert "goes beyond 8 MiB read in one replay" in (reads[-1].error or "")


def test_a_hand_dropped_file_that_links_out_is_refused(tmp_path: Path) -> None:
    target = SnapshotWriter("a2-single").write(tmp_path / "snap")
    (target / "files" / "etc").mkdir(parents=True)
    (target / "files" / "etc" / "hostname").symlink_to("/etc/hostname")
    with pytest.raises(SnapshotError, match=r"files/etc/hostname is a symlink .* leads out"):
        read_snapshot(target)


def test_an_index_key_with_dotdot_never_reaches_this_machine(tmp_path: Path) -> None:
    """files/index.json names /../../etc/hostname: its copy is looked up at files/etc/hostname inside
    the snapshot (absent here), never at /etc/hostname."""
    target = SnapshotWriter("a2-single").write(tmp_path / "snap")
    key = "/../../../../etc/hostname"
    (target / "files").mkdir(exist_ok=True)
    (target / "files" / "index.json").write_text(json.dumps({key: {"error": None, "truncated": False}}))
    read = ReplayHost(read_snapshot(target)).read_file(key)
    assert read.text is None


def test_an_archive_member_cut_short_is_refused(tmp_path: Path) -> None:
    info = tarfile.TarInfo("snap/snapshot.json")
    info.size = 1000
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        archive.addfile(info, io.BytesIO(b"{" * 1000))
    cut = raw.getvalue()[: 512 + 100]  # the header and 100 of its 1000 bytes
    import gzip

    (tmp_path / "cut.tar.gz").write_bytes(gzip.compress(cut))
    with pytest.raises(SnapshotError, match="cannot read snapshot archive"):
        read_snapshot(tmp_path / "cut.tar.gz")


@pytest.mark.parametrize(
    ("record", "values", "words"),
    [
        (
            CommandResult,
            {"argv": ["npu-smi"], "exit_code": "zero"},
            "CommandResult.exit_code is 'zero', not int | None",
        ),
        (CommandResult, {"argv": "npu-smi info"}, "CommandResult.argv is 'npu-smi info', not tuple[str, ...]"),
        (StatInfo, {"path": "/m", "size": True}, "StatInfo.size is True, not int | None"),
        (CommandResult, {"argv": ["x"], "shell": "rm -rf /"}, "does not fit CommandResult (unknown field shell)"),
    ],
)
def test_a_recorded_answer_of_the_wrong_type_is_refused(record: type, values: dict[str, object], words: str) -> None:
    with pytest.raises(SnapshotError, match=re.escape(words)):
        typed(record, values, "x")


def test_a_recorded_answer_of_the_right_types_is_rebuilt() -> None:
    values = {"argv": ["npu-smi", "info"], "exit_code": 0, "timeout_s": 2, "truncated": False}
    assert typed(CommandResult, values, "x") == CommandResult(("npu-smi", "info"), 0, timeout_s=2)


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("stack", 5, "options.stack is not a string"),
        ("stack", ["v0.23.0"], "options.stack is not a string"),
        ("pd_role", 5, "options.pd_role is not a string"),
        ("script_args", "0,1 8000", "options.script_args is not a list of strings"),
        ("script_args", [1, {}], "options.script_args is not a list of strings"),
        ("peer_npu_ips", "10.0.0.1", "options.peer_npu_ips is not a list of strings"),
    ],
)
def test_a_recorded_option_of_the_wrong_type_exits_2(tmp_path: Path, option: str, value: object, words: str) -> None:
    """Every option the session reuses from snapshot.json has its type checked (a number as the stack was an
    internal error, a string as the script's arguments silently dropped)."""
    snap = shutil.copytree(DEMO, tmp_path / "snap")
    meta = json.loads((snap / "snapshot.json").read_text(encoding="utf-8"))
    meta["options"][option] = value
    (snap / "snapshot.json").write_text(json.dumps(meta), encoding="utf-8")
    done = run_in_process("--replay", str(snap))
    assert done.returncode == 2 and words in done.stderr and "internal error" not in done.stderr
