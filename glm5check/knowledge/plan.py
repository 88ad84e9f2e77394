"""The effective plan: every value `vllm serve` will run with, and where each one comes from.

A value the launch command gives wins (`script line N`); one it computes at run time is the value it
gives on this host (evaluated by the facts layer, passed in as `evaluated`); anything else is vLLM's own
default at the pinned version (`vllm default`, or `vllm default (computed: …)` when vLLM derives it at
start-up from the model's config.json or the other values): never the profile's value. Without a serve
script or command the profile's plan is the launch command (`profile`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, NamedTuple

from glm5check.knowledge.launch_command import ServeInput
from glm5check.knowledge.profiles import ServePlan
from glm5check.knowledge.stacks import DEFAULT_STACK
from glm5check.knowledge.vllm_defaults import ORDER, default_for
from glm5check.util.lazyre import lazy

VLLM_DEFAULT = "vllm default"


class Evaluated(NamedTuple):
    """A value the script computes at run time, as it comes out on this host. `value` is None when it
    cannot be known before launch; `note` says how it is computed and what it gives here."""

    value: Any
    note: str


class EffectivePlan(NamedTuple):
    plan: ServePlan
    sources: dict[str, str]  # every plan field
    model: str | None
    model_source: str

    def source(self, name: str) -> str:
        return self.model_source if name == "model" else self.sources.get(name, VLLM_DEFAULT)

    def given(self, name: str) -> bool:
        """Whether the launch command (or the profile standing in for one) sets this value."""
        return not self.source(name).startswith(VLLM_DEFAULT)


def resolve(
    launch: ServeInput,
    model_config: Mapping[str, Any] | None,
    config_origin: str = "config.json",
    evaluated: Mapping[str, Evaluated] | None = None,
    fallback: ServePlan | None = None,
    stack: str = DEFAULT_STACK,
) -> EffectivePlan:
    """The plan vLLM runs for this launch command, with the defaults of `stack`'s vLLM. A run-time value
    that cannot be known takes the fallback plan's (the profile's) value, with a source that says so."""
    values = dict(launch.given)
    sources = dict(launch.sources)
    unknown: dict[str, str] = {}
    for name, found in (evaluated or {}).items():
        if name == "model":
            continue
        if found.value is not None:
            values[name], sources[name] = found.value, found.note
        elif fallback is not None and getattr(fallback, name) is not None:
            values[name] = getattr(fallback, name)
            sources[name] = f"{found.note}; judged as the profile's {values[name]}"
        else:
            unknown[name] = found.note
    for name in ORDER:
        if name not in values:
            values[name], sources[name] = default_for(name, model_config, values, config_origin, stack, unknown)
            if name in unknown:
                sources[name] = f"{unknown[name]}; judged as vLLM's default {values[name]}"
    plan = ServePlan(**{f.name: values[f.name] for f in fields(ServePlan)})
    model, model_source = launch.model_path, launch.model_source
    model_found = (evaluated or {}).get("model")
    if model_found is not None:
        model, model_source = (model_found.value or model), model_found.note
    return EffectivePlan(plan, {f.name: sources[f.name] for f in fields(ServePlan)}, model, model_source)


# What a difference between the effective plan and the profile means. Hardware, memory or topology: vLLM
# would run another deployment than the one planned (FAIL); the rest changes speed, names or ports (WARN).
DEPLOYMENT_FIELDS = (
    "model",
    "tensor_parallel_size",
    "data_parallel_size",
    "data_parallel_size_local",
    "enable_expert_parallel",
    "quantization",
    "max_model_len",
    "max_num_seqs",
    "max_num_batched_tokens",
    "gpu_memory_utilization",
    "speculative_config",
    "kv_transfer_config",
)
COSMETIC_FIELDS = (
    "seed",
    "served_model_name",
    "host",
    "port",
    "data_parallel_rpc_port",
    "trust_remote_code",
    "enable_prefix_caching",
    "enable_chunked_prefill",
    "async_scheduling",
    "enforce_eager",
    "compilation_config",
    "additional_config",
)
# Of a KV-transfer config, what makes it another deployment: the connector and the node's role (producer =
# prefill, consumer = decode). Its ports and the topology it announces are serve.pd's to judge.
KV_TRANSFER_KEYS = ("kv_connector", "kv_role")
_WEIGHT_KINDS = ("bf16", "w4a8c8", "w8a8c8", "w4a8", "w8a8", "w4a16", "w8a16", "int8", "fp8")


class Difference(NamedTuple):
    field: str
    effective: Any
    effective_source: str
    intended: Any
    intended_source: str
    severity: str  # fail or warn


def _folder(path: str | None) -> str:
    return (path or "").rstrip("/").rsplit("/", 1)[-1].lower()


def weights_kind(path: str | None) -> str | None:
    """bf16, w4a8, … as a weights folder's name says it (GLM5-bf16, GLM-5-w4a8); None when it does not."""
    name = _folder(path)
    return next((kind for kind in _WEIGHT_KINDS if kind in name), None)


def model_version(path: str | None) -> str | None:
    """ "5.1" for GLM-5.1 weights (GLM5.1-w8a8, GLM-5.1-w4a8), "5" for GLM-5's (GLM5-bf16, GLM-5-w4a8), as the
    folder's name says it; None when it names neither."""
    found = _MODEL_VERSION.search(_folder(path))
    return None if found is None else "5" + (f".{found.group(1)}" if found.group(1) else "")


_MODEL_VERSION = lazy(r"glm-?5(?:[.p_-]?(\d)(?![a-z\d]))?")


def differences(effective: EffectivePlan, intended: EffectivePlan) -> list[Difference]:
    """Every value that differs between what vLLM will run and what the profile plans, in field order."""
    found: list[Difference] = []
    for name in (*DEPLOYMENT_FIELDS, *COSMETIC_FIELDS):
        ours, theirs = _value(effective, name), _value(intended, name)
        if ours == theirs or (name in COSMETIC_FIELDS and not intended.given(name)):
            continue  # a cosmetic value the profile leaves to vLLM is the command's to choose
        severity = "fail" if name in DEPLOYMENT_FIELDS else "warn"
        if name == "model" and not _other_weights(ours, theirs):
            severity = "warn"  # another folder: the same weights, or weights its name does not tell
        found.append(Difference(name, ours, effective.source(name), theirs, intended.source(name), severity))
    return found


def _other_weights(path: str, other: str) -> bool:
    """Whether two weights folders' names say they hold another model (GLM-5.1 for GLM-5) or other weights."""
    return any(
        None not in (ours, theirs) and ours != theirs
        for ours, theirs in ((f(path), f(other)) for f in (weights_kind, model_version))
    )


def _value(plan: EffectivePlan, name: str) -> Any:
    if name == "model":
        return (plan.model or "").rstrip("/")
    value = getattr(plan.plan, name)
    if name == "kv_transfer_config" and value is not None:
        return {key: value[key] for key in KV_TRANSFER_KEYS if key in value}
    return value
