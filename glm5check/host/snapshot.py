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
import json
import re
import threading
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

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
from glm5check.host.output import OutputError, TreeSink, archive_to_stream, atomic_archive, atomic_folder
from glm5check.host.paths import PathEscape, member_name, within
from glm5check.host.snapshot_source import (
    MAX_PARTS,
    PART_CAP_BYTES,
    FolderSource,
    Source,
    archive_bytes_source,
    archive_source,
    gunzip,
)
from glm5check.host.snapshot_source import (
    SnapshotError as SnapshotError,  # re-exported: callers catch it from here
)
from glm5check.util import safejson
from glm5check.util.lazyre import lazy

SNAPSHOT_SCHEMA = "glm5check.snapshot/v1"
BYTES_GZIP_ABOVE = 64 * 1024
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


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
    digests: dict[tuple[str, str], Digest] = field(default_factory=dict)  # (kind, subject) -> digest
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
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


# -- writing -----------------------------------------------------------------------------------------


def _slug(argv: tuple[str, ...]) -> str:
    words = [Path(argv[0]).name, *argv[1:4]]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(words)).strip("_")[:60] or "command"


_SURROGATE = lazy("[\ud800-\udfff]")


def _dump(sink: TreeSink, name: str, value: Any, compact: bool = False) -> None:
    """JSON a person can read (indented), or compact for what a replay reads whole (the digests)."""
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, **layout)
    # A byte that is not UTF-8 (an environment value, a process's argument) is a lone surrogate here:
    # kept as its \udcXX escape, valid JSON that reads back to the same string, so replay sees that byte.
    text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    sink.put(name, (text + "\n").encode("utf-8"))


def _file_copy_name(path: str) -> str:
    """Where the copy of a file read at path is kept: files/<path, `..` resolved, from />."""
    return "files/" + member_name(path)


def _archive_folder(target: Path) -> str:
    name = target.name
    for suffix in ARCHIVE_SUFFIXES:
        name = name.removesuffix(suffix)
    return name or "snapshot"


def write_snapshot(data: SnapshotData, target: str | Path) -> Path:
    """Write the snapshot as a directory, or as a .tar.gz when target ends with .tar.gz / .tgz; either
    appears whole or not at all (glm5check.host.output)."""
    target = Path(target)
    try:
        if target.name.endswith(ARCHIVE_SUFFIXES):
            with atomic_archive(target, _archive_folder(target)) as sink:
                _write_parts(data, sink)
        else:
            with atomic_folder(target) as sink:
                _write_parts(data, sink)
    except OutputError as exc:
        raise SnapshotError(str(exc)) from None
    return target


def write_snapshot_archive(data: SnapshotData, stream: BinaryIO, folder: str = "snapshot") -> None:
    """Stream the snapshot as a .tar.gz (one top folder) to a binary stream, e.g. standard output; nothing
    is written to disk on the way."""
    with archive_to_stream(stream, folder) as sink:
        _write_parts(data, sink)


def _write_parts(data: SnapshotData, sink: TreeSink) -> None:
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


def _write_commands(data: SnapshotData, sink: TreeSink) -> None:
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


def _write_files(data: SnapshotData, sink: TreeSink) -> None:
    if not data.files:
        return
    index = {}
    copies: dict[str, str] = {}  # copy name -> the path recorded there (two spellings of one file: one copy)
    for path, read in sorted(data.files.items()):
        index[path] = {"error": read.error, "truncated": read.truncated}
        if read.text is not None:
            name = _file_copy_name(path)
            if copies.setdefault(name, path) == path:
                sink.put(name, read.text.encode("utf-8"))
    _dump(sink, "files/index.json", index)


def _stored_form(data: bytes) -> tuple[str, bytes]:
    """The file suffix and bytes a byte read is stored as: reads over BYTES_GZIP_ABOVE (shard headers, the
    chunks of a GLM-5-w4a8 index or quant description) are gzipped, ~15x smaller; gzip without a time stamp,
    so the same read is always stored as the same bytes."""
    if len(data) > BYTES_GZIP_ABOVE:
        return ".bin.gz", gzip.compress(data, 6, mtime=0)
    return ".bin", data


