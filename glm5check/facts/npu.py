"""NPU facts: the `npu-smi info` table, the chips this node's plan uses, and the NPU network (hccn_tool).

Which chips the plan uses: vLLM numbers the chips it can see 0..N-1 in the order npu-smi lists them
(logical device ids); `ASCEND_RT_VISIBLE_DEVICES` (from the serve script's exports or the environment)
selects and orders them; a node drives the first TP × DP-local of them. A chip's device number, used for
`/dev/davinci<N>` and `hccn_tool -i <N>`, is its Phy-ID on A3 tables and its NPU id otherwise.

Cross-node NPU ping: when `--peer-npu-ips` or its alias `GLM5CHECK_PEER_NPU_IPS` (comma- or
space-separated addresses, e.g. node 0's device IPs as listed under `npu_device_ips` in its JSON report;
the variable in the environment or exported by the serve script), else the profile's `[network]
peer_npu_ips`, gives addresses, each one is pinged
with `hccn_tool -i <device> -ping -g address <ip>`: the i-th address from the i-th planned device (from
the first one when there are more addresses than devices).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from glm5check.engine.context import reported_fact
from glm5check.errors import SeeCheck
from glm5check.facts.context import Context
from glm5check.host.base import ASCEND_TOOL_DIRS, CommandResult
from glm5check.parsers import hccn
from glm5check.parsers.npu_smi import HealthInfo, NpuChip, NpuProcess, NpuSmiInfo, parse_health, parse_info
from glm5check.util.numbers import whole

VISIBLE_DEVICES_VAR = "ASCEND_RT_VISIBLE_DEVICES"
PEER_IPS_VAR = "GLM5CHECK_PEER_NPU_IPS"
HCCN_CONF = "/etc/hccn.conf"
HCCN_QUERIES = ("link", "net_health", "ip", "gateway", "netdetect", "tls")


class NpuSmiState(NamedTuple):
    """What `npu-smi info` answered. `path` is None when npu-smi was not found; `info` is None when the
    run failed (timed out, not found, could not start, output cut off) and its output was not read."""

    path: str | None
    result: CommandResult | None = None
    info: NpuSmiInfo | None = None

    @property
    def chips(self) -> tuple[NpuChip, ...]:
        return self.info.chips if self.info else ()

    @property
    def problem(self) -> str | None:
        """Why there is no chip table to read, in a few words (npu.smi says it in full); None when there is."""
        if self.path is None or self.result is None:
            return "npu-smi not found"
        if self.info is None or self.result.exit_code == 127:
            return "npu-smi info did not answer"
        if self.info.error is not None:
            return f"npu-smi info failed ({self.info.error})"
        if not self.info.chips:
            return "npu-smi info printed no chip table"
        return None


def npu_smi(ctx: Context) -> NpuSmiState:
    path = ctx.host.which("npu-smi", ASCEND_TOOL_DIRS)
    if path is None:
        return NpuSmiState(None)
    result = ctx.host.run([path, "info"])
    unusable = result.timed_out or result.not_found or result.error or result.truncated or result.killed
    info = None if unusable else parse_info(result.output)
    return NpuSmiState(path, result, info)


def device_number(chip: NpuChip) -> int | None:
    """The chip's device number for /dev/davinci<N> and hccn_tool -i <N>: the Phy-ID (A3) or Device
    (310P) column when the table has one, else the NPU id."""
    for number in (chip.phy_id, chip.device, chip.npu):
        if number is not None:
            return number
    return None


def chip_label(chip: NpuChip, two_chip_npus: bool = False) -> str:
    """`NPU 3`, or `NPU 4 chip 1` where NPUs hold two chips (A3, 300I Duo)."""
    if two_chip_npus or (chip.chip not in (None, 0)):
        return f"NPU {chip.npu} chip {chip.chip}"
    return f"NPU {chip.npu}"


class ChipPlan(NamedTuple):
    """The chips vLLM would see on this node and the ones the plan uses."""

    table: tuple[NpuChip, ...]
    visible: tuple[NpuChip, ...]
    planned: tuple[NpuChip, ...]
    needed: int
    visible_devices: str | None  # ASCEND_RT_VISIBLE_DEVICES as set, or None
    bad_ids: tuple[str, ...] = ()  # entries of the variable that name no chip

    @property
    def two_chip_npus(self) -> bool:
        npus = [c.npu for c in self.table]
        return len(set(npus)) < len(npus)

    def label(self, chip: NpuChip) -> str:
        return chip_label(chip, self.two_chip_npus)


def chip_plan(ctx: Context) -> ChipPlan:
    chips = ctx.fact(npu_smi).chips
    needed = ctx.plan.ranks_per_node
    variable = ctx.env.get(VISIBLE_DEVICES_VAR)
    if variable is None or not variable.strip():
        return ChipPlan(chips, chips, chips[:needed], needed, None)
    visible: list[NpuChip] = []
    bad: list[str] = []
    for entry in (e.strip() for e in variable.split(",")):
        index = whole(entry, digits=6)
        if index is not None and index < len(chips) and chips[index] not in visible:
            visible.append(chips[index])
        elif entry:
            bad.append(entry)
    return ChipPlan(chips, tuple(visible), tuple(visible[:needed]), needed, variable, tuple(bad))


def chip_table(ctx: Context) -> ChipPlan:
    """The chip plan of a node whose npu-smi gave a table; when it gave none, npu.smi reports why."""
    problem = ctx.fact(npu_smi).problem
    if problem is not None:
        raise SeeCheck("npu.smi", problem)
    return ctx.fact(chip_plan)


def planned_chips(ctx: Context) -> ChipPlan:
    """The chip plan when it has chips to judge; when no planned chip is visible, npu.count reports why."""
    plan = ctx.fact(chip_table)
    if not plan.planned:
        raise SeeCheck("npu.count", "no planned chip is visible")
    return plan


def processes_on(info: NpuSmiInfo | None, chip: NpuChip) -> tuple[NpuProcess, ...]:
    if info is None:
        return ()
    return tuple(p for p in info.processes if p.npu == chip.npu and (p.chip or 0) == (chip.chip or 0))


def health_details(ctx: Context) -> dict[NpuChip, HealthInfo]:
    """`npu-smi info -t health -i <npu> -c <chip>` (the error codes) for each planned chip whose health is
    not OK; a chip whose query failed is absent. After a query that hangs the others are not asked, so that
    a node full of alarms with a hung driver still gets its results within the check deadline."""
    path = ctx.fact(npu_smi).path
    details: dict[NpuChip, HealthInfo] = {}
    if path is None:
        return details
    for chip in ctx.fact(chip_plan).planned:
        if chip.health in (None, "OK") or chip.npu is None:
            continue
        result = ctx.host.run([path, "info", "-t", "health", "-i", str(chip.npu), "-c", str(chip.chip or 0)])
        if result.timed_out:
            break
        health = parse_health(result.output) if result.ok else None
        if health is not None and health.status:
            details[chip] = health
    return details


# -- hccn_tool -----------------------------------------------------------------------------------------


class DeviceNetwork(NamedTuple):
    """One device's NPU network answers; a None field was not read (see `failures`)."""

    device: int
    link: str | None = None
    net_health: str | None = None
    address: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    netdetect: str | None = None
    tls_switch: int | None = None
    failures: tuple[str, ...] = ()


