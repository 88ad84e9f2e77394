"""Installed Python packages of the target interpreter, and the commit each pinned package was built from.

Everything comes from one run of glm5check/host/pyinspect.py in the target interpreter (`--python`), plus a
gitpython read of an editable install's source folder through `ctx.host.probe`. Nothing is imported.

Commit evidence, most reliable first (docs/reference/install-facts.md §10):
1. `direct_url.json` `vcs_info.commit_id` (pip install git+URL): the full commit pip checked out;
2. an editable install's checkout (pip install -e .): its HEAD and uncommitted changes now;
3. the setuptools_scm local version `+g<hash>[.dYYYYMMDD][.target]` in METADATA (pip install .);
4. `__commit_id__` in `<package>/_version.py` (setuptools_scm >= 9 writes it even at a tag).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlparse

from glm5check.engine.context import reported_fact
from glm5check.errors import ProbeFailed
from glm5check.host.base import CommandResult
from glm5check.host.git import PROBE_KIND, read_checkout
from glm5check.parsers.versions import ScmVersion, VersionPy, parse_scm_version, parse_version_py
from glm5check.util import safejson
from glm5check.util.names import normalise
from glm5check.util.resources import package_text

if TYPE_CHECKING:
    from glm5check.facts.context import Context

# The top-level package each distribution installs (for its files in the inventory).
TOP_LEVEL = {"vllm": "vllm", "vllm-ascend": "vllm_ascend", "transformers": "transformers"}
SITE_DIR_NAMES = ("site-packages", "dist-packages")
REPORTED_PACKAGES = ("vllm", "vllm-ascend", "transformers", "torch", "torch-npu", "triton-ascend")


# The distributions whose commit the packages checks compare (`--expect NAME=SHA`).
EXPECTABLE = ("vllm", "vllm-ascend", "transformers")
COMMIT_RE = re.compile(r"[0-9a-f]{7,40}")


@lru_cache(maxsize=1)
def inspect_source() -> str:
    return package_text("glm5check.host", "pyinspect.py")


def inspect_argv(python: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The one command that inventories the target interpreter (also used to build demo snapshots), told
    what of the environment `vllm serve` would see that `-I` hides (PYTHONPATH, PYTHONNOUSERSITE). `-B`:
    the target environment is only read; nothing imported on the way (by a .pth file, say) may leave a
    .pyc in its site-packages (`-I` ignores PYTHONDONTWRITEBYTECODE, so it must be the option)."""
    argv = [python, "-I", "-B", "-c", inspect_source()]
    env = env or {}
    if env.get("PYTHONPATH"):
        argv += ["--pythonpath", env["PYTHONPATH"]]
    if env.get("PYTHONNOUSERSITE"):
        argv.append("--no-user-site")
    return argv


class Dist(NamedTuple):
    name: str | None
    version: str | None
    path: str | None
    errors: tuple[str, ...] = ()
    name_from_folder: bool = False
    direct_url: dict[str, Any] | None = None
    direct_url_error: str | None = None
    requires: tuple[str, ...] = ()
    entry_points: str | None = None

    @property
    def key(self) -> str:
        return normalise(self.name or "")

    @property
    def metadata_missing(self) -> bool:
        return "no METADATA file" in self.errors

    @property
    def install_kind(self) -> str:
        """vcs, editable, local-folder, archive, develop / egg-info (setuptools without pip: no install
        record) or index (a .dist-info without direct_url.json: from PyPI or another index)."""
        url = self.direct_url or {}
        if "vcs_info" in url:
            return "vcs"
        if "dir_info" in url:
            return "editable" if (url.get("dir_info") or {}).get("editable") else "local-folder"
        if "archive_info" in url:
            return "archive"
        if self._egg_info_folder:
            # setup.py develop leaves the .egg-info in the source folder, setup.py install in site-packages.
            return "egg-info" if self._egg_info_folder.endswith(SITE_DIR_NAMES) else "develop"
        return "index"

    @property
    def _egg_info_folder(self) -> str | None:
        path = (self.path or "").rstrip("/")
        return posixpath.dirname(path) if path.endswith(".egg-info") else None

    @property
    def is_editable(self) -> bool:
        """The running code is whatever the source folder holds now."""
        return self.install_kind in ("editable", "develop")

    @property
    def vcs_commit(self) -> str | None:
        info = (self.direct_url or {}).get("vcs_info") or {}
        commit = info.get("commit_id")
        return commit if isinstance(commit, str) else None

    @property
    def url(self) -> str | None:
        url = (self.direct_url or {}).get("url")
        return url if isinstance(url, str) else None

    @property
    def local_folder(self) -> str | None:
        """The source folder of a `pip install [-e] <folder>` (from its file:// URL) or `setup.py develop`."""
        if self.install_kind == "develop":
            return self._egg_info_folder
        if self.install_kind not in ("editable", "local-folder") or not self.url:
            return None
        parsed = urlparse(self.url)
        return unquote(parsed.path) if parsed.scheme == "file" else None


