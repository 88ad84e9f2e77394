"""Version strings of source builds: what setuptools_scm and vllm's setup.py put into a version.

A build of a git checkout that is not exactly at a tag gets a local label (docs/reference/install-facts.md §1-3):
`0.16.0rc2.dev3+g978a37c82.empty` = public `0.16.0rc2.dev3`, commit prefix `978a37c82` (9 hex digits
with setuptools_scm >= 9, 7 or more with 8.x), optional `.dYYYYMMDD` when the tree had uncommitted
changes, then vllm's target-device suffix (`.empty`, `.cpu`, `cu128`, `precompiled`, ...). A version
without `+g<hash>` (a PyPI release, a build at a tag, a pretend version) names no commit at all.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple, TypeGuard

from glm5check.util.lazyre import lazy

if TYPE_CHECKING:
    from packaging.version import Version

_HASH = lazy(r"^g([0-9a-f]{7,40})$")
_DATE = lazy(r"^d(\d{8})$")
_HEX = lazy(r"^[0-9a-f]{7,40}$")
_VERSION_PY_VALUE = lazy(r"^\s*__(version|commit_id)__\s*=\s*(?:\w+\s*=\s*)?(['\"])(.*?)\2", re.MULTILINE)
MIN_COMMIT_PREFIX = 7


def safe_version(text: object) -> Version | None:
    """packaging's Version of text, or None when it is not one: not PEP 440 (InvalidVersion), not a string,
    or a number int() refuses (over 4300 digits: ValueError). The one place versions from data are parsed."""
    from packaging.version import Version  # imported when a version is read (start-up time)

    if not isinstance(text, str):
        return None
    try:
        return Version(text)
    except ValueError:  # InvalidVersion is a ValueError
        return None


def release_before(version: str | None, minimum: str) -> bool | None:
    """Whether version's release (its .devN, pre-release and local label ignored: a git build of the minimum
    counts as the minimum) is before minimum; None when either is not a version."""
    have, least = safe_version(version), safe_version(minimum)
    base = None if have is None else safe_version(have.base_version)
    if base is None or least is None:
        return None
    return base < least


class ScmVersion(NamedTuple):
    text: str
    valid: bool  # a PEP 440 version
    public: str | None
    local: str | None
    commit: str | None  # the hex digits after `+g`
    dirty_date: str | None  # YYYYMMDD from `.dYYYYMMDD`
    target: str | None  # what follows the commit and date (vllm's target device), e.g. "empty"
    is_devrelease: bool = False


def parse_scm_version(text: object) -> ScmVersion:
    if not isinstance(text, str) or not text.strip():
        return ScmVersion(str(text or ""), False, None, None, None, None, None)
    raw = text.strip()
    parsed = safe_version(raw)
    if parsed is None:
        public_text, _, local_text = raw.partition("+")
        return ScmVersion(raw, False, public_text or None, local_text or None, None, None, None)
    commit = dirty = None
    rest: list[str] = []
    for position, segment in enumerate((parsed.local or "").split(".") if parsed.local else ()):
        hash_match, date_match = _HASH.match(segment), _DATE.match(segment)
        if position == 0 and hash_match:
            commit = hash_match.group(1)
        elif not rest and dirty is None and date_match:
            dirty = date_match.group(1)
        else:
            rest.append(segment)
    return ScmVersion(
        text=raw,
        valid=True,
        public=parsed.public,
        local=parsed.local,
        commit=commit,
        dirty_date=dirty,
        target=".".join(rest) or None,
        is_devrelease=parsed.is_devrelease,
    )


def without_target(version: ScmVersion) -> str:
    """The version as vllm's own `_version.py` holds it: vllm appends the target only to the METADATA one."""
    for separator in (".", "+"):
        if version.target and version.text.endswith(separator + version.target):
            return version.text[: -len(version.target) - 1]
    return version.text


def is_full_commit(text: object) -> TypeGuard[str]:
    return isinstance(text, str) and len(text) == 40 and bool(_HEX.match(text.lower()))


def commits_agree(observed: str | None, expected: str | None) -> bool:
    """True when one commit id is a prefix of the other and the shorter has at least 7 hex digits."""
    if not observed or not expected:
        return False
    a, b = observed.lower().strip(), expected.lower().strip()
    if not (_HEX.match(a) and _HEX.match(b)):
        return False
    shorter, longer = sorted((a, b), key=len)
    return len(shorter) >= MIN_COMMIT_PREFIX and longer.startswith(shorter)


def target_problem(version: ScmVersion, expected_target: str | None) -> str | None:
    """Why the build's target label is wrong, or None. expected_target None means "no label at all"."""
    if version.target == expected_target:
        return None
    if expected_target is None:
        return f"unexpected build label .{version.target} in {version.text}"
    if version.target is None:
        return (
            f"{version.text} has no .{expected_target} target suffix: built without "
            f"VLLM_TARGET_DEVICE={expected_target} (for the default CUDA target)"
        )
    return f"built for target .{version.target}, not .{expected_target} (VLLM_TARGET_DEVICE={expected_target})"


class ScmVerdict(NamedTuple):
    ok: bool
    problems: tuple[str, ...]  # codes: no-commit, other-commit, dirty, target
    message: str


def judge_scm_version(version: ScmVersion, pin: str, expected_target: str | None) -> ScmVerdict:
    """Does an installed version string prove a clean build of the pinned commit for the right target?"""
    problems: list[tuple[str, str]] = []
    if version.commit is None:
        problems.append(
            (
                "no-commit",
                f"{version.text} carries no git commit (+g<hash>): a release, tag or wheel build, not commit {pin[:9]}",
            )
        )
    elif not commits_agree(version.commit, pin):
        problems.append(("other-commit", f"built from commit {version.commit}, but the pin is {pin}"))
    if version.dirty_date:
        problems.append(
            (
                "dirty",
                f"built from a tree with uncommitted changes (.d{version.dirty_date}), not exactly the pinned commit",
            )
        )
    target = target_problem(version, expected_target)
    if target and version.commit is not None:
        problems.append(("target", target))
    if not problems:
        return ScmVerdict(True, (), f"{version.text} = commit {version.commit}, clean build")
    return ScmVerdict(False, tuple(code for code, _ in problems), "; ".join(text for _, text in problems))


class VersionPy(NamedTuple):
    """`<package>/_version.py` as setuptools_scm writes it (read as text, never imported)."""

    version: str | None
    commit_id: str | None  # e.g. "g978a37c82"; only setuptools_scm >= 9 writes it


def parse_version_py(text: object) -> VersionPy:
    if not isinstance(text, str):
        return VersionPy(None, None)
    values = {name: value for name, _quote, value in _VERSION_PY_VALUE.findall(text)}
    return VersionPy(values.get("version") or None, values.get("commit_id") or None)
