"""`glm5check compare A.json B.json …`: do the nodes of one deployment agree?

Each node's JSON report (`glm5check --format json`) carries its resolved plan, packages, CANN/driver,
weights fingerprint, environment, interfaces and NPU device IPs. Nodes must agree on the profile and the
stack, every pinned version and commit, CANN and driver, the weights, every serve flag except `--headless`
and `--data-parallel-start-rank`, and every environment value except the per-node ones (the profile's
[node_env]: HCCL_IF_IP must be an address of its own node and differ between nodes, the *_SOCKET_IFNAME
interfaces must exist on their own node), and the interfaces carrying HCCL_IF_IP must have one MTU.
Their DP ranks must cover 0..DP-1 exactly once, the --data-parallel-address must be an address of the
rank-0 node, and NPU device IPs must not repeat.

Exit 0 when they agree, 1 on any difference, 2 when a report cannot be read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from glm5check import console
from glm5check.errors import ConfigError
from glm5check.knowledge.limits import MAX_DATA_PARALLEL
from glm5check.util import safejson
from glm5check.util.numbers import whole_value
from glm5check.util.shapes import as_dict, as_list, as_text

REPORT_SCHEMA = "glm5check.report/v1"
COMPARE_SCHEMA = "glm5check.compare/v1"
# Serve flags each node sets to its own value.
NODE_SPECIFIC_PLAN = frozenset({"headless", "data_parallel_start_rank"})
NODE_SPECIFIC_FLAGS = frozenset({"--headless", "--no-headless", "--data-parallel-start-rank", "--data-parallel-rank"})
# Launcher variables that name the node or process, so differ by design.
_PER_NODE_ENV = re.compile(r"(^|_)(RANK|PROCID|NODEID|LOCALID|NODENAME|NODE_RANK|LOCAL_RANK|HOSTNAME)$")
MAX_REPORT_BYTES = 64 << 20
# More reports than one comparison needs (a deployment has at most 512 nodes; replicas may add more), and
# the data-parallel ranks a deployment can have (knowledge.limits, as profiles and launch commands are
# checked): a report claiming more ranks is named, not enumerated.
MAX_REPORTS = 4096
MAX_RANKS = MAX_DATA_PARALLEL

# The fields compare reads and the JSON type each must have when present and not null. A report comes
# from another node or person: a field of another type is read as unknown and named in a difference row.
# `*` is every value of an object, `[]` every item of a list.
REPORT_FIELDS: tuple[tuple[str, str], ...] = (
    ("node", "object"),
    ("node.hostname", "string"),
    ("node.rank", "whole number"),
    ("node.role", "string"),
    ("profile", "object"),
    ("profile.name", "string"),
    ("profile.hardware", "object"),
    ("profile.hardware.nodes", "whole number"),
    ("profile.serve", "object"),
    ("profile.serve.data_parallel_size", "whole number"),
    ("profile.serve.data_parallel_size_local", "whole number"),
    ("profile.serve.data_parallel_start_rank", "whole number"),
    ("profile.serve.data_parallel_address", "string"),
    ("profile.node_env", "object"),
    ("profile.node_env.*", "string"),
    ("facts", "object"),
    ("facts.packages", "object"),
    ("facts.packages.*.version", "string"),
    ("facts.packages.*.commit", "string"),
    ("facts.python", "object"),
    ("facts.python.version", "string"),
    ("facts.cann_version", "string"),
    ("facts.driver_version", "string"),
    ("facts.weights", "object"),
    ("facts.weights.fingerprint", "string"),
    ("facts.serve", "object"),
    ("facts.serve.model_path", "string"),
    ("facts.serve.flags", "list"),
    ("facts.serve.flags[]", "object"),
    ("facts.serve.flags[].flag", "string"),
    ("facts.env", "object"),
    ("facts.env.*", "string"),
    ("facts.interfaces", "list"),
    ("facts.interfaces[]", "object"),
    ("facts.interfaces[].name", "string"),
    ("facts.interfaces[].ipv4", "list"),
    ("facts.interfaces[].ipv4[]", "string"),
    ("facts.interfaces[].ipv6", "list"),
    ("facts.interfaces[].ipv6[]", "string"),
    ("facts.npu_device_ips", "object"),
)
# Whole numbers that count or name data-parallel ranks: 0..MAX_RANKS.
RANK_FIELDS = (
    "node.rank",
    "profile.serve.data_parallel_size",
    "profile.serve.data_parallel_size_local",
    "profile.serve.data_parallel_start_rank",
)
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "list": list,
    "string": str,
    "whole number": int,
}


@dataclass(frozen=True)
class NodeReport:
    label: str
    path: str
    data: dict[str, Any]

    @property
    def facts(self) -> dict[str, Any]:
        facts = self.data.get("facts")
        return facts if isinstance(facts, dict) else {}

    @property
    def node(self) -> dict[str, Any]:
        node = self.data.get("node")
        return node if isinstance(node, dict) else {}

    @property
    def plan(self) -> dict[str, Any]:
        """The plan the node was checked with: the plan vLLM runs for its launch command (older reports:
        the profile's, overridden by its launch script)."""
        profile = self.data.get("profile")
        plan = profile.get("serve") if isinstance(profile, dict) else None
        return plan if isinstance(plan, dict) else {}

    def plan_given(self, name: str) -> Any:
        """A plan value the launch command (or the profile standing in for one) sets; None where vLLM's
        default fills it in (reports before serve_sources covered every field: every value is given)."""
        profile = self.data.get("profile")
        sources = profile.get("serve_sources") if isinstance(profile, dict) else None
        source = sources.get(name) if isinstance(sources, dict) else None
        return None if isinstance(source, str) and source.startswith("vllm default") else self.plan.get(name)

    @property
    def multi_node(self) -> bool:
        profile = self.data.get("profile")
        hardware = profile.get("hardware") if isinstance(profile, dict) else None
        nodes = whole_value(hardware.get("nodes")) if isinstance(hardware, dict) else None
        return nodes is not None and nodes > 1

    @property
    def addresses(self) -> set[str]:
        found: set[str] = set()
        for interface in as_list(self.facts.get("interfaces")):
            if isinstance(interface, dict):
                found.update(str(a) for a in as_list(interface.get("ipv4")) + as_list(interface.get("ipv6")))
        return found

    @property
    def hccl_mtu(self) -> int | None:
        """The MTU of the interface that carries this node's HCCL_IF_IP (None when unknown)."""
        address = as_dict(self.facts.get("env")).get("HCCL_IF_IP")
        for interface in as_list(self.facts.get("interfaces")):
            carried = as_list(as_dict(interface).get("ipv4")) + as_list(as_dict(interface).get("ipv6"))
            if address in carried:
                return whole_value(as_dict(interface).get("mtu"))
        return None

    @property
    def interface_names(self) -> set[str]:
        return {str(i.get("name")) for i in as_list(self.facts.get("interfaces")) if isinstance(i, dict)}

    @property
    def dp_ranks(self) -> list[int]:
        """The DP ranks this node's engines take: start rank (else the node's rank) .. + DP-local."""
        plan = self.plan
        start = _count(self.plan_given("data_parallel_start_rank"))
        if start is None:
            start = _count(self.node.get("rank")) or 0
        local = _count(plan.get("data_parallel_size_local")) or _count(plan.get("data_parallel_size")) or 1
        return list(range(start, start + local))


@dataclass(frozen=True)
class Difference:
    topic: str
    item: str
    message: str
    values: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "item": self.item, "message": self.message, "values": dict(self.values)}


