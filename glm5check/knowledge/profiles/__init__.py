"""Deployment profiles: the guide's deployments as TOML data, plus user files that `extends` them.

A profile fixes the hardware, the weights, every flag of the `vllm serve` command (the plan), the
environment the guide exports, the software pins, the stack it is written for (`stack`, default the pinned
February stack; see glm5check.knowledge.stacks) and the guide revision it is cut from (`guide`). `"unset"` as a
value removes an inherited key. A `[plugins.NAME]` table holds the settings of the plugin NAME (glm5check
only keeps them for it).

A prefill-decode (P/D) profile also has a `[pd.prefill]` and a `[pd.decode]` table: how many nodes each group
has, how many data-parallel ranks (one `vllm serve` each) one node runs, and the `serve` and `env` values that
differ from the common ones. One node runs one group's plan: `for_group` resolves it into an ordinary profile
of that group's nodes (so every check judges a P/D node as the primary or headless node of its group), which
still knows the whole deployment (`deployment`, `pd`). The prefill nodes come first in the deployment's node
numbering (nodes 0..P-1), then the decode nodes.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, fields, replace
from typing import Any

from glm5check.errors import ConfigError
from glm5check.knowledge.glm5 import LAYOUTS
from glm5check.knowledge.limits import profile_refusals
from glm5check.knowledge.stacks import DEFAULT_STACK, StackError, load_stack
from glm5check.parsers.hccn import valid_ip
from glm5check.util.numbers import whole_value
from glm5check.util.resources import package_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

UNSET = "unset"
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The February guide's four deployments (GLM5.md@2026-02-27), then those of the latest revision (2026-08-21).
BUILTIN_2026_02 = ("a2-single", "a3-single", "a2-multi", "a3-multi")
BUILTIN_2026_08 = (
    "a3-single-w4a8-200k",
    "a3-single-w8a8",
    "a3-multi-w8a8",
    "a3-multi-bf16",
    "a2-single-w4a8",
    "a2-multi-w4a8",
    "glm51-a3-single-w4a8-200k",
    "glm51-a3-single-w8a8",
    "glm51-a3-multi-bf16",
    "a3-pd-4node",
)
BUILTIN = (*BUILTIN_2026_02, *BUILTIN_2026_08)
# The groups of a prefill-decode deployment, in node order (glm5check.engine.check.GROUPS names the same).
PD_GROUPS = ("prefill", "decode")


class ProfileError(ConfigError):
    """A profile that cannot be found, read or understood (exit code 2)."""


@dataclass(frozen=True)
class Hardware:
    """The nodes of a deployment: Atlas series, platform, how many nodes and NPUs, HBM per chip."""

    series: str
    platform: str
    nodes: int
    npus_per_node: int
    hbm_mb_per_chip: int
    chip_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """The model a profile serves: its name, the weights folder, the weights layout."""

    name: str
    path: str
    weights: str  # a layout of glm5check.knowledge.glm5.LAYOUTS: bf16, w4a8, w8a8, w8a8c8


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
    port: int | None = None  # None in a profile: the launch command chooses (vLLM: 8000)
    data_parallel_size: int = 1
    data_parallel_size_local: int | None = None
    data_parallel_start_rank: int | None = None
    # One `vllm serve` per DP rank (the guide's prefill-decode launch, launch_online_dp.py): vLLM runs this rank
    # alone (external load balancing, DP-local 1).
    data_parallel_rank: int | None = None
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
    enforce_eager: bool | None = None
    speculative_config: dict[str, Any] | None = None
    compilation_config: dict[str, Any] | None = None
    additional_config: dict[str, Any] | None = None
    kv_transfer_config: dict[str, Any] | None = None  # a prefill-decode node's KV connector (Mooncake)

    @property
    def dp_local(self) -> int:
        return self.data_parallel_size_local or self.data_parallel_size

    @property
    def kv_role(self) -> str | None:
        """kv_producer (a prefill node), kv_consumer (a decode node), kv_both, or None without KV transfer."""
        role = (self.kv_transfer_config or {}).get("kv_role")
        return role if isinstance(role, str) else None

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
    """The commits and versions a profile's stack pins (the `[pins]` table)."""

    vllm_commit: str
    vllm_ascend_commit: str
    vllm_target: str = "empty"
    transformers_min: str = "5.2.0"
    transformers_source: str = "git"
    python_versions: tuple[str, ...] = ("3.10", "3.11")
    cann_min: str = "8.5.0"