def _write_bytes(data: SnapshotData, sink: TreeSink) -> dict[tuple[str, int, int], str]:
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


def _write_digests(data: SnapshotData, sink: TreeSink, stored_sha: dict[tuple[str, int, int], str]) -> None:
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


def inputs_digest(data: SnapshotData, subject: str, stored_sha: Callable[[tuple[str, int, int]], str | None]) -> str:
    """sha256 of every recorded answer about subject and below (listings, stats, files, and each byte read
    as its error and the sha256 of its stored bytes): what a digest was computed from."""
    digest = hashlib.sha256()

    def add(*value: Any) -> None:
        digest.update(json.dumps(value, sort_keys=True, ensure_ascii=False).encode(errors="surrogatepass") + b"\n")

    for kind, answers in (("listdir", data.listings), ("stat", data.stats), ("file", data.files)):
        for path in sorted(p for p in answers if within(p, subject)):
            add(kind, plain(answers[path]))
    for key in sorted(k for k in data.byte_reads if within(k[0], subject)):
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


def _load(source: Source, name: str, default: Any = None) -> Any:
    if not source.exists(name):  # a dangling link or a symlink loop is an error, not an absent part
        return default
    try:
        return safejson.loads(source.read(name))
    except safejson.JsonProblem as exc:
        raise SnapshotError(f"snapshot file {source.label}/{name} is not readable JSON: {exc}") from None


def _load_as(source: Source, name: str, kind: type[list[Any]] | type[dict[str, Any]]) -> Any:
    """A JSON part that must be a list or an object (absent: empty), with at most MAX_PARTS entries."""
    value = _load(source, name, kind())
    if not isinstance(value, kind):
        raise SnapshotError(f"snapshot file {source.label}/{name} is not a JSON {'list' if kind is list else 'object'}")
    if len(value) > MAX_PARTS:
        raise SnapshotError(f"snapshot file {source.label}/{name} has more than {MAX_PARTS} entries")
    return value


def _objects(source: Source, name: str, kind: type[list[Any]] | type[dict[str, Any]]) -> Any:
    """_load_as, where every entry (of a list) or every value (of an object) is itself an object."""
    value = _load_as(source, name, kind)
    entries = value.values() if isinstance(value, dict) else value
    if not all(isinstance(entry, dict) for entry in entries):
        raise SnapshotError(f"snapshot file {source.label}/{name} holds an entry that is not a JSON object")
    return value


def _text(source: Source, name: str) -> str:
    return source.read(name).decode("utf-8", errors="replace")


def archive_report(data: bytes, cap: int) -> str:
    """The report.json of a snapshot .tar.gz held in memory (as `snapshot -o -` streams it), at most cap
    bytes, read under the same rules as any snapshot archive; SnapshotError when it is not such an archive."""
    source = archive_bytes_source(data, "the streamed snapshot")
    if not source.exists("report.json"):
        raise SnapshotError("no report.json in it")
    report = source.read("report.json")
    if len(report) > min(cap, PART_CAP_BYTES):
        raise SnapshotError(f"its report.json is larger than {cap >> 20} MiB")
    return report.decode("utf-8", errors="replace")


def read_snapshot(source: str | Path) -> SnapshotData:
    """Read a snapshot directory or .tar.gz (untrusted: see glm5check.host.snapshot_source)."""
    path = Path(source)
    if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
        return _read_source(archive_source(path))
    if not path.is_dir():
        raise SnapshotError(f"snapshot {path} not found (expected a directory or a .tar.gz)")
    folder = FolderSource(path)
    if not folder.exists("snapshot.json"):
        raise SnapshotError(f"{path} is not a glm5check snapshot (no snapshot.json)")
    return _read_source(folder)


