"""container.*: the container the guide's `docker run` makes, seen from inside — the vllm-ascend build against
the chips, host networking, and driver files mounted from the host rather than baked into the image."""

from __future__ import annotations

from collections.abc import Iterator

from glm5check.engine.check import Result, check, dependent, failed, manual_fix, passed, skipped, warned
from glm5check.errors import SeeCheck
from glm5check.facts.container import (
    BUILD_INFO,
    SOC_VAR,
    BuildInfo,
    in_container,
    mount_points,
    nic_links,
    npu_kind,
    vllm_ascend_build,
)
from glm5check.facts.context import Context
from glm5check.facts.net import HCCL_IF_IP
from glm5check.facts.system import container_paths
from glm5check.knowledge.ascend_soc import DEVICE_WORDS, GUIDE_IMAGES, soc_device_type

MISMATCH = (
    "Current device type: {chips} does not match the installed version's device type: {build}, please check "
    "your installation package."
)


def _image(build: BuildInfo) -> str:
    """What the image's SOC_VERSION says about it."""
    if not build.image_soc:
        return f"{SOC_VAR} unset (not one of the vllm-ascend images)"
    kind = soc_device_type(build.image_soc)
    if kind is None:
        return f"{SOC_VAR}={build.image_soc} (not a SOC_VERSION vllm-ascend knows)"
    guide = f", like the guide's {GUIDE_IMAGES[kind]}" if kind in GUIDE_IMAGES else ""
    return f"{SOC_VAR}={build.image_soc}: an image for {DEVICE_WORDS[kind]}{guide}"


def _reinstall(kind: str | None) -> str:
    image = f"use {GUIDE_IMAGES[kind]}, or " if kind in GUIDE_IMAGES else ""
    soc = {"A2": "ascend910b1", "A3": "ascend910_9391"}.get(kind or "", "<the chips' SOC_VERSION>")
    return f"{image}rebuild vllm-ascend for these chips: SOC_VERSION={soc} pip install -v -e . in its checkout"


@check(
    "container.build",
    title="vllm-ascend is built for the NPU type npu-smi shows",
    explain="""
Why: vllm-ascend is compiled for one NPU type. Its setup.py writes vllm_ascend/_build_info.py
(`__device_type__ = 'A2'` or `'A3'`) from SOC_VERSION, which the guide's images set (quay.io/ascend/
vllm-ascend:glm5 is built with SOC_VERSION=ascend910b1 for Atlas A2, :glm5-a3 with ascend910_9391 for
A3). At start-up every worker asserts that it matches the chips (vllm_ascend/utils.py
check_ascend_device_type at ff3a50d) and stops with "Current device type: … does not match the installed
version's device type: …, please check your installation package." — an A3 image on A2 nodes or the
reverse, or a vllm-ascend built on a machine without NPUs.

What: `__device_type__` of _build_info.py in the installed vllm_ascend package (read by the same
interpreter inventory as packages.*), against the chip names npu-smi shows for the planned chips (910B*
→ A2; Ascend910 with a Phy-ID column, or 910C → A3; 310P* → 310P); the image's SOC_VERSION is shown
beside it.

Fix: run the image for this hardware (the guide's `glm5` for A2, `glm5-a3` for A3), or rebuild vllm-ascend
with the chips' SOC_VERSION (`SOC_VERSION=ascend910b1 pip install -v -e .` on A2).
""",
)
def container_build(ctx: Context) -> Result:
    build = ctx.fact(vllm_ascend_build)
    kind = ctx.fact(npu_kind)
    image = _image(build)
    chips = f"{kind.device_type or 'unknown'} ({', '.join(kind.names)})"
    if not build.found or build.device_type is None:
        return failed(
            f"{build.folder}/{BUILD_INFO} is missing or names no __device_type__: vllm-ascend was not built by its "
            "setup.py, and its workers fail to import vllm_ascend._build_info",
            expected=f"{BUILD_INFO} with __device_type__",
            observed="missing" if not build.found else "no __device_type__",
            remediation=_reinstall(kind.device_type),
            fix=(manual_fix("container", _reinstall(kind.device_type)),),
        )
    built = f"{build.device_type} ({image})"
    if kind.device_type is None:
        return warned(
            f"vllm-ascend is built for {built}; the chip names ({', '.join(kind.names)}) do not tell the NPU type",
            expected="the chips' type",
            observed=built,
            remediation="check by hand that npu-smi info -t board shows the type vllm-ascend is built for",
        )
    if build.device_type != kind.device_type:
        return failed(
            f"vllm-ascend is built for {built} but the chips are {chips}; every worker stops with: "
            + MISMATCH.format(
                chips=f"AscendDeviceType.{kind.device_type}", build=f"AscendDeviceType.{build.device_type}"
            ),
            expected=kind.device_type,
            observed=built,
            remediation=_reinstall(kind.device_type),
            fix=(manual_fix("container", _reinstall(kind.device_type)),),
        )
    return passed(f"vllm-ascend built for {built} = chips {chips}", expected=kind.device_type, observed=built)


