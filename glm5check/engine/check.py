"""The check contract: a check is metadata plus a function from a Context to results.

Like kubeadm's preflight Checker, the contract is tiny: a check looks at facts and returns
one or more Results. It never prints, never exits and never touches the machine itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from glm5check.errors import ProbeFailed, SeeCheck


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"

    @property
    def label(self) -> str:
        return self.value.upper()


# Where a remediation step happens: on the node outside the container (host), in the container's shell
# (container), or in the launch script that runs vllm serve (launch).
FIX_PLACES = ("host", "container", "launch")


@dataclass(frozen=True)
class Fix:
    """One step of a remediation, for `--fix-plan`: commands to run in order (each an argv; leading
    NAME=value items are environment assignments), or, without commands, what to do in words."""

    where: str
    commands: tuple[tuple[str, ...], ...] = ()
    text: str = ""

    def __post_init__(self) -> None:
        if self.where not in FIX_PLACES:
            raise ValueError(f"a fix happens on the {', '.join(FIX_PLACES)}, not {self.where!r}")


def run_fix(where: str, *commands: tuple[str, ...]) -> Fix:
    """A step that runs commands (joined with &&), e.g. run_fix("host", ("hccn_tool", "-i", "5", "-link", "-g"))."""
    return Fix(where, tuple(tuple(argv) for argv in commands))


def manual_fix(where: str, text: str) -> Fix:
    """A step that a person does by hand (recreate the container, edit the launch script)."""
    return Fix(where, (), text)


@dataclass(frozen=True)
class Result:
    """One judgement of one check about one item (or about the whole check when item is None)."""

    status: Status
    message: str
    item: str | None = None
    expected: str | None = None
    observed: str | None = None
    remediation: str | None = None
    see: str | None = None  # the check that reports why this could not be judged (a SKIP from SeeCheck)
    fix: tuple[Fix, ...] = ()  # the remediation as steps for --fix-plan (else it is shown in words)


def passed(message: str, **fields: Any) -> Result:
    return Result(Status.PASS, message, **fields)


def warned(message: str, **fields: Any) -> Result:
    return Result(Status.WARN, message, **fields)


def failed(message: str, **fields: Any) -> Result:
    return Result(Status.FAIL, message, **fields)


def skipped(message: str, **fields: Any) -> Result:
    return Result(Status.SKIP, message, **fields)


def errored(message: str, **fields: Any) -> Result:
    return Result(Status.ERROR, message, **fields)


def skipped_for(cause: SeeCheck, item: str | None = None) -> Result:
    """The SKIP of a result that needs a fact another check reports broken: `<reason> — see <owner>`."""
    return Result(Status.SKIP, str(cause), item=item, see=cause.owner)


def dependent(results: Iterable[Result], item: str | None = None) -> Iterator[Result]:
    """The results of one part of a check; when a fact it needs is broken (SeeCheck), that part is one
    SKIP for `item` that points at the check reporting it, and the check's other parts still run. A probe
    that fails for that part (a replay gap included) is a SKIP for `item` with its reason. A whole check
    needs no wrapper: the runner does the same for it."""
    try:
        yield from results
    except SeeCheck as cause:
        yield skipped_for(cause, item)
    except ProbeFailed as exc:
        yield skipped(f"cannot be judged: {exc}", item=item)


CheckOutput = Result | Iterable[Result]
# A check takes the run context (glm5check.facts.context.Context for the built-in checks).
CheckFunc = Callable[[Any], CheckOutput]

# Node roles: a single-node deployment, the multi-node rank 0 that serves the API, and ranks >= 1. A node of a
# prefill-decode deployment has one of these roles within its group (the group's node 0 is its primary).
ROLES = ("single", "primary", "headless")
# The groups of a prefill-decode deployment; a node of any other deployment belongs to none (group None).
GROUPS = ("prefill", "decode")
# A check id: `<category>.<name>`, lower case (the report schema's pattern for result ids).
CHECK_ID = re.compile(r"[a-z0-9_-]+\.[a-z0-9_.-]+")
BUILT_IN = "glm5check"  # the distribution of the checks glm5check ships


class Origin(NamedTuple):
    """Where a check came from: the entry point of the `glm5check.checks` group that supplied it and the
    installed distribution that declares that entry point (glm5check itself for the built-in checks)."""

    entry_point: str
    distribution: str
    version: str | None = None

    @property
    def built_in(self) -> bool:
        return self.distribution == BUILT_IN

    def describe(self) -> str:
        """`site (glm5check-site-checks 1.0)`: the entry point and the distribution that supplied it."""
        version = f" {self.version}" if self.version else ""
        return f"{self.entry_point} ({self.distribution}{version})"


@dataclass(frozen=True)
class Check:
    """A registered check. `nodes` is "any", "single" or "multi" (the topology of the node's deployment, or of
    its group); `groups`, when given, limits it to nodes of those prefill-decode groups."""

    id: str
    category: str
    title: str
    explain: str
    func: CheckFunc = field(repr=False, compare=False)
    nodes: str = "any"
    roles: tuple[str, ...] = ROLES
    # More for `glm5check explain ID`, computed when asked (e.g. a table built from data files).
    appendix: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    groups: tuple[str, ...] = ()
    # Set by the registry: the entry point and distribution that supplied the check (None outside a run).
    origin: Origin | None = field(default=None, compare=False)

    def applies(self, multi_node: bool, role: str, group: str | None = None) -> bool:
        if self.nodes == "multi" and not multi_node:
            return False
        if self.nodes == "single" and multi_node:
            return False
        if self.groups and group not in self.groups:
            return False
        return role in self.roles

    @property
    def scope(self) -> str:
        """Where the check applies, in words, for `glm5check checks`."""
        nodes = {"any": "all profiles", "multi": "multi-node", "single": "single-node"}[self.nodes]
        if self.groups:
            nodes = f"prefill-decode {' and '.join(self.groups)} nodes"
        possible = {"any": set(ROLES), "multi": {"primary", "headless"}, "single": {"single"}}[self.nodes]
        if possible <= set(self.roles):
            return nodes
        return f"{nodes} ({', '.join(self.roles)})"


def check(
    check_id: str,
    *,
    title: str,
    explain: str,
    nodes: str = "any",
    roles: tuple[str, ...] = ROLES,
    appendix: Callable[[], str] | None = None,
    groups: tuple[str, ...] = (),
) -> Callable[[CheckFunc], Check]:
    """Decorator turning a function into a Check; the category is the id's prefix."""
    if not CHECK_ID.fullmatch(check_id):
        raise ValueError(f"{check_id!r} is not a check id: <category>.<name> in lower case, digits, _ . -")
    if nodes not in ("any", "single", "multi"):
        raise ValueError(f"{check_id}: nodes must be any, single or multi, not {nodes!r}")
    unknown_roles = set(roles) - set(ROLES)
    if unknown_roles:
        raise ValueError(f"{check_id}: unknown roles {sorted(unknown_roles)}")
    unknown_groups = set(groups) - set(GROUPS)
    if unknown_groups:
        raise ValueError(f"{check_id}: unknown groups {sorted(unknown_groups)}")

    def register(func: CheckFunc) -> Check:
        category = check_id.split(".", 1)[0]
        return Check(check_id, category, title, explain.strip(), func, nodes, tuple(roles), appendix, tuple(groups))

    return register
