"""The requirements vllm and vllm-ascend declare, against what the target interpreter has installed, and
the pip requirements that fix what is unmet without undoing another check.

The fix merges what both distributions ask of a package (vllm's `numpy` and vllm-ascend's `numpy<2.0.0`
become `numpy<2.0.0`: a bare `numpy` would install 2.x and break vllm-ascend). Where the stack requires a
version itself (glm5check.knowledge.targets), the stack decides, for the verdict and for the fix: transformers
is always GLM-5's (git main or >= 5.2.0; from v0.19.1rc1 the version vllm-ascend pins), never vllm's
`transformers<5`, which cannot load GLM-5's `glm_moe_dsa` config; under a release stack torch, torch-npu and
triton-ascend are the compatibility-matrix row's (the release image installs torch-npu 2.9.0.post1 where
vllm-ascend declares ==2.9.0). A declared requirement the stack overrides is an expected conflict, shown, not
failed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from glm5check.facts.packages import Dist, Inventory, inventory
from glm5check.knowledge.targets import Targets, stack_targets
from glm5check.parsers.versions import safe_version
from glm5check.util.names import normalise

if TYPE_CHECKING:
    from glm5check.facts.context import Context

JUDGED = ("vllm", "vllm-ascend")
# Requirements named in the requirements message even when they are met.
KEY_REQUIREMENTS = ("torch", "torch-npu", "triton-ascend", "transformers")


class Unmet(NamedTuple):
    name: str  # normalised distribution name
    wanted: str  # as the distribution declares it: "torch-npu==2.9.0"
    reason: str  # "installed 2.9.0.post2", "not installed", "2 copies installed: 2.9.0, 2.8.0"
    # It runs, but not as declared or tested: a post-release of an exact pin (torch-npu 2.9.0.post2 for ==2.9.0:
    # the same release line; only pip's metadata check disagrees, nothing in vllm-ascend compares versions at
    # start-up), or a version vllm-ascend accepts that is not its release stack's matrix row.
    soft: bool = False

    def __str__(self) -> str:
        return f"{self.wanted} ({self.reason})"


class Conflict(NamedTuple):
    """A declared requirement the stack overrides on purpose, met by the stack's own version."""

    name: str  # normalised distribution name
    wanted: str  # as declared: "transformers<5,>=4.56.0"
    installed: str
    why: str  # "GLM-5 needs transformers >= 5.2.0"

    def __str__(self) -> str:
        return f"{self.wanted} (installed {self.installed})"


@dataclass
class DistRequirements:
    """One distribution's Requires-Dist against the inventory."""

    name: str
    version: str | None
    checked: int = 0
    unmet: list[Unmet] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "unreadable requirement 'x' (why)"
    expected_conflicts: list[Conflict] = field(default_factory=list)
    key_versions: list[str] = field(default_factory=list)  # "torch-npu 2.9.0" for KEY_REQUIREMENTS


class RequirementPlan(NamedTuple):
    judged: dict[str, DistRequirements | None]  # None: not installed exactly once with readable metadata
    install: tuple[str, ...]  # one pip requirement per unmet package, merged over both distributions

    def install_for(self, names: set[str]) -> tuple[str, ...]:
        """The merged requirements of these (normalised) package names."""
        return tuple(line for line in self.install if normalise(_line_name(line)) in names)


