"""The weights folder as the checks see it: listing, config/index/quant JSON files and every shard's
safetensors header, read through the host layer only (8 bytes, then the header; never the data).

Shards are read in parallel. Every read is deterministic (offset 0 length 8, then offset 8 length N) so
that a snapshot replays exactly.
"""

from __future__ import annotations

import hashlib
import posixpath
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import chain, filterfalse, repeat
from typing import TYPE_CHECKING, Any

from glm5check.engine.context import reported_fact
from glm5check.errors import ProbeFailed
from glm5check.host.base import FILE_CAP_BYTES, Host
from glm5check.knowledge import glm5
from glm5check.knowledge.memfit import (
    DRIVER_RESERVED_MB,
    HCCL_DEFAULT_BUFFSIZE_MB,
    Assumptions,
    Fit,
    FitPlan,
    fit,
    hccl_buffsize_value,
    usable_hbm_mb,
)
from glm5check.parsers.safetensors import (
    PREFIX_BYTES,
    SafetensorsHeader,
    header_length,
    looks_like_lfs_pointer,
    parse_header,
    prefix_problem,
)
from glm5check.util import safejson
from glm5check.util.units import MIB

if TYPE_CHECKING:
    from glm5check.facts.context import Context

INDEX_FILES = ("model.safetensors.index.json", "quant_model_weights.safetensors.index.json")
QUANT_DESCRIPTION = "quant_model_description.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
GENERATION_CONFIG = "generation_config.json"
# What vLLM, vllm-ascend and transformers read at start-up besides the shards: the model and generation
# configs, every tokenizer file transformers' tokenizer classes look for, the chat template, the
# quantization description (vllm-ascend), the index; plus the model's own *.py under --trust-remote-code.
SERVED_FILES = (
    "config.json",
    GENERATION_CONFIG,
    *TOKENIZER_FILES,
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "chat_template.jinja",
    "chat_template.json",
    QUANT_DESCRIPTION,
    *INDEX_FILES,
)
# Files that only a download in progress (or one that died) leaves behind.
LEFTOVER_SUFFIXES = (".incomplete", ".part", ".partial", ".tmp", ".aria2", ".download", ".lock")
LEFTOVER_NAMES = ("._____temp", ".cache")
# Header reads in flight: enough to overlap a network filesystem's latency. Parsing holds the GIL, so
# more threads do not parse faster (measured on 2 cores); each one only adds a malloc arena that keeps
# its share of the parse garbage (16 workers: +28 MB peak RSS on the demo replay).
SHARD_WORKERS = 4
# Stub files smaller than this are read whole, so an LFS pointer can be named as one.
SMALL_FILE_BYTES = 1024


def model_dir(ctx: Context) -> str:
    """Where the weights are: --model-dir, else the launch command's model path, else the profile's."""
    return ctx.model_dir


@dataclass(frozen=True)
class JsonFile:
    name: str
    data: Any = None
    error: str | None = None  # missing, permission denied, not JSON: ..., is a directory
    sha256: str | None = None  # of the file's text, for the quick fingerprint

    @property
    def present(self) -> bool:
        return self.error != "missing"


@dataclass(frozen=True)
class Shard:
    name: str
    size: int | None = None
    cause: str | None = None  # missing, unreadable, lfs-pointer, truncated, bad-header; None when sound
    detail: str = ""
    header: SafetensorsHeader | None = None
    header_sha256: str | None = None

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

    @property
    def readable(self) -> bool:
        return self.error is None

    @property
    def tensor_count(self) -> int:
        return sum(len(s.header.names) for s in self.shards if s.header)

    def tensor_sizes(self) -> Iterator[tuple[str, int]]:
        """(name, bytes) of every tensor in every readable shard header."""
        for shard in self.shards:
            if shard.header:
                yield from zip(shard.header.names, shard.header.sizes())

    def names_with_prefix(self, prefix: str) -> set[str]:
        """Tensor names starting with prefix, from the shard headers and the index."""
        names = {name for s in self.shards if s.header for name in s.header.names if name.startswith(prefix)}
        names.update(name for name, _ in self.unmapped if name.startswith(prefix))
        return names

    @property
    def complete(self) -> bool:
        return self.readable and bool(self.shards) and all(s.ok for s in self.shards)


