"""Remedies: the exports that make env.vars and net.interfaces pass on this node (`glm5check fix-env`),
and the fix plan of a whole run (`--fix-plan`): every remediation of the report as one ordered,
de-duplicated script, by where it happens (on the host, in the container, in the launch script).

The environment part of the fix plan is fix-env's: the same exports, found the same way. Nothing here
runs any of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glm5check.engine.check import Status
from glm5check.engine.runner import Outcome, run_checks, select_checks
from glm5check.facts.context import Context
from glm5check.facts.node import node_info
from glm5check.reports.fix_plan import FixPlan, Problem, Remedy
from glm5check.reports.model import FixStep, Report, Row
from glm5check.util.redact import redact_text, redact_value

_FAILING = (Status.FAIL, Status.ERROR)
_NOT_PASSING = (Status.WARN, *_FAILING)  # what the exports set out to fix


@dataclass
class EnvFixes:
    exports: dict[str, str] = field(default_factory=dict)  # name -> value, in the order found
    reasons: dict[str, str] = field(default_factory=dict)  # name -> why, as a comment
    notes: list[str] = field(default_factory=list)  # what exports cannot fix
    previous: dict[str, str | None] = field(default_factory=dict)  # name -> value before (None: unset)


FIXED_CHECKS = ("env.vars", "net.interfaces")
# Where a remediation given only in words happens, by category.
CATEGORY_PLACE = {
    "packages": "container",
    "ascend": "host",
    "npu": "host",
    "env": "container",
    "net": "container",
    "host": "host",
    "weights": "host",
    "memory": "launch",
    "serve": "launch",
}


def _failures(ctx: Context, check_id: str, statuses: tuple[Status, ...] = _FAILING) -> list[Outcome]:
    """The rows of one check on this context with these statuses, run by the runner as a preflight run would
    (selected for this node's role; a probe that fails becomes an ERROR row, not a crash). Both checks are
    glm5check's own: no plugin is imported (one that is broken or disabled cannot change the exports)."""
    from glm5check.engine.registry import load_registry

    role = ctx.fact(node_info).role
    registry = load_registry(plugins=False)
    checks = select_checks(registry.checks, ctx.profile.multi_node, role, (check_id,))
    return [row for row in run_checks(ctx, checks) if row.status in statuses]


def plan_env_fixes(ctx: Context) -> EnvFixes:
    """The exports this node needs, found by running env.vars and net.interfaces on its environment. A variable
    the run's stack calls inert is never exported (it changes nothing, whatever its value)."""
    from glm5check.facts.node_env import candidates_text, nic_candidates, suggested_node_env
    from glm5check.facts.stack import inert_variables

    env = ctx.env
    fixes = EnvFixes()
    inert = inert_variables(ctx)
    env_failures = _failures(ctx, "env.vars", _NOT_PASSING)
    for result in env_failures:
        name = result.item or ""
        if name in ctx.profile.env and name not in inert:
            fixes.exports[name] = ctx.profile.env[name]
            fixes.reasons[name] = f"was {_shown(env.get(name))}; the guide uses {ctx.profile.env[name]}"
    node_failures = _failures(ctx, "net.interfaces", _NOT_PASSING) + [
        r for r in env_failures if r.item in ctx.profile.node_env
    ]
    if node_failures and ctx.profile.node_env:
        suggestion = ctx.fact(suggested_node_env)
        candidates = nic_candidates(ctx)
        if suggestion is None and len(candidates) > 1:
            fixes.notes.append(
                f"several up NICs could carry HCCL_IF_IP: {candidates_text(candidates)}; glm5check does not "
                "guess which one reaches the other node: give --node0-ip ADDR (or --serve-script with "
                "--data-parallel-address) and run fix-env again"
            )
        elif suggestion is None:
            fixes.notes.append("no NIC with an address found for HCCL_IF_IP and the *_SOCKET_IFNAME variables")
        else:
            for name, value in suggestion.exports.items():
                if name in ctx.profile.node_env and env.get(name) != value:
                    fixes.exports[name] = value
                    fixes.reasons[name] = f"was {_shown(env.get(name))}; {suggestion.reason}"
    for name, value in fixes.exports.items():
        script_value = ctx.script_env.get(name)
        note = ctx.env_note(name)
        if script_value is not None and script_value != value:
            fixes.notes.append(
                f"the serve script sets {name}={script_value}, which wins over this export: change it there to {value}"
            )
        elif note is not None and note.value != value:
            fixes.notes.append(
                f"the serve script's {name} is {note.note}, which wins over this export: change it there"
            )
    shell_env = ctx.host.env()
    fixes.previous = {name: shell_env.get(name) for name in fixes.exports}
    return fixes


def remaining_failures(ctx: Context, fixes: EnvFixes) -> list[Outcome]:
    """env.vars and net.interfaces again, in the environment the script produces (the serve script's own
    exports still win, as they will when it runs)."""
    from glm5check.host.base import Host

    class _Overlay:
        """The same host, with the fixes exported in its environment."""

        def __init__(self, host: Host, extra: dict[str, str]) -> None:
            self._host, self._extra = host, extra

        def env(self) -> dict[str, str]:
            return {**self._host.env(), **self._extra}

        def __getattr__(self, name: str) -> Any:
            return getattr(self._host, name)

    overlay: Any = _Overlay(ctx.host, fixes.exports)
    fixed = Context(ctx.profile, overlay, ctx.options, ctx.launch, ctx.stack_choice)
    rows = [row for check_id in FIXED_CHECKS for row in _failures(fixed, check_id, _NOT_PASSING)]
    # A failure, or a warning about a variable this script exports (the serve script overrides it).
    return [row for row in rows if row.status in _FAILING or row.item in fixes.exports]


def _shown(value: str | None) -> str:
    return "unset" if value is None else repr(value)


# -- the fix plan of a run -----------------------------------------------------------------------------


def _steps(row: Row) -> tuple[FixStep, ...]:
    """The row's structured steps, else its remediation in words where its category's fixes happen."""
    if row.fix:
        return row.fix
    if row.remediation:
        return (FixStep(CATEGORY_PLACE.get(row.category, "container"), (), row.remediation),)
    return (FixStep(CATEGORY_PLACE.get(row.category, "container"), (), f"see `glm5check explain {row.id}`"),)


def _problem(row: Row) -> Problem:
    return Problem(row.label, row.status, row.message)


def build_fix_plan(report: Report, env: EnvFixes | None) -> FixPlan:
    """Every problem of the report, grouped under the remedy it needs (once however many rows need it),
    in report order; the rows fix-env covers share its exports."""
    remedies: dict[tuple[FixStep, ...], Remedy] = {}
    env_rows: list[Problem] = []
    for row in report.results:
        if row.status not in ("fail", "error", "warn"):
            continue
        if env is not None and row.id in FIXED_CHECKS and (env.exports or env.notes):
            env_rows.append(_problem(row))
            continue
        steps = _steps(row)
        remedies.setdefault(steps, Remedy(steps, [])).problems.append(_problem(row))
    exports = tuple((name, value, env.reasons.get(name, "")) for name, value in env.exports.items()) if env else ()
    notes = tuple(env.notes) if env else ()
    return FixPlan(tuple(remedies.values()), tuple(env_rows), _redacted(exports), notes)


def _redacted(exports: tuple[tuple[str, str, str], ...]) -> tuple[tuple[str, str, str], ...]:
    """The export lines as every other output shows them: secrets masked."""
    return tuple((name, redact_value(name, value), redact_text(reason)) for name, value, reason in exports)
