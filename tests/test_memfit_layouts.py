"""The w8a8 and w8a8c8 layouts, the 8-bit KV cache, MLAPO's copies, and the guide's statements about them:
"glm-5-w8a8 can be deployed on 1 Atlas 800 A3" at 40960 tokens and "require 2 Atlas 800 A3" at 200000
(GLM5.md@2026-08-21), and what the model says of w8a8 on Atlas 800 A2."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, assert_no_traceback, run_in_process

from glm5check.knowledge import glm5
from glm5check.knowledge.memfit import BF16_KV, FitPlan, kv_cache_layout, mlapo_copy, mlapo_state, weights_per_rank
from glm5check.knowledge.placement import classify
from glm5check.util.units import GIB

INVENTORY = FIXTURES / "glm5-model" / "tensor-inventory.GLM-5.1-w8a8.md"
DTYPES = {"torch.int8": "I8", "torch.int32": "I32", "torch.float32": "F32", "torch.bfloat16": "BF16"}
UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def fit_json(*args: str) -> tuple[int, dict[str, Any]]:
    out = run_in_process("fit", *args, "--format", "json")
    assert_no_traceback(out)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


def _expand(pattern: str) -> list[str]:
    """`model.layers.3-78.mlp.experts.0-255.down_proj.weight` -> every name the row stands for."""
    match = re.search(r"(\d+)-(\d+)", pattern)
    if match is None:
        return [pattern]
    first, last = int(match.group(1)), int(match.group(2))
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [name for n in range(first, last + 1) for name in _expand(f"{head}{n}{tail}")]


def inventory_rows() -> list[tuple[str, tuple[int, ...], str, float, str]]:
    """(name pattern, shape, dtype, size in bytes as printed, size text) of every row of the real inventory."""
    rows = []
    for line in INVENTORY.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].startswith("`"):
            continue
        name = re.sub(r"\s*\(×.*\)$", "", cells[0]).strip("` ")
        shape = tuple(int(d) for d in cells[1].strip("`[]").split(", "))
        number, unit = cells[3].split()
        rows.append((name, shape, DTYPES[cells[2].strip("`")], float(number) * UNITS[unit], cells[3]))
    return rows


def test_the_builtin_w8a8_layout_is_the_real_glm51_w8a8_inventory_row_by_row() -> None:
    built = {t.name: t for t in glm5.layout("w8a8", "full")}
    rows = inventory_rows()
    assert len(rows) == 73
    covered: dict[str, int] = defaultdict(int)
    for pattern, shape, dtype, size, text in rows:
        if pattern == "rot.weight":  # rot.safetensors: QuaRot's rotation, which no model layer loads
            continue
        names = _expand(pattern)
        for name in names:
            tensor = built[name]
            assert (tensor.shape, tensor.dtype) == (shape, dtype), name
            covered[name] += 1
        total = sum(built[name].nbytes for name in names)
        assert abs(total - size) <= 0.005 * UNITS[text.split()[1]], (pattern, total, text)
    assert set(covered) == set(built) and set(covered.values()) == {1}  # every tensor in exactly one row
    # The header: 178,663 tensors (with rot.weight), 712.10 GiB of tensors.
    assert len(built) + 1 == 178_663
    total = sum(t.nbytes for t in built.values()) + 6144 * 6144 * 2
    assert round(total / GIB, 2) == 712.10


def test_w8a8c8_stores_the_w8a8_tensors_and_w4a8_packs_the_experts() -> None:
    w8a8 = glm5.layout("w8a8", "none")
    assert [(t.name, t.nbytes) for t in glm5.layout("w8a8c8", "none")] == [(t.name, t.nbytes) for t in w8a8]
    w4a8 = {t.name: t for t in glm5.layout("w4a8", "none")}
    expert = "model.layers.3.mlp.experts.0.gate_proj.weight"
    assert w4a8[expert].shape == (1024, 6144) and {t.name: t for t in w8a8}[expert].shape == (2048, 6144)
    assert glm5.quant_description(w8a8, "w8a8")["model_quant_type"] == "W8A8_DYNAMIC"


@pytest.mark.parametrize("layout", glm5.LAYOUTS)
def test_fit_takes_every_layout(layout: str) -> None:
    code, result = fit_json("--profile", "a3-multi-w8a8", "--weights", layout)
    assert result["weights_source"] == f"built-in GLM-5 {layout} layout (no --model-dir)"
    assert code == (1 if layout == "bf16" else 0), result["summary"]


def test_a_profile_with_a_layout_glm5check_does_not_know_is_exit_2(tmp_path: Path) -> None:
    profile = tmp_path / "fp8.toml"
    profile.write_text('name = "fp8"\nextends = "a3-single"\n[model]\nweights = "fp8"\n')
    for args in (("fit", "--profile-file", str(profile)), ("--profile-file", str(profile), "--replay", "demo")):
        out = run_in_process(*args)
        assert out.returncode == 2, out.stdout
        assert_no_traceback(out)
        assert out.stderr.strip() == (
            f"glm5check: error: {profile}: [model] weights 'fp8' is not a layout glm5check knows "
            "(bf16, w4a8, w8a8, w8a8c8)"
        )
    bad_choice = run_in_process("fit", "--weights", "fp8")
    assert bad_choice.returncode == 2 and "'w8a8c8'" in bad_choice.stderr


# -- the guide's statements ---------------------------------------------------------------------------------------


def test_w8a8_fits_one_a3_at_40960_and_two_a3_at_200000_but_not_one_at_200000() -> None:
    code, one = fit_json("--profile", "a3-single-w8a8")
    assert code == 0 and one["kv_tokens"] >= 40960 and one["plan"]["max_model_len"] == 40960
    assert 40 * GIB < one["weights_per_rank_bytes"] < 50 * GIB  # 685.5 GiB of experts ÷ EP16 + the rest
    code, two = fit_json("--profile", "a3-multi-w8a8")
    assert code == 0 and two["kv_tokens"] >= 200000 and two["plan"]["ep"] == 32
    code, long_one = fit_json("--profile", "a3-single-w8a8", "--max-model-len", "200000")
    assert code == 1 and long_one["kv_tokens"] < 200000 and "To serve at least one request" in long_one["vllm_error"]
    # Fewer full-length sequences than the guide's --max-num-seqs 16: a WARN, vLLM queues the rest.
    assert one["verdict"] == two["verdict"] == "warn"
    assert 1.3 < one["full_length_sequences"] < 1.5 and 1.2 < two["full_length_sequences"] < 1.4


def test_w8a8_on_a2_one_node_cannot_load_two_nodes_hold_about_36k_tokens() -> None:
    code, one = fit_json("--profile", "a2-single-w4a8", "--weights", "w8a8")
    assert code == 1 and "NPU out of memory (while loading the weights: 91.0 GiB per rank" in one["vllm_error"]
    code, two = fit_json("--profile", "a2-multi-w4a8", "--weights", "w8a8")
    assert code == 1 and 35_000 < two["kv_tokens"] < 38_000  # not 131072: the guide names no A2 w8a8 deployment
    code, short = fit_json("--profile", "a2-multi-w4a8", "--weights", "w8a8", "--max-model-len", "32768")
    assert code == 0 and short["kv_tokens"] == two["kv_tokens"]
    without_mlapo = fit_json("--profile", "a2-multi-w4a8", "--weights", "w8a8", "--no-mlapo")[1]
    assert 50_000 < without_mlapo["kv_tokens"] < 52_000


# -- the 8-bit KV cache and MLAPO -----------------------------------------------------------------------------------


def test_kv_cache_bytes_per_token_and_layer() -> None:
    """vllm-ascend@v0.23.0 AscendMLAAttentionSpec.page_size_bytes ÷ block size, on A2/A3 (int8, float16 scale)."""
    assert BF16_KV.bytes_per_token_layer == (512 + 64 + 128) * 2 == 1408
    assert kv_cache_layout(False, True).bytes_per_token_layer == (512 + 64) * 2 + 128 + 2 == 1282
    assert kv_cache_layout(True, False).bytes_per_token_layer == 512 + 64 * 2 + 4 * 4 + 128 * 2 == 912
    assert kv_cache_layout(True, True).bytes_per_token_layer == 656 + 130 == 786
    assert kv_cache_layout(True, True).name == "C8 (SFA + indexer)"


@pytest.mark.parametrize("group", ["prefill", "decode"])
def test_the_pd_groups_cache_8_bit_and_run_without_mlapo(group: str) -> None:
    code, result = fit_json("--profile", "a3-pd-4node", "--pd-role", group)
    assert result["kv_cache"] == "C8 (SFA + indexer)" and result["kv_bytes_per_token"] == 79 * 786
    mlapo = next(line for line in result["assumptions"] if line.startswith("MLAPO: "))
    off = "enable_dsa_cp" if group == "prefill" else "enable_sparse_sfa_c8"  # the prefill nodes run DSA-CP
    assert result["mlapo_bytes"] == 0 and f"but off with {off}" in mlapo
    assert code == 0 and result["kv_tokens"] >= 202752
    # Under an older stack the keys do nothing: a bf16 cache.
    older = mlapo_state({"enable_sparse_sfa_c8": True}, {}, "v0.22.1rc1", "kv_producer", 8192)
    assert older[0] is True


def test_a_pd_profile_needs_its_group_for_fit() -> None:
    out = run_in_process("fit", "--profile", "a3-pd-4node")
    assert out.returncode == 2 and "say which group this node is in" in out.stderr


def test_mlapo_copies_the_attention_input_weights_of_every_loaded_layer() -> None:
    """q_a_proj and kv_a_proj_with_mqa whole, q_b_proj's TP share, each with deq_scale and quant_bias."""
    layers = 79  # with the MTP layer
    per_layer = (2048 + 576) * 6144 + (2048 + 576) * 4 * 2 + (16384 * 2048 + 16384 * 4 * 2) // 16
    result = fit_json("--profile", "a3-single-w8a8")[1]
    assert result["mlapo_bytes"] == layers * per_layer
    assert sum(mlapo_copy(classify(t.name), t.nbytes, 16) for t in glm5.layout("w8a8", "full")) == layers * per_layer
    no_mlapo = fit_json("--profile", "a3-single-w8a8", "--no-mlapo")[1]
    assert (
        no_mlapo["mlapo_bytes"] == 0 and no_mlapo["kv_budget_bytes"] - result["kv_budget_bytes"] == layers * per_layer
    )
    bf16 = fit_json("--profile", "a3-multi-bf16")[1]
    assert bf16["mlapo_bytes"] == 0  # bf16 attention: vllm-ascend turns MLAPO off ("only supports W8A8")


