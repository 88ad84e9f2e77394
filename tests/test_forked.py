"""Pure work in a forked child (glm5check/host/forked.py): results stream back in order, and whatever the
child does not deliver in time (it died, hung, or could not be forked) is left for the caller to do."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from glm5check.host import forked as forked_module
from glm5check.host.forked import can_fork, forked
from glm5check.host.live import LiveHost
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotData

ITEMS = ["alpha", "beta", "gamma", "delta"]


def _pid_and_hash(items: Sequence[str]) -> Iterator[object]:
    for item in items:
        yield (os.getpid(), item, hash(item))


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_child_computes_in_another_process_with_this_process_hash_secret() -> None:
    with forked(LiveHost(), ITEMS, _pid_and_hash, 10) as child:
        results, undone = child.collect()
    assert [item for _, item, _ in results] == ITEMS and not undone
    assert {pid for pid, _, _ in results} != {os.getpid()}
    # The weights scan adds the child's sums of string hashes to its own: they must be the same hashes.
    assert [h for _, _, h in results] == [hash(item) for item in ITEMS]
    assert _no_children_left()


def _dies_after_two(items: Sequence[str]) -> Iterator[object]:
    for number, item in enumerate(items):
        if number == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        yield item


def test_a_child_that_dies_leaves_the_rest_to_the_caller() -> None:
    with forked(LiveHost(), ITEMS, _dies_after_two, 10) as child:
        results, undone = child.collect()
    assert results == ITEMS[:2] and list(undone) == ITEMS[2:]
    assert _no_children_left()


def _raises_after_one(items: Sequence[str]) -> Iterator[object]:
    yield items[0]
    raise RuntimeError("a bug in the work")


def test_a_child_that_raises_ends_its_part_there() -> None:
    with forked(LiveHost(), ITEMS, _raises_after_one, 10) as child:
        results, undone = child.collect()
    assert results == ITEMS[:1] and list(undone) == ITEMS[1:]
    assert _no_children_left()


def _hangs_after_one(items: Sequence[str]) -> Iterator[object]:
    yield items[0]
    time.sleep(60)
    yield items[1]


def test_a_late_child_is_killed_after_its_deadline() -> None:
    started = time.monotonic()
    with forked(LiveHost(), ITEMS, _hangs_after_one, 0.5) as child:
        results, undone = child.collect()
    assert results == ITEMS[:1] and list(undone) == ITEMS[1:]
    assert time.monotonic() - started < 10
    assert _no_children_left()


def _unmarshallable(items: Sequence[str]) -> Iterator[object]:
    yield items[0]
    yield object()  # marshal refuses it: the child's part ends
    yield items[2]


def test_a_result_marshal_refuses_ends_the_childs_part() -> None:
    with forked(LiveHost(), ITEMS, _unmarshallable, 10) as child:
        results, undone = child.collect()
    assert results == ITEMS[:1] and list(undone) == ITEMS[1:]


def test_leaving_the_block_early_kills_and_reaps_the_child() -> None:
    with pytest.raises(KeyError), forked(LiveHost(), ITEMS, _hangs_after_one, 10):
        raise KeyError("the caller failed")
    assert _no_children_left()


def test_hosts_that_record_or_replay_never_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise AssertionError("forked")

    monkeypatch.setattr(forked_module.os, "fork", no_fork)
    replay = ReplayHost(SnapshotData())

    class Wrapped(LiveHost):  # a recording host is a LiveHost subclass in spirit: what the child reads is lost
        pass

    for host in (replay, Wrapped()):
        assert not can_fork(host)
        with forked(host, ITEMS, _pid_and_hash, 10) as child:
            assert child.collect() == ([], ITEMS)


def test_a_torn_record_is_not_a_result() -> None:
    buffer = bytearray(forked_module._LENGTH.pack(10) + b"short")
    assert forked_module._record(buffer) is None
    assert bytes(buffer).endswith(b"short")  # kept until the rest arrives


def _open_files(items: Sequence[str]) -> Iterator[object]:
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    yield (fds, [os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)])


def test_the_child_holds_no_file_of_this_process(tmp_path: Path) -> None:
    """A probe's pipe or an output file left open in the child would keep a reader waiting or a file open."""
    read_end, write_end = os.pipe()
    held = open(tmp_path / "output.tmp", "w")  # noqa: SIM115 - held open across the fork on purpose
    ours = {read_end, write_end, held.fileno()}
    try:
        with forked(LiveHost(), ["x"], _open_files, 10) as child:
            [(fds, standard)], _ = child.collect()
    finally:
        held.close()
        os.close(read_end)
        os.close(write_end)
    assert not ours & set(fds), fds
    assert standard == ["/dev/null"] * 3
    assert len(fds) <= 5, fds  # 0-2, the result pipe, and the listing of /proc/self/fd itself


def test_a_ctrl_c_right_after_the_fork_never_runs_this_process_code_in_the_child(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Until the child has its own handlers, a signal it receives must wait: this process's handlers raise
    (KeyboardInterrupt, Terminated), and in the child that would unwind into the caller's code (a runner
    worker would go on running checks, probes included, in the child)."""
    real_fork = os.fork
    escaped = tmp_path / "escaped"

    def fork_then_interrupted() -> int:
        pid = real_fork()
        if pid == 0:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C lands in the child as it starts
        return pid

    monkeypatch.setattr(forked_module.os, "fork", fork_then_interrupted)
    parent = os.getpid()
    try:
        with forked(LiveHost(), ITEMS, _pid_and_hash, 10) as child:
            results, undone = child.collect()
    finally:
        if os.getpid() != parent:  # the child unwound into this test: note it and leave quietly
            escaped.touch()
            os._exit(0)
    assert not escaped.exists()
    assert len(results) + len(undone) == len(ITEMS)  # the child died of the signal: the rest is the caller's
    assert _no_children_left()
