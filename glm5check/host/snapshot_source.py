"""Where a snapshot's parts are read from: a folder, or a .tar.gz read into memory. Never trusted.

A snapshot comes from another machine and another person. Reading one must not read this machine's
files, fill its disk or memory, or take unbounded time, whatever the snapshot holds:

- every part is named relative to the snapshot (glm5check.host.paths): an index entry naming `../x` or
  `/etc/shadow`, or a symlink in a snapshot folder that leads out of it, is refused;
- an archive is read as a stream, in memory, and never extracted: a member must be a regular file or a
  folder (no symlink, hard link, device, FIFO or sparse file) with a name that stays inside the archive;
  the decompressed bytes are counted and reading stops beyond ARCHIVE_EXPANDED_CAP_BYTES (a
  decompression bomb never gets further than that);
- every part is at most PART_CAP_BYTES, a snapshot holds at most MAX_PARTS parts, and one replay reads
  at most READ_BUDGET_BYTES from it (a gzipped byte read counts with its decompressed size).

Every refusal is a SnapshotError (exit code 2) that names the snapshot, the part and the reason.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    import tarfile  # imported where an archive is read: a replay of a folder never needs it (start-up time)

from glm5check.errors import ConfigError
from glm5check.host.inputs import InputError, read_input_bytes
from glm5check.host.paths import ConfinedFolder, PathEscape, relative_parts

MIB = 1 << 20
# Command outputs and copied files are capped at 4 MiB when recorded, big byte reads are gzipped: a part
# bigger than this was not written by glm5check (and is not read into memory).
PART_CAP_BYTES = 64 * MIB
# A recorded GLM-5-w4a8 node is ~5 MiB on disk and ~80 MiB once its gzipped headers are expanded.
ARCHIVE_EXPANDED_CAP_BYTES = 512 * MIB
READ_BUDGET_BYTES = 1024 * MIB
# Files in a snapshot folder, members of an archive, entries of one index (a node records a few hundred).
MAX_PARTS = 100_000


class SnapshotError(ConfigError):
    """A snapshot that cannot be read or written (exit code 2)."""


class Source(Protocol):
    """A snapshot's parts by relative name ("commands/index.json")."""

    label: str

    def exists(self, name: str) -> bool: ...

    def is_file(self, name: str) -> bool: ...

    def read(self, name: str) -> bytes: ...

    def names(self, folder: str) -> list[str]: ...

    def charge(self, count: int, name: str) -> None: ...


class _Budget:
    """Bytes handed out by one source: refused beyond READ_BUDGET_BYTES (thread-safe: shards are read in
    parallel)."""

    def __init__(self, label: str) -> None:
        self.label, self.used, self.lock = label, 0, threading.Lock()

    def charge(self, count: int, name: str) -> None:
        with self.lock:
            self.used += count
            if self.used > READ_BUDGET_BYTES:
                raise SnapshotError(
                    f"snapshot {self.label}: reading {name} goes beyond {READ_BUDGET_BYTES // MIB} MiB read in "
                    "one replay; this is not a snapshot glm5check wrote"
                )


def _escape(label: str, exc: PathEscape) -> SnapshotError:
    return SnapshotError(f"snapshot {label}: refused a part outside the snapshot: {exc}")


class FolderSource:
    """A snapshot folder; every name is confined to it (symlinks inside that stay inside are followed)."""

    def __init__(self, root: Path) -> None:
        self.root, self.label = root, str(root)
        self._real_root = os.path.realpath(root)
        self._budget = _Budget(self.label)
        self._parts = ConfinedFolder(self.label, self._real_root)

    def _lexical(self, name: str) -> Path:
        try:
            return self.root.joinpath(*relative_parts(name))
        except PathEscape as exc:
            raise _escape(self.label, exc) from None

    def exists(self, name: str) -> bool:
        """Whether the part is there (a dangling link or a symlink loop counts: reading it says why)."""
        return os.path.lexists(self._lexical(name))

    def is_file(self, name: str) -> bool:
        path = self._lexical(name)
        return path.is_file()

    def read(self, name: str) -> bytes:
        try:
            data = read_input_bytes(self._parts.join(name), "snapshot file", PART_CAP_BYTES, self._real_root)
        except PathEscape as exc:
            raise _escape(self.label, exc) from None
        except InputError as exc:
            raise SnapshotError(str(exc)) from None
        self._budget.charge(len(data), name)
        return data

    def names(self, folder: str) -> list[str]:
        """Every non-folder entry under folder (relative to the snapshot, sorted; links not followed)."""
        top = self.root / folder
        found: list[str] = []
        for base, dirs, files in os.walk(top):
            dirs.sort()
            for entry in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
                found.append(Path(base, entry).relative_to(self.root).as_posix())
                if len(found) > MAX_PARTS:
                    raise SnapshotError(f"snapshot {self.label}: more than {MAX_PARTS} files under {folder}/")
        return sorted(found)

    def charge(self, count: int, name: str) -> None:
        self._budget.charge(count, name)