@pytest.mark.parametrize(
    ("additional", "env", "role", "batched", "on", "why"),
    [
        ({}, {}, None, 4096, True, "VLLM_ASCEND_ENABLE_MLAPO unset: vllm-ascend's default 1 at stack v0.23.0"),
        ({}, {"VLLM_ASCEND_ENABLE_MLAPO": "0"}, None, 4096, False, "off (VLLM_ASCEND_ENABLE_MLAPO=0)"),
        ({"enable_mlapo": False}, {"VLLM_ASCEND_ENABLE_MLAPO": "1"}, None, 4096, False, "enable_mlapo False"),
        ({"enable_dsa_cp": True}, {}, "kv_producer", 8192, False, "off with enable_dsa_cp"),
        ({}, {}, "kv_consumer", 164, False, "the fused copies replace the original weights"),
        ({}, {}, "kv_consumer", 2048, True, "fused copies"),
    ],
)
def test_when_mlapo_keeps_copies(
    additional: dict[str, Any], env: dict[str, str], role: str | None, batched: int, on: bool, why: str
) -> None:
    state = mlapo_state(additional, env, "v0.23.0", role, batched)
    assert state[0] is on and why in state[1]


def _w8a8_folder(dest: Path, layers: tuple[int | None, ...], written: str = "w8a8") -> list[glm5.Tensor]:
    """A cut-down GLM-5 w8a8 folder of these layers (None: the tensors outside the layers): real safetensors
    headers, sparse data, index, config and quant description."""
    import sys

    sys.path.insert(0, str(FIXTURES))
    from make_checkpoint import write_sparse_safetensors

    tensors = [t for t in glm5.layout("w8a8", "none") if glm5.layer_of(t.name) in layers]
    shard = "quant_model_weights-00001-of-00001.safetensors"
    write_sparse_safetensors(dest / shard, tensors, {"format": "pt"})
    index = {"metadata": {"total_size": sum(t.nbytes for t in tensors)}, "weight_map": {t.name: shard for t in tensors}}
    (dest / "quant_model_weights.safetensors.index.json").write_text(json.dumps(index))
    (dest / "config.json").write_text(json.dumps(glm5.CONFIG))
    (dest / "quant_model_description.json").write_text(json.dumps(glm5.quant_description(tensors, written)))
    return tensors


