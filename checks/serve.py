"""serve.args: the `vllm serve` flags themselves — values vLLM would reject, flags it does not know,
parallel sizes the node cannot hold, and combinations that fail only after minutes of loading.
serve.plan: the effective plan (what vLLM will run for this launch command) against the profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from glm5check.engine.check import Result, check, dependent, failed, passed, skipped, skipped_for, warned
from glm5check.engine.context import reported_fact
from glm5check.errors import SeeCheck
from glm5check.facts.context import Context, intended_plan
from glm5check.facts.node import node_info
from glm5check.facts.weights import loadable_mtp_layer, readable_weights
from glm5check.facts.weights_scan import QUANT_DESCRIPTION
from glm5check.knowledge import glm5
from glm5check.knowledge.launch_command import FIELD_FLAGS, ServeFlag, ServeInput, vllm_of
from glm5check.knowledge.layout import overfull
from glm5check.knowledge.pd import (
    ASCEND_CONNECTORS,
    C8_KEYS,
    GROUP_OF_ROLE,
    KV_ROLE_OF,
    MOONCAKE_LIBRARY_DIR,
    RULES,
    GroupChoice,
    c8_switches,
    choose_group,
    planned_topology,
    rank_range,
    rule_setting,
    stack_has,
    topology,
    truthy,
    visible_devices,
)
from glm5check.knowledge.plan import Difference, differences
from glm5check.knowledge.profiles import PD_GROUPS
from glm5check.util.numbers import whole
from glm5check.util.redact import REDACTED, is_secret_flag

MAX_MODEL_LEN = glm5.MAX_POSITION_EMBEDDINGS  # 202752


# What to do about the parts of a script glm5check reads but cannot judge.
_WARNING_FIXES = {
    "unsupported": "glm5check reads the script top to bottom without running it; check that part by hand",
    "duplicate": "keep one of the two; vllm takes the last",
    "syntax": "fix the quoting: bash would stop on it too",
}


def _serve_input(ctx: Context) -> ServeInput | None:
    return ctx.launch if ctx.launch.from_script else None


def _source(ctx: Context, field: str) -> str:
    source = ctx.effective.source(field)
    return f"profile {ctx.profile.name}" if source == "profile" else source


def _script_items(ctx: Context, serve: ServeInput) -> Iterator[Result]:
    """What the reader could not accept: unknown flags, invalid values (FAIL); unknowable parts (WARN)."""
    vllm = vllm_of(ctx.stack)
    for problem in serve.problems:
        if problem.kind == "unknown-flag":
            fix = f"use {problem.suggestion}" if problem.suggestion else "remove it (see `vllm serve --help=all`)"
            yield failed(
                problem.message.split(": ", 1)[-1],
                item=problem.flag,
                observed=problem.flag,
                expected=problem.suggestion or f"a flag of {vllm}",
                remediation=fix,
            )
        elif problem.kind == "invalid-value":
            yield failed(
                problem.message,
                item=problem.flag or "command",
                remediation="correct the value in the launch command; vllm would stop at start-up with an "
                "argument error",
            )
        else:
            yield warned(
                problem.message,
                item=f"script line {problem.line}" if problem.line else "script",
                remediation=_WARNING_FIXES.get(problem.kind, "check that part of the script by hand"),
            )
    if not any(p.kind in ("unknown-flag", "invalid-value") for p in serve.problems):
        yield passed(
            f"{len(serve.flags)} flags, every one known to {vllm}, with valid values",
            item="flags",
            observed=f"{len(serve.flags)} flags",
        )


def _runtime_items(ctx: Context, serve: ServeInput) -> Iterator[Result]:
    """Flag values and files the script takes at run time: what they give on this host, never a guess."""
    for name, value in serve.runtime_flags.items():
        flag = "the model path" if name == "model" else FIELD_FLAGS[name]
        note = ctx.effective.source(name)
        known = getattr(ctx.plan, name, None) if name != "model" else ctx.effective.model
        item = "model" if name == "model" else FIELD_FLAGS[name]
        if "would reject" in note:  # known (from --script-args or this host) and invalid: vllm stops on it
            yield failed(
                f"{flag} is {note}",
                item=item,
                observed=value.text,
                remediation=f"make what the script passes {flag} a value vllm accepts (vllm serve --help)",
            )
        elif "not known before launch" in note:
            yield warned(
                f"{flag} is {note}",
                item=item,
                observed=value.text,
                remediation='set the value in the script itself (as the guide\'s node0_ip="…" lines do), or '
                "export what it reads in this shell and run glm5check again",
            )
        else:
            yield passed(f"{flag} is {note}", item=item, observed=str(known))
    for path, line in serve.sourced:
        yield passed(
            f"line {line} sources {path} when the script runs: the variables it sets are judged by their "
            "values in this shell (run glm5check after sourcing it, as the launch does)",
            item=f"{serve.where} {line}",
            observed=path,
        )


def _parallel_items(ctx: Context) -> Iterator[Result]:
    plan, hardware = ctx.plan, ctx.profile.hardware
    chips = hardware.npus_per_node
    too_many = overfull(plan, hardware)
    if too_many is not None:
        yield failed(
            too_many,
            item="--tensor-parallel-size",
            expected=f"TP × DP-local <= {chips}",
            observed=str(plan.ranks_per_node),
            remediation="lower --tensor-parallel-size or --data-parallel-size-local so that their product "
            "is "
            f"at most {chips} ({_source(ctx, 'tensor_parallel_size')})",
        )
    else:
        yield passed(
            f"TP {plan.tensor_parallel_size} × DP-local {plan.dp_local} = {plan.ranks_per_node} of the "
            f"{chips} NPUs of one {hardware.platform}",
            item="--tensor-parallel-size",
            observed=str(plan.ranks_per_node),
            expected=f"<= {chips}",
        )
    local = plan.data_parallel_size_local
    if local is not None and local > plan.data_parallel_size:
        yield failed(
            f"--data-parallel-size-local {local} is larger than --data-parallel-size {plan.data_parallel_size}",
            item="--data-parallel-size-local",
            expected=f"<= {plan.data_parallel_size}",
            observed=str(local),
            remediation="set --data-parallel-size to the total number of DP ranks on all nodes and "
            "--data-parallel-size-local to the ranks on this node",
        )


def _pipeline_items(ctx: Context, serve: ServeInput) -> Iterator[Result]:
    """A profile plans no pipeline parallelism (vLLM's default, PP 1): with --pipeline-parallel-size N each
    DP rank runs TP × N processes on TP × N NPUs, a deployment no other check (NPU count, memory fit,
    serve.plan) describes."""
    given = [f for f in serve.flags if f.flag == "--pipeline-parallel-size"]
    size = whole(given[-1].value) if given and given[-1].value is not None else None
    if size is None or size == 1:  # absent, 1, or a value _script_items / _runtime_items judge
        return
    flag, tp = given[-1], ctx.plan.tensor_parallel_size
    yield failed(
        f"--pipeline-parallel-size {flag.value} (line {flag.line}): each DP rank runs TP {tp} × PP "
        f"{flag.value} processes; profile {ctx.profile.name} plans PP 1 (vLLM's default): vLLM would run another "
        "deployment than planned, which the NPU count, memory fit and serve.plan do not describe",
        item="--pipeline-parallel-size",
        expected="1 (absent)",
        observed=str(flag.value),
        remediation="drop --pipeline-parallel-size (GLM-5's guide deploys with TP × DP and expert parallelism)",
    )


def _rank_items(ctx: Context) -> Iterator[Result]:
    """`--data-parallel-rank R` runs DP rank R alone (the guide's prefill-decode launch: one vllm serve per
    rank). vLLM refuses a rank outside [0, DP) (vllm/config/parallel.py:820-824 in 0.23.0, :577 in 0.16.0)
    and DP-local other than 1 with it (assert in vllm/engine/arg_utils.py:1878 in 0.23.0, :1532 in 0.16.0)."""
    plan = ctx.plan
    rank = plan.data_parallel_rank
    if rank is None:
        return
    where = _source(ctx, "data_parallel_rank")
    if not 0 <= rank < plan.data_parallel_size:
        yield failed(
            f"--data-parallel-rank {rank} ({where}) is outside DP {plan.data_parallel_size}: vllm stops with "
            f'"data_parallel_rank ({rank}) must be in the range [0, {plan.data_parallel_size})"',
            item="--data-parallel-rank",
            expected=f"0 .. {plan.data_parallel_size - 1}",
            observed=str(rank),
            remediation="give each vllm serve its own DP rank below --data-parallel-size (launch_online_dp.py "
            "passes --dp-rank-start + i)",
        )
    elif ctx.effective.given("data_parallel_size_local") and plan.data_parallel_size_local not in (1, None):
        yield failed(
            f"--data-parallel-rank {rank} with --data-parallel-size-local {plan.data_parallel_size_local}: vllm "
            'stops with "data_parallel_size_local must be 1 or None when data_parallel_rank is set"',
            item="--data-parallel-rank",
            expected="no --data-parallel-size-local (or 1)",
            observed=f"--data-parallel-size-local {plan.data_parallel_size_local}",
            remediation="drop --data-parallel-size-local: with --data-parallel-rank each vllm serve runs one DP rank",
        )
    else:
        yield passed(
            f"DP rank {rank} of {plan.data_parallel_size}, one rank per vllm serve",
            item="--data-parallel-rank",
            observed=str(rank),
        )


def _headless_items(ctx: Context) -> Iterator[Result]:
    plan = ctx.plan
    if not plan.headless:
        return
    start = plan.data_parallel_start_rank if ctx.effective.given("data_parallel_start_rank") else None
    if start is None:
        yield failed(
            "--headless without --data-parallel-start-rank: this node's engines would claim DP rank 0, "
            "which node 0 already serves",
            item="--headless",
            expected="--data-parallel-start-rank N (N >= 1)",
            observed="no start rank",
            remediation="add --data-parallel-start-rank <first DP rank of this node> (1 in the guide's node 1)",
        )
    elif start == 0:
        yield failed(
            "--headless on DP rank 0: rank 0 is node 0, which must run the API server (not headless)",
            item="--headless",
            expected="no --headless on node 0",
            observed="--data-parallel-start-rank 0",
            remediation="drop --headless on node 0, or give node 1 its own start rank (1 in the guide)",
        )
    else:
        yield passed(f"--headless with DP start rank {start}", item="--headless", observed=f"start rank {start}")


def _address_items(ctx: Context) -> Iterator[Result]:
    """DP ranks on another node need node 0's address: without --data-parallel-address vLLM uses
    127.0.0.1 (vllm/config/parallel.py:113), which the other node cannot reach."""
    plan = ctx.plan
    if plan.data_parallel_size <= plan.dp_local or ctx.effective.given("data_parallel_address"):
        return
    yield failed(
        f"DP {plan.data_parallel_size} with {plan.dp_local} rank(s) on this node, but no --data-parallel-address: "
        f"vLLM uses {plan.data_parallel_address} ({ctx.effective.source('data_parallel_address')}), which the "
        "other node cannot reach; its engines never join",
        item="--data-parallel-address",
        expected="node 0's address",
        observed=f"absent ({plan.data_parallel_address})",
        remediation="add --data-parallel-address <node 0's IP> to the vllm serve command on every node "
        "(the guide's $node0_ip)",
    )


def _length_items(ctx: Context) -> Iterator[Result]:
    plan = ctx.plan
    if plan.max_model_len > MAX_MODEL_LEN:
        yield failed(
            f"--max-model-len {plan.max_model_len} is above GLM-5's max_position_embeddings {MAX_MODEL_LEN}; "
            f'vllm stops with "User-specified max_model_len ({plan.max_model_len}) is greater than the '
            "derived "
            f'max_model_len (max_position_embeddings={MAX_MODEL_LEN} …)"',
            item="--max-model-len",
            expected=f"<= {MAX_MODEL_LEN}",
            observed=str(plan.max_model_len),
            remediation=f"--max-model-len {MAX_MODEL_LEN} or less ({_source(ctx, 'max_model_len')})",
        )
    else:
        yield passed(
            f"{plan.max_model_len} <= GLM-5's {MAX_MODEL_LEN}",
            item="--max-model-len",
            observed=str(plan.max_model_len),
            expected=f"<= {MAX_MODEL_LEN}",
        )
    batched = plan.max_num_batched_tokens
    if batched < plan.max_model_len and plan.enable_chunked_prefill is False:
        yield failed(
            f"max_num_batched_tokens ({batched}) is smaller than max_model_len ({plan.max_model_len}) with "
            'chunked prefill off; vllm refuses: "This effectively limits the maximum sequence length to '
            'max_num_batched_tokens and makes vLLM reject longer sequences."',
            item="--max-num-batched-tokens",
            expected=f">= {plan.max_model_len} or chunked prefill on",
            observed=f"{batched}, --no-enable-chunked-prefill",
            remediation="drop --no-enable-chunked-prefill (vllm's V1 engine prefills in chunks), or raise "
            f"--max-num-batched-tokens to {plan.max_model_len}",
        )


def _quantization_items(ctx: Context) -> Iterator[Result]:
    scan = ctx.fact(readable_weights)
    has_description = scan.quant is not None and scan.quant.present
    quantization = ctx.plan.quantization
    where = _source(ctx, "quantization")
    if quantization == "ascend" and not has_description:
        yield failed(
            f"--quantization ascend, but {scan.path} has no {QUANT_DESCRIPTION}: these are not msModelSlim "
            "weights and vllm-ascend cannot load them as quantized",
            item="--quantization",
            expected=f"{QUANT_DESCRIPTION} in the weights folder",
            observed=f"--quantization ascend ({where}), no description",
            remediation="point vllm serve at the w4a8 weights, or drop --quantization ascend for bf16 weights",
        )
    elif has_description and quantization != "ascend":
        yield failed(
            f"{scan.path} holds msModelSlim quantized weights ({QUANT_DESCRIPTION}) but the command has "
            f"{'--quantization ' + quantization if quantization else 'no --quantization'}; vllm-ascend needs "
            "--quantization ascend to load them",
            item="--quantization",
            expected="--quantization ascend",
            observed=str(quantization),
            remediation="add --quantization ascend to the vllm serve command",
        )
    else:
        state = "quantized weights with" if has_description else "unquantized weights without"
        yield passed(
            f"{state} --quantization ascend, as it should be",
            item="--quantization",
            observed=str(quantization),
        )


def _mtp_items(ctx: Context) -> Iterator[Result]:
    spec = ctx.plan.speculative_config or {}
    if not ctx.plan.uses_mtp or not spec:
        return
    mtp = ctx.fact(loadable_mtp_layer)
    yield passed(
        f"{spec.get('method')} with the MTP layer ({mtp.prefix}*) present",
        item="--speculative-config",
        observed=f"{mtp.prefix}* present",
    )


@check(
    "serve.args",
    title="The vllm serve flags: valid, known to the stack's vllm, and consistent",
    explain="""
Why: a mistyped flag, a JSON value that does not parse or a parallel size the node cannot hold stops
`vllm serve` at once; other combinations (quantized weights without --quantization ascend, deepseek_mtp
without the MTP layer, --headless without a start rank) fail only after minutes of loading, or hang.

What: the launch command from --serve-script / --serve-cmd (else the profile's plan) is read the way vLLM's
argument parser reads it. Flags unknown to the stack's vllm (the pinned one, or the release `--stack` selects;
the flag table is generated from that version's parser code), with the closest known flag, values that are not
numbers or not JSON, an unknown speculative `method` or cudagraph_mode; TP × DP-local against the node's NPUs;
TP against the model's attention heads (it must divide them); --pipeline-parallel-size other than 1 (no
profile plans pipeline parallelism); DP-local against DP; --headless without --data-parallel-start-rank or on
rank 0; --data-parallel-rank outside [0, DP) or with --data-parallel-size-local other than 1 (one vllm serve
per DP rank, as the guide's prefill-decode launch runs them); DP ranks on another node without
--data-parallel-address (vLLM would use 127.0.0.1); --max-model-len against GLM-5's 202752;
--max-num-batched-tokens below --max-model-len with chunked prefill off; --quantization ascend against the
weights' quant_model_description.json (both ways); deepseek_mtp against the weights' model.layers.78.*
tensors. Values the script computes at run time (`$(hostname -I …)`, `$NODE0_IP` from the caller's
environment) are shown with what they give on this host (or with --script-args), and fail when vllm would
reject that; those that cannot be known before launch are warnings. How the command differs from the profile
is serve.plan's.

Fix: each failing item names the flag and the corrected form, e.g. `--enable-expert-parallel` instead
of `--enable-expert-paralel`, or `--data-parallel-start-rank 1` next to `--headless`.
""",
)
def serve_args(ctx: Context) -> Iterator[Result]:
    serve = _serve_input(ctx)
    if serve is not None:
        yield from _script_items(ctx, serve)
        yield from _runtime_items(ctx, serve)
    yield from _parallel_items(ctx)
    if serve is not None:
        yield from _pipeline_items(ctx, serve)
        yield from _address_items(ctx)
    yield from _rank_items(ctx)
    yield from _headless_items(ctx)
    yield from _length_items(ctx)
    yield from dependent(_quantization_items(ctx), item="--quantization")
    yield from dependent(_mtp_items(ctx), item="--speculative-config")


def _plan_item(ctx: Context, difference: Difference) -> Result:
    field, name = difference.field, ctx.profile.name
    flag = FIELD_FLAGS.get(field, "the model path")
    ours = f"{_show(difference.effective)} ({difference.effective_source})"
    where = difference.intended_source
    theirs = _show(difference.intended) + ("" if where == "profile" else f" ({where})")
    absent = difference.effective_source.startswith("vllm default") and field != "model"
    head = f"the launch command has no {flag}: vLLM uses {ours}" if absent else f"{flag} {ours}"
    if absent and _rejected(ctx, flag):
        head = f"the launch command's {flag} is a value vLLM rejects (see serve.args), so it plans no {flag}"
    message = f"{head}; profile {name} plans {theirs}"
    what = "another deployment than planned" if difference.severity == "fail" else "differently from the plan"
    fix = (
        f"add {_flag_text(flag, difference.intended)} to the vllm serve command"
        if absent
        else f"use {_flag_text(flag, difference.intended) if field != 'model' else difference.intended} as "
        f"profile {name} plans, or check with the profile of the deployment you mean (glm5check profiles)"
    )
    result = failed if difference.severity == "fail" else warned
    return result(
        f"{message}: vLLM would run {what}",
        item=field,
        expected=_show(difference.intended),
        observed=_show(difference.effective),
        remediation=fix,
    )


def _rejected(ctx: Context, flag: str) -> bool:
    """The launch command writes this flag with a value vLLM refuses (serve.args reports which)."""
    return any(p.kind == "invalid-value" and p.flag == flag for p in ctx.launch.problems)


@check(
    "serve.plan",
    title="The launch command runs the deployment the profile plans",
    explain="""
Why: the profile is the deployment the operator intends (hardware, weights, parallel layout, lengths);
the launch command is what vLLM will run. A script written for another node type, or one missing a flag,
starts a different deployment: on other NPUs, with other memory needs, or not at all. Every other check
judges the launch command as vLLM will run it, so the difference has to be said once, here.

What: the effective plan (every value the launch command gives, its run-time values as they come out on
this host, vLLM's own default at the stack's version for the rest, e.g. max_model_len from config.json's
max_position_embeddings) against the profile's plan resolved the same way. A difference in the model's
weights (another kind, or GLM-5.1 for GLM-5, as the folders' names tell), TP, DP, DP-local, expert parallel,
quantization, max-model-len, max-num-seqs, max-num-batched-tokens, gpu-memory-utilization, the speculative
config or the KV transfer (its connector and kv_role) is a FAIL; seed, served name, host, ports, prefix
caching, chunked prefill, async scheduling, eager mode, compilation and additional config are a WARN. Each
row names both values and where they come from; a flag the profile sets but the command lacks is shown with
what vLLM does instead. Per-node values (--headless, --data-parallel-start-rank, --data-parallel-rank,
--data-parallel-address) are judged by serve.args, serve.pd and net.*. A node of a prefill-decode profile is
compared with its group's plan. SKIP without --serve-script / --serve-cmd.

Fix: add or correct the flag named in the row (`--max-model-len 32768`), or run glm5check with the
profile of the deployment the script is for (`glm5check profiles`).
""",
)
def serve_plan(ctx: Context) -> Iterator[Result]:
    if _serve_input(ctx) is None:
        yield skipped(f"no --serve-script or --serve-cmd: profile {ctx.profile.name}'s plan is the launch command")
        return
    found = differences(ctx.effective, ctx.fact(intended_plan))
    for difference in found:
        yield _plan_item(ctx, difference)
    if not found:
        plan = ctx.plan
        yield passed(
            f"runs profile {ctx.profile.name}'s plan: TP {plan.tensor_parallel_size} × DP "
            f"{plan.data_parallel_size}, expert parallel {_show(plan.enable_expert_parallel)}, max-model-len "
            f"{plan.max_model_len} × {plan.max_num_seqs}",
            observed="no difference",
        )


# -- serve.pd: a node of a prefill-decode deployment -------------------------------------------------------


def _kv_items(ctx: Context, group: str) -> Iterator[Result]:
    """The KV connector and this node's KV role."""
    config, role = ctx.plan.kv_transfer_config, KV_ROLE_OF[group]
    fix = f"pass --kv-transfer-config with kv_connector MooncakeConnectorV1 and kv_role {role}, as profile " + (
        f"{ctx.profile.name}'s {group} group plans (glm5check profiles show {ctx.profile.name})"
    )
    if not config and _rejected(ctx, "--kv-transfer-config"):
        yield skipped_for(SeeCheck("serve.args", "--kv-transfer-config is a value vLLM rejects"), "kv-transfer")
        return
    if not config:
        yield failed(
            f"no --kv-transfer-config: vLLM would run this {group} node as a prefill-and-decode server that "
            "neither sends nor receives KV caches",
            item="kv-transfer",
            expected=f"kv_role {role}",
            observed="absent",
            remediation=fix,
        )
        return
    connector, given_role = config.get("kv_connector"), config.get("kv_role")
    if connector not in ASCEND_CONNECTORS:
        yield failed(
            f"kv_connector {connector!r} is not a connector vllm-ascend registers "
            "(vllm_ascend/distributed/kv_transfer/__init__.py:21-88@v0.23.0): vLLM stops at start-up",
            item="kv-transfer",
            expected="MooncakeConnectorV1",
            observed=str(connector),
            remediation=fix,
        )
    elif given_role != role:
        yield failed(
            f"kv_role {given_role!r} on a {group} node ({_group_source(ctx)}): it would "
            f"{'receive' if group == 'prefill' else 'send'} KV caches instead of "
            f"{'sending' if group == 'prefill' else 'receiving'} them",
            item="kv-transfer",
            expected=role,
            observed=str(given_role),
            remediation=fix,
        )
    else:
        yield passed(f"{connector} as {role} on a {group} node", item="kv-transfer", observed=f"{connector}, {role}")


def _group_source(ctx: Context) -> str:
    return f"node {ctx.fact(node_info).rank} of the group; group from {_group_choice(ctx).source}"


def _group_choice(ctx: Context) -> GroupChoice:
    deployment = ctx.profile.deployment or ctx.profile
    chosen = choose_group(deployment, ctx.options.pd_role, ctx.options.node_rank, ctx.launch.given)
    assert chosen is not None  # the session built this context for the group it chose
    return chosen


def _topology_items(ctx: Context, group: str) -> Iterator[Result]:
    """What the connector is told of both groups, against the deployment and this node's own sizes."""
    announced, planned = topology(ctx.plan.kv_transfer_config), planned_topology(ctx.profile)
    own = {"dp_size": ctx.plan.data_parallel_size, "tp_size": ctx.plan.tensor_parallel_size}
    wrong = [
        f"{g} {announced[g] or 'missing'} (deployed: {_sizes(planned[g])})"
        for g in planned
        if announced[g] != planned[g]
    ]
    if own != planned[group]:
        wrong.append(f"this node runs {_sizes(own)}, its group {_sizes(planned[group])}")
    shown = ", ".join(f"{g} {_sizes(planned[g])}" for g in planned)
    if wrong:
        yield failed(
            "kv_connector_extra_config does not describe the deployment: " + "; ".join(wrong) + " (Mooncake "
            "asserts both groups' dp_size and tp_size and maps KV blocks between ranks by them: "
            "mooncake_connector.py:2066-2085@v0.23.0)",
            item="topology",
            expected=shown,
            observed=str(announced),
            remediation="give every node the same kv_connector_extra_config with each group's real dp_size and "
            'tp_size ("These must match the actual deployment topology", GLM5.md@2026-08-21)',
        )
    else:
        yield passed(f"the connector is told {shown}, as deployed", item="topology", observed=shown)


def _sizes(sizes: dict[str, Any]) -> str:
    return f"DP{sizes['dp_size']} × TP{sizes['tp_size']}"


def _port_items(ctx: Context, group: str) -> Iterator[Result]:
    other = next(g for g in PD_GROUPS if g != group)
    port = (ctx.plan.kv_transfer_config or {}).get("kv_port")
    theirs = ((ctx.profile.deployment or ctx.profile).for_group(other).serve.kv_transfer_config or {}).get("kv_port")
    if port is not None and str(port) == str(theirs):
        yield warned(
            f'kv_port {port} is the {other} group\'s too: "Each node group should use a distinct port range" '
            "(GLM5.md@2026-08-21, Mooncake's handshake ports count up from it)",
            item="kv_port",
            expected=f"not {theirs}",
            observed=str(port),
            remediation=f"use the {group} group's own kv_port (profile {ctx.profile.name}: "
            f"{(ctx.profile.serve.kv_transfer_config or {}).get('kv_port')})",
        )
    elif port is not None:
        yield passed(f"kv_port {port}, the {other} group's is {theirs}", item="kv_port", observed=str(port))


def _rank_block_items(ctx: Context, group: str) -> Iterator[Result]:
    """The DP rank belongs to this node's block of the group's ranks; its chips are the guide's slice."""
    rank, node = ctx.plan.data_parallel_rank, ctx.fact(node_info)
    if rank is None:
        return
    block = rank_range(ctx.profile, node.rank)
    if rank not in block:
        yield failed(
            f"DP rank {rank} is another node's: this is node {node.rank} of the {group} group ({node.source}), "
            f"whose ranks are {block.start}-{block.stop - 1}; two vllm serve would claim rank {rank} and this node's "
            "would never join",
            item="dp-rank",
            expected=f"{block.start}-{block.stop - 1}",
            observed=str(rank),
            remediation=f"run launch_online_dp.py with --dp-rank-start {block.start} on this node (--node-rank / "
            "--pd-role name the node)",
        )
        return
    yield passed(
        f"DP rank {rank}, one of node {node.rank}'s ranks {block.start}-{block.stop - 1} in the {group} group",
        item="dp-rank",
        observed=str(rank),
    )
    yield from _devices_items(ctx, rank)


def _devices_items(ctx: Context, rank: int) -> Iterator[Result]:
    devices = ctx.env.get("ASCEND_RT_VISIBLE_DEVICES")
    wanted = visible_devices(ctx.profile, rank)
    if devices is None:
        return
    if devices.replace(" ", "") != wanted:
        yield warned(
            f"DP rank {rank} sees NPUs {devices}; launch_online_dp.py gives it {wanted} (its index on the node × "
            "TP): the node's other ranks may share these chips",
            item="devices",
            expected=wanted,
            observed=devices,
            remediation=f"export ASCEND_RT_VISIBLE_DEVICES={wanted} for this rank (the script's $1)",
        )
    else:
        yield passed(f"DP rank {rank} on NPUs {wanted}", item="devices", observed=devices)


def _rule_items(ctx: Context, role: str) -> Iterator[Result]:
    """What vllm-ascend refuses or ignores on a node with this KV role, at the selected stack."""
    additional, env, stack = ctx.plan.additional_config or {}, ctx.env, ctx.stack.name
    for rule in RULES:
        setting = rule_setting(rule, additional, env)
        if setting is None or not setting[0] or role not in rule.roles or not stack_has(stack, rule.since):
            continue
        result = failed if rule.severity == "fail" else warned
        yield result(
            f"{setting[1]} on a {role} node: vllm-ascend {'stops' if rule.severity == 'fail' else 'ignores it'}: "
            f"{rule.says} ({rule.source})",
            item=f"additional-config[{rule.key}]",
            expected=f"no {rule.key}" + (f" and no {rule.env}" if rule.env else ""),
            observed=setting[1],
            remediation=f"drop {setting[1]} on the {GROUP_OF_ROLE[role]} nodes",
        )


def _c8_items(ctx: Context, group: str) -> Iterator[Result]:
    other = next(g for g in PD_GROUPS if g != group)
    stack = ctx.stack.name
    yield from _inert_c8_items(ctx, stack)
    ours = _c8_text(c8_switches(ctx.plan.additional_config, stack))
    theirs = _c8_text(
        c8_switches((ctx.profile.deployment or ctx.profile).for_group(other).serve.additional_config, stack)
    )
    if ours != theirs:
        yield failed(
            f"8-bit KV cache {ours} here, {theirs} on the {other} nodes (profile "
            f"{ctx.profile.name}): the two groups would lay the KV cache out differently, and Mooncake copies "
            "its bytes as they are (vllm_ascend/core/kv_cache_interface.py:56-120@v0.23.0)",
            item="kv-cache-c8",
            expected=str(theirs),
            observed=str(ours),
            remediation="set enable_sparse_sfa_c8 and enable_sparse_li_c8 alike in --additional-config on every "
            "prefill and decode node",
        )
    else:
        yield passed(f"KV cache layout as on the {other} nodes: {ours}", item="kv-cache-c8", observed=str(ours))


def _inert_c8_items(ctx: Context, stack: str) -> Iterator[Result]:
    """The 8-bit KV cache asked for at a stack whose vllm-ascend has no such switch: ignored, bf16 KV cache."""
    asked = [key for key in C8_KEYS if truthy((ctx.plan.additional_config or {}).get(key, False))]
    if asked and not any(c8_switches(ctx.plan.additional_config, stack)):
        yield warned(
            f"--additional-config sets {' and '.join(asked)}, but vllm-ascend at stack {stack} has no such key "
            "(from v0.23.0rc1 on: vllm_ascend/ascend_config.py:280-281@v0.23.0): it ignores them and keeps the "
            "bf16 KV cache, not the 8-bit one planned",
            item="kv-cache-c8[stack]",
            expected="vllm-ascend >= v0.23.0rc1",
            observed=stack,
            remediation="use the stack the profile names (glm5check stacks), or drop the C8 keys and plan a "
            "bf16 KV cache",
        )


def _c8_text(switches: tuple[bool, bool]) -> str:
    return ", ".join(f"{key} {'on' if on else 'off'}" for key, on in zip(C8_KEYS, switches))


def _library_items(ctx: Context) -> Iterator[Result]:
    path = ctx.env.get("LD_LIBRARY_PATH", "")
    if MOONCAKE_LIBRARY_DIR in path.split(":"):
        yield passed(f"LD_LIBRARY_PATH has {MOONCAKE_LIBRARY_DIR}", item="LD_LIBRARY_PATH", observed=path)
        return
    yield warned(
        f'LD_LIBRARY_PATH lacks {MOONCAKE_LIBRARY_DIR}: "Required for Mooncake library loading" (GLM5.md@2026-08-21)',
        item="LD_LIBRARY_PATH",
        expected=f"… {MOONCAKE_LIBRARY_DIR}",
        observed=path or "unset",
        remediation=f"export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:{MOONCAKE_LIBRARY_DIR}",
    )


@check(
    "serve.pd",
    title="Prefill-decode node: KV connector and role, topology, DP rank, P/D settings",
    explain="""
Why: in a prefill-decode deployment the prefill nodes compute the KV cache and Mooncake copies it to the
decode nodes. A node with the wrong KV role, a connector told another topology than the deployed one, a DP
rank another node runs, or a setting vllm-ascend refuses with a KV role starts late, never joins its group,
or hands the decode nodes a cache they cannot read.

What: the node's group comes from --pd-role, --node-rank (the deployment's node number, prefill nodes
first) or the launch command's kv_role. kv-transfer: --kv-transfer-config names a connector vllm-ascend
registers (MooncakeConnectorV1) and the group's role (kv_producer on prefill, kv_consumer on decode).
topology: its kv_connector_extra_config gives both groups' dp_size and tp_size as the profile deploys them,
and this node runs its group's DP × TP. kv_port: not the other group's. dp-rank: --data-parallel-rank is in
this node's block of the group's ranks (launch_online_dp.py's --dp-rank-start + i), and
ASCEND_RT_VISIBLE_DEVICES is that rank's TP chips. additional-config[KEY]: what vllm-ascend v0.23.0 refuses
with a KV role (balance scheduling, also from VLLM_ASCEND_BALANCE_SCHEDULING; enable_kv_nz) or ignores on a
prefill node (recompute_scheduler_enable), each applied from the first release that has it. kv-cache-c8: the
8-bit KV cache switches (enable_sparse_sfa_c8, enable_sparse_li_c8) equal the other group's;
kv-cache-c8[stack]: a WARN when they are set at a stack whose vllm-ascend has no such key (ignored).
LD_LIBRARY_PATH: holds /usr/local/lib for Mooncake. The group's flags and environment (HCCL_BUFFSIZE=256,
MLAPO on decode only, max-num-batched-tokens 164 on decode) are serve.plan's and env.vars', against the
group's plan.

Fix: the row names the setting and the value the group needs; `glm5check profiles show a3-pd-4node` prints
both groups' plans.
""",
    groups=("prefill", "decode"),
)
def serve_pd(ctx: Context) -> Iterator[Result]:
    group = ctx.profile.pd_group
    assert group is not None  # the check applies to prefill-decode nodes only
    yield from _kv_items(ctx, group)
    yield from _topology_items(ctx, group)
    yield from _port_items(ctx, group)
    yield from _rank_block_items(ctx, group)
    yield from _rule_items(ctx, KV_ROLE_OF[group])
    yield from _c8_items(ctx, group)
    yield from _library_items(ctx)


@reported_fact("serve")
def report_serve(ctx: Context) -> dict[str, Any] | None:
    """The launch command as read: every flag with its line, where each export came from, the problems.
    (The plan itself is the report's profile.serve, with profile.serve_sources.) `glm5check compare`
    compares the flags between nodes."""
    serve = _serve_input(ctx)
    if serve is None:
        return None
    return {
        "origin": ctx.options.serve_source or serve.origin,  # the path the user gave, not a copy's
        "model_path": serve.model_path,
        "flags": [{"flag": f.flag, "value": _flag_value(f), "line": f.line} for f in serve.flags],
        "env_sources": dict(serve.env_sources),
        "unknown_env": list(serve.unknown_env),
        "problems": [p.message for p in serve.problems],
    }


def _flag_value(flag: ServeFlag) -> str | None:
    """A flag's value for the report: `--api-key`, `--hf-token` and the like never leave the node."""
    return REDACTED if is_secret_flag(flag.flag) and flag.value else flag.value


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _flag_text(flag: str, value: Any) -> str:
    import json
    import shlex

    if isinstance(value, bool):
        return flag if value else "--no-" + flag[2:]
    if isinstance(value, dict):
        return f"{flag} {shlex.quote(json.dumps(value))}"
    return f"{flag} {value}"
