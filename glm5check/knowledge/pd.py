"""Prefill-decode (P/D) deployments: which group a node belongs to, and what vllm-ascend requires of a P/D node.

A P/D profile (`[pd.prefill]`, `[pd.decode]`, see glm5check.knowledge.profiles) numbers its nodes prefill first.
A node's group comes from, in order: `--pd-role`, `--node-rank` (the node's number in the whole deployment), the
`kv_role` of the launch command's `--kv-transfer-config` (kv_producer = prefill, kv_consumer = decode).

The rules are read from vllm-ascend's code at v0.23.0 (the stack of the guide's P/D deployment); each names the
first release stack whose code has it (`since`), so that a node checked against an older stack is not held to a
rule its vllm-ascend does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from glm5check.errors import ConfigError
from glm5check.knowledge.profiles import PD_GROUPS, Profile
from glm5check.knowledge.stacks import STACKS
from glm5check.util.numbers import whole

KV_ROLE_OF = {"prefill": "kv_producer", "decode": "kv_consumer"}
GROUP_OF_ROLE = {role: group for group, role in KV_ROLE_OF.items()}
# The KV connectors vllm-ascend v0.23.0 registers (vllm_ascend/distributed/kv_transfer/__init__.py:21-88) and
# the P/D connector of the guide.
ASCEND_CONNECTORS = frozenset(
    {
        "MultiConnector",
        "MooncakeConnectorV1",
        "MooncakeHybridConnector",
        "MooncakeConnectorStoreV1",
        "AscendStoreConnector",
        "MooncakeLayerwiseConnector",
        "UCMConnector",
        "LMCacheAscendConnector",
        "SimpleCPUOffloadConnector",
        "RecomputeCPUOffloadConnector",
    }
)
# Mooncake's connector asserts both groups' sizes in kv_connector_extra_config (vllm-ascend@v0.23.0:
# vllm_ascend/distributed/kv_transfer/kv_p2p/mooncake_connector.py:2066-2085).
TOPOLOGY_KEYS = ("dp_size", "tp_size")
# "LD_LIBRARY_PATH=$LD_LIBRARY_PATH:/usr/local/lib: Required for Mooncake library loading" (GLM5.md@2026-08-21).
MOONCAKE_LIBRARY_DIR = "/usr/local/lib"
# The 8-bit KV cache switches: both groups must lay the cache out alike, Mooncake copies its bytes as they are.
C8_KEYS = ("enable_sparse_sfa_c8", "enable_sparse_li_c8")


class PdRoleError(ConfigError):
    """No group, or contradicting groups, for a node of a P/D profile (exit code 2)."""


class GroupChoice(NamedTuple):
    name: str  # prefill or decode
    source: str  # "--pd-role", "--node-rank 2 (nodes 2-3 are decode)", "launch command: kv_role kv_consumer"


def node_groups(profile: Profile) -> str:
    """`nodes 0-1 prefill, 2-3 decode`."""
    return ", ".join(f"{_span(g.first_node, g.nodes)} {g.name}" for g in profile.pd)


def _span(first: int, count: int) -> str:
    return str(first) if count == 1 else f"{first}-{first + count - 1}"


def group_of_node(profile: Profile, node: int) -> str | None:
    """The group of the deployment's node number `node`, or None when the deployment has no such node."""
    return next((g.name for g in profile.pd if g.first_node <= node < g.first_node + g.nodes), None)


def choose_group(
    profile: Profile, pd_role: str | None, node_rank: int | None, launch: Mapping[str, Any]
) -> GroupChoice | None:
    """The group this node runs for a P/D profile (None for any other profile); PdRoleError when nothing says
    which, or two options contradict each other. `launch` holds the plan values the launch command gives."""
    if not profile.is_pd:
        if pd_role is not None:
            raise PdRoleError(f"--pd-role {pd_role}: profile {profile.name} is not a prefill-decode deployment")
        return None
    by_rank = _by_rank(profile, node_rank)
    if pd_role is not None:
        if pd_role not in PD_GROUPS:
            raise PdRoleError(f"--pd-role takes {' or '.join(PD_GROUPS)}, not {pd_role!r}")
        if by_rank is not None and by_rank.name != pd_role:
            raise PdRoleError(f"--pd-role {pd_role} contradicts {by_rank.source}")
        return GroupChoice(pd_role, "--pd-role")
    if by_rank is not None:
        return by_rank
    role = (launch.get("kv_transfer_config") or {}).get("kv_role")
    if role in GROUP_OF_ROLE:
        return GroupChoice(GROUP_OF_ROLE[role], f"the launch command's --kv-transfer-config (kv_role {role})")
    raise PdRoleError(
        f"profile {profile.name} is a prefill-decode deployment (nodes {node_groups(profile)}): say which group this "
        "node is in with --pd-role prefill|decode, --node-rank N, or a launch script whose --kv-transfer-config "
        "names kv_role kv_producer or kv_consumer"
    )


def _by_rank(profile: Profile, node_rank: int | None) -> GroupChoice | None:
    if node_rank is None:
        return None
    group = group_of_node(profile, node_rank)
    if group is None:
        raise PdRoleError(f"--node-rank {node_rank}: profile {profile.name} has nodes {node_groups(profile)}")
    return GroupChoice(group, f"--node-rank {node_rank} (nodes {node_groups(profile)})")


