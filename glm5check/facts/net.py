"""Network facts for two-node deployments: interfaces, the socket-interface variables, node 0's address,
the route towards it, listening sockets and running vLLM processes.

Everything is read through ctx.host (psutil answers, /sys/class/net files, `ip -o route get`, a bounded
TCP connect), so a snapshot replays it without touching the network.
"""

from __future__ import annotations

import ipaddress
import posixpath
from typing import TYPE_CHECKING, Any, NamedTuple

from glm5check.engine.context import reported_fact
from glm5check.host.base import ConnectResult, Interface, ListeningSocket, Process
from glm5check.host.paths import PathEscape, confined_join
from glm5check.parsers.iproute import RouteLookup, parse_route_get
from glm5check.util.numbers import whole

if TYPE_CHECKING:
    from glm5check.facts.context import Context

HCCL_IF_IP = "HCCL_IF_IP"
SOCKET_IFNAME_VARS = ("HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME")
HCCL_BASE_PORT_VAR = "HCCL_IF_BASE_PORT"
HCCL_DEFAULT_BASE_PORT = 60000
HCCL_PORT_COUNT = 32  # CANN 8.x: "占用以该端口起始的32个端口"
SYSFS_NET = "/sys/class/net"
IFF_UP = 0x1

# Name prefixes of virtual interfaces that do not leave the host (or only through NAT).
_DOCKER_PREFIXES = ("docker", "br-", "cni", "flannel", "cali", "virbr", "podman", "lxcbr", "weave")
_VETH_PREFIXES = ("veth",)


# -- the *_SOCKET_IFNAME variables ----------------------------------------------------------------------


class IfnameSpec(NamedTuple):
    """One *_SOCKET_IFNAME value as its reader understands it.

    HCCL (CANN docs, envref HCCL_SOCKET_IFNAME): a comma list of name prefixes; `=` makes them exact names,
    `^` turns the list into an exclusion (`^=` excludes exact names); the first match is used and HCCL_IF_IP
    takes precedence. Gloo (torch ProcessGroupGloo) splits on commas and opens one device per exact name;
    TensorPipe (torch RPC) takes one exact name. torch knows no `^` or `=`: such a value names an interface
    that does not exist.
    """

    variable: str
    raw: str
    names: tuple[str, ...]
    exclude: bool = False
    exact: bool = True
    literal_prefix_error: str | None = None  # a `^`/`=` form given to a reader that takes exact names

    def selects(self, ifname: str) -> bool:
        if self.exact:
            hit = ifname in self.names
        else:
            hit = any(ifname.startswith(prefix) for prefix in self.names)
        return hit != self.exclude

    def describe(self) -> str:
        kind = "exact names" if self.exact else "name prefixes"
        return f"{'all interfaces except ' if self.exclude else ''}{kind} {', '.join(self.names) or '(none)'}"


def parse_ifname_spec(variable: str, raw: str) -> IfnameSpec:
    value = raw.strip()
    if variable == "HCCL_SOCKET_IFNAME":
        exclude = value.startswith("^")
        value = value[1:] if exclude else value
        exact = value.startswith("=")
        value = value[1:] if exact else value
        return IfnameSpec(variable, raw, _split_names(value), exclude=exclude, exact=exact)
    names = _split_names(value)
    if variable == "TP_SOCKET_IFNAME":
        names = (value,) if value else ()
    prefix_error = None
    if value[:1] in ("^", "="):
        prefix_error = f"{variable} takes exact interface names; torch reads {value!r} literally"
    return IfnameSpec(variable, raw, names, literal_prefix_error=prefix_error)


def _split_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


# -- interfaces -----------------------------------------------------------------------------------------


