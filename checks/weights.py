"""weights.*: a complete, untruncated GLM-5 weights folder that matches the serve plan (failure class F9).

Everything is decided from the folder listing, the small JSON files and the safetensors headers
(glm5check.facts.weights); no tensor data is read, so a 1.4 TB folder is checked in about a second.
"""

from __future__ import annotations

from collections.abc import Iterator

from glm5check.engine.check import Result, check, failed, passed, skipped, warned
from glm5check.facts.context import Context
from glm5check.facts.system import mount_of, mount_table
from glm5check.facts.weights import GENERATION_CONFIG, TOKENIZER_FILES, mtp_layer, readable_weights, scan_weights
from glm5check.facts.weights_scan import INDEX_FILES, QUANT_DESCRIPTION, JsonFile, Shard, WeightsScan
from glm5check.knowledge import glm5
from glm5check.util.units import fmt_bytes

# Files that extend the index without being counted in its total_size: msModelSlim's QuaRot matrix and
# the MTP embed/head copies that the vllm-ascend GLM-5 tutorial's adjust_weight.py writes.
ADD_ON_FILES = ("rot.safetensors", "mtp-others.safetensors")
MAX_ITEMS = 20  # per check; the rest is summarised in one line
NETWORK_FS = (
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "fuse.ceph", "cephfs", "glusterfs", "fuse.glusterfs",
    "lustre", "gpfs", "beegfs", "fuse.juicefs", "juicefs", "fuse.s3fs", "fuse.ossfs", "fuse.sshfs", "dpc",
    "oceanstor", "9p", "virtiofs",
)  # fmt: skip
DOWNLOAD_FIX = (
    "download the missing or damaged files again, e.g. `modelscope download --model Eco-Tech/GLM-5-w4a8 "
    "--local_dir DIR` (or `huggingface-cli download … --local-dir DIR`), then rerun glm5check"
)


# -- weights.path -------------------------------------------------------------------------------------


def _config_result(config: JsonFile | None) -> Result:
    expected = f"{glm5.ARCHITECTURE} / model_type {glm5.MODEL_TYPE}"
    if config is None or config.error:
        why = config.error if config else "missing"
        return failed(
            f"config.json {why}",
            item="config.json",
            expected=expected,
            observed=why,
            remediation="download config.json with the weights (it is part of the model repository)",
        )
    data = config.data if isinstance(config.data, dict) else {}
    archs, model_type = data.get("architectures") or [], data.get("model_type")
    if glm5.ARCHITECTURE in archs and model_type == glm5.MODEL_TYPE:
        return passed(f"config.json: {glm5.ARCHITECTURE}, {model_type}", item="config.json", observed=expected)
    observed = f"{', '.join(map(str, archs)) or 'no architectures'} / model_type {model_type}"
    return failed(
        f"config.json names {observed}, not GLM-5",
        item="config.json",
        expected=expected,
        observed=observed,
        remediation="point --model-dir at the GLM-5 weights; a config rewritten for another engine "
        "(e.g. deepseek_v32) will not load as GLM-5 in vLLM",
    )


