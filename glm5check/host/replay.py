"""The replay host: answers every question from a snapshot and never touches the machine.

A question the snapshot has no answer for gets the answer of a machine that lacks the thing asked
about (command not found, file missing, no interfaces), so hand-made snapshots stay small.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Sequence
from typing import Any

from glm5check.errors import ProbeFailed
from glm5check.host.base import (
    DEFAULT_TIMEOUT_S,
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
from glm5check.host.snapshot import SnapshotData, digest_key

NOT_RECORDED = "not recorded in the snapshot"


def _covers_key(key: tuple[str, int, int], offset: int, length: int) -> bool:
    return key[1] <= offset and offset + length <= key[1] + key[2]


def _covers(read: BytesRead, offset: int, length: int) -> bool:
    return _covers_key((read.path, read.offset, read.length), offset, length)


class ReplayHost:
    def __init__(self, data: SnapshotData, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.data = data
        self.timeout_s = timeout_s
        self.last_covering: BytesRead | None = None  # the recorded read a part was last cut from
        self.lock = threading.Lock()

    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        key = tuple(str(a) for a in argv)
        return self.data.commands.get(key) or CommandResult(key, not_found=True)

    def which(self, name: str, extra_dirs: Sequence[str] = ()) -> str | None:
        return self.data.which.get(name)

    def read_file(self, path: str) -> FileRead:
        return self.data.files.get(path) or FileRead(path, error="missing")

    def read_bytes(self, path: str, offset: int, length: int) -> BytesRead:
        found = self.data.byte_reads.get((path, offset, length))
        return found or self._part_of_recorded(path, offset, length) or BytesRead(path, offset, length, error="missing")

    def _part_of_recorded(self, path: str, offset: int, length: int) -> BytesRead | None:
        """A part of a longer recorded read of the same file (an older glm5check read a big index in one
        piece where this one reads it in chunks). The longer read is kept while its parts are asked for."""
        with self.lock:
            whole = self.last_covering
            if whole is None or whole.path != path or not _covers(whole, offset, length):
                keys = [key for key in self.data.byte_reads if key[0] == path and _covers_key(key, offset, length)]
                if not keys:
                    return None
                whole = self.last_covering = self.data.byte_reads[min(keys, key=lambda key: key[2])]
        if whole.data is None:
            return BytesRead(path, offset, length, error=whole.error)
        start = offset - whole.offset
        return BytesRead(path, offset, length, data=whole.data[start : start + length], error=whole.error)

    def list_dir(self, path: str) -> DirListing:
        return self.data.listings.get(path) or DirListing(path, error="missing")

    def stat(self, path: str) -> StatInfo:
        return self.data.stats.get(path) or StatInfo(path, error="missing")

    def env(self) -> dict[str, str]:
        return dict(self.data.env or {})

    def disk_usage(self, path: str) -> DiskUsage:
        return self.data.disk_usage.get(path) or DiskUsage(path, error=NOT_RECORDED)

    def mounts(self) -> tuple[Mount, ...]:
        return self.data.mounts or ()

    def _failed(self, key: str) -> None:
        if key in self.data.system_errors:
            raise ProbeFailed(self.data.system_errors[key])

    def interfaces(self) -> tuple[Interface, ...]:
        self._failed("interfaces")
        return self.data.interfaces or ()

    def listening_sockets(self) -> tuple[ListeningSocket, ...]:
        self._failed("sockets")
        return self.data.sockets or ()

    def processes(self) -> tuple[Process, ...]:
        self._failed("processes")
        return self.data.processes or ()

    def resources(self) -> Resources:
        self._failed("resources")
        return self.data.resources or Resources()

    def hostname(self) -> str:
        return self.data.hostname or str(self.data.meta.get("hostname", "unknown"))

    def resolve(self, name: str) -> tuple[str, ...]:
        return self.data.resolved.get(name, ())

    def tcp_connect(self, address: str, port: int, timeout_s: float | None = None) -> ConnectResult:
        return self.data.connects.get((address, port)) or ConnectResult(address, port, "error", NOT_RECORDED)

    def probe(
        self, kind: str, key: str, func: Callable[[], Any], timeout_s: float | None = None
    ) -> ProbeValue:
        return self.data.probes.get((kind, key)) or ProbeValue(kind, key, error=NOT_RECORDED)

    def recall(self, kind: str, subject: str, code: str) -> Any:
        """The snapshot's digest, only when its key is the one this code and the recorded inputs make: a
        digest written by other code, or beside inputs edited since, is ignored (the inputs are re-read)."""
        digest = self.data.digests.get((kind, subject))
        if digest is None or digest.key is None:
            return None
        return digest.value if hmac.compare_digest(digest.key, digest_key(self.data, subject, code)) else None

    def remember(
        self, kind: str, subject: str, code: str, value: Any, recompute: Callable[[Host], Any] | None = None
    ) -> None:
        return None  # a replay changes nothing
