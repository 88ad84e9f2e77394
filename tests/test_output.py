"""The confined-path helper and the atomic writer, under real failures: a file size limit (RLIMIT_FSIZE in
a child), /dev/full, SIGTERM and SIGINT in the middle of writing a snapshot. After each, the previous
output is intact and no temporary is left beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

from glm5check.host.output import (
    OutputError,
    atomic_folder,
    check_not_an_input,
    save_text,
    write_atomic,
)
from glm5check.host.paths import (
    ConfinedFolder,
    PathEscape,
    confined_join,
    confined_path,
    member_name,
    relative_parts,
)
from glm5check.host.snapshot import SnapshotError, SnapshotWriter, read_snapshot, write_snapshot


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../etc/passwd", "climbs out"),
        ("a/../../b", "climbs out"),
        ("/etc/shadow", "absolute"),
        ("", "empty"),
        ("a\0b", "NUL"),
        ("./", "names the folder itself"),
    ],
)
def test_relative_parts_refuses_what_leaves_the_root(name: str, reason: str) -> None:
    with pytest.raises(PathEscape, match=reason):
        relative_parts(name)


def test_relative_parts_and_joins_keep_what_stays_inside() -> None:
    assert relative_parts("a/./b//c.json") == ("a", "b", "c.json")
    assert confined_join("/models/GLM-5", "sub/model-00001.safetensors") == "/models/GLM-5/sub/model-00001.safetensors"
    assert member_name("/etc/hccn.conf") == "etc/hccn.conf"
    assert member_name("/a/../../../etc/x") == "etc/x"  # `..` resolved from /: never above files/
    assert member_name("models/../../x") == "x"


def test_confined_path_follows_inner_symlinks_and_refuses_outer_ones(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "f").write_text("inside")
    (root / "inner").symlink_to("real")
    (root / "outer").symlink_to(tmp_path)
    (root / "secret").symlink_to("/etc/hostname")
    assert confined_path(root, "inner/f").read_text() == "inside"
    with pytest.raises(PathEscape, match="leads out of its folder"):
        confined_path(root, "outer/anything")
    with pytest.raises(PathEscape, match="leads out of its folder"):
        confined_path(root, "secret")


def test_confined_path_of_a_resolved_root_resolves_as_realpath_does(tmp_path: Path) -> None:
    """With resolved=True only the name's own components are looked at: the answer must still be realpath's
    (inner links, a chain of links, a link to an absolute path inside, a dangling link, missing parts)."""
    (tmp_path / "link-to-root").symlink_to(tmp_path)
    root = tmp_path / "link-to-root" / "root"  # a root reached through a symlink itself
    (root / "real" / "deep").mkdir(parents=True)
    (root / "real" / "deep" / "f").write_text("x")
    (root / "real" / "file").write_text("x")
    (root / "inner").symlink_to("real")
    (root / "chain").symlink_to("inner/deep")
    (root / "absolute").symlink_to(tmp_path / "root" / "real")
    (root / "dangling").symlink_to("nowhere/at/all")
    (root / "real" / "up").symlink_to("..")
    (root / "real" / "out").symlink_to("../..")
    names = ["real/deep/f", "inner/deep/f", "chain/f", "absolute/deep", "dangling/x", "missing/a/b", "real/file/x"]
    names += ["real/up/inner/deep", "real/up/chain"]
    real_root = os.path.realpath(root)
    for name in names:
        expected = Path(os.path.realpath(root.joinpath(name)))
        assert confined_path(real_root, name, resolved=True) == expected == confined_path(root, name), name
    with pytest.raises(PathEscape, match="leads out of its folder"):
        confined_path(real_root, "real/up/real/out/x", resolved=True)


def test_a_confined_folder_refuses_and_allows_what_confined_path_does(tmp_path: Path) -> None:
    """ConfinedFolder looks at each folder once (a snapshot's ~200 parts): the same names escape, the
    others read what confined_path resolves, also after a folder was found plain and later a name under a
    symlinked one is asked for."""
    root = tmp_path / "root"
    (root / "bytes" / "deep").mkdir(parents=True)
    for name in ("bytes/0001.bin", "bytes/deep/f"):
        (root / name).write_text(name)
    (root / "inner").symlink_to("bytes")
    (root / "outer").symlink_to(tmp_path)
    (root / "bytes" / "secret").symlink_to("/etc/hostname")
    (root / "bytes" / "sibling").symlink_to("0001.bin")
    (root / "bytes" / "deep" / "up").symlink_to("../..")
    (root / "bytes" / "deep" / "out").symlink_to("../../..")
    folder = ConfinedFolder(str(root), os.path.realpath(root))
    names = ["bytes/0001.bin", "bytes/deep/f", "inner/0001.bin", "bytes/sibling", "bytes/deep/up/bytes/0001.bin"]
    names += ["outer/x", "bytes/secret", "bytes/deep/out/x", "inner/deep/out/x", "../x", "/etc/passwd"]
    for name in names * 2:  # the second time from the folders it remembers
        try:
            expected: object = confined_path(root, name).read_text()
        except PathEscape:
            expected = PathEscape
        try:
            found: object = Path(folder.join(name)).read_text()
        except PathEscape:
            found = PathEscape
        assert found == expected, name


def test_a_name_thousands_of_folders_deep_is_a_snapshot_error(tmp_path: Path) -> None:
    """An index entry `d/d/…/f` 1,200 folders deep (a hostile snapshot) is refused as confined_path refuses
    it (no such file), not a RecursionError out of the folder cache."""
    from glm5check.host.snapshot_source import FolderSource

    (tmp_path / "d").mkdir()
    with pytest.raises(SnapshotError, match="cannot read snapshot file"):
        FolderSource(tmp_path).read("d/" * 1200 + "f")


def test_a_folder_swapped_for_a_symlink_out_after_a_read_is_still_refused(tmp_path: Path) -> None:
    """confined_path looks again at every read; the folder cache must not turn a checked folder that is
    later replaced by a symlink out of the snapshot into a way out."""
    from glm5check.host.snapshot_source import FolderSource

    (tmp_path / "snap" / "a").mkdir(parents=True)
    (tmp_path / "snap" / "a" / "x").write_text("inside")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "y").write_text("outside")
    source = FolderSource(tmp_path / "snap")
    assert source.read("a/x") == b"inside"
    (tmp_path / "snap" / "a").rename(tmp_path / "snap" / "a-old")
    (tmp_path / "snap" / "a").symlink_to(tmp_path / "out")
    with pytest.raises(SnapshotError, match="outside the snapshot"):
        source.read("a/y")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".glm5check-" in p.name)


def test_save_replaces_whole_and_a_failure_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    save_text(target, "first\n")
    save_text(target, "second\n")
    assert target.read_text() == "second\n"
    with pytest.raises(UnicodeEncodeError):
        save_text(target, "bad \udcff surrogate")  # encoded before anything is touched
    assert target.read_text() == "second\n" and not _leftovers(tmp_path)
    with pytest.raises(OutputError, match="it is a directory"):
        save_text(tmp_path, "x")


def test_a_device_is_written_directly_never_replaced(tmp_path: Path) -> None:
    write_atomic("/dev/null", b"discarded")
    with pytest.raises(OutputError, match="cannot write /dev/full: No space left on device"):
        write_atomic("/dev/full", b"x" * 10)
    assert Path("/dev/full").is_char_device() and Path("/dev/null").is_char_device()


def _run_child(code: str, cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kind", ["file", "archive", "folder"])
def test_a_file_size_limit_leaves_the_previous_output_and_no_temporary(tmp_path: Path, kind: str) -> None:
    """RLIMIT_FSIZE in a child: the write fails half-way with EFBIG (SIGXFSZ ignored, as a shell may)."""
    target = tmp_path / {"file": "report.json", "archive": "snap.tar.gz", "folder": "snap"}[kind]
    writer = SnapshotWriter("a2-single", hostname="before")
    if kind == "file":
        target.write_text("previous report\n")
    else:
        writer.write(target)
    code = f"""
        import os, resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from glm5check.errors import ConfigError
        from glm5check.host.output import write_atomic
        from glm5check.host.snapshot import SnapshotWriter
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        writer = SnapshotWriter("a2-single", hostname="after")
        writer.file("/big", "x" * (1 << 20))
        writer.bytes("/w", 0, 1 << 20, data=os.urandom(1 << 20))
        try:
            if {kind!r} == "file":
                write_atomic({str(target)!r}, b"y" * (1 << 20))
            else:
                writer.write({str(target)!r})
        except ConfigError as exc:
            print(exc)
            sys.exit(2)
    """
    done = _run_child(code, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "cannot write" in done.stdout and "too large" in done.stdout.lower(), done.stdout
    if kind == "file":
        assert target.read_text() == "previous report\n"
    else:
        assert read_snapshot(target).meta["hostname"] == "before"
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("suffix", ["", ".tar.gz"])
def test_a_signal_while_a_snapshot_is_written_leaves_the_previous_one(
    tmp_path: Path, signum: int, code: int, suffix: str
) -> None:
    """The signal arrives from outside while the snapshot's parts are being written (a part's JSON
    sends it half-way), through the CLI's own handlers."""
    target = tmp_path / f"snap{suffix}"
    SnapshotWriter("a2-single", hostname="before").write(target)
    script = f"""
        import os, sys
        from glm5check.util import interrupts
        from glm5check.host.snapshot import SnapshotWriter

        class Bomb(dict):
            def items(self):
                os.kill(os.getpid(), {int(signum)})
                return super().items()

        interrupts.install()
        writer = SnapshotWriter("a2-single", hostname="after")
        for n in range(200):
            writer.file(f"/etc/part{{n}}", "x" * 1000)
        writer.data.report = Bomb(results=[])
        try:
            writer.write({str(target)!r})
        except KeyboardInterrupt:
            sys.exit(130)
        except interrupts.Terminated:
            sys.exit(143)
        sys.exit(0)
    """
    done = _run_child(script, tmp_path)
    assert done.returncode == code, done.stderr
    assert read_snapshot(target).meta["hostname"] == "before"
    assert not _leftovers(tmp_path)