def _read_source(source: Source) -> SnapshotData:
    data = SnapshotData()
    meta = _load_as(source, "snapshot.json", dict)
    if meta.get("schema") != SNAPSHOT_SCHEMA:
        raise SnapshotError(f"{source.label}: unsupported snapshot schema {meta.get('schema')!r}")
    data.meta = checked_meta({k: v for k, v in meta.items() if k != "schema"}, source.label)
    report = _load(source, "report.json")
    data.report = report if isinstance(report, dict) else None
    _read_commands(source, data)
    _read_files(source, data)
    data.byte_reads = _byte_reads(source)
    _read_system(source, data)
    data.digests = _read_digests(source)
    for probe_file in source.names("probes"):
        if not probe_file.endswith(".json"):
            continue
        kind = probe_file.removeprefix("probes/").removesuffix(".json")
        for key, entry in _objects(source, probe_file, dict).items():
            data.probes[(kind, key)] = ProbeValue(
                kind, key, entry.get("value"), _optional_text(entry.get("error")), bool(entry.get("timed_out"))
            )
    return data


def _read_digests(source: Source) -> dict[tuple[str, str], Digest]:
    """The digests a snapshot holds; a damaged digest file only means the raw inputs are read."""
    digests: dict[tuple[str, str], Digest] = {}
    for name in source.names("digests"):
        if not name.endswith(".json"):
            continue
        try:
            values = _load_as(source, name, dict)
        except SnapshotError:
            continue
        kind = name.removeprefix("digests/").removesuffix(".json")
        for subject, entry in values.items():
            if isinstance(entry, dict) and isinstance(entry.get("key"), str) and "value" in entry:
                digests[(kind, subject)] = Digest(entry["value"], key=entry["key"])
    return digests


# What a recorded field may hold, by its annotation in host/base.py (anything else is not checked here:
# Any, or nested records checked on their own).
_SCALARS: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


def _fits(annotation: str, value: Any) -> bool:
    for option in (part.strip() for part in annotation.split("|")):
        if option == "None":
            if value is None:
                return True
        elif option in _SCALARS:
            number = option in ("int", "float")
            if isinstance(value, _SCALARS[option]) and not (number and isinstance(value, bool)):
                return True
        elif option == "tuple[str, ...]":
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                return True
        else:
            return True
    return False


