"""The four-node prefill-decode deployment of GLM5.md@2026-08-21 (profile a3-pd-4node): its groups, how a node's
group and rank are found, the guide's run_dp_template.sh scripts run with launch_online_dp.py's arguments, and
serve.pd passing and failing on each of its items."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, assert_no_traceback, run_in_process
from glm5check.checks.serve import serve_args, serve_pd, serve_plan

from glm5check.engine.check import GROUPS, Result, Status, check
from glm5check.facts.context import Context, Options
from glm5check.facts.node import node_info
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotWriter
from glm5check.knowledge.launch_command import read_serve
from glm5check.knowledge.pd import PdRoleError, choose_group, planned_topology
from glm5check.knowledge.profiles import PD_GROUPS, ProfileError, load_builtin, load_text, to_toml
from glm5check.session import node_profile

SCRIPTS = FIXTURES / "serve-scripts"
PROFILE = "a3-pd-4node"
P0, D0 = "192.168.100.11", "192.168.100.13"  # the prefill and decode groups' node 0 (the scripts' local_ip)
HOST_ENV = {"LD_LIBRARY_PATH": "/usr/local/Ascend/driver/lib64"}


def launch_online_dp(
    dp_size: int, tp_size: int, dp_size_local: int, dp_rank_start: int, dp_address: str, rpc: str, start_port: int
) -> Iterator[list[str]]:
    """The arguments the guide's launch_online_dp.py passes run_dp_template.sh, one list per DP rank of the node
    (GLM5.md@2026-08-21, "5.3 Prefill-Decode Disaggregation", its run_command and __main__)."""
    for i in range(dp_size_local):
        devices = ",".join(str(x) for x in range(i * tp_size, (i + 1) * tp_size))
        yield [devices, str(start_port + i), str(dp_size), str(dp_rank_start + i), dp_address, rpc, str(tp_size)]


# Each node of the deployment: its script and its launch_online_dp.py line (Table 2's sizes, section 5.3's ports).
NODES = {
    0: ("a3-pd-4node-prefill-node0.sh", (4, 8, 2, 0, P0, "10521", 6700)),
    1: ("a3-pd-4node-prefill-node1.sh", (4, 8, 2, 2, P0, "10521", 6700)),
    2: ("a3-pd-4node-decode-node0.sh", (8, 4, 4, 0, D0, "10523", 6721)),
    3: ("a3-pd-4node-decode-node1.sh", (8, 4, 4, 4, D0, "10523", 6721)),
}
PROCESSES = [(node, args) for node, (_, line) in NODES.items() for args in launch_online_dp(*line)]


def pd_context(
    text: str,
    args: list[str] | tuple[str, ...] = (),
    pd_role: str | None = None,
    node_rank: int | None = None,
    env: dict[str, str] | None = None,
) -> Context:
    """A node of a3-pd-4node as the session builds it, on a host with no weights folder."""
    profile = load_builtin(PROFILE)
    launch = read_serve(profile, text, script_name="run_dp_template.sh")
    options = Options(serve_source="run_dp_template.sh", script_args=tuple(args), pd_role=pd_role, node_rank=node_rank)
    writer = SnapshotWriter(PROFILE)
    writer.data.env = dict(HOST_ENV if env is None else env)
    return Context(node_profile(profile, options, launch), ReplayHost(writer.data), options, launch)


def rows(ctx: Context, which: check = serve_pd) -> list[Result]:  # type: ignore[valid-type]
    return list(which.func(ctx))


def script(node: int) -> str:
    return (SCRIPTS / NODES[node][0]).read_text()


def first_args(node: int) -> list[str]:
    return next(launch_online_dp(*NODES[node][1]))


# -- the profile ------------------------------------------------------------------------------------------------


def test_the_profile_is_the_guides_four_node_table() -> None:
    """GLM5.md@2026-08-21 9.1, Tables 1-2: P dp4 tp8 (2 DP ranks of TP8 per node), D dp8 tp4 (4 of TP4), MTP3,
    max-model-len 202752, w8a8c8; 5.3: HCCL_BUFFSIZE=256, MLAPO on decode only, the P/D-only keys."""
    whole = load_builtin(PROFILE)
    assert (whole.stack, whole.guide, whole.hardware.nodes, whole.model.weights) == (
        "v0.23.0",
        "GLM5.md@2026-08-21-92616f3a64",
        4,
        "w8a8c8",
    )
    assert [(g.name, g.nodes, g.dp_per_node, g.first_node) for g in whole.pd] == [
        ("prefill", 2, 2, 0),
        ("decode", 2, 4, 2),
    ]
    expected = {
        "prefill": (8, 4, 64, 8192, 0.95, "kv_producer", None),
        "decode": (4, 8, 32, 164, 0.92, "kv_consumer", "1"),
    }
    for group, (tp, dp, seqs, batched, memory, role, mlapo) in expected.items():
        p = whole.for_group(group)
        plan = p.serve
        assert (p.pd_group, p.hardware.nodes, p.deployment) == (group, 2, whole)
        assert (plan.tensor_parallel_size, plan.data_parallel_size, plan.dp_local) == (tp, dp, 1)
        assert (plan.max_num_seqs, plan.max_num_batched_tokens, plan.gpu_memory_utilization) == (seqs, batched, memory)
        assert plan.max_model_len == 202752 and plan.speculative_config["num_speculative_tokens"] == 3  # type: ignore[index]
        assert plan.kv_role == role and plan.port is None
        assert p.env["HCCL_BUFFSIZE"] == "256" and p.env["ACL_OP_INIT_MODE"] == "1"
        assert p.env.get("VLLM_ASCEND_ENABLE_MLAPO") == mlapo and "VLLM_ASCEND_BALANCE_SCHEDULING" not in p.env
        assert plan.additional_config["enable_sparse_sfa_c8"] and plan.additional_config["enable_sparse_li_c8"]  # type: ignore[index]
    assert whole.for_group("prefill").serve.additional_config["enable_dsa_cp"] is True  # type: ignore[index]
    assert whole.for_group("decode").serve.additional_config["recompute_scheduler_enable"] is True  # type: ignore[index]
    assert planned_topology(whole) == {"prefill": {"dp_size": 4, "tp_size": 8}, "decode": {"dp_size": 8, "tp_size": 4}}


def test_a_groups_profile_shows_as_the_whole_deployment() -> None:
    whole = load_builtin(PROFILE)
    for group in PD_GROUPS:
        again = load_text(to_toml(whole.for_group(group)), "shown")
        assert again.to_dict() == whole.to_dict() and again.pd_group is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("[hardware]\nnodes = 5\n", "the [pd] groups have 4 nodes, [hardware] nodes = 5"),
        (
            "[pd.decode]\ndp_per_node = 2\n",
            "[pd.decode] 2 node(s) × 2 DP rank(s) per node is not its data_parallel_size 8",
        ),
        ("[pd.prefill.serve]\ntensor_parallel_size = 16\n", "[pd.prefill] TP 16 × 2 DP rank(s) per node is more than"),
        ("[pd.prefill]\nnodes = 0\n", "[pd.prefill] nodes must be a whole number of at least 1, not 0"),
        ("[pd.prefill]\nports = 1\n", "[pd.prefill] takes only dp_per_node, env, nodes, serve"),
        ("[pd.mixed]\nnodes = 1\n", "[pd] must hold exactly the tables [pd.prefill] and [pd.decode]"),
        ('[pd.decode.serve]\nkv_transfer_config = "mooncake"\n', "kv_transfer_config must be a table"),
    ],
)
def test_a_broken_pd_table_is_one_clear_error(change: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_text(f'name = "site"\nextends = "{PROFILE}"\n{change}', "site.toml")


def test_the_engine_and_the_profiles_name_the_same_groups() -> None:
    assert GROUPS == PD_GROUPS


# -- which group, which node ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pd_role", "node_rank", "kv_role", "group", "source"),
    [
        ("decode", None, "kv_producer", "decode", "--pd-role"),
        ("decode", 3, None, "decode", "--pd-role"),
        (None, 1, "kv_consumer", "prefill", "--node-rank 1 (nodes 0-1 prefill, 2-3 decode)"),
        (None, 2, None, "decode", "--node-rank 2 (nodes 0-1 prefill, 2-3 decode)"),
        (None, None, "kv_consumer", "decode", "the launch command's --kv-transfer-config (kv_role kv_consumer)"),
    ],
)
def test_the_group_comes_from_the_role_the_rank_or_the_script(
    pd_role: str | None, node_rank: int | None, kv_role: str | None, group: str, source: str
) -> None:
    launch = {"kv_transfer_config": {"kv_role": kv_role}} if kv_role else {}
    chosen = choose_group(load_builtin(PROFILE), pd_role, node_rank, launch)
    assert chosen is not None and (chosen.name, chosen.source) == (group, source)


@pytest.mark.parametrize(
    ("profile", "pd_role", "node_rank", "message"),
    [
        (PROFILE, None, None, "say which group this node is in with --pd-role prefill|decode, --node-rank N"),
        (PROFILE, "decode", 1, "--pd-role decode contradicts --node-rank 1 (nodes 0-1 prefill, 2-3 decode)"),
        (PROFILE, None, 4, "--node-rank 4: profile a3-pd-4node has nodes 0-1 prefill, 2-3 decode"),
        ("a3-multi-w8a8", "prefill", None, "--pd-role prefill: profile a3-multi-w8a8 is not a prefill-decode"),
    ],
)
def test_no_group_or_contradicting_ones_exit_2(
    profile: str, pd_role: str | None, node_rank: int | None, message: str
) -> None:
    with pytest.raises(PdRoleError, match=message.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        choose_group(load_builtin(profile), pd_role, node_rank, {})
    args = ["--profile", profile, "--replay", "demo", "--serve-cmd", "vllm serve /m"]
    args += ["--node-rank", str(node_rank)] if node_rank is not None else []
    result = run_in_process(*args, *(["--pd-role", pd_role] if pd_role else []))
    assert result.returncode == 2 and message in result.stderr
    assert_no_traceback(result)


def test_a_nodes_rank_is_within_its_group() -> None:
    prefill1 = pd_context(script(1), first_args(1))
    assert prefill1.fact(node_info) == node_info(prefill1)
    info = prefill1.fact(node_info)
    assert (info.group, info.rank, info.role) == ("prefill", 1, "headless")
    assert "--data-parallel-rank 2, 2 DP rank(s) per node" in info.source
    by_rank = pd_context(script(2), node_rank=3)
    info = by_rank.fact(node_info)
    assert (info.group, info.rank, info.role, info.source) == (
        "decode",
        1,
        "headless",
        "--node-rank 3: node 1 of the decode group",
    )
    launcher = pd_context("vllm serve /m", pd_role="decode", env={"SLURM_NODEID": "2"})
    info = launcher.fact(node_info)
    assert (info.group, info.rank, info.role) == ("decode", 0, "primary")


# -- the guide's scripts, one vllm serve per DP rank --------------------------------------------------------------


@pytest.mark.parametrize(("node", "args"), PROCESSES, ids=[f"node{n}-rank{a[3]}" for n, a in PROCESSES])
def test_every_dp_rank_of_every_node_runs_its_groups_plan(node: int, args: list[str]) -> None:
    ctx = pd_context(script(node), args)
    assert ctx.profile.pd_group == ("prefill" if node < 2 else "decode")
    assert [(r.status, r.observed) for r in rows(ctx, serve_plan)] == [(Status.PASS, "no difference")]
    pd = rows(ctx)
    assert {r.item for r in pd} == {
        "kv-transfer",
        "topology",
        "kv_port",
        "dp-rank",
        "devices",
        "kv-cache-c8",
        "LD_LIBRARY_PATH",
    }
    assert all(r.status == Status.PASS for r in pd), [(r.item, r.message) for r in pd if r.status != Status.PASS]
    problems = [r for r in rows(ctx, serve_args) if r.status in (Status.FAIL, Status.WARN)]
    assert problems == []
    assert ctx.plan.data_parallel_rank == int(args[3]) and ctx.plan.dp_local == 1
    assert ctx.env["ASCEND_RT_VISIBLE_DEVICES"] == args[0]


def test_without_its_arguments_the_template_is_judged_as_the_profile_with_warnings() -> None:
    ctx = pd_context(script(0), pd_role="prefill")
    warned = {r.item for r in rows(ctx, serve_args) if r.status == Status.WARN}
    assert {"--port", "--data-parallel-size", "--tensor-parallel-size", "--data-parallel-rank"} <= warned
    assert "$7 is the script's argument 7 (no --script-args)" in ctx.effective.source("tensor_parallel_size")


# -- serve.pd failing ------------------------------------------------------------------------------------------------


def item(ctx: Context, name: str) -> Result:
    (found,) = [r for r in rows(ctx) if r.item == name]
    return found


def test_a_prefill_script_on_a_decode_node_fails_its_role_and_topology() -> None:
    ctx = pd_context(script(0), first_args(0), pd_role="decode")
    role = item(ctx, "kv-transfer")
    assert (role.status, role.expected, role.observed) == (Status.FAIL, "kv_consumer", "kv_producer")
    assert "group from --pd-role" in role.message
    topology = item(ctx, "topology")
    assert topology.status == Status.FAIL and "this node runs DP4 × TP8, its group DP8 × TP4" in topology.message
    plan = {r.item: r.status for r in rows(ctx, serve_plan)}
    assert plan["kv_transfer_config"] == plan["tensor_parallel_size"] == Status.FAIL


def test_a_topology_other_than_the_deployed_one_fails() -> None:
    text = script(2).replace('"dp_size": 8,', '"dp_size": 16,')
    topology = item(pd_context(text, first_args(2)), "topology")
    assert (
        topology.status == Status.FAIL
        and "decode {'dp_size': 16, 'tp_size': 4} (deployed: DP8 × TP4)" in topology.message
    )


def test_no_kv_transfer_config_fails() -> None:
    text = script(2).split("    --kv-transfer-config")[0].rstrip().rstrip("\\")
    ctx = pd_context(text, first_args(2), pd_role="decode")
    assert item(ctx, "kv-transfer").status == Status.FAIL and item(ctx, "kv-transfer").observed == "absent"


def test_a_kv_transfer_config_vllm_rejects_is_serve_args_own_failure() -> None:
    text = script(2).replace('"kv_connector"', "kv_connector", 1)  # no longer JSON: serve.args fails it
    ctx = pd_context(text, first_args(2), pd_role="decode")
    row = item(ctx, "kv-transfer")
    assert (row.status, row.see) == (Status.SKIP, "serve.args") and "a value vLLM rejects" in row.message


def test_an_unknown_connector_fails() -> None:
    ctx = pd_context(script(0).replace("MooncakeConnectorV1", "MooncakeConnector"), first_args(0))
    assert (
        item(ctx, "kv-transfer").status == Status.FAIL
        and "not a connector vllm-ascend registers" in item(ctx, "kv-transfer").message
    )


def test_a_dp_rank_of_another_node_fails() -> None:
    # Node 1 of the prefill group (--node-rank 1) started with prefill node 0's first rank.
    ctx = pd_context(script(1), first_args(0), node_rank=1)
    rank = item(ctx, "dp-rank")
    assert (rank.status, rank.expected, rank.observed) == (Status.FAIL, "2-3", "0")


def test_other_chips_than_the_ranks_warn() -> None:
    args = first_args(3)
    args[0] = "0,1,2,3,4,5,6,7"
    devices = item(pd_context(script(3), args), "devices")
    assert (devices.status, devices.expected) == (Status.WARN, "0,1,2,3")


def test_balance_scheduling_on_a_pd_node_fails_at_the_release_that_refuses_it() -> None:
    text = script(2).replace(
        "export TASK_QUEUE_ENABLE=1", "export TASK_QUEUE_ENABLE=1\nexport VLLM_ASCEND_BALANCE_SCHEDULING=1"
    )
    row = item(pd_context(text, first_args(2)), "additional-config[enable_balance_scheduling]")
    assert row.status == Status.FAIL and "enable_balance_scheduling only supports PD-mixed mode" in row.message
    assert "vllm_ascend/platform.py:677-685" in row.message and row.observed == "VLLM_ASCEND_BALANCE_SCHEDULING=1"
    # vllm-ascend v0.19.1rc1 has no such rule: a profile written for that stack is not held to it.
    older = load_text(f'name = "old"\nextends = "{PROFILE}"\nstack = "v0.19.1rc1"\n', "old.toml")
    launch = read_serve(older, text, script_name="run_dp_template.sh")
    options = Options(serve_source="s", script_args=tuple(first_args(2)))
    writer = SnapshotWriter("old")
    writer.data.env = dict(HOST_ENV)
    ctx = Context(node_profile(older, options, launch), ReplayHost(writer.data), options, launch)
    assert not [r for r in rows(ctx) if r.item == "additional-config[enable_balance_scheduling]"]


@pytest.mark.parametrize(
    ("node", "old", "new", "key", "status"),
    [
        (0, '"enable_dsa_cp": true,', '"enable_dsa_cp": true, "enable_kv_nz": true,', "enable_kv_nz", Status.FAIL),
        (
            2,
            '"recompute_scheduler_enable": true,',
            '"recompute_scheduler_enable": true, "enable_kv_nz": true,',
            "enable_kv_nz",
            Status.FAIL,
        ),
        (
            0,
            '"enable_dsa_cp": true,',
            '"enable_dsa_cp": true, "recompute_scheduler_enable": true,',
            "recompute_scheduler_enable",
            Status.WARN,
        ),
    ],
)
def test_additional_config_keys_vllm_ascend_refuses_or_ignores(
    node: int, old: str, new: str, key: str, status: Status
) -> None:
    text = script(node).replace(old, new)
    assert new in text
    row = item(pd_context(text, first_args(node)), f"additional-config[{key}]")
    assert row.status == status and "vllm-ascend@v0.23.0:" in row.message


def test_recompute_on_decode_is_what_the_guide_wants() -> None:
    assert not [r for r in rows(pd_context(script(2), first_args(2))) if r.item.startswith("additional-config")]  # type: ignore[union-attr]


def test_a_group_without_the_8_bit_kv_cache_fails_against_the_other() -> None:
    text = script(2).replace(', "enable_sparse_sfa_c8": true, "enable_sparse_li_c8": true}', "}")
    row = item(pd_context(text, first_args(2)), "kv-cache-c8")
    assert row.status == Status.FAIL and "Mooncake copies its bytes as they are" in row.message


def test_the_other_groups_kv_port_and_no_mooncake_library_path_warn() -> None:
    text = script(2).replace('"kv_port": "30100"', '"kv_port": "30000"')
    assert item(pd_context(text, first_args(2)), "kv_port").status == Status.WARN
    bare = script(2).replace("export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:/usr/local/lib\n", "")
    assert item(pd_context(bare, first_args(2)), "LD_LIBRARY_PATH").status == Status.WARN


def test_serve_args_fail_a_rank_outside_dp_and_dp_local_with_a_rank() -> None:
    args = first_args(0)
    args[3] = "4"
    (row,) = [r for r in rows(pd_context(script(0), args), serve_args) if r.status == Status.FAIL]
    assert row.status == Status.FAIL and "must be in the range [0, 4)" in row.message
    text = script(0).replace("--data-parallel-rank $4", "--data-parallel-rank $4 --data-parallel-size-local 2")
    (row,) = [r for r in rows(pd_context(text, first_args(0)), serve_args) if r.status == Status.FAIL]
    assert row.status == Status.FAIL and "data_parallel_size_local must be 1 or None" in row.message


def test_serve_pd_runs_on_prefill_decode_nodes_only() -> None:
    assert serve_pd.groups == ("prefill", "decode") and serve_pd.scope == "prefill-decode prefill and decode nodes"
    assert not serve_pd.applies(True, "primary") and serve_pd.applies(True, "headless", "decode")
    with pytest.raises(ValueError, match="unknown groups"):
        check("x.y", title="t", explain="Why: a\n\nWhat: b\n\nFix: c", groups=("mixed",))


# -- through the CLI -------------------------------------------------------------------------------------------------


def test_through_the_cli_a_decode_rank_with_its_arguments(tmp_path: Path) -> None:
    node, args = PROCESSES[-1]
    result = run_in_process(
        "--profile", PROFILE, "--serve-script", str(SCRIPTS / NODES[node][0]), "--script-args", " ".join(args),
        "--replay", "demo", "--check", "serve.*", "--format", "json",
    )  # fmt: skip
    assert_no_traceback(result)
    report = json.loads(result.stdout)
    assert report["node"]["group"] == "decode" and report["node"]["rank"] == 1 and report["node"]["role"] == "headless"
    assert report["profile"]["pd_group"] == "decode" and report["profile"]["serve"]["data_parallel_rank"] == 7
    pd = [r for r in report["results"] if r["id"] == "serve.pd"]
    assert pd and all(r["status"] == "pass" for r in pd), pd
    table = run_in_process("--profile", PROFILE, "--pd-role", "decode", "--replay", "demo", "--check", "serve.pd")
    assert "(4 × Atlas 800 A3; the decode group: 2 nodes)" in table.stdout
    assert "node rank 0 (primary of the decode group)" in table.stdout


def test_script_args_that_a_shell_would_not_split_exit_2() -> None:
    result = run_in_process(
        "--profile", PROFILE, "--pd-role", "prefill", "--replay", "demo", "--script-args", "'0,1 6700"
    )
    assert result.returncode == 2 and "--script-args" in result.stderr
    assert_no_traceback(result)


def test_a_snapshot_of_a_pd_node_replays_as_the_same_node(tmp_path: Path) -> None:
    """The snapshot keeps the whole deployment's profile, the node's group and the script's arguments."""
    from glm5check.session import RunArgs, _snapshot_meta, build_context

    node, args = PROCESSES[5]  # decode node 0, its second DP rank
    run = RunArgs(
        profile_name=PROFILE, serve_script=str(SCRIPTS / NODES[node][0]), script_args=" ".join(args), node_rank=2
    )
    writer = SnapshotWriter(PROFILE, hostname="npu-a3-03")
    writer.data.env = dict(HOST_ENV)
    ctx, serve_meta = build_context(run, ReplayHost(writer.data), {})
    writer.data.meta = _snapshot_meta(ctx, "npu-a3-03", serve_meta)
    assert writer.data.meta["options"]["pd_role"] == "decode"
    assert writer.data.meta["options"]["script_args"] == args
    replayed = json.loads(run_in_process("--replay", str(writer.write(tmp_path / "snap")), "--format", "json").stdout)
    assert (replayed["node"]["group"], replayed["node"]["rank"]) == ("decode", 0)
    assert replayed["profile"]["serve"]["data_parallel_rank"] == 1 and replayed["profile"]["pd"]["decode"]["nodes"] == 2
    pd = {r["item"]: r["status"] for r in replayed["results"] if r["id"] == "serve.pd"}
    assert pd["kv-transfer"] == pd["dp-rank"] == pd["devices"] == "pass"