@check(
    "weights.path",
    title="Weights folder, config.json, tokenizer and generation config",
    explain="""
Why: vllm serve reads config.json first and the tokenizer right after; a wrong path, a config that is
not JSON or names another architecture, or a missing tokenizer stops the start-up, sometimes only after
the workers have spawned on every NPU.

What: the model folder (--model-dir, else the profile's path) can be listed; config.json is JSON and
names GlmMoeDsaForCausalLM / glm_moe_dsa; tokenizer.json and tokenizer_config.json are there;
generation_config.json is there (without it vLLM silently uses default sampling settings).

Fix: download the complete model repository into the folder, e.g.
`modelscope download --model Eco-Tech/GLM-5-w4a8 --local_dir /root/.cache/modelscope/hub/models/vllm-ascend/GLM-5-w4a8`,
or pass the right folder with --model-dir.
""",
)
def weights_path(ctx: Context) -> Iterator[Result]:
    scan = ctx.fact(scan_weights)
    if not scan.readable:
        fix = f"download the weights into {scan.path}, or pass --model-dir"
        if ctx.profile.multi_node:
            fix = f"mount the storage that holds the weights at {scan.path} as on the other node(s); or " + fix
        yield failed(
            f"weights folder {scan.path}: {scan.error}",
            item="folder",
            expected="a readable folder",
            observed=scan.error,
            remediation=fix,
        )
        return
    yield passed(f"{scan.path} holds {len(scan.entries)} entries", item="folder", observed=scan.path)
    yield _config_result(scan.config)
    absent = [name for name in TOKENIZER_FILES if name not in scan.entries]
    if absent:
        yield failed(
            f"tokenizer file(s) missing: {', '.join(absent)}",
            item="tokenizer",
            expected=", ".join(TOKENIZER_FILES),
            observed="missing: " + ", ".join(absent),
            remediation="download the tokenizer files of the model repository into the weights folder",
        )
    else:
        yield passed("tokenizer.json and tokenizer_config.json present", item="tokenizer")
    if GENERATION_CONFIG in scan.entries:
        yield passed(f"{GENERATION_CONFIG} present", item=GENERATION_CONFIG)
    else:
        yield warned(
            f"{GENERATION_CONFIG} missing: vLLM falls back to default sampling settings",
            item=GENERATION_CONFIG,
            expected="present",
            observed="missing",
            remediation=f"download {GENERATION_CONFIG} from the model repository",
        )


# -- weights.shards -----------------------------------------------------------------------------------


def _shard_message(shard: Shard, leftovers: tuple[str, ...]) -> tuple[str, str]:
    """The message and remediation for one bad shard, naming the cause."""
    stem = shard.name.rsplit(".", 1)[0]
    partial = [name for name in leftovers if name.startswith(stem)]
    if shard.cause == "missing":
        hint = f"; partial download left {', '.join(partial)}" if partial else ""
        return f"missing: listed in the index but not in the folder{hint}", DOWNLOAD_FIX
    if shard.cause == "truncated":
        return f"truncated: {shard.detail}", DOWNLOAD_FIX
    if shard.cause == "lfs-pointer":
        return (
            f"Git-LFS pointer stub ({shard.size} bytes), not the weights; vLLM fails with HeaderTooLarge",
            "run `git lfs install && git lfs pull` in the folder, or download with modelscope/huggingface-cli",
        )
    if shard.cause == "unreadable":
        return f"unreadable: {shard.detail}", f"make {shard.name} a readable regular file, or download it again"
    if shard.cause == "outside":
        return (
            f"the index names a file outside the weights folder: {shard.detail}",
            "correct the index's weight_map: its values are file names inside the weights folder",
        )
    return f"header does not match the data: {shard.detail}", DOWNLOAD_FIX


def _shard_result(shard: Shard, leftovers: tuple[str, ...]) -> Result:
    message, fix = _shard_message(shard, leftovers)
    expected = shard.expected_file_size
    return failed(
        message,
        item=shard.name,
        expected=f"{expected:,} bytes" if expected else "a complete safetensors file",
        observed=f"{shard.size:,} bytes" if shard.size is not None else shard.cause,
        remediation=fix,
    )


def _index_results(scan: WeightsScan) -> list[Result]:
    index = scan.index
    if index is None or index.error == "missing":
        files = [s.name for s in scan.shards]
        if len(files) == 1:
            return []
        return [
            failed(
                f"no {' or '.join(INDEX_FILES)}" + ("" if files else " and no .safetensors files"),
                item="index",
                expected="a safetensors index",
                observed=f"{len(files)} .safetensors files",
                remediation=DOWNLOAD_FIX,
            )
        ]
    if index.error or not isinstance(index.data, dict) or not scan.mapped_count:
        why = index.error or "no weight_map"
        return [failed(f"{index.name}: {why}", item=index.name, observed=why, remediation=DOWNLOAD_FIX)]
    return []


