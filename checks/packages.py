"""The Python software stack of the target interpreter: Python itself, the pinned vllm and vllm-ascend
builds, transformers with GLM-5 support, and the requirements they declare.

Nothing here imports the packages: the facts come from glm5check.facts.packages (one run of a
standard-library script in the target interpreter, plus git reads of editable checkouts).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from glm5check.engine.check import Fix, Result, check, failed, passed, run_fix, skipped, warned
from glm5check.facts.packages import (
    COMMIT_RE,
    CommitEvidence,
    Dist,
    Inventory,
    inventory,
    transformers_checkout,
    vllm_ascend_install,
    vllm_install,
)
from glm5check.facts.requirements import (
    DistRequirements,
    RequirementPlan,
    Unmet,
    requirement_plan,
    requirements_command,
)
from glm5check.knowledge.stacks import release_stack_of
from glm5check.knowledge.targets import TRANSFORMERS_GIT, ReleasePin, Targets, TransformersTarget, stack_targets
from glm5check.parsers.versions import (
    ScmVersion,
    commits_agree,
    is_full_commit,
    judge_scm_version,
    parse_scm_version,
    release_before,
    safe_version,
    target_problem,
)
from glm5check.util.names import normalise

if TYPE_CHECKING:
    from glm5check.facts.context import Context

VLLM_REPO = "https://github.com/vllm-project/vllm.git"
VLLM_ASCEND_REPO = "https://github.com/vllm-project/vllm-ascend.git"
GLM5_CONFIG_FILE = "models/glm_moe_dsa/configuration_glm_moe_dsa.py"
GLM5_AUTO_FILE = "models/auto/configuration_auto.py"
# What vllm serve prints when transformers does not know GLM-5 (transformers <= 5.1.0).
GLM5_UNKNOWN_ERROR = (
    "ValueError: The checkpoint you are trying to load has model type `glm_moe_dsa` but Transformers does "
    "not recognize this architecture. This could be because of an issue with the checkpoint, or because "
    "your version of Transformers is out of date."
)
INSTALL_KIND_TEXT = {
    "vcs": "pip install git+URL",
    "editable": "pip install -e (editable)",
    "develop": "setup.py develop (legacy editable)",
    "egg-info": "setup.py install (no install record)",
    "local-folder": "pip install <folder>",
    "archive": "a wheel or archive file",
    "index": "PyPI or another package index",
}


def _expect(ctx: Context, name: str) -> str | None:
    """The commit `--expect NAME=SHA` gives for a distribution, if any."""
    return {normalise(k): v for k, v in ctx.options.expect.items()}.get(name) or None


def _expected_commit(ctx: Context, name: str, pinned: str) -> tuple[str, str]:
    """The commit to compare with and where it comes from (`--expect NAME=SHA` or the profile)."""
    override = _expect(ctx, name)
    if override:
        return override.strip().lower(), "--expect"
    return pinned, f"profile {ctx.profile.name}"


def _install_steps(name: str, target: str | None, commit: str | None = None, tag: str | None = None) -> Fix:
    """The guide's source build at a commit, or vllm-ascend's installation guide's at a release tag
    (installation.md@v0.18.0:158-171: a shallow clone of the tag, then an editable install)."""
    repo = VLLM_REPO if name == "vllm" else VLLM_ASCEND_REPO
    folder = repo.rsplit("/", 1)[1].removesuffix(".git")
    clone = ("git", "clone", "--depth", "1", "--branch", tag, repo) if tag else ("git", "clone", repo)
    steps: list[tuple[str, ...]] = [clone, ("cd", folder), *([("git", "checkout", commit)] if commit else [])]
    if name == "vllm-ascend":
        steps.append(("git", "submodule", "update", "--init", "--recursive"))
    install = ("pip", "install", "-v", "-e", ".") if tag else ("pip", "install", "-v", ".")
    steps.append((*((f"VLLM_TARGET_DEVICE={target}",) if target else ()), *install))
    return run_fix("container", *steps)


def _install_command(name: str, target: str | None, commit: str | None = None, tag: str | None = None) -> str:
    return " && ".join(" ".join(argv) for argv in _install_steps(name, target, commit, tag).commands)


def _distribution_problem(
    ev: CommitEvidence, python: str | None, fix: str, steps: tuple[Fix, ...] = ()
) -> Result | None:
    """A Result when the distribution is missing, duplicated or its metadata is broken."""
    if not ev.dists:
        return failed(f"{ev.name} is not installed in {python}", observed="not installed", remediation=fix, fix=steps)
    if len(ev.dists) > 1:
        copies = ", ".join(f"{d.version} at {d.path}" for d in ev.dists)
        return failed(
            f"{len(ev.dists)} installed copies of {ev.name}: {copies}; the first on sys.path loads",
            observed=copies,
            remediation=f"pip uninstall -y {ev.name} (repeat until none is left), then reinstall: {fix}",
        )
    dist = ev.dists[0]
    if dist.metadata_missing:
        return failed(
            f"{ev.name}'s metadata is broken: {dist.path} has no METADATA",
            observed=f"{dist.path}: {'; '.join(dist.errors)}",
            remediation=f"remove {dist.path} and reinstall: {fix}",
        )
    if dist.direct_url_error:
        return failed(
            f"{ev.name}'s install record is broken, so its source cannot be told: {dist.direct_url_error}",
            observed=dist.version,
            remediation=f"reinstall: {fix}",
        )
    if dist.is_editable and ev.checkout is not None and ev.checkout.error:
        return failed(
            f"{ev.name} is an editable install, but its source folder cannot be read: {ev.checkout.error}",
            observed=f"{dist.version} (editable from {ev.checkout.folder})",
            remediation=f"restore the checkout at {ev.checkout.folder}, or reinstall: {fix}",
        )
    return None


def _build_problems(ev: CommitEvidence, pin: str, target: str | None) -> list[str]:
    assert ev.version is not None and ev.dist is not None
    if ev.source in (None, "setuptools_scm version"):
        verdict = judge_scm_version(ev.version, pin, target)
        return [] if verdict.ok else [verdict.message]
    problems = []
    if not commits_agree(ev.commit, pin):
        problems.append(f"installed commit {ev.commit} ({ev.source}) is not the pinned {pin}")
    if ev.dirty and ev.checkout is not None:
        changed = ", ".join(ev.checkout.changed) or "files"
        problems.append(f"the checkout {ev.checkout.folder} has uncommitted changes ({changed})")
    target_issue = target_problem(ev.version, target) if ev.version.valid else None
    if target_issue:
        problems.append(target_issue)
    return problems


def _state(ev: CommitEvidence) -> str:
    return "dirty" if ev.dirty else "clean" if ev.dirty is False else "clean state unknown"


def _observed(ev: CommitEvidence) -> str:
    assert ev.dist is not None
    return f"{ev.dist.version}; commit {ev.commit or 'unknown'} ({ev.source or 'no evidence'}, {_state(ev)})"


def _judge_install(ctx: Context, ev: CommitEvidence, pinned: str, target: str | None) -> Result:
    pin, pin_source = _expected_commit(ctx, ev.name, pinned)
    if not COMMIT_RE.fullmatch(pin):
        return failed(
            f"the expected commit {pin!r} ({pin_source}) is not a commit id: 7 to 40 hex digits",
            expected="a commit id",
            observed=pin,
            remediation=f"pin a commit: --expect {ev.name}=<sha> (git rev-parse <branch or tag>)",
        )
    fix = _install_command(ev.name, target, commit=pin)
    python = ctx.fact(inventory).executable or ctx.options.python
    problem = _distribution_problem(ev, python, fix, (_install_steps(ev.name, target, commit=pin),))
    if problem is not None:
        return problem
    assert ev.dist is not None
    expected = f"commit {pin} ({pin_source})" + (f", VLLM_TARGET_DEVICE={target}" if target else "")
    problems = _build_problems(ev, pin, target)
    if problems and ev.dist.install_kind in ("index", "archive", "egg-info"):
        problems.append(f"installed from {INSTALL_KIND_TEXT[ev.dist.install_kind]}")
    if problems:
        return _install_failed(ctx, ev, problems, expected, fix)
    return passed(
        f"{ev.dist.version} = pin {pin[:8]} ({ev.source}, {_state(ev)})", expected=expected, observed=_observed(ev)
    )


def _install_failed(ctx: Context, ev: CommitEvidence, problems: list[str], expected: str, fix: str) -> Result:
    hint, other_stack = _release_hint(ctx)
    return failed(
        "; ".join(problems) + hint,
        expected=expected,
        observed=_observed(ev),
        remediation=f"pip uninstall -y {ev.name}, then {fix}" + other_stack,
    )


def _release_hint(ctx: Context) -> tuple[str, str]:
    """(message tail, remediation tail) when the installed vllm-ascend is a release with a stack other than the
    selected one: a node built from a release image fails the pinned stack, and this says which stack fits."""
    dists = ctx.fact(inventory).named("vllm-ascend")
    release = release_stack_of(dists[0].version or "") if len(dists) == 1 else None
    if release is None or release == ctx.stack.name:
        return "", ""
    return (
        f"; this is vllm-ascend {release}; --stack {release} checks against its compatibility matrix",
        f"; or, to check this node as the {release} release: glm5check --stack {release} (or --stack auto)",
    )


def _judge(ctx: Context, ev: CommitEvidence) -> Result:
    """packages.vllm / packages.vllm-ascend: against the release of a release stack, else (or with --expect) the
    commit the profile pins."""
    targets = stack_targets(ctx.stack, ctx.profile)
    release = targets.releases.get(ev.name)
    if release is not None and not _expect(ctx, ev.name):
        return _judge_release(ctx, ev, release, targets)
    target = (targets.vllm_target or ("empty" if targets.is_release else None)) if ev.name == "vllm" else None
    pinned = targets.vllm_commit if ev.name == "vllm" else targets.vllm_ascend_commit
    return _judge_install(ctx, ev, pinned or "", target)


def _release_install_command(ctx: Context, pin: ReleasePin) -> str:
    """The release built from source, or the release image that has it built."""
    build = _install_command(pin.name, "empty" if pin.name == "vllm" else None, tag=pin.tag)
    image = ctx.stack.images.get(ctx.profile.hardware.series.lower())
    return build + (f" (or run the release image {image.value})" if image else "")


def _release_problems(ev: CommitEvidence, pin: ReleasePin, stack: str) -> list[str]:
    """Why an installed vllm / vllm-ascend is not the release `pin`: another version, a build label other than
    vllm's `empty` target (a CUDA or CPU build), another commit than vllm-ascend's tag, a dirty checkout."""
    version = ev.version
    assert version is not None and ev.dist is not None
    if not _same_release(version, pin.version):
        return [f"{ev.dist.version} is not the {pin.name} {pin.version} release of stack {stack}"]
    problems = []
    if version.local and not (pin.name == "vllm" and version.target == "empty" and not version.commit):
        problems.append(target_problem(version, "empty" if pin.name == "vllm" else None) or version.text)
    if pin.commit and ev.commit and not commits_agree(ev.commit, pin.commit):
        problems.append(f"installed commit {ev.commit} ({ev.source}) is not {pin.tag}'s tag commit {pin.commit}")
    if ev.dirty and ev.checkout is not None:
        changed = ", ".join(ev.checkout.changed) or "files"
        problems.append(f"the checkout {ev.checkout.folder} has uncommitted changes ({changed})")
    return problems


def _same_release(version: ScmVersion, release: str) -> bool:
    public = safe_version(version.public)
    return version.valid and public is not None and public == safe_version(release)


def _judge_release(ctx: Context, ev: CommitEvidence, pin: ReleasePin, targets: Targets) -> Result:
    fix = _release_install_command(ctx, pin)
    python = ctx.fact(inventory).executable or ctx.options.python
    problem = _distribution_problem(ev, python, fix)
    if problem is not None:
        return problem
    assert ev.dist is not None
    stack = targets.stack.name
    tag_commit = f", tag commit {pin.commit}" if pin.commit else ""
    empty = " (VLLM_TARGET_DEVICE=empty, or the release wheel)" if pin.name == "vllm" else ""
    expected = f"{pin.name} {pin.version}{tag_commit}{empty} ({pin.source})"
    problems = _release_problems(ev, pin, stack)
    if problems:
        return _install_failed(ctx, ev, problems, expected, fix)
    how = INSTALL_KIND_TEXT[ev.dist.install_kind]
    commit = f"tag commit {pin.commit[:8]}, " if pin.commit and ev.commit else ""
    return passed(
        f"{ev.dist.version} = {pin.name} {pin.version}, the release of stack {stack} ({commit}{how}, {_state(ev)})",
        expected=expected,
        observed=_observed(ev),
    )


@check(
    "packages.python",
    title="Python version supported by vllm-ascend",
    explain="""
