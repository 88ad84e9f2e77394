"""The recording host: a live host that keeps every answer for `glm5check snapshot`.

Secrets are redacted as they are recorded (environment values, credentials in command output, in copied
files, in other processes' command lines and in structured probe answers), so a snapshot is safe to
attach to a support ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from glm5check.errors import ProbeFailed
from glm5check.host.base import (
    BytesRead,
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
from glm5check.host.live import LiveHost
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import Digest, SnapshotData
from glm5check.util.redact import redact_argv, redact_env, redact_text, redact_tree


class RecordingHost:
    def __init__(self, live: LiveHost, data: SnapshotData | None = None) -> None:
        self.live = live
        self.timeout_s = live.timeout_s
        self.data = data or SnapshotData()

    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        result = self.live.run(argv, timeout_s)
        with self.data.lock:
            self.data.commands[result.argv] = result._replace(
                stdout=redact_text(result.stdout), stderr=redact_text(result.stderr)
            )
        return result

    def which(self, name: str, extra_dirs: Sequence[str] = ()) -> str | None:
        found = self.live.which(name, extra_dirs)
        with self.data.lock:
            self.data.which[name] = found
        return found

    def read_file(self, path: str) -> FileRead:
        read = self.live.read_file(path)
        with self.data.lock:
            self.data.files[path] = read._replace(text=None if read.text is None else redact_text(read.text))
        return read

    def read_bytes(self, path: str, offset: int, length: int) -> BytesRead:
        read = self.live.read_bytes(path, offset, length)
        with self.data.lock:
            self.data.byte_reads[(path, offset, length)] = read
        return read

    def list_dir(self, path: str) -> DirListing:
        listing = self.live.list_dir(path)
        with self.data.lock:
            self.data.listings[path] = listing
        return listing

    def stat(self, path: str) -> StatInfo:
        info = self.live.stat(path)
        with self.data.lock:
            self.data.stats[path] = info
        return info

    def env(self) -> dict[str, str]:
        env = self.live.env()
        with self.data.lock:
            self.data.env = redact_env(env)
        return env

    def disk_usage(self, path: str) -> DiskUsage:
        usage = self.live.disk_usage(path)
        with self.data.lock:
            self.data.disk_usage[path] = usage
        return usage

    def mounts(self) -> tuple[Mount, ...]:
        mounts = self.live.mounts()
        with self.data.lock:
            self.data.mounts = mounts
        return mounts

    def _system(self, key: str, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except ProbeFailed as exc:
            with self.data.lock:
                self.data.system_errors[key] = str(exc)
            raise

    def interfaces(self) -> tuple[Interface, ...]:
        interfaces = self._system("interfaces", self.live.interfaces)
        with self.data.lock:
            self.data.interfaces = interfaces
        return interfaces

    def listening_sockets(self) -> tuple[ListeningSocket, ...]:
        sockets = self._system("sockets", self.live.listening_sockets)
        with self.data.lock:
            self.data.sockets = sockets
        return sockets

    def processes(self) -> tuple[Process, ...]:
        processes = self._system("processes", self.live.processes)
        recorded = tuple(p._replace(cmdline=tuple(redact_argv(p.cmdline))) for p in processes)
        with self.data.lock:
            self.data.processes = recorded
        return processes

    def resources(self) -> Resources:
        resources = self._system("resources", self.live.resources)
        with self.data.lock:
            self.data.resources = resources
        return resources

    def hostname(self) -> str:
        name = self.live.hostname()
        with self.data.lock:
            self.data.hostname = name
        return name

    def resolve(self, name: str) -> tuple[str, ...]:
        addresses = self.live.resolve(name)
        with self.data.lock:
            self.data.resolved[name] = addresses
        return addresses

    def tcp_connect(self, address: str, port: int, timeout_s: float | None = None) -> ConnectResult:
        result = self.live.tcp_connect(address, port, timeout_s)
        with self.data.lock:
            self.data.connects[(address, port)] = result
        return result

    def probe(self, kind: str, key: str, func: Callable[[], Any], timeout_s: float | None = None) -> ProbeValue:
        value = self.live.probe(kind, key, func, timeout_s)
        error = None if value.error is None else redact_text(value.error)
        with self.data.lock:
            self.data.probes[(kind, key)] = value._replace(value=redact_tree(value.value), error=error)
        return value

    def recall(self, kind: str, subject: str, code: str) -> Any:
        return None  # a snapshot holds what was read now, so the subject is always read (and recorded)

    def remember(
        self, kind: str, subject: str, code: str, value: Any, recompute: Callable[[Host], Any] | None = None
    ) -> None:
        """The digest goes into the snapshot beside the raw reads (its key is made when they are written),
        computed again from those reads as recorded (redacted): it never holds what the snapshot does not."""
        if recompute is not None:
            value = recompute(ReplayHost(self.data, self.timeout_s))
        with self.data.lock:
            self.data.digests[(kind, subject)] = Digest(value, code=code)
