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
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import filterfalse, repeat
from operator import methodcaller
from typing import Any, NamedTuple, cast

from glm5check.host.base import FILE_CAP_BYTES, Host
from glm5check.host.forked import Child, can_fork, forked
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
    dotless,
    index_hash,
    plain,
)
from glm5check.util import safejson
from glm5check.util.lazyre import lazy
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
# What a byte costs to fold, relative to a byte of the index streamed (measured in live runs of the w4a8
# demo: 6.0 ms per MB of index, 4.4 per MB of description, and headers, read and folded in the child,
# 15 ms per MB of the index that lists them). The scan's child gets the share of the headers that makes
# both processes' parts about equal.
_INDEX_COST = 1.0
_DESCRIPTION_COST = 0.7
_HEADER_COST = 2.5
# How long the child may take per shard before this process does the rest itself: a stat and two reads,
# each bounded by the host's timeout.
_SECONDS_PER_SHARD = 3
# Routed experts' numbers folded into one pattern (memfit classifies by pattern, never by expert number).
_EXPERT_NUMBER = r"\.mlp\.experts\.\d+\."
_EXPERT_PATTERN = ".mlp.experts.0."
_EXPERT_NUMBER_RE = lazy(_EXPERT_NUMBER)


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


Place = tuple[str, str | None]  # (placement class, layer)