def typed(cls: type, values: dict[str, Any], label: str) -> Any:
    """A host answer rebuilt from a snapshot entry whose every field has its declared type, else
    SnapshotError naming the field (a string where a number belongs would break a check later)."""
    # A NamedTuple's fields, as written (typing keeps them as ForwardRef('int | None') under PEP 563).
    known = {name: getattr(spec, "__forward_arg__", str(spec)) for name, spec in cls.__annotations__.items()}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SnapshotError(f"snapshot {label}: an entry does not fit {cls.__name__} (unknown field {unknown[0]})")
    for name, annotation in known.items():
        if name in values and not _fits(str(annotation), values[name]):
            raise SnapshotError(f"snapshot {label}: {cls.__name__}.{name} is {values[name]!r:.60}, not {annotation}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**fixed)
    except TypeError as exc:
        raise SnapshotError(f"snapshot {label}: an entry does not fit {cls.__name__}: {exc}") from None


# snapshot.json fields the session reuses, and what each may hold.
_META_TEXT = ("hostname", "profile", "profile_toml", "created")
_OPTION_TEXT = ("python", "model_dir", "node0_ip", "serve_source", "stack", "pd_role")
_OPTION_WORDS = ("script_args", "peer_npu_ips")


def checked_meta(meta: dict[str, Any], label: str) -> dict[str, Any]:
    """snapshot.json without its schema, its fields of the types the session expects (SnapshotError)."""

    def refuse(field_name: str, expected: str) -> SnapshotError:
        return SnapshotError(f"snapshot {label}: snapshot.json field {field_name} is not {expected}")

    for name in _META_TEXT:
        if not isinstance(meta.get(name, ""), str):
            raise refuse(name, "a string")
    options, serve = meta.get("options", {}), meta.get("serve", {})
    if not isinstance(options, dict):
        raise refuse("options", "an object")
    if not isinstance(serve, dict) or not all(isinstance(v, (str, type(None))) for v in serve.values()):
        raise refuse("serve", "an object of strings")
    for name in _OPTION_TEXT:
        if not isinstance(options.get(name), (str, type(None))):
            raise refuse(f"options.{name}", "a string")
    for name in _OPTION_WORDS:
        words = options.get(name, [])
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise refuse(f"options.{name}", "a list of strings")
    rank = options.get("node_rank")
    if rank is not None and not (isinstance(rank, int) and not isinstance(rank, bool)):
        raise refuse("options.node_rank", "a whole number")
    expect = options.get("expect", {})
    if not isinstance(expect, dict) or not all(isinstance(v, str) for v in expect.values()):
        raise refuse("options.expect", "an object of strings")
    return meta


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _read_commands(source: Source, data: SnapshotData) -> None:
    for entry in _objects(source, "commands/index.json", list):
        for stream in ("stdout", "stderr"):
            name = entry.get(stream)
            if name is not None and not isinstance(name, str):
                raise SnapshotError(f"snapshot {source.label}: a command's {stream} is not a file name")
            entry[stream] = _text(source, f"commands/{name}") if name else ""
        result = typed(CommandResult, entry, source.label)
        data.commands[result.argv] = result


def _read_files(source: Source, data: SnapshotData) -> None:
    for path, entry in _objects(source, "files/index.json", dict).items():
        name = _copy_name(source, path)
        text = _text(source, name) if source.is_file(name) else None
        error, truncated = entry.get("error"), entry.get("truncated")
        data.files[path] = FileRead(path, text, _optional_text(error), truncated is True)
    for name in source.names("files"):
        if name != "files/index.json":
            path = "/" + name.removeprefix("files/")
            if path not in data.files:  # dropped under files/ by hand: a readable file with that content
                data.files[path] = FileRead(path, _text(source, name))


def _copy_name(source: Source, path: str) -> str:
    try:
        return _file_copy_name(path)
    except PathEscape as exc:
        raise SnapshotError(f"snapshot {source.label}: files/index.json names {exc}") from None


def _read_system(source: Source, data: SnapshotData) -> None:
    env = _load_as(source, "system/env.json", dict)
    data.env = _strings(env, source.label, "system/env.json") if source.exists("system/env.json") else None
    hostname = _load(source, "system/hostname.json")
    data.hostname = hostname if isinstance(hostname, str) else None
    data.mounts = _records(source, "system/mounts.json", Mount)
    interfaces = _load(source, "system/interfaces.json")
    if interfaces is not None:
        data.interfaces = tuple(_interface(i, source.label) for i in _objects(source, "system/interfaces.json", list))
    data.sockets = _records(source, "system/sockets.json", ListeningSocket)
    data.processes = _records(source, "system/processes.json", Process)
    if source.exists("system/resources.json"):
        data.resources = typed(Resources, _load_as(source, "system/resources.json", dict), source.label)
    data.which = {k: v if isinstance(v, str) else None for k, v in _load_as(source, "system/which.json", dict).items()}
    data.listings = _keyed(source, "system/listdir.json", DirListing)
    data.stats = _keyed(source, "system/stat.json", StatInfo)
    data.disk_usage = _keyed(source, "system/disk_usage.json", DiskUsage)
    data.resolved = {
        name: _address_list(addresses, source.label)
        for name, addresses in _load_as(source, "system/resolve.json", dict).items()
    }
    data.system_errors = _strings(_load_as(source, "system/errors.json", dict), source.label, "system/errors.json")
    for entry in _objects(source, "system/connect.json", list):
        result = typed(ConnectResult, entry, source.label)
        data.connects[(result.address, result.port)] = result


def _strings(values: dict[Any, Any], label: str, name: str) -> dict[Any, str]:
    if not all(isinstance(v, str) for v in values.values()):
        raise SnapshotError(f"snapshot file {label}/{name} holds a value that is not a string")
    return values


def _address_list(addresses: Any, label: str) -> tuple[str, ...]:
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise SnapshotError(f"snapshot file {label}/system/resolve.json holds a value that is not a list of strings")
    return tuple(addresses)


def _records(source: Source, name: str, cls: type) -> Any:
    if not source.exists(name):
        return None
    return tuple(typed(cls, entry, source.label) for entry in _objects(source, name, list))


def _keyed(source: Source, name: str, cls: type) -> dict[str, Any]:
    return {key: typed(cls, entry, source.label) for key, entry in _objects(source, name, dict).items()}


def _interface(values: dict[str, Any], label: str) -> Interface:
    addresses = values.get("addresses", [])
    if not isinstance(addresses, list) or not all(isinstance(a, dict) for a in addresses):
        raise SnapshotError(f"snapshot {label}: an interface's addresses are not a list of objects")
    return typed(Interface, {**values, "addresses": [typed(Address, a, label) for a in addresses]}, label)


class LazyByteReads(MutableMapping[tuple[str, int, int], BytesRead]):
    """A snapshot's byte reads, each loaded (and gunzipped) from its part when asked for and not kept:
    the GLM-5-w4a8 demo holds ~73 MB of header and index JSON that a replay reads once."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.entries: dict[tuple[str, int, int], tuple[str | None, str | None]] = {}  # -> (data part, error)
        self.loaded: dict[tuple[str, int, int], BytesRead] = {}  # reads stored by a caller, kept as given

    def stored_sha256(self, key: tuple[str, int, int]) -> str | None:
        """The sha256 of the bytes a read is stored as (not gunzipped): what digest keys are made of."""
        if key in self.loaded:
            data = self.loaded[key].data
            return None if data is None else hashlib.sha256(_stored_form(data)[1]).hexdigest()
        blob = self.entries[key][0]
        try:
            return None if blob is None else hashlib.sha256(self.source.read(blob)).hexdigest()
        except SnapshotError:
            return "unreadable"

    def __getitem__(self, key: tuple[str, int, int]) -> BytesRead:
        if key in self.loaded:
            return self.loaded[key]
        blob, error = self.entries[key]
        if blob is None:
            return BytesRead(*key, error=error)
        try:
            return BytesRead(*key, data=self._blob(blob, key[2]), error=error)
        except SnapshotError as exc:  # a part damaged after the snapshot was opened, or over the budget
            return BytesRead(*key, error=str(exc))

    def _blob(self, name: str, length: int) -> bytes:
        payload = self.source.read(name)
        if not name.endswith(".gz"):
            return payload
        data = gunzip(payload, length, f"{self.source.label}/{name}")
        self.source.charge(len(data), name)
        return data

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


def _byte_reads(source: Source) -> LazyByteReads:
    """The index of byte reads; each data part must be there now (a missing one is a broken snapshot)."""
    reads = LazyByteReads(source)
    for entry in _objects(source, "bytes/index.json", list):
        blob, path, offset, length = entry.get("data"), entry.get("path"), entry.get("offset"), entry.get("length")
        if not (isinstance(path, str) and _whole(offset) and _whole(length)) or not isinstance(blob, (str, type(None))):
            raise SnapshotError(f"snapshot {source.label}: an entry of bytes/index.json is not path, offset, length")
        if blob and not source.is_file(f"bytes/{blob}"):
            raise SnapshotError(f"snapshot file {source.label}/bytes/{blob} is missing or not a regular file")
        reads.entries[(path, offset, length)] = (f"bytes/{blob}" if blob else None, _optional_text(entry.get("error")))
    return reads


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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
