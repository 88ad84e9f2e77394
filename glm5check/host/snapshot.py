"""Snapshots: every answer the host gave during a run, as a directory a person can read and edit.

Layout (documented for users in docs/snapshot.md):

    snapshot.json              what was recorded: tool version, time, hostname, profile, options
    report.json                the report of the recorded run
    commands/index.json        one entry per command: argv, exit code, timeout, output file names
    commands/NNN-<name>.out    its stdout (and .err for stderr), as text
    files/index.json           every file read: path -> error / truncated
    files/<absolute path>      the content of each file read
    bytes/index.json           partial reads (safetensors headers): path, offset, length, error, data file
    bytes/NNNN.bin             their bytes (NNNN.bin.gz, gzipped, when larger than 64 KiB)
    system/*.json              env, resources, interfaces, sockets, processes, mounts, hostname, resolve,
                               disk_usage, stat, listdir, which, connect
    probes/<kind>.json         structured probes (e.g. git state of a source checkout) keyed by their key
    digests/<kind>.json        results computed from the raw reads (the weights scan), by subject (a folder):
                               {"key": sha256 of the code that computed it and of every recorded input about
                               the subject, as stored here; "value": the result}. A replay uses one only
                               when it makes the same key (see digest_key); otherwise it reads the raw inputs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from glm5check.errors import ConfigError
from glm5check.host.base import (
    Address,
    BytesRead,
    CommandResult,
    ConnectResult,
    DirListing,
    DiskUsage,
    FileRead,
    Interface,
    ListeningSocket,
    Mount,
    ProbeValue,
    Process,
    Resources,
    StatInfo,
)
from glm5check.host.inputs import InputError, read_input_bytes
from glm5check.util import safejson
from glm5check.util.numbers import whole_value

SNAPSHOT_SCHEMA = "glm5check.snapshot/v1"
BYTES_GZIP_ABOVE = 64 * 1024
# Command outputs and copied files are capped at 4 MiB when recorded; indexes are small. A bigger part
# was not written by glm5check (and is not read into memory).
SNAPSHOT_PART_CAP_BYTES = 64 * 1024 * 1024


class SnapshotError(ConfigError):
    """A snapshot that cannot be read or written (exit code 2)."""


@dataclass
class Digest:
    """A result computed from the recorded reads about a subject (JSON). Recorded with the hash of the code
    that computed it; the key is made from that and the inputs when the snapshot is written, and is what a
    snapshot read back holds."""

    value: Any
    code: str | None = None
    key: str | None = None


@dataclass
class SnapshotData:
    """Everything a host answered, keyed by the question. Recording fills it; replay reads it."""

    meta: dict[str, Any] = field(default_factory=dict)
    commands: dict[tuple[str, ...], CommandResult] = field(default_factory=dict)
    which: dict[str, str | None] = field(default_factory=dict)
    files: dict[str, FileRead] = field(default_factory=dict)
    byte_reads: MutableMapping[tuple[str, int, int], BytesRead] = field(default_factory=dict)
    listings: dict[str, DirListing] = field(default_factory=dict)
    stats: dict[str, StatInfo] = field(default_factory=dict)
    disk_usage: dict[str, DiskUsage] = field(default_factory=dict)
    resolved: dict[str, tuple[str, ...]] = field(default_factory=dict)
    connects: dict[tuple[str, int], ConnectResult] = field(default_factory=dict)
    probes: dict[tuple[str, str], ProbeValue] = field(default_factory=dict)
    env: dict[str, str] | None = None
    mounts: tuple[Mount, ...] | None = None
    interfaces: tuple[Interface, ...] | None = None
    sockets: tuple[ListeningSocket, ...] | None = None
    processes: tuple[Process, ...] | None = None
    resources: Resources | None = None
    hostname: str | None = None
    report: dict[str, Any] | None = None
    # System reads that failed (e.g. "sockets" -> "listening sockets could not be read: …"), replayed as failures.
    system_errors: dict[str, str] = field(default_factory=dict)
    digests: dict[tuple[str, str], Digest] = field(default_factory=dict)  # (kind, subject) -> digest
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


# -- writing -----------------------------------------------------------------------------------------


def _slug(argv: tuple[str, ...]) -> str:
    words = [Path(argv[0]).name, *argv[1:4]]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(words)).strip("_")[:60] or "command"


class _DirSink:
    """Writes snapshot parts as files below a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, name: str, content: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