Why: vllm-ascend at the pinned commit supports Python 3.10 and 3.11 only (its classifiers, README and
the torch_npu 2.9.0 wheels); other versions fail to install its wheels or to load its compiled ops.
What: the version of the target interpreter (--python, default the python3 on PATH), read by running it
once with -I, compared with the profile's `python_versions` (pinned stack) or the Python range of the
stack's compatibility-matrix row (a release stack, `--stack`).
Fix: run vllm from a Python 3.11 environment (the vllm-ascend image uses 3.11) and point glm5check at it
with --python /path/to/venv/bin/python.
""",
)
def python_version(ctx: Context) -> Result:
    inv = ctx.fact(inventory)
    target = stack_targets(ctx.stack, ctx.profile).python
    expected = f"{target.shown} ({target.source})"
    observed = f"{inv.python_version} ({inv.executable})"
    if target.allows(inv.python_version):
        return passed(f"Python {inv.python_version}", expected=expected, observed=observed)
    return failed(
        f"Python {inv.python_version or 'unknown'} is not supported by vllm-ascend (needs {target.shown})",
        expected=expected,
        observed=observed,
        remediation=f"use a Python {target.suggested} environment and pass --python /path/to/bin/python",
    )


@check(
    "packages.vllm",
    title="vllm built from the pinned commit (or the stack's release) for the empty target",
    explain="""
