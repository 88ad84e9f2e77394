"""GLM-5 as data: its config.json and the tensors of the checkpoints the guide uses.

Used by the memory-fit model when no weights folder is present, and by the fixture generator that
writes GLM-5-shaped checkpoints for tests. Sources (docs/reference/glm5-model.md): the config is the
reconstructed `zai-org/GLM-5` config.json; the bf16 tensor set reproduces the derived index total of
1,507,728,316,928 bytes and 59,870 tensors; the w8a8 set is the msModelSlim GLM-5.1-w8a8 inventory (same
architecture; fixtures/glm5-model/tensor-inventory.GLM-5.1-w8a8.md, 178,663 tensors and 712.10 GiB with
rot.safetensors' one 72 MiB tensor, which no model layer loads), reproduced row by row; the w4a8 set is
that inventory with routed experts as W4A8_DYNAMIC in vllm-ascend's "1.0.0" layout (two int4 per int8
byte). Eco-Tech GLM-5-w4a8's own per-tensor layout is not published: the w4a8 numbers are estimates.
w8a8c8 (the guide's prefill-decode weights) stores the w8a8 tensors: its 8-bit KV cache is quantized while
it runs, with scales kept in the cache itself (vllm-ascend@v0.23.0:vllm_ascend/core/kv_cache_interface.py:
29-57), so the cache is smaller, not the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from glm5check.util.lazyre import lazy
from glm5check.util.numbers import whole

ARCHITECTURE = "GlmMoeDsaForCausalLM"
MODEL_TYPE = "glm_moe_dsa"

CONFIG: dict[str, Any] = {
    "architectures": [ARCHITECTURE],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "dtype": "bfloat16",
    "eos_token_id": [154820, 154827, 154829],
    "ep_size": 1,
    "first_k_dense_replace": 3,
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 6144,
    "index_head_dim": 128,
    "index_n_heads": 32,
    "index_topk": 2048,
    "indexer_rope_interleave": True,
    "initializer_range": 0.02,
    "intermediate_size": 12288,
    "kv_lora_rank": 512,
    "max_position_embeddings": 202752,
    "moe_intermediate_size": 2048,
    "moe_layer_freq": 1,
    "model_type": MODEL_TYPE,
    "n_group": 1,
    "n_routed_experts": 256,
    "n_shared_experts": 1,
    "norm_topk_prob": True,
    "num_attention_heads": 64,
    "num_experts_per_tok": 8,
    "num_hidden_layers": 78,
    "num_key_value_heads": 64,
    "num_nextn_predict_layers": 1,
    "pad_token_id": 154820,
    "pretraining_tp": 1,
    "q_lora_rank": 2048,
    "qk_head_dim": 256,
    "qk_nope_head_dim": 192,
    "qk_rope_head_dim": 64,
    "rms_norm_eps": 1e-05,
    "rope_interleave": True,
    "rope_parameters": {"rope_theta": 1000000, "rope_type": "default"},
    "routed_scaling_factor": 2.5,
    "scoring_func": "sigmoid",
    "tie_word_embeddings": False,
    "topk_group": 1,
    "topk_method": "noaux_tc",
    "transformers_version": "5.0.2.dev0",
    "use_cache": True,
    "v_head_dim": 256,
    "vocab_size": 154880,
}
NUM_HIDDEN_LAYERS: int = CONFIG["num_hidden_layers"]
MAX_POSITION_EMBEDDINGS: int = CONFIG["max_position_embeddings"]
NUM_ATTENTION_HEADS: int = CONFIG["num_attention_heads"]

GENERATION_CONFIG: dict[str, Any] = {
    "eos_token_id": [154820, 154827, 154829],
    "pad_token_id": 154820,
    "transformers_version": "5.0.2.dev0",
}

DTYPE_BYTES = {"BF16": 2, "F32": 4, "I8": 1, "I32": 4}
# The weights layouts glm5check knows (a profile's `model.weights`), and how each stores the routed experts.
EXPERT_SCHEME = {"bf16": "FLOAT", "w4a8": "W4A8_DYNAMIC", "w8a8": "W8A8_DYNAMIC", "w8a8c8": "W8A8_DYNAMIC"}
LAYOUTS = tuple(EXPERT_SCHEME)

# The MTP layer's own embedding and head: absent from the bf16 HF checkpoint; the vllm-ascend GLM-5
# tutorial's adjust_weight.py copies them into mtp-others.safetensors "to enable MTP".
MTP_EMBED_HEAD = ("embed_tokens.weight", "shared_head.head.weight")

_LAYER = lazy(r"^model\.layers\.(\d+)\.")


@dataclass(frozen=True, slots=True)  # slots: a GLM-5 layout has ~240k of them
class Tensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    quant: str = "FLOAT"  # the msModelSlim quant type of this tensor (FLOAT for bf16 checkpoints)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * DTYPE_BYTES[self.dtype]


def layer_of(name: str) -> int | None:
    match = _LAYER.match(name)
    return whole(match.group(1), digits=9) if match else None


def mtp_layer(config: dict[str, Any]) -> int:
    """The MTP layer is stored after the last decoder layer: model.layers.<num_hidden_layers>
    (GLM-5's 78 when the config holds no positive whole number there)."""
    layers = config.get("num_hidden_layers")
    if isinstance(layers, int) and not isinstance(layers, bool) and layers > 0:
        return layers
    return NUM_HIDDEN_LAYERS


class _Builder:
    """Collects tensors in checkpoint order, quantized (w4a8, w8a8, w8a8c8) or not (bf16)."""

    def __init__(self, config: dict[str, Any], weights: str, one_expert: bool = False) -> None:
        self.c = config
        self.quantized = weights != "bf16"
        self.expert_scheme = EXPERT_SCHEME[weights]
        self.one_expert = one_expert  # build expert 0 of each layer only, standing for all of them
        self.tensors: list[Tensor] = []
        self.copies: list[int] = []  # how many tensors each one stands for
        self.copies_now = 1

    def add(self, name: str, dtype: str, shape: tuple[int, ...], quant: str = "FLOAT") -> None:
        self.tensors.append(Tensor(name, dtype, shape, quant))
        self.copies.append(self.copies_now)

    def norm(self, name: str, size: int, mtp_extra: bool = False) -> None:
        # msModelSlim stores the decoder's norms in float32; the MTP block's own norms stay bf16.
        self.add(name, "F32" if self.quantized and not mtp_extra else "BF16", (size,))

    def linear(self, prefix: str, rows: int, cols: int, scheme: str) -> None:
        """scheme: FLOAT, W8A8 (static), W8A8_DYNAMIC or W4A8_DYNAMIC (routed experts)."""
        if not self.quantized or scheme == "FLOAT":
            self.add(f"{prefix}.weight", "BF16", (rows, cols))
        elif scheme == "W8A8":
            self.add(f"{prefix}.weight", "I8", (rows, cols), scheme)
            self.add(f"{prefix}.deq_scale", "F32", (rows,), scheme)
            self.add(f"{prefix}.input_offset", "F32", (1,), scheme)
            self.add(f"{prefix}.input_scale", "F32", (1,), scheme)
            self.add(f"{prefix}.quant_bias", "I32", (rows,), scheme)
        else:
            packed_rows = rows // 2 if scheme == "W4A8_DYNAMIC" else rows
            self.add(f"{prefix}.weight", "I8", (packed_rows, cols), scheme)
            self.add(f"{prefix}.weight_offset", "F32", (rows, 1), scheme)
            self.add(f"{prefix}.weight_scale", "F32", (rows, 1), scheme)
            if scheme == "W4A8_DYNAMIC":
                self.add(f"{prefix}.scale_bias", "F32", (rows, 1), scheme)

    def decoder_layer(self, layer: int) -> None:
        c, p = self.c, f"model.layers.{layer}"
        h, qlr, kvlr = c["hidden_size"], c["q_lora_rank"], c["kv_lora_rank"]
        heads, vh = c["num_attention_heads"], c["v_head_dim"]
        nope, rope = c["qk_nope_head_dim"], c["qk_rope_head_dim"]
        self.norm(f"{p}.input_layernorm.weight", h)
        self.norm(f"{p}.post_attention_layernorm.weight", h)
        a = f"{p}.self_attn"
        self.linear(f"{a}.q_a_proj", qlr, h, "W8A8")
        self.norm(f"{a}.q_a_layernorm.weight", qlr)
        self.linear(f"{a}.q_b_proj", heads * (nope + rope), qlr, "W8A8")
        self.linear(f"{a}.kv_a_proj_with_mqa", kvlr + rope, h, "W8A8")
        self.norm(f"{a}.kv_a_layernorm.weight", kvlr)
        self.linear(f"{a}.kv_b_proj", heads * (nope + vh), kvlr, "FLOAT")
        self.linear(f"{a}.o_proj", h, heads * vh, "W8A8")
        idx_heads, idx_dim = c["index_n_heads"], c["index_head_dim"]
        self.linear(f"{a}.indexer.wq_b", idx_heads * idx_dim, qlr, "W8A8")
        self.linear(f"{a}.indexer.wk", idx_dim, h, "FLOAT")
        self.norm(f"{a}.indexer.k_norm.weight", idx_dim)
        self.norm(f"{a}.indexer.k_norm.bias", idx_dim)
        self.linear(f"{a}.indexer.weights_proj", idx_heads, h, "FLOAT")
        if layer < c["first_k_dense_replace"]:
            self.mlp(f"{p}.mlp", c["intermediate_size"], "W8A8_DYNAMIC")
        else:
            self.moe(f"{p}.mlp")

    def mlp(self, prefix: str, inter: int, scheme: str) -> None:
        h = self.c["hidden_size"]
        self.linear(f"{prefix}.gate_proj", inter, h, scheme)
        self.linear(f"{prefix}.up_proj", inter, h, scheme)
        self.linear(f"{prefix}.down_proj", h, inter, scheme)

    def moe(self, prefix: str) -> None:
        c = self.c
        experts, h = c["n_routed_experts"], c["hidden_size"]
        self.add(f"{prefix}.gate.weight", "BF16", (experts, h))
        self.add(f"{prefix}.gate.e_score_correction_bias", "F32", (experts,))
        built = 1 if self.one_expert else experts
        self.copies_now = experts // built
        for expert in range(built):
            self.mlp(f"{prefix}.experts.{expert}", c["moe_intermediate_size"], self.expert_scheme)
        self.copies_now = 1
        shared = c["moe_intermediate_size"] * c["n_shared_experts"]
        self.mlp(f"{prefix}.shared_experts", shared, "W8A8_DYNAMIC")

    def mtp_block(self, layer: int, with_embed_head: bool) -> None:
        h, vocab, p = self.c["hidden_size"], self.c["vocab_size"], f"model.layers.{layer}"
        self.decoder_layer(layer)
        self.norm(f"{p}.enorm.weight", h, mtp_extra=True)
        self.norm(f"{p}.hnorm.weight", h, mtp_extra=True)
        self.add(f"{p}.eh_proj.weight", "BF16", (h, 2 * h))
        self.norm(f"{p}.shared_head.norm.weight", h, mtp_extra=True)
        if with_embed_head:
            for name in MTP_EMBED_HEAD:
                self.add(f"{p}.{name}", "BF16", (vocab, h))

    def model(self, mtp: str) -> list[Tensor]:
        c = self.c
        h, vocab = c["hidden_size"], c["vocab_size"]
        self.add("model.embed_tokens.weight", "BF16", (vocab, h))
        for layer in range(c["num_hidden_layers"]):
            self.decoder_layer(layer)
        self.norm("model.norm.weight", h)
        # msModelSlim's GLM-5.1 export keeps lm_head in float32 (3.54 GiB in its inventory).
        self.add("lm_head.weight", "F32" if self.quantized else "BF16", (vocab, h))
        if mtp != "none":
            self.mtp_block(mtp_layer(c), with_embed_head=mtp == "full")
        return self.tensors


def layout(weights: str, mtp: str = "full", config: dict[str, Any] | None = None) -> list[Tensor]:
    """The tensors of a GLM-5 checkpoint. weights: one of LAYOUTS. mtp: none (no model.layers.78),
    layer (the decoder layer and its norms/eh_proj, as the bf16 HF checkpoint ships) or full (plus the
    MTP embed/head copies that msModelSlim exports and adjust_weight.py adds)."""
    if weights not in LAYOUTS:
        raise ValueError(f"weights must be one of {', '.join(LAYOUTS)}, not {weights!r}")
    if mtp not in ("none", "layer", "full"):
        raise ValueError(f"mtp must be none, layer or full, not {mtp!r}")
    return _Builder(config or CONFIG, weights).model(mtp)


def quant_description(tensors: list[Tensor], weights: str = "w4a8") -> dict[str, Any]:
    """A msModelSlim quant_model_description.json for these tensors (of the quantized layout `weights`)."""
    description: dict[str, Any] = {
        "model_quant_type": EXPERT_SCHEME[weights],
        "version": "1.0.0",
        "group_size": 0,
        "is_rot_used": True,
    }
    description.update({t.name: t.quant for t in tensors})
    return description


def class_sizes(weights: str) -> list[tuple[str, int]]:
    """(name, bytes) of the GLM-5 checkpoint for the memory fit, MTP layer included (the fit model drops it
    when the plan does not use MTP). The routed experts of a layer are alike: expert 0 is built once and
    stands for all of them, as the weights scan folds expert numbers (~2.4k tensors instead of ~240k)."""
    if weights not in LAYOUTS:
        raise ValueError(f"weights must be one of {', '.join(LAYOUTS)}, not {weights!r}")
    builder = _Builder(CONFIG, weights, one_expert=True)
    tensors = builder.model("full")
    return [(t.name, t.nbytes * copies) for t, copies in zip(tensors, builder.copies)]