@dataclass(frozen=True)
class Container:
    """What a profile asks of the container: shared memory, devices, mounts."""

    shm_min_bytes: int = 1 << 30
    devices: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PdGroup:
    """One group of a prefill-decode deployment, as its profile table states it."""

    name: str  # prefill or decode
    nodes: int
    dp_per_node: int  # DP ranks one node runs, one `vllm serve` each (launch_online_dp.py --dp-size-local)
    first_node: int  # the deployment's node number of the group's node 0 (prefill nodes come first)
    serve: dict[str, Any] = field(default_factory=dict)  # what differs from the profile's common [serve]
    env: dict[str, str] = field(default_factory=dict)  # what differs from the profile's common [env]

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "dp_per_node": self.dp_per_node, "serve": dict(self.serve), "env": dict(self.env)}


@dataclass(frozen=True)
class Network:
    """Site facts of the NPU network: node 0's device IPs, pinged from the other nodes' devices
    (`--peer-npu-ips` and GLM5CHECK_PEER_NPU_IPS win over this field)."""

    peer_npu_ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """One deployment as a profile states it, resolved (`extends` merged), with where it came from."""

    name: str
    description: str
    hardware: Hardware
    model: ModelSpec
    serve: ServePlan
    pins: Pins
    container: Container = field(default_factory=Container)
    network: Network = field(default_factory=Network)
    env: dict[str, str] = field(default_factory=dict)
    # Variables every node sets to its own value: "address" (an IP of this host) or "interface" (a NIC name).
    node_env: dict[str, str] = field(default_factory=dict)
    source: str = "built-in"
    stack: str = DEFAULT_STACK  # the stack the profile is written for (its pins are that stack's)
    guide: str = ""  # the guide revision the deployment is cut from, e.g. "GLM5.md@2026-08-21-92616f3a64"
    pd: tuple[PdGroup, ...] = ()  # a prefill-decode deployment's groups (prefill, decode); () otherwise
    pd_group: str | None = None  # set on the profile of one group (`for_group`)
    deployment: Profile | None = field(default=None, repr=False, compare=False)  # the whole P/D profile
    # [plugins.NAME] tables: each plugin's own settings, as TOML gives them (glm5check.api.plugin_settings).
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def multi_node(self) -> bool:
        return self.hardware.nodes > 1

    @property
    def is_pd(self) -> bool:
        """A prefill-decode deployment (the whole profile, or one group of it)."""
        return bool(self.pd)

    def group(self, name: str) -> PdGroup:
        found = next((g for g in self.pd if g.name == name), None)
        if found is None:
            raise ProfileError(f"profile {self.name} has no {name} group")
        return found

    def for_group(self, name: str) -> Profile:
        """The profile one node of group `name` runs: the common values, overlaid with the group's."""
        whole = self.deployment or self
        group = whole.group(name)
        data = whole.to_dict()
        del data["pd"]
        data = _merge(data, {"hardware": {"nodes": group.nodes}, "serve": group.serve, "env": group.env})
        resolved = _from_dict(data, f"profile {whole.name}, {name} group", whole.source)
        return replace(resolved, pd=whole.pd, pd_group=name, deployment=whole)

    def to_dict(self) -> dict[str, Any]:
        """The resolved profile as the nested mapping a profile file holds (without `extends`)."""
        data: dict[str, Any] = {"name": self.name, "description": self.description, "stack": self.stack}
        if self.guide:
            data["guide"] = self.guide
        for section in ("hardware", "model", "serve", "env", "node_env", "pins", "container", "network"):
            value = getattr(self, section)
            if isinstance(value, dict):
                data[section] = dict(value)
            else:
                data[section] = {
                    f.name: _plain(getattr(value, f.name)) for f in fields(value) if getattr(value, f.name) is not None
                }
        if self.pd:
            data["pd"] = {group.name: group.to_dict() for group in self.pd}
        if self.pd_group:
            data["pd_group"] = self.pd_group
        if self.plugins:  # only when there are some: a profile without plugins reads as it always did
            data["plugins"] = {name: dict(table) for name, table in self.plugins.items()}
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
    "network": Network,
}


