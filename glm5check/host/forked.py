"""Pure work on a second core: a forked child that computes part of a list and streams the results back.

Why a fork: the weights scan is pure Python (regular expressions, string passes) and holds the GIL, so threads
cannot share it out. A forked child starts in about a millisecond with every module already imported, and
shares this process's string-hash secret, so the order-independent hash sums it makes (glm5check.parsers.
weights_json) add up with this process's own.

The hazard of forking a process that has threads (other checks' probes run in threads) is a lock another
thread held at the fork, which no thread of the child will ever release. So the child only runs the work
it is given on modules imported before the fork, reads files through the live host (fresh threads and
events, no shared lock), never writes to the terminal, and leaves with os._exit; this process waits for
each result with a deadline and, when the child is late, dies or is not possible here (no fork, a host
that records or replays what it is asked), kills it and does what is left itself. What comes out never
depends on which process computed it.

Results travel as `marshal` records (plain values only: the caller converts its tuples), each prefixed by
its length; a record cut short ends the child's part there.
"""

from __future__ import annotations

import fcntl
import marshal
import os
import select
import signal
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from glm5check.host.base import Host

T = TypeVar("T")
_LENGTH = struct.Struct("<Q")
_MAX_RECORD_BYTES = 1 << 30
_OPERATOR_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Child(Generic[T]):
    """The child's share of the items, as far as it delivered them."""

    def __init__(self, items: Sequence[T], pid: int | None, fd: int | None, seconds_per_item: float) -> None:
        self.items, self.pid, self.fd = items, pid, fd
        self.seconds_per_item = seconds_per_item
        self.buffer = bytearray()
        self.results: list[object] = []

    def collect(self) -> tuple[list[object], Sequence[T]]:
        """The results the child delivered, in item order, and the items it did not (the caller's to do)."""
        while self.fd is not None and len(self.results) < len(self.items) and self._receive():
            pass
        self.close()
        return self.results, self.items[len(self.results) :]

    def close(self) -> None:
        """Stop the child wherever it is and reap it (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.pid is not None:
            _kill_and_reap(self.pid)
            self.pid = None

    def _receive(self) -> bool:
        """Read until one more record is whole; False when the child is done, dead or late."""
        assert self.fd is not None
        deadline = time.monotonic() + self.seconds_per_item
        while (record := _record(self.buffer)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return False
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return False
            self.buffer += chunk
        try:
            self.results.append(marshal.loads(record))
        except (EOFError, ValueError, TypeError):
            return False
        return True


def _record(buffer: bytearray) -> bytes | None:
    """The first whole record, taken out of buffer; None while it is incomplete."""
    if len(buffer) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack_from(buffer)
    end = _LENGTH.size + min(length, _MAX_RECORD_BYTES)
    if len(buffer) < end:
        return None
    record = bytes(buffer[_LENGTH.size : end])
    del buffer[:end]
    return record


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def can_fork(host: Host) -> bool:
    """Only the live host's reads can be made from a child (its class says so, not inherited): a recording
    host would lose what the child read, a replay host holds nothing worth a second core."""
    return hasattr(os, "fork") and vars(type(host)).get("FORKABLE") is True


@contextmanager
def forked(
    host: Host, items: Sequence[T], produce: Callable[[Sequence[T]], Iterable[Any]], seconds_per_item: float
) -> Iterator[Child[T]]:
    """Run produce(items) in a forked child while the caller goes on; `collect()` the results. The child is
    killed and reaped on the way out, whatever happened."""
    child = _start(host, items, produce, seconds_per_item)
    try:
        yield child
    finally:
        child.close()


def _start(
    host: Host, items: Sequence[T], produce: Callable[[Sequence[T]], Iterable[Any]], seconds_per_item: float
) -> Child[T]:
    if not items or not can_fork(host):
        return Child(items, None, None, seconds_per_item)
    read_fd, write_fd = os.pipe()
    # The operator's signals wait until the child has its own handlers: this process's raise, and in the
    # child that would unwind into the caller's code (a runner worker would go on running checks there).
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _OPERATOR_SIGNALS)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_fd)
                _serve(write_fd, items, produce, blocked)
            finally:
                os._exit(1)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    os.close(write_fd)
    return Child(items, pid, read_fd, seconds_per_item)


def _serve(fd: int, items: Sequence[T], produce: Callable[[Sequence[T]], Iterable[Any]], mask: Iterable[int]) -> None:
    """The child: each result as one record, then out without running this process's exit handlers."""
    code = 1
    try:
        for signum in _OPERATOR_SIGNALS:  # not this process's handlers: they unwind its outputs
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a Ctrl-C that came meanwhile ends the child here
        fd = _detach(fd)
        for result in produce(items):
            data = marshal.dumps(result)
            _write_all(fd, _LENGTH.pack(len(data)) + data)
        code = 0
    finally:
        os._exit(code)


def _detach(fd: int) -> int:
    """Keep only the result pipe (returned, moved above the standard streams) and /dev/null as standard
    streams. A probe's pipe held open here would keep its reader waiting (run_process kills whatever still
    holds a finished probe's pipes), an output's file would stay open, and nothing the child might print
    may reach the terminal."""
    if fd <= 2:
        fd = fcntl.fcntl(fd, fcntl.F_DUPFD, 3)
    null = os.open(os.devnull, os.O_RDWR)
    for standard in (0, 1, 2):
        os.dup2(null, standard)
    os.closerange(3, fd)
    os.closerange(fd + 1, max(os.sysconf("SC_OPEN_MAX"), fd + 1))
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