# A GLM-5 bf16 index is about 5 MB; a JSON file far bigger is damaged and is not read into memory.
JSON_CAP_BYTES = 64 * MIB


def _read_json(host: Host, folder: str, name: str) -> JsonFile:
    path = posixpath.join(folder, name)
    info = host.stat(path)
    if not info.exists:
        return JsonFile(name, error=info.error or "missing")
    if info.kind != "file":
        return JsonFile(name, error=f"is a {info.kind}, not a file")
    if info.size is not None and info.size > JSON_CAP_BYTES:
        too_big = f"{info.size // MIB} MiB, larger than any config or index ({JSON_CAP_BYTES // MIB} MiB)"
        return JsonFile(name, error=too_big)
    if info.size is not None and info.size > FILE_CAP_BYTES:
        # Big index files (a GLM-5 bf16 index is about 5 MB) are read whole as bytes.
        read = host.read_bytes(path, 0, info.size)
        if read.error or read.data is None:
            return JsonFile(name, error=read.error or "unreadable")
        text, digest = _text_and_digest(read.data)
        del read  # the raw bytes (26 MB for a GLM-5-w4a8 index) are not needed while parsing
    else:
        file = host.read_file(path)
        if file.error or file.text is None:
            return JsonFile(name, error=file.error or "unreadable")
        text = file.text
        digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        return JsonFile(name, data=safejson.loads(text, max_chars=JSON_CAP_BYTES), sha256=digest)
    except safejson.JsonProblem as exc:
        return JsonFile(name, error=f"not JSON: {exc}", sha256=digest)


def _text_and_digest(data: bytes) -> tuple[str, str]:
    """The text and the sha256 of its UTF-8 encoding (undecodable bytes replaced), without a second copy
    of the bytes when they are valid UTF-8."""
    try:
        return data.decode("utf-8"), hashlib.sha256(data).hexdigest()
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return text, hashlib.sha256(text.encode()).hexdigest()


def _read_shard(host: Host, folder: str, name: str, parsing: threading.Lock) -> Shard:
    path = posixpath.join(folder, name)
    info = host.stat(path)
    if not info.exists:
        if info.error and info.error != "missing":
            return Shard(name, cause="unreadable", detail=info.error)
        return Shard(name, cause="missing", detail="file not found")
    if info.kind != "file":
        return Shard(name, info.size, "unreadable", f"is a {info.kind}, not a file")
    size = info.size or 0
    head_len = size if size < SMALL_FILE_BYTES else PREFIX_BYTES
    head = host.read_bytes(path, 0, head_len)
    if head.error or head.data is None:
        return Shard(name, size, "unreadable", head.error or "no data")
    if looks_like_lfs_pointer(head.data):
        return Shard(name, size, "lfs-pointer", f"a {size}-byte Git-LFS pointer stub, not the weights")
    problem = prefix_problem(head.data, size)
    length = header_length(head.data)
    if problem is not None or length is None:
        cause = "truncated" if size < PREFIX_BYTES or "does not fit" in (problem or "") else "bad-header"
        return Shard(name, size, cause, problem or "unreadable header length")
    body = host.read_bytes(path, PREFIX_BYTES, length)
    if body.error or body.data is None:
        return Shard(name, size, "unreadable", body.error or "no data")
    digest = hashlib.sha256(body.data).hexdigest()
    # Reads overlap (slow or network filesystems); parsing holds the GIL anyway, and one header at a time
    # keeps a single header's intermediate objects alive instead of one per worker.
    with parsing:
        header = parse_header(body.data, file_size=size)
    del body
    if header.ok:
        return Shard(name, size, None, "", header, digest)
    cause = "truncated" if header.truncated_by else "bad-header"
    return Shard(name, size, cause, "; ".join(header.problems[:3]), header, digest)


@dataclass(frozen=True)
class FileDigest:
    name: str
    size: int | None = None
    sha256: str | None = None  # of every byte
    error: str | None = None


def served_file_names(entries: tuple[str, ...]) -> list[str]:
    """The files of a weights folder listing that a launch reads besides the shards."""
    return sorted(e for e in entries if e in SERVED_FILES or e.endswith(".py"))


