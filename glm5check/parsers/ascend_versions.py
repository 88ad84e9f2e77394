"""Ascend version files: CANN `ascend_toolkit_install.info` / `version.cfg`, driver `version.info`,
`/etc/ascend_install.info`.

All three are `key=value` lines; keys differ in case (`Version=` in the driver file, `version=` in the
toolkit file) and order between hosts. `version.cfg` holds `<part>_<kind>_version=[<inner>:<public>]`
entries, sometimes two bracket pairs on one line and sometimes without its `# version: 1.0` header.
Nothing here raises: a value that cannot be read is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from glm5check.util.lazyre import lazy
from glm5check.util.numbers import whole

_CANN_VERSION = lazy(
    r"^(?P<major>\d+)\.(?P<minor>\d+)\.(?:(?P<patch>\d+)|RC(?P<rc>\d+)|T(?P<test>\d+))"
    r"(?:\.alpha(?P<alpha>\d+))?(?:\..*)?$",
    re.IGNORECASE,
)
_CFG_PAIR = lazy(r"\[([^\[\]:]*):([^\[\]]*)\]")
_INNER = lazy(r"V(\d{1,4})R(\d{1,4})C(\d{1,4})", re.IGNORECASE)
_BRACKETS = lazy(r"\[([^\[\]]*)\]")


def parse_key_values(text: str | None) -> dict[str, str]:
    """`key=value` lines into a dict (first occurrence wins; comments and other lines are ignored)."""
    values: dict[str, str] = {}
    if not isinstance(text, str):
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values.setdefault(key.strip(), value.strip())
    return values


InnerKey = tuple[int, int, int]


def inner_key(text: str | None) -> InnerKey | None:
    """The release line of an inner version, `V100R001C19SPC002B226` -> (100, 1, 19); None if not one."""
    match = _INNER.search(text) if isinstance(text, str) else None
    if match is None:
        return None
    v, r, c = (whole(match[i], digits=4) for i in (1, 2, 3))
    return (v, r, c) if v is not None and r is not None and c is not None else None


def parse_compatible(text: str | None) -> tuple[tuple[InnerKey, InnerKey], ...]:
    """`compatible_version=[V100R001C15],[V100R001C13,V100R001C19]` as inclusive (low, high) ranges of inner
    versions; an entry that is not one is left out."""
    ranges = []
    for entry in _BRACKETS.findall(text or ""):
        bounds = [inner_key(part) for part in entry.split(",")]
        keys = [key for key in bounds if key is not None]
        if keys and len(keys) == len(bounds) and len(keys) <= 2:
            ranges.append((keys[0], keys[-1]))
    return tuple(ranges)


class CannInstallInfo(NamedTuple):
    """One `ascend_<package>_install.info` file (toolkit, nnae, ...). `compatible` holds the driver inner
    versions the package supports (its `compatible_version` line)."""

    package_name: str | None
    version: str | None
    inner_version: str | None
    arch: str | None
    path: str | None
    compatible: tuple[tuple[InnerKey, InnerKey], ...] = ()


def parse_install_info(text: str | None) -> CannInstallInfo:
    values = {k.lower(): v for k, v in parse_key_values(text).items()}
    return CannInstallInfo(
        package_name=values.get("package_name") or None,
        version=values.get("version") or None,
        inner_version=values.get("innerversion") or None,
        arch=values.get("arch") or None,
        path=values.get("path") or None,
        compatible=parse_compatible(values.get("compatible_version")),
    )


@dataclass(frozen=True)
class VersionCfg:
    """`<toolkit>/version.cfg`: the public version per component (`toolkit`, `runtime`, ...)."""

    running: dict[str, str] = field(default_factory=dict)
    installed: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def toolkit_version(self) -> str | None:
        return self.running.get("toolkit") or self.running.get("runtime")


def parse_version_cfg(text: str | None) -> VersionCfg:
    running: dict[str, str] = {}
    installed: dict[str, tuple[str, ...]] = {}
    for key, value in parse_key_values(text).items():
        publics = tuple(public.strip() for _inner, public in _CFG_PAIR.findall(value) if public.strip())
        if not publics:
            continue
        if key.endswith("_running_version"):
            running[key[: -len("_running_version")]] = publics[-1]
        elif key.endswith("_installed_version"):
            installed[key[: -len("_installed_version")]] = publics
    return VersionCfg(running, installed)


class DriverVersion(NamedTuple):
    """The driver's `version.info`; `compatible` holds the CANN inner versions it supports."""

    version: str | None
    package_version: str | None
    inner_version: str | None
    compatible: tuple[tuple[InnerKey, InnerKey], ...] = ()


def parse_driver_version_info(text: str | None) -> DriverVersion:
    values = {k.lower(): v for k, v in parse_key_values(text).items()}
    return DriverVersion(
        version=values.get("version") or None,
        package_version=values.get("package_version") or None,
        inner_version=values.get("innerversion") or None,
        compatible=parse_compatible(values.get("compatible_version")),
    )


class AscendInstallInfo(NamedTuple):
    """`/etc/ascend_install.info`, written by the driver/firmware installer."""

    driver_install_path: str | None
    firmware_install_path: str | None
    user: str | None


def parse_ascend_install_info(text: str | None) -> AscendInstallInfo:
    values = parse_key_values(text)
    return AscendInstallInfo(
        driver_install_path=values.get("Driver_Install_Path_Param") or None,
        firmware_install_path=values.get("Firmware_Install_Path_Param") or None,
        user=values.get("UserName") or None,
    )


def cann_version_key(version: str | None) -> tuple[int, ...] | None:
    """An orderable key for CANN versions: `8.0.T63` < `8.0.RC1` < `8.0.RC2` < `8.0.0` < `8.0.1` < `8.1.RC1`.

    Test builds (T) come before release candidates, which come before the final release of the same
    major.minor; an `.alphaN` release candidate comes before its RC. None when the text is not a CANN
    version (it is then unknown, never guessed)."""
    if not isinstance(version, str):
        return None
    match = _CANN_VERSION.match(version.strip())
    if not match:
        return None
    read = {key: whole(value) for key, value in match.groupdict().items() if value is not None}
    numbers = {key: number for key, number in read.items() if number is not None}
    if len(numbers) != len(read):  # a number of over 18 digits is no CANN version
        return None
    major, minor = numbers["major"], numbers["minor"]
    alpha = (0, numbers["alpha"]) if "alpha" in numbers else (1, 0)
    if "patch" in numbers:
        return (major, minor, 2, numbers["patch"], *alpha)
    if "rc" in numbers:
        return (major, minor, 1, numbers["rc"], *alpha)
    return (major, minor, 0, numbers["test"], *alpha)