class NpuNetwork(NamedTuple):
    tool: str | None  # the hccn_tool path, None when not found
    devices: tuple[DeviceNetwork, ...] = ()
    conf: hccn.HccnConf | None = None
    conf_error: str | None = None


def planned_devices(ctx: Context) -> tuple[int, ...]:
    plan = ctx.fact(chip_plan)
    if plan.planned:
        return tuple(n for n in (device_number(c) for c in plan.planned) if n is not None)
    return tuple(range(ctx.plan.ranks_per_node))


def _device_network(ctx: Context, tool: str, device: int) -> DeviceNetwork:
    outputs: dict[str, str] = {}
    failures: list[str] = []
    for command in HCCN_QUERIES:
        result = ctx.host.run([tool, "-i", str(device), f"-{command}", "-g"])
        if result.ok and not result.truncated:
            outputs[command] = result.output
            continue
        failures.append(result.describe_failure() or command)
        if result.timed_out:
            failures.append(f"hccn_tool -i {device} hung: its other queries were not run")
            break
    ip = hccn.parse_ip(outputs.get("ip", ""))
    return DeviceNetwork(
        device=device,
        link=hccn.parse_link(outputs.get("link", "")).value,
        net_health=hccn.parse_net_health(outputs.get("net_health", "")).value,
        address=ip.address,
        netmask=ip.netmask,
        gateway=hccn.parse_gateway(outputs.get("gateway", "")).gateway,
        netdetect=hccn.parse_netdetect(outputs.get("netdetect", "")).value,
        tls_switch=hccn.parse_tls(outputs.get("tls", "")).switch,
        failures=tuple(failures),
    )


def npu_network(ctx: Context) -> NpuNetwork:
    tool = ctx.host.which("hccn_tool", ASCEND_TOOL_DIRS)
    conf_read = ctx.host.read_file(HCCN_CONF)
    conf = hccn.parse_hccn_conf(conf_read.text) if conf_read.text is not None else None
    conf_error = None if conf is not None else (conf_read.error or "unreadable")
    if tool is None:
        return NpuNetwork(None, (), conf, conf_error)
    # Devices are queried in parallel so that a node's 8 or 16 devices answer within one check deadline.
    numbers = planned_devices(ctx)
    with ThreadPoolExecutor(max_workers=max(len(numbers), 1)) as pool:
        devices = tuple(pool.map(lambda device: _device_network(ctx, tool, device), numbers))
    return NpuNetwork(tool, devices, conf, conf_error)


def network_tool(ctx: Context) -> str:
    """hccn_tool's path; when it is not found, npu.network reports it."""
    tool = ctx.fact(npu_network).tool
    if tool is None:
        raise SeeCheck("npu.network", "hccn_tool not found")
    return tool


