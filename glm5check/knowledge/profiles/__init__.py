"""Deployment profiles: the guide's four deployments as TOML data, plus user files that `extends` them.

A profile fixes the hardware, the weights, every flag of the `vllm serve` command (the plan), the
environment the guide exports, the software pins and the stack it is written for (`stack`, default the pinned
February stack; see glm5check.knowledge.stacks). `"unset"` as a value removes an inherited key.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, fields, replace
from typing import Any

from glm5check.errors import ConfigError
from glm5check.knowledge.limits import profile_refusals
from glm5check.knowledge.stacks import DEFAULT_STACK, StackError, load_stack
from glm5check.util.numbers import whole_value
from glm5check.util.resources import package_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

UNSET = "unset"
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BUILTIN = ("a2-single", "a3-single", "a2-multi", "a3-multi")


class ProfileError(ConfigError):
    """A profile that cannot be found, read or understood (exit code 2)."""


@dataclass(frozen=True)
class Hardware:
    series: str
    platform: str
    nodes: int
    npus_per_node: int
    hbm_mb_per_chip: int
    chip_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: str
    weights: str  # bf16 or w4a8


@dataclass(frozen=True)
class ServePlan:
    """The flags of `vllm serve`, named as vLLM names them (dashes become underscores). In a profile a
    field left out (None) is a flag the deployment does not pass: vLLM's default applies (the defaults
    below are vLLM's where a profile may omit the field)."""

    tensor_parallel_size: int
    max_num_seqs: int
    max_model_len: int
    max_num_batched_tokens: int
    gpu_memory_utilization: float
    host: str | None = None
    port: int = 8000
    data_parallel_size: int = 1
    data_parallel_size_local: int | None = None
    data_parallel_start_rank: int | None = None
    data_parallel_address: str | None = None
    data_parallel_rpc_port: int | None = None
    headless: bool = False
    enable_expert_parallel: bool = False
    seed: int | None = None
    served_model_name: str | None = None
    trust_remote_code: bool = False
    quantization: str | None = None
    enable_chunked_prefill: bool | None = None
    enable_prefix_caching: bool | None = None
    async_scheduling: bool | None = None
    speculative_config: dict[str, Any] | None = None
    compilation_config: dict[str, Any] | None = None
    additional_config: dict[str, Any] | None = None

    @property
    def dp_local(self) -> int:
        return self.data_parallel_size_local or self.data_parallel_size

    @property
    def ranks_per_node(self) -> int:
        """NPUs one node drives: TP × DP-local."""
        return self.tensor_parallel_size * self.dp_local

    @property
    def uses_mtp(self) -> bool:
        spec = self.speculative_config or {}
        tokens = whole_value(spec.get("num_speculative_tokens"), low=1)
        return spec.get("method") in ("deepseek_mtp", "mtp") and tokens is not None


@dataclass(frozen=True)
class Pins:
    vllm_commit: str
    vllm_ascend_commit: str
    vllm_target: str = "empty"
    transformers_min: str = "5.2.0"
    transformers_source: str = "git"
    python_versions: tuple[str, ...] = ("3.10", "3.11")
    cann_min: str = "8.5.0"


