"""Fake `npu-smi` and `hccn_tool` executables that print real captured outputs (fixtures/), chosen by their
arguments: the NPUs and NPU network of one Atlas 800 A2 node, healthy or with chosen faults."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from conftest import FIXTURES, write_executable

A2_IDLE = FIXTURES / "npu-smi-info" / "vllm-ascend-issue152-8x910B1-24.1.rc3-idle.txt"
HCCN = {
    "up": FIXTURES / "hccn_tool-link" / "mindcluster-doc-link-UP.txt",
    "down": FIXTURES / "hccn_tool-link" / "mindcluster-code-comment-link-DOWN.txt",
    "success": FIXTURES / "hccn_tool-net_health" / "mindcluster-doc-net_health-Success.txt",
    "init": FIXTURES / "hccn_tool-net_health" / "mindcluster-doc-net_health-Init.txt",
    "ip_session": FIXTURES / "hccn_tool-ip" / "mindcluster-fixture-ip-g-8dev-session-with-commands.txt",
    "gateway_loop": FIXTURES / "hccn_tool-gateway" / "dsv3-multinode-doc-gateway-loop-8dev.txt",
    "netdetect_loop": FIXTURES / "hccn_tool-netdetect" / "dsv3-multinode-doc-netdetect-loop-elided.txt",
    "tls_loop": FIXTURES / "hccn_tool-tls" / "dsv3-multinode-doc-tls-loop-grep-switch-8dev.txt",
    "ping": FIXTURES / "hccn_tool-ping" / "arthurchiao-blog-ping-i3.txt",
    "conf": FIXTURES / "hccn-conf" / "openyuanrong-fixture-hccn-conf-8npu-SANITIZED-127.0.0.x.txt",
    "lldp": FIXTURES / "hccn_tool-lldp" / "arthurchiao-blog-lldp-g-i3-partially-masked.txt",
}
FIXTURE_FIRST_OCTET = "192"


def fake_tool(folder: Path, name: str, answers: dict[str, str | tuple[str, int]]) -> Path:
    """A fake tool printing a fixed text per argument string ("$*"), with an exit code; anything else is
    answered like a real tool answers a bad argument."""
    lines = ["#!/bin/sh", 'case "$*" in']
    for index, (args, answer) in enumerate(answers.items()):
        text, code = answer if isinstance(answer, tuple) else (answer, 0)
        out = folder / f"{name}-{index}.out"
        out.write_text(text, encoding="utf-8")
        lines.append(f"  '{args}') cat '{out}'; exit {code};;")
    lines += ['  *) echo "Error parameter: $*"; exit 2;;', "esac", ""]
    return write_executable(folder, name, "\n".join(lines))


def device_ip_outputs(first_octet: str = FIXTURE_FIRST_OCTET) -> dict[int, str]:
    """The 8-device session transcript split per device: exactly what `hccn_tool -i N -ip -g` printed
    (with the addresses' first octet changed, so that two fake nodes have their own device IPs)."""
    blocks: dict[int, str] = {}
    device = -1
    for line in HCCN["ip_session"].read_text().splitlines():
        if "hccn_tool -i" in line:
            device = int(line.split("-i")[1].split()[0])
            blocks[device] = ""
        elif line.strip():
            blocks[device] += line.replace(f"ipaddr:{FIXTURE_FIRST_OCTET}.", f"ipaddr:{first_octet}.") + "\n"
    return blocks


def device_ips(first_octet: str = FIXTURE_FIRST_OCTET) -> list[str]:
    return [text.split("ipaddr:")[1].split()[0] for _, text in sorted(device_ip_outputs(first_octet).items())]


def hccn_answers(
    down: int | None = None,
    unhealthy: int | None = None,
    tls_on: int | None = None,
    ping: str | None = None,
    first_octet: str = FIXTURE_FIRST_OCTET,
    peers: Sequence[str] = (),
    lost: Collection[int] = (),
) -> dict[str, str | tuple[str, int]]:
    """hccn_tool's answers for 8 devices. `ping`: device 0 reaches it and device 1 gets no answer from
    192.0.2.99; `peers`: device N reaches peers[N], except the devices in `lost` (0 of 3 received)."""
    gateways = HCCN["gateway_loop"].read_text().splitlines()
    tls = HCCN["tls_loop"].read_text().splitlines()
    netdetect = HCCN["netdetect_loop"].read_text().splitlines()[0] + "\n"
    answers: dict[str, str | tuple[str, int]] = {}
    for device, ip_text in device_ip_outputs(first_octet).items():
        answers[f"-i {device} -link -g"] = HCCN["down" if device == down else "up"].read_text()
        answers[f"-i {device} -net_health -g"] = HCCN["init" if device == unhealthy else "success"].read_text()
        answers[f"-i {device} -ip -g"] = ip_text
        answers[f"-i {device} -gateway -g"] = gateways[device] + "\n"
        answers[f"-i {device} -netdetect -g"] = netdetect
        switch = tls[device].replace("tls switch[0]", "tls switch[1]") if device == tls_on else tls[device]
        answers[f"-i {device} -tls -g"] = switch + "\n"
        # The switch port each device is cabled to (a port whose link is down sees none).
        lldp = HCCN["lldp"].read_text().replace("400GE1/1/20:2", f"400GE1/1/{5 + device}:1")
        answers[f"-i {device} -lldp -g"] = "" if device == down else lldp
    if ping:
        answers[f"-i 0 -ping -g address {ping}"] = HCCN["ping"].read_text()
        answers["-i 1 -ping -g address 192.0.2.99"] = ("", 1)
    for device, peer in enumerate(peers):
        answers[f"-i {device} -ping -g address {peer}"] = _ping(device, peer, device in lost)
    return answers


def _ping(device: int, target: str, lost: bool) -> str | tuple[str, int]:
    if lost:
        return f"device {device} PING {target}\n3 packets transmitted, 0 received, 100.00% packet loss\n", 1
    return HCCN["ping"].read_text().replace("device 3 PING 29.1.137.205", f"device {device} PING {target}")
