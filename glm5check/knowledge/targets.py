"""What the software checks compare the node with, under the selected stack.

Under the pinned stack (the February source builds) the profile's `[pins]` decide, as they always have: vllm and
vllm-ascend at commits, transformers from git main, the profile's Python versions and CANN minimum. Under a release
stack, the stack decides: vllm and vllm-ascend at the release (the tag commit for vllm-ascend), torch, torch_npu,
triton-ascend, CANN and Python as the compatibility-matrix row says, transformers as that guide revision says,
reconciled with what vllm and vllm-ascend themselves declare (docs/stacks.md, "What changes between stacks").

Every check that judges one of these values (and every fix it proposes) takes it from here, so two checks never
judge the same package against different values and no remediation undoes another check's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from glm5check.knowledge.profiles import Pins, Profile
from glm5check.knowledge.stacks import Stack
from glm5check.parsers.versions import release_before
from glm5check.util.lazyre import lazy

TRANSFORMERS_GIT = "git+https://github.com/huggingface/transformers.git"
# The first transformers release with glm_moe_dsa (docs/reference/install-facts.md §5.2), when a stack names no minimum.
GLM5_TRANSFORMERS = "5.2.0"
# Interpreters worth suggesting, most preferred first (the release images use Python 3.11).
PREFERRED_PYTHONS = ("3.11", "3.10", "3.12")
_MINIMUM = lazy(r"^\s*>=\s*([0-9][0-9A-Za-z.+!-]*)\s*$")
_EXACT = lazy(r"^\s*transformers\s*==\s*([0-9][0-9A-Za-z.+!-]*)\s*$")


def _specifier_contains(specifier: str, version: str | None) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return bool(version) and SpecifierSet(specifier).contains(str(version), prereleases=True)
    except (InvalidSpecifier, ValueError):  # ValueError: a number int() refuses (over 4300 digits)
        return False


class VersionTarget(NamedTuple):
    """One component of a release stack's matrix row: `shown` as the row writes it, `specifier` as judged."""

    name: str  # as pip names it: "torch-npu"
    shown: str  # "2.9.0.post1+git4c901a4"
    specifier: str  # "==2.9.0.post1": a local label (+git…) names one build of that version, and builds differ
    why: str  # why it is required: "the v0.18.0 compatibility matrix installs torch-npu 2.9.0.post1+git4c901a4"

    def met_by(self, version: str | None) -> bool:
        return _specifier_contains(self.specifier, version)

    @property
    def install(self) -> str:
        """The pip requirement that meets it."""
        return f"{self.name}{self.specifier}"


class ReleasePin(NamedTuple):
    """vllm or vllm-ascend of a release stack: the release version and, for vllm-ascend, its tag commit."""

    name: str  # "vllm" | "vllm-ascend"
    version: str  # "0.18.0"
    tag: str  # "v0.18.0"
    commit: str | None
    source: str


class PythonTarget(NamedTuple):
    shown: str  # "3.10 or 3.11", ">=3.10,<3.12"
    minors: tuple[str, ...] | None  # the profile's list (pinned stack); None: judged by `specifier`
    specifier: str | None
    source: str

    def allows(self, version: str | None) -> bool:
        if self.minors is not None:
            return ".".join((version or "").split(".")[:2]) in self.minors
        return _specifier_contains(self.specifier or "", version)

    @property
    def suggested(self) -> str:
        fitting = [m for m in PREFERRED_PYTHONS if self.allows(f"{m}.0")]
        return fitting[0] if fitting else (self.minors or PREFERRED_PYTHONS)[-1]