@dataclass
class _Fold:
    """The tallies of some shards' headers. Folds of different shards add up (`merge`) in any order, so a
    shard may be folded in this process or in the scan's forked child."""

    mtp_prefix: str
    separator: str | None  # the index's between a name and its shard; None: no streamed index to compare
    places: dict[str, Place]  # pattern -> (class, layer): a cache shared by the folds of one process
    index_hash: int = 0
    index_plain: bool = True
    dotted: Counter[bool] = field(default_factory=Counter)  # rot shard? -> dotted names
    dotted_hash: Counter[bool] = field(default_factory=Counter)
    dotless: list[tuple[str, bool]] = field(default_factory=list)  # (name, in the rot shard)
    mtp_names: set[str] = field(default_factory=set)
    tally: dict[Place, tuple[str, int]] = field(default_factory=dict)  # see _tally

    def sink(self, shard: str) -> Sink:
        return lambda names, sizes, known_plain: self.add(shard, names, sizes, known_plain or plain(names))

    def add(self, shard: str, names: list[str], sizes: list[int], names_plain: bool) -> None:
        rot = shard == ROT_FILE
        self.dotted[rot] += len(names)
        self.dotted_hash[rot] += sum(map(hash, names))
        self._dotless(dotless(names), rot)
        if not names_plain:
            self.index_plain = False
            self.mtp_names.update(filter(methodcaller("startswith", self.mtp_prefix), names))
            self._tally([_EXPERT_NUMBER_RE.sub(_EXPERT_PATTERN, name) for name in names], sizes)
            return
        # Plain names hold no newline: joined once, they are matched and rewritten in C, not one by one.
        joined = "\n".join(names)
        if self.separator is not None:
            self.index_hash += index_hash(names, self.separator, shard)
        if self.mtp_prefix in joined:  # one window in a few hundred holds the MTP layer
            self.mtp_names.update(filter(methodcaller("startswith", self.mtp_prefix), names))
        self._tally(_EXPERT_NUMBER_RE.sub(_EXPERT_PATTERN, joined).split("\n"), sizes)

    def _dotless(self, names: list[str], rot: bool) -> None:
        """Names without a dot are not tensors of a layer: the description's settings may share them."""
        self.dotless += zip(names, repeat(rot))
        self.dotted[rot] -= len(names)
        self.dotted_hash[rot] -= sum(map(hash, names))

    def _tally(self, patterns: list[str], sizes: list[int]) -> None:
        """Bytes per (placement class, layer): all memory.fit needs, whatever the plan's MTP layer. Each
        total is kept under the smallest of its patterns, a real name that memfit places the same way."""
        for (pattern, size), count in Counter(zip(patterns, sizes)).items():
            place = self.places.get(pattern)
            if place is None:
                place = self.places[pattern] = (classify(pattern), layer_of(pattern))
            self._count(place, pattern, size * count)

    def _count(self, place: Place, pattern: str, size: int) -> None:
        name, total = self.tally.get(place, (pattern, 0))
        self.tally[place] = (min(name, pattern), total + size)

    def merge(self, other: _Fold) -> None:
        self.index_hash += other.index_hash
        self.index_plain = self.index_plain and other.index_plain
        self.dotted.update(other.dotted)
        self.dotted_hash.update(other.dotted_hash)
        self.dotless += other.dotless
        self.mtp_names |= other.mtp_names
        for place, (pattern, size) in other.tally.items():
            self._count(place, pattern, size)

    def state(self) -> tuple[object, ...]:
        """The tallies as plain values (what the forked child sends back)."""
        return (
            self.index_hash,
            self.index_plain,
            dict(self.dotted),
            dict(self.dotted_hash),
            self.dotless,
            self.mtp_names,
            self.tally,
        )

    def restored(self, state: tuple[object, ...]) -> _Fold:
        """An empty fold like this one holding state's tallies (made by state() of such a fold)."""
        index_hash, index_plain, dotted, dotted_hash, dotless_names, mtp_names, tally = state
        return _Fold(
            self.mtp_prefix,
            self.separator,
            self.places,
            cast(int, index_hash),
            cast(bool, index_plain),
            Counter(cast("dict[bool, int]", dotted)),
            Counter(cast("dict[bool, int]", dotted_hash)),
            cast("list[tuple[str, bool]]", dotless_names),
            cast("set[str]", mtp_names),
            cast("dict[Place, tuple[str, int]]", tally),
        )

    def empty(self) -> _Fold:
        return _Fold(self.mtp_prefix, self.separator, self.places)


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
    index_name = present[0] if present else None
    config = _read_json(host, folder, "config.json")
    mtp_layer = glm5.mtp_layer(config_data(config))
    headers = _Headers(host, folder, f"model.layers.{mtp_layer}.")
    with headers.ahead(index_name, _listed_shards(entries)):
        index, digest, weight_map = _read_index(host, folder, index_name)
        if digest is not None:
            names = list(digest.shards)
        else:
            names = sorted(set(map(str, weight_map.values()))) if weight_map is not None else _listed_shards(entries)
        description = _stream_description(host, folder)
        shards, fold = headers.folded(names, digest.separator if digest else None)
    second = _SecondReading(host, folder, shards)
    unmapped, mapped_count = _unmapped(host, folder, index, digest, weight_map, shards, fold, second)
    quant, undescribed, described_count = _read_quant(shards, fold, description, second)
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


def _index_separator(source: _JsonSource) -> str | None:
    """The separator between a name and its shard in the index's weight_map, from its first chunk (None
    when that chunk does not show one): the child folds headers while this process reads the index."""
    if source.error:
        return None
    first = source.host.read_bytes(source.path, 0, min(source.size, JSON_CHUNK_BYTES))
    reader = IndexReader()
    reader.feed(first.data or b"", final=source.size <= JSON_CHUNK_BYTES)
    return reader.separator