def served_file_digests(host: Host, folder: str, entries: tuple[str, ...]) -> list[FileDigest]:
    """The SHA-256 of every file a launch reads besides the shards (none is bigger than JSON_CAP_BYTES)."""
    digests = []
    for name in served_file_names(entries):
        path = posixpath.join(folder, name)
        info = host.stat(path)
        if info.kind != "file" or info.size is None or info.size > JSON_CAP_BYTES:
            why = info.error or (f"is a {info.kind}" if info.kind != "file" else "too big for a config file")
            digests.append(FileDigest(name, info.size, error=why))
            continue
        read = host.read_bytes(path, 0, info.size)
        if read.data is None:
            digests.append(FileDigest(name, info.size, error=read.error or "unreadable"))
        else:
            digests.append(FileDigest(name, len(read.data), hashlib.sha256(read.data).hexdigest()))
    return digests


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


def scan_weights(ctx: Context) -> WeightsScan:
    """Fact provider: everything the weights checks need, from headers only."""
    return scan_folder(ctx.host, model_dir(ctx))


def scan_folder(host: Host, folder: str) -> WeightsScan:
    listing = host.list_dir(folder)
    if listing.error or listing.entries is None:
        return WeightsScan(folder, error=listing.error or "unreadable")
    entries = listing.entries
    present = [name for name in INDEX_FILES if name in entries]
    index = _read_json(host, folder, present[0]) if present else JsonFile(INDEX_FILES[0], error="missing")
    index, weight_map = _split_weight_map(index)
    config = _read_json(host, folder, "config.json")
    names = sorted(set(map(str, weight_map.values()))) if weight_map is not None else _listed_shards(entries)
    parsing = threading.Lock()
    with ThreadPoolExecutor(max_workers=max(1, min(SHARD_WORKERS, len(names)))) as pool:
        shards = tuple(pool.map(lambda name: _read_shard(host, folder, name, parsing), names))
    located: dict[str, str] = {}  # tensor -> the shard whose header has it
    for shard in shards:
        if shard.header:
            located.update(zip(shard.header.names, repeat(shard.name)))
    unmapped = _unmapped(weight_map or {}, located)
    mapped_count = len(weight_map or ())
    del weight_map
    quant, undescribed, described_count = _read_quant(host, folder, shards, located)
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
    )


def _split_weight_map(index: JsonFile) -> tuple[JsonFile, dict[str, Any] | None]:
    """The index without its weight_map, and the weight_map (None when the index has none)."""
    data = index.data if isinstance(index.data, dict) else None
    mapping = data.get("weight_map") if data else None
    if data is None or not isinstance(mapping, dict):
        return index, None
    rest = {key: value for key, value in data.items() if key != "weight_map"}
    return replace(index, data=rest), mapping