class _TarSink:
    """Adds snapshot parts to an open tar archive under one top folder, straight from memory."""

    def __init__(self, archive: tarfile.TarFile, folder: str) -> None:
        self.archive, self.folder, self.mtime = archive, folder, int(time.time())

    def put(self, name: str, content: bytes) -> None:
        info = tarfile.TarInfo(f"{self.folder}/{name}")
        info.size, info.mtime, info.mode = len(content), self.mtime, 0o644
        self.archive.addfile(info, io.BytesIO(content))


_Sink = _DirSink | _TarSink


_SURROGATE = re.compile("[\ud800-\udfff]")


def _dump(sink: _Sink, name: str, value: Any, compact: bool = False) -> None:
    """JSON a person can read (indented), or compact for what a replay reads whole (the digests)."""
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, **layout)
    # A byte that is not UTF-8 (an environment value, a process's argument) is a lone surrogate here:
    # kept as its \udcXX escape, valid JSON that reads back to the same string, so replay sees that byte.
    text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    sink.put(name, (text + "\n").encode("utf-8"))


def _file_copy_name(path: str) -> str:
    return "files/" + path.lstrip("/")


def _file_copy_path(root: Path, path: str) -> Path:
    return root / _file_copy_name(path)


def write_snapshot(data: SnapshotData, target: str | Path) -> Path:
    """Write the snapshot as a directory, or as a .tar.gz when target ends with .tar.gz / .tgz."""
    target = Path(target)
    try:
        if target.name.endswith((".tar.gz", ".tgz")):
            with target.open("wb") as stream:
                write_snapshot_archive(data, stream, target.name.split(".t")[0])
        else:
            _write_parts(data, _DirSink(target))
    except OSError as exc:
        raise SnapshotError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def write_snapshot_archive(data: SnapshotData, stream: BinaryIO, folder: str = "snapshot") -> None:
    """Stream the snapshot as a .tar.gz (one top folder) to a binary stream, e.g. standard output; nothing
    is written to disk on the way."""
    with tarfile.open(fileobj=stream, mode="w|gz") as archive:
        _write_parts(data, _TarSink(archive, folder))


def _write_parts(data: SnapshotData, sink: _Sink) -> None:
    _dump(sink, "snapshot.json", {"schema": SNAPSHOT_SCHEMA, **data.meta})
    if data.report is not None:
        _dump(sink, "report.json", data.report)
    _write_commands(data, sink)
    _write_files(data, sink)
    stored = _write_bytes(data, sink)
    _write_digests(data, sink, stored)
    singles: dict[str, Any] = {
        "env": data.env,
        "mounts": _listed(data.mounts),
        "interfaces": _listed(data.interfaces),
        "sockets": _listed(data.sockets),
        "processes": _listed(data.processes),
        "resources": plain(data.resources) if data.resources else None,
        "hostname": data.hostname,
    }
    for name, value in singles.items():
        if value is not None:
            _dump(sink, f"system/{name}.json", value)
    keyed: dict[str, Any] = {
        "which": data.which,
        "listdir": {k: plain(v) for k, v in data.listings.items()},
        "stat": {k: plain(v) for k, v in data.stats.items()},
        "disk_usage": {k: plain(v) for k, v in data.disk_usage.items()},
        "resolve": {k: list(v) for k, v in data.resolved.items()},
        "connect": [plain(v) for v in data.connects.values()],
        "errors": data.system_errors,
    }
    for name, value in keyed.items():
        if value:
            _dump(sink, f"system/{name}.json", value)
    by_kind: dict[str, dict[str, Any]] = {}
    for (kind, key), value in data.probes.items():
        by_kind.setdefault(kind, {})[key] = {"value": value.value, "error": value.error, "timed_out": value.timed_out}
    for kind, values in by_kind.items():
        _dump(sink, f"probes/{re.sub(r'[^A-Za-z0-9_.-]+', '_', kind)}.json", values)


