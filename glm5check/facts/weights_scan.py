"""The weights folder reduced, in one streaming pass, to what the weights checks and memory.fit need.

Read through the host layer only: the listing, config.json, the index and the quant description (in chunks
of JSON_CHUNK_BYTES), and every shard's safetensors header (8 bytes, then the header; never the data). Each
header is validated and folded into running tallies, then dropped:

- per shard: its verdict, tensor count and bytes, header hash;
- per placement class (glm5check.knowledge.placement) and layer: bytes, which is all memory.fit needs to
  place the weights;
- how many tensors the MTP layer (model.layers.<num_hidden_layers>.*) has, and whether its own embedding
  and head are among them;
- order-independent hash sums of (name, shard) and of the names, compared with the same sums over the
  index's weight_map and the quant description (glm5check.parsers.weights_json).

So what is held grows with the number of distinct name patterns and tensor shapes, not with the number of
tensors: a GLM-5-w4a8 folder (237,031 tensors) and the bf16 one (59,870) peak within a few MiB. When the
sums disagree (a shard missing, an index or description that names other tensors, a layout the fast
readers do not vouch for), the index and description are read with json.loads and the headers a second
time, and every disagreement is named exactly as before; only that failure path holds per-tensor maps.
"""

from __future__ import annotations

import gc
import hashlib
import posixpath
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from itertools import filterfalse, repeat
from operator import methodcaller
from typing import Any, NamedTuple

from glm5check.host.base import FILE_CAP_BYTES, Host
from glm5check.host.paths import PathEscape, confined_join
from glm5check.knowledge import glm5
from glm5check.knowledge.placement import classify, layer_of
from glm5check.parsers.safetensors import (
    PREFIX_BYTES,
    HeaderScan,
    Sink,
    header_length,
    looks_like_lfs_pointer,
    prefix_problem,
    scan_header,
)
from glm5check.parsers.weights_json import (
    DescriptionDigest,
    DescriptionReader,
    IndexDigest,
    IndexReader,
    index_hash,
    plain,
)
from glm5check.util import safejson
from glm5check.util.units import MIB

INDEX_FILES = ("model.safetensors.index.json", "quant_model_weights.safetensors.index.json")
QUANT_DESCRIPTION = "quant_model_description.json"
ROT_FILE = "rot.safetensors"  # msModelSlim's QuaRot matrix: not a model layer, never looked up in the description
# Files that only a download in progress (or one that died) leaves behind.
LEFTOVER_SUFFIXES = (".incomplete", ".part", ".partial", ".tmp", ".aria2", ".download", ".lock")
LEFTOVER_NAMES = ("._____temp", ".cache")
# Header reads in flight: enough to overlap a network filesystem's latency. Parsing holds the GIL, so
# more threads do not parse faster (measured on 2 cores); each one only adds a malloc arena that keeps
# its share of the parse garbage (16 workers: +28 MB peak RSS on the demo replay).
SHARD_WORKERS = 4
# Header bytes read ahead of the parser at most (one header always).
READ_AHEAD_BYTES = 2 * MIB
# Stub files smaller than this are read whole, so an LFS pointer can be named as one.
SMALL_FILE_BYTES = 1024
# A GLM-5 bf16 index is about 5 MB; a JSON file far bigger is damaged and is not read into memory.
JSON_CAP_BYTES = 64 * MIB
# Big JSON files are read and digested in chunks of this size (memory stays flat whatever the tensor count).
JSON_CHUNK_BYTES = MIB // 2
# Routed experts' numbers folded into one pattern (memfit classifies by pattern, never by expert number).
_EXPERT_NUMBER = r"\.mlp\.experts\.\d+\."
_EXPERT_PATTERN = ".mlp.experts.0."


class JsonFile(NamedTuple):
    name: str
    data: Any = None
    error: str | None = None  # missing, permission denied, not JSON: ..., is a directory
    sha256: str | None = None  # of the file's text, for the quick fingerprint

    @property
    def present(self) -> bool:
        return self.error != "missing"


class Shard(NamedTuple):
    name: str
    size: int | None = None
    cause: str | None = None  # missing, unreadable, outside, lfs-pointer, truncated, bad-header; None when sound
    detail: str = ""
    header_sha256: str | None = None
    has_header: bool = False  # the header was read (sound or not)
    tensor_count: int = 0  # tensors the header places
    tensor_bytes: int = 0  # the sum of their sizes
    expected_file_size: int | None = None  # 8 + header + last offset, when the header says

    @property
    def ok(self) -> bool:
        return self.cause is None


