"""`glm5check fit`: the memory-fit model on its own, for a profile and/or flags, with or without weights.

Without --model-dir the tensors come from GLM-5's built-in layout of the profile's weights (or --weights:
bf16, w4a8, w8a8, w8a8c8); with it, from the safetensors headers of that folder. A prefill-decode profile
is one group's plan (--pd-role). Exit 0 when the plan fits (even if fewer than max_num_seqs full-length
sequences fit at once), 1 when it does not, 2 on bad input.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import click

from glm5check import console
from glm5check.commands.options import PD_ROLE_OPTION, Bounded
from glm5check.errors import ConfigError
from glm5check.knowledge.glm5 import LAYOUTS
from glm5check.knowledge.limits import FIT_RANGES, SERVE_RANGES
from glm5check.util.units import GIB, MIB

PLAN_FLAGS = {
    "tp": "tensor_parallel_size",
    "dp": "data_parallel_size",
    "expert_parallel": "enable_expert_parallel",
    "max_model_len": "max_model_len",
    "max_num_seqs": "max_num_seqs",
    "max_num_batched_tokens": "max_num_batched_tokens",
    "gpu_memory_utilization": "gpu_memory_utilization",
}


def _profile(profile_name: str | None, profile_file: str | None) -> Any:
    from glm5check.knowledge.profiles import load_builtin
    from glm5check.session import load_profile_file

    if profile_name and profile_file:
        raise ConfigError("give --profile or --profile-file, not both")
    if profile_file:
        return load_profile_file(profile_file)
    return load_builtin(profile_name or "a2-single")


def _speculative(mtp: bool | None, current: dict[str, Any] | None) -> dict[str, Any] | None:
    if mtp is None:
        return current
    return {"num_speculative_tokens": 3, "method": "deepseek_mtp"} if mtp else None


def _assumptions(profile: Any, flags: dict[str, Any]) -> Any:
    from glm5check.knowledge.memfit import HCCL_DEFAULT_BUFFSIZE_MB, Assumptions, hccl_buffsize_value

    buffsize = flags["hccl_buffsize_mb"]
    if buffsize is None:
        buffsize = hccl_buffsize_value(str(profile.env.get("HCCL_BUFFSIZE", ""))) or HCCL_DEFAULT_BUFFSIZE_MB
    defaults = Assumptions()
    kib = flags["activation_kib_per_token"]
    overhead = flags["runtime_overhead_gib"]
    return Assumptions(
        activation_bytes_per_token=kib * 1024 if kib is not None else defaults.activation_bytes_per_token,
        runtime_overhead_bytes=int(overhead * GIB) if overhead is not None else defaults.runtime_overhead_bytes,
        hccl_buffsize_mb=buffsize,
        hccl_groups=flags["hccl_groups"],
    )


def compute(flags: dict[str, Any]) -> Any:
    """The Fit for these command-line flags (also used by tests)."""
    from glm5check.facts.context import Context, Options
    from glm5check.facts.weights import builtin_tensors, fit_plan, fit_tensors
    from glm5check.host.live import LiveHost
    from glm5check.knowledge.memfit import fit
    from glm5check.knowledge.profiles import check_numbers

    if flags["model_dir"] and flags["weights"]:
        raise ConfigError("give --model-dir (the folder's own tensors) or --weights (a built-in layout), not both")
    profile = _group(_profile(flags["profile_name"], flags["profile_file"]), flags["pd_role"])
    changes = {field: flags[flag] for flag, field in PLAN_FLAGS.items() if flags[flag] is not None}
    changes["speculative_config"] = _speculative(flags["mtp"], profile.serve.speculative_config)
    profile = profile.with_serve(**changes)
    if flags["weights"]:
        profile = replace(profile, model=replace(profile.model, weights=flags["weights"]))
    if flags["hbm_gib"] is not None:
        hbm_mb = int(flags["hbm_gib"] * GIB // MIB)
        profile = replace(profile, hardware=replace(profile.hardware, hbm_mb_per_chip=hbm_mb))
    profile = check_numbers(profile, "the profile with these options")
    ctx = Context(profile, LiveHost(), Options(model_dir=flags["model_dir"]))
    if flags["model_dir"]:
        _require_readable(ctx, flags["model_dir"])
        tensors, source, config = fit_tensors(ctx)
    else:
        tensors, source, config = builtin_tensors(profile.model.weights, "no --model-dir")
    plan = fit_plan(ctx, config, _env(profile, flags["mlapo"]))
    if flags["hbm_gib"] is not None:
        plan = replace(plan, hbm_origin=f"--hbm-gib {flags['hbm_gib']:g} ({profile.hardware.hbm_mb_per_chip} MB)")
    return fit(tensors, plan, source, _assumptions(profile, flags))


def _group(profile: Any, pd_role: str | None) -> Any:
    """A prefill-decode profile's group (--pd-role; exit 2 without it); any other profile as it is."""
    from glm5check.knowledge.pd import choose_group

    group = choose_group(profile, pd_role, None, {})
    return profile if group is None else profile.for_group(group.name)


def _env(profile: Any, mlapo: bool | None) -> dict[str, str]:
    """The variables the model reads, as the profile exports them (not this shell's); --mlapo/--no-mlapo."""
    from glm5check.knowledge.memfit import MLAPO_ENV

    env = dict(profile.env)
    if mlapo is not None:
        env[MLAPO_ENV] = "1" if mlapo else "0"
    return env


