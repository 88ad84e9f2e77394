"""Profiles: the guide's four deployments as data, extends/unset, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_no_traceback, run_in_process

from glm5check.knowledge.profiles import (
    BUILTIN,
    BUILTIN_2026_02,
    BUILTIN_2026_08,
    ProfileError,
    load_builtin,
    load_text,
    to_toml,
)
from glm5check.knowledge.stacks import load_stack
from glm5check.session import load_profile_file as load_file

# docs/reference/KEY-FACTS.md's table: profile -> (nodes, NPUs per node, TP, DP, DP local, max-num-seqs,
# max-model-len, rpc)
GUIDE = {
    "a2-single": (1, 8, 8, 1, 1, 2, 32768, None, "ascend", "GLM-5-w4a8"),
    "a3-single": (1, 16, 16, 1, 1, 8, 66600, None, "ascend", "GLM5-w4a8"),
    "a2-multi": (2, 8, 8, 2, 1, 2, 131072, 13389, "ascend", "GLM-5-w4a8"),
    "a3-multi": (2, 16, 16, 2, 1, 16, 8192, 12890, None, "GLM5-bf16"),
}


@pytest.mark.parametrize("name", BUILTIN_2026_02)
def test_builtin_profiles_match_the_guide(name: str) -> None:
    p = load_builtin(name)
    nodes, npus, tp, dp, dp_local, seqs, model_len, rpc, quant, weights = GUIDE[name]
    assert (p.hardware.nodes, p.hardware.npus_per_node, p.hardware.hbm_mb_per_chip) == (nodes, npus, 65536)
    plan = p.serve
    assert (plan.tensor_parallel_size, plan.data_parallel_size, plan.dp_local) == (tp, dp, dp_local)
    assert (plan.max_num_seqs, plan.max_model_len, plan.data_parallel_rpc_port) == (seqs, model_len, rpc)
    assert plan.quantization == quant
    assert p.model.path == f"/root/.cache/modelscope/hub/models/vllm-ascend/{weights}"
    assert plan.enable_expert_parallel and plan.max_num_batched_tokens == 4096
    assert plan.gpu_memory_utilization == 0.95 and plan.port == 8077 and plan.seed == 1024
    assert plan.speculative_config == {"num_speculative_tokens": 3, "method": "deepseek_mtp"}
    assert plan.compilation_config == {"cudagraph_mode": "FULL_DECODE_ONLY"}
    assert p.env["HCCL_BUFFSIZE"] == "200" and p.env["OMP_NUM_THREADS"] == "10"
    assert p.pins.vllm_commit.startswith("978a37c8") and p.pins.vllm_ascend_commit.startswith("ff3a50d0")
    if nodes == 1:
        assert plan.enable_prefix_caching and plan.enable_chunked_prefill and plan.async_scheduling
        assert p.env["VLLM_ASCEND_BALANCE_SCHEDULING"] == "1" and not p.node_env
    else:
        assert plan.enable_prefix_caching is False and plan.enable_chunked_prefill is None
        assert plan.async_scheduling is None  # the two-node commands leave it to vLLM
        assert "VLLM_ASCEND_BALANCE_SCHEDULING" not in p.env
        assert set(p.node_env) == {"HCCL_IF_IP", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME", "HCCL_SOCKET_IFNAME"}


# GLM5.md@2026-08-21-92616f3a64, "5 Online Service Deployment": profile -> (nodes, NPUs per node, TP, DP, DP local,
# max-num-seqs, max-model-len, rpc port, quantization, weights folder, weights layout, MLAPO)
GUIDE_2026_08 = {
    "a3-single-w4a8-200k": (1, 16, 16, 1, 1, 16, 200000, None, "ascend", "GLM5-w4a8", "w4a8", None),
    "a3-single-w8a8": (1, 16, 16, 1, 1, 16, 40960, None, "ascend", "GLM5-w8a8", "w8a8", "1"),
    "a3-multi-w8a8": (2, 16, 16, 2, 1, 16, 200000, 12890, "ascend", "GLM5-w8a8", "w8a8", "1"),
    "a3-multi-bf16": (2, 16, 16, 2, 1, 16, 8192, 12890, None, "GLM5-bf16", "bf16", None),
    "a2-single-w4a8": (1, 8, 8, 1, 1, 8, 32768, None, "ascend", "GLM5-w4a8", "w4a8", None),
    "a2-multi-w4a8": (2, 8, 8, 2, 1, 2, 131072, 13389, "ascend", "GLM5-w4a8", "w4a8", None),
    "glm51-a3-single-w4a8-200k": (1, 16, 16, 1, 1, 16, 200000, None, "ascend", "GLM5.1-w4a8", "w4a8", None),
    "glm51-a3-single-w8a8": (1, 16, 16, 1, 1, 16, 40960, None, "ascend", "GLM5.1-w8a8", "w8a8", "1"),
    "glm51-a3-multi-bf16": (2, 16, 16, 2, 1, 16, 8192, 12890, None, "GLM5.1-bf16", "bf16", None),
}


@pytest.mark.parametrize("name", sorted(GUIDE_2026_08))
def test_profiles_of_the_august_guide(name: str) -> None:
    p = load_builtin(name)
    nodes, npus, tp, dp, dp_local, seqs, model_len, rpc, quant, folder, weights, mlapo = GUIDE_2026_08[name]
    assert (p.stack, p.guide) == ("v0.23.0", "GLM5.md@2026-08-21-92616f3a64")
    assert (p.hardware.nodes, p.hardware.npus_per_node, p.hardware.hbm_mb_per_chip) == (nodes, npus, 65536)
    plan = p.serve
    assert (plan.tensor_parallel_size, plan.data_parallel_size, plan.dp_local) == (tp, dp, dp_local)
    assert (plan.max_num_seqs, plan.max_model_len, plan.data_parallel_rpc_port) == (seqs, model_len, rpc)
    assert plan.quantization == quant and p.model.weights == weights
    assert p.model.path == f"/root/.cache/modelscope/hub/models/vllm-ascend/{folder}"
    assert plan.enable_expert_parallel and plan.max_num_batched_tokens == 4096 and plan.port == 8077
    # Every deployment of the revision: MTP with enforce_eager, no --async-scheduling, OMP_NUM_THREADS=1, no
    # VLLM_USE_V1, balance scheduling on; MLAPO exported for w8a8 only.
    assert plan.speculative_config == {"num_speculative_tokens": 3, "method": "deepseek_mtp", "enforce_eager": True}
    assert plan.async_scheduling is None
    assert p.env["OMP_NUM_THREADS"] == "1" and "VLLM_USE_V1" not in p.env
    assert p.env["VLLM_ASCEND_BALANCE_SCHEDULING"] == "1" and p.env.get("VLLM_ASCEND_ENABLE_MLAPO") == mlapo
    assert p.stack == "v0.23.0" and p.guide == load_stack("v0.23.0").guide_revision.value


@pytest.mark.parametrize("name", BUILTIN)
def test_every_profile_names_its_stack_and_the_guide_revision_of_that_stack(name: str) -> None:
    profile = load_builtin(name)
    assert profile.guide == load_stack(profile.stack).guide_revision.value


def test_the_profile_lists_are_the_builtin_profiles() -> None:
    tested_here = set(GUIDE) | set(GUIDE_2026_08) | {"a3-pd-4node"}  # the prefill-decode one: tests/test_pd.py
    assert set(BUILTIN) == set(BUILTIN_2026_02) | set(BUILTIN_2026_08) == tested_here
    assert len(BUILTIN) == len(set(BUILTIN))


@pytest.mark.parametrize("name", BUILTIN)
def test_show_output_reads_back_as_the_same_profile(name: str) -> None:
    original = load_builtin(name)
    again = load_text(to_toml(original), "shown")
    assert again.to_dict() == original.to_dict()


def test_extends_overrides_and_unset(tmp_path: Path) -> None:
    custom = tmp_path / "site.toml"
    custom.write_text(
        'name = "site"\nextends = "a2-multi"\n[serve]\nmax_model_len = 65536\nquantization = "unset"\n'
        '[env]\nHCCL_BUFFSIZE = "400"\n'
    )
    p = load_file(custom)
    assert p.serve.max_model_len == 65536 and p.serve.quantization is None
    assert p.env["HCCL_BUFFSIZE"] == "400" and p.env["OMP_NUM_THREADS"] == "10"
    assert p.serve.data_parallel_rpc_port == 13389


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nextends = "nope"\n', "unknown profile 'nope'"),
        ('name = "x"\nextends = "a2-single"\n[serve]\nmax_model_len = "long"\n', "must be a whole number"),
        ('name = "x"\nextends = "a2-single"\n[serve]\ntensor_paralel_size = 8\n', "unknown key(s) in [serve]"),
        ('name = "x"\nextends = "a2-single"\n[hardware\n', "not valid TOML"),
        ('name = "x"\n', "missing hardware, model, pins, serve"),
        ('name = "x"\nextends = "a2-single"\nstack = "v0.18"\n', "unknown stack 'v0.18' (did you mean v0.18.0"),
        ('name = "x"\nextends = "a2-single"\nstack = 18\n', "stack must be a stack name"),
        (
            'name = "x"\nextends = "a2-multi"\n[network]\npeer_npu_ips = ["10.20.11.13", "node0"]\n',
            "[network] peer_npu_ips must be a list of IP addresses",
        ),
        ('name = "x"\nextends = "a2-multi"\n[network]\npeer_npu_ips = "10.20.11.13"\n', "must be a list"),
    ],
)
def test_bad_profile_files_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_file(path)


def test_unknown_profile_exits_2_with_one_line() -> None:
    result = run_in_process("--profile", "nope")
    assert result.returncode == 2
    assert_no_traceback(result)
    assert result.stderr.strip().splitlines() == [
        f"glm5check: error: unknown profile 'nope' (known: {', '.join(BUILTIN)})"
    ]


def test_unreadable_profile_file_exits_2_with_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "a-directory.toml"
    folder.mkdir()
    for target in (tmp_path / "missing.toml", folder):
        result = run_in_process("--profile-file", str(target))
        assert result.returncode == 2
        assert_no_traceback(result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"glm5check: error: cannot read profile file {target}")


def test_profiles_commands() -> None:
    listing = run_in_process("profiles")
    assert listing.returncode == 0
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["profile", "stack", "guide", "revision", "deployment"]
    assert [row.split()[:3] for row in rows] == [[n, load_builtin(n).stack, load_builtin(n).guide] for n in BUILTIN]
    shown = run_in_process("profiles", "show", "a3-multi")
    assert shown.returncode == 0
    assert load_text(shown.stdout, "shown").to_dict() == load_builtin("a3-multi").to_dict()


# -- numbers from outside -------------------------------------------------------------------------------


def _numeric_fields() -> set[str]:
    from dataclasses import fields

    from glm5check.knowledge.profiles import Container, Hardware, Pins, ServePlan

    sections = {"hardware": Hardware, "serve": ServePlan, "container": Container, "pins": Pins}
    return {
        f"{section}.{f.name}"
        for section, cls in sections.items()
        for f in fields(cls)
        if str(f.type).split(" ")[0] in ("int", "float")
    }


def test_every_numeric_profile_field_has_a_range() -> None:
    from glm5check.knowledge.limits import PROFILE_RANGES

    numeric = _numeric_fields()
    assert {"serve.tensor_parallel_size", "serve.gpu_memory_utilization", "hardware.nodes"} <= numeric
    assert numeric == set(PROFILE_RANGES)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[serve]\ntensor_parallel_size = 10000000",
            "[serve] tensor_parallel_size must be a whole number from 1 to 64",
        ),
        ("[serve]\ntensor_parallel_size = 0", "tensor_parallel_size must be a whole number from 1 to 64"),
        ("[serve]\ndata_parallel_size = -2", "data_parallel_size must be a whole number from 1 to 1024"),
        ("[serve]\ngpu_memory_utilization = nan", "gpu_memory_utilization must be a number in (0, 1]"),
        ("[serve]\ngpu_memory_utilization = inf", "gpu_memory_utilization must be a number in (0, 1]"),
        ("[serve]\ngpu_memory_utilization = 0", "gpu_memory_utilization must be a number in (0, 1]"),
        ("[serve]\nmax_model_len = 99999999999999", "max_model_len must be a whole number from 1 to 16777216"),
        ("[serve]\nseed = -1", "seed must be a whole number from 0 to 4294967295"),
        ("[serve]\nport = 70000", "[serve] port must be a whole number from 1 to 65535"),
        ("[hardware]\nnpus_per_node = 17", "npus_per_node must be a whole number from 1 to 16"),
        ("[hardware]\nhbm_mb_per_chip = 0", "hbm_mb_per_chip must be a whole number from 1 to 1048576"),
        ("[container]\nshm_min_bytes = -1", "shm_min_bytes must be a whole number from 0 to"),
        ("[serve]\ntensor_parallel_size = 64\ndata_parallel_size = 1000", "must be at most 8192 NPUs"),
        (
            '[serve]\nspeculative_config = {method = "deepseek_mtp", num_speculative_tokens = "x"}',
            "speculative_config.num_speculative_tokens must be a whole number from 1 to 64",
        ),
    ],
)
def test_numbers_out_of_range_are_refused_naming_the_field(body: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_text(f'extends = "a2-multi"\n{body}\n', "custom.toml")
    assert str(caught.value).startswith("custom.toml: ") and message in str(caught.value)


def test_the_builtin_profiles_are_inside_every_range() -> None:
    from glm5check.knowledge.limits import profile_refusals

    for name in BUILTIN:
        profile = load_builtin(name)
        assert profile_refusals({s: getattr(profile, s) for s in ("hardware", "serve", "container")}) == []


def test_a_profile_names_its_stack_and_the_builtin_pins_are_the_default_stacks(tmp_path: Path) -> None:
    from glm5check.knowledge.stacks import DEFAULT_STACK, load_stack

    pinned = load_stack(DEFAULT_STACK)
    for name in BUILTIN:
        profile = load_builtin(name)
        # the February deployments run the pinned stack, the later guide's the release they were written for
        assert profile.stack == (DEFAULT_STACK if name in BUILTIN_2026_02 else "v0.23.0")
        assert profile.guide == load_stack(profile.stack).guide_revision.value
        pins = profile.pins
        # one source of truth: [pins] are judged under the pinned stack only (knowledge/targets.py), and are
        # its values, value for value, in every profile (a release profile's versions are its stack's)
        assert pins.vllm_commit == pinned.sourced("vllm", "commit").value  # type: ignore[union-attr]
        assert pins.vllm_target == pinned.sourced("vllm", "target").value  # type: ignore[union-attr]
        assert pins.vllm_ascend_commit == pinned.sourced("vllm_ascend", "commit").value  # type: ignore[union-attr]
        assert pins.cann_min == pinned.sourced("cann", "version").value  # type: ignore[union-attr]
        assert f">={pins.transformers_min}" == pinned.sourced("transformers", "requirement").value  # type: ignore[union-attr]
    custom = tmp_path / "release.toml"
    custom.write_text('extends = "a2-single"\nname = "a2-release"\nstack = "v0.18.0"\n')
    profile = load_file(custom)
    assert profile.stack == "v0.18.0"
    assert load_text(to_toml(profile), "shown").stack == "v0.18.0"
    assert 'stack = "v0.18.0"' in to_toml(profile)


@pytest.mark.parametrize("name", ["a3-single-w8a8", "a2-multi-w4a8", "a3-pd-4node"])
def test_a_release_profile_is_judged_by_its_stack_and_by_the_pins_under_the_pinned_one(name: str) -> None:
    from glm5check.knowledge.stacks import DEFAULT_STACK, load_stack
    from glm5check.knowledge.targets import stack_targets

    profile = load_builtin(name)
    own = stack_targets(load_stack(profile.stack), profile)
    assert own.releases["vllm-ascend"].version == own.releases["vllm"].version == "0.23.0"
    assert own.cann_min == "9.1.0" and own.python.allows("3.12.1") and not own.python.allows("3.13.0")
    pinned = stack_targets(load_stack(DEFAULT_STACK), profile)
    assert not pinned.is_release
    assert pinned.vllm_ascend_commit == load_stack(DEFAULT_STACK).sourced("vllm_ascend", "commit").value  # type: ignore[union-attr]