@pytest.mark.parametrize(("group", "tp", "dp"), [("prefill", 8, 4), ("decode", 4, 8)])
def test_without_a_script_a_node_runs_its_groups_plan(group: str, tp: int, dp: int) -> None:
    """No launch command: the plan vLLM would run is the group's own, not the deployment's common [serve]."""
    from glm5check.session import RunArgs, build_context

    writer = SnapshotWriter(PROFILE, hostname="npu-a3-01")
    writer.data.env = dict(HOST_ENV)
    ctx, _ = build_context(RunArgs(profile_name=PROFILE, pd_role=group), ReplayHost(writer.data), {})
    assert ctx.profile.pd_group == group
    assert (ctx.plan.tensor_parallel_size, ctx.plan.data_parallel_size) == (tp, dp)
    assert ctx.plan.kv_role == ("kv_producer" if group == "prefill" else "kv_consumer")


def test_fix_env_takes_the_group_and_the_scripts_arguments() -> None:
    """fix-env judges a prefill-decode node as the preflight does: its group's environment (HCCL_BUFFSIZE 256)."""
    node, args = PROCESSES[-1]  # decode node 1, its last DP rank
    result = run_in_process(
        "fix-env", "--profile", PROFILE, "--serve-script", str(SCRIPTS / NODES[node][0]),
        "--script-args", " ".join(args), "--replay", "demo",
    )  # fmt: skip
    assert_no_traceback(result)
    assert "· node rank 1 (headless of the decode group) ·" in result.stdout.splitlines()[0]
    by_role = run_in_process("fix-env", "--profile", PROFILE, "--pd-role", "prefill", "--replay", "demo")
    assert "· node rank 0 (primary of the prefill group) ·" in by_role.stdout.splitlines()[0]
    assert "export HCCL_BUFFSIZE=256" in by_role.stdout