Why: GLM-5 support on Ascend needs vllm at the guide's commit (978a37c8), built with
VLLM_TARGET_DEVICE=empty so that vllm-ascend provides the platform. A PyPI wheel or a CUDA/CPU build
brings CUDA kernels and the wrong platform; another commit breaks vllm-ascend's patches. Under a release
stack (`--stack v0.18.0`, `--stack auto`) vllm must be the release the compatibility matrix pairs with
that vllm-ascend: another version breaks vllm-ascend's patches the same way.
What: the installed commit from the best evidence there is: direct_url.json vcs_info (pip install
git+URL), the checkout's HEAD and uncommitted changes (pip install -e), else the setuptools_scm version
(`+g<hash>`, `.dYYYYMMDD` = dirty tree, `.empty` = target), compared with the profile's pin or
`--expect vllm=SHA`. Under a release stack: the installed version's base (`0.18.0+empty` is 0.18.0)
equals the stack's vllm release, with no build label but `empty`, from a clean tree.
Fix: git clone https://github.com/vllm-project/vllm.git && cd vllm && git checkout <pin> &&
VLLM_TARGET_DEVICE=empty pip install -v . (a release: git clone --depth 1 --branch v<release> … &&
VLLM_TARGET_DEVICE=empty pip install -v -e ., or the stack's release image).
""",
)
def vllm(ctx: Context) -> Result:
    return _judge(ctx, ctx.fact(vllm_install))


def _entry_points(text: str | None) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    current: set[str] | None = None
    for raw in (text or "").splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1].strip(), set())
        elif current is not None and "=" in line:
            current.add(line.split("=", 1)[0].strip())
    return groups


def _platform_plugin(ev: CommitEvidence) -> Result | None:
    if ev.dist is None or ev.dist.metadata_missing:
        return None
    if "ascend" in _entry_points(ev.dist.entry_points).get("vllm.platform_plugins", set()):
        return passed("vllm.platform_plugins entry point `ascend` is registered", item="platform plugin")
    return failed(
        "vllm-ascend registers no `ascend` entry point in vllm.platform_plugins: vllm will not find the NPU",
        item="platform plugin",
        expected="[vllm.platform_plugins] ascend = vllm_ascend:register",
        observed=(ev.dist.entry_points or "no entry_points.txt").strip()[:200],
        remediation="reinstall vllm-ascend from its checkout with pip install -v .",
    )


def _submodules(ev: CommitEvidence) -> Result | None:
    checkout = ev.checkout
    if checkout is None or checkout.error or not checkout.submodules:
        return None
    missing = [str(s.get("path")) for s in checkout.submodules if s.get("state") == "uninitialised"]
    if missing:
        return failed(
            f"uninitialised submodules in {checkout.folder}: {', '.join(missing)}; the build lacks their code",
            item="submodules",
            observed=", ".join(missing),
            remediation=f"cd {checkout.folder} && git submodule update --init --recursive && pip install -v .",
        )
    moved = [str(s.get("path")) for s in checkout.submodules if s.get("state") != "ok"]
    if moved:
        return warned(
            f"submodules in {checkout.folder} not at the commit the checkout records: {', '.join(moved)}",
            item="submodules",
            observed=", ".join(moved),
            remediation=f"cd {checkout.folder} && git submodule update --recursive && pip install -v .",
        )
    return passed(f"submodules initialised in {checkout.folder} ({len(checkout.submodules)})", item="submodules")


@check(
    "packages.vllm-ascend",
    title="vllm-ascend built from the pinned commit (or the stack's release)",
    explain="""
Why: the GLM-5 tutorial was written against vllm-ascend at ff3a50d; its NPU kernels, quantization
(`--quantization ascend`) and MLA/DSA attention must match the pinned vllm. Its C++ ops come from git
submodules, so a checkout built without `git submodule update --init --recursive` is incomplete. A node
built from a release (image or tag) fails the pinned stack; the message names the release stack that
matches, and `--stack <release>` (or `--stack auto`) checks it against that release instead.
What: the installed commit (direct_url.json vcs_info, the editable checkout's HEAD and dirty state, or
the setuptools_scm version `+g<hash>`) against the profile's pin or `--expect vllm-ascend=SHA`; under a
release stack, the version against the release and the commit (when known) against its tag's; the
`vllm.platform_plugins` entry point `ascend`; and, when the source folder is available, its submodules.
Fix: git clone https://github.com/vllm-project/vllm-ascend.git && cd vllm-ascend && git checkout <pin>
&& git submodule update --init --recursive && pip install -v . (a release: git clone --depth 1 --branch
<release tag> …, or the stack's release image).
""",
)
def vllm_ascend(ctx: Context) -> Iterator[Result]:
    ev = ctx.fact(vllm_ascend_install)
    yield _judge(ctx, ev)
    for extra in (_platform_plugin(ev), _submodules(ev)):
        if extra is not None:
            yield extra


def _transformers_source(ctx: Context, dist: Dist) -> str:
    if dist.install_kind == "vcs":
        return f"git {dist.url} @ {dist.vcs_commit}"
    if dist.is_editable:
        checkout = ctx.fact(transformers_checkout)
        head = checkout.head if checkout and checkout.head else "HEAD unknown"
        return f"local checkout {dist.local_folder} @ {head}"
    if dist.install_kind == "local-folder":
        return f"local folder {dist.local_folder} (commit not recorded)"
    return INSTALL_KIND_TEXT[dist.install_kind]


@check(
    "packages.transformers",
    title="transformers knows GLM-5 (glm_moe_dsa)",
    explain="""
Why: GLM-5's config has model_type `glm_moe_dsa`, which transformers learned in 5.2.0 (the guide installs
transformers from git main). With an older transformers, vllm serve stops with "The checkpoint you are
trying to load has model type `glm_moe_dsa` but Transformers does not recognize this architecture."
What: the installed transformers package contains models/glm_moe_dsa/ and its auto config names it, and
how it was installed: a git source build (direct_url.json vcs_info with a 40-hex commit, a .devN
version) or a local checkout passes; a PyPI release >= 5.2.0 works but is a warning (not the guide's
pin); below 5.2.0 fails. Under a release stack a release >= 5.2.0 passes; from v0.19.1rc1 on, where
vllm-ascend pins transformers (5.5.3, then 5.5.4) and vLLM excludes 5.2.*, any other version warns and
the fix installs the pinned one, the same version packages.requirements asks for.
Fix: pip install git+https://github.com/huggingface/transformers.git (release stacks: the version
`glm5check stacks show <stack>` names, e.g. pip install 'transformers==5.5.3')
""",
)
def transformers(ctx: Context) -> Result:
    inv = ctx.fact(inventory)
    target = stack_targets(ctx.stack, ctx.profile).transformers
    fix = target.pip_command
    steps = (run_fix("container", ("pip", "install", TRANSFORMERS_GIT if target.from_git else target.install)),)
    dists = inv.named("transformers")
    ev = CommitEvidence("transformers", tuple(dists))
    problem = _distribution_problem(ev, inv.executable, fix, steps)
    if problem is not None:
        return problem
    dist = dists[0]
    source = _transformers_source(ctx, dist)
    observed = f"{dist.version} from {source}"
    expected = f"glm_moe_dsa support: {target.shown} ({target.source})"
    package = inv.package("transformers")
    if package.dir is None:
        return failed(
            f"transformers {dist.version} has metadata but no importable package folder",
            expected=expected,
            observed=observed,
            remediation=fix,
        )
    has_glm5 = package.probes.get(GLM5_CONFIG_FILE) and package.probes.get(GLM5_AUTO_FILE)
    version = parse_scm_version(dist.version)
    too_old = _older_than(version.public, target.minimum)
    if not has_glm5 or (dist.install_kind in ("index", "archive") and too_old):
        if not has_glm5:
            observed += f"; {package.dir}/{GLM5_CONFIG_FILE} missing"
        return failed(
            f"transformers {dist.version} from {source} has no glm_moe_dsa "
            f"(GLM-5 needs >= {target.minimum}{' or git main' if target.from_git else ''}); vllm serve fails with: "
            f"{GLM5_UNKNOWN_ERROR}",
            expected=expected,
            observed=observed,
            remediation=fix,
            fix=steps,
        )
    if target.exact:
        return _judge_transformers_pin(ctx, dist, version, target, expected, observed)
    return _judge_transformers_source(ctx, dist, version.is_devrelease, target, expected, observed)


def _judge_transformers_pin(
    ctx: Context, dist: Dist, version: ScmVersion, target: TransformersTarget, expected: str, observed: str
) -> Result:
    """A stack whose vllm-ascend pins transformers (v0.19.1rc1 on): that version is what its image runs and what
    vllm's own requirement admits; another one that knows glm_moe_dsa runs GLM-5, but not as released."""
    if _same_release(version, target.exact or ""):
        return passed(
            f"{dist.version} = the transformers {ctx.stack.name}'s vllm-ascend pins, has glm_moe_dsa",
            expected=expected,
            observed=observed,
        )
    vllm = "" if target.vllm_allows(dist.version) else f", and vllm excludes it ({target.vllm_declares})"
    return warned(
        f"transformers {dist.version} has glm_moe_dsa, but vllm-ascend {ctx.stack.name} pins {target.exact}{vllm}",
        expected=expected,
        observed=observed,
        remediation=target.pip_command,
    )