def plain(answer: Any) -> Any:
    """A host answer (a named tuple, possibly holding others, as Interface holds its Addresses) as JSON
    values: what asdict() did for the dataclasses they were."""
    if isinstance(answer, tuple) and hasattr(answer, "_asdict"):
        return {key: plain(value) for key, value in answer._asdict().items()}
    if isinstance(answer, (list, tuple)):
        return [plain(value) for value in answer]
    return answer


def _listed(items: tuple[Any, ...] | None) -> list[dict[str, Any]] | None:
    return None if items is None else [plain(item) for item in items]


def _write_commands(data: SnapshotData, sink: _Sink) -> None:
    if not data.commands:
        return
    index = []
    for number, (argv, result) in enumerate(sorted(data.commands.items()), start=1):
        entry = plain(result)
        stem = f"{number:03d}-{_slug(argv)}"
        for stream, suffix in (("stdout", "out"), ("stderr", "err")):
            text = entry.pop(stream)
            entry[stream] = None
            if text:
                name = f"{stem}.{suffix}"
                sink.put(f"commands/{name}", text.encode("utf-8"))
                entry[stream] = name
        index.append(entry)
    _dump(sink, "commands/index.json", index)


def _write_files(data: SnapshotData, sink: _Sink) -> None:
    if not data.files:
        return
    index = {}
    for path, read in sorted(data.files.items()):
        index[path] = {"error": read.error, "truncated": read.truncated}
        if read.text is not None:
            sink.put(_file_copy_name(path), read.text.encode("utf-8"))
    _dump(sink, "files/index.json", index)


def _stored_form(data: bytes) -> tuple[str, bytes]:
    """The file suffix and bytes a byte read is stored as: reads over BYTES_GZIP_ABOVE (shard headers, the
    chunks of a GLM-5-w4a8 index or quant description) are gzipped, ~15x smaller; gzip without a time stamp,
    so the same read is always stored as the same bytes."""
    if len(data) > BYTES_GZIP_ABOVE:
        return ".bin.gz", gzip.compress(data, 6, mtime=0)
    return ".bin", data


def _write_bytes(data: SnapshotData, sink: _Sink) -> dict[tuple[str, int, int], str]:
    """Write the byte reads; the sha256 of each one's stored bytes (for digest keys)."""
    stored_sha: dict[tuple[str, int, int], str] = {}
    if not data.byte_reads:
        return stored_sha
    index = []
    for number, ((path, offset, length), read) in enumerate(sorted(data.byte_reads.items()), start=1):
        entry: dict[str, Any] = {"path": path, "offset": offset, "length": length, "error": read.error, "data": None}
        if read.data is not None:
            suffix, payload = _stored_form(read.data)
            name = f"{number:04d}{suffix}"
            sink.put(f"bytes/{name}", payload)
            entry["data"] = name
            stored_sha[(path, offset, length)] = hashlib.sha256(payload).hexdigest()
        index.append(entry)
    _dump(sink, "bytes/index.json", index)
    return stored_sha


def _write_digests(data: SnapshotData, sink: _Sink, stored_sha: dict[tuple[str, int, int], str]) -> None:
    by_kind: dict[str, dict[str, Any]] = {}
    for (kind, subject), digest in sorted(data.digests.items()):
        key = digest.key
        if digest.code is not None:
            key = _key(digest.code, inputs_digest(data, subject, stored_sha.get))
        by_kind.setdefault(kind, {})[subject] = {"key": key, "value": digest.value}
    for kind, values in by_kind.items():
        _dump(sink, f"digests/{re.sub(r'[^A-Za-z0-9_.-]+', '_', kind)}.json", values, compact=True)


# -- digest keys ---------------------------------------------------------------------------------------


def _key(code: str, inputs: str) -> str:
    return hashlib.sha256(f"{code}\0{inputs}".encode()).hexdigest()