@dataclass(frozen=True)
class WeightsScan:
    """The folder reduced to what the checks need. A GLM-5-w4a8 index and quant description each name
    ~237k tensors; their per-tensor maps are not kept (`index.data` and `quant.data` hold the other
    fields), only how they disagree with the shard headers."""

    path: str
    error: str | None = None  # the folder itself cannot be listed
    entries: tuple[str, ...] = ()
    config: JsonFile | None = None
    index: JsonFile | None = None  # the first index file present (or the missing default), without weight_map
    quant: JsonFile | None = None  # without its per-tensor entries
    shards: tuple[Shard, ...] = ()
    leftovers: tuple[str, ...] = ()
    fingerprint: str | None = None
    total_bytes: int = 0
    file_count: int = 0
    mapped_count: int = 0  # entries in the index's weight_map
    # (tensor, shard) of every weight_map entry that the header of its shard lacks (or that shard is unread)
    unmapped: tuple[tuple[str, str], ...] = ()
    described_count: int = 0  # shard tensors looked up in the quant description (rot.safetensors aside)
    undescribed: tuple[str, ...] = ()  # those it lacks, sorted
    mtp_layer: int = 78  # model.layers.<this> is the MTP layer (config.json's num_hidden_layers)
    mtp_count: int = 0  # its tensors, in the headers or the index
    mtp_embed_head: tuple[str, ...] = ()  # which of its embed_tokens / shared_head.head copies are there
    # (name, bytes): the headers' bytes per placement class and layer, each under a name of that class and
    # layer (memfit.weights_per_rank places them as it would every tensor)
    tally: tuple[tuple[str, int], ...] = ()

    @property
    def readable(self) -> bool:
        return self.error is None

    @property
    def tensor_count(self) -> int:
        return sum(s.tensor_count for s in self.shards if s.has_header)

    @property
    def mtp_prefix(self) -> str:
        return f"model.layers.{self.mtp_layer}."

    @property
    def complete(self) -> bool:
        return self.readable and bool(self.shards) and all(s.ok for s in self.shards)


def config_data(config: JsonFile | None) -> dict[str, Any]:
    """config.json as a mapping, GLM-5's own when it is missing or not an object."""
    return config.data if config and isinstance(config.data, dict) else glm5.CONFIG


# -- reading the JSON files ------------------------------------------------------------------------------


def _chunks(host: Host, path: str, size: int) -> Iterator[bytes | str]:
    """The file's bytes in chunks of JSON_CHUNK_BYTES (never past the size stat gave); an error text ends it."""
    offset = 0
    while offset < size:
        read = host.read_bytes(path, offset, min(JSON_CHUNK_BYTES, size - offset))
        if read.error or read.data is None:
            yield read.error or "unreadable"
            return
        if not read.data:
            return
        yield read.data
        offset += len(read.data)


