"""The live host: reads this machine, with a timeout on every call and output caps.

Subprocesses get an argument list (never a shell), a new session so that a timeout kills the whole
process group, no standard input, and the C locale so that tools print their untranslated format.
Filesystem reads run on a watchdog thread so that a hung mount cannot hang the tool.
"""

from __future__ import annotations

import atexit
import errno
import os
import queue
import re
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar, cast

from glm5check.errors import ProbeFailed
from glm5check.host.base import (
    DEFAULT_TIMEOUT_S,
    FILE_CAP_BYTES,
    OUTPUT_CAP_BYTES,
    Address,
    BytesRead,
    CapturedRun,
    CommandResult,
    ConnectResult,
    DirListing,
    DiskUsage,
    FileRead,
    Host,
    Interface,
    ListeningSocket,
    Mount,
    ProbeValue,
    Process,
    Resources,
    StatInfo,
)
from glm5check.host.filekinds import file_kind, os_error_text
from glm5check.host.scancache import ScanCache
from glm5check.util.numbers import whole

T = TypeVar("T")
UNLIMITED = -1  # how Resources records an unlimited rlimit (None means unknown)


_REAP_S = 5.0  # how long a killed child may take to be reaped


class _TimedOut(Exception):
    pass


class _Job(NamedTuple):
    func: Callable[[], Any]
    outcome: dict[str, Any]
    done: threading.Event


class _Watchdog(threading.Thread):
    """A daemon thread that runs the live host's blocking calls one at a time and waits for the next. A
    call that does not answer in time is abandoned with its thread (a hung mount); one that answers puts
    its thread back among the idle ones. Starting a thread per call cost ~0.7 ms in a busy run (the
    weights scan makes hundreds of reads)."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="glm5check-probe")
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                job.outcome["value"] = job.func()
            except BaseException as exc:  # handed back to the caller in _bounded
                job.outcome["error"] = exc
            finally:
                job.done.set()
            del job  # an idle thread holds no answer (a shard header, a chunk of an index)
            _IDLE.append(self)


_IDLE: deque[_Watchdog] = deque()
# A forked child (host/forked.py) has none of these threads, only their objects.
os.register_at_fork(after_in_child=_IDLE.clear)


def _watchdog() -> _Watchdog:
    try:
        return _IDLE.pop()
    except IndexError:
        watchdog = _Watchdog()
        watchdog.start()
        return watchdog


def _bounded(func: Callable[[], T], timeout_s: float) -> T:
    """Run func on an idle watchdog thread and give up after timeout_s (the thread is abandoned)."""
    job = _Job(func, {}, threading.Event())
    _watchdog().jobs.put(job)
    if not job.done.wait(timeout_s):
        raise _TimedOut(f"no answer within {timeout_s:g} s")
    if "error" in job.outcome:
        raise job.outcome["error"]
    return cast(T, job.outcome["value"])


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# Every child runs in the C locale (tools print their untranslated format) and writes nothing it need
# not: no Python bytecode caches (an interpreter that honours the environment), no git index refresh.
CHILD_ENV = {"LC_ALL": "C", "LANG": "C", "PYTHONDONTWRITEBYTECODE": "1", "GIT_OPTIONAL_LOCKS": "0"}
# After the program itself has exited, how long a process it left behind may keep its output open.
EXIT_GRACE_S = 0.5
_POLL_S = 0.05
_HOLDER_SCAN_S = 1.0


# Process groups of the children running now: killed when glm5check exits while they run (Ctrl-C, SIGTERM
# or an error in the main thread); in their own session, the terminal's Ctrl-C does not reach them.
_RUNNING: set[int] = set()


@atexit.register
def _kill_running() -> None:
    for pid in list(_RUNNING):
        _kill_group(pid)


def _exited(pid: int) -> bool:
    """Whether the child has ended, without reaping it (so its process group id cannot be reused yet)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