@dataclass(frozen=True)
class Container:
    shm_min_bytes: int = 1 << 30
    devices: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    hardware: Hardware
    model: ModelSpec
    serve: ServePlan
    pins: Pins
    container: Container = field(default_factory=Container)
    env: dict[str, str] = field(default_factory=dict)
    # Variables every node sets to its own value: "address" (an IP of this host) or "interface" (a NIC name).
    node_env: dict[str, str] = field(default_factory=dict)
    source: str = "built-in"
    stack: str = DEFAULT_STACK  # the stack the profile is written for (its pins are that stack's)

    @property
    def multi_node(self) -> bool:
        return self.hardware.nodes > 1

    def to_dict(self) -> dict[str, Any]:
        """The resolved profile as the nested mapping a profile file holds (without `extends`)."""
        data: dict[str, Any] = {"name": self.name, "description": self.description, "stack": self.stack}
        for section in ("hardware", "model", "serve", "env", "node_env", "pins", "container"):
            value = getattr(self, section)
            if isinstance(value, dict):
                data[section] = dict(value)
            else:
                data[section] = {
                    f.name: _plain(getattr(value, f.name)) for f in fields(value) if getattr(value, f.name) is not None
                }
        return data

    def with_serve(self, **changes: Any) -> Profile:
        return replace(self, serve=replace(self.serve, **changes))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_SECTIONS: dict[str, type] = {
    "hardware": Hardware,
    "model": ModelSpec,
    "serve": ServePlan,
    "pins": Pins,
    "container": Container,
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if value == UNSET:
            merged.pop(key, None)
        elif (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and key
            in _SECTIONS
            | {
                "env": 0,
                "node_env": 0,
            }
        ):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _builtin_text(name: str) -> str:
    return package_text(__name__, f"{name}.toml")


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{origin} is not valid TOML: {exc}") from None


def _raw(name: str, origin: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if name in seen:
        raise ProfileError(f"profile {origin} extends itself through {' -> '.join((*seen, name))}")
    if name not in BUILTIN:
        raise ProfileError(f"unknown profile {name!r} (known: {', '.join(BUILTIN)})")
    return _resolve_extends(_parse(_builtin_text(name), f"profile {name}"), origin, (*seen, name))


def _resolve_extends(data: dict[str, Any], origin: str, seen: tuple[str, ...]) -> dict[str, Any]:
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ProfileError(f"{origin}: extends must be a profile name, not {parent!r}")
    return _merge(_raw(parent, origin, seen), data)


def _build_section(cls: type, values: Any, section: str, origin: str) -> Any:
    if not isinstance(values, dict):
        raise ProfileError(f"{origin}: [{section}] must be a table")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ProfileError(f"{origin}: unknown key(s) in [{section}]: {', '.join(unknown)}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**converted)
    except TypeError as exc:
        raise ProfileError(f"{origin}: [{section}] {exc}") from None


def _check_types(obj: Any, section: str, origin: str) -> None:
    for f in fields(obj):
        value = getattr(obj, f.name)
        expected = str(f.type)
        if value is None:
            continue
        if "float" in expected and isinstance(value, (int, float)) and not isinstance(value, bool):
            continue
        if expected.startswith("bool") and not isinstance(value, bool):
            raise ProfileError(f"{origin}: [{section}] {f.name} must be true or false, not {value!r}")
        if expected.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
            raise ProfileError(f"{origin}: [{section}] {f.name} must be a whole number, not {value!r}")
        if expected.startswith("str") and not isinstance(value, str):
            raise ProfileError(f"{origin}: [{section}] {f.name} must be a string, not {value!r}")


def _from_dict(data: dict[str, Any], origin: str, source: str) -> Profile:
    known = set(_SECTIONS) | {"name", "description", "stack", "env", "node_env"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProfileError(f"{origin}: unknown key(s): {', '.join(unknown)}")
    missing = sorted({"name", "hardware", "model", "serve", "pins"} - set(data))
    if missing:
        raise ProfileError(f"{origin}: missing {', '.join(missing)}")
    built = {}
    for section, cls in _SECTIONS.items():
        built[section] = _build_section(cls, data.get(section, {}), section, origin)
        _check_types(built[section], section, origin)
    for table in ("env", "node_env"):
        values = data.get(table, {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise ProfileError(f"{origin}: [{table}] must map variable names to strings")
        for name, value in values.items():
            if not _VARIABLE.fullmatch(name) or "\0" in value:
                what = "a NUL byte" if _VARIABLE.fullmatch(name) else "a name that is not a variable name"
                raise ProfileError(f"{origin}: [{table}] {name!r} has {what} (an environment cannot hold it)")
    for name, kind in data.get("node_env", {}).items():
        if kind not in ("address", "interface"):
            raise ProfileError(f'{origin}: [node_env] {name} must be "address" or "interface"')
    profile = Profile(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        env=dict(data.get("env", {})),
        node_env=dict(data.get("node_env", {})),
        source=source,
        stack=_stack_name(data.get("stack", DEFAULT_STACK), origin),
        **built,
    )
    return check_numbers(profile, origin)


def check_numbers(profile: Profile, origin: str) -> Profile:
    """The profile, when every number in it is one a deployment can have (glm5check.knowledge.limits);
    else ProfileError (exit 2) naming the first field out of range and the range."""
    refusals = profile_refusals({section: getattr(profile, section) for section in _SECTIONS})
    if refusals:
        raise ProfileError(f"{origin}: {refusals[0]}")
    return profile


def _stack_name(value: Any, origin: str) -> str:
    """The profile's `stack`: the name of a known stack (an unknown one is exit 2, with a did-you-mean)."""
    if not isinstance(value, str):
        raise ProfileError(f"{origin}: stack must be a stack name (see `glm5check stacks`), not {value!r}")
    try:
        return load_stack(value).name
    except StackError as exc:
        raise ProfileError(f"{origin}: {exc}") from None


def load_builtin(name: str) -> Profile:
    return _from_dict(_raw(name, f"profile {name}"), f"profile {name}", "built-in")


def load_text(text: str, origin: str) -> Profile:
    """A profile from TOML text (a file's, or the resolved copy a snapshot keeps)."""
    data = _resolve_extends(_parse(text, origin), origin, ())
    return _from_dict(data, origin, origin)


def to_toml(profile: Profile) -> str:
    """The resolved profile in the TOML format that --profile-file reads."""
    data = profile.to_dict()
    lines = [f"{key} = {_toml_value(data.pop(key))}" for key in ("name", "description", "stack")]
    for section, values in data.items():
        lines += ["", f"[{section}]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")
