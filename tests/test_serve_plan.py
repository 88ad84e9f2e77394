"""serve.plan and the effective plan: the launch command wins, vLLM's defaults (not the profile's values)
fill the gaps, and every difference from the profile is named with both values and their sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, GUIDE_2026_08_SCRIPTS, GUIDE_SCRIPTS, assert_no_traceback, run_in_process
from glm5check.checks.serve import serve_plan

from glm5check.engine.check import Result, Status
from glm5check.facts.context import Context, Options
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotWriter
from glm5check.knowledge.launch_command import read_serve
from glm5check.knowledge.plan import resolve
from glm5check.knowledge.profiles import BUILTIN, load_builtin
from glm5check.knowledge.vllm_defaults import default_for, derived_max_model_len

SCRIPTS = FIXTURES / "serve-scripts"
GUIDE = GUIDE_SCRIPTS
GLM5_CONFIG = json.loads((FIXTURES / "glm5-model" / "config.GLM-5.reconstructed.json").read_text())


def plan_rows(script_text: str, profile_name: str) -> list[Result]:
    """serve.plan for a script on a host with no weights folder (GLM-5's published config applies)."""
    profile = load_builtin(profile_name)
    launch = read_serve(profile, script_text, script_name="serve.sh")
    ctx = Context(profile, ReplayHost(SnapshotWriter(profile_name).data), Options(serve_source="serve.sh"), launch)
    return list(serve_plan.func(ctx))


def swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


@pytest.mark.parametrize("script", sorted(GUIDE))
def test_each_guide_script_runs_its_own_profiles_plan(script: str) -> None:
    rows = plan_rows((SCRIPTS / script).read_text(), GUIDE[script])
    assert [(r.status, r.observed) for r in rows] == [(Status.PASS, "no difference")], rows


@pytest.mark.parametrize(("script", "profile"), [(s, p) for s in sorted(GUIDE) for p in BUILTIN if p != GUIDE[s]])
def test_each_guide_script_against_another_profile_fails(script: str, profile: str) -> None:
    rows = plan_rows((SCRIPTS / script).read_text(), profile)
    failing = [r for r in rows if r.status == Status.FAIL]
    assert failing, [(r.item, r.message) for r in rows]
    # Both values and both sources are named.
    for row in failing:
        assert f"profile {profile} plans " in row.message, row.message
        assert "(script line " in row.message or "(vllm default" in row.message, row.message


@pytest.mark.parametrize("script", sorted(GUIDE_2026_08_SCRIPTS))
def test_each_august_guide_script_runs_its_own_profiles_plan(script: str) -> None:
    rows = plan_rows((SCRIPTS / script).read_text(), GUIDE_2026_08_SCRIPTS[script])
    assert [(r.status, r.observed) for r in rows] == [(Status.PASS, "no difference")], rows


# A few scripts of the August guide under a neighbouring profile: what sets the two deployments apart FAILs.
AUGUST_CROSS = [
    ("a3-single-w8a8.sh", "a3-single-w4a8-200k", {"model", "max_model_len"}),
    ("a3-single-w4a8-200k.sh", "a3-single", {"max_model_len", "max_num_seqs", "speculative_config"}),
    ("a3-multi-w8a8-node0.sh", "a3-single-w8a8", {"data_parallel_size", "max_model_len"}),
    ("a3-multi-bf16-node1.sh", "a3-multi", {"speculative_config"}),
    ("a2-single-w4a8.sh", "a2-single", {"max_num_seqs", "speculative_config"}),
    ("glm51-a3-single-w8a8.sh", "a3-single-w8a8", {"model"}),
    ("a3-single-w8a8.sh", "glm51-a3-single-w8a8", {"model"}),
    ("glm51-a3-multi-bf16-node0.sh", "a3-multi-bf16", {"model"}),
]


@pytest.mark.parametrize(("script", "profile", "fields"), AUGUST_CROSS)
def test_an_august_script_under_a_neighbouring_profile_fails(script: str, profile: str, fields: set[str]) -> None:
    rows = plan_rows((SCRIPTS / script).read_text(), profile)
    assert {r.item for r in rows if r.status == Status.FAIL} == fields, [(r.item, r.message) for r in rows]


def test_a_flag_the_script_lacks_is_judged_with_vllms_default() -> None:
    text = swap((SCRIPTS / "a2-single.sh").read_text(), "--max-model-len 32768 \\\n", "")
    (row,) = plan_rows(text, "a2-single")
    assert row.status == Status.FAIL and row.item == "max_model_len"
    assert row.message.startswith(
        "the launch command has no --max-model-len: vLLM uses 202752 (vllm default (computed: "
        "max_position_embeddings 202752 of GLM-5's published config"
    )
    assert "profile a2-single plans 32768" in row.message
    assert row.remediation == "add --max-model-len 32768 to the vllm serve command"


def test_a_value_vllm_rejects_is_not_called_a_missing_flag() -> None:
    text = swap((SCRIPTS / "a2-single.sh").read_text(), "--tensor-parallel-size 8", "--tensor-parallel-size 6")
    rows = [r for r in plan_rows(text, "a2-single") if r.item == "tensor_parallel_size"]
    assert [r.status for r in rows] == [Status.FAIL], rows
    assert rows[0].message.startswith("the launch command's --tensor-parallel-size is a value vLLM rejects")
    assert "has no --tensor-parallel-size" not in rows[0].message


def test_expert_parallel_left_out_fails_and_names_vllms_default() -> None:
    text = swap((SCRIPTS / "a3-multi-node0.sh").read_text(), "--enable-expert-parallel \\\n", "")
    (row,) = plan_rows(text, "a3-multi")
    assert (row.status, row.item, row.observed, row.expected) == (Status.FAIL, "enable_expert_parallel", "off", "on")
    assert "vLLM uses off (vllm default)" in row.message


@pytest.mark.parametrize(
    ("old", "new", "item"),
    [
        ("--seed 1024", "--seed 7", "seed"),
        ("--port 8077", "--port 9000", "port"),
        ("glm-5 ", "glm5 ", "served_model_name"),
    ],
)
def test_cosmetic_differences_warn(old: str, new: str, item: str) -> None:
    rows = plan_rows(swap((SCRIPTS / "a2-single.sh").read_text(), old, new), "a2-single")
    assert [(r.status, r.item) for r in rows] == [(Status.WARN, item)]


def test_the_same_weights_in_another_folder_warn_other_weights_fail() -> None:
    text = (SCRIPTS / "a2-single.sh").read_text()
    moved = plan_rows(
        swap(text, "/root/.cache/modelscope/hub/models/vllm-ascend/GLM-5-w4a8", "/data/GLM-5-w4a8"), "a2-single"
    )
    assert [(r.status, r.item) for r in moved] == [(Status.WARN, "model")]
    other = plan_rows(swap(text, "vllm-ascend/GLM-5-w4a8", "vllm-ascend/GLM5-bf16"), "a2-single")
    assert (Status.FAIL, "model") in [(r.status, r.item) for r in other]


def test_without_a_launch_command_serve_plan_skips() -> None:
    profile = load_builtin("a2-single")
    ctx = Context(profile, ReplayHost(SnapshotWriter("a2-single").data))
    (row,) = serve_plan.func(ctx)
    assert row.status == Status.SKIP and "profile a2-single's plan is the launch command" in row.message


# -- vLLM's defaults at the pin ------------------------------------------------------------------------


def test_computed_defaults_follow_vllms_set_default_args() -> None:
    launch = read_serve(load_builtin("a2-single"), command="vllm serve /m --max-num-seqs 2")
    plan = resolve(launch, GLM5_CONFIG)
    assert plan.plan.max_model_len == 202752 and plan.source("max_model_len").startswith("vllm default (computed:")
    assert plan.plan.max_num_batched_tokens == 2048  # OPENAI_API_SERVER, an NPU reports no device memory
    assert plan.plan.enable_chunked_prefill is True and plan.plan.enable_prefix_caching is True
    assert plan.plan.gpu_memory_utilization == 0.9 and plan.plan.port == 8000 and plan.plan.seed == 0
    assert plan.plan.data_parallel_size_local == 1 and plan.plan.async_scheduling is True
    assert plan.source("max_num_seqs") == "--serve-cmd line 1"
    no_chunking = resolve(
        read_serve(load_builtin("a2-single"), command="vllm serve /m --no-enable-chunked-prefill"), {}
    )
    # Without chunked prefill max_num_batched_tokens is at least max_model_len (2048 for a config without one).
    assert no_chunking.plan.max_num_batched_tokens == 2048 and no_chunking.plan.max_num_seqs == 256


def test_defaults_are_the_selected_stacks() -> None:
    """vLLM 0.20.2 raised --gpu-memory-utilization's default from 0.9 to 0.92 (docs/stacks.md): the effective
    plan of a command without the flag follows the stack the run selected."""
    from glm5check.facts.stack import choose_stack

    profile = load_builtin("a2-single")
    launch = read_serve(profile, command="vllm serve /m --max-num-seqs 2")
    host = ReplayHost(SnapshotWriter("a2-single").data)
    for stack, utilisation in (("glm5-2026-02", 0.9), ("v0.19.1rc1", 0.9), ("v0.20.2rc1", 0.92)):
        ctx = choose_stack(Context(profile, host, Options(stack=stack), launch))
        effective = ctx.effective
        assert effective.plan.gpu_memory_utilization == utilisation, stack
        assert effective.source("gpu_memory_utilization").startswith("vllm default"), stack


def test_max_model_len_default_reads_config_keys_and_rope_scaling() -> None:
    assert derived_max_model_len({"max_position_embeddings": 202752})[0] == 202752
    assert derived_max_model_len({"max_position_embeddings": 8192, "seq_length": 4096})[0] == 4096
    yarn = {
        "max_position_embeddings": 131072,
        "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
    }
    assert derived_max_model_len(yarn)[0] == 131072
    assert derived_max_model_len({})[0] == 2048
    assert default_for("data_parallel_size_local", None, {"data_parallel_size": 2})[0] == 2
    assert default_for("async_scheduling", None, {"speculative_config": {"method": "ngram"}})[0] is False


# -- through the CLI -------------------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, dict]:
    result = run_in_process(*args, "--format", "json")
    assert_no_traceback(result)
    return result.returncode, json.loads(result.stdout)


def test_a_single_node_script_under_a_two_node_profile_is_not_a_dp2_run() -> None:
    code, report = _run("--profile", "a2-multi", "--serve-script", str(SCRIPTS / "a2-single.sh"), "--replay", "demo")
    assert code == 1
    failing = {r["item"] for r in report["results"] if r["id"] == "serve.plan" and r["status"] == "fail"}
    assert {"data_parallel_size", "max_model_len"} <= failing
    assert report["profile"]["serve"]["data_parallel_size"] == 1
    assert report["profile"]["serve_sources"]["data_parallel_size"] == "script line 13"
    table = run_in_process("--profile", "a2-multi", "--serve-script", str(SCRIPTS / "a2-single.sh"), "--replay", "demo")
    header = table.stdout.splitlines()[0]
    assert "plan GLM-5-w4a8, DP1 × TP8, EP" in header and "DP2" not in header, header


def test_replay_with_a_new_script_takes_the_node_rank_from_it() -> None:
    node0 = str(SCRIPTS / "a2-multi-node0.sh")
    _, report = _run(
        "--profile", "a2-multi", "--replay", "demo:a2-node1", "--serve-script", node0, "--check", "serve.plan"
    )
    assert (report["node"]["rank"], report["node"]["role"]) == (0, "primary")
    assert report["node"]["rank_source"].startswith("serve script")
    _, kept = _run(
        "--profile",
        "a2-multi",
        "--replay",
        "demo:a2-node1",
        "--serve-script",
        node0,
        "--node-rank",
        "1",
        "--check",
        "serve.plan",
    )
    assert (kept["node"]["rank"], kept["node"]["rank_source"]) == (1, "--node-rank")
    _, recorded = _run("--profile", "a2-multi", "--replay", "demo:a2-node1", "--check", "serve.plan")
    assert recorded["node"]["rank"] == 1
    assert recorded["profile"]["serve_sources"]["tensor_parallel_size"] == "replayed script line 11"


def test_serve_plan_is_in_the_catalogue_with_why_what_fix(tmp_path: Path) -> None:
    listing = run_in_process("checks")
    assert "serve.plan" in listing.stdout
    explain = run_in_process("explain", "serve.plan").stdout
    assert all(part in explain for part in ("Why:", "What:", "Fix:"))