@pytest.mark.parametrize("node", sorted(NODES))
def test_without_its_arguments_a_rank_per_serve_is_still_one_dp_local_rank(node: int) -> None:
    """`--data-parallel-rank $4` passes a rank whatever $4 is: vLLM runs one DP rank (DP-local 1), not them all."""
    ctx = pd_context(script(node), pd_role="prefill" if node < 2 else "decode")
    assert ctx.plan.dp_local == 1
    assert "set at run time" in ctx.effective.source("data_parallel_size_local")
    failed = [r.message for which in (serve_args, serve_plan) for r in rows(ctx, which) if r.status == Status.FAIL]
    assert failed == []


@pytest.mark.parametrize(("tp", "status"), [("4", Status.PASS), ("6", Status.FAIL), ("99999", Status.FAIL)])
def test_a_script_argument_vllm_would_reject_fails(tp: str, status: Status) -> None:
    """--script-args make $7 known: a --tensor-parallel-size vLLM refuses is a FAIL, not a guess to warn about."""
    args = [*first_args(3)[:6], tp]
    ctx = pd_context(script(3), args, pd_role="decode")
    (found,) = [r for r in rows(ctx, serve_args) if r.item == "--tensor-parallel-size" and "line 36" in r.message]
    assert found.status == status, found.message


@pytest.mark.parametrize(("stack", "warns"), [("v0.23.0", False), ("v0.22.1rc1", True), ("glm5-2026-02", True)])
def test_the_8_bit_kv_cache_at_a_stack_without_it_warns(stack: str, warns: bool) -> None:
    """vllm-ascend before v0.23.0rc1 has no enable_sparse_sfa_c8 / enable_sparse_li_c8: it ignores them and runs a
    bf16 KV cache; both groups then read 'off' alike, which passed."""
    older = load_text(f'name = "at"\nextends = "{PROFILE}"\nstack = "{stack}"\n', "at.toml")
    launch = read_serve(older, script(3), script_name="run_dp_template.sh")
    options = Options(serve_source="s", script_args=tuple(first_args(3)))
    writer = SnapshotWriter("at")
    writer.data.env = dict(HOST_ENV)
    ctx = Context(node_profile(older, options, launch), ReplayHost(writer.data), options, launch)
    found = [r for r in rows(ctx) if r.item == "kv-cache-c8[stack]"]
    assert [r.status for r in found] == ([Status.WARN] if warns else [])
    assert not warns or f"at stack {stack} has no such key" in found[0].message
