"""The replay host: answers every question from a snapshot and never touches the machine.

A question the snapshot holds no answer for raises NotRecorded, the same way for every Host method: the
check that needs the answer is a SKIP naming the question (a snapshot made by an older glm5check, or a
plugin asking something new, is never judged on an invented answer). A snapshot made by hand records
absence explicitly: a command with `not_found`, a file with error "missing", `which` with null.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from glm5check.errors import NotRecorded, ProbeFailed
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
        return _answer(self.data.commands, key, f"the command `{' '.join(key)}`")

    def which(self, name: str, extra_dirs: Sequence[str] = ()) -> str | None:
        return _answer(self.data.which, name, f"where {name} is installed")

    def read_file(self, path: str) -> FileRead:
        return _answer(self.data.files, path, f"the file {path}")

    def read_bytes(self, path: str, offset: int, length: int) -> BytesRead:
        key = (path, offset, length)
        if key not in self.data.byte_reads:
            part = self._part_of_recorded(path, offset, length)
            if part is not None:
                return part
        return _answer(self.data.byte_reads, key, f"{length} bytes at {offset} of {path}")

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
        return _answer(self.data.listings, path, f"the listing of {path}")

    def stat(self, path: str) -> StatInfo:
        return _answer(self.data.stats, path, f"stat {path}")

    def env(self) -> dict[str, str]:
        return dict(_recorded(self.data.env, "the environment"))

    def disk_usage(self, path: str) -> DiskUsage:
        return _answer(self.data.disk_usage, path, f"the disk usage of {path}")

    def mounts(self) -> tuple[Mount, ...]:
        return _recorded(self.data.mounts, "the mount table")

    def _failed(self, key: str) -> None:
        if key in self.data.system_errors:
            raise ProbeFailed(self.data.system_errors[key])

    def interfaces(self) -> tuple[Interface, ...]:
        self._failed("interfaces")
        return _recorded(self.data.interfaces, "the network interfaces")

    def listening_sockets(self) -> tuple[ListeningSocket, ...]:
        self._failed("sockets")
        return _recorded(self.data.sockets, "the listening sockets")

    def processes(self) -> tuple[Process, ...]:
        self._failed("processes")
        return _recorded(self.data.processes, "the running processes")

    def resources(self) -> Resources:
        self._failed("resources")
        return _recorded(self.data.resources, "CPU, memory and open-files limits")

    def hostname(self) -> str:
        return _recorded(self.data.hostname or self.data.meta.get("hostname") or None, "the host name")

    def resolve(self, name: str) -> tuple[str, ...]:
        return _answer(self.data.resolved, name, f"the addresses of {name}")

    def tcp_connect(self, address: str, port: int, timeout_s: float | None = None) -> ConnectResult:
        return _answer(self.data.connects, (address, port), f"a TCP connection to {address}:{port}")

    def probe(self, kind: str, key: str, func: Callable[[], Any], timeout_s: float | None = None) -> ProbeValue:
        return _answer(self.data.probes, (kind, key), f"the {kind} probe of {key}")

    def recall(self, kind: str, subject: str, code: str) -> Any:
        """The snapshot's digest, only when its key is the one this code and the recorded inputs make: a
        digest written by other code, or beside inputs edited since, is ignored (the inputs are re-read)."""
        digest = self.data.digests.get((kind, subject))
        if digest is None or digest.key is None:
            return None
        return digest.value if digest.key == digest_key(self.data, subject, code) else None  # nothing secret

    def remember(
        self, kind: str, subject: str, code: str, value: Any, recompute: Callable[[Host], Any] | None = None
    ) -> None:
        return None  # a replay changes nothing


K = TypeVar("K")
V = TypeVar("V")


def _answer(answers: Mapping[K, V], key: K, question: str) -> V:
    """The recorded answer to a keyed question (None is an answer: `which` found nothing)."""
    if key not in answers:
        raise NotRecorded(question)
    return answers[key]


def _recorded(value: V | None, question: str) -> V:
    """A whole-machine answer (environment, interfaces, …) the snapshot holds, or NotRecorded."""
    if value is None:
        raise NotRecorded(question)
    return value