class _Headers:
    """Every shard's header read, judged and folded: a share of the folder's shards by the scan's forked
    child (speculatively, while this process reads the index and the description), the rest here."""

    def __init__(self, host: Host, folder: str, mtp_prefix: str) -> None:
        self.host, self.folder = host, folder
        self.fold = _Fold(mtp_prefix, None, {})
        self.parts: dict[str, tuple[Shard, _Fold]] = {}
        self.child: Child[str] | None = None

    @contextmanager
    def ahead(self, index_name: str | None, listed: list[str]) -> Iterator[None]:
        """The child's share of the listed shards folded while the block runs (when it can fork)."""
        share = self._child_share(index_name, listed)
        with forked(self.host, share, self._produce, _SECONDS_PER_SHARD * self.host.timeout_s) as child:
            self.child = child
            yield
        self.child = None

    def _child_share(self, index_name: str | None, listed: list[str]) -> list[str]:
        """The first shards of the listing, as many as balance the index and description this process
        reads meanwhile; none when no index separator can be known yet (the fold hashes with it)."""
        if not can_fork(self.host) or len(listed) < 2:
            return []
        index_bytes = 0
        if index_name is not None:
            index = _JsonSource(self.host, self.folder, index_name)
            self.fold.separator, index_bytes = _index_separator(index), index.size
            if self.fold.separator is None:
                return []
        description_bytes = _JsonSource(self.host, self.folder, QUANT_DESCRIPTION).size
        json_cost = _INDEX_COST * index_bytes + _DESCRIPTION_COST * description_bytes
        header_cost = _HEADER_COST * index_bytes
        fraction = (json_cost + header_cost) / (2 * header_cost) if header_cost else 0.5
        return listed[: max(1, min(len(listed), round(fraction * len(listed))))]

    def _produce(self, names: Sequence[str]) -> Iterator[object]:
        for shard, fold in _read_shards(self.host, self.folder, names, self.fold.empty):
            yield tuple(shard), fold.state()

    def folded(self, names: list[str], separator: str | None) -> tuple[tuple[Shard, ...], _Fold]:
        """The shards named (in this order) and their folds merged: the child's part, when it is worth
        waiting for, and the rest folded here."""
        wanted = set(names)
        child = self.child
        if child is not None and not self._worth_waiting(child, wanted, separator):
            child.close()
            child = None
        self.fold.separator = separator
        taken = set(child.items) if child is not None else set()  # a set: a listing may name 100k files
        self._fold_here([name for name in names if name not in taken])
        if child is not None:
            results, undone = child.collect()
            for shard, state in cast("list[tuple[tuple[Any, ...], tuple[object, ...]]]", results):
                self.parts[shard[0]] = (Shard(*shard), self.fold.restored(state))
            self._fold_here([name for name in undone if name in wanted])
        merged = self.fold.empty()
        for name in names:
            merged.merge(self.parts[name][1])
        return tuple(self.parts[name][0] for name in names), merged

    def _worth_waiting(self, child: Child[str], wanted: set[str], separator: str | None) -> bool:
        """The child hashed with the index's separator (or there is no streamed index to compare), and its
        share is mostly shards of the index (the listing had a few more at most)."""
        extra = len(set(child.items) - wanted)
        return separator in (None, self.fold.separator) and 2 * extra <= len(child.items)

    def _fold_here(self, names: list[str]) -> None:
        todo = [name for name in names if name not in self.parts]
        for shard, fold in _read_shards(self.host, self.folder, todo, self.fold.empty):
            self.parts[shard.name] = (shard, fold)


