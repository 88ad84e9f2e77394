"""The plan, drawn: where each DP rank runs (chips, TP group, EP ranks, ports), this node's real chips, and
one rank's HBM budget split into weights / reserve / KV cache / free — in `glm5check plan`, the table and
the JSON report."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

import jsonschema
from conftest import FIXTURES, assert_no_traceback, clean_env, run_in_process, write_executable
from hypothesis import given
from hypothesis import strategies as st

from glm5check.facts.deployment import budget_split
from glm5check.knowledge import glm5
from glm5check.knowledge.layout import layout
from glm5check.knowledge.memfit import FitPlan, fit
from glm5check.knowledge.profiles import load_builtin
from glm5check.reports.plan import BAR_WIDTH, widths

A3_TABLE = FIXTURES / "npu-smi-info" / "openyuanrong-fixture-A3-16chip-24.1.rc3.3-pt_main_thread.txt"


def test_a2_multi_layout_ranks_chips_groups_and_ports() -> None:
    node0, node1 = layout(load_builtin("a2-multi").serve, 2)
    assert (node0.role, node0.api_port, node0.rpc) == ("primary", 8077, "node 0:13389")
    assert (node1.role, node1.api_port) == ("headless", None)
    (rank0,), (rank1,) = node0.ranks, node1.ranks
    assert (rank0.dp_rank, rank0.chips, rank0.global_ranks, rank0.ep_ranks, rank0.ep_size) == (
        0, tuple(range(8)), (0, 7), (0, 7), 16,
    )  # fmt: skip
    assert (rank1.dp_rank, rank1.chips, rank1.global_ranks, rank1.ep_ranks) == (1, tuple(range(8)), (8, 15), (8, 15))


def test_two_dp_ranks_per_node_split_the_chips_and_expert_parallel_off_has_no_ep_ranks() -> None:
    plan = replace(
        load_builtin("a2-multi").serve,
        tensor_parallel_size=4,
        data_parallel_size=4,
        data_parallel_size_local=2,
        enable_expert_parallel=False,
        data_parallel_address="10.20.0.11",
    )
    node0, node1 = layout(plan, 2)
    assert [r.dp_rank for r in node1.ranks] == [2, 3]
    assert [r.chips for r in node1.ranks] == [(0, 1, 2, 3), (4, 5, 6, 7)]
    assert [r.global_ranks for r in node1.ranks] == [(8, 11), (12, 15)]
    assert all(r.ep_ranks is None and r.ep_size == 1 for r in (*node0.ranks, *node1.ranks))
    assert node1.rpc == "10.20.0.11:13389"


def test_single_node_has_one_rank_and_the_api() -> None:
    (node,) = layout(load_builtin("a2-single").serve, 1)
    assert node.role == "single" and node.api_port == 8077 and node.rpc is None
    assert node.ranks[0].ep_ranks == (0, 7) and node.ranks[0].ep_size == 8


def _fit(**changes: object):
    plan = FitPlan(8, 2, True, 4096, 131072, 2, 0.95, 64 << 30, True)
    return fit(glm5.class_sizes("w4a8"), replace(plan, **changes), "built-in")


def test_the_budget_split_adds_up_to_the_budget() -> None:
    result = _fit()
    split = budget_split(result)
    parts = [split[f"{k}_bytes"] for k in ("weights", "reserve", "held", "kv", "free")]
    assert sum(parts) == split["budget_bytes"] == result.budget_bytes
    assert split["weights_bytes"] == result.weights.per_rank + result.mlapo_bytes and split["over_bytes"] == 0
    assert split["kv_bytes"] == result.kv_tokens * result.kv_bytes_per_token
    assert 0 <= split["free_bytes"] < result.kv_bytes_per_token * 128  # less than one KV block


def test_hbm_another_process_holds_comes_out_of_the_kv_cache() -> None:
    result = _fit()
    idle, busy = budget_split(result), budget_split(result, held_bytes=4 << 30)
    assert busy["held_bytes"] == 4 << 30 and busy["kv_bytes"] < idle["kv_bytes"]
    assert sum(busy[f"{k}_bytes"] for k in ("weights", "reserve", "held", "kv", "free")) == busy["budget_bytes"]
    assert busy["kv_tokens"] == replace(result, held_bytes=4 << 30).kv_tokens


def test_a_plan_that_does_not_fit_is_cut_at_the_budget_and_says_by_how_much() -> None:
    result = _fit(tp=2, dp=1, hbm_bytes=32 << 30)
    split = budget_split(result)
    needed = result.weights.per_rank + result.mlapo_bytes + result.reserve_bytes
    assert split["over_bytes"] == needed - result.budget_bytes > 0
    assert split["kv_bytes"] == split["free_bytes"] == 0
    assert split["weights_bytes"] + split["reserve_bytes"] == split["budget_bytes"]


@given(st.lists(st.integers(min_value=0, max_value=1 << 40), min_size=1, max_size=6), st.integers(1, 120))
def test_bar_cells_always_add_up_to_the_width(sizes: list[int], width: int) -> None:
    parts = [(str(i), size) for i, size in enumerate(sizes)]
    cells = widths(parts, sum(sizes), width)
    assert sum(cells) == (width if sum(sizes) else 0) and all(c >= 0 for c in cells)


def test_glm5check_plan_draws_the_demo_node() -> None:
    done = run_in_process("plan", "--replay", "demo:a2-node1", env=clean_env({"COLUMNS": "120"}))
    assert_no_traceback(done)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("plan of profile a2-multi") and "node rank 1 (headless)" in lines[0]
    assert "node 0 · primary · API port 8077 · DP RPC 10.20.0.11:13389" in lines
    assert "node 1 · headless · this node · DP RPC 10.20.0.11:13389 · HCCL ports 60000-60031" in lines
    # node 1's launch script misspells --enable-expert-parallel: the effective plan runs without it.
    assert "  DP rank 1 · TP group ranks 8-15 · expert parallel off · chips 0-7" in lines
    chips = [line for line in lines if line.startswith("    chip ")]
    assert len(chips) == 8 and chips[3].startswith("    chip 3 = NPU 3, device 3")
    assert all(len(line.split("[")[1].split("]")[0]) == BAR_WIDTH for line in chips)
    assert "27547 MB in use now (22.4 GiB held by others" in done.stdout
    assert "####" in chips[3] and "#" not in chips[2]  # the HBM another process holds, in the bar
    assert "HBM budget of one rank (memory.fit): 57.9 GiB = 61.0 GiB HBM × 0.95" in lines


def test_plan_json_is_the_reports_facts_plan() -> None:
    drawn = json.loads(run_in_process("plan", "--replay", "demo:a2-node1", "--format", "json").stdout)
    report = json.loads(run_in_process("--replay", "demo:a2-node1", "--format", "json").stdout)
    assert drawn == report["facts"]["plan"]
    schema = json.loads(resources.files("glm5check.schema").joinpath("report-v1.json").read_text())
    jsonschema.validate(report, schema)
    broken = json.loads(json.dumps(report))
    broken["facts"]["plan"]["nodes"][0]["ranks"][0]["chips"][0]["logical"] = "zero"
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the schema accepts a chip without a logical id")


def test_a3_chips_are_drawn_with_their_physical_ids(fake_bin: Path) -> None:
    write_executable(fake_bin, "npu-smi", f"#!/bin/sh\ncat '{A3_TABLE}'\n")
    done = run_in_process("plan", "--profile", "a3-single", env=clean_env({"COLUMNS": "120"}, path_prepend=[fake_bin]))
    chips = [line for line in done.stdout.splitlines() if line.startswith("    chip ")]
    assert len(chips) == 16
    assert chips[1].startswith("    chip 1 = NPU 0 chip 1, device 1") and chips[2].startswith(
        "    chip 2 = NPU 1 chip 0, device 2"
    )


def test_the_table_ends_with_the_plan_but_problems_mode_leaves_it_out() -> None:
    table = run_in_process("--replay", "demo:a2-node1", env=clean_env({"COLUMNS": "120"})).stdout
    assert re.search(r"\nplan +node 0 · primary", table) and "HBM budget of one rank" in table
    assert "chip 3 = NPU 3, device 3" in table and "npu.hbm FAIL" in table
    problems = run_in_process("--replay", "demo:a2-node1", "--problems").stdout
    assert "HBM budget of one rank" not in problems


def test_a_plan_with_more_ranks_than_the_node_has_chips_says_it_cannot_start() -> None:
    done = run_in_process(
        "plan",
        "--profile",
        "a2-single",
        "--serve-cmd",
        "vllm serve /models/GLM-5 --tensor-parallel-size 16",
        env=clean_env({"COLUMNS": "120"}),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "this plan cannot start: TP 16 × DP-local 1 = 16 NPUs per node, but one Atlas 800 A2 has 8"
    assert lines[2].startswith("  (chips 8-15 below are not on the node")
    assert "chip 15" in done.stdout  # still drawn, to show why
    fitting = run_in_process("plan", "--profile", "a2-single", env=clean_env({"COLUMNS": "120"}))
    assert "cannot start" not in fitting.stdout