def _inside(path: str, subject: str) -> bool:
    return path == subject or path.startswith(subject.rstrip("/") + "/")


def inputs_digest(data: SnapshotData, subject: str, stored_sha: Callable[[tuple[str, int, int]], str | None]) -> str:
    """sha256 of every recorded answer about subject and below (listings, stats, files, and each byte read
    as its error and the sha256 of its stored bytes): what a digest was computed from."""
    digest = hashlib.sha256()

    def add(*value: Any) -> None:
        digest.update(json.dumps(value, sort_keys=True, ensure_ascii=False).encode() + b"\n")

    for kind, answers in (("listdir", data.listings), ("stat", data.stats), ("file", data.files)):
        for path in sorted(p for p in answers if _inside(p, subject)):
            add(kind, plain(answers[path]))
    for key in sorted(k for k in data.byte_reads if _inside(k[0], subject)):
        add("bytes", *key, _read_error(data, key), stored_sha(key))
    return digest.hexdigest()


def _read_error(data: SnapshotData, key: tuple[str, int, int]) -> str | None:
    reads = data.byte_reads
    return reads.entries[key][1] if isinstance(reads, LazyByteReads) and key in reads.entries else reads[key].error


def digest_key(data: SnapshotData, subject: str, code: str) -> str:
    """The key a digest of subject computed by `code` must carry to be used in a replay of data."""
    reads = data.byte_reads
    if isinstance(reads, LazyByteReads):
        return _key(code, inputs_digest(data, subject, reads.stored_sha256))

    def stored_sha(key: tuple[str, int, int]) -> str | None:
        read = reads[key].data
        return None if read is None else hashlib.sha256(_stored_form(read)[1]).hexdigest()

    return _key(code, inputs_digest(data, subject, stored_sha))


# -- reading -----------------------------------------------------------------------------------------

MAX_ARCHIVE_MEMBERS = 100_000


