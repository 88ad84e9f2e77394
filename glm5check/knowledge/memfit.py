"""The memory-fit model: does one rank's share of GLM-5 plus a reserve leave room for the KV cache?

Per rank (one NPU), following how vLLM / vllm-ascend place this model (docs/reference/glm5-model.md §4):
- routed experts (`mlp.experts.N.*`) are split over TP × DP ranks either way: whole experts over
  EP = TP × DP with --enable-expert-parallel, else every expert tensor-parallel over TP × DP (vLLM
  flattens TP across DP for the MoE layers: `FusedMoEParallelConfig.make` and `flatten_tp_across_dp`,
  vllm/model_executor/layers/fused_moe/config.py in vllm 0.16.0; vllm-ascend's w4a8 MoE loader splits
  the same way, vllm_ascend/quantization/w4a8.py@ff3a50d);
- q_b_proj, kv_b_proj, o_proj, the dense MLPs, the shared experts, the embeddings and LM heads are
  split over TP;
- everything else (q_a_proj, kv_a_proj_with_mqa, the DSA indexer, norms, the router, eh_proj) is
  replicated on every rank;
- the MTP layer (model.layers.<num_hidden_layers>) is loaded only when speculative decoding uses it.
The budget is vllm-ascend's: `NPUWorker.determine_available_memory` (vllm_ascend/worker/worker.py:302
@ff3a50d) gives the KV cache `total_npu_memory × gpu_memory_utilization − peak`, where total_npu_memory
is what `torch.npu.mem_get_info()` reports (npu-smi's HBM less what the driver holds: 60.96 GiB on a
64 GB chip) and peak is the profiled peak of torch (weights and activations) plus every allocation
outside torch on the chip (HCCL buffers, the CANN runtime, and any other process's HBM). Here: the
usable capacity × gpu_memory_utilization, less the weights and a reserve (activations at
max_num_batched_tokens, HCCL buffers, runtime overhead — assumptions, all printed and overridable);
what is left is the KV cache: 1408 bytes per token per layer at bf16 (786 with the 8-bit "C8" cache, see
`kv_cache_layout`), +1 layer for MTP, a full copy per TP rank. MLAPO, the MLA preprocess fusion vllm-ascend
turns on by default for W8A8 attention, keeps fused copies of each layer's q_a / kv_a / q_b weights next to
the originals (`mlapo_copy`); they are weights too and come out of the KV cache.
HBM another process holds is judged by npu.hbm against this same budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from glm5check.knowledge.pd import c8_switches, stack_has, truthy
from glm5check.knowledge.placement import classify, sharding
from glm5check.knowledge.stacks import load_stack
from glm5check.util.numbers import whole
from glm5check.util.units import GIB, MIB

# vllm-ascend's SFA backend at the pinned commit: (kv_lora_rank 512 + qk_rope 64 + indexer 128) × 2 bytes.
KV_BYTES_PER_TOKEN_LAYER = (512 + 64 + 128) * 2
KV_BLOCK_TOKENS = 128


@dataclass(frozen=True)
class KvCache:
    """How one token of one attention layer is cached: its name and bytes."""

    name: str
    bytes_per_token_layer: int


BF16_KV = KvCache("bf16", KV_BYTES_PER_TOKEN_LAYER)
# GLM-5's attention: kv_lora_rank 512, qk_rope_head_dim 64, the DSA indexer's key 128.
_LORA, _ROPE, _INDEX = 512, 64, 128


def kv_cache_layout(sfa_c8: bool, li_c8: bool) -> KvCache:
    """The KV cache of vllm-ascend's sparse attention with its 8-bit ("C8") switches, on Atlas A2/A3
    (vllm-ascend@v0.23.0): `AscendMLAAttentionSpec.page_size_bytes` (vllm_ascend/core/kv_cache_interface.py:
    66-120) with the per-layer spec of worker/model_runner_v1.py:4958-4982. enable_sparse_sfa_c8 packs the
    latent as int8 with the rope part in bf16 and one float32 scale per 128 values (attention/utils.py:25-37:
    512 + 64 × 2 + 512 / 128 × 4 = 656 bytes); enable_sparse_li_c8 keeps the indexer's key as int8 with one
    float16 scale (128 + 2); otherwise each part is bf16 ((512 + 64 + 128) × 2 = 1408)."""
    if not (sfa_c8 or li_c8):
        return BF16_KV
    latent = _LORA + _ROPE * 2 + _LORA // 128 * 4 if sfa_c8 else (_LORA + _ROPE) * 2
    indexer = _INDEX + 2 if li_c8 else _INDEX * 2
    parts = " + ".join(name for name, on in (("SFA", sfa_c8), ("indexer", li_c8)) if on)
    return KvCache(f"C8 ({parts})", latent + indexer)


# HCCL's documented default when HCCL_BUFFSIZE is unset (MB per buffer).
HCCL_DEFAULT_BUFFSIZE_MB = 200
# HBM the driver and firmware keep out of torch_npu's sight: npu-smi shows 65536 MB on a 64 GB chip,
# torch_npu's total is 60.96 GiB (62423 MiB) on 910B chips: "NPU out of memory … (NPU 3; 60.96 GiB total
# capacity …)" (vllm-ascend#2378, 2 × Atlas 800 A2) and "Free memory on device (27.18/60.96 GiB)"
# (vllm-ascend#8621, 910B); A3 dies show 61.27 GiB (sglang#29838), so 910B's figure is the cautious one.
DRIVER_RESERVED_MB = 65536 - 62423
# HBM in use on an idle chip as npu-smi shows it (2.6-4.2 GB in real tables of idle 32 and 64 GB chips):
# the driver's share (DRIVER_RESERVED_MB, outside torch_npu's total) and the runtime's (part of memory.fit's
# reserve). Usage above it is another process's, which vllm-ascend subtracts from the KV cache.
IDLE_USED_MB = 4608


def at_most(count: float) -> str:
    """A count of sequences rounded down to one decimal (1.96 is not "2.0" of 2)."""
    return f"{math.floor(count * 10) / 10:.1f}"


# MLAPO's switch: the additional-config key (vllm-ascend v0.20.2rc1 on: ascend_config.py:185-190@v0.23.0), else the
# variable, whose default every stack's vllm-ascend sets to "1" (vllm_ascend/envs.py:87@v0.23.0, :96@ff3a50d0).
MLAPO_ENV = "VLLM_ASCEND_ENABLE_MLAPO"
MLAPO_MAX_SUPPORTED_TOKENS = 1024  # vllm_ascend/attention/mla_v1.py:77@v0.23.0, :63@ff3a50d0


def mlapo_state(
    additional: Mapping[str, Any], env: Mapping[str, str], stack: str, kv_role: str | None, batched_tokens: int
) -> tuple[bool, str]:
    """Whether MLAPO keeps extra weight copies on this rank, and why (in words). It applies to W8A8 attention only:
    the weights decide that (WeightsPerRank.mlapo_copy_bytes)."""
    on, why = _mlapo_switch(additional, env, stack)
    if not on:
        return False, f"off ({why})"
    if truthy(additional.get("enable_dsa_cp", False)):
        return False, f"{why}, but off with enable_dsa_cp (vllm_ascend/attention/sfa_v1.py:820@v0.23.0)"
    if c8_switches(additional, stack)[0]:
        return False, f"{why}, but off with enable_sparse_sfa_c8 on A2/A3 (sfa_v1.py:697-699@v0.23.0)"
    if kv_role in ("kv_consumer", "kv_both") and batched_tokens <= MLAPO_MAX_SUPPORTED_TOKENS:
        return False, (
            f"{why}; on a KV consumer with max_num_batched_tokens <= {MLAPO_MAX_SUPPORTED_TOKENS} the fused "
            "copies replace the original weights (sfa_v1.py:977-989@v0.23.0): no extra memory"
        )
    copied = "q_a_proj, kv_a_proj_with_mqa and q_b_proj (sfa_v1.py:919-990@v0.23.0, :623-696@ff3a50d)"
    return True, f"{why}: fused copies of {copied}"


def _mlapo_switch(additional: Mapping[str, Any], env: Mapping[str, str], stack: str) -> tuple[bool, str]:
    if "enable_mlapo" in additional and stack_has(stack, "v0.20.2rc1"):
        return truthy(additional["enable_mlapo"]), f"--additional-config enable_mlapo {additional['enable_mlapo']}"
    if MLAPO_ENV in env:
        return truthy(env[MLAPO_ENV]), f"{MLAPO_ENV}={env[MLAPO_ENV]}"
    variable = load_stack(stack).env_var(MLAPO_ENV)
    default = variable.default if variable is not None else None
    return truthy(default), f"{MLAPO_ENV} unset: vllm-ascend's default {default} at stack {stack}"


def usable_hbm_mb(total_mb: int) -> int:
    """The HBM vLLM sees on a chip (torch_npu's total) from the total npu-smi shows."""
    return max(total_mb - DRIVER_RESERVED_MB, 0)


def hccl_buffsize_value(raw: str) -> int | None:
    """HCCL_BUFFSIZE in MB, or None when it is not a positive whole number (ASCII digits only: int()
    refuses "²" and numbers of over 4300 digits)."""
    return whole(raw, digits=9, low=1)


class Assumptions(NamedTuple):
    """The reserve's parts. Defaults are deliberately round estimates (the real activation peak of
    GLM-5 on an NPU is not published); each one can be overridden from `glm5check fit`."""

    activation_bytes_per_token: int = 512 * 1024  # peak of profile_run per batched token
    runtime_overhead_bytes: int = 5 * GIB // 4  # CANN runtime, operator workspaces, allocator slack
    hccl_buffsize_mb: int = HCCL_DEFAULT_BUFFSIZE_MB
    hccl_groups: int | None = None  # communication groups per rank; None = TP, EP and DP groups in use

    def describe(self, plan: FitPlan) -> list[str]:
        groups = self.groups_for(plan)
        return [
            f"activations: {self.activation_bytes_per_token // 1024} KiB per batched token × "
            f"max_num_batched_tokens {plan.max_num_batched_tokens} (override: --activation-kib-per-token)",
            f"HCCL buffers: HCCL_BUFFSIZE {self.hccl_buffsize_mb} MB × 2 (in/out) × {groups} communication "
            "group(s) (override: --hccl-buffsize-mb, --hccl-groups)",
            f"runtime overhead: {self.runtime_overhead_bytes / GIB:.2f} GiB (override: --runtime-overhead-gib)",
            f"KV cache: {plan.kv.name}, {plan.kv.bytes_per_token_layer} bytes per token per layer, a full copy on "
            f"every TP rank, blocks of {KV_BLOCK_TOKENS} tokens",
            f"MLAPO: {plan.mlapo_why or ('on' if plan.mlapo else 'off')}",
        ]

    def groups_for(self, plan: FitPlan) -> int:
        if self.hccl_groups is not None:
            return self.hccl_groups
        tp_group = plan.tp > 1
        ep_group = plan.expert_parallel and plan.ep > 1
        dp_group = plan.dp > 1
        return sum((tp_group, ep_group, dp_group))


@dataclass(frozen=True)
class FitPlan:
    """The serve-plan values the memory fit needs, with the HBM of one NPU."""

    tp: int
    dp: int
    expert_parallel: bool
    max_num_batched_tokens: int
    max_model_len: int
    max_num_seqs: int
    gpu_memory_utilization: float
    hbm_bytes: int  # usable HBM of one NPU: torch_npu's total, npu-smi's less DRIVER_RESERVED_MB
    mtp: bool
    num_hidden_layers: int = 78
    hbm_origin: str = ""  # where hbm_bytes came from, for the messages
    kv: KvCache = BF16_KV
    mlapo: bool = False  # MLAPO keeps fused copies of the attention's input weights (W8A8 attention only)
    mlapo_why: str = ""  # what turns it on or off, for the messages

    @property
    def ep(self) -> int:
        return self.tp * self.dp if self.expert_parallel else 1

    @property
    def expert_split(self) -> int:
        """Ranks the routed experts are split over: TP × DP with or without expert parallelism."""
        return self.tp * self.dp


class WeightsPerRank(NamedTuple):
    source: str
    expert_bytes: int = 0  # whole-model totals per class (of the tensors the plan loads)
    tp_bytes: int = 0
    replicated_bytes: int = 0
    skipped_mtp_bytes: int = 0  # the MTP layer, present but not loaded without speculative decoding
    expert_split: int = 1
    tp: int = 1
    mlapo_copy_bytes: int = 0  # per rank: what MLAPO would copy (0 unless the attention is W8A8 static)

    @property
    def experts_per_rank(self) -> int:
        return math.ceil(self.expert_bytes / self.expert_split)

    @property
    def tp_per_rank(self) -> int:
        return math.ceil(self.tp_bytes / self.tp)

    @property
    def per_rank(self) -> int:
        return self.experts_per_rank + self.tp_per_rank + self.replicated_bytes


def mlapo_copy(place: str, nbytes: int, tp: int) -> int:
    """The bytes MLAPO copies on one rank of tensors of this class of `classify` (0 for others)."""
    if not place.endswith(("/mlapo", "/mlapo-static")):
        return 0
    return nbytes if sharding(place) == "replicated" else math.ceil(nbytes / tp)


def weights_per_rank(tensors: Iterable[tuple[str, int]], plan: FitPlan, source: str) -> WeightsPerRank:
    totals = {"expert": 0, "tp": 0, "replicated": 0, "mtp": 0, "mlapo": 0, "static": 0}
    mtp_prefix = f"model.layers.{plan.num_hidden_layers}."
    for name, nbytes in tensors:
        if not plan.mtp and name.startswith(mtp_prefix):
            totals["mtp"] += nbytes
            continue
        place = classify(name)
        totals[sharding(place)] += nbytes
        totals["mlapo"] += mlapo_copy(place, nbytes, plan.tp)
        totals["static"] += place.endswith("/mlapo-static")
    mlapo = totals["mlapo"] if totals["static"] else 0
    return WeightsPerRank(
        source, totals["expert"], totals["tp"], totals["replicated"], totals["mtp"], plan.expert_split, plan.tp, mlapo
    )


@dataclass(frozen=True)
class Fit:
    """The memory fit of one rank: its weights, activations, HCCL buffers and runtime, and the KV budget."""

    plan: FitPlan
    weights: WeightsPerRank
    activation_bytes: int
    hccl_bytes: int
    runtime_bytes: int
    assumptions: list[str] = field(default_factory=list)
    held_bytes: int = 0  # HBM another process holds on the chip: vllm-ascend counts it in the peak

    @property
    def reserve_bytes(self) -> int:
        return self.activation_bytes + self.hccl_bytes + self.runtime_bytes

    @property
    def mlapo_bytes(self) -> int:
        """MLAPO's fused weight copies on this rank (when it runs)."""
        return self.weights.mlapo_copy_bytes if self.plan.mlapo else 0

    @property
    def budget_bytes(self) -> int:
        return int(self.plan.hbm_bytes * self.plan.gpu_memory_utilization)

    @property
    def kv_budget_bytes(self) -> int:
        return self.budget_bytes - self.weights.per_rank - self.mlapo_bytes - self.reserve_bytes - self.held_bytes

    @property
    def kv_layers(self) -> int:
        return self.plan.num_hidden_layers + (1 if self.plan.mtp else 0)

    @property
    def kv_bytes_per_token(self) -> int:
        return self.plan.kv.bytes_per_token_layer * self.kv_layers

    @property
    def kv_tokens(self) -> int:
        if self.kv_budget_bytes <= 0:
            return 0
        blocks = self.kv_budget_bytes // (self.kv_bytes_per_token * KV_BLOCK_TOKENS)
        return blocks * KV_BLOCK_TOKENS

    @property
    def full_sequences(self) -> float:
        return self.kv_tokens / self.plan.max_model_len if self.plan.max_model_len > 0 else 0.0

    @property
    def verdict(self) -> str:
        if self.kv_budget_bytes <= 0 or self.kv_tokens < self.plan.max_model_len:
            return "fail"
        if self.full_sequences < self.plan.max_num_seqs:
            return "warn"
        return "pass"

    def budget_text(self) -> str:
        """`57.9 GiB budget (0.95 × 60.96 GiB usable: npu-smi's 65536 MB − 3113 MB the driver holds)`."""
        plan = self.plan
        origin = f": {plan.hbm_origin} − {DRIVER_RESERVED_MB} MB the driver holds" if plan.hbm_origin else ""
        usable = f"{plan.hbm_bytes / GIB:.2f} GiB usable{origin}"
        return f"{self.budget_bytes / GIB:.1f} GiB budget ({plan.gpu_memory_utilization} × {usable})"

    def summary(self) -> str:
        """One line with the numbers, whatever the verdict."""
        w, r = self.weights.per_rank / GIB, self.reserve_bytes / GIB
        mlapo = f" + {self.mlapo_bytes / GIB:.1f} GiB MLAPO copies" if self.mlapo_bytes else ""
        held = f" + {self.held_bytes / GIB:.1f} GiB held by another process" if self.held_bytes else ""
        head = f"per rank {w:.1f} GiB weights{mlapo} + {r:.1f} GiB reserve{held} of {self.budget_text()}"
        if self.kv_budget_bytes <= 0:
            return f"{head}: over by {-self.kv_budget_bytes / GIB:.1f} GiB, no room for a KV cache"
        # Worded without "tokens =" or "-token": the report's secret redaction would mask what follows.
        return (
            f"{head}; KV {self.kv_budget_bytes / GIB:.1f} GiB holds {self.kv_tokens // 1000}k tokens, "
            f"{at_most(self.full_sequences)} sequences of {self.plan.max_model_len} at once "
            f"({self.plan.max_num_seqs} requested)"
        )

    def vllm_error(self) -> str | None:
        """The error vLLM raises at start-up for this plan (its wording), or None when it starts."""
        if self.weights.per_rank >= self.plan.hbm_bytes:
            return (
                f"RuntimeError: NPU out of memory (while loading the weights: {self.weights.per_rank / GIB:.1f} "
                f"GiB per rank > {self.plan.hbm_bytes / GIB:.2f} GiB total capacity)"
            )
        if self.kv_budget_bytes <= 0:
            return (
                "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
                "initializing the engine."
            )
        if self.kv_tokens >= self.plan.max_model_len:
            return None
        needed = self.kv_bytes_per_token * self.plan.max_model_len
        return (
            f"ValueError: To serve at least one request with the models's max seq len "
            f"({self.plan.max_model_len}), ({needed / GIB:.2f} GiB KV cache is needed, which is larger than "
            f"the available KV cache memory ({self.kv_budget_bytes / GIB:.2f} GiB). Based on the available "
            f"memory, the estimated maximum model length is {self.kv_tokens}. Try increasing "
            "`gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine."
        )

    def to_dict(self) -> dict[str, Any]:
        w = self.weights
        return {
            "verdict": self.verdict,
            "plan": asdict(self.plan) | {"ep": self.plan.ep, "expert_split": self.plan.expert_split},
            "weights_source": w.source,
            "weights_per_rank_bytes": w.per_rank,
            "weights_per_rank": {
                "routed_experts": w.experts_per_rank,
                "tp_sharded": w.tp_per_rank,
                "replicated": w.replicated_bytes,
            },
            "weights_total_bytes": {
                "routed_experts": w.expert_bytes,
                "tp_sharded": w.tp_bytes,
                "replicated": w.replicated_bytes,
                "mtp_not_loaded": w.skipped_mtp_bytes,
            },
            "mlapo_bytes": self.mlapo_bytes,
            "reserve_bytes": self.reserve_bytes,
            "reserve": {
                "activations": self.activation_bytes,
                "hccl_buffers": self.hccl_bytes,
                "runtime_overhead": self.runtime_bytes,
            },
            "budget_bytes": self.budget_bytes,
            "usable_hbm_bytes": self.plan.hbm_bytes,
            "held_by_others_bytes": self.held_bytes,
            "kv_budget_bytes": self.kv_budget_bytes,
            "kv_cache": self.plan.kv.name,
            "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_layers": self.kv_layers,
            "kv_tokens": self.kv_tokens,
            "full_length_sequences": round(self.full_sequences, 2),
            "summary": self.summary(),
            "vllm_error": self.vllm_error(),
            "assumptions": list(self.assumptions),
        }


def fit(tensors: Iterable[tuple[str, int]], plan: FitPlan, source: str, assumptions: Assumptions | None = None) -> Fit:
    assumptions = assumptions or Assumptions()
    weights = weights_per_rank(tensors, plan, source)
    hccl = assumptions.hccl_buffsize_mb * MIB * 2 * assumptions.groups_for(plan)
    return Fit(
        plan=plan,
        weights=weights,
        activation_bytes=assumptions.activation_bytes_per_token * plan.max_num_batched_tokens,
        hccl_bytes=hccl,
        runtime_bytes=assumptions.runtime_overhead_bytes,
        assumptions=[f"weights: {source}", *assumptions.describe(plan)],
    )
