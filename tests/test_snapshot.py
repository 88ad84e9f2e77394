"""Snapshots: every host answer survives write/read, and a recorded run replays to identical results."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_no_traceback, clean_env, run_in_process, write_executable

from glm5check.engine.check import Result, Status, check, failed, passed
from glm5check.engine.runner import run_one
from glm5check.errors import NotRecorded, ProbeFailed
from glm5check.facts.context import Context
from glm5check.host.base import (
    Address,
    ConnectResult,
    Interface,
    ListeningSocket,
    Mount,
    Process,
    Resources,
)
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotData, SnapshotError, SnapshotWriter, read_snapshot
from glm5check.knowledge.profiles import load_builtin

NPU_SMI_TEXT = "+------+\n| npu-smi 23.0.rc2 Version: 23.0.rc2 |\n"


def _writer() -> SnapshotWriter:
    w = SnapshotWriter("a2-multi", hostname="npu-a2-01", options={"node_rank": 1})
    w.command(["/usr/local/bin/npu-smi", "info"], stdout=NPU_SMI_TEXT)
    w.command(
        ["hccn_tool", "-i", "0", "-link", "-g"],
        stdout="",
        stderr="boom\n",
        exit_code=None,
        timed_out=True,
        timeout_s=10.0,
    )
    w.which("npu-smi", "/usr/local/bin/npu-smi")
    w.which("hccn_tool", None)
    w.file("/etc/hccn.conf", "address_0=10.0.0.1\n")
    w.file("/etc/shadow", error="permission denied")
    w.bytes("/w/model-00001.safetensors", 0, 8, data=b"\x10\x00\x00\x00\x00\x00\x00\x00")
    w.listing("/w", ["config.json", "model-00001.safetensors"])
    w.stat("/dev/davinci0", kind="char", size=0)
    w.env({"HCCL_BUFFSIZE": "200"})
    w.disk_usage("/dev/shm", total=1 << 30, used=0, free=1 << 30)
    w.mounts([Mount("nfs:/models", "/root/.cache", "nfs4", "rw")])
    w.interfaces([Interface("enp189s0f0", True, 1500, None, (Address("ipv4", "10.20.0.11", "255.255.255.0"),))])
    w.sockets([ListeningSocket("tcp", "0.0.0.0", 8077, 4242, "python3")])
    w.processes([Process(4242, "python3", ("python3", "-m", "vllm.entrypoints.cli.main", "serve"))])
    w.resources(Resources(cpu_count=192, mem_total_bytes=1 << 40))
    w.resolve("npu-a2-01", ["10.20.0.11"])
    w.connect(ConnectResult("10.20.0.11", 13389, "refused", "connection refused", 1))
    w.probe("git", "/src/vllm", {"head": "978a37c8", "dirty": False})
    return w


@pytest.mark.parametrize("archive", [False, True])
def test_every_answer_round_trips(tmp_path: Path, archive: bool) -> None:
    target = tmp_path / ("snap.tar.gz" if archive else "snap")
    written = _writer()
    written.write(target)
    if archive:
        assert tarfile.is_tarfile(target)
    else:
        assert (target / "files" / "etc" / "hccn.conf").read_text() == "address_0=10.0.0.1\n"
        assert (target / "commands" / "index.json").is_file()
    data = read_snapshot(target)
    original = written.data
    for name in (
        "commands",
        "which",
        "files",
        "byte_reads",
        "listings",
        "stats",
        "env",
        "disk_usage",
        "mounts",
        "interfaces",
        "sockets",
        "processes",
        "resources",
        "hostname",
        "resolved",
        "connects",
        "probes",
    ):
        assert getattr(data, name) == getattr(original, name), name
    host = ReplayHost(data)
    assert host.run(["/usr/local/bin/npu-smi", "info"]).stdout == NPU_SMI_TEXT
    assert host.read_file("/etc/shadow").error == "permission denied" and host.which("hccn_tool") is None
    with pytest.raises(NotRecorded, match="the command `npu-smi info -l`: not recorded in the snapshot"):
        host.run(["npu-smi", "info", "-l"])


# Every Host method, with a question the empty snapshot holds no answer for.
UNRECORDED_QUESTIONS: dict[str, tuple[tuple[object, ...], str]] = {
    "run": ((["npu-smi", "info"],), "the command `npu-smi info`"),
    "which": (("npu-smi",), "where npu-smi is installed"),
    "read_file": (("/etc/hccn.conf",), "the file /etc/hccn.conf"),
    "read_bytes": (("/w/a.safetensors", 0, 8), "8 bytes at 0 of /w/a.safetensors"),
    "list_dir": (("/w",), "the listing of /w"),
    "stat": (("/dev/davinci0",), "stat /dev/davinci0"),
    "env": ((), "the environment"),
    "disk_usage": (("/dev/shm",), "the disk usage of /dev/shm"),
    "mounts": ((), "the mount table"),
    "interfaces": ((), "the network interfaces"),
    "listening_sockets": ((), "the listening sockets"),
    "processes": ((), "the running processes"),
    "resources": ((), "CPU, memory and open-files limits"),
    "hostname": ((), "the host name"),
    "resolve": (("npu-a2-01",), "the addresses of npu-a2-01"),
    "tcp_connect": (("10.0.0.1", 13389), "a TCP connection to 10.0.0.1:13389"),
    "probe": (("git", "/src/vllm", lambda: None), "the git probe of /src/vllm"),
}


def test_every_host_method_is_covered() -> None:
    from glm5check.host.base import Host

    methods = {name for name in vars(Host) if not name.startswith("_") and callable(getattr(Host, name))}
    # recall/remember are not questions about the machine: a result the snapshot does not hold is computed
    # again from the recorded answers (tests/test_scan_digest_cache.py).
    assert methods - {"recall", "remember"} == set(UNRECORDED_QUESTIONS)


@pytest.mark.parametrize("method", sorted(UNRECORDED_QUESTIONS))
def test_every_unrecorded_question_raises_not_recorded(method: str) -> None:
    args, question = UNRECORDED_QUESTIONS[method]
    with pytest.raises(NotRecorded) as raised:
        getattr(ReplayHost(SnapshotData()), method)(*args)
    assert raised.value.question == question
    assert str(raised.value) == f"{question}: not recorded in the snapshot"
    assert isinstance(raised.value, ProbeFailed)  # code that copes with an unreadable machine copes here too


@pytest.mark.parametrize("method", sorted(UNRECORDED_QUESTIONS))
def test_an_unrecorded_question_makes_the_asking_check_skip_naming_it(method: str) -> None:
    args, question = UNRECORDED_QUESTIONS[method]

    @check("plugin.asks", title="asks something new", explain="Why: t. What: t. Fix: t.")
    def asks(ctx: Context) -> Iterator[Result]:
        yield passed("answered first", item="before")
        getattr(ctx.host, method)(*args)
        yield failed("never reached", item="after")

    rows = run_one(asks, Context(load_builtin("a2-single"), ReplayHost(SnapshotData())))
    assert [(r.item, r.status) for r in rows] == [("before", Status.PASS), (None, Status.SKIP)]
    assert rows[1].message.startswith(f"plugin.asks cannot be judged on this snapshot: {question} is not recorded")


def test_a_file_dropped_into_files_by_hand_is_read(tmp_path: Path) -> None:
    _writer().write(tmp_path / "snap")
    hand = tmp_path / "snap" / "files" / "usr" / "local" / "Ascend" / "driver" / "version.info"
    hand.parent.mkdir(parents=True)
    hand.write_text("Version=24.1.rc3\n")
    replayed = ReplayHost(read_snapshot(tmp_path / "snap")).read_file("/usr/local/Ascend/driver/version.info")
    assert replayed.text == "Version=24.1.rc3\n"


def test_unreadable_snapshots_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="not found"):
        read_snapshot(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SnapshotError, match=r"no snapshot\.json"):
        read_snapshot(tmp_path / "empty")
    result = run_in_process("--profile", "a2-single", "--replay", str(tmp_path / "empty"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert_no_traceback(result)


def _results(report: dict) -> list[tuple]:
    return [(r["id"], r["item"], r["status"], r["message"]) for r in report["results"]]


@pytest.mark.parametrize("suffix", ["", ".tar.gz"])
def test_snapshot_then_replay_gives_identical_results(tmp_path: Path, suffix: str) -> None:
    bin_dir = tmp_path / "bin"
    write_executable(bin_dir, "npu-smi", "#!/bin/sh\necho 'dcmi module initialize failed. ret is -8005'\nexit 1\n")
    env = clean_env({"HCCL_BUFFSIZE": "2x00", "OMP_NUM_THREADS": "10", "HF_TOKEN": "hf_secret_value"}, [bin_dir])
    target = tmp_path / f"snap{suffix}"
    recorded = run_in_process("snapshot", "--profile", "a2-single", "-o", str(target), "--timeout", "5", env=env)
    assert_no_traceback(recorded)
    assert recorded.returncode == 1, recorded.stderr  # the snapshot's exit code is the run's verdict
    assert "snapshot written to" in recorded.stderr
    data = read_snapshot(target)
    assert data.env is not None and data.env["HF_TOKEN"] == "<redacted>"
    replayed = run_in_process("--replay", str(target), "--format", "json", env=clean_env())
    assert_no_traceback(replayed)
    report = json.loads(replayed.stdout)
    assert data.report is not None
    assert _results(report) == _results(data.report)
    assert any(r[0] == "env.vars" and r[1] == "HCCL_BUFFSIZE" and r[2] == "warn" for r in _results(report))
    assert "hf_secret_value" not in replayed.stdout


@pytest.mark.slow
def test_snapshot_to_standard_output_streams_a_replayable_archive_and_writes_no_file(tmp_path: Path) -> None:
    """`snapshot -o -` (what `glm5check cluster --snapshot` runs on each node): the .tar.gz is standard
    output, the summary line standard error, and nothing is written on the way (TMPDIR stays empty)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = clean_env({"TMPDIR": str(scratch), "VLLM_ASCEND_BALANCE_SCHEDULING": "2x00"})  # int() stops vllm-ascend
    done = subprocess.run(
        [sys.executable, "-m", "glm5check", "snapshot", "--profile", "a2-single", "--check", "env.*", "-o", "-"],
        capture_output=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    assert done.stderr.decode().strip().endswith("exit 1 — fix FAIL and ERROR before vllm serve")
    assert list(scratch.iterdir()) == []
    with tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r:gz") as archive:
        names = archive.getnames()
    assert "snapshot/snapshot.json" in names and "snapshot/report.json" in names
    target = tmp_path / "node.tar.gz"
    target.write_bytes(done.stdout)
    data = read_snapshot(target)
    replayed = run_in_process("--replay", str(target), "--check", "env.*", "--format", "json", env=clean_env())
    assert data.report is not None and _results(json.loads(replayed.stdout)) == _results(data.report)


@pytest.mark.slow
def test_snapshot_to_a_terminal_is_refused() -> None:
    import pty

    leader, follower = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "glm5check", "snapshot", "--profile", "a2-single", "-o", "-"],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=clean_env(),
        timeout=60,
    )
    os.close(follower)
    os.close(leader)
    assert done.returncode == 2 and b"redirect it to a file or a pipe" in done.stderr


