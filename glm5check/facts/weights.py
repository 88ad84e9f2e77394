"""The weights folder as the checks see it (glm5check.facts.weights_scan reads it), and the memory fit.

The scan is remembered by the host: a replay takes it from the snapshot's digest when its key (the scanning
code and every recorded input about the folder) matches, a live run with --cache-dir from its cache when no
file of the folder changed. Otherwise the folder is read again.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from glm5check.engine.context import reported_fact
from glm5check.errors import ProbeFailed, SeeCheck
from glm5check.facts.weights_digest import SCAN_KIND, scan_code, scan_from_json, scan_to_json
from glm5check.facts.weights_scan import (
    INDEX_FILES,
    JSON_CAP_BYTES,
    QUANT_DESCRIPTION,
    WeightsScan,
    scan_folder,
)
from glm5check.host.base import Host
from glm5check.knowledge import glm5
from glm5check.knowledge.memfit import (
    DRIVER_RESERVED_MB,
    HCCL_DEFAULT_BUFFSIZE_MB,
    Assumptions,
    Fit,
    FitPlan,
    fit,
    hccl_buffsize_value,
    kv_cache_layout,
    mlapo_state,
    usable_hbm_mb,
)
from glm5check.knowledge.pd import c8_switches
from glm5check.util.units import MIB

if TYPE_CHECKING:
    from glm5check.facts.context import Context

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


def model_dir(ctx: Context) -> str:
    """Where the weights are: --model-dir, else the launch command's model path, else the profile's."""
    return ctx.model_dir


class FileDigest(NamedTuple):
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


def scan_weights(ctx: Context) -> WeightsScan:
    """Fact provider: everything the weights checks need, from headers only."""
    folder = model_dir(ctx)
    code = scan_code()
    remembered = ctx.host.recall(SCAN_KIND, folder, code) if code else None
    scan = scan_from_json(remembered, folder) if remembered is not None else None
    if scan is None:
        scan = scan_folder(ctx.host, folder)
        if code:
            ctx.host.remember(
                SCAN_KIND, folder, code, scan_to_json(scan), lambda host: scan_to_json(scan_folder(host, folder))
            )
    return scan


def readable_weights(ctx: Context) -> WeightsScan:
    """The scan of a folder that could be read; for one that cannot, weights.path reports why."""
    scan = ctx.fact(scan_weights)
    if not scan.readable:
        raise SeeCheck("weights.path", f"weights folder {scan.path} cannot be read ({scan.error})")
    return scan


@dataclass(frozen=True)
class MtpLayer:
    """The MTP layer of the weights: model.layers.<num_hidden_layers>.*, and the embed/head copies it needs."""

    layer: int
    count: int  # its tensors
    absent: tuple[str, ...]  # required names (embed_tokens, shared_head.head) the layer lacks

    @property
    def prefix(self) -> str:
        return f"model.layers.{self.layer}."


def mtp_layer(ctx: Context) -> MtpLayer:
    scan = ctx.fact(readable_weights)
    prefix = scan.mtp_prefix
    absent = tuple(
        prefix + name for name in glm5.MTP_EMBED_HEAD if scan.mtp_count and prefix + name not in scan.mtp_embed_head
    )
    return MtpLayer(scan.mtp_layer, scan.mtp_count, absent)


def loadable_mtp_layer(ctx: Context) -> MtpLayer:
    """The MTP layer when deepseek_mtp can load it; when it cannot, weights.mtp reports why."""
    mtp = ctx.fact(mtp_layer)
    if not mtp.count:
        raise SeeCheck("weights.mtp", f"the weights have no {mtp.prefix}* (MTP) tensors")
    if mtp.absent:
        raise SeeCheck("weights.mtp", f"the MTP layer {mtp.layer} lacks {', '.join(mtp.absent)}")
    return mtp


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


def fit_plan(ctx: Context, config: dict[str, Any] | None = None, env: Mapping[str, str] | None = None) -> FitPlan:
    """The memory plan of one rank for the effective plan; `env` is what vllm serve's environment holds of the
    variables the model reads (default: the node's)."""
    plan, hardware, stack = ctx.plan, ctx.profile.hardware, ctx.stack.name
    layers = (config or {}).get("num_hidden_layers", glm5.CONFIG["num_hidden_layers"])
    additional = plan.additional_config or {}
    mlapo, mlapo_why = mlapo_state(
        additional, _node_env(ctx) if env is None else env, stack, plan.kv_role, plan.max_num_batched_tokens
    )
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
        kv=kv_cache_layout(*c8_switches(additional, stack)),
        mlapo=mlapo,
        mlapo_why=mlapo_why,
    )


def _node_env(ctx: Context) -> Mapping[str, str]:
    """The environment vllm serve would see; the script's exports alone when a snapshot holds no environment."""
    try:
        return ctx.env
    except ProbeFailed:
        return ctx.script_env


def fit_tensors(ctx: Context) -> tuple[Iterable[tuple[str, int]], str, dict[str, Any] | None]:
    """The tensors to place, as (name pattern, bytes): the weights folder's headers when every shard
    reads, else the built-in GLM-5 layout of the profile's weights (one of glm5.LAYOUTS)."""
    scan = ctx.fact(scan_weights)
    config = scan.config.data if scan.config and isinstance(scan.config.data, dict) else None
    if scan.complete:
        return scan.tally, f"headers of {scan.file_count} files in {scan.path}", config
    why = scan.error or "some shards cannot be read"
    return builtin_tensors(ctx.profile.model.weights, f"{scan.path}: {why}")


def builtin_tensors(weights: str, why: str) -> tuple[list[tuple[str, int]], str, None]:
    return glm5.class_sizes(weights), f"built-in GLM-5 {weights} layout ({why})", None


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
