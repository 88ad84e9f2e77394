"""host.shm and host.resources: shared memory, CPU cores, RAM and open-file limits."""

from __future__ import annotations

from collections.abc import Iterator

from glm5check.engine.check import Result, check, errored, failed, manual_fix, passed, warned
from glm5check.facts.context import Context
from glm5check.facts.system import SHM_PATH, resources, shm_usage
from glm5check.util.numbers import whole
from glm5check.util.units import GIB, fmt_bytes

# Each vLLM worker process (Python, torch_npu, CPU-side buffers) needs host RAM of its own; 16 GiB per
# local rank is a conservative floor, not a measurement.
RAM_PER_RANK_BYTES = 16 * GIB
# vLLM raises the soft open-files limit to the hard limit at start-up, up to 65535.
NOFILE_WANTED = 65535


@check(
    "host.shm",
    title="/dev/shm size and free space",
    explain="""
Why: vLLM's workers exchange tensors and scheduler messages through shared memory. Docker gives a
container 64 MiB of /dev/shm unless told otherwise; the guide's `docker run` passes `--shm-size=1g`.
Too little shared memory shows up as a bus error or a hung worker after the model has loaded.

What: the size and the free space of /dev/shm, each against the profile's minimum (1 GiB).

Fix: start the container with `--shm-size=1g` (or larger), or on a bare host remount:
`mount -o remount,size=1G /dev/shm`; free space is taken by stale files of earlier runs in /dev/shm.
""",
)
def host_shm(ctx: Context) -> Iterator[Result]:
    usage = ctx.fact(shm_usage)
    minimum = ctx.profile.container.shm_min_bytes
    want = fmt_bytes(minimum)
    if usage.error or usage.total_bytes is None or usage.free_bytes is None:
        yield failed(
            f"{SHM_PATH} cannot be read: {usage.error or 'no size'}",
            item="size",
            expected=f">= {want}",
            observed=usage.error or "unknown",
            remediation="start the container with --shm-size=1g",
        )
        return
    size, free = usage.total_bytes, usage.free_bytes
    if size < minimum:
        yield failed(
            f"{SHM_PATH} is {fmt_bytes(size)}, below {want}",
            item="size",
            expected=f">= {want}",
            observed=fmt_bytes(size),
            remediation="docker run … --shm-size=1g (the guide's setting), or mount -o remount,size=1G /dev/shm",
            fix=(
                manual_fix("host", "recreate the container with docker run … --shm-size=1g (the guide's setting)"),
                manual_fix("container", "or, in a privileged container: mount -o remount,size=1G /dev/shm"),
            ),
        )
    else:
        yield passed(f"{SHM_PATH} is {fmt_bytes(size)} >= {want}", item="size", observed=fmt_bytes(size))
    if free < minimum:
        yield failed(
            f"only {fmt_bytes(free)} of {SHM_PATH} free, below {want}",
            item="free",
            expected=f">= {want}",
            observed=fmt_bytes(free),
            remediation=f"remove stale files of earlier runs from {SHM_PATH}, or enlarge it",
        )
    else:
        yield passed(f"{fmt_bytes(free)} free >= {want}", item="free", observed=fmt_bytes(free))


def _omp_threads(ctx: Context) -> int | None:
    value = ctx.env.get("OMP_NUM_THREADS", ctx.profile.env.get("OMP_NUM_THREADS", "")).strip()
    threads = whole(value)
    return threads if threads else None


def _more_cores_fix(ctx: Context, cpus: int, needed: int) -> str:
    """More cores; a lower OMP_NUM_THREADS only where the profile does not set it (env.vars wants the
    guide's value, so lowering it would trade this warning for an env.vars failure)."""
    fix = f"give the container at least {needed} CPU cores (docker run --cpuset-cpus=0-{needed - 1})"
    if "OMP_NUM_THREADS" in ctx.profile.env:
        return fix
    return f"{fix}, or export OMP_NUM_THREADS={max(1, cpus // ctx.plan.ranks_per_node)}"