# Tables whose keys an overriding profile merges one by one (any other value replaces the inherited one whole).
_MERGED_TABLES = frozenset({*_SECTIONS, "env", "node_env", "pd", *PD_GROUPS})


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if value == UNSET:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict) and key in _MERGED_TABLES:
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
        if expected.startswith("dict") and not isinstance(value, dict):
            raise ProfileError(f"{origin}: [{section}] {f.name} must be a table, not {value!r}")


# What a [plugins.NAME] table may hold: what TOML gives and to_toml writes back (not dates and times).
_PLUGIN_VALUE_TYPES = (str, int, float, bool)


def _plugin_value(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plugin_value(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plugin_value(v) for v in value)
    return isinstance(value, _PLUGIN_VALUE_TYPES)


def _plugin_tables(values: Any, origin: str) -> dict[str, dict[str, Any]]:
    """The [plugins.NAME] tables: each a table of strings, numbers, booleans, arrays and tables."""
    if not isinstance(values, dict) or not all(isinstance(table, dict) for table in values.values()):
        raise ProfileError(f"{origin}: [plugins] holds one table per plugin: [plugins.NAME]")
    for name, table in values.items():
        try:
            writable = _plugin_value(table)
        except RecursionError:
            writable = False
        if not name.strip() or not writable:
            what = "a name" if not name.strip() else "strings, numbers, booleans, arrays and tables (no dates)"
            raise ProfileError(f"{origin}: [plugins.{name}] must have {what}")
    return {name: dict(table) for name, table in values.items()}


def _from_dict(data: dict[str, Any], origin: str, source: str) -> Profile:
    known = set(_SECTIONS) | {"name", "description", "stack", "guide", "env", "node_env", "pd", "plugins"}
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
    if built["model"].weights not in LAYOUTS:
        layouts = ", ".join(LAYOUTS)
        raise ProfileError(
            f"{origin}: [model] weights {built['model'].weights!r} is not a layout glm5check knows ({layouts})"
        )
    guide = data.get("guide", "")
    if not isinstance(guide, str):
        raise ProfileError(f"{origin}: guide must name a guide revision (GLM5.md@<date>-<commit>), not {guide!r}")
    _check_addresses(built["network"].peer_npu_ips, origin)
    profile = Profile(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        env=dict(data.get("env", {})),
        node_env=dict(data.get("node_env", {})),
        source=source,
        stack=_stack_name(data.get("stack", DEFAULT_STACK), origin),
        guide=guide,
        pd=_pd_groups(data.get("pd"), origin),
        plugins=_plugin_tables(data.get("plugins", {}), origin),
        **built,
    )
    profile = check_numbers(profile, origin)
    if profile.pd:
        _check_pd(profile, origin)
    return profile


_PD_KEYS = frozenset({"nodes", "dp_per_node", "serve", "env"})


def _pd_groups(values: Any, origin: str) -> tuple[PdGroup, ...]:
    """The [pd.prefill] and [pd.decode] tables (both, or no [pd] at all)."""
    if values is None:
        return ()
    if not isinstance(values, dict) or set(values) != set(PD_GROUPS):
        raise ProfileError(f"{origin}: [pd] must hold exactly the tables [pd.prefill] and [pd.decode]")
    groups, first = [], 0
    for name in PD_GROUPS:
        table = values[name]
        where = f"{origin}: [pd.{name}]"
        if not isinstance(table, dict) or set(table) - _PD_KEYS:
            raise ProfileError(f"{where} takes only {', '.join(sorted(_PD_KEYS))}")
        nodes, per_node = (_count(table.get(key), f"{where} {key}") for key in ("nodes", "dp_per_node"))
        serve, env = table.get("serve", {}), table.get("env", {})
        if not isinstance(serve, dict) or not isinstance(env, dict):
            raise ProfileError(f"{where}: serve and env must be tables")
        groups.append(PdGroup(name, nodes, per_node, first, dict(serve), dict(env)))
        first += nodes
    return tuple(groups)


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ProfileError(f"{where} must be a whole number of at least 1, not {value!r}")
    return value


def _check_pd(profile: Profile, origin: str) -> None:
    """Each group's plan fills its nodes: nodes × DP ranks per node = its DP size, TP × ranks per node fits."""
    total = sum(group.nodes for group in profile.pd)
    if total != profile.hardware.nodes:
        raise ProfileError(f"{origin}: the [pd] groups have {total} nodes, [hardware] nodes = {profile.hardware.nodes}")
    for group in profile.pd:
        plan = profile.for_group(group.name).serve
        if plan.data_parallel_size != group.nodes * group.dp_per_node:
            raise ProfileError(
                f"{origin}: [pd.{group.name}] {group.nodes} node(s) × {group.dp_per_node} DP rank(s) per node is "
                f"not its data_parallel_size {plan.data_parallel_size}"
            )
        if plan.tensor_parallel_size * group.dp_per_node > profile.hardware.npus_per_node:
            raise ProfileError(
                f"{origin}: [pd.{group.name}] TP {plan.tensor_parallel_size} × {group.dp_per_node} DP rank(s) per "
                f"node is more than the {profile.hardware.npus_per_node} NPUs of a node"
            )


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


def _check_addresses(addresses: Any, origin: str) -> None:
    if not isinstance(addresses, tuple) or any(not isinstance(a, str) or valid_ip(a) is None for a in addresses):
        raise ProfileError(f"{origin}: [network] peer_npu_ips must be a list of IP addresses, not {addresses!r}")


def load_builtin(name: str) -> Profile:
    return _from_dict(_raw(name, f"profile {name}"), f"profile {name}", "built-in")


def load_text(text: str, origin: str) -> Profile:
    """A profile from TOML text (a file's, or the resolved copy a snapshot keeps)."""
    data = _resolve_extends(_parse(text, origin), origin, ())
    return _from_dict(data, origin, origin)


def to_toml(profile: Profile) -> str:
    """The resolved profile in the TOML format that --profile-file reads (a group's profile: the whole P/D
    deployment's), its [plugins.NAME] tables last."""
    data = (profile.deployment or profile).to_dict()
    top = [key for key in ("name", "description", "stack", "guide") if key in data]
    lines = [f"{key} = {_toml_value(data.pop(key))}" for key in top]
    plugins = data.pop("plugins", {})
    for group, values in data.pop("pd", {}).items():
        tables = {"serve": values.pop("serve"), "env": values.pop("env")}
        data[f"pd.{group}"] = values
        data.update({f"pd.{group}.{name}": table for name, table in tables.items()})
    data.update({f"plugins.{_toml_key(name)}": values for name, values in plugins.items()})
    for section, values in data.items():
        lines += ["", f"[{section}]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def _toml_char(char: str) -> str:
    """A character inside a TOML basic string: quotes, backslashes and control characters escaped."""
    if char in '"\\':
        return "\\" + char
    return f"\\u{ord(char):04x}" if ord(char) < 0x20 or ord(char) == 0x7F else char


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_toml_char(c) for c in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")
