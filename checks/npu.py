"""npu.*: npu-smi answers, enough healthy chips with free HBM for the plan, and (multi-node) the NPU network.

Facts come from glm5check.facts.npu (one `npu-smi info` per run, hccn_tool per planned device). When
npu-smi gives no table, `npu.smi` says why and the chip checks SKIP instead of repeating it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from glm5check.engine.check import (
    Fix,
    Result,
    check,
    dependent,
    errored,
    failed,
    manual_fix,
    passed,
    run_fix,
    skipped,
    warned,
)
from glm5check.errors import SeeCheck
from glm5check.facts.context import Context
from glm5check.facts.npu import (
    PEER_IPS_VAR,
    VISIBLE_DEVICES_VAR,
    ChipPlan,
    DeviceNetwork,
    LldpPeer,
    NpuSmiState,
    chip_plan,
    chip_table,
    health_details,
    lldp_peers,
    npu_network,
    npu_smi,
    peer_pings,
    planned_chips,
    processes_on,
)
from glm5check.facts.weights import memory_fit
from glm5check.host.base import ASCEND_TOOL_DIRS, CommandResult
from glm5check.knowledge.memfit import DRIVER_RESERVED_MB, IDLE_USED_MB, Fit
from glm5check.parsers.npu_smi import NpuChip, NpuProcess
from glm5check.util.units import GIB, MIB

# A chip counts as the profile's HBM class when npu-smi shows at least this share of it.
HBM_CLASS_TOLERANCE = 0.97

# What the DCMI return codes of a failed `npu-smi info` mean on a node.
DCMI_CAUSES = {
    -8005: (
        "the NPU driver could not be opened: the /dev/davinci* devices are not mapped into this container, "
        "another container holds them, or the driver is not loaded",
        "map the devices and driver into the container (docker run --device=/dev/davinci0 … "
        "--device=/dev/davinci_manager --device=/dev/devmm_svm --device=/dev/hisi_hdc "
        "-v /usr/local/Ascend/driver:/usr/local/Ascend/driver), stop the container that holds them, "
        "or load the driver on the host (lsmod | grep drv_davinci)",
    ),
    -8020: (
        "the device is used by another container or process",
        "stop the other container or process using these NPUs (check with npu-smi info on the host)",
    ),
}


def _mount_hint() -> str:
    return (
        "mount the tool into the container: -v /usr/local/bin/npu-smi:/usr/local/bin/npu-smi "
        "-v /usr/local/dcmi:/usr/local/dcmi (older HDKs install it in /usr/local/sbin)"
    )


def _first_lines(text: str, count: int = 3) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:count]
    return " / ".join(lines) if lines else "no output"


def _run_failure_fix(result: CommandResult) -> str:
    if result.timed_out:
        return "a hung npu-smi means a hung driver: check dmesg on the host, restart the driver or reboot"
    if result.not_found or result.exit_code == 127:
        return _mount_hint()
    return "run npu-smi info by hand: the binary in this container may not match the host's driver"


def _smi_failure(state: NpuSmiState) -> Result | None:
    """The npu.smi result when npu-smi gave no usable table; None when it did."""
    if state.path is None or state.result is None:
        where = ", ".join(("PATH", *ASCEND_TOOL_DIRS))
        return failed(
            f"npu-smi not found (searched {where})",
            expected="npu-smi on PATH or in /usr/local/sbin, /usr/local/bin",
            observed="not found",
            remediation=_mount_hint(),
        )
    result, info = state.result, state.info
    if info is None or result.exit_code == 127:  # the npu_smi fact reads no table from a failed run
        return failed(
            result.describe_failure(),
            expected="npu-smi info answers",
            observed=_first_lines(result.output, 1),
            remediation=_run_failure_fix(result),
        )
    if info.error is not None:
        cause, fix = DCMI_CAUSES.get(info.error_code or 0, ("npu-smi printed an error instead of the table", ""))
        return failed(
            f"npu-smi info failed: {info.error} — {cause}",
            expected="the npu-smi info table",
            observed=info.error,
            remediation=fix or "run npu-smi info on the host and fix what it reports",
        )
    if info.unknown_header is not None:
        return errored(
            f"npu-smi {info.tool_version or '(version not printed)'} prints a table header glm5check does not "
            f"know, so its columns are not read (no guess): {info.unknown_header}",
            expected="an npu-smi info layout glm5check knows (21.x-26.x, A2, A3, 310P, Ascend 950)",
            observed=info.unknown_header,
            remediation="report this npu-smi version and its `npu-smi info` output to the glm5check maintainers; "
            "until then, check the chips by hand with npu-smi info",
        )
    if not info.chips:
        return errored(
            f"npu-smi info printed no chip table that glm5check can read: {_first_lines(result.output)}",
            expected="the npu-smi info table",
            observed=_first_lines(result.output),
            remediation="run npu-smi info by hand; report the output if it is a table",
        )
    return None


@check(
    "npu.smi",
    title="npu-smi is present and answers",
    explain="""
