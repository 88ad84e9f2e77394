"""The live host: timeouts that kill the process group, capped and decoded output, failures as data."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

from conftest import write_executable

from glm5check.host.base import OUTPUT_CAP_BYTES
from glm5check.host.live import LiveHost, run_process


def test_a_hanging_command_and_its_children_are_killed_at_the_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    tool = write_executable(tmp_path, "npu-smi", f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\necho started\nwait\n")
    started = time.monotonic()
    result = LiveHost(timeout_s=1).run([str(tool), "info"])
    assert time.monotonic() - started < 5
    assert result.timed_out and result.exit_code is None and not result.ok
    assert result.stdout == "started\n"
    assert result.describe_failure() == f"`{tool} info` did not answer within 1 s and was killed"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # A killed child is a zombie until reaped by init; /proc shows its state.
        state = Path(f"/proc/{child}/stat").read_text().split()[2] if Path(f"/proc/{child}/stat").exists() else "Z"
        if state == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the background child of the timed-out command is still running")


def test_output_is_capped_and_decoded_with_replacement(tmp_path: Path) -> None:
    tool = write_executable(
        tmp_path, "noisy", "#!/bin/sh\nprintf 'caf\\351 \\377\\n'\nhead -c 6000000 /dev/zero | tr '\\0' x\n"
    )
    result = LiveHost(timeout_s=20).run([str(tool)])
    assert result.exit_code == 0 and result.truncated
    assert len(result.stdout.encode("utf-8", errors="surrogatepass")) <= OUTPUT_CAP_BYTES * 3
    assert result.stdout.startswith("caf\ufffd \ufffd\n")


def test_run_process_keeps_raw_bytes_under_its_own_cap(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4
    data = tmp_path / "payload.bin"
    data.write_bytes(payload)
    whole = run_process(["cat", str(data)], timeout_s=10)
    assert (whole.exit_code, whole.stdout, whole.truncated) == (0, payload, False)
    cut = run_process(["cat", str(data)], timeout_s=10, stdout_cap=100)
    assert (cut.exit_code, cut.stdout, cut.truncated) == (0, payload[:100], True)
    assert cut.decoded().stdout == payload[:100].decode("utf-8", errors="replace")


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_run_process_stop_event_kills_the_group_at_once(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    result = run_process(["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"], timeout_s=60, stop=stop)
    assert time.monotonic() - started < 5
    assert result.stopped and not result.timed_out and result.exit_code is None
    assert "interrupted" in result.decoded().describe_failure()
    deadline = time.monotonic() + 5
    while _alive(int(pid_file.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(pid_file.read_text()))


def test_missing_and_non_executable_commands(tmp_path: Path) -> None:
    host = LiveHost(timeout_s=5)
    missing = host.run(["glm5check-no-such-tool", "-x"])
    assert missing.not_found and missing.describe_failure() == "glm5check-no-such-tool: command not found"
    plain = tmp_path / "not-executable"
    plain.write_text("echo hi\n")
    denied = host.run([str(plain)])
    assert denied.error == "permission denied" and "could not run" in denied.describe_failure()
    failing = host.run(["sh", "-c", "echo 'dcmi module initialize failed. ret is -8005' ; exit 3"])
    assert failing.exit_code == 3
    assert failing.describe_failure().endswith("exited with status 3: dcmi module initialize failed. ret is -8005")


def test_which_falls_back_to_extra_folders(tmp_path: Path) -> None:
    tool = write_executable(tmp_path / "sbin", "hccn_tool", "#!/bin/sh\n")
    host = LiveHost()
    assert host.which("glm5check-no-such-tool", [str(tmp_path / "sbin")]) is None
    assert host.which("hccn_tool", [str(tmp_path / "nope"), str(tmp_path / "sbin")]) == str(tool)


def test_file_reads_report_errors_as_data(tmp_path: Path) -> None:
    host = LiveHost(timeout_s=5)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "data.bin").write_bytes(b'\x08\x00\x00\x00\x00\x00\x00\x00{"a":1}')
    assert host.read_file(str(tmp_path / "missing")).error == "missing"
    assert not host.read_file(str(tmp_path / "missing")).exists
    assert host.read_file(str(tmp_path)).error == "is a directory"
    assert host.read_file(str(tmp_path / "loop")).error == "symlink loop"
    assert host.read_bytes(str(tmp_path / "data.bin"), 8, 7).data == b'{"a":1}'
    assert host.read_bytes(str(tmp_path / "nope"), 0, 8).error == "missing"
    assert host.list_dir(str(tmp_path)).entries == ("dangling", "data.bin", "loop")
    assert host.list_dir(str(tmp_path / "data.bin")).error == "not a directory"
    dangling = host.stat(str(tmp_path / "dangling"))
    assert not dangling.exists and dangling.link_target == str(tmp_path / "nowhere")
    assert host.stat(str(tmp_path / "data.bin")).kind == "file" and host.stat("/dev/null").kind == "char"


def test_tcp_connect_outcomes_on_loopback() -> None:
    host = LiveHost(timeout_s=2)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert host.tcp_connect("127.0.0.1", port).outcome == "connected"
    assert host.tcp_connect("127.0.0.1", port).outcome == "refused"


def test_structured_probes_time_out_and_catch_errors() -> None:
    host = LiveHost(timeout_s=0.3)
    assert host.probe("demo", "ok", lambda: {"a": 1}).value == {"a": 1}
    slow = host.probe("demo", "slow", lambda: time.sleep(5))
    assert slow.timed_out and slow.error == "no answer within 0.3 s"
    broken = host.probe("demo", "broken", lambda: 1 / 0)
    assert broken.error == "ZeroDivisionError: division by zero"


def test_system_facts_are_read() -> None:
    host = LiveHost()
    resources = host.resources()
    assert resources.cpu_count and resources.cpu_count >= 1 and resources.mem_total_bytes
    assert any(i.name == "lo" for i in host.interfaces())
    assert any(m.mountpoint == "/" for m in host.mounts())
    assert host.disk_usage("/dev/shm").total_bytes


def test_a_timed_out_result_without_its_timeout_still_describes_itself() -> None:
    """A hand-edited snapshot may record timed_out without timeout_s; the description must not raise."""
    from glm5check.host.base import CommandResult

    result = CommandResult(("npu-smi", "info"), timed_out=True)
    assert result.describe_failure() == "`npu-smi info` did not answer within its timeout and was killed"


def test_a_grandchild_in_its_own_session_holding_stdout_is_killed(tmp_path: Path) -> None:
    """The tool prints and exits; a `setsid` grandchild keeps its stdout open (out of the process group's
    reach). The call returns EXIT_GRACE_S later with the tool's answer, and the grandchild is gone."""
    pid_file = tmp_path / "grandchild.pid"
    tool = write_executable(tmp_path, "npu-smi", f"#!/bin/sh\necho table\nsetsid sleep 60 &\necho $! > {pid_file}\n")
    started = time.monotonic()
    result = LiveHost(timeout_s=10).run([str(tool)])
    assert time.monotonic() - started < 3
    assert result.ok and result.stdout == "table\n"
    assert _ends(int(pid_file.read_text()))