def _judge_transformers_source(
    ctx: Context, dist: Dist, is_dev: bool, target: TransformersTarget, expected: str, observed: str
) -> Result:
    wanted = _expect(ctx, "transformers")
    if wanted and not commits_agree(dist.vcs_commit, wanted):
        return failed(
            f"transformers commit {dist.vcs_commit or 'unknown'} is not the expected {wanted}",
            expected=f"commit {wanted} (--expect)",
            observed=observed,
            remediation=f"pip install {TRANSFORMERS_GIT}@{wanted}",
        )
    kind = dist.install_kind
    if kind == "vcs" and is_full_commit(dist.vcs_commit) and is_dev:
        return passed(
            f"{dist.version} from git @ {dist.vcs_commit[:12]}, has glm_moe_dsa",
            expected=expected,
            observed=observed,
        )
    if kind in ("editable", "develop", "local-folder", "vcs"):
        return passed(f"{dist.version} from source ({kind}), has glm_moe_dsa", expected=expected, observed=observed)
    if not target.from_git:
        return passed(f"{dist.version} has glm_moe_dsa", expected=expected, observed=observed)
    return warned(
        f"transformers {dist.version} from {INSTALL_KIND_TEXT[dist.install_kind]} has glm_moe_dsa and works, "
        "but the guide installs git main",
        expected=expected,
        observed=observed,
        remediation=f"to match the guide: {target.pip_command}",
    )