def _map_results(scan: WeightsScan) -> list[Result]:
    """Every weight_map entry must be in the header of the shard it points to."""
    absent_by_shard: dict[str, list[str]] = {}
    for name, shard_name in scan.unmapped:
        absent_by_shard.setdefault(shard_name, []).append(name)
    results = []
    for shard in scan.shards:
        absent = absent_by_shard.get(shard.name) if shard.has_header else None
        if absent:
            results.append(
                failed(
                    f"index maps {len(absent)} tensor(s) to this shard that its header lacks, e.g. {absent[0]}",
                    item=shard.name,
                    expected="every weight_map entry in its shard",
                    observed=f"{len(absent)} absent",
                    remediation=DOWNLOAD_FIX + " (the index and the shards come from different revisions)",
                )
            )
    return results


def _total_result(scan: WeightsScan) -> Result | None:
    data = scan.index.data if scan.index and isinstance(scan.index.data, dict) else {}
    meta = data.get("metadata")
    total = meta.get("total_size") if isinstance(meta, dict) else None
    if not isinstance(total, int):
        return None
    sizes = {s.name: s.tensor_bytes for s in scan.shards if s.has_header}
    every = sum(sizes.values())
    main = every - sum(sizes.get(name, 0) for name in ADD_ON_FILES)
    if total in (every, main):
        return None
    return failed(
        f"index total_size {total:,} bytes, but the shard headers hold {every:,}",
        item="total_size",
        expected=f"{every:,}",
        observed=f"{total:,}",
        remediation=DOWNLOAD_FIX,
    )


@check(
    "weights.shards",
    title="Every shard present, complete and consistent with the index",
    explain="""
Why: a missing or truncated shard, or a Git-LFS pointer left instead of the data, is found by vLLM only
when it reaches that file, minutes into loading on every NPU ("HeaderTooLarge",
"MetadataIncompleteBuffer", KeyError on a weight name).

What: the index (model.safetensors.index.json, or msModelSlim's
quant_model_weights.safetensors.index.json) parses; every shard it names exists and is a regular file;
each header (8-byte length + JSON) parses, its dtype × shape sizes tile the data exactly, and the file
size is 8 + header + last offset; every weight_map entry is in the header of its shard; the index
total_size agrees with the headers. Each failure names its cause: missing, truncated (bytes present vs
expected), Git-LFS pointer stub, partial-download leftovers, unreadable.

Fix: download the named files again (modelscope download / huggingface-cli download with the same
revision as the index); for LFS stubs run `git lfs pull`.
""",
)
def weights_shards(ctx: Context) -> Iterator[Result]:
    scan = ctx.fact(readable_weights)
    problems = _index_results(scan)
    problems += [_shard_result(shard, scan.leftovers) for shard in scan.shards if not shard.ok]
    problems += _map_results(scan)
    total = _total_result(scan) if all(s.ok for s in scan.shards) else None
    if total:
        problems.append(total)
    yield from problems[:MAX_ITEMS]
    if len(problems) > MAX_ITEMS:
        yield failed(f"… and {len(problems) - MAX_ITEMS} more problems", item="more", remediation=DOWNLOAD_FIX)
    if problems:
        return
    yield passed(
        f"{len(scan.shards)} shards, {scan.tensor_count:,} tensors, {fmt_bytes(scan.total_bytes)}; every header "
        "matches its file size and the index",
        observed=f"{len(scan.shards)} shards",
    )
    if scan.leftovers:
        yield warned(
            f"partial-download leftovers in the folder: {', '.join(scan.leftovers[:5])}",
            item="leftovers",
            remediation="delete them once the download is complete (they suggest a download was interrupted)",
        )


# -- weights.quantization -----------------------------------------------------------------------------


def _description(scan: WeightsScan) -> JsonFile:
    return scan.quant or JsonFile(QUANT_DESCRIPTION, error="missing")