def test_a_folder_output_replaces_a_snapshot_and_refuses_anything_else(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    SnapshotWriter("a2-single", hostname="one").write(snap)
    SnapshotWriter("a2-single", hostname="two").write(snap)
    assert read_snapshot(snap).meta["hostname"] == "two" and not _leftovers(tmp_path)
    nested = SnapshotWriter("a2-single", hostname="deep").write(tmp_path / "new" / "folders" / "snap")
    assert read_snapshot(nested).meta["hostname"] == "deep"  # missing parents are created
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(SnapshotError, match="exists and is not a glm5check snapshot folder"):
        SnapshotWriter("a2-single").write(home)
    assert (home / "thesis.tex").read_text() == "years of work"
    with (
        pytest.raises(OutputError, match="refusing to write outside the output"),
        atomic_folder(tmp_path / "x") as sink,
    ):
        sink.put("../escape", b"x")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "x").exists() and not _leftovers(tmp_path)


def test_recorded_paths_with_dotdot_stay_inside_the_snapshot(tmp_path: Path) -> None:
    """A run with --model-dir ../../.. records file paths with `..`: their copies land under files/."""
    victim = tmp_path / "victim.txt"
    victim.write_text("do not overwrite")
    writer = SnapshotWriter("a2-single")
    relative_escape = "../" * 12 + str(victim).lstrip("/")
    writer.file(relative_escape, "redacted copy")
    writer.file("/models/../../../../" + str(victim).lstrip("/"), "another copy")
    (tmp_path / "out").mkdir()
    target = write_snapshot(writer.data, tmp_path / "out" / "snap")
    assert victim.read_text() == "do not overwrite"
    copies = [p for p in target.rglob("*") if p.is_file() and p.name == "victim.txt"]
    assert copies and all(target in p.parents for p in copies)
    replayed = read_snapshot(target)
    assert replayed.files[relative_escape].text == "redacted copy"


def test_an_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "node0.sh"
    script.write_text("vllm serve /m\n")
    os.link(script, tmp_path / "hardlink.sh")
    snap = tmp_path / "snap"
    snap.mkdir()
    with pytest.raises(OutputError, match="is the serve script"):
        check_not_an_input(str(tmp_path / "." / "node0.sh"), {"the serve script": str(script)})
    with pytest.raises(OutputError, match="is the serve script"):
        check_not_an_input(str(tmp_path / "hardlink.sh"), {"the serve script": str(script)})
    with pytest.raises(OutputError, match="inside the replayed snapshot"):
        check_not_an_input(str(snap / "report.json"), {}, {"the replayed snapshot": str(snap)})
    check_not_an_input(str(tmp_path / "report.json"), {"the serve script": str(script)}, {"x": str(snap)})