def _older_than(version: str | None, minimum: str) -> bool:
    return release_before(version, minimum) is not False


# The table names this many unmet requirements; the JSON `observed` keeps them all.
SHOWN_UNMET = 5
# Up to this many packages are installed by one inline `pip install`; more go through --requirements.
INLINE_INSTALL = 5


def _unmet_text(unmet: list[Unmet]) -> str:
    if len(unmet) <= SHOWN_UNMET:
        return "; ".join(map(str, unmet))
    names = ", ".join(u.name for u in unmet[:SHOWN_UNMET])
    return f"{names}, … and {len(unmet) - SHOWN_UNMET} more"


def install_fix(ctx: Context, lines: tuple[str, ...]) -> str:
    """One command to paste: `pip install 'a' 'b'`, or for a long list `pip install -r <(glm5check …)`."""
    if len(lines) <= INLINE_INSTALL:
        return "pip install " + " ".join(f"'{line}'" for line in lines)
    return f"pip install -r <({requirements_command(ctx)})"


def _requirements_result(ctx: Context, plan: RequirementPlan, found: DistRequirements) -> Result:
    named = f" ({', '.join(found.key_versions)})" if found.key_versions else ""
    problems = [*map(str, found.unmet), *found.unreadable]
    if not problems:
        return passed(f"all {found.checked} requirements of {found.name} met{named}", item=found.name)
    lines = plan.install_for({u.name for u in found.unmet})
    fix = install_fix(ctx, lines) if lines else f"reinstall {found.name}: its requirement list is unreadable"
    shown = _unmet_text(found.unmet) if found.unmet else "; ".join(found.unreadable)
    # Only post-releases of exact pins or other builds than the release's row: they run, not as declared or tested.
    judged = warned if found.unmet and not found.unreadable and all(u.soft for u in found.unmet) else failed
    return judged(
        f"{len(problems)} of {found.checked + len(found.unreadable)} requirements of {found.name} "
        f"{found.version} unmet: {shown}",
        item=found.name,
        observed="; ".join(problems),
        remediation=fix,
        fix=(run_fix("container", ("pip", "install", *lines)),) if 0 < len(lines) <= INLINE_INSTALL else (),
    )


