"""Ascend software under vllm-ascend: the CANN toolkit, the NPU driver and the devices they expose.

`ascend.cann` and `ascend.driver` read version files only (no Ascend library is loaded); the facts
come from glm5check.facts.ascend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from glm5check.engine.check import Fix, Result, check, dependent, failed, manual_fix, passed, run_fix, skipped, warned
from glm5check.facts.ascend import (
    ATB_ENV_VAR,
    NNAL_ATB,
    CannState,
    DriverState,
    NnalState,
    cann_state,
    driver_state,
    nnal_state,
    selected_toolkit,
)
from glm5check.facts.system import container_paths, planned_device_paths
from glm5check.knowledge.targets import stack_targets
from glm5check.parsers.ascend_versions import InnerKey, cann_version_key, inner_key

if TYPE_CHECKING:
    from glm5check.facts.context import Context

SET_ENV_SCRIPT = "/usr/local/Ascend/ascend-toolkit/set_env.sh"
SET_ENV = f"source {SET_ENV_SCRIPT}"
# `.` is `source` in any POSIX shell (the fix plan is a /bin/sh script).
SOURCE_SET_ENV = run_fix("container", (".", SET_ENV_SCRIPT))


@check(
    "ascend.cann",
    title="CANN toolkit version and environment",
    explain="""
Why: vllm-ascend and torch_npu call the CANN runtime (libascendcl, HCCL, operator kernels). The pinned
vllm-ascend (ff3a50d) is built and tested against CANN 8.5.0; an older toolkit loads but may lack
operators the MoE and MLA kernels use, and an unsourced environment fails at `import torch_npu`.
What: the `version=` line of `<toolkit>/<arch>-linux/ascend_toolkit_install.info` (or `version.cfg`)
in the folder ASCEND_TOOLKIT_HOME / ASCEND_HOME_PATH point at, else in /usr/local/Ascend/ascend-toolkit/
latest, /usr/local/Ascend/cann or /usr/local/Ascend/cann-<version>, compared with the profile's
`cann_min` (pinned stack) or the "Stable CANN" of the stack's compatibility-matrix row (a release stack,
`--stack`); that ASCEND_TOOLKIT_HOME (set by set_env.sh) names an existing folder; and NNAL's ATB, which
the guide's image installs and sources (vllm-ascend's Dockerfile at ff3a50d: `source
/usr/local/Ascend/nnal/atb/set_env.sh`; its installation guide: NNAL == 8.5.0, "required for libatb.so"):
ATB_HOME_PATH (set by that script) holds lib/libatb.so, else torch_npu fails with "libatb.so: cannot open
shared object file".
Fix: install CANN 8.5.0 (toolkit and NNAL) and `source /usr/local/Ascend/ascend-toolkit/set_env.sh`
and `source /usr/local/Ascend/nnal/atb/set_env.sh` in the shell that runs vllm serve.
""",
)
def cann(ctx: Context) -> Iterator[Result]:
    state = ctx.fact(cann_state)
    targets = stack_targets(ctx.stack, ctx.profile)
    yield _cann_version(state, targets.cann_min, targets.built_for)
    yield _cann_environment(state)
    yield _nnal(ctx.fact(nnal_state))


def _cann_version(state: CannState, minimum: str, built_for: str) -> Result:
    selected = state.selected
    expected = f">= {minimum}"
    if selected is None:
        return failed(
            "CANN toolkit not found: no ascend_toolkit_install.info or version.cfg under " + ", ".join(state.searched),
            item="toolkit",
            expected=expected,
            observed="not installed",
            remediation=f"install the CANN {minimum} toolkit (Ascend-cann-toolkit_{minimum}_linux-<arch>.run "
            f"--install), then {SET_ENV}",
        )
    if selected.version is None:
        return failed(
            f"{selected.file} has no version line",
            item="toolkit",
            expected=expected,
            observed="unknown",
            remediation=f"reinstall the CANN {minimum} toolkit",
        )
    observed = f"{selected.version} ({selected.file})"
    key, minimum_key = cann_version_key(selected.version), cann_version_key(minimum)
    if key is None or minimum_key is None:
        return warned(
            f"CANN {selected.version}: not a version glm5check can compare with {minimum}",
            item="toolkit",
            expected=expected,
            observed=observed,
            remediation=f"make sure the toolkit is CANN {minimum} or newer",
        )
    if key < minimum_key:
        return warned(
            f"CANN {selected.version} is older than {minimum}, which {built_for} is built for",
            item="toolkit",
            expected=expected,
            observed=observed,
            remediation=f"upgrade to CANN {minimum} (toolkit and NNAL), then {SET_ENV}",
        )
    return passed(f"CANN {selected.version} in {selected.root}", item="toolkit", expected=expected, observed=observed)


def _cann_environment(state: CannState) -> Result:
    if state.env_var is None:
        return failed(
            "CANN environment not sourced: ASCEND_TOOLKIT_HOME and ASCEND_HOME_PATH are unset",
            item="environment",
            expected="ASCEND_TOOLKIT_HOME set by set_env.sh",
            observed="unset",
            remediation=SET_ENV,
            fix=(SOURCE_SET_ENV,),
        )
    observed = f"{state.env_var}={state.env_home}"
    if not state.env_home_exists:
        return failed(
            f"{state.env_var} points at {state.env_home}, which is not a folder",
            item="environment",
            expected="an installed CANN toolkit folder",
            observed=observed,
            remediation=SET_ENV,
        )
    return passed(f"CANN environment sourced: {observed}", item="environment", observed=observed)


@check(
    "ascend.driver",
    title="NPU driver version and libraries",
    explain="""