def _read_shards(
    host: Host, folder: str, names: Sequence[str], new_fold: Callable[[], _Fold]
) -> Iterator[tuple[Shard, _Fold]]:
    """Every shard judged and folded. Header reads overlap (slow or network filesystems): up to
    SHARD_WORKERS in flight, fewer when the last header parsed says that many would pass READ_AHEAD_BYTES
    (a w4a8 header is 1.2 MB, a bf16 one 25 KB). This thread parses them one at a time, in order: parsing
    holds the GIL anyway, and its garbage lands in one malloc arena that the next header reuses."""
    queue = deque(names)
    in_flight = 1  # until a header's length is known
    with ThreadPoolExecutor(max_workers=max(1, min(SHARD_WORKERS, len(names)))) as pool:
        pending: deque[Future[tuple[Shard, bytes | None]]] = deque()
        while queue or pending:
            while queue and len(pending) < in_flight:
                pending.append(pool.submit(_read_shard, host, folder, queue.popleft()))
            shard, body = pending.popleft().result()
            fold = new_fold()
            if body is not None:
                in_flight = max(1, min(SHARD_WORKERS, READ_AHEAD_BYTES // max(len(body), 1)))
                shard = _judged(shard, scan_header(body, shard.size, fold.sink(shard.name)), body)
            del body
            yield shard, fold


def _collect(names: list[str]) -> Sink:
    return lambda window, _sizes, _plain: names.extend(window)


class _SecondReading:
    """(shard, tensor names) of every shard whose header was read, read again when first asked (the exact
    paths only: the index and the description that the fast readers could not vouch for share it)."""

    def __init__(self, host: Host, folder: str, shards: tuple[Shard, ...]) -> None:
        self.host, self.folder, self.shards = host, folder, shards
        self.names_by_shard: list[tuple[str, list[str]]] | None = None

    def __call__(self) -> list[tuple[str, list[str]]]:
        if self.names_by_shard is None:
            self.names_by_shard = []
            for shard in self.shards:
                if shard.has_header:
                    _, body = _read_shard(self.host, self.folder, shard.name)
                    names: list[str] = []
                    if body is not None:
                        scan_header(body, shard.size, _collect(names))
                    self.names_by_shard.append((shard.name, names))
        return self.names_by_shard


def _unmapped(
    host: Host,
    folder: str,
    index: JsonFile,
    digest: IndexDigest | None,
    weight_map: dict[str, Any] | None,
    shards: tuple[Shard, ...],
    fold: _Fold,
    second: _SecondReading,
) -> tuple[tuple[tuple[str, str], ...], int]:
    """(tensor, shard) of the weight_map entries whose shard header lacks them, in index order, and the
    number of entries."""
    if digest is not None:
        rendered = sum(s.tensor_count for s in shards if s.has_header)
        if fold.index_plain and digest.entries == rendered and digest.entry_hash == fold.index_hash:
            return (), digest.entries
        # The sums disagree: read the index and the headers again to name every entry exactly.
        _, _, weight_map = _split_weight_map(_read_json(host, folder, index.name))
    if not weight_map:
        return (), 0
    located: dict[str, str] = {}  # tensor -> the last shard (in name order) holding it
    for shard, names in second():
        located.update(zip(names, repeat(shard)))
    if weight_map.items() <= located.items():  # compared in C: the usual answer for 237k entries
        return (), len(weight_map)
    unmapped = tuple((name, str(shard)) for name, shard in weight_map.items() if located.get(name) != str(shard))
    return unmapped, len(weight_map)


def _stream_description(host: Host, folder: str) -> tuple[_JsonSource, DescriptionDigest | None]:
    """The quant description's source and its streamed digest (None when the fast reader cannot vouch)."""
    source = _JsonSource(host, folder, QUANT_DESCRIPTION)
    reader = DescriptionReader()
    streamed = source.stream(reader.feed, hashed=False)
    return source, None if streamed.error else reader.result()


def _read_quant(
    shards: tuple[Shard, ...],
    fold: _Fold,
    description: tuple[_JsonSource, DescriptionDigest | None],
    second: _SecondReading,
) -> tuple[JsonFile, tuple[str, ...], int]:
    """The quant description without its per-tensor entries, the shard tensors it lacks and how many
    were looked up. rot.safetensors (QuaRot) is not a model layer: vllm-ascend never looks it up."""
    source, digest = description
    looked_up = sum(s.tensor_count for s in shards if s.has_header and s.name != ROT_FILE)
    headers_read = all(s.has_header for s in shards if s.name != ROT_FILE)  # else it describes tensors no header names
    if digest is not None and headers_read and _describes_all(digest, fold):
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
    for shard, names in second():
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
    for shard in shards:  # a name may hold surrogates: a listed file's undecodable bytes, an index's escapes
        digest.update(f"{shard.name}\0{shard.size}\0{shard.header_sha256}\n".encode(errors="surrogatepass"))
    return "sha256:" + digest.hexdigest()