def test_the_scan_tallies_keep_what_mlapo_copies(tmp_path: Path) -> None:
    """The weights scan folds tensors into bytes per placement class and layer; MLAPO's tensors stay apart, so
    a scanned folder gives the same per-rank copies and weights as its tensors one by one."""
    from glm5check.facts.weights_scan import scan_folder
    from glm5check.host.live import LiveHost

    tensors = _w8a8_folder(tmp_path, (None, 0, 5))
    scan = scan_folder(LiveHost(), str(tmp_path))
    assert scan.complete and len(scan.tally) < len(tensors)
    plan = FitPlan(16, 1, True, 4096, 40960, 16, 0.9, 64 * GIB, mtp=False, num_hidden_layers=78, mlapo=True)
    one_by_one = weights_per_rank([(t.name, t.nbytes) for t in tensors], plan, "tensors")
    folded = weights_per_rank(scan.tally, plan, "scan")
    assert folded.mlapo_copy_bytes > 0
    assert abs(folded.mlapo_copy_bytes - one_by_one.mlapo_copy_bytes) <= 2 * 16  # per-layer vs per-tensor ceil
    assert (folded.expert_bytes, folded.tp_bytes, folded.replicated_bytes) == (
        one_by_one.expert_bytes, one_by_one.tp_bytes, one_by_one.replicated_bytes,
    )  # fmt: skip
    static = [t for t in tensors if t.name.endswith(".self_attn.q_a_proj.deq_scale")]
    without_static = [(t.name, t.nbytes) for t in tensors if t not in static]
    assert static and weights_per_rank(without_static, plan, "dynamic").mlapo_copy_bytes == 0


@pytest.mark.parametrize(("written", "status"), [("w8a8", "pass"), ("w4a8", "warn")])
def test_weights_quantization_expects_w8a8_dynamic_for_a_w8a8_profile(
    tmp_path: Path, written: str, status: str
) -> None:
    """A w8a8 folder whose description says W4A8_DYNAMIC holds other weights than the profile's."""
    _w8a8_folder(tmp_path, (None, 0), written)
    out = run_in_process(
        "--profile", "a3-single-w8a8", "--model-dir", str(tmp_path),
        "--check", "weights.quantization", "--format", "json",
    )  # fmt: skip
    rows = {r["item"]: r for r in json.loads(out.stdout)["results"]}
    assert rows["model_quant_type"]["status"] == status, rows["model_quant_type"]
    assert rows["model_quant_type"]["observed"] == glm5.EXPERT_SCHEME[written]
