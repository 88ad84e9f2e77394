"""serve.args: the `vllm serve` flags themselves — values vLLM would reject, flags it does not know,
parallel sizes the node cannot hold, and combinations that fail only after minutes of loading.
serve.plan: the effective plan (what vLLM will run for this launch command) against the profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from glm5check.engine.check import Result, check, failed, passed, skipped, warned
from glm5check.engine.context import reported_fact
from glm5check.errors import ProbeFailed
from glm5check.facts.context import Context, intended_plan
from glm5check.facts.weights import scan_weights
from glm5check.facts.weights_scan import QUANT_DESCRIPTION
from glm5check.knowledge import glm5
from glm5check.knowledge.launch_command import FIELD_FLAGS, ServeFlag, ServeInput, vllm_of
from glm5check.knowledge.plan import Difference, differences
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
        if "not known before launch" in note or "would reject" in note:
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
    if plan.ranks_per_node > chips:
        yield failed(
            f"TP {plan.tensor_parallel_size} × DP-local {plan.dp_local} = {plan.ranks_per_node} NPUs "
            "per node, "
            f"but one {hardware.platform} has {chips}",
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


def _weights(ctx: Context) -> Any:
    try:
        scan = ctx.fact(scan_weights)
    except ProbeFailed as exc:
        return f"the weights folder could not be read: {exc}"
    if not scan.readable:
        return f"the weights folder {scan.path} could not be read ({scan.error}); see weights.path"
    return scan


def _quantization_items(ctx: Context) -> Iterator[Result]:
    scan = _weights(ctx)
    if isinstance(scan, str):
        yield skipped(scan, item="--quantization")
        return
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
    scan = _weights(ctx)
    if isinstance(scan, str):
        yield skipped(scan, item="--speculative-config")
        return
    prefix = scan.mtp_prefix
    method = spec.get("method")
    if scan.mtp_count:
        yield passed(
            f"{method} with the MTP layer ({prefix}*) present",
            item="--speculative-config",
            observed=f"{prefix}* present",
        )
        return
    yield failed(
        f"--speculative-config asks for {method}, but the weights in {scan.path} have no {prefix}* (MTP) "
        "tensors; vllm fails while loading the draft model",
        item="--speculative-config",
        expected=f"{prefix}* tensors",
        observed="no MTP layer",
        remediation="drop --speculative-config, or use weights that include the MTP layer",
    )


@check(
    "serve.args",
    title="The vllm serve flags: valid, known to the stack's vllm, and consistent",
    explain="""
Why: a mistyped flag, a JSON value that does not parse or a parallel size the node cannot hold stops
`vllm serve` at once; other combinations (quantized weights without --quantization ascend, deepseek_mtp
without the MTP layer, --headless without a start rank) fail only after minutes of loading, or hang.

What: the launch command from --serve-script / --serve-cmd (else the profile's plan) is read the way
vLLM's argument parser reads it. Flags unknown to the stack's vllm (the pinned one, or the release `--stack`
selects; the flag table is generated from that version's parser code), with the closest known flag, values
that are not numbers or not JSON, an unknown speculative `method` or cudagraph_mode; TP × DP-local
against the node's NPUs; DP-local against DP; --headless without --data-parallel-start-rank or on rank
0; DP ranks on another node without --data-parallel-address (vLLM would use 127.0.0.1); --max-model-len
against GLM-5's 202752; --max-num-batched-tokens below --max-model-len with chunked
prefill off; --quantization ascend against the weights' quant_model_description.json (both ways);
deepseek_mtp against the weights' model.layers.78.* tensors. Values the script computes at run time
(`$(hostname -I …)`, `$NODE0_IP` from the caller's environment) are shown with what they give on this
host; those that cannot be known before launch are warnings. How the command differs from the profile
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
        yield from _address_items(ctx)
    yield from _rank_items(ctx)
    yield from _headless_items(ctx)
    yield from _length_items(ctx)
    yield from _quantization_items(ctx)
    yield from _mtp_items(ctx)


def _plan_item(ctx: Context, difference: Difference) -> Result:
    field, name = difference.field, ctx.profile.name
    flag = FIELD_FLAGS.get(field, "the model path")
    ours = f"{_show(difference.effective)} ({difference.effective_source})"
    where = difference.intended_source
    theirs = _show(difference.intended) + ("" if where == "profile" else f" ({where})")
    absent = difference.effective_source.startswith("vllm default") and field != "model"
    head = f"the launch command has no {flag}: vLLM uses {ours}" if absent else f"{flag} {ours}"
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
weights, TP, DP, DP-local, expert parallel, quantization, max-model-len, max-num-seqs,
max-num-batched-tokens, gpu-memory-utilization or the speculative config is a FAIL; seed, served name,
host, ports, prefix caching, chunked prefill, async scheduling, compilation and additional config are a
WARN. Each row names both values and where they come from; a flag the profile sets but the command lacks
is shown with what vLLM does instead. Per-node values (--headless, --data-parallel-start-rank,
--data-parallel-address) are judged by serve.args and net.*. SKIP without --serve-script / --serve-cmd.

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