@dataclass(frozen=True)
class PackageDir:
    """A top-level package's folder in the target interpreter, with the files the checks read."""

    dir: str | None
    texts: dict[str, str | None] = field(default_factory=dict)
    probes: dict[str, bool] = field(default_factory=dict)
    error: str | None = None


class Inventory(NamedTuple):
    python_version: str | None
    executable: str | None
    marker_environment: dict[str, str]
    dists: tuple[Dist, ...]
    packages: dict[str, PackageDir]

    def named(self, name: str) -> list[Dist]:
        key = normalise(name)
        return [d for d in self.dists if d.key == key]

    def package(self, dist_name: str) -> PackageDir:
        return self.packages.get(TOP_LEVEL.get(normalise(dist_name), ""), PackageDir(None))


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _dist(record: dict[str, Any]) -> Dist:
    direct_url = record.get("direct_url")
    return Dist(
        name=record.get("name") if isinstance(record.get("name"), str) else None,
        version=record.get("version") if isinstance(record.get("version"), str) else None,
        path=record.get("path") if isinstance(record.get("path"), str) else None,
        errors=_tuple_of_str(record.get("errors")),
        name_from_folder=bool(record.get("name_from_folder")),
        direct_url=direct_url if isinstance(direct_url, dict) else None,
        direct_url_error=record.get("direct_url_error")
        or (None if direct_url is None or isinstance(direct_url, dict) else "direct_url.json is not an object"),
        requires=_tuple_of_str(record.get("requires")),
        entry_points=record.get("entry_points") if isinstance(record.get("entry_points"), str) else None,
    )


def parse_inventory(text: str) -> Inventory | str:
    """The inventory pyinspect printed, or a one-line reason why it cannot be read."""
    try:
        data = safejson.loads(text)
    except safejson.JsonProblem:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        return f"its output is not JSON: {first[:200]!r}" if first else "it printed nothing"
    if not isinstance(data, dict) or data.get("schema") != "glm5check.pyinspect/1":
        return "its output is not a glm5check inventory"
    if data.get("error"):
        return f"the inventory failed: {data['error']}"
    python = data.get("python") or {}
    packages = {
        name: PackageDir(
            dir=rec.get("dir"),
            texts=dict(rec.get("texts") or {}),
            probes=dict(rec.get("probes") or {}),
            error=rec.get("error"),
        )
        for name, rec in (data.get("packages") or {}).items()
        if isinstance(rec, dict)
    }
    return Inventory(
        python_version=python.get("version"),
        executable=python.get("executable"),
        marker_environment=dict(data.get("marker_environment") or {}),
        dists=tuple(_dist(r) for r in data.get("distributions") or () if isinstance(r, dict)),
        packages=packages,
    )


def _run_failure(python: str, result: CommandResult) -> str:
    """Like CommandResult.describe_failure, but without echoing the argv, which holds the whole script."""
    if result.not_found:
        # A snapshot from a glm5check with another inventory script answers the same way on replay.
        return f"the target interpreter {python!r} was not found (on replay: not in the snapshot)"
    if result.timed_out:
        return f"the target interpreter {python} did not answer within {result.timeout_s:g} s and was killed"
    if result.error:
        return f"the target interpreter {python} could not run: {result.error}"
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    return f"the target interpreter {python} exited with status {result.exit_code}: " + (
        lines[-1][:200] if lines else "no output"
    )


def inventory(ctx: Context) -> Inventory:
    python = ctx.options.python
    result = ctx.host.run(inspect_argv(python, ctx.env))
    fix = "; choose the interpreter vllm runs with: --python /path/to/bin/python"
    if not result.ok:
        raise ProbeFailed(_run_failure(python, result) + fix)
    parsed = parse_inventory(result.stdout)
    if isinstance(parsed, str):
        raise ProbeFailed(f"cannot inventory the packages of {python}: {parsed}{fix}")
    return parsed


class Checkout(NamedTuple):
    """An answer of host/git.py's read_checkout, or the probe's own failure."""

    folder: str
    head: str | None = None
    dirty: bool | None = None
    changed: tuple[str, ...] = ()
    submodules: tuple[dict[str, Any], ...] = ()
    error: str | None = None


