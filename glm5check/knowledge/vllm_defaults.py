"""What `vllm serve` uses for a plan field its command line does not give, at a stack's vllm.

The default stack is the guide's pin (knowledge/stacks, `glm5-2026-02`: vllm 978a37c8 = 0.16.0rc2.dev3,
read from the vllm 0.16.0 wheel, with vllm-ascend ff3a50d). Its `defaults` table gives each field's rule,
GLM-5's value when the rule alone decides it, and the file:line of every anchor; the few plan fields it
does not cover are in `_NOT_IN_STACK` below (cited `file:line` in the 0.16.0 wheel).

Some defaults are fixed (a dataclass field's default); others are computed at start-up from the model's
config.json and from the other values (`EngineArgs._set_default_args`): `default_for` returns the value
with the source that says which.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from glm5check.knowledge.stacks import DEFAULT_STACK, Stack, load_stack
from glm5check.util.numbers import whole_value

# Plan fields the stack's defaults table does not cover: the value and the line of vllm 0.16.0 that sets it.
_NOT_IN_STACK: dict[str, tuple[Any, str]] = {
    # No --data-parallel-address: `master_addr or ParallelConfig.data_parallel_master_ip` (arg_utils.py:1599).
    "data_parallel_address": ("127.0.0.1", "vllm/config/parallel.py:113"),
    "data_parallel_rpc_port": (29550, "vllm/config/parallel.py:115"),
    "served_model_name": (None, "vllm/config/model.py:234 (None: the model path)"),
    "trust_remote_code": (False, "vllm/config/model.py:130"),
    # O2 defaults to cudagraph_mode FULL_AND_PIECEWISE (vllm/config/vllm.py:168), which vllm-ascend runs as
    # PIECEWISE (vllm_ascend/platform.py:271@ff3a50d).
    "compilation_config": (None, "vllm/config/vllm.py:168"),
    "additional_config": (None, "vllm/config/vllm.py (no additional_config: vllm-ascend's defaults)"),
    "enforce_eager": (False, "vllm/config/model.py:194"),
    "kv_transfer_config": (None, "vllm/config/vllm.py:254 (no KV transfer: prefill and decode on every node)"),
    "data_parallel_rank": (None, "vllm/engine/arg_utils.py:822 (the node runs DP-local ranks from its start rank)"),
}
# Fields whose default is computed from the model's config or the other values (resolved in this order,
# after every fixed one).
_COMPUTED = (
    "data_parallel_size_local",
    "max_model_len",
    "enable_chunked_prefill",
    "enable_prefix_caching",
    "max_num_batched_tokens",
    "max_num_seqs",
    "async_scheduling",
)
_FIXED = (
    "tensor_parallel_size",
    "data_parallel_size",
    "data_parallel_start_rank",
    "headless",
    "enable_expert_parallel",
    "quantization",
    "gpu_memory_utilization",
    "speculative_config",
    "port",
    "host",
    "seed",
    *_NOT_IN_STACK,
)
# The order fields are resolved in: a computed default reads the values resolved before it.
ORDER = (*_FIXED, *_COMPUTED)

# Keys vLLM reads the model's maximum length from, smallest wins
# (vllm/transformers_utils/model_arch_config_convertor.py:262).
MAX_LEN_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "model_max_length",
    "max_target_positions",
    "max_sequence_length",
    "max_seq_length",
    "seq_len",
)
# `vllm serve` runs with UsageContext.OPENAI_API_SERVER (vllm/entrypoints/openai/api_server.py:73); an NPU
# reports no device memory to get_batch_defaults (vllm-ascend's platform does not implement
# get_device_total_memory at ff3a50d), so the values of "other hardware" apply: the stack's GLM-5 values
# of max_num_batched_tokens (2048) and max_num_seqs (256).


def _default(value: Any, why: str | None = None) -> tuple[Any, str]:
    return value, f"vllm default (computed: {why})" if why else "vllm default"


def derived_max_model_len(config: Mapping[str, Any] | None, origin: str = "config.json") -> tuple[int, str]:
    """vLLM's max_model_len when --max-model-len is absent: the smallest length key of the model's
    config (named `origin`), scaled by a RoPE scaling factor (vllm/config/model.py:1903
    `_get_and_verify_max_len`); 2048 when the config has none of the keys (model.py:1947)."""
    config = config or {}
    found = [(config[k], k) for k in MAX_LEN_KEYS if isinstance(config.get(k), int) and config[k] > 0]
    if not found:
        return 2048, f"{origin} names no maximum length; vllm assumes 2048"
    length, key = min(found)
    if isinstance(config.get("model_max_length"), int) and config["model_max_length"] > 0:
        length, key = config["model_max_length"], "model_max_length"
    rope = config.get("rope_parameters") or config.get("rope_scaling")
    rope = rope if isinstance(rope, dict) else {}
    factor, rope_type = rope.get("factor"), rope.get("rope_type", rope.get("type"))
    if isinstance(factor, (int, float)) and rope_type not in (None, "default", "su", "longrope", "llama3"):
        original = whole_value(rope.get("original_max_position_embeddings"), low=1)
        base = original or length if rope_type == "yarn" else length
        return int(base * factor), f"{key} {base} × RoPE factor {factor} of {origin}"
    return length, f"{key} {length} of {origin}"


def default_for(
    field: str,
    model_config: Mapping[str, Any] | None,
    resolved: Mapping[str, Any] | None = None,
    config_origin: str = "config.json",
    stack: str = DEFAULT_STACK,
    runtime: Collection[str] = (),
) -> tuple[Any, str]:
    """(value, source) of `field` when the launch command does not give it, at `stack`'s vllm. `resolved`
    holds the plan's values given or resolved so far (in ORDER): the computed defaults depend on them;
    `config_origin` names where model_config was read; `runtime` the flags the command passes with a value
    not known before launch (present all the same: vLLM sees the flag)."""
    values = resolved or {}
    if field in _NOT_IN_STACK:
        return _default(_NOT_IN_STACK[field][0])
    if field in _FIXED:
        return _default(fixed_value(load_stack(stack), field))
    if field == "data_parallel_size_local":
        if values.get("data_parallel_rank") is not None:
            # --data-parallel-rank: this process is that one DP rank (external load balancing), DP-local 1
            # (arg_utils.py:1527-1536 in vllm 0.16.0; 1873-1882 in 0.23.0).
            return _default(1, f"--data-parallel-rank {values['data_parallel_rank']}: one DP rank per vllm serve")
        if "data_parallel_rank" in runtime:
            # Whatever rank the script passes, it passes one: the same external load balancing.
            return _default(1, "--data-parallel-rank set at run time: one DP rank per vllm serve")
        # Without --data-parallel-size-local every DP rank runs on this node (arg_utils.py:1582).
        size = values.get("data_parallel_size", 1)
        return _default(size, f"--data-parallel-size {size}: every DP rank on this node")
    if field == "max_model_len":
        return _default(*derived_max_model_len(model_config, config_origin))
    if field in ("enable_chunked_prefill", "enable_prefix_caching"):
        # A decoder-only generative model supports both (vllm/config/model.py:1571, :1617), and
        # `_set_default_chunked_prefill_and_prefix_caching_args` turns them on (arg_utils.py:1931).
        return _default(True, "on for a decoder-only generative model")
    if field == "max_num_batched_tokens":
        return _batched_tokens(values, load_stack(stack))
    if field == "max_num_seqs":
        server = fixed_value(load_stack(stack), "max_num_seqs")
        seqs = min(server, values.get("max_num_batched_tokens") or server)
        return _default(seqs, f"{server} for vllm serve, at most max_num_batched_tokens")
    if field == "async_scheduling":
        return _async_scheduling(values)
    raise KeyError(f"no vllm default for {field!r}")


def fixed_value(stack: Stack, field: str) -> Any:
    """The stack's value of a field whose default does not depend on the model or the node: GLM-5's value
    when the rule decides it, else the flag's parser default."""
    default = stack.default(field)
    if default is None:
        raise KeyError(f"stack {stack.name} has no default for {field!r}")
    return default.parser_default if default.glm5 is None else default.glm5


