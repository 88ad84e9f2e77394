"""memory.fit: one rank's weights + reserve + a KV cache for max_model_len must fit its HBM budget."""

from __future__ import annotations

import math

from glm5check.engine.check import Result, check, failed, passed, warned
from glm5check.facts.context import Context
from glm5check.facts.weights import memory_fit
from glm5check.knowledge.memfit import KV_BLOCK_TOKENS as KV_STEP  # vLLM allocates the KV cache in blocks
from glm5check.knowledge.memfit import Fit, at_most


def _expected(result: Fit) -> str:
    plan = result.plan
    return f"weights + reserve + KV for {plan.max_num_seqs} × {plan.max_model_len} tokens <= {result.budget_text()}"


# vLLM accepts --gpu-memory-utilization up to 1.0; the guide's plans use 0.9-0.95.
MAX_GPU_MEMORY_UTILIZATION = 1.0


def _more_memory(result: Fit, weights: str) -> list[str]:
    """Ways to free HBM per rank that the plan does not use yet (never a flag it already has; expert
    parallelism frees nothing: the experts are split over TP × DP either way)."""
    ways = ["spread the weights over more NPUs (bf16 GLM-5 needs 2 × Atlas 800 A3 with DP2 × TP16)"]
    if weights != "w4a8":
        ways.append("use the w4a8 weights")
    return ways


def fit_remedy(result: Fit, weights: str) -> str:
    """What to change, from the numbers; only changes the plan does not already have."""
    plan = result.plan
    if result.kv_budget_bytes <= 0:
        ways = _more_memory(result, weights)
        return ", ".join(ways[:-1]) + (" or " if len(ways) > 1 else "") + ways[-1]
    fitting = max(result.kv_tokens // max(plan.max_num_seqs, 1), KV_STEP)
    if result.verdict == "fail":
        more = ["use more NPUs"]
        if plan.gpu_memory_utilization < MAX_GPU_MEMORY_UTILIZATION:
            more.insert(0, "raise --gpu-memory-utilization")
        return f"lower --max-model-len to {result.kv_tokens // KV_STEP * KV_STEP} or below, or {' / '.join(more)}"
    return (
        f"at most {at_most(result.full_sequences)} full-length sequences fit at once; lower --max-num-seqs to "
        f"{max(math.floor(result.full_sequences), 1)} or --max-model-len to {fitting // KV_STEP * KV_STEP} "
        "(otherwise vLLM queues the rest)"
    )


@check(
    "memory.fit",
    title="Per-rank weights, reserve and KV cache fit the HBM budget",
    explain="""
Why: vLLM loads every weight before it measures what is left for the KV cache; a plan that cannot fit
fails after minutes of loading ("NPU out of memory" while loading, or "To serve at least one request with
the models's max seq len …" when the KV cache is too small for max_model_len).

What: per rank, the weights (from the safetensors headers, or GLM-5's built-in layout when the folder is
absent): routed experts split over TP × DP ranks (whole experts with --enable-expert-parallel, else
each expert tensor-parallel, as vLLM flattens TP across DP for the MoE layers), the TP-sharded layers
split over TP, the rest replicated; plus a reserve (activations at
max_num_batched_tokens, HCCL buffers from HCCL_BUFFSIZE, runtime overhead — stated assumptions);
against the budget vllm-ascend uses (vllm_ascend/worker/worker.py:336@ff3a50d): the usable HBM of one
NPU (what torch_npu reports: the HBM npu-smi shows for the planned chips, or else the profile's, less
the 3113 MB the driver holds: 60.96 GiB on a 64 GB chip) × gpu_memory_utilization. Every value is the
effective plan's (the launch command's, vLLM's defaults for what it leaves out). MLAPO (vllm-ascend's MLA
preprocess fusion, on unless VLLM_ASCEND_ENABLE_MLAPO=0; it applies to W8A8 attention such as w8a8's, not
with enable_dsa_cp or the packed 8-bit cache) keeps fused copies of each layer's q_a, kv_a and q_b weights:
counted too (sfa_v1.py:919-990@v0.23.0). The rest is KV cache at 1408 bytes per token per layer, or 786 with
the 8-bit cache that --additional-config enable_sparse_sfa_c8 and enable_sparse_li_c8 switch on
(vllm-ascend v0.23.0rc1 on; kv_cache_interface.py:66-120@v0.23.0), for 78 layers (+1 for the MTP layer with
deepseek_mtp). FAIL when nothing is left or one max_model_len sequence does not fit; WARN when fewer than
max_num_seqs full-length sequences fit at once; the numbers always. HBM held by another process is
npu.hbm's.

Fix: run `glm5check fit --profile NAME` to try other plans (--weights, --mlapo/--no-mlapo); use more NPUs or
the w4a8 weights, lower --max-model-len or --max-num-seqs, raise --gpu-memory-utilization, or export
VLLM_ASCEND_ENABLE_MLAPO=0 ("Disabling VLLM_ASCEND_ENABLE_MLAPO can also reduce memory usage", GLM5.md).
""",
)
def memory_fit_check(ctx: Context) -> Result:
    result = ctx.fact(memory_fit)
    observed = result.summary()
    if result.verdict == "fail":
        error = result.vllm_error()
        return failed(
            f"does not fit: {observed}" + (f" — vLLM: {error}" if error else ""),
            expected=_expected(result),
            observed=observed,
            remediation=fit_remedy(result, ctx.profile.model.weights),
        )
    if result.verdict == "warn":
        return warned(
            f"fits, but only {at_most(result.full_sequences)} of {result.plan.max_num_seqs} full-length sequences "
            f"at once: {observed}",
            expected=_expected(result),
            observed=observed,
            remediation=fit_remedy(result, ctx.profile.model.weights),
        )
    return passed(f"fits: {observed}", expected=_expected(result), observed=observed)
