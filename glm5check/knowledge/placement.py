"""Where vLLM / vllm-ascend put each GLM-5 tensor across ranks (reference/glm5-model/FACTS.md §4), by name:

- routed experts (`mlp.experts.N.*`): split over EP (or TP without expert parallelism) — "expert";
- q_b_proj, kv_b_proj, o_proj, the dense MLPs, the shared experts, the embeddings and LM heads: split over
  TP — "tp";
- everything else (q_a_proj, kv_a_proj_with_mqa, the DSA indexer, norms, the router, eh_proj): on every
  rank — "replicated".

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
LAYER_PREFIX = "model.layers."


def classify(name: str) -> str:
    """expert, tp or replicated."""
    if _EXPERT.search(name):
        return "expert"
    if _TP_SHARDED.search(name):
        return "tp"
    return "replicated"


def layer_of(name: str) -> str | None:
    """The text between `model.layers.` and the next dot (a layer number), or None for other names: a
    name starts with the prefix `model.layers.{N}.` exactly when this is str(N)."""
    if not name.startswith(LAYER_PREFIX):
        return None
    layer, dot, _ = name[len(LAYER_PREFIX) :].partition(".")
    return layer if dot else None