def _line_name(line: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", line, maxsplit=1)[0]


def _applicable(inv: Inventory, dist: Dist, found: DistRequirements) -> list[Requirement]:
    environment = {**inv.marker_environment, "extra": ""}
    applicable = []
    for text in dist.requires:
        try:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(environment):
                applicable.append(req)
        except (InvalidRequirement, ValueError) as exc:
            found.unreadable.append(f"unreadable requirement {text!r} ({exc})")
    return applicable


def _satisfies(specifier: SpecifierSet, version: str) -> bool:
    try:
        return bool(specifier.contains(version, prereleases=True))
    except ValueError:  # InvalidVersion, or a number int() refuses (over 4300 digits)
        return False


def _judge(inv: Inventory, req: Requirement, found: DistRequirements, targets: Targets) -> None:
    found.checked += 1
    name = normalise(req.name)
    installed = inv.named(req.name)
    versions = [d.version for d in installed if d.version]
    if name in KEY_REQUIREMENTS and versions:
        found.key_versions.append(f"{name} {versions[0]}")
    wanted = f"{req.name}{req.specifier}"
    required = targets.requirement(name)
    if len(installed) > 1:
        reason = f"{len(installed)} copies installed: {', '.join(versions)}"
    elif not versions:
        reason = "metadata unreadable" if installed else "not installed"
    elif name == "transformers" and _glm5_conflict(req.specifier, versions[0], targets.transformers.version):
        found.expected_conflicts.append(Conflict(name, wanted, versions[0], targets.transformers.why))
        return
    elif required is not None and required.met_by(versions[0]):
        # The stack's own version (the release row's build): a declaration it breaks is a known conflict.
        if not _satisfies(req.specifier, versions[0]):
            found.expected_conflicts.append(Conflict(name, wanted, versions[0], required.why))
        return
    elif _satisfies(req.specifier, versions[0]):
        if name in targets.row:  # declared, but not the build the release's matrix row names
            row = targets.row[name]
            found.unmet.append(Unmet(name, row.install, f"installed {versions[0]}; {row.why}", soft=True))
        return
    elif _post_release_of_pin(req.specifier, versions[0]):
        found.unmet.append(Unmet(name, wanted, f"installed {versions[0]}, a post-release of the pin", soft=True))
        return
    else:
        reason = f"installed {versions[0]}"
    found.unmet.append(Unmet(name, wanted, reason))


def _glm5_conflict(specifier: SpecifierSet, installed: str, glm5: str) -> bool:
    """The declaration fails only in clauses GLM-5's own transformers breaks (vllm's `<5` of `<5,>=4.56.0`): the
    conflict the guide creates on purpose. Its other clauses (`>=4.56.0`) still hold the installed version."""
    if _satisfies(specifier, installed):
        return False
    admitting = [clause for clause in specifier if _satisfies(SpecifierSet(str(clause)), glm5)]
    return len(admitting) < len(specifier) and _satisfies(SpecifierSet(",".join(map(str, admitting))), installed)


def _post_release_of_pin(specifier: SpecifierSet, installed: str) -> bool:
    clauses = list(specifier)
    if len(clauses) != 1 or clauses[0].operator != "==":
        return False
    pin, have = safe_version(clauses[0].version), safe_version(installed)
    if pin is None or have is None:
        return False
    same_line = (have.release, have.pre, have.dev) == (pin.release, pin.pre, None)
    return same_line and pin.post is None and have.post is not None


def _merged(name: str, requirements: list[Requirement], targets: Targets) -> str:
    """One pip requirement satisfying what every judged distribution asks of `name` (the stack's version
    where the stack requires one)."""
    stack = targets.requirement(name)
    if stack is not None:
        return stack.install
    specifier = SpecifierSet()
    extras: set[str] = set()
    for req in requirements:
        specifier &= req.specifier
        extras |= req.extras
    shown = requirements[0].name + (f"[{','.join(sorted(extras))}]" if extras else "")
    return f"{shown}{specifier}"


def requirement_plan(ctx: Context) -> RequirementPlan:
    """Fact provider: vllm's and vllm-ascend's requirements judged, and the merged fix."""
    inv = ctx.fact(inventory)
    targets = stack_targets(ctx.stack, ctx.profile)
    judged: dict[str, DistRequirements | None] = {}
    asked: dict[str, list[Requirement]] = {}
    for name in JUDGED:
        dists = inv.named(name)
        if len(dists) != 1 or dists[0].metadata_missing:
            judged[name] = None
            continue
        found = DistRequirements(name, dists[0].version)
        for req in _applicable(inv, dists[0], found):
            _judge(inv, req, found, targets)
            asked.setdefault(normalise(req.name), []).append(req)
        judged[name] = found
    unmet = dict.fromkeys(u.name for found in judged.values() if found for u in found.unmet)
    install = tuple(_merged(name, asked[name], targets) for name in unmet)
    return RequirementPlan(judged, install)


def requirements_command(ctx: Context) -> str:
    """The glm5check command line that prints `install` for this profile and interpreter."""
    profile = ctx.profile
    words = ["glm5check"]
    if profile.source == "built-in":
        words += ["--profile", profile.name]
    else:
        words += ["--profile-file", shlex.quote(profile.source)]
    if ctx.options.python != "python3":
        words += ["--python", shlex.quote(ctx.options.python)]
    if ctx.stack_choice.source != "profile":
        words += ["--stack", shlex.quote(ctx.options.stack or ctx.stack.name)]
    return " ".join([*words, "--requirements"])


def render_requirements(ctx: Context, plan: RequirementPlan) -> str:
    """A pip requirements file (`pip install -r`) of plan.install, with a comment saying what it is."""
    python = ctx.options.python
    head = (
        f"# glm5check: what vllm and vllm-ascend need in {python} (profile {ctx.profile.name}, stack {ctx.stack.name})"
    )
    lines = list(plan.install) or ["# nothing: every requirement is met"]
    return "\n".join([head, *lines]) + "\n"
