"""CANN toolkit and NPU driver facts, read from their version files (no Ascend library is loaded).

The CANN toolkit is found in any of its install layouts (docs/reference/KEY-FACTS.md): the folder the environment
points at (`ASCEND_TOOLKIT_HOME`, `ASCEND_HOME_PATH`, set by `set_env.sh`) first, because that is the one
vllm-ascend loads, then `ascend-toolkit/latest`, `cann`, `cann-<version>` under /usr/local/Ascend and
under `$HOME/Ascend` (non-root installs). In each, `<arch>-linux/ascend_toolkit_install.info` is read,
falling back to the older `version.cfg`.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any, NamedTuple

from glm5check.engine.context import reported_fact
from glm5check.errors import SeeCheck
from glm5check.parsers.ascend_versions import (
    DriverVersion,
    InnerKey,
    parse_ascend_install_info,
    parse_driver_version_info,
    parse_install_info,
    parse_version_cfg,
)

if TYPE_CHECKING:
    from glm5check.facts.context import Context

ASCEND_ROOT = "/usr/local/Ascend"
ASCEND_INSTALL_INFO = "/etc/ascend_install.info"
TOOLKIT_INFO_FILE = "ascend_toolkit_install.info"
# Variables set by CANN's set_env.sh that name the toolkit in use, most specific first.
TOOLKIT_ENV_VARS = ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")


class CannFound(NamedTuple):
    file: str  # the version file read
    version: str | None
    root: str  # the toolkit folder it belongs to
    sourced: bool  # the environment points at this folder
    inner_version: str | None = None
    compatible: tuple[tuple[InnerKey, InnerKey], ...] = ()  # driver inner versions it supports


class CannState(NamedTuple):
    found: tuple[CannFound, ...]
    searched: tuple[str, ...]  # toolkit folders looked at, in order
    env_var: str | None  # the first of TOOLKIT_ENV_VARS that is set
    env_home: str | None  # its value
    env_home_exists: bool | None

    @property
    def selected(self) -> CannFound | None:
        """The toolkit vllm-ascend will load: the sourced one when the environment names one."""
        return next((f for f in self.found if f.sourced), None) or next(iter(self.found), None)


def _toolkit_roots(ctx: Context, env: dict[str, str]) -> list[tuple[str, bool]]:
    roots: list[tuple[str, bool]] = []
    for var in TOOLKIT_ENV_VARS:
        if env.get(var):
            roots.append((env[var].rstrip("/") or "/", True))
    bases = [ASCEND_ROOT]
    if env.get("HOME"):
        bases.append(posixpath.join(env["HOME"], "Ascend"))
    for base in bases:
        roots += [(f"{base}/ascend-toolkit/latest", False), (f"{base}/cann", False)]
        listing = ctx.host.list_dir(base)
        roots += [(f"{base}/{entry}", False) for entry in listing.entries or () if entry.startswith("cann-")]
    unique: dict[str, bool] = {}
    for root, sourced in roots:
        unique[root] = unique.get(root, False) or sourced
    return list(unique.items())


def _read_root(ctx: Context, root: str, sourced: bool) -> CannFound | None:
    listing = ctx.host.list_dir(root)
    for entry in listing.entries or ():
        if not entry.endswith("-linux"):
            continue
        path = f"{root}/{entry}/{TOOLKIT_INFO_FILE}"
        read = ctx.host.read_file(path)
        if read.text is not None:
            info = parse_install_info(read.text)
            return CannFound(path, info.version, root, sourced, info.inner_version, info.compatible)
    if listing.entries is None:
        return None
    path = f"{root}/version.cfg"
    cfg = ctx.host.read_file(path) if "version.cfg" in listing.entries else None
    if cfg is not None and cfg.text is not None:
        return CannFound(path, parse_version_cfg(cfg.text).toolkit_version, root, sourced)
    return None


def cann_state(ctx: Context) -> CannState:
    env = ctx.env
    roots = _toolkit_roots(ctx, env)
    found = [f for root, sourced in roots if (f := _read_root(ctx, root, sourced)) is not None]
    env_var = next((var for var in TOOLKIT_ENV_VARS if env.get(var)), None)
    env_home = env.get(env_var) if env_var else None
    env_home_exists = ctx.host.stat(env_home).kind == "dir" if env_home else None
    return CannState(tuple(found), tuple(root for root, _ in roots), env_var, env_home, env_home_exists)


class DriverState(NamedTuple):
    folder: str  # the driver install folder (from /etc/ascend_install.info, else the default)
    folder_source: str
    version_file: str
    read_error: str | None  # why version.info could not be read ("missing", ...)
    version: DriverVersion | None
    lib64_exists: bool
    ld_library_path: str | None

    @property
    def lib64(self) -> str:
        return f"{self.folder}/lib64"


def driver_state(ctx: Context) -> DriverState:
    install_info = ctx.host.read_file(ASCEND_INSTALL_INFO)
    install_path = parse_ascend_install_info(install_info.text).driver_install_path
    if install_path:
        folder, source = f"{install_path.rstrip('/')}/driver", ASCEND_INSTALL_INFO
    else:
        folder, source = f"{ASCEND_ROOT}/driver", "default location"
    version_file = f"{folder}/version.info"
    read = ctx.host.read_file(version_file)
    version = parse_driver_version_info(read.text) if read.text is not None else None
    return DriverState(
        folder=folder,
        folder_source=source,
        version_file=version_file,
        read_error=read.error,
        version=version,
        lib64_exists=ctx.host.stat(f"{folder}/lib64").kind == "dir",
        ld_library_path=ctx.env.get("LD_LIBRARY_PATH"),
    )


def selected_toolkit(ctx: Context) -> CannFound:
    """The CANN toolkit vllm-ascend will load; when none is found, ascend.cann reports it."""
    selected = ctx.fact(cann_state).selected
    if selected is None:
        raise SeeCheck("ascend.cann", "no CANN toolkit found")
    return selected


NNAL_ATB = f"{ASCEND_ROOT}/nnal/atb"
ATB_ENV_VAR = "ATB_HOME_PATH"  # set by nnal/atb/set_env.sh: the ATB build (cxx_abi_0 or cxx_abi_1) in use


class NnalState(NamedTuple):
    """NNAL's ATB (libatb.so, which torch_npu and vllm-ascend load): installed, and sourced."""

    set_env_exists: bool  # /usr/local/Ascend/nnal/atb/set_env.sh
    home: str | None  # ATB_HOME_PATH
    library: str | None  # $ATB_HOME_PATH/lib/libatb.so
    library_exists: bool
    script_line: int | None = None  # the launch script's `source …/nnal/atb/set_env.sh` line (it sets ATB_HOME_PATH)


def nnal_state(ctx: Context) -> NnalState:
    home = ctx.env.get(ATB_ENV_VAR) or None
    library = f"{home.rstrip('/')}/lib/libatb.so" if home else None
    set_env = f"{NNAL_ATB}/set_env.sh"
    return NnalState(
        set_env_exists=ctx.host.stat(set_env).exists,
        home=home,
        library=library,
        library_exists=library is not None and ctx.host.stat(library).exists,
        script_line=next((line for sourced, line in ctx.launch.sourced if sourced == set_env), None),
    )


@reported_fact("cann_version")
def report_cann_version(ctx: Context) -> Any:
    state = ctx.facts.peek(cann_state)
    selected = state.selected if state else None
    return selected.version if selected else None


@reported_fact("driver_version")
def report_driver_version(ctx: Context) -> Any:
    state = ctx.facts.peek(driver_state)
    return state.version.version if state and state.version else None