class LldpPeer(NamedTuple):
    """What `hccn_tool -i N -lldp -g` says about the switch port a device's RoCE port is cabled to."""

    device: int
    ports: tuple[str, ...] = ()  # Ifname values of the Port ID TLV
    system_lines: tuple[str, ...] = ()  # System Name and System Description
    failure: str | None = None

    @property
    def system(self) -> str | None:
        return next((line for line in self.system_lines if line), None)

    @property
    def peer_is_npu(self) -> bool:
        """A back-to-back cable to another NPU (msprechecker's 'AscendNPU' peer), not a switch."""
        return any("ascendnpu" in line.lower().replace(" ", "") for line in self.system_lines)


def _lldp(ctx: Context, tool: str, device: int) -> LldpPeer:
    result = ctx.host.run([tool, "-i", str(device), "-lldp", "-g"])
    if not result.ok or result.truncated:
        return LldpPeer(device, failure=result.describe_failure() or "no answer")
    parsed = hccn.parse_lldp(result.output)
    lines = (*parsed.tlvs.get("System Name", ()), *parsed.tlvs.get("System Description", ()))
    return LldpPeer(device, parsed.ifnames, tuple(line for line in lines if line))


def lldp_peers(ctx: Context) -> tuple[LldpPeer, ...]:
    """The LLDP neighbour of every planned device, asked in parallel like the other hccn_tool queries."""
    tool = ctx.fact(network_tool)
    numbers = planned_devices(ctx)
    with ThreadPoolExecutor(max_workers=max(len(numbers), 1)) as pool:
        return tuple(pool.map(lambda device: _lldp(ctx, tool, device), numbers))


class PeerPing(NamedTuple):
    device: int
    target: str
    run: hccn.PingRun | None = None
    failure: str | None = None


def split_addresses(text: str) -> tuple[str, ...]:
    """The addresses of a comma- or space-separated list."""
    return tuple(a for a in re.split(r"[,\s]+", text) if a)


def peer_ips(ctx: Context) -> tuple[str, ...]:
    """--peer-npu-ips, else the GLM5CHECK_PEER_NPU_IPS variable, else the profile's [network] peer_npu_ips."""
    given = ctx.options.peer_npu_ips or split_addresses(ctx.env.get(PEER_IPS_VAR, ""))
    return given or ctx.profile.network.peer_npu_ips


def _ping(ctx: Context, tool: str, device: int, target: str) -> PeerPing:
    if hccn.valid_ip(target) is None:
        return PeerPing(device, target, None, f"{target!r} in {PEER_IPS_VAR} is not an IP address")
    result = ctx.host.run([tool, "-i", str(device), "-ping", "-g", "address", target])
    runs = () if result.killed or result.error else hccn.parse_ping(result.output).runs
    if runs:
        return PeerPing(device, target, runs[-1])
    why = result.describe_failure() or result.output.strip()[:200] or "no output"
    return PeerPing(device, target, None, why)


def peer_pings(ctx: Context) -> tuple[PeerPing, ...]:
    targets = peer_ips(ctx)
    tool = ctx.fact(npu_network).tool
    devices = planned_devices(ctx)
    if not targets or tool is None or not devices:
        return ()
    pairs = [(devices[i] if i < len(devices) else devices[0], target) for i, target in enumerate(targets)]
    # One thread per address, up to a node's 16 devices: a long list in the variable is no thread storm.
    with ThreadPoolExecutor(max_workers=min(len(pairs), 16)) as pool:
        return tuple(pool.map(lambda pair: _ping(ctx, tool, *pair), pairs))


# -- report facts ---------------------------------------------------------------------------------------


@reported_fact("npus")
def _report_npus(ctx: Context) -> list[dict[str, Any]] | None:
    state = ctx.facts.peek(npu_smi)
    if state is None or state.info is None or not state.info.is_table:
        return None
    return [
        {
            "npu": c.npu,
            "chip": c.chip,
            "name": c.name,
            "health": c.health,
            "hbm_used_mb": c.hbm_used_mb,
            "hbm_total_mb": c.hbm_total_mb,
            "bus_id": c.bus_id,
        }
        for c in state.info.chips
    ]


@reported_fact("npu_processes")
def _report_processes(ctx: Context) -> list[dict[str, Any]] | None:
    state = ctx.facts.peek(npu_smi)
    if state is None or state.info is None or not state.info.is_table:
        return None
    return [
        {"npu": p.npu, "chip": p.chip, "pid": p.pid, "name": p.name, "memory_mb": p.memory_mb}
        for p in state.info.processes
    ]


@reported_fact("npu_device_ips")
def _report_device_ips(ctx: Context) -> dict[str, str | None] | None:
    """Device number -> NPU network address (from `hccn_tool -ip -g`), for `compare` and peer pings."""
    network = ctx.facts.peek(npu_network)
    if network is None or not network.devices:
        return None
    return {str(d.device): d.address for d in network.devices}
