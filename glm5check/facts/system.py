"""Host facts: shared memory, CPU and memory resources."""

from __future__ import annotations

from typing import Any

from glm5check.engine.context import reported_fact
from glm5check.facts.context import Context
from glm5check.host.base import DiskUsage, Resources

SHM_PATH = "/dev/shm"


def shm_usage(ctx: Context) -> DiskUsage:
    return ctx.host.disk_usage(SHM_PATH)


def resources(ctx: Context) -> Resources:
    return ctx.host.resources()


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