Why: npu-smi is the operator's view of the NPUs and the source of the chip, health, HBM and process
facts of every other npu.* check. In a container it only works when the guide's `docker run` mounts it
(`/usr/local/bin/npu-smi`, `/usr/local/dcmi`, the driver) and maps the /dev/davinci* devices; when it
fails, vLLM's own device initialisation fails the same way.

What: npu-smi found on PATH or in /usr/local/sbin, /usr/local/bin, /usr/local/Ascend/driver/tools,
/usr/local/dcmi; `npu-smi info` answering within the probe timeout with a chip table. DCMI errors are
mapped to their causes: -8005 (devices not mapped into the container, held by another container, or the
driver not loaded) and -8020 (device used by another container or process).

Fix: mount the tool and devices as the guide's `docker run` does
(`--device=/dev/davinci0..7 --device=/dev/davinci_manager --device=/dev/devmm_svm --device=/dev/hisi_hdc
-v /usr/local/dcmi:/usr/local/dcmi -v /usr/local/bin/npu-smi:/usr/local/bin/npu-smi
-v /usr/local/Ascend/driver:/usr/local/Ascend/driver`); stop the container that holds the devices;
if npu-smi hangs, check `dmesg` on the host and restart the driver.
""",
)
def npu_smi_check(ctx: Context) -> Result:
    state = ctx.fact(npu_smi)
    failure = _smi_failure(state)
    if failure is not None:
        return failure
    info = state.info
    assert info is not None  # _smi_failure returned None, so there is a table
    version = info.tool_version or "unknown version"
    unread = f"; {len(info.unread)} line(s) not understood" if info.unread else ""
    return passed(
        f"{state.path} ({version}, driver {info.driver_version or 'unknown'}) lists {len(info.chips)} chips{unread}",
        observed=f"{len(info.chips)} chips",
    )


@check(
    "npu.count",
    title="Enough NPU chips for TP × DP-local",
    explain="""
Why: each vLLM rank on a node drives one NPU chip; a node runs tensor-parallel-size ×
data-parallel-size-local ranks (8 on an Atlas 800 A2, 16 dies on an A3). With fewer visible chips vLLM
stops with "local_world_size (8) must be less than or equal to the number of visible devices".

What: the chips npu-smi lists, narrowed and ordered by ASCEND_RT_VISIBLE_DEVICES when it is set (by the
environment or the serve script), against TP × DP-local of the plan; chip names against the profile's.