@check(
    "container.network",
    title="The container shares the host's network (docker run --net=host)",
    explain="""
Why: the guide runs the container with `--net=host`: HCCL, Gloo and vLLM's data-parallel RPC listen on
the node's own address and open ports across both nodes. In a container on a bridge network the NICs are
one end of a veth pair with a private address behind NAT: the other node cannot reach HCCL_IF_IP (its
ports are not published), and the API port needs `-p`. The guide: "If you are running bridge network with
docker, please expose available ports for multiple nodes communication in advance."

What: /sys/class/net/<nic> of every interface but loopback: a host NIC has a `device` link (PCI), a host
bridge, bond or VLAN names its DEVTYPE in `uevent`; the container's end of a veth pair has neither (and
often an iflink, its peer on the host, other than its own ifindex). FAIL on a multi-node profile when
HCCL_IF_IP is on such a veth; WARN when every interface is one (a bridge network).

Fix: recreate the container with `docker run --net=host …` as the guide does (or publish every HCCL,
Gloo, RPC and API port and use addresses the other node can reach).
""",
)
def container_network(ctx: Context) -> Result:
    links = ctx.fact(nic_links)
    veths = [link for link in links if link.veth_peer]
    shown = ", ".join(v.name for v in veths)
    fix = "recreate the container with docker run --net=host (as the guide)"
    bridge = {"observed": shown, "remediation": fix, "fix": (manual_fix("host", fix),)}
    hccl_ip = ctx.env.get(HCCL_IF_IP, "").strip()
    carrier = next((v for v in veths if hccl_ip and hccl_ip in v.addresses), None)
    if carrier is not None and ctx.profile.multi_node:
        return failed(
            f"HCCL_IF_IP {hccl_ip} is on {carrier.name}, one end of a veth pair: a bridge network, so the other "
            "node cannot reach this node's HCCL and Gloo ports",
            expected="--net=host: HCCL_IF_IP on a host NIC",
            **bridge,
        )
    if links and len(veths) == len(links):
        return warned(
            f"every interface is a veth ({shown}): the container runs on a bridge network, not the guide's "
            "--net=host; ports must be published for the API and the other node",
            expected="--net=host",
            **bridge,
        )
    host_nics = ", ".join(link.name for link in links if not link.veth_peer) or "none"
    return passed(f"host network: the host's interfaces are visible ({host_nics})", observed=host_nics)


def _mount_item(path: str, exists: bool, mounted: bool) -> Iterator[Result]:
    if not exists:
        raise SeeCheck("ascend.devices", f"{path} is missing")
    if mounted:
        yield passed(f"{path} is mounted from the host", item=path, observed="bind mount")
        return
    yield warned(
        f"{path} is in the image, not mounted from the host: the container uses the image's copy, which may "
        "not match the host's driver",
        item=path,
        expected="a bind mount from the host (docker run -v)",
        observed="no mount at this path",
        remediation=f"docker run … -v {path}:{path} (as the guide), so the host's driver files are used",
        fix=(manual_fix("host", f"recreate the container with docker run … -v {path}:{path}"),),
    )


@check(
    "container.mounts",
    title="Driver files are mounted from the host, not copies in the image",
    explain="""
Why: the NPU driver runs on the host; the container must use the host's copy of its user-space parts
(`/usr/local/Ascend/driver/lib64`, `version.info`, npu-smi, `/usr/local/dcmi`, hccn_tool,
`/etc/ascend_install.info`), which the guide's `docker run -v` bind-mounts. An image that carries its
own copy at the same path passes ascend.devices but loads libraries of another driver version: device
initialisation fails or misbehaves with errors that name no mount.

What: in a container (/.dockerenv, or an overlay root filesystem), each of the profile's driver mounts
is a mount point in /proc/self/mounts. A path that is missing is ascend.devices' failure.

Fix: add the missing `-v <path>:<path>` options to `docker run` as the guide writes them.
""",
)
def container_mounts(ctx: Context) -> Iterator[Result]:
    paths = ctx.profile.container.mounts
    if not in_container(ctx):
        yield skipped("not in a container (no /.dockerenv, no overlay root): the driver files are the host's own")
        return
    if not paths:
        yield skipped("the profile names no driver mounts")
        return
    seen, mounted = ctx.fact(container_paths), mount_points(ctx)
    for path in paths:
        yield from dependent(_mount_item(path, seen[path].exists, path.rstrip("/") in mounted), item=path)
