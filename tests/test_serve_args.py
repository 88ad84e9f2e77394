"""serve.args on the guide's six scripts (clean) and on each seeded mistake (its own FAIL), with real
GLM-5-shaped weight folders for the weights-related items."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, GUIDE_SCRIPTS, assert_no_traceback, clean_env, run_cli

from glm5check.engine.check import Result, Status
from glm5check.facts.context import Context, Options
from glm5check.host.live import LiveHost
from glm5check.knowledge import glm5
from glm5check.knowledge.profiles import load_builtin
from glm5check.session import load_serve_script

sys.path.insert(0, str(FIXTURES))
from glm5check.checks.serve import serve_args
from make_checkpoint import write_sparse_safetensors

SCRIPTS = FIXTURES / "serve-scripts"
GUIDE = GUIDE_SCRIPTS


def small_checkpoint(dest: Path, quantized: bool, mtp: bool) -> Path:
    """A GLM-5 weights folder cut down to the embedding, layer 0 and (with mtp) the MTP layer 78: real
    safetensors headers with the real names and shapes, data as a sparse hole, in one shard."""
    mtp_layer = glm5.mtp_layer(glm5.CONFIG)
    keep = (None, 0, mtp_layer) if mtp else (None, 0)
    tensors = [t for t in glm5.layout("w4a8" if quantized else "bf16", "full") if glm5.layer_of(t.name) in keep]
    dest.mkdir(parents=True)
    shard = "quant_model_weights-00001-of-00001.safetensors" if quantized else "model-00001-of-00001.safetensors"
    write_sparse_safetensors(dest / shard, tensors, {"format": "pt"})
    index = "quant_model_weights.safetensors.index.json" if quantized else "model.safetensors.index.json"
    total = sum(t.nbytes for t in tensors)
    weight_map = {t.name: shard for t in tensors}
    (dest / index).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    (dest / "config.json").write_text(json.dumps(glm5.CONFIG))
    if quantized:
        (dest / "quant_model_description.json").write_text(json.dumps(glm5.quant_description(tensors)))
    return dest


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """w4a8 without MTP (the guide's weights), w4a8 with MTP, and bf16 (no quant description)."""
    root = tmp_path_factory.mktemp("weights")
    return {
        "w4a8": small_checkpoint(root / "w4a8", quantized=True, mtp=False),
        "w4a8-mtp": small_checkpoint(root / "w4a8-mtp", quantized=True, mtp=True),
        "unquantized": small_checkpoint(root / "bf16", quantized=False, mtp=True),
    }


def run_check(script_text: str, profile_name: str, model_dir: Path, tmp_path: Path) -> list[Result]:
    script = tmp_path / "serve.sh"
    script.write_text(script_text)
    profile = load_builtin(profile_name)
    serve = load_serve_script(profile, script)
    ctx = Context(profile, LiveHost(), Options(model_dir=str(model_dir)), serve)
    return list(serve_args.func(ctx))


def failures(results: list[Result]) -> list[Result]:
    return [r for r in results if r.status in (Status.FAIL, Status.ERROR)]


def guide(name: str) -> str:
    return (SCRIPTS / name).read_text()


@pytest.mark.parametrize("script", sorted(GUIDE))
@pytest.mark.slow
def test_guide_scripts_pass_with_mtp_weights(script: str, weights: dict[str, Path], tmp_path: Path) -> None:
    model = weights["w4a8-mtp"] if "w4a8" in guide(script) else weights["unquantized"]
    results = run_check(guide(script), GUIDE[script], model, tmp_path)
    assert failures(results) == []
    assert not [r for r in results if r.status == Status.WARN]
    items = {r.item for r in results}
    assert {
        "flags",
        "--tensor-parallel-size",
        "--max-model-len",
        "--quantization",
        "--speculative-config",
    } <= items


@pytest.mark.slow
def test_guide_w4a8_weights_without_mtp_fail_once_on_deepseek_mtp(weights: dict[str, Path], tmp_path: Path) -> None:
    """The guide's own inconsistency: w4a8 "without mtp" weights, and every command asks for deepseek_mtp.
    One cause, one row: weights.mtp fails, serve.args' --speculative-config item points at it."""
    results = run_check(guide("a2-single.sh"), "a2-single", weights["w4a8"], tmp_path)
    assert failures(results) == []
    (spec,) = [r for r in results if r.item == "--speculative-config"]
    assert spec.status == Status.SKIP and spec.see == "weights.mtp"
    assert spec.message == "the weights have no model.layers.78.* (MTP) tensors — see weights.mtp"
    script = tmp_path / "a2.sh"
    script.write_text(guide("a2-single.sh"))
    done = run_cli(
        "--profile", "a2-single", "--serve-script", str(script), "--model-dir", str(weights["w4a8"]),
        "--check", "weights.mtp", "--check", "serve.args", "--format", "json",
    )  # fmt: skip
    rows = json.loads(done.stdout)["results"]
    failing = [(r["id"], r["item"]) for r in rows if r["status"] in ("fail", "error")]
    assert failing == [("weights.mtp", None)]


def swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


A2 = guide("a2-single.sh")
NODE1 = guide("a2-multi-node1.sh")
SEEDED = [
    # (name, profile, script text, weights, failing item, words of the message)
    (
        "bad JSON",
        "a2-single",
        swap(A2, '"method": "deepseek_mtp"}', '"method": "deepseek_mtp"'),
        "w4a8-mtp",
        "--speculative-config",
        "not valid JSON",
    ),
    (
        "not a number",
        "a2-single",
        swap(A2, "--tensor-parallel-size 8", "--tensor-parallel-size eight"),
        "w4a8-mtp",
        "--tensor-parallel-size",
        "not a whole number",
    ),
    (
        "not a fraction",
        "a2-single",
        swap(A2, "--gpu-memory-utilization 0.95", "--gpu-memory-utilization 95"),
        "w4a8-mtp",
        "--gpu-memory-utilization",
        "fraction",
    ),
    (
        "unknown method",
        "a2-single",
        swap(A2, '"deepseek_mtp"', '"deepseek-mtp"'),
        "w4a8-mtp",
        "--speculative-config",
        "did you mean deepseek_mtp",
    ),
    (
        "unknown flag",
        "a2-single",
        swap(A2, "--enable-expert-parallel", "--enable-expert-paralel"),
        "w4a8-mtp",
        "--enable-expert-paralel",
        "did you mean --enable-expert-parallel",
    ),
    (
        "TP x DP-local above chips",
        "a2-single",
        swap(A2, "--tensor-parallel-size 8", "--tensor-parallel-size 16"),
        "w4a8-mtp",
        "--tensor-parallel-size",
        "TP 16 × DP-local 1 = 16 NPUs per node, but one Atlas 800 A2 has 8",
    ),
    (
        "DP-local above DP",
        "a2-single",
        swap(swap(A2, "--tensor-parallel-size 8", "-tp 4"), "--data-parallel-size 1", "-dp 1 -dpl 2"),
        "w4a8-mtp",
        "--data-parallel-size-local",
        "larger than --data-parallel-size 1",
    ),
    (
        "headless without start rank",
        "a2-multi",
        swap(NODE1, "--data-parallel-start-rank 1 \\\n", ""),
        "w4a8-mtp",
        "--headless",
        "without --data-parallel-start-rank",
    ),
    (
        "headless on rank 0",
        "a2-multi",
        swap(NODE1, "--data-parallel-start-rank 1", "--data-parallel-start-rank 0"),
        "w4a8-mtp",
        "--headless",
        "on DP rank 0",
    ),
    (
        "max_model_len too long",
        "a2-single",
        swap(A2, "--max-model-len 32768", "--max-model-len 256k"),
        "w4a8-mtp",
        "--max-model-len",
        "above GLM-5's max_position_embeddings 202752",
    ),
    (
        "quantization without description",
        "a2-single",
        A2,
        "unquantized",
        "--quantization",
        "no quant_model_description.json",
    ),
    (
        "description without quantization",
        "a2-single",
        swap(A2, "--quantization ascend \\\n", ""),
        "w4a8-mtp",
        "--quantization",
        "needs --quantization ascend",
    ),
    # MTP without MTP weights is weights.mtp's FAIL (test_guide_w4a8_weights_without_mtp_fail_once_…).
    (
        "batched tokens below max_model_len",
        "a2-single",
        swap(A2, "--enable-chunked-prefill", "--no-enable-chunked-prefill"),
        "w4a8-mtp",
        "--max-num-batched-tokens",
        "max_num_batched_tokens (4096) is smaller than max_model_len (32768)",
    ),
]


@pytest.mark.parametrize(
    ("profile_name", "text", "model", "item", "words"),
    [case[1:] for case in SEEDED],
    ids=[case[0] for case in SEEDED],
)
def test_each_seeded_mistake_gives_its_fail(
    profile_name: str, text: str, model: str, item: str, words: str, weights: dict[str, Path], tmp_path: Path
) -> None:
    results = failures(run_check(text, profile_name, weights[model], tmp_path))
    assert [r.item for r in results] == [item], [r.message for r in results]
    assert words in results[0].message
    assert results[0].remediation


def test_flags_the_script_omits_are_serve_plan_s_not_serve_args(weights: dict[str, Path], tmp_path: Path) -> None:
    text = swap(A2, "--enable-expert-parallel \\\n", "")
    results = run_check(text, "a2-single", weights["w4a8-mtp"], tmp_path)
    assert [r for r in results if r.status != Status.PASS] == []


def test_a_caller_variable_unset_here_is_a_warning_not_a_guess(weights: dict[str, Path], tmp_path: Path) -> None:
    text = swap(NODE1, 'node0_ip="10.20.0.11"\n', "")
    results = run_check(text, "a2-multi", weights["w4a8-mtp"], tmp_path)
    warnings = [r for r in results if r.status == Status.WARN]
    assert len(warnings) == 1 and warnings[0].item == "--data-parallel-address"
    assert "$node0_ip comes from the caller's environment and is unset in this shell" in warnings[0].message
    assert "set at run time by line 28" in warnings[0].message


def test_unreadable_weights_skip_the_weights_items(tmp_path: Path) -> None:
    results = run_check(A2, "a2-single", tmp_path / "nowhere", tmp_path)
    skipped = {r.item: r.see for r in results if r.status == Status.SKIP}
    assert skipped == {"--quantization": "weights.path", "--speculative-config": "weights.path"}
    assert failures(results) == []


@pytest.mark.slow
def test_through_the_cli_with_a_seeded_script(weights: dict[str, Path], tmp_path: Path) -> None:
    script = tmp_path / "node1.sh"
    script.write_text(swap(NODE1, "--enable-expert-parallel", "--enable-expert-paralel"))
    result = run_cli(
        "--profile",
        "a2-multi",
        "--serve-script",
        str(script),
        "--model-dir",
        str(weights["w4a8-mtp"]),
        "--check",
        "serve.args",
        "--format",
        "json",
        env=clean_env(),
    )
    assert_no_traceback(result)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    failed = [r for r in report["results"] if r["status"] == "fail"]
    assert [r["item"] for r in failed] == ["--enable-expert-paralel"]
    assert report["profile"]["serve_sources"]["data_parallel_start_rank"] == "script line 28"
    assert report["profile"]["serve"]["headless"] is True


@pytest.mark.slow
def test_secret_flag_values_never_reach_the_report(tmp_path: Path) -> None:
    script = tmp_path / "serve.sh"
    script.write_text("vllm serve /m --api-key sk-supersecret99 --hf-token hf_abc123456 -tp 8\n")
    result = run_cli(
        "--profile", "a2-single", "--serve-script", str(script), "--check", "serve.args", "--format", "json"
    )
    assert_no_traceback(result)
    assert "supersecret" not in result.stdout and "hf_abc" not in result.stdout
    flags = json.loads(result.stdout)["facts"]["serve"]["flags"]
    assert [f["value"] for f in flags] == ["<redacted>", "<redacted>", "8"]
    assert json.loads(result.stdout)["facts"]["serve"]["origin"] == str(script)


def test_two_node_command_without_the_dp_address_fails(weights: dict[str, Path], tmp_path: Path) -> None:
    """Without --data-parallel-address vLLM uses 127.0.0.1: node 1's engines can never reach node 0."""
    text = swap(NODE1, "--data-parallel-address $node0_ip \\\n", "")
    (row,) = failures(run_check(text, "a2-multi", weights["w4a8-mtp"], tmp_path))
    assert row.item == "--data-parallel-address" and "vLLM uses 127.0.0.1 (vllm default)" in row.message
    single = run_check(guide("a2-single.sh"), "a2-single", weights["w4a8-mtp"], tmp_path)
    assert "--data-parallel-address" not in {r.item for r in single}


@pytest.mark.parametrize(("tp", "fails"), [(8, False), (4, False), (6, True), (3, True)])
def test_a_tp_that_does_not_divide_the_attention_heads_fails(tp: int, fails: bool) -> None:
    """vLLM refuses TP 6 for GLM-5's 64 heads (vllm/config/model.py verify_with_parallel_config): serve.args
    fails it, a profile or `fit --tp` with it exits 2."""
    from conftest import run_in_process

    command = f"vllm serve /root/.cache/modelscope/hub/models/vllm-ascend/GLM-5-w4a8 --tensor-parallel-size {tp}"
    done = run_in_process("--replay", "demo", "--profile", "a2-single", "--serve-cmd", command, "--format", "json")
    rows = [
        r
        for r in json.loads(done.stdout)["results"]
        if (r["id"], r["item"]) == ("serve.args", "--tensor-parallel-size")
    ]
    assert any(r["status"] == "fail" and "that divides 64" in r["message"] for r in rows) == fails
    fit = run_in_process("fit", "--tp", str(tp))
    assert (fit.returncode == 2) == fails and ("that divides 64" in fit.stderr) == fails


@pytest.mark.parametrize(
    ("extra", "fails"),
    [("", False), ("-pp 1", False), ("-pp 01", False), ("-pp 2", True), ("--pipeline-parallel-size=4", True)],
)
def test_pipeline_parallelism_is_another_deployment(extra: str, fails: bool) -> None:
    """TP 8 × PP 2 needs 16 NPUs per DP rank: it passed every check of an 8-NPU A2 node."""
    from conftest import run_in_process

    command = f"vllm serve /root/.cache/modelscope/hub/models/vllm-ascend/GLM-5-w4a8 --tensor-parallel-size 8 {extra}"
    done = run_in_process("--replay", "demo", "--profile", "a2-single", "--serve-cmd", command, "--format", "json")
    rows = [r for r in json.loads(done.stdout)["results"] if r["item"] == "--pipeline-parallel-size"]
    assert [r["status"] for r in rows] == (["fail"] if fails else [])