def _unmapped(weight_map: dict[str, Any], located: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """(tensor, shard) of the weight_map entries whose shard header lacks them, in index order."""
    if weight_map.items() <= located.items():  # compared in C: the usual answer for 237k entries
        return ()
    return tuple((name, str(shard)) for name, shard in weight_map.items() if located.get(name) != str(shard))


def _read_quant(
    host: Host, folder: str, shards: tuple[Shard, ...], located: dict[str, str]
) -> tuple[JsonFile, tuple[str, ...], int]:
    """The quant description without its per-tensor entries, the shard tensors it lacks and how many
    were looked up. rot.safetensors (QuaRot) is not a model layer: vllm-ascend never looks it up."""
    quant = _read_json(host, folder, QUANT_DESCRIPTION)
    if not isinstance(quant.data, dict):
        return quant, (), 0
    described = quant.data
    loaded = [s.header.names for s in shards if s.header and s.name != "rot.safetensors"]
    undescribed = sorted(filterfalse(described.__contains__, chain.from_iterable(loaded)))
    rest = {key: described[key] for key in described.keys() - located.keys()}
    return replace(quant, data=rest), tuple(undescribed), sum(map(len, loaded))


@reported_fact("weights")
def report_weights(ctx: Context) -> dict[str, Any] | None:
    scan = ctx.facts.peek(scan_weights)
    if scan is None:
        return None
    return {
        "path": scan.path,
        "files": scan.file_count,
        "total_bytes": scan.total_bytes,
        "fingerprint": scan.fingerprint,
        "error": scan.error,
    }


def hccl_buffsize_mb(ctx: Context) -> tuple[int, str]:
    """HCCL_BUFFSIZE as vllm serve will see it (MB), and where the value came from."""
    raw = ctx.env.get("HCCL_BUFFSIZE", "").strip()
    value = hccl_buffsize_value(raw)
    if value is not None:
        return value, f"HCCL_BUFFSIZE={raw}"
    shown = f"HCCL_BUFFSIZE={raw!r} is not a size" if raw else "HCCL_BUFFSIZE unset"
    return HCCL_DEFAULT_BUFFSIZE_MB, f"{shown}: HCCL's default {HCCL_DEFAULT_BUFFSIZE_MB} MB"


def fit_plan(ctx: Context, config: dict[str, Any] | None = None) -> FitPlan:
    plan, hardware = ctx.plan, ctx.profile.hardware
    layers = (config or {}).get("num_hidden_layers", glm5.CONFIG["num_hidden_layers"])
    return FitPlan(
        tp=plan.tensor_parallel_size,
        dp=plan.data_parallel_size,
        expert_parallel=plan.enable_expert_parallel,
        max_num_batched_tokens=plan.max_num_batched_tokens,
        max_model_len=plan.max_model_len,
        max_num_seqs=plan.max_num_seqs,
        gpu_memory_utilization=plan.gpu_memory_utilization,
        hbm_bytes=usable_hbm_mb(hardware.hbm_mb_per_chip) * MIB,
        mtp=plan.uses_mtp,
        num_hidden_layers=layers if isinstance(layers, int) and layers > 0 else 78,
        hbm_origin=f"profile {ctx.profile.name}'s {hardware.hbm_mb_per_chip} MB",
    )


def fit_tensors(ctx: Context) -> tuple[Iterable[tuple[str, int]], str, dict[str, Any] | None]:
    """The tensors to place: the weights folder's headers when every shard reads, else the built-in
    GLM-5 layout of the profile's weights (bf16 or w4a8)."""
    scan = ctx.fact(scan_weights)
    config = scan.config.data if scan.config and isinstance(scan.config.data, dict) else None
    if scan.complete:
        return scan.tensor_sizes(), f"headers of {scan.file_count} files in {scan.path}", config
    why = scan.error or "some shards cannot be read"
    return builtin_tensors(ctx.profile.model.weights, f"{scan.path}: {why}")


def builtin_tensors(weights: str, why: str) -> tuple[list[tuple[str, int]], str, None]:
    return glm5.tensor_sizes(weights), f"built-in GLM-5 {weights} layout ({why})", None


def hbm_per_chip(ctx: Context) -> tuple[int | None, str]:
    """The usable HBM of the smallest chip this node's plan uses: npu-smi's total (a 910B4 has 32 GB, not
    the 64 GB of the profile) less what the driver holds; (None, why) when npu-smi gives no HBM column."""
    from glm5check.facts.npu import chip_plan

    try:
        planned = ctx.fact(chip_plan).planned
    except ProbeFailed as exc:
        return None, f"npu-smi unreadable ({exc})"
    sizes = [chip.hbm_total_mb for chip in planned if chip.hbm_total_mb]
    if not sizes:
        return None, "no HBM size from npu-smi"
    return usable_hbm_mb(min(sizes)) * MIB, f"npu-smi's {min(sizes)} MB"


def memory_fit(ctx: Context) -> Fit:
    """Fact provider: the memory plan of one rank for this profile and serve plan."""
    tensors, source, config = fit_tensors(ctx)
    buffsize, origin = hccl_buffsize_mb(ctx)
    plan = fit_plan(ctx, config)
    hbm, hbm_origin = hbm_per_chip(ctx)
    why = "" if hbm is not None else f" ({hbm_origin})"
    if hbm is not None:
        plan = replace(plan, hbm_bytes=hbm, hbm_origin=hbm_origin)
    result = fit(tensors, plan, source, Assumptions(hccl_buffsize_mb=buffsize))
    notes = [
        f"HCCL buffer size from {origin}",
        f"usable HBM per NPU: {plan.hbm_origin} − {DRIVER_RESERVED_MB} MB the driver holds{why}",
    ]
    return replace(result, assumptions=[*result.assumptions, *notes])


@reported_fact("memory_fit")
def report_memory_fit(ctx: Context) -> dict[str, Any] | None:
    result = ctx.facts.peek(memory_fit)
    return None if result is None else result.to_dict()