def _expected_quant_type(ctx: Context) -> str | None:
    """The model_quant_type msModelSlim writes for the profile's layout (that of its routed experts)."""
    scheme = glm5.EXPERT_SCHEME[ctx.profile.model.weights]
    return None if scheme == "FLOAT" else scheme


def _quantized_results(ctx: Context, scan: WeightsScan, description: JsonFile) -> Iterator[Result]:
    data = description.data if isinstance(description.data, dict) else {}
    quant_type = data.get("model_quant_type")
    expected = _expected_quant_type(ctx)
    if expected and quant_type != expected:
        yield warned(
            f"model_quant_type {quant_type}, the profile's {ctx.profile.model.name} is {expected}",
            item="model_quant_type",
            expected=expected,
            observed=str(quant_type),
            remediation="check that --model-dir holds the weights the profile expects; memory.fit uses the "
            "headers, so its verdict already reflects these weights",
        )
    else:
        yield passed(f"model_quant_type {quant_type}", item="model_quant_type", observed=str(quant_type))
    omitted = scan.undescribed  # rot.safetensors (QuaRot) aside: vllm-ascend never looks it up
    if omitted:
        yield failed(
            f"{len(omitted)} shard tensor(s) missing from {QUANT_DESCRIPTION}, e.g. {omitted[0]}",
            item="coverage",
            expected="every tensor described",
            observed=f"{len(omitted)} not described",
            remediation=f"use the {QUANT_DESCRIPTION} exported with these shards (vllm-ascend looks each "
            "layer up in it and fails on a missing name)",
        )
    else:
        yield passed(f"{QUANT_DESCRIPTION} describes all {scan.described_count:,} model tensors", item="coverage")


@check(
    "weights.quantization",
    title="Quantization description matches --quantization ascend",
    explain="""
Why: at the pinned vllm-ascend (ff3a50d) msModelSlim weights (w4a8) load only with
`--quantization ascend`, which reads quant_model_description.json and looks every layer up in it. Without
the flag the int8 tensors are loaded as if they were bf16 and loading fails; with the flag but without
the file (bf16 weights) vllm-ascend stops at start-up.

What: quant_model_description.json is present exactly when the plan uses --quantization ascend; its
model_quant_type (W4A8_DYNAMIC for the w4a8 profiles, W8A8_DYNAMIC for w8a8 and w8a8c8); and every tensor in
the shards is described.

Fix: add `--quantization ascend` for msModelSlim weights, drop it for bf16 weights, or download the
description that belongs to the shards.
""",
)
def weights_quantization(ctx: Context) -> Iterator[Result]:
    scan = ctx.fact(readable_weights)
    description = _description(scan)
    wants = ctx.plan.quantization == "ascend"
    has = description.present
    if wants and not has:
        yield failed(
            f"--quantization ascend, but {QUANT_DESCRIPTION} is missing (bf16 weights?)",
            item="description",
            expected="present",
            observed="missing",
            remediation=f"use the msModelSlim weights (with {QUANT_DESCRIPTION}), or drop --quantization ascend "
            "for bf16 weights",
        )
    elif has and not wants:
        yield failed(
            f"{QUANT_DESCRIPTION} present (msModelSlim weights) but the plan has no --quantization ascend",
            item="description",
            expected="--quantization ascend",
            observed=f"quantization {ctx.plan.quantization}",
            remediation="add `--quantization ascend` to vllm serve (vllm-ascend ff3a50d does not detect it)",
        )
    elif not has:
        yield passed("unquantized weights and no --quantization, as planned", item="description")
    elif description.error:
        yield failed(
            f"{QUANT_DESCRIPTION}: {description.error}",
            item="description",
            observed=description.error,
            remediation=f"download {QUANT_DESCRIPTION} again",
        )
    else:
        yield passed(f"{QUANT_DESCRIPTION} present for --quantization ascend", item="description")
        yield from _quantized_results(ctx, scan, description)


# -- weights.mtp --------------------------------------------------------------------------------------


