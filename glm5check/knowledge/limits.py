"""The numbers a GLM-5 deployment on Ascend can have.

Every numeric field of a profile, every number a launch command sets and every numeric command-line
option is checked against these ranges where it enters (profile loading, reading the launch command,
option parsing): out of range is exit 2 (a launch command's value is a serve.args FAIL) naming the field
and the range, never a run that computes with `tensor_parallel_size = 10000000` or `--timeout nan`.
The bounds are generous on purpose: they keep out what no deployment could have, not unusual plans.
"""

from __future__ import annotations

from typing import Any

from glm5check.knowledge import glm5
from glm5check.util.numbers import Range

# An Atlas 800 A3 node shows 16 NPUs (8 chips of 2 dies) to npu-smi, an A2 node 8: no Ascend server more.
MAX_NPUS_PER_NODE = 16
# 512 nodes of 16 NPUs: far more than one vLLM deployment spans (a CloudMatrix384 supernode is 768 dies).
MAX_NODES = 512
MAX_NPUS = MAX_NODES * MAX_NPUS_PER_NODE
MAX_DATA_PARALLEL = 1024
# vLLM refuses a tensor-parallel size that does not divide the attention heads (vllm/config/model.py
# verify_with_parallel_config, 0.16.0): for GLM-5's 64 heads, 64 is the largest.
MAX_TENSOR_PARALLEL = glm5.NUM_ATTENTION_HEADS
# 80 times GLM-5's 202752 positions: any longer is a typo, not a plan.
MAX_TOKENS = 1 << 24
PORT = Range(1, 65535, why="a TCP port")

SERVE_RANGES: dict[str, Range] = {
    "tensor_parallel_size": Range(
        1,
        MAX_TENSOR_PARALLEL,
        why=f"vLLM requires it to divide GLM-5's {MAX_TENSOR_PARALLEL} attention heads",
        divides=MAX_TENSOR_PARALLEL,
    ),
    "data_parallel_size": Range(1, MAX_DATA_PARALLEL, why="more ranks than any Ascend deployment has"),
    "data_parallel_size_local": Range(1, MAX_NPUS_PER_NODE, why="one node's NPUs"),
    "data_parallel_start_rank": Range(0, MAX_DATA_PARALLEL - 1, why="a data-parallel rank"),
    "data_parallel_rank": Range(0, MAX_DATA_PARALLEL - 1, why="a data-parallel rank"),
    "max_num_seqs": Range(1, 1 << 16, why="sequences scheduled at once"),
    "max_model_len": Range(1, MAX_TOKENS, why=f"GLM-5 has {glm5.MAX_POSITION_EMBEDDINGS} positions"),
    "max_num_batched_tokens": Range(1, MAX_TOKENS, why="tokens in one scheduler step"),
    "gpu_memory_utilization": Range(0, 1, whole=False, low_open=True, why="a fraction of each NPU's HBM"),
    "port": PORT,
    "data_parallel_rpc_port": PORT,
    # vLLM hands the seed to numpy.random.seed (vllm/utils/torch_utils.py set_random_seed, 0.16.0).
    "seed": Range(0, (1 << 32) - 1, why="numpy.random.seed takes 0 to 2**32 - 1"),
}
PROFILE_RANGES: dict[str, Range] = {
    "hardware.nodes": Range(1, MAX_NODES, why=f"{MAX_NPUS} NPUs in all is more than any Ascend deployment"),
    "hardware.npus_per_node": Range(1, MAX_NPUS_PER_NODE, why="an Atlas 800 A3 node shows 16 NPUs, an A2 node 8"),
    "hardware.hbm_mb_per_chip": Range(1, 1 << 20, why="1 TiB; Ascend chips have 32 to 128 GB"),
    "container.shm_min_bytes": Range(0, 1 << 44, why="16 TiB, more than any host's memory"),
    **{f"serve.{name}": limit for name, limit in SERVE_RANGES.items()},
}
SPECULATIVE_TOKENS = Range(1, 64, why="draft tokens per step")
# Command-line options that are not plan fields.
TIMEOUT = Range(0.1, 3600, whole=False, why="seconds allowed to one probe")
NODE_RANK = Range(0, MAX_DATA_PARALLEL - 1, why="a data-parallel rank")
FIT_RANGES: dict[str, Range] = {
    "hbm_gib": Range(4, 1024, whole=False, why="HBM of one NPU; vLLM sees 3113 MB less"),
    "activation_kib_per_token": Range(0, 1 << 20, why="1 GiB per token"),
    "runtime_overhead_gib": Range(0, 1024, whole=False, why="GiB of one NPU"),
    "hccl_buffsize_mb": Range(0, 1 << 20, why="MB of one NPU's HBM"),
    "hccl_groups": Range(0, 64, why="HCCL communicators of one rank"),
}


def profile_refusals(sections: dict[str, Any]) -> list[str]:
    """Why the numbers of a built profile cannot be a deployment (empty when they can): each field in
    its range, the speculative token count, and TP × DP within MAX_NPUS."""
    problems = []
    for path, limit in PROFILE_RANGES.items():
        section, _, name = path.partition(".")
        value = getattr(sections[section], name)
        refusal = None if value is None else limit.refusal(f"[{section}] {name}", value)
        problems += [refusal] if refusal else []
    serve = sections["serve"]
    spec = serve.speculative_config or {}
    if "num_speculative_tokens" in spec:
        refusal = SPECULATIVE_TOKENS.refusal(
            "[serve] speculative_config.num_speculative_tokens", spec["num_speculative_tokens"]
        )
        problems += [refusal] if refusal else []
    if not problems and serve.tensor_parallel_size * serve.data_parallel_size > MAX_NPUS:
        problems.append(
            f"[serve] tensor_parallel_size × data_parallel_size must be at most {MAX_NPUS} NPUs "
            f"({MAX_NODES} nodes of {MAX_NPUS_PER_NODE}), not "
            f"{serve.tensor_parallel_size} × {serve.data_parallel_size}"
        )
    return problems