Fix: map all the devices into the container (`--device=/dev/davinci0` … `/dev/davinci15` on an A3),
unset or widen ASCEND_RT_VISIBLE_DEVICES (`export ASCEND_RT_VISIBLE_DEVICES=0,1,2,3,4,5,6,7`), or lower
--tensor-parallel-size to what the node has.
""",
)
def npu_count(ctx: Context) -> Iterator[Result]:
    plan = ctx.fact(chip_table)
    tp, dp_local = ctx.plan.tensor_parallel_size, ctx.plan.dp_local
    why = f"TP {tp} × DP-local {dp_local}"
    seen = f"{len(plan.visible)} chips visible"
    if plan.visible_devices is not None:
        seen += f" ({VISIBLE_DEVICES_VAR}={plan.visible_devices}, {len(plan.table)} in npu-smi)"
    if plan.bad_ids:
        yield failed(
            f"{VISIBLE_DEVICES_VAR} names devices that do not exist: {', '.join(plan.bad_ids)} "
            f"(npu-smi lists {len(plan.table)} chips, numbered 0..{len(plan.table) - 1})",
            item=VISIBLE_DEVICES_VAR,
            expected=f"ids below {len(plan.table)}",
            observed=plan.visible_devices,
            remediation=f"export {VISIBLE_DEVICES_VAR}={','.join(str(i) for i in range(plan.needed))}",
        )
    if len(plan.visible) < plan.needed:
        yield failed(
            f"{seen}: {len(plan.visible)} < {plan.needed} needed ({why})",
            expected=f">= {plan.needed}",
            observed=str(len(plan.visible)),
            remediation=(
                f"map all {plan.needed} devices into the container (--device=/dev/davinciN for each), "
                f"unset {VISIBLE_DEVICES_VAR}, or lower --tensor-parallel-size"
            ),
        )
    else:
        yield passed(f"{seen} >= {why} = {plan.needed}", expected=f">= {plan.needed}", observed=str(len(plan.visible)))
    names = sorted({c.name or "unknown" for c in plan.planned})
    wanted = ctx.profile.hardware.chip_names
    if wanted and any(name not in wanted for name in names):
        yield warned(
            f"chips are {', '.join(names)}; the profile {ctx.profile.name} is for "
            f"{ctx.profile.hardware.platform} ({', '.join(wanted)})",
            item="chip name",
            expected=" / ".join(wanted),
            observed=", ".join(names),
            remediation="use the profile that matches this hardware (glm5check profiles)",
        )


@check(
    "npu.health",
    title="Every planned chip reports health OK",
    explain="""
Why: a chip in Warning, Alarm or Critical state has a hardware or firmware fault (HBM ECC errors,
heartbeat lost, over-temperature); HCCL collectives across all TP ranks then fail or hang at start-up or
under load.

What: the Health column of `npu-smi info` for every chip the plan uses, and for a chip that is not OK its
error codes from `npu-smi info -t health -i <npu> -c <chip>`.