class MemorySource:
    """The parts of a snapshot archive, read into memory."""

    def __init__(self, label: str, parts: dict[str, bytes]) -> None:
        self.label, self.parts = label, parts
        self._budget = _Budget(label)

    def exists(self, name: str) -> bool:
        return self._key(name) in self.parts

    def is_file(self, name: str) -> bool:
        return self.exists(name)

    def _key(self, name: str) -> str:
        try:
            return "/".join(relative_parts(name))
        except PathEscape as exc:
            raise _escape(self.label, exc) from None

    def read(self, name: str) -> bytes:
        key = self._key(name)
        if key not in self.parts:
            raise SnapshotError(f"cannot read snapshot file {self.label}:{key}: missing")
        data = self.parts[key]
        self._budget.charge(len(data), name)
        return data

    def names(self, folder: str) -> list[str]:
        prefix = folder.rstrip("/") + "/"
        return sorted(name for name in self.parts if name.startswith(prefix))

    def charge(self, count: int, name: str) -> None:
        self._budget.charge(count, name)


class _Counted:
    """A decompressed stream that refuses to give more than `cap` bytes in all."""

    def __init__(self, stream: gzip.GzipFile, cap: int, label: str) -> None:
        self.stream, self.cap, self.label, self.count = stream, cap, label, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size if size >= 0 else self.cap + 1)
        self.count += len(chunk)
        if self.count > self.cap:
            raise SnapshotError(
                f"cannot read snapshot archive {self.label}: it expands to more than "
                f"{self.cap // MIB} MiB (a decompression bomb, or not a glm5check snapshot)"
            )
        return chunk


def _member_problem(member: tarfile.TarInfo) -> str | None:
    """Why a member is refused (None when it is a regular file or a folder of bounded size)."""
    if member.isdir():
        return None
    if not member.isreg():
        return f"is {_link_kind(member)}; a snapshot holds only files and folders"
    if member.issparse():
        return "is a sparse file; a snapshot holds only plain files"
    if member.size > PART_CAP_BYTES:
        return f"is larger than {PART_CAP_BYTES // MIB} MiB"
    return None


def _link_kind(member: tarfile.TarInfo) -> str:
    import tarfile

    kinds = {
        tarfile.SYMTYPE: "a symbolic link",
        tarfile.LNKTYPE: "a hard link",
        tarfile.CHRTYPE: "a character device",
        tarfile.BLKTYPE: "a block device",
        tarfile.FIFOTYPE: "a FIFO",
    }
    return kinds.get(member.type, "a special file")


def _read_members(archive: tarfile.TarFile, label: str) -> dict[str, bytes]:
    parts: dict[str, bytes] = {}
    for count, member in enumerate(archive, start=1):
        if count > MAX_PARTS:
            raise SnapshotError(f"cannot read snapshot archive {label}: more than {MAX_PARTS} members")
        if member.isdir() and member.name.strip("/") in ("", "."):
            continue  # the archive's own root (`tar czf x.tgz -C folder .`)
        try:
            key = "/".join(relative_parts(member.name))
        except PathEscape as exc:
            raise SnapshotError(f"cannot read snapshot archive {label}: member {exc}") from None
        problem = _member_problem(member)
        if problem is not None:
            raise SnapshotError(f"cannot read snapshot archive {label}: member {member.name} {problem}")
        if member.isdir():
            continue
        if key in parts:
            raise SnapshotError(f"cannot read snapshot archive {label}: member {member.name} appears twice")
        handle = archive.extractfile(member)
        data = handle.read(PART_CAP_BYTES + 1) if handle is not None else b""
        if len(data) != member.size:
            raise SnapshotError(f"cannot read snapshot archive {label}: member {member.name} is cut short")
        parts[key] = data
    return parts


def _regular_file(source: Path) -> None:
    try:
        mode = source.stat().st_mode
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot archive {source}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise SnapshotError(f"cannot read snapshot archive {source}: not a regular file")


def archive_source(source: Path) -> MemorySource:
    """The snapshot inside a .tar.gz file: the parts under its first top folder holding a snapshot.json."""
    _regular_file(source)
    try:
        with source.open("rb") as raw:
            return _stream_source(raw, str(source))
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot archive {source}: {exc.strerror or exc}") from None


def archive_bytes_source(data: bytes, label: str) -> MemorySource:
    """The snapshot inside a .tar.gz held in memory (streamed by another node's `snapshot -o -`)."""
    return _stream_source(io.BytesIO(data), label)


def _stream_source(raw: BinaryIO, label: str) -> MemorySource:
    import tarfile

    try:
        with gzip.GzipFile(fileobj=raw) as unzipped:
            counted = _Counted(unzipped, ARCHIVE_EXPANDED_CAP_BYTES, label)
            with tarfile.open(fileobj=counted, mode="r|") as archive:  # type: ignore[call-overload]
                parts = _read_members(archive, label)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(":")
        raise SnapshotError(f"cannot read snapshot archive {label}: {reason or 'not a .tar.gz'}") from None
    roots = sorted(name.split("/")[0] for name in parts if name.count("/") == 1 and name.endswith("/snapshot.json"))
    if not roots:
        raise SnapshotError(f"{label} holds no snapshot.json")
    prefix = roots[0] + "/"
    inner = {name[len(prefix) :]: data for name, data in parts.items() if name.startswith(prefix)}
    return MemorySource(label, inner)


def gunzip(payload: bytes, limit: int, label: str) -> bytes:
    """A gzipped byte read, never more than the length that was asked for."""
    try:
        inflater = zlib.decompressobj(wbits=31)
        return inflater.decompress(payload, limit)
    except zlib.error as exc:
        raise SnapshotError(f"snapshot file {label} is not gzip data: {exc}") from None