def _batched_tokens(values: Mapping[str, Any], stack: Stack) -> tuple[Any, str]:
    """`_set_default_max_num_seqs_and_batched_tokens_args` (arg_utils.py:2006): 2048 for vllm serve;
    without chunked prefill at least max_model_len; at most max_num_seqs × max_model_len."""
    length = values.get("max_model_len") or 0
    server = fixed_value(stack, "max_num_batched_tokens")
    seqs = values.get("max_num_seqs") or fixed_value(stack, "max_num_seqs")
    tokens, why = server, f"{server} for vllm serve"
    if values.get("enable_chunked_prefill") is False:
        tokens, why = max(length, tokens), f"max_model_len {length} without chunked prefill"
    if length and seqs * length < tokens:
        tokens, why = seqs * length, f"max_num_seqs {seqs} × max_model_len {length}"
    return _default(tokens, why)


def _async_scheduling(values: Mapping[str, Any]) -> tuple[Any, str]:
    """vllm/config/vllm.py:647: on unless speculative decoding is not EAGLE/MTP-based (EagleModelTypes:
    eagle, eagle3 and the `*_mtp` methods, vllm/config/speculative.py:31) or the executor is not mp/uni
    (vllm serve uses mp)."""
    method = (values.get("speculative_config") or {}).get("method")
    if method is not None and not (method in ("eagle", "eagle3", "mtp") or str(method).endswith("_mtp")):
        return _default(False, f"off with {method} speculative decoding")
    return _default(True, "on: the mp executor with no incompatible option")
