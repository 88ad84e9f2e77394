"""What the container looks like from inside: which NPU type the installed vllm-ascend was built for (and
the image's SOC_VERSION), whether it shares the host's network (the guide's `--net=host`), and whether the
driver files are bind-mounted from the host or copies baked into the image.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from glm5check.engine.context import reported_fact
from glm5check.errors import SeeCheck
from glm5check.facts.context import Context
from glm5check.facts.net import SYSFS_NET, local_nics
from glm5check.facts.npu import chip_table
from glm5check.facts.packages import inventory
from glm5check.facts.system import mount_table
from glm5check.knowledge.ascend_soc import build_device_type, chip_device_type, soc_device_type
from glm5check.util.numbers import whole

BUILD_INFO = "_build_info.py"
SOC_VAR = "SOC_VERSION"  # the vllm-ascend images set it (Dockerfile ENV) for the chips they are built for
CONTAINER_MARKER = "/.dockerenv"


class BuildInfo(NamedTuple):
    folder: str | None  # the vllm_ascend package folder
    found: bool  # _build_info.py could be read
    device_type: str | None  # its __device_type__
    image_soc: str | None  # SOC_VERSION in the environment


def vllm_ascend_build(ctx: Context) -> BuildInfo:
    """vllm-ascend's build type; when vllm-ascend is not installed, packages.vllm-ascend reports it."""
    inv = ctx.fact(inventory)
    if not inv.named("vllm-ascend"):
        raise SeeCheck("packages.vllm-ascend", "vllm-ascend is not installed")
    folder = inv.package("vllm-ascend").dir
    text = ctx.host.read_file(f"{folder}/{BUILD_INFO}").text if folder else None
    return BuildInfo(folder, text is not None, build_device_type(text), ctx.env.get(SOC_VAR) or None)


class NpuKind(NamedTuple):
    device_type: str | None  # A2, A3, _310P, or None when the names do not tell
    names: tuple[str, ...]  # the chip names npu-smi shows for the planned chips


def npu_kind(ctx: Context) -> NpuKind:
    """The device type of the planned chips (all of them, when no chip is planned)."""
    plan = ctx.fact(chip_table)
    chips = plan.planned or plan.table
    kinds = {chip_device_type(c.name, c.phy_id is not None) for c in chips}
    names = tuple(sorted({c.name or "unknown" for c in chips}))
    return NpuKind(kinds.pop() if len(kinds) == 1 else None, names)


# Virtual interfaces a host has of its own; a veth end (a container on a bridge) has no DEVTYPE.
HOST_DEVTYPES = ("bridge", "bond", "team", "vlan", "openvswitch")


class NicLink(NamedTuple):
    """A NIC as /sys/class/net shows it. A host NIC has a `device` link (PCI); a host's bridge, bond or VLAN
    names its DEVTYPE in `uevent`; the container's end of a veth pair has neither, and often an iflink (its
    peer on the host) other than its own ifindex."""

    name: str
    addresses: tuple[str, ...]
    physical: bool
    devtype: str | None
    ifindex: int | None
    iflink: int | None

    @property
    def veth_peer(self) -> bool:
        if self.ifindex is not None and self.iflink is not None and self.ifindex != self.iflink:
            return True
        return not self.physical and self.devtype not in HOST_DEVTYPES


def _number(ctx: Context, path: str) -> int | None:
    return whole(ctx.host.read_file(path).text, digits=9)


def _devtype(ctx: Context, path: str) -> str | None:
    for line in (ctx.host.read_file(path).text or "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "DEVTYPE":
            return value.strip() or None
    return None


def nic_links(ctx: Context) -> tuple[NicLink, ...]:
    """Every NIC but loopback, with what /sys/class/net says about its kind."""
    links = []
    for nic in ctx.fact(local_nics):
        if nic.kind == "loopback":
            continue
        base = f"{SYSFS_NET}/{nic.name}"
        links.append(
            NicLink(
                nic.name,
                nic.ipv4,
                ctx.host.stat(f"{base}/device").exists,
                _devtype(ctx, f"{base}/uevent"),
                _number(ctx, f"{base}/ifindex"),
                _number(ctx, f"{base}/iflink"),
            )
        )
    return tuple(links)


def in_container(ctx: Context) -> bool:
    """Docker leaves /.dockerenv; other runtimes show an overlay root filesystem."""
    if ctx.host.stat(CONTAINER_MARKER).exists:
        return True
    root = next((m for m in ctx.fact(mount_table) if m.mountpoint == "/"), None)
    return root is not None and root.fstype == "overlay"


def mount_points(ctx: Context) -> set[str]:
    return {m.mountpoint.rstrip("/") or "/" for m in ctx.fact(mount_table)}


@reported_fact("container")
def _report_container(ctx: Context) -> dict[str, Any] | None:
    build = ctx.facts.peek(vllm_ascend_build)
    links = ctx.facts.peek(nic_links)
    if build is None and links is None:
        return None
    return {
        "vllm_ascend_device_type": build.device_type if build else None,
        "soc_version": build.image_soc if build else None,
        "image_device_type": soc_device_type(build.image_soc) if build else None,
        "veth_nics": [link.name for link in links or () if link.veth_peer],
    }