class ReportError(ConfigError):
    """Text that is not a usable report; the message says why (`not JSON (…)`, `not a glm5check report …`)."""


def parse_report(text: str) -> dict[str, Any]:
    """A report read from untrusted text (a file, a node's standard output): a JSON object with the report
    schema, else ReportError. Every string in it is made printable (no terminal escapes, no characters
    XML or UTF-8 refuse); every field may still have any type, which NodeReport's accessors cope with."""
    from glm5check.util.text import scrub_tree

    try:
        data = safejson.loads(text)
    except safejson.JsonProblem as exc:
        raise ReportError(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != REPORT_SCHEMA:
        raise ReportError(f"not a glm5check report (schema {REPORT_SCHEMA})")
    return scrub_tree(data)


def _found(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(shown path, value) of every place `path` (with `*` and `[]`) names in value; absent: none."""
    places: list[tuple[str, Any]] = [("", value)]
    for part in path.split("."):
        key, items = part.removesuffix("[]"), part.endswith("[]")
        found = []
        for shown, parent in places:
            if not isinstance(parent, dict):
                continue
            children = parent.items() if key == "*" else [(key, parent[key])] if key in parent else []
            for name, child in children:
                where = f"{shown}.{name}" if shown else str(name)
                if items:
                    found += [(f"{where}[{i}]", v) for i, v in enumerate(child)] if isinstance(child, list) else []
                else:
                    found.append((where, child))
        places = found
    return iter(places)


def _is(value: Any, kind: str) -> bool:
    return isinstance(value, _JSON_TYPES[kind]) and not isinstance(value, bool)


def _kind_of(value: Any) -> str:
    names = {bool: "true/false", dict: "an object", list: "a list", str: "a string", float: "a number"}
    return names.get(type(value), "a whole number" if isinstance(value, int) else type(value).__name__)


def report_problem(data: dict[str, Any]) -> str | None:
    """The first field of a report that compare cannot use (wrong type, or an implausible rank count):
    it is read as unknown, and the report is named in a difference row saying so."""
    for path, kind in REPORT_FIELDS:
        for shown, value in _found(data, path):
            if value is not None and not _is(value, kind):
                return f"{shown} is {_kind_of(value)}, not {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    for path in RANK_FIELDS:
        for shown, value in _found(data, path):
            if isinstance(value, int) and not 0 <= value <= MAX_RANKS:
                return f"{shown} is {value}; a deployment has 0..{MAX_RANKS} data-parallel ranks"
    return None


def load_reports(paths: tuple[str, ...]) -> list[NodeReport]:
    """Read every report; ConfigError (exit 2) names the first that is no report at all."""
    from glm5check.host.inputs import read_input_text

    if len(paths) > MAX_REPORTS:
        raise ConfigError(f"compare takes at most {MAX_REPORTS} reports, not {len(paths)}")
    raw: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        text = read_input_text(path, "report", MAX_REPORT_BYTES)  # a regular file, bounded (InputError)
        try:
            raw.append((path, parse_report(text)))
        except ReportError as exc:
            raise ConfigError(
                f"report {path} is {exc}; write one with `glm5check --profile NAME --format json -o FILE`"
            ) from None
    return [NodeReport(label, path, data) for label, (path, data) in zip(_labels(raw), raw)]


def _labels(raw: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """A unique column name per report: its hostname, else its file name, else its position and path."""
    hostnames = [str(as_dict(data.get("node")).get("hostname") or "") for _, data in raw]
    names = [Path(path).name for path, _ in raw]
    host_counts, name_counts = Counter(hostnames), Counter(names)
    labels = []
    for index, (hostname, name) in enumerate(zip(hostnames, names)):
        if hostname and host_counts[hostname] == 1:
            labels.append(hostname)
        elif name_counts[name] == 1:
            labels.append(name)
        else:
            labels.append(f"#{index + 1} {raw[index][0]}")
    return labels


def compare(nodes: list[NodeReport]) -> list[Difference]:
    differences: list[Difference] = []
    for topic in (_shapes, _profiles, _software, _weights, _serve, _env, _mtu, _ranks, _device_ips):
        differences.extend(topic(nodes))
    return differences


# ---------------------------------------------------------------------------------------------------
# Topics.


def _shapes(nodes: list[NodeReport]) -> Iterator[Difference]:
    for node in nodes:
        problem = report_problem(node.data)
        if problem is not None:
            yield Difference(
                "report",
                "fields",
                f"{node.label}: {problem}; that field is read as unknown (was the report edited, or written "
                "by another tool?)",
                {node.label: "malformed"},
            )


def _profiles(nodes: list[NodeReport]) -> Iterator[Difference]:
    yield from _agree(
        nodes,
        "profile",
        "profile",
        lambda n: as_dict(n.data.get("profile")).get("name"),
        "nodes were checked against different profiles",
    )
    yield from _agree(
        nodes,
        "profile",
        "stack",
        lambda n: as_dict(n.data.get("stack")).get("name"),
        "nodes were checked against different stacks (--stack)",
    )


def _software(nodes: list[NodeReport]) -> Iterator[Difference]:
    names = sorted({name for n in nodes for name in as_dict(n.facts.get("packages"))})
    for name in names:
        packages = {n.label: as_dict(n.facts.get("packages")).get(name) for n in nodes}
        versions = {label: _field(p, "version") or "not installed" for label, p in packages.items()}
        if len(set(versions.values())) > 1:
            yield Difference("packages", f"{name} version", f"{name} differs between nodes", versions)
        commits = {label: _field(p, "commit") for label, p in packages.items()}
        if _commits_differ(list(commits.values()), versions_differ=len(set(versions.values())) > 1):
            shown = {label: commit or "unknown" for label, commit in commits.items()}
            yield Difference("packages", f"{name} commit", f"{name} is built from different commits", shown)
        dirty = {label: _field(p, "dirty") for label, p in packages.items()}
        if "True" in dirty.values():
            yield Difference(
                "packages",
                f"{name} dirty",
                f"{name} is built from a modified source tree on "
                "some node, so the same commit may still run different code",
                {label: "dirty" if d == "True" else "clean" for label, d in dirty.items()},
            )
    yield from _agree(
        nodes,
        "software",
        "python",
        lambda n: as_dict(n.facts.get("python")).get("version"),
        "Python differs between nodes",
    )
    yield from _agree(
        nodes,
        "ascend",
        "CANN",
        lambda n: n.facts.get("cann_version"),
        "CANN toolkit versions differ; HCCL on both ends must match",
    )
    yield from _agree(nodes, "ascend", "driver", lambda n: n.facts.get("driver_version"), "NPU driver versions differ")


def _weights(nodes: list[NodeReport]) -> Iterator[Difference]:
    fingerprints = {n.label: as_dict(n.facts.get("weights")).get("fingerprint") for n in nodes}
    if len(set(fingerprints.values())) > 1:
        shown = {label: _cut(str(f), 23) if f else "unknown" for label, f in fingerprints.items()}
        if None in fingerprints.values():
            missing = ", ".join(label for label, f in fingerprints.items() if not f)
            message = f"the weights could not be read on {missing} (see weights.path there)"
        else:
            message = (
                "the weights differ between nodes (index, shard names, sizes or headers); run "
                "`glm5check weights verify DIR --deep` on each node to find the file"
            )
        yield Difference("weights", "fingerprint", message, shown)
    serve_models = [(as_dict(n.facts.get("serve")).get("model_path")) for n in nodes]
    if any(serve_models):
        yield from _agree(
            nodes,
            "weights",
            "model path",
            lambda n: as_dict(n.facts.get("serve")).get("model_path"),
            "vllm serve is given different model paths",
        )


def _serve(nodes: list[NodeReport]) -> Iterator[Difference]:
    from glm5check.knowledge.launch_command import FIELD_FLAGS

    fields = sorted({key for n in nodes for key in n.plan} - NODE_SPECIFIC_PLAN)
    for name in fields:
        flag = FIELD_FLAGS.get(name, name)
        yield from _agree(
            nodes,
            "serve",
            flag,
            lambda n, key=name: n.plan.get(key),
            f"{flag} differs; every node must launch with the same value",
        )
    flag_sets = {n.label: _extra_flags(n) for n in nodes}
    if all(v is not None for v in flag_sets.values()):
        flags = sorted({flag for values in flag_sets.values() for flag in values or {}})
        for flag in flags:
            yield from _agree(
                nodes,
                "serve",
                flag,
                lambda n, key=flag: (flag_sets[n.label] or {}).get(key, "absent"),
                f"{flag} differs between the launch commands",
            )
    yield from _address_of_node0(nodes)


def _extra_flags(node: NodeReport) -> dict[str, str] | None:
    """Flags of the launch command that are not plan fields (those are compared through the plan)."""
    from glm5check.knowledge.launch_command import FLAG_FIELDS

    serve = node.facts.get("serve")
    if not isinstance(serve, dict) or not isinstance(serve.get("flags"), list):
        return None
    flags: dict[str, str] = {}
    for item in serve["flags"]:
        if not isinstance(item, dict):
            continue
        flag = str(item.get("flag"))
        base = "--" + flag[5:] if flag.startswith("--no-") else flag
        if flag in NODE_SPECIFIC_FLAGS or base.split(".")[0] in FLAG_FIELDS:
            continue
        flags[flag] = "(set)" if item.get("value") is None else str(item.get("value"))
    return flags


def _address_of_node0(nodes: list[NodeReport]) -> Iterator[Difference]:
    node0 = [n for n in nodes if 0 in n.dp_ranks]
    if len(node0) != 1 or not node0[0].addresses:
        return
    for node in nodes:
        address = as_text(node.plan_given("data_parallel_address"))
        if address and address not in node0[0].addresses:
            yield Difference(
                "serve",
                "--data-parallel-address",
                f"{node.label} points at {address}, which is not an address of node 0 "
                f"({node0[0].label}: {', '.join(sorted(node0[0].addresses - {'127.0.0.1', '::1'}))})",
                {node.label: str(address)},
            )


def _env(nodes: list[NodeReport]) -> Iterator[Difference]:
    node_env: dict[str, str] = {}
    for node in nodes:
        profile = node.data.get("profile")
        node_env.update(as_dict(profile.get("node_env") if isinstance(profile, dict) else None))
    names = sorted({name for n in nodes for name in as_dict(n.facts.get("env"))})
    for name in names:
        if name in node_env or _PER_NODE_ENV.search(name):
            continue
        yield from _agree(
            nodes,
            "env",
            name,
            lambda n, key=name: as_dict(n.facts.get("env")).get(key, "unset"),
            f"{name} differs between nodes",
        )
    for name, kind in sorted(node_env.items()):
        yield from (_node_addresses(nodes, name) if kind == "address" else _node_interfaces(nodes, name))


def _node_addresses(nodes: list[NodeReport], name: str) -> Iterator[Difference]:
    values = {n.label: as_text(as_dict(n.facts.get("env")).get(name)) for n in nodes}
    for node in nodes:
        value = values[node.label]
        if not value:
            yield Difference("env", name, f"{name} is unset on {node.label}", {node.label: "unset"})
        elif node.addresses and value not in node.addresses:
            yield Difference(
                "env",
                name,
                f"{name}={value} on {node.label} is not an address of that node",
                {node.label: str(value)},
            )
    repeated = [v for v, count in Counter(v for v in values.values() if v).items() if count > 1]
    for value in repeated:
        yield Difference(
            "env",
            name,
            f"{name}={value} on more than one node; each node sets its own address",
            {label: str(v) for label, v in values.items() if v == value},
        )


def _node_interfaces(nodes: list[NodeReport], name: str) -> Iterator[Difference]:
    for node in nodes:
        value = as_dict(node.facts.get("env")).get(name)
        if not value:
            yield Difference("env", name, f"{name} is unset on {node.label}", {node.label: "unset"})
            continue
        if str(value).startswith("^") or not node.interface_names:
            continue  # an exclusion list names interfaces not to use; nothing to find
        wanted = [part.lstrip("=") for part in str(value).split(",") if part.strip()]
        missing = [part for part in wanted if not any(i == part or i.startswith(part) for i in node.interface_names)]
        if missing:
            yield Difference(
                "env",
                name,
                f"{name}={value} on {node.label}: no interface {', '.join(missing)} "
                f"there (it has {', '.join(sorted(node.interface_names))})",
                {node.label: str(value)},
            )


def _mtu(nodes: list[NodeReport]) -> Iterator[Difference]:
    mtus = {n.label: n.hccl_mtu for n in nodes}
    if len({m for m in mtus.values() if m is not None}) > 1:
        yield Difference(
            "net",
            "MTU",
            "the interfaces carrying HCCL_IF_IP have different MTUs; frames larger than the smallest one "
            "are dropped on the way (jumbo frames on one side only): set one MTU on every node, e.g. "
            "ip link set DEV mtu N",
            {label: "unknown" if m is None else str(m) for label, m in mtus.items()},
        )


def _ranks(nodes: list[NodeReport]) -> Iterator[Difference]:
    if not any(n.multi_node for n in nodes):
        return  # single-node deployments (replicas, say): each node is its own DP group
    sizes = [_count(n.plan.get("data_parallel_size")) for n in nodes]
    dp = max((s for s in sizes if s), default=1)
    claimed = sum(len(n.dp_ranks) for n in nodes)
    if claimed > MAX_RANKS:  # listing who holds each rank would grow as ranks x nodes
        yield Difference(
            "ranks",
            "DP ranks",
            f"the nodes claim {claimed} data-parallel ranks in all, more than any deployment ({MAX_RANKS}); "
            "check --data-parallel-size-local and --data-parallel-start-rank on each node",
            {n.label: _ranks_text(n.dp_ranks)[:40] for n in nodes},
        )
        return
    owners: dict[int, list[str]] = {}
    for node in nodes:
        for rank in node.dp_ranks:
            owners.setdefault(rank, []).append(node.label)
    all_ranks = {n.label: _ranks_text(n.dp_ranks) for n in nodes}
    for rank, labels in sorted(owners.items()):
        if len(labels) > 1:
            yield Difference(
                "ranks",
                f"DP rank {rank}",
                f"DP rank {rank} is taken by {len(labels)} nodes "
                f"({', '.join(labels)}); give each node its own --data-parallel-start-rank",
                {label: all_ranks[label] for label in labels},
            )
        if rank >= dp:
            yield Difference(
                "ranks",
                f"DP rank {rank}",
                f"DP rank {rank} is outside 0..{dp - 1} (--data-parallel-size {dp})",
                {label: all_ranks[label] for label in labels},
            )
    missing = [rank for rank in range(dp) if rank not in owners]
    if missing:
        yield Difference(
            "ranks",
            "DP ranks",
            f"DP rank(s) {_ranks_text(missing)} of 0..{dp - 1} are on no node compared here",
            all_ranks,
        )


def _device_ips(nodes: list[NodeReport]) -> Iterator[Difference]:
    owners: dict[str, set[str]] = {}
    for node in nodes:
        for ip in as_dict(node.facts.get("npu_device_ips")).values():
            owners.setdefault(str(ip), set()).add(node.label)
    shared = {ip: labels for ip, labels in owners.items() if len(labels) > 1}
    if shared:
        labels = sorted({label for group in shared.values() for label in group})
        ips = ", ".join(sorted(shared))
        yield Difference(
            "npu",
            "device IPs",
            f"NPU device IPs configured on more than one node ({ips}); HCCL "
            "needs every device IP to be unique (check /etc/hccn.conf)",
            {label: _cut(ips, 40) for label in labels},
        )


# ---------------------------------------------------------------------------------------------------
# Helpers.


def _agree(nodes: list[NodeReport], topic: str, item: str, value_of: Any, message: str) -> Iterator[Difference]:
    values = {n.label: _show(value_of(n)) for n in nodes}
    if len(set(values.values())) > 1:
        yield Difference(topic, item, message, values)


def _commits_differ(commits: list[str | None], versions_differ: bool) -> bool:
    """Commits agree when every one is known and a prefix of the longest (short and full hashes mix). An
    unknown commit next to a different version (say a PyPI release) adds nothing to the version row."""
    known = [c for c in commits if c]
    if not known or (versions_differ and len(known) < len(commits)):
        return False
    longest = max(known, key=len)
    return len(known) < len(commits) or not all(longest.startswith(c) for c in known)


def _field(package: Any, key: str) -> str | None:
    if isinstance(package, dict):
        value = package.get(key)
        return None if value is None else str(value)
    if isinstance(package, str) and key == "version":
        return package
    return None


def _show(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ranks_text(ranks: list[int]) -> str:
    return ",".join(str(r) for r in ranks) or "none"


def _count(value: Any) -> int | None:
    """A rank or size: a whole number 0..MAX_RANKS (a report claiming 10**12 ranks is not enumerated)."""
    return whole_value(value, 0, MAX_RANKS)


# ---------------------------------------------------------------------------------------------------
# Output.


# Up to this many nodes, one column per node; beyond, one row per node value (a table of N columns by
# D differences grows as N x D, and tabulate wraps every cell: 200 nodes took minutes).
WIDE_TABLE_NODES = 8


def render_table(nodes: list[NodeReport], differences: list[Difference]) -> str:
    from tabulate import tabulate

    from glm5check.util.redact import redact_text

    summary = _summary_line(nodes, differences)
    if not differences:
        return summary + "\n"
    labels = [n.label for n in nodes]
    if len(labels) > WIDE_TABLE_NODES:
        rows = [
            [d.topic, d.item, label, _cut(value), d.message] for d in differences for label, value in d.values.items()
        ]
        table = tabulate(rows, headers=["topic", "item", "node", "value", "why"], tablefmt="simple")
        return redact_text(table) + "\n\n" + summary + "\n"
    rows = [[d.topic, d.item, *(_cut(d.values.get(label, "")) for label in labels), d.message] for d in differences]
    table = tabulate(
        rows,
        headers=["topic", "item", *labels, "why"],
        tablefmt="simple",
        maxcolwidths=[None, 30] + [28] * len(labels) + [60],
    )
    return redact_text(table) + "\n\n" + summary + "\n"


def render_json(nodes: list[NodeReport], differences: list[Difference]) -> str:
    from glm5check.util.redact import redact_tree

    document = {
        "schema": COMPARE_SCHEMA,
        "nodes": [
            {
                "label": n.label,
                "report": n.path,
                "hostname": _text_or_none(n.node.get("hostname")),
                "rank": whole_value(n.node.get("rank"), 0),
                "role": _text_or_none(n.node.get("role")),
                "dp_ranks": n.dp_ranks,
            }
            for n in nodes
        ],
        "differences": [d.to_json() for d in differences],
        "ok": not differences,
    }
    return json.dumps(redact_tree(document), indent=2) + "\n"


def _text_or_none(value: Any) -> str | None:
    """A report's value as the compare schema's string (a report from elsewhere may hold anything)."""
    return None if value is None else _show(value)


def _summary_line(nodes: list[NodeReport], differences: list[Difference]) -> str:
    names = ", ".join(f"{n.label} (DP {_ranks_text(n.dp_ranks)})" for n in nodes)
    if not differences:
        return f"{len(nodes)} nodes agree: {names} · exit 0"
    return f"{len(nodes)} nodes: {names} · {len(differences)} difference(s) · exit 1"


def _cut(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command("compare")
@click.argument("reports", nargs=-1, required=True, metavar="A.json B.json …")
@click.option("--format", "output_format", type=click.Choice(("table", "json")), default="table", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="Write the comparison here instead of standard output.")
@click.pass_context
def compare_command(ctx: click.Context, reports: tuple[str, ...], output_format: str, output: str | None) -> None:
    """Cross-node consistency of JSON reports: exit 1 when the nodes disagree."""
    from glm5check.host.output import check_not_an_input, save_text

    if len(reports) < 2:
        raise ConfigError("compare needs the JSON reports of at least two nodes")
    if output:
        check_not_an_input(output, {f"the compared report {path}": path for path in reports})
    nodes = load_reports(reports)
    differences = compare(nodes)
    text = render_json(nodes, differences) if output_format == "json" else render_table(nodes, differences)
    if output:
        save_text(output, text)
        console.out(_summary_line(nodes, differences) + "\n")
    else:
        console.out(text, "json" if output_format == "json" else "text")
    ctx.exit(1 if differences else 0)
