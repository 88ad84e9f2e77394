"""glm5check's public API: the only module a plugin imports (as a pytest plugin imports `pytest`).

Everything named in `__all__` is stable: a check written against it keeps working when glm5check's internal
modules move. Import nothing else from glm5check (`glm5check.testing` aside, in tests).

A check is a function from a `Context` to one `Result` or an iterable of them, registered with `@check`:

    from glm5check.api import Context, Result, check, failed, passed

    @check("site.owner", title="The node names its owning team", explain="Why: …\\n\\nWhat: …\\n\\nFix: …")
    def site_owner(ctx: Context) -> Result:
        owner = ctx.env.get("SITE_OWNER")
        return passed(f"owned by {owner}") if owner else failed("no owner", remediation="export SITE_OWNER=<team>")

The facts below are computed once per run and shared by every check: call them with the context
(`weights_scan(ctx)`). A fact that cannot read the machine raises `ProbeFailed`, and the check asking for it
becomes an ERROR with the reason; on a replayed snapshot that never recorded what it needs, it raises
`NotRecorded` and the check is a SKIP. docs/plugins.md has the rules and the catalogue of facts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from glm5check.engine.check import (
    Check,
    CheckOutput,
    Result,
    Status,
    check,
    errored,
    failed,
    passed,
    skipped,
    warned,
)
from glm5check.engine.context import reported_fact
from glm5check.errors import NotRecorded, ProbeFailed
from glm5check.facts import ascend as _ascend
from glm5check.facts import net as _net
from glm5check.facts import node as _node
from glm5check.facts import npu as _npu
from glm5check.facts import packages as _packages
from glm5check.facts import system as _system
from glm5check.facts import weights as _weights
from glm5check.facts.ascend import CannFound, CannState, DriverState
from glm5check.facts.context import Context, Options
from glm5check.facts.net import Nic
from glm5check.facts.node import NodeInfo
from glm5check.facts.npu import ChipPlan, NpuSmiState
from glm5check.facts.packages import Dist, Inventory
from glm5check.facts.weights_scan import JsonFile, Shard, WeightsScan
from glm5check.host.base import (
    ASCEND_TOOL_DIRS,
    Address,
    BytesRead,
    CommandResult,
    ConnectResult,
    DirListing,
    DiskUsage,
    FileRead,
    Host,
    Interface,
    ListeningSocket,
    Mount,
    ProbeValue,
    Process,
    Resources,
    StatInfo,
)
from glm5check.knowledge.memfit import Fit
from glm5check.knowledge.plan import EffectivePlan
from glm5check.knowledge.profiles import Profile, ServePlan
from glm5check.knowledge.stacks import Pin, Sourced, Stack, StackChoice
from glm5check.parsers.npu_smi import NpuChip
from glm5check.util.names import normalise as _normalise

__all__ = [
    "ASCEND_TOOL_DIRS",
    "FACTS",
    "Address",
    "BytesRead",
    "CannFound",
    "CannState",
    "Check",
    "CheckOutput",
    "ChipPlan",
    "CommandResult",
    "ConnectResult",
    "Context",
    "DirListing",
    "DiskUsage",
    "Dist",
    "DriverState",
    "EffectivePlan",
    "FileRead",
    "Fit",
    "Host",
    "Interface",
    "Inventory",
    "JsonFile",
    "ListeningSocket",
    "Mount",
    "Nic",
    "NodeInfo",
    "NotRecorded",
    "NpuChip",
    "NpuSmiState",
    "Options",
    "Pin",
    "ProbeFailed",
    "ProbeValue",
    "Process",
    "Profile",
    "Resources",
    "Result",
    "ServePlan",
    "Shard",
    "Sourced",
    "Stack",
    "StackChoice",
    "StatInfo",
    "Status",
    "WeightsScan",
    "cann_state",
    "check",
    "chip_plan",
    "driver_state",
    "effective_plan",
    "errored",
    "failed",
    "local_nics",
    "memory_fit",
    "model_dir",
    "mount_of",
    "mounts",
    "node_info",
    "npu_smi",
    "package_inventory",
    "passed",
    "plugin_settings",
    "reported_fact",
    "resources",
    "shm_usage",
    "skipped",
    "stack_choice",
    "warned",
    "weights_scan",
]


# -- settings ---------------------------------------------------------------------------------------------


def plugin_settings(ctx: Context, name: str) -> Mapping[str, Any]:
    """The profile's `[plugins.NAME]` table (strings, numbers, booleans, arrays and tables, as TOML gives
    them); empty when the profile has none. Name it after your entry point: a run warns about a table
    that no installed plugin's entry point or distribution is named after. Names compare as pip compares
    distribution names (`site_storage` is `site-storage`)."""
    wanted = _normalise(name)
    table = next((t for key, t in ctx.profile.plugins.items() if _normalise(key) == wanted), {})
    return MappingProxyType(table)


def mount_of(table: tuple[Mount, ...], path: str) -> Mount | None:
    """The mount of `table` (see `mounts`) that holds `path`: the longest mount point above it."""
    return _system.mount_of(table, path)


# -- facts: each one is computed once per run (ctx.fact caches it) and shared by every check --------------


def model_dir(ctx: Context) -> str:
    """The weights folder vLLM loads: --model-dir, else the launch command's model path, else the profile's."""
    return ctx.model_dir


def effective_plan(ctx: Context) -> EffectivePlan:
    """The plan vLLM runs (`.plan`, also `ctx.plan`): the launch command's values, vLLM's defaults at the
    pinned version for the rest, and where each value comes from (`.sources`, `.given(name)`)."""
    return ctx.effective


def stack_choice(ctx: Context) -> StackChoice:
    """The software stack the run judges against (`.stack`: its vllm, vllm-ascend, CANN, torch pins with their
    sources, `.stack.pin("vllm_ascend")`) and how it was chosen (`--stack NAME`, `--stack auto`, the profile's)."""
    return ctx.stack_choice


def node_info(ctx: Context) -> NodeInfo:
    """This node's data-parallel rank, its role (single, primary or headless) and where the rank came from."""
    return ctx.fact(_node.node_info)


def local_nics(ctx: Context) -> tuple[Nic, ...]:
    """This host's network interfaces: addresses, MTU, speed, admin flag and carrier (`.usable`, `.state`)."""
    return ctx.fact(_net.local_nics)


def npu_smi(ctx: Context) -> NpuSmiState:
    """What `npu-smi info` answered: the tool's path (None when absent), the command and its parsed table
    (`.chips`; `.info` is None when the output could not be read)."""
    return ctx.fact(_npu.npu_smi)


def chip_plan(ctx: Context) -> ChipPlan:
    """The NPU chips vLLM sees on this node (npu-smi's table as ASCEND_RT_VISIBLE_DEVICES selects it) and
    the ones the plan drives (`.planned`: the first TP × DP-local)."""
    return ctx.fact(_npu.chip_plan)


def weights_scan(ctx: Context) -> WeightsScan:
    """The weights folder (`model_dir`) as read through the host: its files, config/index/quantization
    JSON files, every shard's state from its safetensors header (never the data), a fingerprint."""
    return ctx.fact(_weights.scan_weights)


def memory_fit(ctx: Context) -> Fit:
    """The memory plan of one rank: weights per rank, reserves and the KV cache left on this node's HBM
    (`.kv_budget_bytes`, `.kv_tokens`), with its assumptions."""
    return ctx.fact(_weights.memory_fit)


def package_inventory(ctx: Context) -> Inventory:
    """The Python packages of the interpreter vllm serve runs with (--python): every distribution with its
    version, install kind and requirements (`.named("vllm")`); raises ProbeFailed when it cannot run."""
    return ctx.fact(_packages.inventory)


def cann_state(ctx: Context) -> CannState:
    """The CANN toolkits found on this host and the one vllm-ascend loads (`.selected`: the sourced one)."""
    return ctx.fact(_ascend.cann_state)


def driver_state(ctx: Context) -> DriverState:
    """The NPU driver: its install folder, version.info (`.version`), lib64 and LD_LIBRARY_PATH."""
    return ctx.fact(_ascend.driver_state)


def mounts(ctx: Context) -> tuple[Mount, ...]:
    """The mount table of this container (/proc/self/mounts): device, mount point, type and options."""
    return ctx.fact(_system.mount_table)


def resources(ctx: Context) -> Resources:
    """CPU cores this process may use, host RAM (total and available) and the open-files limit."""
    return ctx.fact(_system.resources)


def shm_usage(ctx: Context) -> DiskUsage:
    """Size and free space of /dev/shm (vLLM's workers exchange tensors through it)."""
    return ctx.fact(_system.shm_usage)


# The stable facts in catalogue order (docs/plugins.md lists them from here).
FACTS: tuple[Callable[[Context], Any], ...] = (
    model_dir,
    effective_plan,
    stack_choice,
    node_info,
    local_nics,
    npu_smi,
    chip_plan,
    weights_scan,
    memory_fit,
    package_inventory,
    cann_state,
    driver_state,
    mounts,
    resources,
    shm_usage,
)
