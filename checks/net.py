"""Two-node readiness: HCCL/Gloo interfaces, ports, and node 0's reachability (failure classes F1-F3).

Two-node launches that fail usually do so minutes into loading, in HCCL or Gloo setup: `HCCL_IF_IP` not on
the NIC the socket variables name, a port already bound, node 1 unable to reach node 0. These checks read
the same facts before launch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from glm5check.engine.check import Result, Status, check, failed, passed, skipped, warned
from glm5check.facts.context import Context, runtime_judged
from glm5check.facts.net import (
    HCCL_IF_IP,
    SOCKET_IFNAME_VARS,
    Nic,
    hccl_port_range,
    hostname_info,
    listening_sockets,
    local_nics,
    nic_by_name,
    nic_carrying,
    node0_address,
    node0_rpc_connect,
    normalise_ip,
    parse_ifname_spec,
    route_to_node0,
    vllm_processes,
)
from glm5check.facts.node import node_info
from glm5check.facts.node_env import candidates_text, nic_candidates, suggested_node_env
from glm5check.facts.stack import env_meaning, inert_variables, run_stack
from glm5check.host.base import ListeningSocket
from glm5check.knowledge.limits import PORT
from glm5check.util.text import export_text

MULTI_ROLES = ("primary", "headless")


# -- shared helpers -----------------------------------------------------------------------------------


def _env(ctx: Context, name: str) -> str | None:
    value = ctx.env.get(name, "").strip()
    return value or None


def _addresses(nics: Sequence[Nic]) -> str:
    listed = [f"{a} ({nic.name})" for nic in nics for a in nic.ipv4 if nic.kind != "loopback"]
    return ", ".join(listed) or "no IPv4 address outside loopback"


def _export_line(ctx: Context, with_address: bool = True) -> str | None:
    suggestion = ctx.fact(suggested_node_env)
    if suggestion is None:
        return _choose_line(ctx)
    exports = suggestion.exports if with_address else suggestion.interface_exports
    return export_text(exports)


def _choose_line(ctx: Context) -> str | None:
    """Several NICs could carry HCCL_IF_IP and nothing tells which reaches the other node: name them,
    never pick one."""
    candidates = nic_candidates(ctx)
    if len(candidates) < 2:
        return None
    return (
        f"export HCCL_IF_IP=<one of {candidates_text(candidates)}: the one that reaches the other node> and name "
        "its NIC in HCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME (give --node0-ip, or a serve "
        "script with --data-parallel-address, and glm5check names it)"
    )


def _state_fix(nic: Nic) -> str:
    if nic.admin_up is False or nic.state == "down":
        return f"ip link set {nic.name} up"
    name = nic.name
    return f"check the cable, transceiver and switch port of {name} (ethtool {name}; ip link show {name})"


def _kind_words(nic: Nic) -> str:
    return {"docker": "a container bridge", "veth": "a veth (one end of a container's virtual link)"}.get(
        nic.kind, "a loopback interface"
    )


# -- net.interfaces -----------------------------------------------------------------------------------


@check(
    "net.interfaces",
    title="HCCL_IF_IP and the socket-interface variables name one up NIC of this host",
    explain="""
Why: two-node GLM-5 launches most often die in HCCL or Gloo setup after minutes of loading
(`hcclCommInitRootInfoConfig ... error code is 15`, `Gloo connectFullMesh failed`,
`Unable to resolve hostname to a (local) address. Using the loopback address as fallback`) because
HCCL_IF_IP is not this host's address, or the interface named by HCCL_SOCKET_IFNAME / GLOO_SOCKET_IFNAME
does not exist, is down, or does not carry HCCL_IF_IP.