Fix: read the codes with `npu-smi info -t health -i <npu> -c <chip>` and look them up in the product's
fault code list; reset the chip (`npu-smi set -t reset -i <npu> -c <chip>`) or reboot the node, and ask
the hardware team if it stays; or keep the chip out of ASCEND_RT_VISIBLE_DEVICES.
""",
)
def npu_health(ctx: Context) -> Iterator[Result]:
    plan = ctx.fact(planned_chips)
    healthy = 0
    details = ctx.fact(health_details)
    for chip in plan.planned:
        label = plan.label(chip)
        if chip.health == "OK":
            healthy += 1
        elif chip.health is None:
            yield warned(
                f"{label}: health not readable from the npu-smi table",
                item=label,
                expected="OK",
                observed="unknown",
            )
        else:
            detail = details.get(chip)
            codes = f" (error codes {' '.join(detail.error_codes)})" if detail and detail.error_codes else ""
            yield failed(
                f"{label} ({chip.name or 'unknown'}) is {chip.health}{codes}",
                item=label,
                expected="OK",
                observed=chip.health,
                remediation=(
                    f"npu-smi info -t health -i {chip.npu} -c {chip.chip or 0}; reset the chip "
                    f"(npu-smi set -t reset -i {chip.npu} -c {chip.chip or 0}) or reboot the node"
                ),
            )
    if healthy == len(plan.planned):
        yield passed(f"all {healthy} planned chips are OK", expected="OK", observed=f"{healthy} × OK")


def _process_text(processes: tuple[NpuProcess, ...]) -> str:
    return ", ".join(f"pid {p.pid} {p.name or '(no name)'} ({p.memory_mb} MB)" for p in processes)


def _hbm_result(ctx: Context, plan: ChipPlan, chip: NpuChip) -> Result | None:
    """The failure for one chip, or None when its HBM is fine."""
    label = plan.label(chip)
    want_mb = ctx.profile.hardware.hbm_mb_per_chip
    total, used = chip.hbm_total_mb, chip.hbm_used_mb
    if total is None or used is None:
        return failed(
            f"{label} ({chip.name or 'unknown'}): npu-smi shows no HBM figure; the profile needs "
            f"{want_mb} MB of HBM per chip",
            item=label,
            expected=f"{want_mb} MB HBM",
            observed="no HBM column",
            remediation="run on the hardware the profile is for (glm5check profiles)",
        )
    if total < want_mb * HBM_CLASS_TOLERANCE:
        return failed(
            f"{label} ({chip.name or 'unknown'}) has {total} MB of HBM < {want_mb} MB, the "
            f"{want_mb // 1024} GB class of {ctx.profile.hardware.platform}",
            item=label,
            expected=f"{want_mb} MB",
            observed=f"{total} MB",
            remediation="use Atlas 800 A2 (910B1/B2/B3, 64 GB) or A3 nodes, or a profile with a smaller plan",
        )
    held_mb = used - IDLE_USED_MB
    return None if held_mb <= 0 else _busy_result(ctx, plan, chip, held_mb)


def _busy_result(ctx: Context, plan: ChipPlan, chip: NpuChip, held_mb: int) -> Result:
    """HBM another process holds: vllm-ascend counts it in the profiled peak (every allocation outside
    torch), so it comes out of this rank's KV cache, and the smallest rank's cache sizes every rank's
    (vllm_ascend/worker/worker.py:332@ff3a50d)."""
    label, used = plan.label(chip), chip.hbm_used_mb
    idle, busy = ctx.fact(memory_fit), replace(ctx.fact(memory_fit), held_bytes=held_mb * MIB)
    processes = processes_on(ctx.fact(npu_smi).info, chip)
    holder = f"used by {_process_text(processes)}" if processes else "no process visible: held by a process "
    holder += "" if processes else "outside this container"
    head = (
        f"{label}: {used} of {chip.hbm_total_mb} MB in use, {held_mb} MB more than an idle chip's {IDLE_USED_MB} "
        f"MB ({holder}); vllm-ascend takes it out of the KV cache: {_kv_change(idle, busy)}"
    )
    fix = (
        "stop the processes holding this chip (kill " + " ".join(str(p.pid) for p in processes) + ")"
        if processes
        else "find the container using this chip on the host (npu-smi info there) and stop it"
    )
    stop = (
        run_fix("container", ("kill", *(str(p.pid) for p in processes)))
        if processes
        else manual_fix("host", "find the container using this chip (npu-smi info on the host) and stop it")
    )
    common: dict[str, Any] = {"item": label, "expected": f"<= {IDLE_USED_MB} MB in use", "fix": (stop,)}
    common["observed"] = f"{used} MB in use"
    if busy.verdict == "fail":
        error = busy.vllm_error()
        return failed(f"{head}. vLLM: {error}" if error else head, remediation=fix, **common)
    return warned(f"{head}; vLLM starts, with a smaller cache", remediation=fix, **common)


def _kv_change(idle: Fit, busy: Fit) -> str:
    def tokens(result: Fit) -> str:
        return f"{max(result.kv_budget_bytes, 0) / GIB:.1f} GiB ({result.kv_tokens // 1000}k tokens)"

    return f"{tokens(idle)} on an idle chip, {tokens(busy)} here; {busy.budget_text()}"


@check(
    "npu.hbm",
    title="HBM size and free HBM on every planned chip",
    explain="""