class Nic(NamedTuple):
    """A network interface with the state a person needs: admin flag, carrier (operstate), MTU, addresses."""

    name: str
    is_up: bool | None  # psutil's isup: IFF_RUNNING (giampaolo/psutil#1831, 2020), IFF_UP before
    admin_up: bool | None  # IFF_UP from /sys/class/net/NAME/flags
    operstate: str | None  # /sys/class/net/NAME/operstate: up, down, lowerlayerdown, unknown, dormant
    mtu: int | None
    speed_mbps: int | None
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    netmasks: tuple[tuple[str, str | None], ...]  # (address, netmask) for IPv4 and IPv6

    @property
    def kind(self) -> str:
        """loopback, docker (bridges of container runtimes), veth, or nic."""
        if self.name == "lo" or any(ipaddress.ip_address(a).is_loopback for a in self.ipv4 if _is_ip(a)):
            return "loopback"
        if self.name.startswith(_DOCKER_PREFIXES):
            return "docker"
        if self.name.startswith(_VETH_PREFIXES):
            return "veth"
        return "nic"

    @property
    def usable(self) -> bool | None:
        """True when the interface can carry traffic now (admin up and carrier), None when unknown."""
        if self.admin_up is False:
            return False
        if self.operstate in ("up", "unknown"):
            return True
        if self.operstate in ("down", "lowerlayerdown", "dormant", "notpresent"):
            return False
        return self.is_up

    @property
    def state(self) -> str:
        """`up`, `administratively down`, `no carrier (operstate down)` or `unknown`."""
        if self.admin_up is False:
            return "administratively down"
        if self.operstate in ("down", "lowerlayerdown", "dormant", "notpresent"):
            return f"no carrier (operstate {self.operstate})"
        if self.usable:
            return "up"
        if self.is_up is False:
            return "down"
        return "unknown"

    def summary(self) -> str:
        mtu = f", MTU {self.mtu}" if self.mtu else ""
        return f"{self.name} ({self.state}{mtu})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "operstate": self.operstate,
            "mtu": self.mtu,
            "speed_mbps": self.speed_mbps,
            "ipv4": list(self.ipv4),
            "ipv6": list(self.ipv6),
            "kind": self.kind,
        }


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def normalise_ip(text: str | None) -> str | None:
    """The canonical form of an IP address, or None when text is not one."""
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip().split("%")[0]))
    except ValueError:
        return None


def _read_sysfs(ctx: Context, name: str, leaf: str) -> str | None:
    try:  # an interface name from a snapshot is data: `../../etc` is no interface
        path = confined_join(SYSFS_NET, f"{name}/{leaf}")
    except PathEscape:
        return None
    read = ctx.host.read_file(path)
    return read.text.strip() if read.text is not None and read.text.strip() else None


def _interesting(iface: Interface, named: set[str]) -> bool:
    """Interfaces whose link state is worth a sysfs read: addressed ones and the ones the variables name."""
    if iface.name in named:
        return True
    return any(a.family in ("ipv4", "ipv6") and not a.address.startswith("fe80") for a in iface.addresses)


def _nic(ctx: Context, iface: Interface, read_state: bool) -> Nic:
    admin_up, operstate = None, None
    if read_state:
        flags = _read_sysfs(ctx, iface.name, "flags")
        value = whole(flags, base=16, digits=16)
        admin_up = None if value is None else bool(value & IFF_UP)
        operstate = _read_sysfs(ctx, iface.name, "operstate")
    ipv4 = tuple(a.address for a in iface.addresses if a.family == "ipv4")
    ipv6 = tuple(a.address for a in iface.addresses if a.family == "ipv6")
    masks = tuple((a.address, a.netmask) for a in iface.addresses if a.family in ("ipv4", "ipv6"))
    return Nic(iface.name, iface.is_up, admin_up, operstate, iface.mtu, iface.speed_mbps, ipv4, ipv6, masks)


def local_nics(ctx: Context) -> tuple[Nic, ...]:
    """This host's interfaces with their link state (sysfs read for addressed or named interfaces)."""
    named = {name for var in SOCKET_IFNAME_VARS for name in _split_names(ctx.env.get(var, "").lstrip("^="))}
    return tuple(_nic(ctx, iface, _interesting(iface, named)) for iface in ctx.host.interfaces())


def nic_by_name(nics: tuple[Nic, ...], name: str | None) -> Nic | None:
    return next((nic for nic in nics if nic.name == name), None) if name else None


def nic_carrying(nics: tuple[Nic, ...], address: str | None) -> Nic | None:
    """The interface that has `address` assigned (compared in canonical form)."""
    wanted = normalise_ip(address)
    if wanted is None:
        return None
    for nic in nics:
        if any(normalise_ip(a) == wanted for a in (*nic.ipv4, *nic.ipv6)):
            return nic
    return None


def nic_on_subnet(nics: tuple[Nic, ...], address: str) -> Nic | None:
    """The interface whose subnet contains `address` (fallback when `ip route get` is unavailable)."""
    try:
        target = ipaddress.ip_address(address)
    except ValueError:
        return None
    for nic in nics:
        for addr, mask in nic.netmasks:
            try:
                network = ipaddress.ip_network(f"{addr.split('%')[0]}/{mask}", strict=False)
            except ValueError:
                continue
            if target.version == network.version and target in network and network.prefixlen > 0:
                return nic
    return None


@reported_fact("interfaces")
def _report_interfaces(ctx: Context) -> list[dict[str, Any]] | None:
    nics = ctx.facts.peek(local_nics)
    return None if nics is None else [nic.to_json() for nic in nics]


# -- node 0 -------------------------------------------------------------------------------------------


class Node0Address(NamedTuple):
    address: str  # an IP address (a name given in the script is resolved)
    given: str  # as written in the script / option / profile
    source: str  # where it came from: the serve script's flag, --node0-ip or the profile