What: HCCL_IF_IP against the addresses of this host's interfaces (and their state and MTU);
each *_SOCKET_IFNAME against the interfaces (HCCL: comma list of name prefixes, `=` exact names, `^`
exclusion; Gloo: comma list of exact names; TensorPipe: one exact name), with a value the launch script
computes at run time judged by what it gives on this host; loopback, docker bridges and veth
links are flagged; on node 0, --data-parallel-address must equal HCCL_IF_IP; the hostname must not resolve
to loopback only unless GLOO_SOCKET_IFNAME is set. A variable nothing reads at the run's stack is a note
whatever it names (TP_SOCKET_IFNAME: vLLM never starts torch's TensorPipe RPC).

Fix: export HCCL_IF_IP=<this node's address on the NIC towards the other node> and name that NIC in
the socket variables, e.g. `export HCCL_IF_IP=10.0.0.11 HCCL_SOCKET_IFNAME=enp189s0f0
GLOO_SOCKET_IFNAME=enp189s0f0` (`glm5check fix-env` prints the line for this node).
""",
    nodes="multi",
    roles=MULTI_ROLES,
)
def net_interfaces(ctx: Context) -> list[Result]:
    nics = ctx.fact(local_nics)
    if_ip_result, if_ip_nic = _hccl_if_ip(ctx, nics)
    results = [runtime_judged(ctx, HCCL_IF_IP, if_ip_result)]
    results += [
        runtime_judged(
            ctx, var, _hccl_if_ip_wins(var, _inert_note(ctx, var, _socket_ifname(ctx, var, nics, if_ip_nic)), if_ip_nic)
        )
        for var in SOCKET_IFNAME_VARS
    ]
    if ctx.fact(node_info).role == "primary":
        results.append(_dp_address(ctx, nics))
    results.append(_hostname(ctx, nics))
    return results


def _hccl_if_ip(ctx: Context, nics: tuple[Nic, ...]) -> tuple[Result, Nic | None]:
    raw = _env(ctx, HCCL_IF_IP)
    fix = _export_line(ctx)
    expected = "an address of this host, on an up NIC that reaches the other node"
    if raw is None:
        return failed(
            "HCCL_IF_IP is unset: HCCL then picks a host NIC by itself (by name, docker and lo last), "
            "which need not be the one that reaches the other node",
            item=HCCL_IF_IP,
            expected=expected,
            observed="unset",
            remediation=fix,
        ), None
    address = normalise_ip(raw)
    if address is None:
        return failed(
            f"HCCL_IF_IP={raw} is not an IP address",
            item=HCCL_IF_IP,
            expected=expected,
            observed=raw,
            remediation=fix,
        ), None
    nic = nic_carrying(nics, address)
    if nic is None:
        return failed(
            f"HCCL_IF_IP {address} is not an address of this host (local: {_addresses(nics)})",
            item=HCCL_IF_IP,
            expected=expected,
            observed=address,
            remediation=fix,
        ), None
    observed = f"{address} on {nic.summary()}"
    if nic.kind == "loopback":
        return failed(
            f"HCCL_IF_IP {address} is on loopback {nic.name}: the other node cannot reach it",
            item=HCCL_IF_IP,
            expected=expected,
            observed=observed,
            remediation=fix,
        ), nic
    if nic.usable is False:
        return failed(
            f"HCCL_IF_IP {address} is on {nic.name}, which is {nic.state}",
            item=HCCL_IF_IP,
            expected=expected,
            observed=observed,
            remediation=_state_fix(nic),
        ), nic
    if nic.kind in ("docker", "veth"):
        return warned(
            f"HCCL_IF_IP {address} is on {nic.name}, {_kind_words(nic)}: traffic to the other node is "
            "bridged or NATed; run the container with --network host and use the host's NIC",
            item=HCCL_IF_IP,
            expected=expected,
            observed=observed,
            remediation=fix,
        ), nic
    return passed(f"{address} on {nic.summary()}", item=HCCL_IF_IP, expected=expected, observed=observed), nic


def _hccl_if_ip_wins(var: str, result: Result, if_ip_nic: Nic | None) -> Result:
    """HCCL takes its NIC from HCCL_IF_IP when that is set (HCCL_IF_IP > HCCL_SOCKET_IFNAME, CANN HCCL user
    guide; glm5check/knowledge/stacks/env_meanings.toml): a HCCL_SOCKET_IFNAME that disagrees is then ignored,
    which is misleading, not a launch blocker."""
    if var != "HCCL_SOCKET_IFNAME" or if_ip_nic is None or result.status is not Status.FAIL:
        return result
    return replace(
        result,
        status=Status.WARN,
        message=f"{result.message}; HCCL ignores it while HCCL_IF_IP is set (HCCL_IF_IP > HCCL_SOCKET_IFNAME)",
    )


def _inert_note(ctx: Context, var: str, result: Result) -> Result:
    """A variable nothing reads at the run's stack (TP_SOCKET_IFNAME: vLLM never starts torch's TensorPipe RPC)
    cannot break the launch: whatever it names is a note, with nothing to fix."""
    meaning = env_meaning(ctx, var)
    if meaning is None or not meaning.inert or result.status is Status.PASS:
        return result
    note = meaning.inert_note(ctx.fact(run_stack).name)
    return replace(result, status=Status.PASS, message=f"{result.message}; {note}", remediation=None)


def _socket_ifname(ctx: Context, var: str, nics: tuple[Nic, ...], target: Nic | None) -> Result:
    raw = _env(ctx, var)
    fix = _export_line(ctx, with_address=False)
    expected = f"the NIC that carries HCCL_IF_IP ({target.name})" if target else "an up NIC of this host"
    if raw is None:
        return warned(
            f"{var} is unset; the guide sets it to the NIC that carries HCCL_IF_IP",
            item=var,
            expected=expected,
            observed="unset",
            remediation=fix,
        )
    spec = parse_ifname_spec(var, raw)
    if spec.literal_prefix_error:
        return failed(spec.literal_prefix_error, item=var, expected=expected, observed=raw, remediation=fix)
    names = [nic.name for nic in nics]
    selected = [nic for nic in nics if spec.selects(nic.name)]
    missing = [name for name in spec.names if spec.exact and not spec.exclude and name not in names]
    # Gloo opens a device for every listed name and fails on the first that does not exist.
    if (missing and var != "HCCL_SOCKET_IFNAME") or not selected:
        what = f"no interface named {', '.join(missing)}" if missing else f"it selects no interface ({spec.describe()})"
        return failed(
            f"{var}={raw}: {what} on this host (interfaces: {', '.join(names)})",
            item=var,
            expected=expected,
            observed=raw,
            remediation=fix,
        )
    chosen_names = ", ".join(nic.name for nic in selected)
    if target is not None and target not in selected:
        verb = "excludes it and selects" if spec.exclude else "selects"
        return failed(
            f"HCCL_IF_IP {normalise_ip(_env(ctx, HCCL_IF_IP))} is on {target.name}, but {var}={raw} "
            f"{verb} {chosen_names}",
            item=var,
            expected=expected,
            observed=raw,
            remediation=fix,
        )
    chosen = target if target is not None else selected[0]
    observed = f"{raw} -> {chosen.summary()}"
    if chosen.usable is False:
        return failed(
            f"{var}={raw} selects {chosen.name}, which is {chosen.state}",
            item=var,
            expected=expected,
            observed=observed,
            remediation=_state_fix(chosen),
        )
    if chosen.kind == "loopback":
        return failed(
            f"{var}={raw} selects loopback {chosen.name}: the other node cannot reach it",
            item=var,
            expected=expected,
            observed=observed,
            remediation=fix,
        )
    if chosen.kind in ("docker", "veth"):
        return warned(
            f"{var}={raw} selects {chosen.name}, {_kind_words(chosen)}",
            item=var,
            expected=expected,
            observed=observed,
            remediation=fix,
        )
    if var == "GLOO_SOCKET_IFNAME" and len(selected) > 1:
        return warned(
            f"Gloo opens a device on every listed interface ({chosen_names}); each must reach the other node",
            item=var,
            expected=expected,
            observed=observed,
            remediation=fix,
        )
    carries = ", which carries HCCL_IF_IP" if target is not None else ""
    return passed(f"{var}={raw} selects {chosen.summary()}{carries}", item=var, expected=expected, observed=observed)


def _dp_address(ctx: Context, nics: tuple[Nic, ...]) -> Result:
    item = "data-parallel-address"
    node0 = ctx.fact(node0_address)
    if_ip = normalise_ip(_env(ctx, HCCL_IF_IP))
    expected = f"HCCL_IF_IP ({if_ip})" if if_ip else "this node's HCCL_IF_IP"
    if node0 is None:
        return skipped(
            "node 0's --data-parallel-address is not known; give --serve-script or --node0-ip",
            item=item,
            expected=expected,
        )
    observed = f"{node0.given} (from {node0.source})"
    nic = nic_carrying(nics, node0.address)
    if nic is None:
        return failed(
            f"this is node 0 ({ctx.fact(node_info).source}), but --data-parallel-address {node0.address} is not "
            f"an address of this host (local: {_addresses(nics)})",
            item=item,
            expected=expected,
            observed=observed,
            remediation=f"on node 0 use --data-parallel-address {if_ip or '<HCCL_IF_IP>'}"
            " and the same address on node 1",
        )
    if if_ip is not None and if_ip != node0.address:
        return failed(
            f"--data-parallel-address {node0.address} differs from HCCL_IF_IP {if_ip} on node 0",
            item=item,
            expected=expected,
            observed=observed,
            remediation=f"export HCCL_IF_IP={node0.address} (or use --data-parallel-address {if_ip} on both nodes)",
        )
    return passed(
        f"--data-parallel-address {node0.address} = HCCL_IF_IP, on {nic.summary()}",
        item=item,
        expected=expected,
        observed=observed,
    )


def _gloo_usable(ctx: Context, nics: tuple[Nic, ...]) -> bool:
    raw = _env(ctx, "GLOO_SOCKET_IFNAME")
    if raw is None:
        return False
    spec = parse_ifname_spec("GLOO_SOCKET_IFNAME", raw)
    by_name = {nic.name: nic for nic in nics}
    return (
        spec.literal_prefix_error is None
        and bool(spec.names)
        and all(name in by_name and by_name[name].usable is not False for name in spec.names)
    )


def _hostname(ctx: Context, nics: tuple[Nic, ...]) -> Result:
    info = ctx.fact(hostname_info)
    item = "hostname"
    expected = "resolves to a non-loopback address of this host (or GLOO_SOCKET_IFNAME set)"
    observed = f"{info.hostname} -> {', '.join(info.addresses) or 'unresolved'}"
    local = [a for a in info.addresses if nic_carrying(nics, a) is not None]
    if info.addresses and not info.loopback_only and local:
        return passed(
            f"{info.hostname} resolves to {', '.join(info.addresses)}",
            item=item,
            expected=expected,
            observed=observed,
        )
    if not info.addresses:
        how = "does not resolve"
    elif info.loopback_only:
        how = "resolves to loopback only"
    else:
        how = f"resolves to {', '.join(info.addresses)}, not an address of this host"
    if _gloo_usable(ctx, nics):
        return passed(
            f"{info.hostname} {how}, which is harmless: GLOO_SOCKET_IFNAME is set, so Gloo does not "
            "fall back to the hostname",
            item=item,
            expected=expected,
            observed=observed,
        )
    suggestion = ctx.fact(suggested_node_env)
    address = suggestion.address if suggestion else "<this node's address>"
    return failed(
        f"{info.hostname} {how} and GLOO_SOCKET_IFNAME is not usable: Gloo then falls back to the "
        "loopback address ('Unable to resolve hostname to a (local) address')",
        item=item,
        expected=expected,
        observed=observed,
        remediation=_export_line(ctx, with_address=False) or f"add '{address} {info.hostname}' to /etc/hosts",
    )


# -- net.ports ----------------------------------------------------------------------------------------


def _family(address: str) -> int:
    return 6 if ":" in address else 4


def _conflicts(listener: str, bind: str) -> bool:
    """Whether binding `bind` fails because `listener` holds the same port (Linux, dual-stack `::`)."""
    wildcard = {"", "0.0.0.0", "::"}
    if listener == "::" or (listener in wildcard and _family(listener) == _family(bind)):
        return True
    if bind in wildcard:
        return bind == "::" or _family(listener) == _family(bind)
    return normalise_ip(listener) == normalise_ip(bind)


def _holders(sockets: Sequence[ListeningSocket]) -> str:
    parts = []
    for sock in sockets:
        who = (
            f"pid {sock.pid} ({sock.process or 'unknown'})"
            if sock.pid
            else ("a process not visible here (another user, or another container sharing the network)")
        )
        parts.append(f"{sock.address or '*'}:{sock.port} held by {who}")
    return "; ".join(parts)


def _port_item(ctx: Context, item: str, port: int, bind: str, what: str, flag: str) -> Result:
    # A TCP port a server can be told to listen on (0 asks the kernel for any free port: not a planned one).
    ports = PORT.span().replace("..", "-")
    if not PORT.admits(port):
        return failed(
            f"{what} {port} is outside {ports}: vllm serve cannot listen on it",
            item=item,
            expected=f"a TCP port in {ports}",
            observed=str(port),
            remediation=f"set {flag} to a free port in {ports} (the same on every node)",
        )
    tcp = [s for s in ctx.fact(listening_sockets) if s.protocol.startswith("tcp")]
    busy = [s for s in tcp if s.port == port and _conflicts(s.address, bind)]
    expected = f"TCP {port} free on {bind}"
    if not busy:
        return passed(f"{what} {port} is free on {bind}", item=item, expected=expected, observed="free")
    pids = sorted({s.pid for s in busy if s.pid})
    stop = f"stop pid {', '.join(map(str, pids))} (kill {' '.join(map(str, pids))})" if pids else "stop its owner"
    return failed(
        f"{what} {port} on {bind} is in use: {_holders(busy)}",
        item=item,
        expected=expected,
        observed=_holders(busy),
        remediation=f"{stop}, or choose another {flag}",
    )


@check(
    "net.ports",
    title="API and data-parallel RPC ports are free; no vLLM already running",
    explain="""