def archive_report(data: bytes, cap: int) -> str:
    """The report.json of a snapshot .tar.gz held in memory (as `snapshot -o -` streams it), at most cap
    bytes, read without extracting anything; SnapshotError when the bytes are not such an archive."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for count, member in enumerate(archive):
                if count >= MAX_ARCHIVE_MEMBERS:
                    raise SnapshotError(f"more than {MAX_ARCHIVE_MEMBERS} members before report.json")
                if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/report.json"):
                    if member.size > cap:
                        raise SnapshotError(f"its report.json is larger than {cap >> 20} MiB")
                    handle = archive.extractfile(member)
                    return (handle.read(cap) if handle else b"").decode("utf-8", errors="replace")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise SnapshotError((str(exc).splitlines() or [type(exc).__name__])[0] or "not a .tar.gz") from None
    raise SnapshotError("no report.json in it")


def _part(path: Path) -> bytes:
    """One file of a snapshot (a regular file of bounded size), or SnapshotError."""
    try:
        return read_input_bytes(path, "snapshot file", SNAPSHOT_PART_CAP_BYTES)
    except InputError as exc:
        raise SnapshotError(str(exc)) from None


def _gunzip(payload: bytes, limit: int, path: Path) -> bytes:
    """A gzipped byte read, never more than the length that was asked for."""
    try:
        inflater = zlib.decompressobj(wbits=31)
        return inflater.decompress(payload, limit)
    except zlib.error as exc:
        raise SnapshotError(f"snapshot file {path} is not gzip data: {exc}") from None


def _load(path: Path, default: Any = None) -> Any:
    if not os.path.lexists(path):  # a dangling link or a symlink loop is an error, not an absent part
        return default
    try:
        return safejson.loads(_part(path))
    except safejson.JsonProblem as exc:
        raise SnapshotError(f"snapshot file {path} is not readable JSON: {exc}") from None


def _tupled(cls: type, values: dict[str, Any]) -> Any:
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**fixed)
    except TypeError as exc:
        raise SnapshotError(f"snapshot entry does not fit {cls.__name__}: {exc}") from None


def _interface(values: dict[str, Any]) -> Interface:
    addresses = [_tupled(Address, a) for a in values.get("addresses", ())]
    return _tupled(Interface, {**values, "addresses": addresses})


def read_snapshot(source: str | Path) -> SnapshotData:
    """Read a snapshot directory or .tar.gz into memory."""
    source = Path(source)
    if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
        return _read_archive(source)
    if not source.is_dir():
        raise SnapshotError(f"snapshot {source} not found (expected a directory or a .tar.gz)")
    if not (source / "snapshot.json").exists():
        raise SnapshotError(f"{source} is not a glm5check snapshot (no snapshot.json)")
    return _read_dir(source)


def _read_archive(source: Path) -> SnapshotData:
    try:
        with tempfile.TemporaryDirectory(prefix="glm5check-replay-") as tmp, tarfile.open(source) as archive:
            archive.extractall(tmp, filter="data")
            roots = [p for p in Path(tmp).iterdir() if (p / "snapshot.json").exists()]
            if not roots:
                raise SnapshotError(f"{source} holds no snapshot.json")
            data = _read_dir(roots[0])
            if isinstance(data.byte_reads, LazyByteReads):
                data.byte_reads.keep_in_memory()  # the directory goes away: keep the stored (gzipped) bytes
            return data
    except (tarfile.TarError, OSError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(":")
        raise SnapshotError(f"cannot read snapshot archive {source}: {reason or 'not a .tar.gz'}") from None


def _read_dir(root: Path) -> SnapshotData:
    data = SnapshotData()
    meta = _load(root / "snapshot.json", {})
    if meta.get("schema") != SNAPSHOT_SCHEMA:
        raise SnapshotError(f"{root}: unsupported snapshot schema {meta.get('schema')!r}")
    data.meta = {k: v for k, v in meta.items() if k != "schema"}
    data.report = _load(root / "report.json")
    for entry in _load(root / "commands" / "index.json", []):
        for stream in ("stdout", "stderr"):
            name = entry.get(stream)
            entry[stream] = _part(root / "commands" / name).decode("utf-8", errors="replace") if name else ""
        result = _tupled(CommandResult, entry)
        data.commands[result.argv] = result
    for path, entry in _load(root / "files" / "index.json", {}).items():
        copy = _file_copy_path(root, path)
        text = _part(copy).decode("utf-8", errors="replace") if copy.is_file() else None
        data.files[path] = FileRead(path, text, entry.get("error"), bool(entry.get("truncated")))
    _read_unindexed_files(root, data)
    data.byte_reads = _byte_reads(root / "bytes")
    system = root / "system"
    data.env = _load(system / "env.json")
    data.hostname = _load(system / "hostname.json")
    mounts = _load(system / "mounts.json")
    data.mounts = None if mounts is None else tuple(_tupled(Mount, m) for m in mounts)
    interfaces = _load(system / "interfaces.json")
    data.interfaces = None if interfaces is None else tuple(_interface(i) for i in interfaces)
    sockets = _load(system / "sockets.json")
    data.sockets = None if sockets is None else tuple(_tupled(ListeningSocket, s) for s in sockets)
    processes = _load(system / "processes.json")
    data.processes = None if processes is None else tuple(_tupled(Process, p) for p in processes)
    resources = _load(system / "resources.json")
    data.resources = None if resources is None else _tupled(Resources, resources)
    data.which = _load(system / "which.json", {})
    data.listings = {k: _tupled(DirListing, v) for k, v in _load(system / "listdir.json", {}).items()}
    data.stats = {k: _tupled(StatInfo, v) for k, v in _load(system / "stat.json", {}).items()}
    data.disk_usage = {k: _tupled(DiskUsage, v) for k, v in _load(system / "disk_usage.json", {}).items()}
    data.resolved = {k: tuple(v) for k, v in _load(system / "resolve.json", {}).items()}
    data.system_errors = dict(_load(system / "errors.json", {}))
    for entry in _load(system / "connect.json", []):
        result = _tupled(ConnectResult, entry)
        data.connects[(result.address, result.port)] = result
    data.digests = _read_digests(root / "digests")
    for probe_file in sorted((root / "probes").glob("*.json")) if (root / "probes").is_dir() else []:
        for key, entry in _load(probe_file, {}).items():
            kind = probe_file.stem
            data.probes[(kind, key)] = ProbeValue(
                kind, key, entry.get("value"), entry.get("error"), bool(entry.get("timed_out"))
            )
    return data


def _read_digests(folder: Path) -> dict[tuple[str, str], Digest]:
    """The digests a snapshot holds; a damaged digest file only means the raw inputs are read."""
    digests: dict[tuple[str, str], Digest] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            values = _load(path, {})
        except SnapshotError:
            continue
        for subject, entry in values.items() if isinstance(values, dict) else ():
            if isinstance(entry, dict) and isinstance(entry.get("key"), str) and "value" in entry:
                digests[(path.stem, subject)] = Digest(entry["value"], key=entry["key"])
    return digests


class LazyByteReads(MutableMapping[tuple[str, int, int], BytesRead]):
    """A snapshot directory's byte reads, each loaded (and gunzipped) from its file when asked for and not
    kept: the GLM-5-w4a8 demo holds ~73 MB of header and index JSON that a replay reads once (or not at all,
    when the weights scan's digest is used)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries: dict[tuple[str, int, int], tuple[str | None, str | None]] = {}  # -> (data file, error)
        self.loaded: dict[tuple[str, int, int], BytesRead] = {}  # reads stored by a caller, kept as given
        self.in_memory: dict[str, bytes] | None = None  # data file -> its stored bytes (an unpacked archive)

    def keep_in_memory(self) -> None:
        """Hold every data file's stored bytes (gzipped as they are), for a folder about to be deleted."""
        self.in_memory = {blob: _part(self.folder / blob) for blob, _ in self.entries.values() if blob}

    def stored(self, blob: str) -> bytes:
        return self.in_memory[blob] if self.in_memory is not None else _part(self.folder / blob)

    def stored_sha256(self, key: tuple[str, int, int]) -> str | None:
        """The sha256 of the bytes a read is stored as (not gunzipped): what digest keys are made of."""
        if key in self.loaded:
            data = self.loaded[key].data
            return None if data is None else hashlib.sha256(_stored_form(data)[1]).hexdigest()
        blob = self.entries[key][0]
        try:
            return None if blob is None else hashlib.sha256(self.stored(blob)).hexdigest()
        except SnapshotError:
            return "unreadable"

    def __getitem__(self, key: tuple[str, int, int]) -> BytesRead:
        if key in self.loaded:
            return self.loaded[key]
        blob, error = self.entries[key]
        if blob is None:
            return BytesRead(*key, error=error)
        try:
            payload = self.stored(blob)
            data = _gunzip(payload, key[2], self.folder / blob) if blob.endswith(".gz") else payload
            return BytesRead(*key, data=data, error=error)
        except SnapshotError as exc:  # a part damaged after the snapshot was opened
            return BytesRead(*key, error=str(exc))

    def __contains__(self, key: object) -> bool:  # without loading the blob, as Mapping's would
        return key in self.loaded or key in self.entries

    def __setitem__(self, key: tuple[str, int, int], value: BytesRead) -> None:
        self.loaded[key] = value

    def __delitem__(self, key: tuple[str, int, int]) -> None:
        found = self.loaded.pop(key, None) or self.entries.pop(key, None)
        if found is None:
            raise KeyError(key)

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        yield from self.entries
        yield from (key for key in self.loaded if key not in self.entries)

    def __len__(self) -> int:
        return len(self.entries.keys() | self.loaded.keys())


def _byte_reads(folder: Path) -> LazyByteReads:
    """The index of byte reads; each data file must be there now (a missing one is a broken snapshot)."""
    reads = LazyByteReads(folder)
    for entry in _load(folder / "index.json", []):
        blob = entry.get("data")
        if blob and not (folder / blob).is_file():
            raise SnapshotError(f"snapshot file {folder / blob} is missing or not a regular file")
        offset, length = whole_value(entry.get("offset"), 0), whole_value(entry.get("length"), 0)
        if offset is None or length is None:
            raise SnapshotError(f"snapshot file {folder / 'index.json'}: offset and length must be whole numbers")
        reads.entries[(entry["path"], offset, length)] = (blob, entry.get("error"))
    return reads


def _read_unindexed_files(root: Path, data: SnapshotData) -> None:
    """Files a person dropped under files/ by hand count as readable files with that content."""
    files_root = root / "files"
    if not files_root.is_dir():
        return
    for copy in files_root.rglob("*"):
        if copy.is_file() and copy != files_root / "index.json":
            path = "/" + copy.relative_to(files_root).as_posix()
            if path not in data.files:
                data.files[path] = FileRead(path, _part(copy).decode("utf-8", errors="replace"))


class SnapshotWriter:
    """Builds a snapshot by hand: used by tests and by the demo builder (fixtures/demo/build.py)."""

    def __init__(self, profile: str, hostname: str = "node", options: dict[str, Any] | None = None) -> None:
        self.data = SnapshotData(
            meta={
                "tool": {"name": "glm5check", "version": "hand-made"},
                "created": "2026-01-01T00:00:00Z",
                "hostname": hostname,
                "profile": profile,
                "options": dict(options or {}),
            },
            hostname=hostname,
        )

    def command(
        self, argv: Sequence[str], stdout: str = "", stderr: str = "", exit_code: int | None = 0, **flags: Any
    ) -> None:
        key = tuple(argv)
        self.data.commands[key] = CommandResult(key, exit_code, stdout, stderr, **flags)

    def which(self, name: str, path: str | None) -> None:
        self.data.which[name] = path

    def file(self, path: str, text: str | None = None, error: str | None = None) -> None:
        self.data.files[path] = FileRead(path, text, error)

    def bytes(self, path: str, offset: int, length: int, data: bytes | None = None, error: str | None = None) -> None:
        self.data.byte_reads[(path, offset, length)] = BytesRead(path, offset, length, data, error)

    def listing(self, path: str, entries: Sequence[str] | None = None, error: str | None = None) -> None:
        self.data.listings[path] = DirListing(path, None if entries is None else tuple(entries), error)

    def stat(self, path: str, kind: str | None = "file", size: int | None = 0, **fields: Any) -> None:
        self.data.stats[path] = StatInfo(path, kind, size, **fields)

    def env(self, values: dict[str, str]) -> None:
        """Add variables to the recorded environment (several demo parts each add their own)."""
        self.data.env = {**(self.data.env or {}), **values}

    def disk_usage(self, path: str, total: int, used: int, free: int) -> None:
        self.data.disk_usage[path] = DiskUsage(path, total, used, free)

    def mounts(self, mounts: Sequence[Mount]) -> None:
        self.data.mounts = tuple(mounts)

    def interfaces(self, interfaces: Sequence[Interface]) -> None:
        self.data.interfaces = tuple(interfaces)

    def sockets(self, sockets: Sequence[ListeningSocket]) -> None:
        self.data.sockets = tuple(sockets)

    def processes(self, processes: Sequence[Process]) -> None:
        self.data.processes = tuple(processes)

    def resources(self, resources: Resources) -> None:
        self.data.resources = resources

    def resolve(self, name: str, addresses: Sequence[str]) -> None:
        self.data.resolved[name] = tuple(addresses)

    def connect(self, result: ConnectResult) -> None:
        self.data.connects[(result.address, result.port)] = result

    def probe(self, kind: str, key: str, value: Any = None, error: str | None = None) -> None:
        self.data.probes[(kind, key)] = ProbeValue(kind, key, value, error)

    def digest(self, kind: str, subject: str, code: str, value: Any) -> None:
        """A result computed from the reads recorded about subject (its key is made when written)."""
        self.data.digests[(kind, subject)] = Digest(value, code=code)

    def write(self, target: str | Path) -> Path:
        return write_snapshot(self.data, target)