def read_source_checkout(ctx: Context, folder: str) -> Checkout:
    answer = ctx.host.probe(PROBE_KIND, folder, lambda: read_checkout(folder))
    value = answer.value if isinstance(answer.value, dict) else {}
    error = answer.error or value.get("error")
    if answer.timed_out:
        error = f"reading the git checkout {folder} timed out ({answer.error})"
    return Checkout(
        folder=folder,
        head=value.get("head"),
        dirty=value.get("dirty"),
        changed=tuple(value.get("changed") or ()),
        submodules=tuple(s for s in value.get("submodules") or () if isinstance(s, dict)),
        error=error,
    )


class CommitEvidence(NamedTuple):
    """What is known about the installed build of one pinned distribution."""

    name: str
    dists: tuple[Dist, ...]
    version: ScmVersion | None = None
    version_py: VersionPy | None = None
    commit: str | None = None
    source: str | None = None  # where the commit comes from; None when nothing names one
    dirty: bool | None = None
    checkout: Checkout | None = None

    @property
    def dist(self) -> Dist | None:
        return self.dists[0] if len(self.dists) == 1 else None


def commit_evidence(ctx: Context, name: str, read_submodules: bool = False) -> CommitEvidence:
    """The installed build of `name`. The source folder of a non-editable `pip install <folder>` is read
    only when read_submodules is set (for vllm-ascend's submodules); the build itself came from it earlier."""
    inv = ctx.fact(inventory)
    dists = tuple(inv.named(name))
    if len(dists) != 1:
        return CommitEvidence(name, dists)
    dist = dists[0]
    version = parse_scm_version(dist.version)
    version_py = parse_version_py(inv.package(name).texts.get("_version.py"))
    base = CommitEvidence(name, dists, version, version_py)
    folder = dist.local_folder
    wanted = dist.is_editable or read_submodules
    checkout = read_source_checkout(ctx, folder) if folder and wanted else None
    if dist.vcs_commit:
        return _with(base, dist.vcs_commit, "direct_url.json vcs_info", False, checkout)
    if dist.is_editable and checkout is not None:
        return _with(base, checkout.head, "editable checkout HEAD", checkout.dirty, checkout)
    if version.commit:
        return _with(base, version.commit, "setuptools_scm version", bool(version.dirty_date), checkout)
    if version_py.commit_id and re.fullmatch(r"g[0-9a-f]{7,40}", version_py.commit_id):
        return _with(base, version_py.commit_id[1:], "_version.py __commit_id__", None, checkout)
    return _with(base, None, None, None, checkout)


def _with(
    base: CommitEvidence,
    commit: str | None,
    source: str | None,
    dirty: bool | None,
    checkout: Checkout | None,
) -> CommitEvidence:
    return CommitEvidence(base.name, base.dists, base.version, base.version_py, commit, source, dirty, checkout)


def vllm_install(ctx: Context) -> CommitEvidence:
    return commit_evidence(ctx, "vllm")


def vllm_ascend_install(ctx: Context) -> CommitEvidence:
    return commit_evidence(ctx, "vllm-ascend", read_submodules=True)


def transformers_checkout(ctx: Context) -> Checkout | None:
    """The git checkout of an editable transformers install, if it is one."""
    dists = ctx.fact(inventory).named("transformers")
    folder = dists[0].local_folder if len(dists) == 1 and dists[0].is_editable else None
    return read_source_checkout(ctx, folder) if folder else None


def _package_entry(inv: Inventory, name: str, evidence: CommitEvidence | None) -> dict[str, Any] | None:
    dists = inv.named(name)
    if not dists:
        return None
    dist = dists[0]
    entry: dict[str, Any] = {
        "version": dist.version,
        "source": dist.install_kind,
        "commit": dist.vcs_commit,
        "dirty": None,
    }
    if evidence is not None:
        entry.update(commit=evidence.commit, commit_source=evidence.source, dirty=evidence.dirty)
    if len(dists) > 1:
        entry["copies"] = [d.version for d in dists]
    return entry


@reported_fact("packages")
def report_packages(ctx: Context) -> Any:
    inv = ctx.facts.peek(inventory)
    if inv is None:
        return None
    evidence = {"vllm": ctx.facts.peek(vllm_install), "vllm-ascend": ctx.facts.peek(vllm_ascend_install)}
    entries = {name: _package_entry(inv, name, evidence.get(name)) for name in REPORTED_PACKAGES}
    return {name: entry for name, entry in entries.items() if entry is not None}


@reported_fact("python")
def report_python(ctx: Context) -> Any:
    inv = ctx.facts.peek(inventory)
    if inv is None:
        return None
    return {"version": inv.python_version, "executable": inv.executable}