Why: a port held by a leftover process fails the launch late (`Address already in use`, HCCL
`EJ0003 ... The IP address and port have been bound already`,
`listen on ip[...] and specific port[...] fail`),
and a second vLLM on the node fights the first for NPUs and ports.

What: on a single node and on node 0, the API port (--port, 8077 in the guide) on --host; on node 0 the
data-parallel RPC port (--data-parallel-rpc-port, 13389 on A2 / 12890 on A3) on --data-parallel-address;
each against this host's listening TCP sockets, naming the process that holds a busy port when it is
visible, and a port outside 1-65535 fails. On every node: running vLLM processes, and on two nodes the
HCCL host port range (HCCL_IF_BASE_PORT, default 60000, 32 ports).

Fix: stop the process named in the result (`kill PID`), or choose another --port /
--data-parallel-rpc-port (the same on both nodes) / HCCL_IF_BASE_PORT.
""",
)
def net_ports(ctx: Context) -> list[Result]:
    results: list[Result] = []
    plan = ctx.plan
    role = ctx.fact(node_info).role
    # Node 0 serves the API; with --data-parallel-rank every vllm serve runs its own API server.
    if role in ("single", "primary") or plan.data_parallel_rank is not None:
        assert plan.port is not None  # the effective plan fills in vLLM's default
        results.append(_port_item(ctx, "api-port", plan.port, plan.host or "0.0.0.0", "API port", "--port"))
    if role == "primary":
        if plan.data_parallel_rpc_port is None:
            results.append(skipped("no --data-parallel-rpc-port in the plan", item="rpc-port"))
        else:
            node0 = ctx.fact(node0_address)
            bind = node0.address if node0 else normalise_ip(_env(ctx, HCCL_IF_IP)) or "0.0.0.0"
            results.append(
                _port_item(
                    ctx,
                    "rpc-port",
                    plan.data_parallel_rpc_port,
                    bind,
                    "data-parallel RPC port",
                    "--data-parallel-rpc-port",
                )
            )
    if role != "single":
        results.append(_hccl_ports(ctx))
    results.append(_running_vllm(ctx))
    return results


def _hccl_ports(ctx: Context) -> Result:
    first, last, why = hccl_port_range(ctx)
    bind = normalise_ip(_env(ctx, HCCL_IF_IP)) or "0.0.0.0"
    tcp = [s for s in ctx.fact(listening_sockets) if s.protocol.startswith("tcp")]
    busy = [s for s in tcp if first <= s.port <= last and _conflicts(s.address, bind)]
    expected = f"TCP {first}-{last} free on {bind} ({why})"
    if not busy:
        return passed(f"HCCL host ports {first}-{last} are free", item="hccl-ports", expected=expected, observed="free")
    return warned(
        f"HCCL host ports {first}-{last} ({why}) are partly in use: {_holders(busy)}",
        item="hccl-ports",
        expected=expected,
        observed=_holders(busy),
        remediation=f"stop the holder, or export HCCL_IF_BASE_PORT=<a free base>; reserve the range with "
        f"sysctl -w net.ipv4.ip_local_reserved_ports={first}-{last}",
    )


def _running_vllm(ctx: Context) -> Result:
    procs = ctx.fact(vllm_processes)
    if not procs:
        return passed("no vLLM process is running", item="vllm-running", expected="none", observed="none")
    listed = "; ".join(f"pid {p.pid}: {' '.join(p.cmdline)[:120] or p.name}" for p in procs[:5])
    return warned(
        f"{len(procs)} vLLM process(es) already running: {listed}",
        item="vllm-running",
        expected="none",
        observed=listed,
        remediation=f"stop it before launching again: kill {' '.join(str(p.pid) for p in procs[:5])}",
    )


# -- net.node0 ----------------------------------------------------------------------------------------


@check(
    "net.node0",
    title="Node 0 is reachable from this node, from HCCL_IF_IP",
    explain="""
