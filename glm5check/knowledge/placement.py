"""Where vLLM / vllm-ascend put each GLM-5 tensor across ranks (docs/reference/glm5-model.md §4), by name:

- routed experts (`mlp.experts.N.*`): split over EP (or TP without expert parallelism) — "expert";
- q_b_proj, kv_b_proj, o_proj, the dense MLPs, the shared experts, the embeddings and LM heads: split over
  TP — "tp";
- everything else (q_a_proj, kv_a_proj_with_mqa, the DSA indexer, norms, the router, eh_proj): on every
  rank — "replicated".

The tensors vllm-ascend's MLAPO fusion copies are told apart within their class ("tp/mlapo",
"replicated/mlapo", and "replicated/mlapo-static" for q_a_proj's deq_scale, which only W8A8 static attention
has), so that the memory fit can count the copies from the scan's tallies too (`sharding` gives the class).

Kept apart from the memory-fit arithmetic (glm5check.knowledge.memfit) because the weights scan folds
tensors by these rules, and its snapshot digests are keyed by the code that does so.
"""

from __future__ import annotations

from glm5check.util.lazyre import lazy

_EXPERT = lazy(r"\.mlp\.experts\.\d+\.")
_TP_SHARDED = lazy(
    r"(\.q_b_proj\.|\.kv_b_proj\.|\.o_proj\.|embed_tokens\.|^lm_head\.|shared_head\.head\."
    r"|\.mlp\.(gate|up|down)_proj\.|\.mlp\.shared_experts\.)"
)
# What MLAPO copies (vllm-ascend sfa_v1.py `_process_weights_for_fused_mlapo`, :919-990@v0.23.0, :623-696@ff3a50d):
# q_a_proj and kv_a_proj_with_mqa fused into wd_qkv (replicated), q_b_proj into wu_q (this rank's TP share),
# each with its deq_scale and quant_bias; a layer's W8A8 (static) attention shows as a q_a_proj.deq_scale.
_MLAPO_REPLICATED = lazy(r"\.self_attn\.(q_a_proj|kv_a_proj_with_mqa)\.(weight|deq_scale|quant_bias)$")
_MLAPO_TP = lazy(r"\.self_attn\.q_b_proj\.(weight|deq_scale|quant_bias)$")
MLAPO_STATIC = ".self_attn.q_a_proj.deq_scale"
LAYER_PREFIX = "model.layers."


def classify(name: str) -> str:
    """expert, tp or replicated; "/mlapo" (or "/mlapo-static") after it for a tensor MLAPO copies."""
    if _EXPERT.search(name):
        return "expert"
    if _TP_SHARDED.search(name):
        return "tp/mlapo" if _MLAPO_TP.search(name) else "tp"
    if _MLAPO_REPLICATED.search(name):
        return "replicated/mlapo-static" if name.endswith(MLAPO_STATIC) else "replicated/mlapo"
    return "replicated"


def sharding(place: str) -> str:
    """How a class of `classify` is split over ranks: expert, tp or replicated."""
    return place.partition("/")[0]


def layer_of(name: str) -> str | None:
    """The text between `model.layers.` and the next dot (a layer number), or None for other names: a
    name starts with the prefix `model.layers.{N}.` exactly when this is str(N)."""
    if not name.startswith(LAYER_PREFIX):
        return None
    layer, dot, _ = name[len(LAYER_PREFIX) :].partition(".")
    return layer if dot else None
