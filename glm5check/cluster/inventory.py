"""The nodes of a deployment: from `--hosts a,b,…` (in node-rank order) or an inventory file (TOML).

    via = "ssh"                          # optional; --via wins
    command = "python3 -m glm5check"     # optional: how glm5check starts on the nodes (default glm5check)
    ssh_config = "/etc/glm5check/ssh_config"   # optional: ssh -F FILE
    user = "root"                        # optional defaults for every node: user, port (ssh, pdsh),
    port = 22                            #   namespace, container (kubectl)

    [[nodes]]
    host = "npu-a2-01"
    rank = 0                             # or role = "primary" / "headless"; both optional
    serve_script = "/shared/launch/node0.sh"   # a path on that node; never read here

Every value is checked before anything runs: host, user, namespace and container names are plain names
(they cannot start with `-` and be taken for an option), unknown keys are refused (a typo would
otherwise be ignored), ranks are unique. Any problem is a ConfigError (exit 2).
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, replace
from typing import Any

from glm5check.errors import ConfigError
from glm5check.util.numbers import whole_value
from glm5check.util.text import HOST, printable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MAX_NODES = 1024
MAX_INVENTORY_BYTES = 1 << 20
ROLES = ("primary", "headless")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")
_KUBE_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")
_NODE_KEYS = {"host", "rank", "role", "serve_script", "user", "port", "namespace", "container"}
_DEFAULT_KEYS = {"user", "port", "namespace", "container"}
_TOP_KEYS = {"via", "command", "ssh_config", "nodes"} | _DEFAULT_KEYS


class InventoryError(ConfigError):
    """An inventory or --hosts list that cannot be used (exit code 2)."""


@dataclass(frozen=True)
class NodeSpec:
    host: str
    rank: int | None = None
    role: str | None = None
    serve_script: str | None = None
    user: str | None = None
    port: int | None = None
    namespace: str | None = None
    container: str | None = None

    @property
    def rank_or_role(self) -> str:
        if self.rank is not None:
            return str(self.rank)
        return self.role or "?"


@dataclass(frozen=True)
class Inventory:
    nodes: tuple[NodeSpec, ...]
    via: str | None = None
    command: tuple[str, ...] | None = None
    ssh_config: str | None = None

    @property
    def node0(self) -> NodeSpec:
        """Node 0: the node with rank 0, else the one whose role is primary, else the first one."""
        for wanted in (lambda n: n.rank == 0, lambda n: n.role == "primary"):
            found = next((n for n in self.nodes if wanted(n)), None)
            if found is not None:
                return found
        return self.nodes[0]


def from_hosts(text: str) -> Inventory:
    """`--hosts a,b,user@c`: node ranks by position (the first host is node 0)."""
    entries = [e.strip() for e in text.split(",")]
    if not any(entries) or not all(entries):
        raise InventoryError(f"--hosts takes host names separated by commas, not {text!r}")
    nodes = []
    for rank, entry in enumerate(entries):
        user, _, host = entry.rpartition("@")
        nodes.append(NodeSpec(_name(host, HOST, "host"), rank=rank, user=_name(user, _USER, "user") if user else None))
    return _checked(Inventory(tuple(nodes)))


def load_inventory(path: str) -> Inventory:
    from glm5check.host.inputs import read_input_text

    text = read_input_text(path, "inventory", MAX_INVENTORY_BYTES)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(f"inventory {path} is not TOML: {exc}") from None
    return _checked(parse_inventory(data, f"inventory {path}"))


def parse_inventory(data: dict[str, Any], where: str) -> Inventory:
    _no_unknown_keys(data, _TOP_KEYS, where)
    nodes = data.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise InventoryError(f"{where}: needs [[nodes]] tables, each with a host")
    defaults = {k: v for k, v in data.items() if k in _DEFAULT_KEYS}
    specs = []
    for index, entry in enumerate(nodes, start=1):
        if not isinstance(entry, dict):
            raise InventoryError(f"{where}: node {index} is not a table")
        specs.append(_node({**defaults, **entry}, f"{where}, node {index}"))
    command = data.get("command")
    return Inventory(
        tuple(specs),
        via=_optional_text(data.get("via"), "via", where),
        command=None if command is None else remote_command(_optional_text(command, "command", where) or ""),
        ssh_config=_optional_text(data.get("ssh_config"), "ssh_config", where),
    )


def remote_command(text: str) -> tuple[str, ...]:
    """How glm5check starts on a node, e.g. `python3 -m glm5check` or `/opt/venv/bin/glm5check`."""
    try:
        words = tuple(shlex.split(text))
    except ValueError as exc:
        raise InventoryError(f"the remote command {text!r} cannot be split into words: {exc}") from None
    if not words or words[0].startswith("-") or any(printable(w) != w for w in words):
        raise InventoryError(f"the remote command {text!r} is empty, starts with -, or holds control characters")
    return words


def with_serve_script(node: NodeSpec, template: str | None) -> NodeSpec:
    """The node with --serve-script applied, `{rank}` and `{host}` replaced, unless its inventory entry
    names its own script."""
    if node.serve_script is not None or template is None:
        return node
    if "{rank}" in template and node.rank is None:
        raise InventoryError(f"--serve-script {template!r} uses {{rank}}, but {node.host} has no rank")
    path = template.replace("{rank}", str(node.rank)).replace("{host}", node.host)
    return replace(node, serve_script=_path(path, "--serve-script"))


def _node(entry: dict[str, Any], where: str) -> NodeSpec:
    _no_unknown_keys(entry, _NODE_KEYS, where)
    host = entry.get("host")
    if not isinstance(host, str):
        raise InventoryError(f'{where}: needs host = "NAME"')
    rank, role, port = entry.get("rank"), entry.get("role"), entry.get("port")
    if rank is not None and whole_value(rank, 0, MAX_NODES - 1) is None:
        raise InventoryError(f"{where}: rank must be a whole number 0..{MAX_NODES - 1}, not {rank!r}")
    if role is not None and role not in ROLES:
        raise InventoryError(f"{where}: role must be one of {', '.join(ROLES)}, not {role!r}")
    if port is not None and whole_value(port, 1, 65535) is None:
        raise InventoryError(f"{where}: port must be a whole number 1..65535, not {port!r}")
    return NodeSpec(
        host=_name(host, HOST, f"{where}: host"),
        rank=rank,
        role=role,
        serve_script=_path(entry["serve_script"], f"{where}: serve_script") if "serve_script" in entry else None,
        user=_optional_name(entry.get("user"), _USER, f"{where}: user"),
        port=port,
        namespace=_optional_name(entry.get("namespace"), _KUBE_NAME, f"{where}: namespace"),
        container=_optional_name(entry.get("container"), _KUBE_NAME, f"{where}: container"),
    )


def _checked(inventory: Inventory) -> Inventory:
    nodes = inventory.nodes
    if len(nodes) > MAX_NODES:
        raise InventoryError(f"{len(nodes)} nodes: at most {MAX_NODES}")
    for what, values in (
        ("host", [n.host for n in nodes]),
        ("rank", [str(n.rank) for n in nodes if n.rank is not None]),
    ):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise InventoryError(f"{what} {', '.join(repeated)} given to more than one node")
    if sum(n.role == "primary" for n in nodes) > 1:
        raise InventoryError('more than one node has role = "primary" (node 0)')
    for node in nodes:
        if (node.rank == 0 and node.role == "headless") or (node.role == "primary" and node.rank not in (None, 0)):
            raise InventoryError(f"{node.host}: rank {node.rank} and role {node.role} contradict each other")
    return inventory


def _no_unknown_keys(entry: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(entry) - known)
    if unknown:
        raise InventoryError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _name(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        raise InventoryError(f"{what} {value!r} is not a plain name (letters, digits, . _ - :; not starting with -)")
    return value


def _optional_name(value: Any, pattern: re.Pattern[str], what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InventoryError(f"{what} must be a string, not {value!r}")
    return _name(value, pattern, what)


def _optional_text(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or printable(value) != value:
        raise InventoryError(f"{where}: {key} must be a non-empty string without control characters")
    return value


def _path(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or printable(value) != value or "\n" in value or "\t" in value:
        raise InventoryError(f"{what} must be a path without control characters, not {value!r}")
    return value