Why: the NPU driver (Ascend HDK) must be installed on the host and, in a container, its version file and
`lib64` folder mounted; torch_npu loads libraries from the driver's lib64 through LD_LIBRARY_PATH and
fails with "libascend_hal.so: cannot open shared object file" without them.
What: the `Version=` line of `<driver>/version.info` (the driver folder comes from
Driver_Install_Path_Param in /etc/ascend_install.info, default /usr/local/Ascend/driver), that
LD_LIBRARY_PATH holds the driver's lib64 (or its lib64/common, lib64/driver subfolders), and that the
driver is one the CANN toolkit supports: the toolkit's `compatible_version` (ascend_toolkit_install.info)
lists the driver release lines it works with — the oldest one is the minimum the stack needs (CANN 8.5.0:
V100R001C15) — and the driver's own `compatible_version` lists the toolkits it works with; one of the
two must name the other's `Innerversion`.
Fix: install (or upgrade to) an Ascend HDK driver the CANN toolkit lists; in docker run add
`-v /usr/local/Ascend/driver/lib64/:...`,
`-v /usr/local/Ascend/driver/version.info:...`, `-v /etc/ascend_install.info:...`; then
`source /usr/local/Ascend/ascend-toolkit/set_env.sh` or export LD_LIBRARY_PATH with the driver's lib64.
""",
)
def driver(ctx: Context) -> Iterator[Result]:
    state = ctx.fact(driver_state)
    yield _driver_version(state)
    yield _driver_libraries(state)
    yield from dependent(_driver_compatibility(ctx, state), item="compatibility")


def _driver_version(state: DriverState) -> Result:
    where = f"{state.version_file} (driver folder from {state.folder_source})"
    if state.version is None:
        reason = "not found" if state.read_error == "missing" else f"unreadable ({state.read_error})"
        return failed(
            f"driver version file {reason}: {state.version_file}",
            item="version",
            expected="an installed NPU driver",
            observed=reason,
            remediation="install the Ascend HDK driver; in a container mount "
            f"-v {state.version_file}:{state.version_file} and -v {state.lib64}/:{state.lib64}/",
        )
    if state.version.version is None:
        return failed(
            f"{state.version_file} has no Version= line",
            item="version",
            expected="an installed NPU driver",
            observed="unknown",
            remediation="reinstall the Ascend HDK driver",
        )
    observed = f"{state.version.version} in {where}"
    return passed(f"driver {state.version.version}", item="version", observed=observed)


def _driver_libraries(state: DriverState) -> Result:
    entries = [e.rstrip("/") for e in (state.ld_library_path or "").split(":") if e]
    on_path = [e for e in entries if e == state.lib64 or e.startswith(state.lib64 + "/")]
    fix = f"export LD_LIBRARY_PATH={state.lib64}/common:{state.lib64}/driver:$LD_LIBRARY_PATH"
    if not state.lib64_exists:
        return failed(
            f"driver libraries missing: {state.lib64} is not a folder",
            item="LD_LIBRARY_PATH",
            expected=f"{state.lib64} present and on LD_LIBRARY_PATH",
            observed="missing",
            remediation=f"install the driver, or in a container mount -v {state.lib64}/:{state.lib64}/",
        )
    if not on_path:
        return failed(
            f"{state.lib64} is not on LD_LIBRARY_PATH",
            item="LD_LIBRARY_PATH",
            expected=f"{state.lib64} (or its common/, driver/ subfolders)",
            observed=state.ld_library_path or "unset",
            remediation=f"{SET_ENV}, or {fix}",
        )
    return passed(
        f"driver libraries on LD_LIBRARY_PATH: {', '.join(on_path)}",
        item="LD_LIBRARY_PATH",
        observed=", ".join(on_path),
    )


NNAL_SET_ENV = f"{NNAL_ATB}/set_env.sh"
NNAL_MISSING = "ImportError: libatb.so: cannot open shared object file: No such file or directory"


def _nnal(state: NnalState) -> Result:
    """NNAL's ATB, which the guide's image installs and sources (`source /usr/local/Ascend/nnal/atb/set_env.sh`)."""
    expected = f"{ATB_ENV_VAR}/lib/libatb.so present ({NNAL_SET_ENV} sourced)"
    if state.library_exists:
        return passed(f"NNAL ATB sourced: {state.library}", item="nnal", expected=expected, observed=state.library)
    if state.set_env_exists and state.script_line is not None:
        where = f"the launch script sources {NNAL_SET_ENV} (line {state.script_line})"
        return passed(f"NNAL ATB installed; {where}", item="nnal", expected=expected, observed=where)
    if state.home:
        message = f"{ATB_ENV_VAR}={state.home} has no lib/libatb.so; torch_npu fails with: {NNAL_MISSING}"
        observed, fix = (
            f"{state.library} missing",
            f"reinstall NNAL 8.5.0 (Ascend-cann-nnal), then source {NNAL_SET_ENV}",
        )
        steps: tuple[Fix, ...] = ()
    elif state.set_env_exists:
        message = f"NNAL is installed but not sourced ({ATB_ENV_VAR} unset): torch_npu fails with: {NNAL_MISSING}"
        observed, fix = (
            f"{ATB_ENV_VAR} unset",
            f"source {NNAL_SET_ENV} in the shell (or launch script) that runs vllm serve",
        )
        steps = (run_fix("launch", (".", NNAL_SET_ENV)),)
    else:
        message = f"NNAL (ATB) is not installed: no {NNAL_SET_ENV}; vllm-ascend needs NNAL 8.5.0 for libatb.so"
        observed = "not installed"
        fix = (
            "install NNAL 8.5.0 (Ascend-cann-nnal_8.5.0_linux-<arch>.run --install, as the guide's image has it), "
            f"then source {NNAL_SET_ENV}"
        )
        steps = ()
    return failed(message, item="nnal", expected=expected, observed=observed, remediation=fix, fix=steps)


def _driver_compatibility(ctx: Context, state: DriverState) -> Iterator[Result]:
    """The driver against the CANN toolkit: the toolkit's compatible_version lists the driver inner versions
    it supports (the oldest listed is the minimum it needs), the driver's lists the toolkits it supports."""
    toolkit = ctx.fact(selected_toolkit)
    driver = state.version
    driver_line = inner_key(driver.inner_version) if driver else None
    if driver is None or driver_line is None:
        yield skipped("no driver Innerversion to compare with CANN (see the version item)", item="compatibility")
        return
    if not toolkit.compatible:
        yield skipped(f"{toolkit.file} lists no compatible_version: not judged", item="compatibility")
        return
    supported = ", ".join(_release_range(low, high) for low, high in toolkit.compatible)
    observed = f"driver {driver.version} ({driver.inner_version})"
    expected = f"a driver CANN {toolkit.version} supports: {supported}"
    if listed(toolkit.compatible, driver_line) or listed(driver.compatible, inner_key(toolkit.inner_version)):
        message = f"driver {driver.version} ({_release_line(driver_line)}) works with CANN {toolkit.version}"
        yield passed(message, item="compatibility", expected=expected, observed=observed)
        return
    oldest = min(low for low, _ in toolkit.compatible)
    relation = "older than the oldest driver" if driver_line < oldest else "not a driver"
    yield failed(
        f"driver {driver.version} ({_release_line(driver_line)}) is {relation} CANN {toolkit.version} supports "
        f"({supported}), and the driver does not list this CANN either: CANN operators fail to load or the "
        "runtime refuses the device",
        item="compatibility",
        expected=expected,
        observed=observed,
        remediation=f"upgrade the NPU driver (Ascend HDK) on the host to one CANN {toolkit.version} lists "
        f"({_release_line(oldest)} or newer), or use the CANN release that matches this driver",
    )


