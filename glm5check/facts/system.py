"""Host facts: shared memory, CPU and memory resources, the mount table and the container's device paths."""

from __future__ import annotations

from typing import Any

from glm5check.engine.context import reported_fact
from glm5check.facts.context import Context
from glm5check.facts.npu import planned_devices
from glm5check.host.base import DiskUsage, Mount, Resources, StatInfo

SHM_PATH = "/dev/shm"


def shm_usage(ctx: Context) -> DiskUsage:
    return ctx.host.disk_usage(SHM_PATH)


def resources(ctx: Context) -> Resources:
    return ctx.host.resources()


def mount_table(ctx: Context) -> tuple[Mount, ...]:
    return ctx.host.mounts()


def mount_of(mounts: tuple[Mount, ...], path: str) -> Mount | None:
    """The mount that holds path: the longest mount point above it."""
    holding = [m for m in mounts if _under(path, m.mountpoint)]
    return max(holding, key=lambda m: len(m.mountpoint)) if holding else None


def _under(path: str, mountpoint: str) -> bool:
    root = mountpoint.rstrip("/")
    return path == mountpoint or path.startswith(root + "/") or root == ""


def planned_device_paths(ctx: Context) -> list[str]:
    """/dev/davinci<N> of every chip the plan uses."""
    return [f"/dev/davinci{n}" for n in planned_devices(ctx)]


def container_paths(ctx: Context) -> dict[str, StatInfo]:
    """What the container sees at each device node and driver mount the guide's `docker run` passes."""
    wanted = [*planned_device_paths(ctx), *ctx.profile.container.devices, *ctx.profile.container.mounts]
    return {path: ctx.host.stat(path) for path in dict.fromkeys(wanted)}


@reported_fact("shm_bytes")
def _report_shm(ctx: Context) -> int | None:
    usage = ctx.facts.peek(shm_usage)
    return usage.total_bytes if usage else None


@reported_fact("host")
def _report_resources(ctx: Context) -> dict[str, Any] | None:
    found = ctx.facts.peek(resources)
    if found is None:
        return None
    return {
        "cpu_count": found.cpu_count,
        "mem_total_bytes": found.mem_total_bytes,
        "mem_available_bytes": found.mem_available_bytes,
        "nofile_soft": found.nofile_soft,
        "nofile_hard": found.nofile_hard,
    }