class _Output:
    """The child's stdout and stderr, read with a deadline from the calling thread (no reader thread
    can be left blocked on a pipe that a grandchild keeps open)."""

    def __init__(self, proc: subprocess.Popen[bytes], caps: tuple[int, int]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.out_fd, self.err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        self.streams = {self.out_fd: bytearray(), self.err_fd: bytearray()}
        self.caps = {self.out_fd: caps[0], self.err_fd: caps[1]}
        self.truncated = False
        self.selector = selectors.DefaultSelector()
        for fd in self.streams:
            self.selector.register(fd, selectors.EVENT_READ)

    @property
    def open(self) -> bool:
        return bool(self.selector.get_map())

    def read_until(self, limit: float) -> None:
        """Read what is there until both pipes end or the monotonic time `limit` (at most _POLL_S)."""
        wait = min(max(0.0, limit - time.monotonic()), _POLL_S)
        for key, _ in self.selector.select(wait):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                self.selector.unregister(key.fd)
                continue
            sink = self.streams[key.fd]
            room = self.caps[key.fd] - len(sink)
            sink += chunk[: max(room, 0)]
            self.truncated = self.truncated or len(chunk) > room

    def pipe_ids(self) -> set[int]:
        return {os.fstat(key.fd).st_ino for key in self.selector.get_map().values()}

    def close(self) -> None:
        self.selector.close()


def _pipe_holders(pipes: set[int]) -> list[int]:
    """Processes other than this one holding one of these pipes: ones the child left behind in a session
    of their own (`setsid`), out of reach of its process group. Bounded in time; unreadable ones skipped."""
    wanted = {f"pipe:[{inode}]" for inode in pipes}
    holders: list[int] = []
    stop = time.monotonic() + _HOLDER_SCAN_S
    for entry in os.scandir("/proc"):
        if time.monotonic() > stop:
            break
        pid = whole(entry.name)
        if pid is None or pid == os.getpid():
            continue
        try:
            links = {os.readlink(fd.path) for fd in os.scandir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if links & wanted:
            holders.append(pid)
    return holders


def _end_everything(pid: int, output: _Output) -> None:
    """Kill the child's process group, then any process still holding its pipes."""
    _kill_group(pid)
    if output.open:
        for holder in _pipe_holders(output.pipe_ids()):
            try:
                os.kill(holder, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _signal_text(exit_code: int | None) -> str | None:
    if exit_code is None or exit_code >= 0:
        return None
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        name = "an unknown signal"
    return f"killed by signal {-exit_code} ({name}) before it finished; its output is not used"


def _watch(
    proc: subprocess.Popen[bytes], output: _Output, timeout_s: float, stop: threading.Event | None
) -> str | None:
    """Read the child's output until it ends: None when it exited, "timeout" at the deadline, "stopped"
    when stop is set. EXIT_GRACE_S after it exited, output still held open by what it started is cut."""
    deadline = time.monotonic() + timeout_s
    exited_at: float | None = None
    while exited_at is None or output.open:
        if stop is not None and stop.is_set():
            return "stopped"
        if exited_at is None and _exited(proc.pid):
            exited_at = time.monotonic()
        limit = deadline if exited_at is None else min(deadline, exited_at + EXIT_GRACE_S)
        if time.monotonic() >= limit:
            return None if exited_at is not None or _exited(proc.pid) else "timeout"
        if output.open:
            output.read_until(limit)
        else:  # the pipes ended first: wait for the program itself
            time.sleep(_POLL_S / 5)
    return None


def run_process(
    argv: Sequence[str],
    timeout_s: float,
    stdout_cap: int = OUTPUT_CAP_BYTES,
    stderr_cap: int = OUTPUT_CAP_BYTES,
    stop: threading.Event | None = None,
    extra_env: dict[str, str] | None = None,
) -> CapturedRun:
    """The one way glm5check starts a process: an argument list (never a shell), no standard input, its
    own session, output read with a deadline and capped (read on to the end so that the child never
    blocks). At the timeout, when `stop` is set, or EXIT_GRACE_S after the program exited while something
    it started still holds its output, the whole process group and every process still holding its pipes
    are killed; nothing it started outlives the call (nor glm5check: see _kill_running)."""
    argv_t = tuple(str(a) for a in argv)
    try:
        proc = subprocess.Popen(
            argv_t,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=dict(os.environ, **CHILD_ENV, **(extra_env or {})),
        )
    except FileNotFoundError:
        return CapturedRun(argv_t, not_found=True, timeout_s=timeout_s)
    except OSError as exc:
        return CapturedRun(argv_t, error=os_error_text(exc), timeout_s=timeout_s)
    output = _Output(proc, (stdout_cap, stderr_cap))
    _RUNNING.add(proc.pid)
    try:
        ended = _watch(proc, output, timeout_s, stop)
        _end_everything(proc.pid, output)
        try:
            exit_code: int | None = proc.wait(timeout=_REAP_S)  # killed: reaped at once, unless in D state
        except subprocess.TimeoutExpired:
            exit_code = None
    finally:
        _RUNNING.discard(proc.pid)
        output.close()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    if ended is not None:
        exit_code = None
    error = "stopped before it finished (interrupted)" if ended == "stopped" else _signal_text(exit_code)
    return CapturedRun(
        argv=argv_t,
        exit_code=exit_code,
        stdout=bytes(output.streams[output.out_fd]),
        stderr=bytes(output.streams[output.err_fd]),
        timed_out=ended == "timeout",
        error=error,
        truncated=output.truncated,
        timeout_s=timeout_s,
        stopped=ended == "stopped",
    )


class LiveHost:
    # Its reads may be made from a forked child (host/forked.py). Declared on this class alone: a subclass
    # that records or counts what is read would lose what the child read.
    FORKABLE = True

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, cache_dir: str | None = None) -> None:
        self.timeout_s = timeout_s
        self.cache = ScanCache(cache_dir, lambda func: _bounded(func, timeout_s)) if cache_dir else None

    # -- results remembered across runs (opt-in: --cache-dir) ---------------------------------------
    def recall(self, kind: str, subject: str, code: str) -> Any:
        return self.cache.recall(kind, subject, code) if self.cache else None

    def remember(
        self, kind: str, subject: str, code: str, value: Any, recompute: Callable[[Host], Any] | None = None
    ) -> None:
        if self.cache:
            self.cache.remember(kind, subject, code, value)

    # -- commands ---------------------------------------------------------------------------------
    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        return run_process(argv, self.timeout_s if timeout_s is None else timeout_s).decoded()

    def which(self, name: str, extra_dirs: Sequence[str] = ()) -> str | None:
        found = shutil.which(name)
        if found:
            return found
        for folder in extra_dirs:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    # -- files --------------------------------------------------------------------------------------
    def read_file(self, path: str) -> FileRead:
        def read() -> tuple[bytes, bool]:
            with open(path, "rb") as handle:
                data = handle.read(FILE_CAP_BYTES + 1)
            return data[:FILE_CAP_BYTES], len(data) > FILE_CAP_BYTES

        try:
            data, truncated = _bounded(read, self.timeout_s)
        except OSError as exc:
            return FileRead(path, error=os_error_text(exc))
        except _TimedOut as exc:
            return FileRead(path, error=str(exc))
        return FileRead(path, text=data.decode("utf-8", errors="replace"), truncated=truncated)

    def read_bytes(self, path: str, offset: int, length: int) -> BytesRead:
        def read() -> bytes:
            with open(path, "rb") as handle:
                handle.seek(offset)
                return handle.read(length)

        try:
            return BytesRead(path, offset, length, data=_bounded(read, self.timeout_s))
        except OSError as exc:
            return BytesRead(path, offset, length, error=os_error_text(exc))
        except _TimedOut as exc:
            return BytesRead(path, offset, length, error=str(exc))

    def list_dir(self, path: str) -> DirListing:
        try:
            entries = _bounded(lambda: sorted(os.listdir(path)), self.timeout_s)
        except OSError as exc:
            return DirListing(path, error=os_error_text(exc))
        except _TimedOut as exc:
            return DirListing(path, error=str(exc))
        return DirListing(path, entries=tuple(entries))

    def stat(self, path: str) -> StatInfo:
        try:
            return _bounded(lambda: _stat(path), self.timeout_s)
        except _TimedOut as exc:
            return StatInfo(path, error=str(exc))

    def disk_usage(self, path: str) -> DiskUsage:
        try:
            fs = _bounded(lambda: os.statvfs(path), self.timeout_s)
        except OSError as exc:
            return DiskUsage(path, error=os_error_text(exc))
        except _TimedOut as exc:
            return DiskUsage(path, error=str(exc))
        return DiskUsage(
            path,
            total_bytes=fs.f_blocks * fs.f_frsize,
            used_bytes=(fs.f_blocks - fs.f_bfree) * fs.f_frsize,
            free_bytes=fs.f_bavail * fs.f_frsize,
        )

    def mounts(self) -> tuple[Mount, ...]:
        table = self.read_file("/proc/self/mounts")
        return parse_mounts(table.text or "")

    # -- system -----------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def _interfaces(self) -> tuple[Interface, ...]:
        import psutil

        families = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6", psutil.AF_LINK: "mac"}
        stats = psutil.net_if_stats()
        result = []
        for name, addrs in sorted(psutil.net_if_addrs().items()):
            st = stats.get(name)
            result.append(
                Interface(
                    name=name,
                    is_up=st.isup if st else None,
                    mtu=st.mtu if st else None,
                    speed_mbps=(st.speed or None) if st else None,
                    addresses=tuple(
                        Address(families[a.family], a.address.split("%")[0], a.netmask)
                        for a in addrs
                        if a.family in families
                    ),
                )
            )
        return tuple(result)

    def _listening_sockets(self) -> tuple[ListeningSocket, ...]:
        import psutil

        sockets = []
        for conn in psutil.net_connections(kind="inet"):
            is_tcp = conn.type == socket.SOCK_STREAM
            if is_tcp and conn.status != psutil.CONN_LISTEN:
                continue
            if not conn.laddr or (not is_tcp and conn.raddr):
                continue
            proto = ("tcp" if is_tcp else "udp") + ("6" if conn.family == socket.AF_INET6 else "")
            sockets.append(ListeningSocket(proto, conn.laddr.ip, conn.laddr.port, conn.pid, _process_name(conn.pid)))
        return tuple(sorted(set(sockets), key=lambda s: (s.port, s.protocol, s.address)))

    def _processes(self) -> tuple[Process, ...]:
        import psutil

        found = []
        for proc in psutil.process_iter(["pid", "name", "cmdline"]):
            info = proc.info
            found.append(Process(info["pid"], info["name"] or "", tuple(info["cmdline"] or ())))
        return tuple(found)

    def _resources(self) -> Resources:
        import resource

        import psutil

        memory = psutil.virtual_memory()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return Resources(
            cpu_count=len(os.sched_getaffinity(0)),
            cpu_count_total=os.cpu_count(),
            mem_total_bytes=memory.total,
            mem_available_bytes=memory.available,
            nofile_soft=UNLIMITED if soft == resource.RLIM_INFINITY else soft,
            nofile_hard=UNLIMITED if hard == resource.RLIM_INFINITY else hard,
        )

    def interfaces(self) -> tuple[Interface, ...]:
        return _system_read("network interfaces", self._interfaces, self.timeout_s)

    def listening_sockets(self) -> tuple[ListeningSocket, ...]:
        return _system_read("listening sockets", self._listening_sockets, self.timeout_s)

    def processes(self) -> tuple[Process, ...]:
        return _system_read("the process table", self._processes, self.timeout_s)

    def resources(self) -> Resources:
        return _system_read("CPU and memory resources", self._resources, self.timeout_s)

    def hostname(self) -> str:
        return socket.gethostname()

    def resolve(self, name: str) -> tuple[str, ...]:
        try:
            infos = _bounded(lambda: socket.getaddrinfo(name, None), self.timeout_s)
        except (OSError, _TimedOut):
            return ()
        return tuple(sorted({str(info[4][0]) for info in infos}))

    def tcp_connect(self, address: str, port: int, timeout_s: float | None = None) -> ConnectResult:
        timeout = self.timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            with socket.create_connection((address, port), timeout=timeout):
                return ConnectResult(address, port, "connected", elapsed_ms=elapsed())
        except ConnectionRefusedError:
            return ConnectResult(address, port, "refused", "connection refused", elapsed())
        except TimeoutError:
            return ConnectResult(address, port, "timeout", f"no answer within {timeout:g} s", elapsed())
        except OSError as exc:
            unreachable = exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN)
            outcome = "unreachable" if unreachable else "error"
            return ConnectResult(address, port, outcome, exc.strerror or str(exc), elapsed())

    def probe(self, kind: str, key: str, func: Callable[[], Any], timeout_s: float | None = None) -> ProbeValue:
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            return ProbeValue(kind, key, value=_bounded(func, timeout))
        except _TimedOut:
            return ProbeValue(kind, key, error=f"no answer within {timeout:g} s", timed_out=True)
        except Exception as exc:
            return ProbeValue(kind, key, error=f"{type(exc).__name__}: {exc}")


def _system_read(what: str, func: Callable[[], T], timeout_s: float) -> T:
    """System tables read through psutil: bounded in time, and a failure is a ProbeFailed with the reason."""
    try:
        return _bounded(func, timeout_s)
    except _TimedOut as exc:
        raise ProbeFailed(f"{what} could not be read: {exc}") from None
    except Exception as exc:
        raise ProbeFailed(f"{what} could not be read: {type(exc).__name__}: {exc}") from None


def _process_name(pid: int | None) -> str | None:
    if pid is None:
        return None
    import psutil

    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return None


def _stat(path: str) -> StatInfo:
    try:
        link_target = os.readlink(path) if os.path.islink(path) else None
    except OSError:
        link_target = None
    try:
        st = os.stat(path)
    except OSError as exc:
        if link_target is not None:
            return StatInfo(path, link_target=link_target, error=f"broken symlink ({os_error_text(exc)})")
        return StatInfo(path, error=os_error_text(exc))
    kind = file_kind(st.st_mode)
    return StatInfo(path, kind, st.st_size, st.st_mode, st.st_uid, st.st_mtime, link_target)


def parse_mounts(text: str) -> tuple[Mount, ...]:
    """Parse /proc/self/mounts (octal escapes such as \\040 for spaces are decoded)."""

    def unescape(field: str) -> str:
        # Only the kernel's three-digit octal escapes; a stray backslash stays as it is.
        return re.sub(r"\\([0-7]{3})", lambda m: chr(whole(m.group(1), base=8) or 0), field) if "\\" in field else field

    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            mounts.append(Mount(unescape(parts[0]), unescape(parts[1]), parts[2], parts[3]))
    return tuple(mounts)
