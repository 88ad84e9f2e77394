"""The memory-fit model and `glm5check fit`: the guide's four deployments fit, bf16 on one A3 or two A2
does not, the numbers are shown, and headers agree with GLM-5's config arithmetic."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, assert_no_traceback, clean_env, fake_printing, run_in_process

from glm5check.knowledge.memfit import KV_BYTES_PER_TOKEN_LAYER, Assumptions, FitPlan, classify, fit
from glm5check.util.units import GIB

sys.path.insert(0, str(FIXTURES))
import make_checkpoint as mc

REFERENCE_CONFIG = FIXTURES / "glm5-model" / "config.GLM-5.reconstructed.json"


def fit_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    out = run_in_process("fit", *args, "--format", "json", env=env)
    assert_no_traceback(out)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


@pytest.mark.parametrize("profile", ["a2-single", "a3-single", "a2-multi", "a3-multi"])
def test_the_guides_four_deployments_fit(profile: str) -> None:
    code, result = fit_json("--profile", profile)
    assert code == 0 and result["verdict"] in ("pass", "warn"), result["summary"]
    assert result["kv_tokens"] >= result["plan"]["max_model_len"]
    assert result["kv_layers"] == 79 and result["kv_bytes_per_token"] == 79 * 1408


def test_fit_numbers_on_the_usable_hbm_vllm_sees() -> None:
    # docs/reference/KEY-FACTS.md derived its figures from 64 GiB × 0.95; vLLM's budget is torch_npu's 60.96 GiB ×
    # 0.95 = 57.9 GiB. On it A3 single still holds about 4 of 8 × 66600, but A3 two-node bf16 about 5 (not 9) of 16
    # × 8192 and an A2 pair 1.85 (not 2) of 2 × 131072 (1.96 without the 1.5 GiB of MLAPO copies of its W8A8
    # attention, on by default at the pin): findings shown as WARN, with the numbers.
    a3_single = fit_json("--profile", "a3-single")[1]
    assert 3.5 < a3_single["full_length_sequences"] < 6 and a3_single["verdict"] == "warn"
    assert a3_single["budget_bytes"] == int(62423 * (1 << 20) * 0.95)
    assert 4.5 < fit_json("--profile", "a3-multi")[1]["full_length_sequences"] < 6
    a2_multi = fit_json("--profile", "a2-multi")[1]
    assert a2_multi["verdict"] == "warn" and 1.8 < a2_multi["full_length_sequences"] < 1.9
    assert 1.4 * GIB < a2_multi["mlapo_bytes"] < 1.6 * GIB
    assert 1.9 < fit_json("--profile", "a2-multi", "--no-mlapo")[1]["full_length_sequences"] < 2
    assert 26 * GIB < a2_multi["weights_per_rank_bytes"] < 30 * GIB
    assert a2_multi["usable_hbm_bytes"] == 62423 * (1 << 20)


def test_bf16_on_one_a3_does_not_fit_by_flags() -> None:
    code, result = fit_json("--profile", "a3-single", "--weights", "bf16")
    assert code == 1 and result["verdict"] == "fail"
    assert result["weights_per_rank"]["routed_experts"] > 64 * GIB  # experts alone exceed an NPU
    assert "NPU out of memory" in result["vllm_error"]


def test_bf16_on_two_a2_does_not_fit_by_profile_file(tmp_path: Path) -> None:
    profile = tmp_path / "a2-bf16.toml"
    profile.write_text('name = "a2-bf16"\nextends = "a2-multi"\n\n[model]\nname = "GLM5-bf16"\nweights = "bf16"\n')
    code, result = fit_json("--profile-file", str(profile))
    assert code == 1 and result["verdict"] == "fail"
    assert result["plan"]["ep"] == 16 and result["kv_budget_bytes"] < 0


def test_table_shows_every_number() -> None:
    out = run_in_process("fit", "--profile", "a2-multi")
    assert out.returncode == 0, out.stderr
    for label in (
        "weights per rank",
        "reserve",
        "KV budget",
        "KV tokens",
        "full-length sequences",
        "verdict: fits",
        "assumptions:",
    ):
        assert label in out.stdout, out.stdout


def test_max_model_len_too_long_quotes_vllm() -> None:
    code, result = fit_json("--profile", "a2-single", "--max-model-len", "202752")
    assert code == 1 and result["verdict"] == "fail"
    assert result["vllm_error"].startswith(
        "ValueError: To serve at least one request with the models's max seq len (202752)"
    )


def test_assumptions_are_overridable() -> None:
    base = fit_json("--profile", "a2-single")[1]
    more = fit_json("--profile", "a2-single", "--runtime-overhead-gib", "3.25", "--hccl-groups", "4")[1]
    assert more["reserve"]["runtime_overhead"] - base["reserve"]["runtime_overhead"] == 2 * GIB
    assert more["reserve"]["hccl_buffers"] == 4 * 2 * 200 * (1 << 20)
    assert more["kv_tokens"] < base["kv_tokens"]


def test_bad_input_is_one_line_and_exit_2() -> None:
    for args in (("--tp", "0"), ("--profile", "nope"), ("--profile-file", "/nonexistent.toml")):
        out = run_in_process("fit", *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert_no_traceback(out)
        assert len(out.stderr.strip().splitlines()) == 1


def _config_arithmetic(config: dict[str, Any], tp: int, ep: int, mtp: bool) -> float:
    """Per-rank bf16 bytes by formula from config.json (independent of glm5check.knowledge.glm5's tensor list)."""
    h, layers, dense, vocab = (
        config[k] for k in ("hidden_size", "num_hidden_layers", "first_k_dense_replace", "vocab_size")
    )
    experts, moe_i, dense_i = config["n_routed_experts"], config["moe_intermediate_size"], config["intermediate_size"]
    heads, qlr, kvlr = config["num_attention_heads"], config["q_lora_rank"], config["kv_lora_rank"]
    nope, rope, vh = config["qk_nope_head_dim"], config["qk_rope_head_dim"], config["v_head_dim"]
    idx_h, idx_d = config["index_n_heads"], config["index_head_dim"]
    all_layers = layers + (1 if mtp else 0)
    moe_layers = all_layers - dense
    replicated_layer = (
        qlr * h + qlr + (kvlr + rope) * h + kvlr + idx_h * idx_d * qlr + idx_d * h + 2 * idx_d + idx_h * h + 2 * h
    )
    replicated = 2 * (all_layers * replicated_layer + moe_layers * experts * h + h)
    replicated += 4 * moe_layers * experts  # e_score_correction_bias is float32
    if mtp:
        replicated += 2 * (3 * h + 2 * h * h)  # enorm, hnorm, shared_head.norm, eh_proj
    tp_layer = heads * (nope + rope) * qlr + heads * (nope + vh) * kvlr + h * heads * vh
    tp_sharded = 2 * (
        all_layers * tp_layer + dense * 3 * dense_i * h + moe_layers * 3 * moe_i * h + (4 if mtp else 2) * vocab * h
    )
    routed = 2 * moe_layers * experts * 3 * moe_i * h
    return routed / ep + tp_sharded / tp + replicated


@pytest.mark.parametrize("mtp", [True, False])
def test_per_rank_weights_from_headers_agree_with_config_arithmetic(tmp_path: Path, mtp: bool) -> None:
    checkpoint = mc.make_checkpoint(tmp_path / "GLM5-bf16", "bf16", "full")
    code, result = fit_json(
        "--profile", "a3-multi", "--model-dir", str(checkpoint.path), "--mtp" if mtp else "--no-mtp"
    )
    assert result["weights_source"].startswith("headers of 283 files")
    config = json.loads(REFERENCE_CONFIG.read_text())
    expected = _config_arithmetic(config, tp=16, ep=32, mtp=mtp)
    assert abs(result["weights_per_rank_bytes"] - expected) / expected < 0.01, (result, expected)
    assert code == 0


@pytest.mark.slow
def test_fit_model_dir_that_cannot_be_read_is_exit_2(tmp_path: Path) -> None:
    absent = run_in_process("fit", "--profile", "a2-single", "--model-dir", str(tmp_path / "absent"))
    assert absent.returncode == 2 and not absent.stdout, absent.stdout
    assert absent.stderr.startswith(f"glm5check: error: cannot read weights folder {tmp_path / 'absent'}: ")
    checkpoint = mc.make_checkpoint(tmp_path / "w4a8", "w4a8", "none", shards=4)
    broken = checkpoint.path / checkpoint.shard_names[1]
    broken.unlink()
    partial = run_in_process("fit", "--profile", "a2-single", "--model-dir", str(checkpoint.path))
    assert partial.returncode == 2, partial.stdout
    assert f"1 of 5 shards cannot be read: {broken.name} (missing)" in partial.stderr, partial.stderr  # + rot
    assert_no_traceback(partial)


def test_fit_refuses_a_weights_folder_and_a_builtin_layout_at_once(tmp_path: Path) -> None:
    both = run_in_process("fit", "--model-dir", str(tmp_path), "--weights", "w8a8")
    assert both.returncode == 2 and not both.stdout, both.stdout
    assert both.stderr == (
        "glm5check: error: give --model-dir (the folder's own tensors) or --weights (a built-in layout), not both\n"
    )


def _memory_run(buffsize: str) -> dict[str, Any]:
    out = run_in_process(
        "--profile", "a2-multi", "--check", "memory.fit", "--format", "json", env=clean_env({"HCCL_BUFFSIZE": buffsize})
    )
    assert_no_traceback(out)
    return json.loads(out.stdout)


def test_memory_fit_check_and_reported_fact_in_a_run() -> None:
    base = _memory_run("200")
    [result] = base["results"]
    assert result["id"] == "memory.fit" and result["status"] == "warn", result
    assert result["message"].startswith("fits, but only 1.8 of 2 full-length sequences at once: per rank")
    assert "57.9 GiB budget (0.95 × 60.96 GiB usable: profile a2-multi's 65536 MB − 3113 MB" in result["message"]
    # HCCL_BUFFSIZE=1000 takes 4.7 GB more per rank: the KV cache shrinks by as much.
    report = _memory_run("1000")
    [result] = report["results"]
    assert result["status"] == "warn" and "--max-num-seqs to 1" in result["remediation"], result
    fact = report["facts"]["memory_fit"]
    assert base["facts"]["memory_fit"]["kv_budget_bytes"] - fact["kv_budget_bytes"] == 800 * (1 << 20) * 2 * 3
    assert fact["reserve"]["hccl_buffers"] == 1000 * (1 << 20) * 2 * 3  # TP, EP and DP groups
    assert "HCCL_BUFFSIZE=1000" in " ".join(fact["assumptions"])
    assert fact["weights_source"].startswith("built-in GLM-5 w4a8 layout")


def _plan(**changes: Any) -> FitPlan:
    values: dict[str, Any] = dict(
        tp=8,
        dp=1,
        expert_parallel=True,
        max_num_batched_tokens=4096,
        max_model_len=1024,
        max_num_seqs=2,
        gpu_memory_utilization=1.0,
        hbm_bytes=10 * GIB,
        mtp=False,
        num_hidden_layers=2,
    )
    values.update(changes)
    return FitPlan(**values)


def test_verdict_boundaries_and_block_rounding() -> None:
    none = Assumptions(activation_bytes_per_token=0, runtime_overhead_bytes=0, hccl_buffsize_mb=0)
    per_token = 2 * KV_BYTES_PER_TOKEN_LAYER
    weights = 10 * GIB - 3 * 1024 * per_token  # room for exactly 3072 tokens
    tensors = [("model.norm.weight", weights)]
    assert fit(tensors, _plan(), "t", none).kv_tokens == 3072
    assert fit(tensors, _plan(), "t", none).verdict == "pass"  # 3 × 1024 >= 2 sequences
    assert fit(tensors, _plan(max_num_seqs=4), "t", none).verdict == "warn"
    assert fit(tensors, _plan(max_model_len=4096), "t", none).verdict == "fail"
    short = [("model.norm.weight", weights + 1)]  # one byte less: a whole 128-token block is lost
    assert fit(short, _plan(), "t", none).kv_tokens == 3072 - 128


def test_tensor_classes_and_expert_split() -> None:
    assert classify("model.layers.5.mlp.experts.17.down_proj.weight_scale") == "expert"
    assert classify("model.layers.5.mlp.shared_experts.up_proj.weight") == "tp"
    assert classify("model.layers.1.mlp.gate_proj.weight") == "tp"
    assert classify("model.layers.5.mlp.gate.weight") == "replicated"
    assert classify("model.layers.5.self_attn.indexer.wq_b.weight") == "replicated"
    assert classify("model.layers.78.shared_head.head.weight") == "tp"
    assert classify("lm_head.weight") == "tp"
    expert = [("model.layers.3.mlp.experts.0.up_proj.weight", 32 * GIB)]
    assert fit(expert, _plan(dp=2), "t").weights.experts_per_rank == 2 * GIB  # EP = 8 × 2
    # Without EP, vLLM flattens TP across DP for the MoE layers: each expert is split over TP × DP.
    assert fit(expert, _plan(dp=2, expert_parallel=False), "t").weights.experts_per_rank == 2 * GIB
    mtp_only = [("model.layers.2.eh_proj.weight", GIB)]
    assert fit(mtp_only, _plan(), "t").weights.per_rank == 0  # MTP layer not loaded without MTP
    assert fit(mtp_only, _plan(mtp=True), "t").weights.per_rank == GIB


def test_memory_fit_uses_the_hbm_npu_smi_shows(fake_bin: Path) -> None:
    # An Atlas 800I A2 with 910B4 chips has 32 GB each: GLM-5-w4a8 on TP8 (48 GiB per rank) cannot load.
    sample = FIXTURES / "npu-smi-info" / "blog-atlas800IA2-8x910B4-25.0.rc1.1-fresh-install.txt"
    fake_printing(fake_bin, "npu-smi", sample)
    out = run_in_process(
        "--profile",
        "a2-single",
        "--check",
        "memory.fit",
        "--format",
        "json",
        env=clean_env({"HCCL_BUFFSIZE": "200"}, path_prepend=[fake_bin]),
    )
    assert_no_traceback(out)
    report = json.loads(out.stdout)
    [result] = report["results"]
    assert result["status"] == "fail" and "NPU out of memory" in result["message"], result
    fact = report["facts"]["memory_fit"]
    assert fact["plan"]["hbm_bytes"] == (32768 - 3113) * (1 << 20)
    assert any("npu-smi's 32768 MB − 3113 MB the driver holds" in line for line in fact["assumptions"])


@pytest.mark.parametrize("value", [None, "78x", 1e400, True, -3, [78]])
def test_mtp_layer_of_a_config_without_a_layer_count_is_glm5s(value: object) -> None:
    from glm5check.knowledge import glm5

    assert glm5.mtp_layer({"num_hidden_layers": value}) == 78
    assert glm5.mtp_layer({"num_hidden_layers": 61}) == 61


@pytest.mark.parametrize(
    ("raw", "value"),
    [("200", 200), (" 64 ", 64), ("0", None), ("²", None), ("1" * 5000, None), ("12MB", None), ("", None)],
)
def test_hccl_buffsize_value_never_raises(raw: str, value: int | None) -> None:
    from glm5check.knowledge.memfit import hccl_buffsize_value

    assert hccl_buffsize_value(raw) == value


def test_memory_fit_never_suggests_what_the_plan_already_has() -> None:
    from glm5check.checks.memory import fit_remedy

    too_big = [("model.layers.3.mlp.experts.0.up_proj.weight", 200 * GIB)]
    with_ep = fit(too_big, _plan(), "t")
    assert with_ep.kv_budget_bytes <= 0
    assert "--enable-expert-parallel" not in fit_remedy(with_ep, "w4a8")
    assert "w4a8" not in fit_remedy(with_ep, "w4a8") and "use the w4a8 weights" in fit_remedy(with_ep, "bf16")
    # Expert parallelism frees no HBM (the experts are split over TP × DP either way): never suggested.
    assert "--enable-expert-parallel" not in fit_remedy(fit(too_big, _plan(expert_parallel=False), "t"), "w4a8")
    long = fit([("model.embed_tokens.weight", 9 * GIB)], _plan(max_model_len=1 << 22), "t")
    assert long.verdict == "fail" and long.plan.gpu_memory_utilization == 1.0
    assert "--gpu-memory-utilization" not in fit_remedy(long, "w4a8")
    lower = fit([("model.embed_tokens.weight", 8 * GIB)], _plan(max_model_len=1 << 22, gpu_memory_utilization=0.9), "t")
    assert "raise --gpu-memory-utilization" in fit_remedy(lower, "w4a8")