@dataclass(frozen=True)
class TransformersTarget:
    """The transformers GLM-5 runs with under a stack."""

    minimum: str  # the first release with glm_moe_dsa, as the guide names it ("5.2.0")
    from_git: bool  # the guide installs git main (the pinned stack)
    exact: str | None  # the version the stack's vllm-ascend pins (and its image ships), when it pins one
    install: str  # the one pip requirement that satisfies every check: "transformers==5.5.3"
    vllm_declares: str | None  # vllm's own requirement, e.g. "transformers<5,>=4.56.0"
    vllm_conflict_expected: bool  # vllm declares transformers<5, which GLM-5 (>= 5.2.0) breaks on purpose
    source: str

    @property
    def shown(self) -> str:
        if self.exact:
            return f"{self.exact} (>= {self.minimum} for glm_moe_dsa)"
        return f">= {self.minimum}" + (" from git main" if self.from_git else "")

    def met_by(self, version: str | None) -> bool:
        """GLM-5 runs with it: the stack's exact version when its vllm-ascend pins one, else at least the minimum
        (a git build of the minimum, 5.2.0.dev0, counts: it has glm_moe_dsa)."""
        if self.exact:
            return _specifier_contains(f"=={self.exact}", version)
        return release_before(version, self.minimum) is False

    @property
    def version(self) -> str:
        """The version that stands for it in a comparison: the exact pin, else the minimum."""
        return self.exact or self.minimum

    @property
    def why(self) -> str:
        pinned = f"vllm-ascend pins {self.exact}; " if self.exact else ""
        return f"{pinned}GLM-5 needs transformers >= {self.minimum}"

    @property
    def pip_command(self) -> str:
        """The command that installs it (the same requirement the packages.requirements fix uses)."""
        if self.from_git:
            return f"pip install {TRANSFORMERS_GIT}"
        return f"pip install '{self.install}'"

    def vllm_allows(self, version: str | None) -> bool:
        """Whether vllm's declared requirement admits `version` (True when vllm declares nothing readable)."""
        spec = (self.vllm_declares or "").strip()
        spec = spec[len("transformers") :] if spec.lower().startswith("transformers") else ""
        return not spec or _specifier_contains(spec, version)


class Targets(NamedTuple):
    """Everything the software checks compare with under one stack."""

    stack: Stack
    vllm_commit: str | None  # pinned stack: the commits (and vllm's target) the profile pins
    vllm_target: str | None
    vllm_ascend_commit: str | None
    releases: dict[str, ReleasePin]  # release stack: "vllm", "vllm-ascend"
    row: dict[str, VersionTarget]  # release stack: torch, torch-npu, triton-ascend as its matrix row says
    python: PythonTarget
    cann_min: str  # CANN versions are compared by glm5check.parsers.ascend_versions, not PEP 440
    cann_source: str
    transformers: TransformersTarget

    def requirement(self, name: str) -> VersionTarget | TransformersTarget | None:
        """What the stack requires of a (normalised) distribution, in place of what vllm or vllm-ascend declare:
        transformers always (GLM-5's, not vllm's <5), torch / torch-npu / triton-ascend under a release stack
        (its image installs the row's builds, e.g. torch-npu 2.9.0.post1 where vllm-ascend declares ==2.9.0)."""
        return self.transformers if name == "transformers" else self.row.get(name)

    @property
    def is_release(self) -> bool:
        return bool(self.releases)

    @property
    def built_for(self) -> str:
        """What the versions are the ones of: "the pinned vllm-ascend" / "vllm-ascend v0.18.0"."""
        if self.is_release:
            return f"vllm-ascend {self.releases['vllm-ascend'].tag}"
        return "the pinned vllm-ascend"


def _stack_source(stack: Stack, pin: str, key: str) -> str:
    sourced = stack.sourced(pin, key)
    return f"stack {stack.name}: {sourced.source}" if sourced else f"stack {stack.name}"


# Components of a release stack's matrix row, as pip names them (stack pin name → distribution).
ROW_DISTRIBUTIONS = {"torch": "torch", "torch_npu": "torch-npu", "triton_ascend": "triton-ascend"}