def _ends(pid: int, within_s: float = 5.0) -> bool:
    """Whether the process is gone (or a zombie) within a few seconds: SIGKILL is delivered, not awaited."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.05)
    return False


def test_a_tool_killed_by_a_signal_after_printing_is_no_answer(tmp_path: Path) -> None:
    tool = write_executable(tmp_path, "npu-smi", "#!/bin/sh\necho 'a whole table'\nkill -9 $$\n")
    result = LiveHost(timeout_s=5).run([str(tool), "info"])
    assert result.killed and not result.ok and result.stdout == "a whole table\n"
    assert result.describe_failure() == (
        f"`{tool} info` was killed by signal 9 (SIGKILL) before it finished; its output is not used"
    )


def test_children_get_an_environment_that_writes_nothing(tmp_path: Path) -> None:
    result = LiveHost(timeout_s=5).run(["sh", "-c", "echo $PYTHONDONTWRITEBYTECODE $GIT_OPTIONAL_LOCKS $LC_ALL"])
    assert result.stdout == "1 0 C\n"


def test_watchdog_threads_are_reused_and_a_hung_one_is_left_behind(tmp_path: Path) -> None:
    """Filesystem calls run on idle watchdog threads (a thread started per call cost ~0.7 ms in a busy
    run); a call that hangs keeps its thread, and the next call gets another."""
    (tmp_path / "f").write_bytes(b"x" * 100)
    host = LiveHost(timeout_s=0.3)
    host.read_bytes(str(tmp_path / "f"), 0, 10)
    before = _watchdogs()  # they never end: the count grows only when one is started
    for offset in range(50):
        assert host.read_bytes(str(tmp_path / "f"), offset, 10).data == b"x" * 10
    assert _watchdogs() == before
    release = threading.Event()
    hung = host.probe("test", "hang", lambda: release.wait(30))
    assert hung.timed_out
    assert host.read_bytes(str(tmp_path / "f"), 0, 3).data == b"xxx"  # not queued behind the hung call
    assert _watchdogs() <= before + 1  # one more at most: the hung one is not handed another call
    release.set()


def _watchdogs() -> int:
    return sum(thread.name == "glm5check-probe" for thread in threading.enumerate())