def node0_address(ctx: Context) -> Node0Address | None:
    """Node 0's address: the serve script's --data-parallel-address, --node0-ip, else the profile's."""
    candidates = []
    given = ctx.plan.data_parallel_address
    if ctx.launch.from_script and ctx.effective.given("data_parallel_address") and given:
        candidates.append((given, f"--data-parallel-address ({ctx.effective.source('data_parallel_address')})"))
    if ctx.options.node0_ip:
        candidates.append((ctx.options.node0_ip, "--node0-ip"))
    if ctx.profile.serve.data_parallel_address:
        candidates.append((ctx.profile.serve.data_parallel_address, "profile data_parallel_address"))
    if not candidates:
        return None
    given, source = candidates[0]
    address = normalise_ip(given)
    if address is None:
        resolved = [a for a in ctx.host.resolve(given) if normalise_ip(a)]
        ipv4 = [a for a in resolved if ":" not in a]
        address = (ipv4 or resolved or [given])[0]
    return Node0Address(address, given, source)


class Node0Route(NamedTuple):
    lookup: RouteLookup
    method: str  # "ip route get" or "subnet match (ip not available)"


def route_to_node0(ctx: Context) -> Node0Route | None:
    node0 = ctx.fact(node0_address)
    if node0 is None or normalise_ip(node0.address) is None:
        return None
    result = ctx.host.run(["ip", "-o", "route", "get", node0.address])
    if not result.not_found:
        if result.error or result.timed_out:
            return Node0Route(RouteLookup(error=result.describe_failure()), "ip route get")
        return Node0Route(parse_route_get(result.stdout, result.stderr), "ip route get")
    nic = nic_on_subnet(ctx.fact(local_nics), node0.address)
    if nic is None:
        lookup = RouteLookup(error="no local subnet contains it (iproute2 `ip` not installed)")
    else:
        src = next((a for a in (*nic.ipv4, *nic.ipv6) if _same_subnet(nic, a, node0.address)), None)
        lookup = RouteLookup(destination=node0.address, dev=nic.name, src=src)
    return Node0Route(lookup, "subnet match (iproute2 `ip` not installed)")


def _same_subnet(nic: Nic, address: str, other: str) -> bool:
    mask = dict(nic.netmasks).get(address)
    try:
        network = ipaddress.ip_network(f"{address}/{mask}", strict=False)
        return ipaddress.ip_address(other) in network
    except ValueError:
        return False


def node0_rpc_connect(ctx: Context) -> ConnectResult | None:
    node0, port = ctx.fact(node0_address), ctx.plan.data_parallel_rpc_port
    if node0 is None or port is None:
        return None
    return ctx.host.tcp_connect(node0.address, port)


# -- what this node should export ---------------------------------------------------------------------


# -- host name, sockets, processes ----------------------------------------------------------------------


class HostnameInfo(NamedTuple):
    hostname: str
    addresses: tuple[str, ...]

    @property
    def loopback_only(self) -> bool:
        return all(ipaddress.ip_address(a).is_loopback for a in self.addresses if _is_ip(a))


def hostname_info(ctx: Context) -> HostnameInfo:
    name = ctx.host.hostname()
    return HostnameInfo(name, tuple(ctx.host.resolve(name)) if name else ())


def listening_sockets(ctx: Context) -> tuple[ListeningSocket, ...]:
    return ctx.host.listening_sockets()


def vllm_processes(ctx: Context) -> tuple[Process, ...]:
    """Processes that look like a vLLM server or one of its engine workers."""
    return tuple(proc for proc in ctx.host.processes() if is_vllm_process(proc))


def is_vllm_process(proc: Process) -> bool:
    args = list(proc.cmdline)
    if any("glm5check" in arg for arg in args[:3]):
        return False
    for index, arg in enumerate(args):
        if posixpath.basename(arg) == "vllm" and index + 1 < len(args) and args[index + 1] == "serve":
            return True
        if arg.startswith("vllm.entrypoints"):
            return True
    # vLLM names its engine core processes with setproctitle: "VLLM::EngineCore" and friends.
    return proc.name.startswith("VLLM::") or (bool(args) and args[0].startswith("VLLM::"))


def hccl_port_range(ctx: Context) -> tuple[int, int, str]:
    """(first, last, why) of the host ports HCCL's root-info exchange takes."""
    raw = ctx.env.get(HCCL_BASE_PORT_VAR, "").strip()
    parsed = whole(raw, low=1, high=65535 - HCCL_PORT_COUNT + 1)
    if parsed is not None:
        base, why = parsed, f"{HCCL_BASE_PORT_VAR}={raw}"
    else:
        base, why = HCCL_DEFAULT_BASE_PORT, f"HCCL default, {HCCL_BASE_PORT_VAR} unset"
    return base, base + HCCL_PORT_COUNT - 1, why