@check(
    "weights.mtp",
    title="MTP layer present when deepseek_mtp speculative decoding is on",
    explain="""
Why: `--speculative-config '{"method": "deepseek_mtp", …}'` loads GLM-5's multi-token-prediction layer,
stored as model.layers.78. The guide's GLM-5-w4a8 weights are "without mtp" while every command in the
guide enables deepseek_mtp, so vLLM fails after loading the main model. The bf16 checkpoint has layer 78
but not its own embed_tokens / shared_head.head copies, which the vllm-ascend GLM-5 tutorial adds with
adjust_weight.py (mtp-others.safetensors).

What: with deepseek_mtp in the plan, tensors named model.layers.<num_hidden_layers>.* exist, including
model.layers.78.embed_tokens.weight and model.layers.78.shared_head.head.weight.

Fix: drop --speculative-config, or use the MTP build of the weights (Eco-Tech/GLM-5-w4a8-mtp-QuaRot);
for bf16 weights run the tutorial's adjust_weight.py.
""",
)
def weights_mtp(ctx: Context) -> Result:
    if not ctx.plan.uses_mtp:
        return skipped("no deepseek_mtp speculative decoding in the plan; the MTP layer is not loaded")
    mtp = ctx.fact(mtp_layer)
    expected = f"{mtp.prefix}* (MTP) with embed_tokens and shared_head.head"
    if not mtp.count:
        return failed(
            f"deepseek_mtp requested, but {ctx.profile.model.name} has no {mtp.prefix[:-1]} (MTP)",
            expected=expected,
            observed=f"no {mtp.prefix}* tensors",
            remediation="drop --speculative-config, or use the GLM-5-w4a8-mtp weights (Eco-Tech/GLM-5-w4a8-mtp-QuaRot)",
        )
    if mtp.absent:
        return failed(
            f"MTP layer {mtp.layer} lacks {', '.join(mtp.absent)}",
            expected=expected,
            observed=f"{mtp.count} {mtp.prefix}* tensors, without " + ", ".join(mtp.absent),
            remediation="run adjust_weight.py from the vllm-ascend GLM-5 tutorial (it copies embed_tokens "
            "and lm_head into mtp-others.safetensors), or drop --speculative-config",
        )
    return passed(f"MTP layer {mtp.layer} present ({mtp.count} tensors)", observed=f"{mtp.count} tensors")


# -- weights.shared -----------------------------------------------------------------------------------


@check(
    "weights.shared",
    title="Weights on a filesystem every node shares",
    nodes="multi",
    explain="""
Why: in a two-node deployment every node loads the same weights from the same path. The guide keeps
them on a directory shared by all nodes; separate local copies work only if they are byte-identical,
and a stale or partial copy on one node shows up as wrong output or a load failure on that node only.

What: the filesystem that holds the weights folder (the longest matching mount point) is a network or
shared filesystem (NFS, CIFS, CephFS, GlusterFS, Lustre, GPFS, …).

Fix: put the weights on the shared storage and mount it at the same path on every node; or, with local
copies, run `glm5check weights verify DIR --manifest node0.json` on node 0 and
`glm5check weights verify DIR --manifest node0.json` on the others to prove they are identical.
""",
)
def weights_shared(ctx: Context) -> Result:
    scan = ctx.fact(readable_weights)
    mount = mount_of(ctx.fact(mount_table), scan.path)
    if mount is None:
        return warned(f"no mount found for {scan.path}", remediation="check /proc/self/mounts")
    where = f"{mount.fstype} {mount.device} at {mount.mountpoint}"
    if mount.fstype.lower() in NETWORK_FS:
        return passed(f"weights on shared {where}", observed=where)
    return warned(
        f"weights on local {where}: each node needs an identical copy",
        expected="a shared filesystem",
        observed=where,
        remediation=f"compare `glm5check weights verify {scan.path} --manifest FILE` across "
        "nodes, or move the weights to storage mounted on every node",
    )