def _cpu_result(ctx: Context, cpus: int | None) -> Result:
    ranks = ctx.plan.ranks_per_node
    threads = _omp_threads(ctx)
    if cpus is None:
        return errored("the number of usable CPU cores could not be read", item="cpu")
    if threads is None:
        wanted = ctx.profile.env.get("OMP_NUM_THREADS") or str(max(1, cpus // ranks))
        return warned(
            f"{cpus} CPU cores; OMP_NUM_THREADS is not a positive number, so each of the {ranks} ranks "
            "may start one thread per core",
            item="cpu",
            observed=str(cpus),
            remediation=f"export OMP_NUM_THREADS={wanted}",
        )
    needed = threads * ranks
    if cpus < needed:
        return warned(
            f"{cpus} CPU cores < OMP_NUM_THREADS {threads} × {ranks} local ranks = {needed}; threads will contend",
            item="cpu",
            expected=f">= {needed}",
            observed=str(cpus),
            remediation=_more_cores_fix(ctx, cpus, needed),
        )
    return passed(
        f"{cpus} CPU cores >= OMP_NUM_THREADS {threads} × {ranks} ranks = {needed}",
        item="cpu",
        expected=f">= {needed}",
        observed=str(cpus),
    )


def _ram_result(ctx: Context, total: int | None, available: int | None) -> Result:
    if total is None:
        return errored("host memory could not be read", item="ram")
    wanted = RAM_PER_RANK_BYTES * ctx.plan.ranks_per_node
    observed = f"{fmt_bytes(total)} total, {fmt_bytes(available)} available"
    if (available if available is not None else total) < wanted:
        return warned(
            f"{observed}; {ctx.plan.ranks_per_node} ranks want about {fmt_bytes(wanted)} "
            f"({fmt_bytes(RAM_PER_RANK_BYTES)} each) while loading",
            item="ram",
            expected=f">= {fmt_bytes(wanted)} available",
            observed=observed,
            remediation="stop other processes using host memory, or raise the container's memory limit",
        )
    return passed(observed, item="ram", expected=f">= {fmt_bytes(wanted)} available", observed=observed)


def _limit_text(limit: int) -> str:
    return "unlimited" if limit < 0 else str(limit)


def _nofile_result(soft: int | None, hard: int | None) -> Result:
    if soft is None or hard is None:
        return errored("the open-files limit could not be read", item="open-files")
    observed = f"soft {_limit_text(soft)}, hard {_limit_text(hard)}"
    if 0 <= hard < NOFILE_WANTED:
        return warned(
            f"open-files limit {observed} < {NOFILE_WANTED}; vLLM cannot raise it and may run out of descriptors",
            item="open-files",
            expected=f">= {NOFILE_WANTED}",
            observed=observed,
            remediation=f"docker run … --ulimit nofile={NOFILE_WANTED}:{NOFILE_WANTED}, or ulimit -n {NOFILE_WANTED}",
        )
    return passed(f"open files {observed} (vLLM raises the soft limit itself)", item="open-files", observed=observed)


@check(
    "host.resources",
    title="CPU cores, host RAM and open-files limit",
    explain="""
Why: each of the node's TP × DP-local ranks is a process with OMP_NUM_THREADS OpenMP threads; fewer
cores than that makes threads contend and slows every step. Loading the weights also takes host RAM
per rank, and vLLM with many workers needs many file descriptors.

What: usable CPU cores (this process's affinity) against OMP_NUM_THREADS × TP × DP-local; available
RAM against 16 GiB per local rank (a conservative floor); the open-files limit against 65535.
These are warnings with numbers, not failures.

Fix: give the container more cores (lower OMP_NUM_THREADS only where the profile does not set it: the
guide's value is what env.vars checks), free or add memory, and start the container with
`--ulimit nofile=65535:65535`.
""",
)
def host_resources(ctx: Context) -> Iterator[Result]:
    found = ctx.fact(resources)
    yield _cpu_result(ctx, found.cpu_count)
    yield _ram_result(ctx, found.mem_total_bytes, found.mem_available_bytes)
    yield _nofile_result(found.nofile_soft, found.nofile_hard)