def _row(stack: Stack) -> dict[str, VersionTarget]:
    row = {}
    for pin, dist in ROW_DISTRIBUTIONS.items():
        version = stack.sourced(pin, "version")
        if version is not None:
            public = version.value.split("+", 1)[0]
            why = f"the {stack.name} compatibility matrix installs {dist} {version.value}"
            row[dist] = VersionTarget(dist, version.value, f"=={public}", why)
    return row


def _vllm_declares(stack: Stack) -> str | None:
    declared = stack.sourced("transformers", "declared_by_vllm")
    return declared.value if declared else None


def _pinned_transformers(stack: Stack, pins: Pins, profile: str) -> TransformersTarget:
    from_git = pins.transformers_source == "git"
    return TransformersTarget(
        minimum=pins.transformers_min,
        from_git=from_git,
        exact=None,
        install=f"transformers @ {TRANSFORMERS_GIT}" if from_git else f"transformers>={pins.transformers_min}",
        vllm_declares=_vllm_declares(stack),
        vllm_conflict_expected=True,
        source=f"profile {profile}",
    )


def _release_transformers(stack: Stack) -> TransformersTarget:
    requirement = stack.sourced("transformers", "requirement")
    minimum_match = _MINIMUM.match(requirement.value) if requirement else None
    minimum = minimum_match[1] if minimum_match else GLM5_TRANSFORMERS
    ascend = stack.sourced("transformers", "declared_by_vllm_ascend")
    exact_match = _EXACT.match(ascend.value) if ascend else None
    exact = exact_match[1] if exact_match and _specifier_contains(f">={minimum}", exact_match[1]) else None
    guide_pin = stack.sourced("transformers", "guide_pin")
    version = exact or (guide_pin.value if guide_pin else minimum)
    target = TransformersTarget(
        minimum=minimum,
        from_git=False,
        exact=exact,
        install=f"transformers=={version}",
        vllm_declares=_vllm_declares(stack),
        vllm_conflict_expected=False,
        source=_stack_source(stack, "transformers", "requirement"),
    )
    return replace(target, vllm_conflict_expected=not target.vllm_allows(version))


def _release_pins(stack: Stack) -> dict[str, ReleasePin]:
    pins = {}
    for key, name in (("vllm", "vllm"), ("vllm_ascend", "vllm-ascend")):
        version = stack.sourced(key, "version")
        if version is None:
            continue
        tag = stack.sourced(key, "tag")
        commit = stack.sourced(key, "commit")
        source = _stack_source(stack, key, "version")
        shown_tag = tag.value if tag else f"v{version.value}"
        pins[name] = ReleasePin(name, version.value, shown_tag, commit.value if commit else None, source)
    return pins


def stack_targets(stack: Stack, profile: Profile) -> Targets:
    """What to compare with under `stack`: the profile's pins for the pinned stack, else the stack's row."""
    if stack.kind == "pinned":
        pins, name = profile.pins, profile.name
        return Targets(
            stack=stack,
            vllm_commit=pins.vllm_commit,
            vllm_target=pins.vllm_target or None,
            vllm_ascend_commit=pins.vllm_ascend_commit,
            releases={},
            row={},  # the pinned stack's row is what vllm-ascend ff3a50d0 declares: its metadata decides
            python=PythonTarget(" or ".join(pins.python_versions), pins.python_versions, None, f"profile {name}"),
            cann_min=pins.cann_min,
            cann_source=f"profile {name}",
            transformers=_pinned_transformers(stack, pins, name),
        )
    python = stack.sourced("python", "requirement")
    cann = stack.sourced("cann", "version")
    return Targets(
        stack=stack,
        vllm_commit=None,
        vllm_target=None,
        vllm_ascend_commit=None,
        releases=_release_pins(stack),
        row=_row(stack),
        python=PythonTarget(
            python.value if python else "any",
            None,
            python.value if python else "",
            _stack_source(stack, "python", "requirement"),
        ),
        cann_min=cann.value if cann else profile.pins.cann_min,
        cann_source=_stack_source(stack, "cann", "version"),
        transformers=_release_transformers(stack),
    )