class _JsonSource:
    """One JSON file of the folder: its stat verdict, then its content streamed to a reader or loaded whole."""

    def __init__(self, host: Host, folder: str, name: str) -> None:
        self.host, self.name, self.path = host, name, posixpath.join(folder, name)
        self.error: str | None = None
        self.size = 0
        info = host.stat(self.path)
        if not info.exists:
            self.error = info.error or "missing"
        elif info.kind != "file":
            self.error = f"is a {info.kind}, not a file"
        elif info.size is not None and info.size > JSON_CAP_BYTES:
            self.error = f"{info.size // MIB} MiB, larger than any config or index ({JSON_CAP_BYTES // MIB} MiB)"
        self.size = info.size or 0
        self.big = info.size is not None and info.size > FILE_CAP_BYTES

    def stream(self, feed: Callable[[bytes, bool], None], hashed: bool = True) -> JsonFile:
        """Feed the content to feed(chunk, final); the JsonFile without data (its error, and its hash when
        asked: the index's is part of the fingerprint, the description's is not used)."""
        if self.error:
            return JsonFile(self.name, error=self.error)
        if not self.big:  # small files are read as text, as they always were (snapshots hold them so)
            file = self.host.read_file(self.path)
            if file.error or file.text is None:
                return JsonFile(self.name, error=file.error or "unreadable")
            data = file.text.encode()
            feed(data, True)
            return JsonFile(self.name, sha256=hashlib.sha256(data).hexdigest() if hashed else None)
        digest = hashlib.sha256()
        pending: bytes | None = None
        for chunk in _chunks(self.host, self.path, self.size):
            if isinstance(chunk, str):
                return JsonFile(self.name, error=chunk)
            if pending is not None:
                feed(pending, False)
            if hashed:
                digest.update(chunk)
            pending = chunk
        feed(pending or b"", True)
        return JsonFile(self.name, sha256=digest.hexdigest() if hashed else None)

    def load(self) -> JsonFile:
        """The whole file read by safejson (the exact reading: it names what is wrong)."""
        if self.error:
            return JsonFile(self.name, error=self.error)
        if not self.big:
            file = self.host.read_file(self.path)
            if file.error or file.text is None:
                return JsonFile(self.name, error=file.error or "unreadable")
            text, digest = file.text, hashlib.sha256(file.text.encode()).hexdigest()
        else:
            whole = bytearray(self.size)  # filled in place: one copy of the bytes, then the text
            filled = 0
            for chunk in _chunks(self.host, self.path, self.size):
                if isinstance(chunk, str):
                    return JsonFile(self.name, error=chunk)
                whole[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
            del whole[filled:]
            text, digest = _text_and_digest(whole)
            del whole
        try:
            return JsonFile(self.name, data=safejson.loads(text, max_chars=JSON_CAP_BYTES), sha256=digest)
        except safejson.JsonProblem as exc:
            return JsonFile(self.name, error=f"not JSON: {exc}", sha256=digest)


def _text_and_digest(data: bytes | bytearray) -> tuple[str, str]:
    """The text and the sha256 of its UTF-8 encoding (undecodable bytes replaced), without a second copy
    of the bytes when they are valid UTF-8."""
    try:
        return data.decode("utf-8"), hashlib.sha256(data).hexdigest()
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return text, hashlib.sha256(text.encode()).hexdigest()


def _read_json(host: Host, folder: str, name: str) -> JsonFile:
    return _JsonSource(host, folder, name).load()


# -- reading the shards ----------------------------------------------------------------------------------


def _read_shard(host: Host, folder: str, name: str) -> tuple[Shard, bytes | None]:
    """The shard's verdict so far, and its header bytes when they could be read."""
    try:
        path = confined_join(folder, name)  # names come from the index: `../x` or `/x` is not a shard
    except PathEscape as exc:
        return Shard(name, cause="outside", detail=f"{exc}; nothing was read"), None
    info = host.stat(path)
    if not info.exists:
        if info.error and info.error != "missing":
            return Shard(name, cause="unreadable", detail=info.error), None
        return Shard(name, cause="missing", detail="file not found"), None
    if info.kind != "file":
        return Shard(name, info.size, "unreadable", f"is a {info.kind}, not a file"), None
    size = info.size or 0
    head_len = size if size < SMALL_FILE_BYTES else PREFIX_BYTES
    head = host.read_bytes(path, 0, head_len)
    if head.error or head.data is None:
        return Shard(name, size, "unreadable", head.error or "no data"), None
    if looks_like_lfs_pointer(head.data):
        return Shard(name, size, "lfs-pointer", f"a {size}-byte Git-LFS pointer stub, not the weights"), None
    problem = prefix_problem(head.data, size)
    length = header_length(head.data)
    if problem is not None or length is None:
        cause = "truncated" if size < PREFIX_BYTES or "does not fit" in (problem or "") else "bad-header"
        return Shard(name, size, cause, problem or "unreadable header length"), None
    body = host.read_bytes(path, PREFIX_BYTES, length)
    if body.error or body.data is None:
        return Shard(name, size, "unreadable", body.error or "no data"), None
    return Shard(name, size), body.data


def _judged(shard: Shard, header: HeaderScan, body: bytes) -> Shard:
    digest = hashlib.sha256(body).hexdigest()
    cause = None if header.ok else "truncated" if header.truncated_by else "bad-header"
    detail = "; ".join(header.problems[:3])
    return Shard(
        shard.name,
        shard.size,
        cause,
        detail,
        digest,
        True,
        header.tensor_count,
        header.tensor_bytes,
        header.expected_file_size,
    )


@cache
def _expert_number() -> re.Pattern[str]:
    return re.compile(_EXPERT_NUMBER)


@dataclass
class _Fold:
    """The running tallies of one scan (guarded by the scan's lock)."""

    mtp_prefix: str
    index: IndexDigest | None  # the streamed index, when the fast reader vouched for it
    weight_map: dict[str, Any] | None  # the index read by json.loads (the exact path)
    index_hash: int = 0
    index_plain: bool = True
    located: dict[str, str] = field(default_factory=dict)  # the exact path: tensor -> last shard holding it
    dotted: Counter[bool] = field(default_factory=Counter)  # rot shard? -> dotted names
    dotted_hash: Counter[bool] = field(default_factory=Counter)
    dotless: list[tuple[str, bool]] = field(default_factory=list)  # (name, in the rot shard)
    mtp_names: set[str] = field(default_factory=set)
    tally: dict[tuple[str, str | None], tuple[str, int]] = field(default_factory=dict)  # see _tally
    places: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # pattern -> (class, layer)
    names_by_shard: list[tuple[str, list[str]]] | None = None  # the exact paths' second reading

    def sink(self, shard: str) -> Sink:
        return lambda names, sizes, known_plain: self.add(shard, names, sizes, known_plain or plain(names))

    def add(self, shard: str, names: list[str], sizes: list[int], names_plain: bool) -> None:
        if self.weight_map is not None:
            for name in names:  # the shard that comes last (in name order) holds a name twice listed
                if self.located.get(name, "") < shard:
                    self.located[name] = shard
        rot = shard == ROT_FILE
        self.dotted[rot] += len(names)
        self.dotted_hash[rot] += sum(map(hash, names))
        if not names_plain:
            self.index_plain = False
            self._add_one_by_one(names, sizes, rot)
            return
        # Plain names hold no newline: joined once, they are matched and rewritten in C, not one by one.
        joined = "\n".join(names)
        if self.index is not None:
            self.index_hash += index_hash(joined, self.index.separator, shard)
        dotless = _lines(r"^[^.\n]*$", joined)
        self._dotless(dotless, rot)
        self.mtp_names.update(_lines("^" + re.escape(self.mtp_prefix) + "[^\n]*", joined))
        patterns = _expert_number().sub(_EXPERT_PATTERN, joined).split("\n")
        self._tally(patterns, sizes)

    def _add_one_by_one(self, names: list[str], sizes: list[int], rot: bool) -> None:
        self._dotless([name for name in names if "." not in name], rot)
        self.mtp_names.update(filter(methodcaller("startswith", self.mtp_prefix), names))
        self._tally([_expert_number().sub(_EXPERT_PATTERN, name) for name in names], sizes)

    def _dotless(self, dotless: list[str], rot: bool) -> None:
        """Names without a dot are not tensors of a layer: the description's settings may share them."""
        self.dotless += zip(dotless, repeat(rot))
        self.dotted[rot] -= len(dotless)
        self.dotted_hash[rot] -= sum(map(hash, dotless))

    def _tally(self, patterns: list[str], sizes: list[int]) -> None:
        """Bytes per (placement class, layer): all memory.fit needs, whatever the plan's MTP layer. Each
        total is kept under the smallest of its patterns, a real name that memfit places the same way."""
        for (pattern, size), count in Counter(zip(patterns, sizes)).items():
            place = self.places.get(pattern)
            if place is None:
                place = self.places[pattern] = (classify(pattern), layer_of(pattern))
            name, total = self.tally.get(place, (pattern, 0))
            self.tally[place] = (min(name, pattern), total + size * count)


@cache
def _multiline(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.MULTILINE)


def _lines(pattern: str, joined: str) -> list[str]:
    """The lines of joined that pattern matches whole (few: MTP names, names without a dot)."""
    return _multiline(pattern).findall(joined)


@contextmanager
def _no_collection() -> Iterator[None]:
    """The scan allocates millions of short-lived tuples and strings and no cycles: the cyclic collector
    would only walk them again and again (about a fifth of the scan's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scan_folder(host: Host, folder: str) -> WeightsScan:
    with _no_collection():
        return _scan_folder(host, folder)


def _scan_folder(host: Host, folder: str) -> WeightsScan:
    listing = host.list_dir(folder)
    if listing.error or listing.entries is None:
        return WeightsScan(folder, error=listing.error or "unreadable")
    entries = listing.entries
    present = [name for name in INDEX_FILES if name in entries]
    index, digest, weight_map = _read_index(host, folder, present[0] if present else None)
    config = _read_json(host, folder, "config.json")
    mtp_layer = glm5.mtp_layer(config_data(config))
    if digest is not None:
        names = list(digest.shards)
    else:
        names = sorted(set(map(str, weight_map.values()))) if weight_map is not None else _listed_shards(entries)
    fold = _Fold(f"model.layers.{mtp_layer}.", digest, weight_map)
    shards = _read_shards(host, folder, names, fold)
    unmapped, mapped_count = _unmapped(host, folder, index, shards, fold)
    quant, undescribed, described_count = _read_quant(host, folder, shards, fold)
    prefix = fold.mtp_prefix
    mtp_names = fold.mtp_names | {name for name, _ in unmapped if name.startswith(prefix)}
    embed_head = tuple(prefix + name for name in glm5.MTP_EMBED_HEAD if prefix + name in mtp_names)
    return WeightsScan(
        path=folder,
        entries=entries,
        config=config,
        index=index,
        quant=quant,
        shards=shards,
        leftovers=_leftovers(entries),
        fingerprint=_fingerprint(index, shards),
        total_bytes=sum(s.size or 0 for s in shards),
        file_count=len(shards),
        mapped_count=mapped_count,
        unmapped=unmapped,
        described_count=described_count,
        undescribed=undescribed,
        mtp_layer=mtp_layer,
        mtp_count=len(mtp_names),
        mtp_embed_head=embed_head,
        tally=tuple(sorted(fold.tally.values())),
    )


def _read_index(
    host: Host, folder: str, name: str | None
) -> tuple[JsonFile, IndexDigest | None, dict[str, Any] | None]:
    """The index without its weight_map, and either its digest (streamed) or its weight_map (json.loads;
    None when the index has none)."""
    if name is None:
        return JsonFile(INDEX_FILES[0], error="missing"), None, None
    source = _JsonSource(host, folder, name)
    reader = IndexReader()
    streamed = source.stream(reader.feed)
    digest = None if streamed.error else reader.result()
    if digest is not None:
        return JsonFile(name, data=digest.rest, sha256=streamed.sha256), digest, None
    return _split_weight_map(source.load())


def _split_weight_map(index: JsonFile) -> tuple[JsonFile, None, dict[str, Any] | None]:
    """The index without its weight_map, and the weight_map (None when the index has none)."""
    data = index.data if isinstance(index.data, dict) else None
    mapping = data.get("weight_map") if data else None
    if data is None or not isinstance(mapping, dict):
        return index, None, None
    rest = {key: value for key, value in data.items() if key != "weight_map"}
    return JsonFile(index.name, rest, index.error, index.sha256), None, mapping


def _read_shards(host: Host, folder: str, names: list[str], fold: _Fold) -> tuple[Shard, ...]:
    """Every shard judged and folded. Header reads overlap (slow or network filesystems): up to
    SHARD_WORKERS in flight, fewer when the last header parsed says that many would pass READ_AHEAD_BYTES
    (a w4a8 header is 1.2 MB, a bf16 one 25 KB). This thread parses them one at a time, in order: parsing
    holds the GIL anyway, and its garbage lands in one malloc arena that the next header reuses."""
    shards: list[Shard] = []
    queue = deque(names)
    in_flight = 1  # until a header's length is known
    with ThreadPoolExecutor(max_workers=max(1, min(SHARD_WORKERS, len(names)))) as pool:
        pending: deque[Future[tuple[Shard, bytes | None]]] = deque()
        while queue or pending:
            while queue and len(pending) < in_flight:
                pending.append(pool.submit(_read_shard, host, folder, queue.popleft()))
            shard, body = pending.popleft().result()
            if body is not None:
                in_flight = max(1, min(SHARD_WORKERS, READ_AHEAD_BYTES // max(len(body), 1)))
                shard = _parsed(shard, body, fold)
            shards.append(shard)
            del body
    return tuple(shards)


def _parsed(shard: Shard, body: bytes, fold: _Fold) -> Shard:
    return _judged(shard, scan_header(body, shard.size, fold.sink(shard.name)), body)


def _collect(names: list[str]) -> Sink:
    return lambda window, _sizes, _plain: names.extend(window)


def _header_names(host: Host, folder: str, shards: tuple[Shard, ...], fold: _Fold) -> list[tuple[str, list[str]]]:
    """(shard, tensor names) of every shard whose header was read, read again (the exact paths only: both
    use the one second reading)."""
    if fold.names_by_shard is None:
        fold.names_by_shard = []
        for shard in shards:
            if shard.has_header:
                _, body = _read_shard(host, folder, shard.name)
                names: list[str] = []
                if body is not None:
                    scan_header(body, shard.size, _collect(names))
                fold.names_by_shard.append((shard.name, names))
    return fold.names_by_shard


def _unmapped(
    host: Host, folder: str, index: JsonFile, shards: tuple[Shard, ...], fold: _Fold
) -> tuple[tuple[tuple[str, str], ...], int]:
    """(tensor, shard) of the weight_map entries whose shard header lacks them, in index order, and the
    number of entries."""
    digest = fold.index
    if digest is not None:
        rendered = sum(s.tensor_count for s in shards if s.has_header)
        if fold.index_plain and digest.entries == rendered and digest.entry_hash == fold.index_hash:
            return (), digest.entries
        # The sums disagree: read the index and the headers again to name every entry exactly.
        _, _, fold.weight_map = _split_weight_map(_read_json(host, folder, index.name))
        for shard, names in _header_names(host, folder, shards, fold):
            fold.located.update(zip(names, repeat(shard)))
    weight_map, located = fold.weight_map or {}, fold.located
    fold.weight_map, fold.located = None, {}
    if weight_map.items() <= located.items():  # compared in C: the usual answer for 237k entries
        return (), len(weight_map)
    unmapped = tuple((name, str(shard)) for name, shard in weight_map.items() if located.get(name) != str(shard))
    return unmapped, len(weight_map)


def _read_quant(
    host: Host, folder: str, shards: tuple[Shard, ...], fold: _Fold
) -> tuple[JsonFile, tuple[str, ...], int]:
    """The quant description without its per-tensor entries, the shard tensors it lacks and how many
    were looked up. rot.safetensors (QuaRot) is not a model layer: vllm-ascend never looks it up."""
    source = _JsonSource(host, folder, QUANT_DESCRIPTION)
    digest = None
    if all(s.has_header for s in shards if s.name != ROT_FILE):  # else it describes tensors no header names
        reader = DescriptionReader()
        streamed = source.stream(reader.feed, hashed=False)
        digest = None if streamed.error else reader.result()
    looked_up = sum(s.tensor_count for s in shards if s.has_header and s.name != ROT_FILE)
    if digest is not None and _describes_all(digest, fold):
        header_dotless = {name for name, _ in fold.dotless}
        lacking = sorted(name for name, rot in fold.dotless if not rot and name not in digest.others)
        rest = {key: value for key, value in digest.others.items() if key not in header_dotless}
        return JsonFile(QUANT_DESCRIPTION, rest), tuple(lacking), looked_up
    quant = source.load()
    if not isinstance(quant.data, dict):
        return quant, (), 0
    described = quant.data
    undescribed: list[str] = []
    located: set[str] = set()
    for shard, names in _header_names(host, folder, shards, fold):
        if shard != ROT_FILE:
            undescribed += filterfalse(described.__contains__, names)
        located.update(names)
    undescribed.sort()
    rest = {key: described[key] for key in described.keys() - located}
    return JsonFile(quant.name, rest, quant.error), tuple(undescribed), looked_up


def _describes_all(digest: DescriptionDigest, fold: _Fold) -> bool:
    """The description's tensor names are the headers' dotted names (rot.safetensors's with them or not)."""
    main = (fold.dotted[False], fold.dotted_hash[False])
    every = (main[0] + fold.dotted[True], main[1] + fold.dotted_hash[True])
    return (digest.dotted, digest.dotted_hash) in (main, every)


def _listed_shards(entries: tuple[str, ...]) -> list[str]:
    return sorted(e for e in entries if e.endswith(".safetensors"))


def _leftovers(entries: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(e for e in entries if e.endswith(LEFTOVER_SUFFIXES) or e in LEFTOVER_NAMES)


def _fingerprint(index: JsonFile | None, shards: tuple[Shard, ...]) -> str:
    """Quick fingerprint: the index file plus every shard's name, size and header hash."""
    digest = hashlib.sha256()
    if index and index.sha256:
        digest.update(index.sha256.encode())
    for shard in shards:
        digest.update(f"{shard.name}\0{shard.size}\0{shard.header_sha256}\n".encode())
    return "sha256:" + digest.hexdigest()