Why: node 1 (`--headless --data-parallel-start-rank 1`) connects to node 0's --data-parallel-address and RPC
port, and HCCL links the two nodes over HCCL_IF_IP; when node 0 is unreachable, or the route leaves from
another address, the launch hangs and ends in `wait socket establish timeout` or `Transport init error`.

What: node 0's address (from the serve script's --data-parallel-address, --node0-ip or the
profile) must not be on this host; the kernel's route towards it (`ip -o route get`) must leave from
HCCL_IF_IP over an up interface; a bounded TCP connect to node 0's RPC port must be answered: `connection
refused` proves node 0 is up (nothing listens before launch), a timeout or `no route to host` fails.

Fix: bring up the NIC named in the result, correct HCCL_IF_IP to the source address of the route
towards node 0, check cabling / VLAN / firewall (TCP to the RPC port must not be dropped), and make both
nodes' scripts use the same --data-parallel-address.
""",
    nodes="multi",
    roles=("headless",),
)
def net_node0(ctx: Context) -> list[Result]:
    node0 = ctx.fact(node0_address)
    if node0 is None:
        return [
            skipped(
                "node 0's address is not known; give --serve-script (with --data-parallel-address) or --node0-ip",
                item="address",
            )
        ]
    if normalise_ip(node0.address) is None:
        return [
            failed(
                f"node 0's address {node0.given} (from {node0.source}) does not resolve to an IP address here",
                item="address",
                expected="an IP address, or a name this node resolves",
                observed=node0.given,
                remediation="use node 0's IP address in --data-parallel-address (the same on both nodes)",
            )
        ]
    nics = ctx.fact(local_nics)
    local = nic_carrying(nics, node0.address)
    if local is not None:
        return [
            failed(
                f"node 0's address {node0.address} (from {node0.source}) is on this host ({local.name}), "
                f"but this node runs as rank {ctx.fact(node_info).rank} ({ctx.fact(node_info).source})",
                item="address",
                expected="node 0's address, not one of this host",
                observed=f"{node0.address} on {local.name}",
                remediation="run node 0's script here, or use node 0's real address in --data-parallel-address",
            )
        ]
    return [_route(ctx, nics, node0.address), _connect(ctx, nics, node0.address)]


def _route(ctx: Context, nics: tuple[Nic, ...], address: str) -> Result:
    route = ctx.fact(route_to_node0)
    if_ip = normalise_ip(_env(ctx, HCCL_IF_IP))
    expected = f"a route to {address} from HCCL_IF_IP {if_ip or '(unset)'} over an up interface"
    if route is None:
        return skipped(f"node 0's address {address} is not an IP address", item="route", expected=expected)
    lookup = route.lookup
    if not lookup.found:
        return failed(
            f"no route to node 0 {address}: {lookup.error}",
            item="route",
            expected=expected,
            observed=lookup.error,
            remediation="give this node an address on node 0's network "
            "(ip addr add ... dev <nic>) or a route to it (ip route add ...)",
        )
    nic = nic_by_name(nics, lookup.dev)
    observed = f"{lookup.describe()} ({route.method})" + (f"; {nic.summary()}" if nic else "")
    if nic is not None and nic.usable is False:
        return failed(
            f"the route to node 0 {address} uses {nic.name}, which is {nic.state}",
            item="route",
            expected=expected,
            observed=observed,
            remediation=_state_fix(nic),
        )
    if if_ip is not None and lookup.src and normalise_ip(lookup.src) != if_ip:
        inert = inert_variables(ctx)
        named = " ".join(f"{v}={lookup.dev}" for v in SOCKET_IFNAME_VARS if v not in inert)
        fix = f"export HCCL_IF_IP={lookup.src} {named}"
        return failed(
            f"the route to node 0 {address} leaves {lookup.describe()}, not from HCCL_IF_IP {if_ip}",
            item="route",
            expected=expected,
            observed=observed,
            remediation=fix,
        )
    via = f" via gateway {lookup.via}" if lookup.via else ""
    return passed(
        f"node 0 {address} is reached over {nic.summary() if nic else lookup.dev} from "
        f"{lookup.src or 'an unknown source'}{via}",
        item="route",
        expected=expected,
        observed=observed,
    )


def _connect(ctx: Context, nics: tuple[Nic, ...], address: str) -> Result:
    port = ctx.plan.data_parallel_rpc_port
    answer = ctx.fact(node0_rpc_connect)
    expected = f"TCP {address}:{port} answers (refused or accepted)"
    if answer is None:
        return skipped("no --data-parallel-rpc-port in the plan", item="rpc-connect", expected=expected)
    observed = f"{answer.outcome}: {answer.detail}" if answer.detail else answer.outcome
    if answer.elapsed_ms is not None:
        observed += f" ({answer.elapsed_ms} ms)"
    if answer.outcome == "refused":
        return passed(
            f"{address}:{port} refused the connection: node 0 is up, nothing listens yet (expected before launch)",
            item="rpc-connect",
            expected=expected,
            observed=observed,
        )
    if answer.outcome == "connected":
        return passed(
            f"{address}:{port} accepted the connection: node 0's vLLM is already listening",
            item="rpc-connect",
            expected=expected,
            observed=observed,
        )
    route = ctx.fact(route_to_node0)
    path = "no route"
    if route is not None and route.lookup.found:
        nic = nic_by_name(nics, route.lookup.dev)
        path = f"{route.lookup.describe()}" + (f", {nic.summary()}" if nic else "")
    elif route is not None:
        path = f"no route ({route.lookup.error})"
    return failed(
        f"node 0 {address}:{port} did not answer ({observed}); path used: {path}",
        item="rpc-connect",
        expected=expected,
        observed=observed,
        remediation=f"check that node 0 is up and on this network (ping {address}), the cabling / VLAN "
        f"of the interface above, and that no firewall drops TCP {port} on node 0",
    )