Why: the plan is sized for 64 GB of HBM per chip (Atlas 800 A2 910B1/B2/B3, A3 dies); a 32 GB 910B4
cannot hold a rank's share of the weights. HBM another process holds on a planned chip is taken from
vLLM: vllm-ascend at the pin sizes the KV cache as torch_npu's total × --gpu-memory-utilization less the
profiled peak, and that peak counts every allocation outside torch on the chip, another process's too
(vllm_ascend/worker/worker.py:302@ff3a50d); the smallest rank's cache sizes all ranks. A chip that is
busy enough leaves no room for one --max-model-len sequence, and vLLM stops after loading the weights.
HBM held by another container's process is invisible in this container's process list but still taken.

What: per planned chip, HBM total from `npu-smi info` against the profile's HBM per chip, and HBM in use
above an idle chip's (4608 MB: the driver's and the runtime's share) against memory.fit's budget (the
same usable HBM: npu-smi's total less the 3113 MB the driver holds, × gpu_memory_utilization). FAIL when
what is left cannot hold one max_model_len sequence (vLLM's error is quoted), WARN when the cache only
shrinks. Processes on the chip are named; HBM in use with no visible process is reported as used by a
process outside this container.

Fix: stop the processes (or the other container) holding the chips, or choose free chips with
ASCEND_RT_VISIBLE_DEVICES; for a 32 GB chip use 64 GB-class hardware.
""",
)
def npu_hbm(ctx: Context) -> Iterator[Result]:
    plan = ctx.fact(planned_chips)
    problems = [r for r in (_hbm_result(ctx, plan, chip) for chip in plan.planned) if r is not None]
    yield from problems
    if not problems:
        least = min(
            c.hbm_total_mb - c.hbm_used_mb
            for c in plan.planned
            if c.hbm_total_mb is not None and c.hbm_used_mb is not None
        )
        total = plan.planned[0].hbm_total_mb or 0
        yield passed(
            f"{len(plan.planned)} chips with {total} MB HBM each ({(total - DRIVER_RESERVED_MB) * MIB / GIB:.2f} GiB "
            f"usable), at least {least} MB free: nothing else holds HBM on them",
            observed=f"min free {least} MB",
        )


@check(
    "npu.processes",
    title="No process already runs on the planned chips",
    explain="""
Why: a process left on an NPU (an earlier vllm serve, a notebook, a benchmark) holds HBM and device
streams; the new vLLM then fails with out-of-memory at load or HCCL errors. npu-smi only lists processes
of this container (or of the host, when run there); others show up as HBM in use (see npu.hbm).

What: the process table of `npu-smi info`, for the chips the plan uses: NPU, chip, pid, name, HBM.

Fix: stop them (`kill <pid>`; on the host `npu-smi info` shows every container's processes), or leave
those chips out with ASCEND_RT_VISIBLE_DEVICES.
""",
)
def npu_processes(ctx: Context) -> Iterator[Result]:
    plan = ctx.fact(planned_chips)
    info = ctx.fact(npu_smi).info
    found = 0
    for chip in plan.planned:
        for process in processes_on(info, chip):
            found += 1
            label = plan.label(chip)
            yield failed(
                f"{label}: pid {process.pid} {process.name or '(no name)'} holds {process.memory_mb} MB",
                item=f"{label} pid {process.pid}",
                expected="no process",
                observed=_process_text((process,)),
                remediation=f"kill {process.pid} (or leave {label} out with {VISIBLE_DEVICES_VAR})",
                fix=(run_fix("container", ("kill", str(process.pid))),),
            )
    if not found:
        table = "" if info is not None and info.has_process_table else " (npu-smi printed no process table)"
        yield passed(f"no process on the {len(plan.planned)} planned chips{table}", observed="none")


# -- npu.network ----------------------------------------------------------------------------------------


def _device_problems(device: DeviceNetwork, conf_address: str | None, conf_read: bool) -> list[tuple[str, str]]:
    """(problem, fix) pairs for one device."""
    n = device.device
    problems = [(failure, f"run hccn_tool -i {n} by hand") for failure in device.failures]
    if device.link != "UP":
        problems.append(
            (
                f"link {device.link or 'unknown'}",
                f"check the cable, optics and switch port of device {n} (hccn_tool -i {n} -link_stat -g)",
            )
        )
    if device.net_health != "Success":
        problems.append(
            (
                f"net_health {device.net_health or 'unknown'}",
                f"check that device {n} reaches its netdetect address (hccn_tool -i {n} -net_health -g)",
            )
        )
    if device.address is None:
        problems.append(("no IP configured", f"hccn_tool -i {n} -ip -s address <ip> netmask <mask>"))
    if device.gateway is None:
        problems.append(("no gateway", f"hccn_tool -i {n} -gateway -s gateway <gateway ip>"))
    if device.netdetect is None:
        problems.append(("no netdetect address", f"hccn_tool -i {n} -netdetect -s address <gateway ip>"))
    if conf_read and device.address is not None and conf_address != device.address:
        problems.append(
            (
                f"/etc/hccn.conf has address_{n}={conf_address or 'nothing'}",
                f"make address_{n} in /etc/hccn.conf equal to {device.address} (or the reverse)",
            )
        )
    return problems


def _device_steps(device: DeviceNetwork, problems: list[tuple[str, str]]) -> tuple[Fix, ...]:
    """The device's fixes in words, then the hccn_tool queries that show its state again."""
    n = str(device.device)
    words = manual_fix("host", "; ".join(dict.fromkeys(fix for _, fix in problems)))
    queries = [("hccn_tool", "-i", n, "-link_stat", "-g"), ("hccn_tool", "-i", n, "-net_health", "-g")]
    return (words, *(run_fix("host", argv) for argv in queries))


def _network_device_results(ctx: Context) -> Iterator[Result]:
    network = ctx.fact(npu_network)
    for device in network.devices:
        item = f"device {device.device}"
        conf_address = network.conf.address(device.device) if network.conf else None
        problems = _device_problems(device, conf_address, network.conf is not None)
        if problems:
            yield failed(
                f"{item}: {'; '.join(p for p, _ in problems)}",
                item=item,
                expected="link UP, net_health Success, IP, gateway, netdetect as in /etc/hccn.conf",
                observed=f"link {device.link}, net_health {device.net_health}, ip {device.address}",
                remediation="; ".join(dict.fromkeys(fix for _, fix in problems)),
                fix=_device_steps(device, problems),
            )
        else:
            yield passed(
                f"{item}: link UP, net_health Success, {device.address}/{device.netmask}, gateway "
                f"{device.gateway}, netdetect {device.netdetect}",
                item=item,
                observed=device.address,
            )


def _tls_result(ctx: Context) -> Result:
    devices = ctx.fact(npu_network).devices
    switches = {d.device: d.tls_switch for d in devices}
    shown = ", ".join(f"{n}:{'?' if s is None else s}" for n, s in switches.items())
    if len(set(switches.values())) > 1 or None in switches.values():
        return failed(
            f"TLS switch differs between devices ({shown}); HCCL refuses links between devices whose TLS "
            "settings differ (EI0016)",
            item="tls",
            expected="the same TLS switch on every device (and node)",
            observed=shown,
            remediation="set one value everywhere: hccn_tool -i <N> -tls -s enable 0 (or 1) for each device",
        )
    return passed(f"TLS switch {next(iter(switches.values()), '?')} on every device", item="tls", observed=shown)


def _addresses_result(ctx: Context) -> Result:
    """Every device (every die on A3, where each die has its own RoCE port) has its own address."""
    devices = ctx.fact(npu_network).devices
    plan = ctx.fact(chip_plan)
    unit = "dies" if plan.two_chip_npus else "devices"
    by_address: dict[str, list[int]] = {}
    for device in devices:
        if device.address:
            by_address.setdefault(device.address, []).append(device.device)
    shared = {address: numbers for address, numbers in by_address.items() if len(numbers) > 1}
    if shared:
        shown = "; ".join(f"{address} on {unit} {', '.join(map(str, numbers))}" for address, numbers in shared.items())
        return failed(
            f"{unit} share an NPU network address ({shown}): HCCL links meant for one reach the other",
            item="addresses",
            expected=f"one address per {unit[:-1]}",
            observed=shown,
            remediation="give each device its own address: hccn_tool -i <N> -ip -s address <ip> netmask <mask>, "
            "and the same in /etc/hccn.conf",
        )
    per = " (one per die)" if plan.two_chip_npus else ""
    return passed(f"{len(by_address)} distinct addresses on {len(devices)} {unit}{per}", item="addresses")


def _ping_results(ctx: Context) -> Iterator[Result]:
    for ping in ctx.fact(peer_pings):
        item = f"ping {ping.device} -> {ping.target}"
        run = ping.run
        if run is not None and run.ok:
            yield passed(
                f"device {ping.device} reaches {ping.target} ({run.received}/{run.transmitted})",
                item=item,
                observed=f"{run.received}/{run.transmitted} received",
            )
        else:
            observed = (
                f"{run.received}/{run.transmitted} received"
                if run and run.transmitted is not None
                else ping.failure or "no answer"
            )
            yield failed(
                f"device {ping.device} cannot reach node 0's NPU address {ping.target}: {observed}",
                item=item,
                expected="3/3 received",
                observed=observed,
                remediation="check the switch, VLAN and addresses of both nodes (hccn_tool -i N -ip -g); "
                "both nodes' devices must be on reachable subnets",
            )


@check(
    "npu.network",
    title="NPU network (RoCE) links, addresses and TLS for multi-node HCCL",
    nodes="multi",
    explain="""
Why: across nodes, HCCL runs over each NPU's own RoCE port, configured with hccn_tool, not over the
host's network. A link that is DOWN, a net_health other than Success, a missing address, gateway or
netdetect address, or TLS switched on for some devices only makes the multi-node start hang or fail
in HCCL initialisation.

What: for each planned device, `hccn_tool -i N -link -g` (UP), `-net_health -g` (Success), `-ip -g`
(an address, equal to address_N in /etc/hccn.conf), `-gateway -g`, `-netdetect -g`, and `-tls -g` (the
same switch on all devices). With --peer-npu-ips (or GLM5CHECK_PEER_NPU_IPS) set to node 0's device IPs
(e.g. from its report's npu_device_ips), `hccn_tool -i N -ping -g address IP` to each. The device IPs
go into the report (`npu_device_ips`) so `glm5check compare` can cross-check nodes.

Node 0's device IPs: on node 0, `glm5check --profile a2-multi --check npu.network --format json` lists
them under facts.npu_device_ips (or run `hccn_tool -i N -ip -g` for each device N there). Give them to
the other nodes with --peer-npu-ips IP,… , GLM5CHECK_PEER_NPU_IPS, or `peer_npu_ips = [...]` under
[network] in a profile file.

Fix: cable and switch port for a DOWN link; `hccn_tool -i N -ip -s address A netmask M`,
`-gateway -s gateway G`, `-netdetect -s address G` per device (and /etc/hccn.conf to match);
`hccn_tool -i N -tls -s enable 0` on every device of every node so the TLS switch is the same.
""",
)
def npu_network_check(ctx: Context) -> Iterator[Result]:
    network = ctx.fact(npu_network)
    if network.tool is None:
        yield failed(
            "hccn_tool not found (searched PATH, " + ", ".join(ASCEND_TOOL_DIRS) + ")",
            expected="hccn_tool",
            observed="not found",
            remediation="mount it as the guide does: -v /usr/local/Ascend/driver/tools/hccn_tool:"
            "/usr/local/Ascend/driver/tools/hccn_tool",
        )
        return
    if network.conf is None:
        yield warned(
            f"/etc/hccn.conf cannot be read ({network.conf_error}); addresses not cross-checked",
            item="/etc/hccn.conf",
            remediation="mount /etc/hccn.conf, or write it with hccn_tool -ip -s",
        )
    yield from _network_device_results(ctx)
    if network.devices:
        yield _tls_result(ctx)
        yield _addresses_result(ctx)
    yield from _ping_results(ctx)
    if not ctx.fact(peer_pings):
        yield skipped(
            f"no cross-node NPU ping: pass --peer-npu-ips (or set {PEER_IPS_VAR}) with node 0's device IPs "
            "to test them",
            item="ping",
        )


# -- npu.lldp -------------------------------------------------------------------------------------------


def _lldp_item(peer: LldpPeer, link: str | None) -> Iterator[Result]:
    item = f"device {peer.device}"
    if link is not None and link != "UP":
        raise SeeCheck("npu.network", f"device {peer.device}: link {link}")
    fix = (
        f"check that the switch port of device {peer.device} sends LLDP and that the cable goes to the switch "
        f"(hccn_tool -i {peer.device} -lldp -g)"
    )
    if peer.failure or not peer.ports:
        yield warned(
            f"{item}: no LLDP neighbour ({peer.failure or 'no Port ID in the answer'}): the RoCE port is not "
            "cabled to a switch, or the switch does not send LLDP",
            item=item,
            expected="a switch port (Port ID TLV Ifname)",
            observed=peer.failure or "no neighbour",
            remediation=fix,
            fix=(run_fix("host", ("hccn_tool", "-i", str(peer.device), "-lldp", "-g")),),
        )
    elif peer.peer_is_npu:
        yield warned(
            f"{item}: cabled back-to-back to another NPU ({' '.join(peer.system_lines)}), not to a switch: HCCL "
            "cannot build its "
            "cross-node full mesh over direct cables",
            item=item,
            expected="a switch port",
            observed=peer.system,
            remediation="cable every NPU port to the RoCE switch",
        )
    else:
        yield passed(f"{item}: switch port {', '.join(peer.ports)}", item=item, observed=", ".join(peer.ports))


@check(
    "npu.lldp",
    title="Every NPU port sees a switch port (LLDP)",
    nodes="multi",
    explain="""
Why: across nodes HCCL builds links between every pair of NPU ports through the RoCE switch. A port that
sees no switch (a cable in the wrong port, a port the switch does not know, or a direct cable to another
NPU) still shows its link UP, and the start hangs in HCCL's link set-up or runs over a path the network
team did not plan. The vllm-ascend multi-node guide checks it with `hccn_tool -i N -lldp -g` on every
device before anything else.

What: `hccn_tool -i <device> -lldp -g` for every planned device: the Port ID TLV names a switch port
(`Ifname: 400GE1/1/5:1`), and the neighbour is not another NPU (a System Name/Description of
"AscendNPU"). A device whose link is DOWN is npu.network's failure, not repeated here.

Fix: cable each NPU port to its switch port as the network plan says, enable LLDP on the switch ports, and
check again with `hccn_tool -i <N> -lldp -g`.
""",
)
def npu_lldp(ctx: Context) -> Iterator[Result]:
    links = {d.device: d.link for d in ctx.fact(npu_network).devices}
    for peer in ctx.fact(lldp_peers):
        yield from dependent(_lldp_item(peer, links.get(peer.device)), item=f"device {peer.device}")
