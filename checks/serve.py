"""serve.args: the `vllm serve` flags themselves — values vLLM would reject, flags it does not know,
parallel sizes the node cannot hold, and combinations that fail only after minutes of loading."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from glm5check.engine.check import Result, check, failed, passed, skipped, warned
from glm5check.engine.context import reported_fact
from glm5check.errors import ProbeFailed
from glm5check.facts.context import Context
from glm5check.facts.weights import scan_weights
from glm5check.facts.weights_scan import QUANT_DESCRIPTION
from glm5check.knowledge import glm5
from glm5check.knowledge.launch_command import FIELD_FLAGS, VLLM_DEFAULTS, ServeFlag, ServeInput
from glm5check.util.redact import REDACTED, is_secret_name

MAX_MODEL_LEN = int(glm5.CONFIG["max_position_embeddings"])  # 202752


# What to do about the parts of a script glm5check reads but cannot judge.
_WARNING_FIXES = {
    "unresolved": 'set the variable in the script itself (as the guide\'s node0_ip="…" lines do), or check '
    "its value by hand before launch",
    "unsupported": "glm5check reads the script top to bottom without running it; check that part by hand",
    "duplicate": "keep one of the two; vllm takes the last",
    "syntax": "fix the quoting: bash would stop on it too",
}


def _serve_input(ctx: Context) -> ServeInput | None:
    return ctx.launch if ctx.launch.from_script else None


def _source(ctx: Context, field: str) -> str:
    serve = _serve_input(ctx)
    return serve.sources.get(field, "profile") if serve else f"profile {ctx.profile.name}"


def _launched(ctx: Context, field: str) -> Any:
    """The value vLLM will run with: the plan's, except that a flag absent from a given launch command
    takes vLLM's default (the plan keeps the profile's value there, and _omitted_items warns)."""
    serve = _serve_input(ctx)
    if serve and serve.sources.get(field) == "profile" and field in VLLM_DEFAULTS:
        return VLLM_DEFAULTS[field]
    return getattr(ctx.plan, field)


def _script_items(serve: ServeInput) -> Iterator[Result]:
    """What the reader could not accept: unknown flags, invalid values (FAIL); unknowable parts (WARN)."""
    for problem in serve.problems:
        if problem.kind == "unknown-flag":
            fix = (
                f"use {problem.suggestion}"
                if problem.suggestion
                else "remove it (see `vllm serve --help=all`)"
            )
            yield failed(
                problem.message.split(": ", 1)[-1],
                item=problem.flag,
                observed=problem.flag,
                expected=problem.suggestion or "a flag of the pinned vllm",
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
            f"{len(serve.flags)} flags, every one known to the pinned vllm, with valid values",
            item="flags",
            observed=f"{len(serve.flags)} flags",
        )


def _omitted_items(ctx: Context, serve: ServeInput) -> Iterator[Result]:
    """Flags the profile expects but the script leaves out: vLLM then uses its own default."""
    for field, default in VLLM_DEFAULTS.items():
        expected = getattr(ctx.profile.serve, field)
        if serve.sources.get(field) != "profile" or expected == default or field == "quantization":
            continue
        flag = FIELD_FLAGS[field]
        yield warned(
            f"not in the launch command: vllm uses its default {_show(default)}, profile {ctx.profile.name} "
            f"expects {_show(expected)} (the other checks assume the profile's value)",
            item=flag,
            expected=_show(expected),
            observed=f"absent (vllm default {_show(default)})",
            remediation=f"add {_flag_text(flag, expected)} to the vllm serve command",
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
            f"--data-parallel-size-local {local} is larger than "
            f"--data-parallel-size {plan.data_parallel_size}",
            item="--data-parallel-size-local",
            expected=f"<= {plan.data_parallel_size}",
            observed=str(local),
            remediation="set --data-parallel-size to the total number of DP ranks on all nodes and "
            "--data-parallel-size-local to the ranks on this node",
        )


def _headless_items(ctx: Context) -> Iterator[Result]:
    plan = ctx.plan
    if not plan.headless:
        return
    start = plan.data_parallel_start_rank
    if start is None:
        yield failed(
            "--headless without --data-parallel-start-rank: this node's engines would claim DP rank 0, "
            "which node 0 already serves",
            item="--headless",
            expected="--data-parallel-start-rank N (N >= 1)",
            observed="no start rank",
            remediation="add --data-parallel-start-rank <first DP rank of this node> "
            "(1 in the guide's node 1)",
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
        yield passed(
            f"--headless with DP start rank {start}", item="--headless", observed=f"start rank {start}"
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
    if batched < plan.max_model_len and _launched(ctx, "enable_chunked_prefill") is False:
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
    quantization = _launched(ctx, "quantization")
    where = _source(ctx, "quantization")
    if quantization == "ascend" and not has_description:
        yield failed(
            f"--quantization ascend, but {scan.path} has no {QUANT_DESCRIPTION}: these are not msModelSlim "
            "weights and vllm-ascend cannot load them as quantized",
            item="--quantization",
            expected=f"{QUANT_DESCRIPTION} in the weights folder",
            observed=f"--quantization ascend ({where}), no description",
            remediation="point vllm serve at the w4a8 weights, "
            "or drop --quantization ascend for bf16 weights",
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
    spec = _launched(ctx, "speculative_config") or {}
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
    title="The vllm serve flags: valid, known to the pinned vllm, and consistent",
    explain="""
Why: a mistyped flag, a JSON value that does not parse or a parallel size the node cannot hold stops
`vllm serve` at once; other combinations (quantized weights without --quantization ascend, deepseek_mtp
without the MTP layer, --headless without a start rank) fail only after minutes of loading, or hang.

What: the launch command from --serve-script / --serve-cmd (else the profile's plan) is read the way
vLLM's argument parser reads it. Flags unknown to the pinned vllm (with the closest known flag), values
that are not numbers or not JSON, an unknown speculative `method` or cudagraph_mode; TP × DP-local
against the node's NPUs; DP-local against DP; --headless without --data-parallel-start-rank or on rank
0; --max-model-len against GLM-5's 202752; --max-num-batched-tokens below --max-model-len with chunked
prefill off; --quantization ascend against the weights' quant_model_description.json (both ways);
deepseek_mtp against the weights' model.layers.78.* tensors. Flags the profile sets but the script
omits, and script lines that cannot be known without running them, are warnings.

Fix: each failing item names the flag and the corrected form, e.g. `--enable-expert-parallel` instead
of `--enable-expert-paralel`, or `--data-parallel-start-rank 1` next to `--headless`.
""",
)
def serve_args(ctx: Context) -> Iterator[Result]:
    serve = _serve_input(ctx)
    if serve is not None:
        yield from _script_items(serve)
        yield from _omitted_items(ctx, serve)
    yield from _parallel_items(ctx)
    yield from _headless_items(ctx)
    yield from _length_items(ctx)
    yield from _quantization_items(ctx)
    yield from _mtp_items(ctx)


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
    secret = is_secret_name(flag.flag.lstrip("-").replace("-", "_"))
    return REDACTED if secret and flag.value else flag.value


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