def _require_readable(ctx: Any, folder: str) -> None:
    """--model-dir asks for that folder's tensors: one that cannot be read in full is a usage error, never
    a silent fall-back to the built-in layout."""
    from glm5check.facts.weights import scan_weights

    scan = ctx.fact(scan_weights)
    if not scan.readable:
        raise ConfigError(f"cannot read weights folder {folder}: {scan.error}")
    bad = [f"{s.name} ({s.cause})" for s in scan.shards if not s.ok]
    if not scan.shards or bad:
        listed = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        why = f"{len(bad)} of {len(scan.shards)} shards cannot be read: {listed}" if bad else "no shards found"
        raise ConfigError(f"cannot size the weights in {folder}: {why} (glm5check weights verify {folder})")


def _gib(count: float) -> str:
    return f"{count / GIB:,.1f} GiB"


def render_table(result: Any) -> str:
    from tabulate import tabulate

    plan, w = result.plan, result.weights
    expert_how = f"÷ EP {plan.ep}" if plan.expert_parallel else f"÷ TP {plan.tp}"
    rows = [
        (
            "plan",
            f"TP {plan.tp} × DP {plan.dp}, expert parallel {'on' if plan.expert_parallel else 'off'}, "
            f"MTP {'on' if plan.mtp else 'off'}",
        ),
        ("weights: routed experts", f"{_gib(w.expert_bytes)} {expert_how} = {_gib(w.experts_per_rank)}"),
        ("weights: TP-sharded", f"{_gib(w.tp_bytes)} ÷ TP {plan.tp} = {_gib(w.tp_per_rank)}"),
        ("weights: replicated", _gib(w.replicated_bytes)),
        ("weights per rank", _gib(w.per_rank)),
        ("MLAPO copies", f"{_gib(result.mlapo_bytes)} ({plan.mlapo_why})"),
        ("reserve: activations", _gib(result.activation_bytes)),
        ("reserve: HCCL buffers", _gib(result.hccl_bytes)),
        ("reserve: runtime overhead", _gib(result.runtime_bytes)),
        ("reserve", _gib(result.reserve_bytes)),
        ("budget", result.budget_text()),
        ("KV budget", _gib(result.kv_budget_bytes)),
        (
            "KV per token",
            f"{result.kv_bytes_per_token:,} bytes ({result.kv_layers} layers × {plan.kv.bytes_per_token_layer}, "
            f"{plan.kv.name})",
        ),
        ("KV tokens", f"{result.kv_tokens:,}"),
        (
            "full-length sequences",
            f"{result.full_sequences:.2f} × {plan.max_model_len} ({plan.max_num_seqs} requested)",
        ),
    ]
    verdict = {
        "pass": "fits",
        "warn": "fits, but fewer full-length sequences than max_num_seqs at once",
        "fail": "does not fit",
    }[result.verdict]
    lines = [tabulate(rows, tablefmt="plain"), "", f"verdict: {verdict}"]
    if result.vllm_error():
        lines.append(f"vLLM would stop with: {result.vllm_error()}")
    lines += ["", "assumptions:", *(f"  - {a}" for a in result.assumptions)]
    return "\n".join(lines) + "\n"


@click.command("fit")
@click.option("--profile", "profile_name", metavar="NAME", help="Built-in profile (default a2-single).")
@click.option("--profile-file", metavar="FILE", help="A TOML profile file (may `extends` a built-in one).")
@click.option("--model-dir", metavar="PATH", help="Read the tensors from this weights folder's headers.")
@click.option("--weights", type=click.Choice(LAYOUTS), help="Built-in GLM-5 layout to use.")
@PD_ROLE_OPTION
@click.option("--tp", type=Bounded(SERVE_RANGES["tensor_parallel_size"]), help="--tensor-parallel-size")
@click.option("--dp", type=Bounded(SERVE_RANGES["data_parallel_size"]), help="--data-parallel-size (all nodes)")
@click.option("--expert-parallel/--no-expert-parallel", default=None, help="--enable-expert-parallel")
@click.option("--mtp/--no-mtp", default=None, help="deepseek_mtp speculative decoding")
@click.option("--max-model-len", type=Bounded(SERVE_RANGES["max_model_len"]))
@click.option("--max-num-seqs", type=Bounded(SERVE_RANGES["max_num_seqs"]))
@click.option("--max-num-batched-tokens", type=Bounded(SERVE_RANGES["max_num_batched_tokens"]))
@click.option("--gpu-memory-utilization", type=Bounded(SERVE_RANGES["gpu_memory_utilization"]))
@click.option(
    "--hbm-gib",
    type=Bounded(FIT_RANGES["hbm_gib"]),
    help="HBM per NPU as npu-smi shows it (default: the profile's); vLLM sees 3113 MB less.",
)
@click.option(
    "--activation-kib-per-token", type=Bounded(FIT_RANGES["activation_kib_per_token"]), help="Reserve: activations."
)
@click.option(
    "--runtime-overhead-gib", type=Bounded(FIT_RANGES["runtime_overhead_gib"]), help="Reserve: runtime overhead."
)
@click.option(
    "--hccl-buffsize-mb", type=Bounded(FIT_RANGES["hccl_buffsize_mb"]), help="Default: the profile's HCCL_BUFFSIZE."
)
@click.option("--hccl-groups", type=Bounded(FIT_RANGES["hccl_groups"]), help="HCCL communication groups per rank.")
@click.option("--mlapo/--no-mlapo", default=None, help="VLLM_ASCEND_ENABLE_MLAPO=1/0 (default: the profile's).")
@click.option("--format", "output_format", type=click.Choice(("table", "json")), default="table")
@click.pass_context
def fit(ctx: click.Context, output_format: str, **flags: Any) -> None:
    """Memory fit of one rank: weights + reserve + KV cache against the usable HBM × gpu-memory-utilization."""
    result = compute(flags)
    if output_format == "json":
        console.out(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", "json")
    else:
        console.out(render_table(result))
    ctx.exit(1 if result.verdict == "fail" else 0)