def test_a_failed_system_read_is_recorded_and_replayed_as_the_same_failure(tmp_path: Path) -> None:
    from glm5check.errors import ProbeFailed
    from glm5check.host.live import LiveHost
    from glm5check.host.record import RecordingHost

    class DeniedSockets(LiveHost):
        def _listening_sockets(self):
            raise PermissionError("psutil.AccessDenied (pid=1)")

    recording = RecordingHost(DeniedSockets(timeout_s=2))
    with pytest.raises(ProbeFailed, match="listening sockets could not be read: PermissionError") as live_error:
        recording.listening_sockets()
    recording.data.meta = {"profile": "a2-multi"}
    target = tmp_path / "snap"
    from glm5check.host.snapshot import write_snapshot

    write_snapshot(recording.data, target)
    with pytest.raises(ProbeFailed) as replay_error:
        ReplayHost(read_snapshot(target)).listening_sockets()
    assert str(replay_error.value) == str(live_error.value)


def test_byte_reads_of_a_directory_load_when_asked_and_a_damaged_one_is_a_read_error(tmp_path: Path) -> None:
    writer = _writer()
    big = b"{" + b" " * (2 << 20) + b"}"  # over 1 MiB: stored gzipped
    writer.bytes("/w/model-00001.safetensors", 8, len(big), data=big)
    target = writer.write(tmp_path / "snap")
    index = json.loads((target / "bytes" / "index.json").read_text())
    blob = next(target / "bytes" / e["data"] for e in index if e["offset"] == 8)
    assert blob.name.endswith(".gz")
    data = read_snapshot(target)
    assert dict(data.byte_reads.items()) == writer.data.byte_reads
    blob.write_bytes(b"not gzip")  # damaged after the snapshot was opened: nothing was loaded yet
    damaged = ReplayHost(data).read_bytes("/w/model-00001.safetensors", 8, len(big))
    assert damaged.data is None and "is not gzip data" in (damaged.error or "")
    blob.unlink()
    with pytest.raises(SnapshotError, match="missing or not a regular file"):
        read_snapshot(target)