def listed(ranges: tuple[tuple[InnerKey, InnerKey], ...], key: InnerKey | None) -> bool:
    """A release line within one of a compatible_version list's (low, high) ranges."""
    return key is not None and any(low <= key <= high for low, high in ranges)


def _release_range(low: tuple[int, int, int], high: tuple[int, int, int]) -> str:
    return _release_line(low) if low == high else f"{_release_line(low)}-{_release_line(high)}"


def _release_line(key: tuple[int, int, int] | None) -> str:
    return f"V{key[0]:03d}R{key[1]:03d}C{key[2]:02d}" if key else "?"


# -- ascend.devices (NPU device nodes and driver mounts; facts from glm5check.facts.npu) ----------------

_DEVICE_FIX = (
    "docker run … --device=/dev/davinci0 … --device=/dev/davinci_manager --device=/dev/devmm_svm "
    "--device=/dev/hisi_hdc (as the guide's docker run)"
)


@check(
    "ascend.devices",
    title="NPU device nodes and driver mounts in place",
    explain="""
Why: in a container, vLLM reaches the NPUs only through the device nodes and driver files the
`docker run` passes: /dev/davinci<N> for each chip, /dev/davinci_manager, /dev/devmm_svm and
/dev/hisi_hdc, plus /usr/local/dcmi, npu-smi, hccn_tool, the driver's lib64, version.info and
/etc/ascend_install.info mounted from the host. A missing one gives "dcmi module initialize failed"
(-8005), zero visible devices, or a driver library load error.

What: /dev/davinci<N> is a character device for each chip the plan uses (N = the chip's NPU id, or its
Phy-ID on A3), the profile's control devices are character devices, and each of the profile's driver
mounts exists.

Fix: add the missing `--device=/dev/…` and `-v /usr/local/Ascend/driver/…:/usr/local/Ascend/driver/…`
options to the container's `docker run` as the guide writes them, and recreate the container.
""",
)
def devices(ctx: Context) -> Iterator[Result]:
    seen = ctx.fact(container_paths)
    wanted = [*planned_device_paths(ctx), *ctx.profile.container.devices]
    kinds = {path: seen[path].kind for path in wanted}
    missing_devices = {path: kind for path, kind in kinds.items() if kind != "char"}
    for path, kind in missing_devices.items():
        yield failed(
            f"{path} is {'missing' if kind is None else f'a {kind}, not a character device'}",
            item=path,
            expected="character device",
            observed=kind or "missing",
            remediation=_DEVICE_FIX,
            fix=(manual_fix("host", f"recreate the container with {_DEVICE_FIX}"),),
        )
    if not missing_devices:
        yield passed(
            f"{len(wanted)} device nodes present: {', '.join(wanted)}",
            item="devices",
            observed=f"{len(wanted)} character devices",
        )
    mounts = ctx.profile.container.mounts
    missing_mounts = [p for p in mounts if not seen[p].exists]
    for path in missing_mounts:
        yield failed(
            f"{path} is missing",
            item=path,
            expected="present (mounted from the host)",
            observed="missing",
            remediation=f"docker run … -v {path}:{path} (as the guide's docker run)",
            fix=(manual_fix("host", f"recreate the container with docker run … -v {path}:{path}"),),
        )
    if mounts and not missing_mounts:
        yield passed(f"{len(mounts)} driver mounts present", item="mounts", observed=", ".join(mounts))