@check(
    "packages.requirements",
    title="Requirements of vllm and vllm-ascend are installed",
    explain="""
Why: vllm-ascend at the pin needs torch 2.9.0, torch-npu 2.9.0 and triton-ascend 3.2.0 exactly; a
mismatched torch/torch_npu pair fails at import or in the first NPU op, long after the weights loaded.
What: every Requires-Dist of vllm and vllm-ascend (with PEP 508 markers evaluated for the target
interpreter, extras off) against the installed versions, by PEP 440 specifiers. vllm's `transformers<5`
against transformers 5.x is the known conflict the guide creates on purpose for GLM-5: shown, not failed.
Where the stack requires a version itself, it decides (`glm5check stacks show <stack>`): transformers
always; under a release stack torch, torch-npu and triton-ascend as its compatibility-matrix row says
(the release image installs torch-npu 2.9.0.post1 where vllm-ascend v0.18.0 declares ==2.9.0): a
declared requirement the stack's version breaks is shown as an expected conflict, and the fix installs
the stack's version, the same one packages.transformers asks for.
The table names the first five unmet requirements; the JSON report lists them all.
Fix: one command: `pip install` of the listed versions, merged over both distributions (vllm's `numpy`
and vllm-ascend's `numpy<2.0.0` become `numpy<2.0.0`; transformers stays GLM-5's, never `<5`), e.g.
pip install 'torch==2.9.0' 'torch-npu==2.9.0' 'triton-ascend==3.2.0'; for a long list
`pip install -r <(glm5check --profile NAME --requirements)`.
""",
)
def requirements(ctx: Context) -> Iterator[Result]:
    plan = ctx.fact(requirement_plan)
    for name, found in plan.judged.items():
        if found is None:
            yield skipped(
                f"{name} is not installed exactly once with readable metadata (see packages.{name})",
                item=name,
            )
            continue
        yield _requirements_result(ctx, plan, found)
        for conflict in found.expected_conflicts:
            yield passed(
                f"known, expected conflict: {name} requires {conflict}; {conflict.why}",
                item=f"{name} {conflict.name} pin",
                observed=str(conflict),
            )
    yield from _broken_metadata(ctx.fact(inventory))


def _broken_metadata(inv: Inventory) -> Iterator[Result]:
    broken = [d for d in inv.dists if d.metadata_missing and d.key not in ("vllm", "vllm-ascend")]
    if broken:
        listed = ", ".join(d.path or d.name or "?" for d in broken)
        yield warned(
            f"{len(broken)} installed distribution(s) without METADATA: {listed}",
            item="metadata",
            observed=listed,
            remediation="remove those dist-info folders and reinstall the packages they belong to",
        )