# -- what vllm-ascend refuses or ignores on a P/D node ---------------------------------------------------------


class Rule(NamedTuple):
    """One thing vllm-ascend does with an additional-config key (or the variable it falls back to) on a node
    with this KV role: `fail` (it refuses to start) or `warn` (it ignores the key)."""

    key: str
    env: str | None  # the variable vllm-ascend reads when the key is absent (AscendConfig._get_config_value)
    roles: tuple[str, ...]  # the kv_role values the rule applies to
    severity: str
    says: str  # what vllm-ascend does, in its words
    source: str
    since: str  # the first release stack whose vllm-ascend has the rule


RULES = (
    Rule(
        "enable_balance_scheduling",
        "VLLM_ASCEND_BALANCE_SCHEDULING",
        ("kv_producer", "kv_consumer"),
        "fail",
        "ValueError: \"enable_balance_scheduling only supports PD-mixed mode (kv_role='kv_both' or no "
        "kv_transfer_config), and is not supported in PD-disaggregated mode (kv_role='kv_producer'/'kv_consumer').\"",
        "vllm-ascend@v0.23.0:vllm_ascend/platform.py:677-685 (the variable: ascend_config.py:78-83)",
        "v0.20.2rc1",
    ),
    Rule(
        "enable_kv_nz",
        None,
        ("kv_producer", "kv_consumer"),
        "fail",
        'RuntimeError: "enable_kv_nz is only supported for mla currently." (GLM-5\'s sparse attention is not '
        'plain MLA; on a prefill node also "enable_kv_nz is only supported in pd scenario and can only be used '
        'in D node.")',
        "vllm-ascend@v0.23.0:vllm_ascend/ascend_config.py:269-278 (at ff3a50d0 too: ascend_config.py:134-137)",
        STACKS[0],
    ),
    Rule(
        "recompute_scheduler_enable",
        None,
        ("kv_producer",),
        "warn",
        "\"recompute_scheduler_enable is ignored on PD-disaggregated P nodes (kv_role='kv_producer')\": it is set "
        "back to false",
        "vllm-ascend@v0.23.0:vllm_ascend/platform.py:689-700",
        "v0.23.0rc1",
    ),
)


def stack_has(stack: str, since: str) -> bool:
    """Whether `stack`'s vllm-ascend is at or after the release stack `since` (STACKS is in release order)."""
    return stack in STACKS and STACKS.index(stack) >= STACKS.index(since)


def truthy(value: Any) -> bool:
    """An additional-config value or a variable's text as vllm-ascend reads it (`bool(int(...))` for variables)."""
    if isinstance(value, str):
        return bool(whole(value, signed=True))
    return bool(value)


def rule_setting(rule: Rule, additional: Mapping[str, Any], env: Mapping[str, str]) -> tuple[bool, str] | None:
    """Whether the rule's switch is on for this node and what sets it (the key wins over the variable), or None
    when neither sets it."""
    if rule.key in additional:
        return truthy(additional[rule.key]), f"--additional-config {rule.key}"
    if rule.env is not None and rule.env in env:
        return truthy(env[rule.env]), f"{rule.env}={env[rule.env]}"
    return None


def topology(config: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The prefill and decode sizes a --kv-transfer-config announces ({} where a group is missing)."""
    extra = (config or {}).get("kv_connector_extra_config")
    extra = extra if isinstance(extra, dict) else {}
    found: dict[str, dict[str, Any]] = {}
    for group in PD_GROUPS:
        sizes = extra.get(group)
        found[group] = {k: sizes[k] for k in TOPOLOGY_KEYS if k in sizes} if isinstance(sizes, dict) else {}
    return found


def planned_topology(profile: Profile) -> dict[str, dict[str, Any]]:
    """Each group's DP and TP size as the deployment's profile plans them."""
    whole = profile.deployment or profile
    sizes = {}
    for group in PD_GROUPS:
        plan = whole.for_group(group).serve
        sizes[group] = {"dp_size": plan.data_parallel_size, "tp_size": plan.tensor_parallel_size}
    return sizes


def c8_switches(additional: Mapping[str, Any] | None, stack: str) -> tuple[bool, bool]:
    """(enable_sparse_sfa_c8, enable_sparse_li_c8) as vllm-ascend reads them: keys of --additional-config from
    v0.23.0rc1 on (ascend_config.py:280-281@v0.23.0); earlier releases have no 8-bit sparse cache."""
    if not stack_has(stack, "v0.23.0rc1"):
        return False, False
    sfa, li = (truthy((additional or {}).get(key, False)) for key in C8_KEYS)
    return sfa, li


def rank_range(profile: Profile, node: int) -> range:
    """The DP ranks node `node` of its group runs (launch_online_dp.py: --dp-rank-start + 0 .. --dp-size-local - 1)."""
    group = profile.group(profile.pd_group or PD_GROUPS[0])
    return range(node * group.dp_per_node, (node + 1) * group.dp_per_node)


def visible_devices(profile: Profile, rank: int) -> str:
    """The chips the guide's launch_online_dp.py gives DP rank `rank`: its index on the node × TP, TP of them."""
    group = profile.group(profile.pd_group or PD_GROUPS[0])
    tp = profile.serve.tensor_parallel_size
    index = rank % group.dp_per_node
    return ",".join(str(chip) for chip in range(index * tp, (index + 1) * tp))
