"""`glm5check fix-env`: the `export` lines that make env.vars and net.interfaces pass on this node.

The output is a shell script to `source` (it only exports; nothing in it runs a program; it never exports a
variable the run's stack calls inert) and one line
defining `glm5check_fix_env_undo`, which puts back the values this node had before. The per-node values
(HCCL_IF_IP and the NIC in the three *_SOCKET_IFNAME variables) come from the net facts: on node 0 the
NIC carrying node 0's address, on node 1 the source address and device of the route towards node 0,
else the NIC already carrying HCCL_IF_IP. The fixed environment is checked again before printing, and
whatever exports cannot fix (a NIC that is down, a serve script that sets another value) is written
as a comment; the exit code is then 1.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import click

from glm5check.engine.check import Status
from glm5check.engine.runner import Outcome, run_checks, select_checks
from glm5check.errors import ConfigError, NotRecorded
from glm5check.facts.context import Context
from glm5check.facts.node import node_info

UNDO_FUNCTION = "glm5check_fix_env_undo"
_FAILING = (Status.FAIL, Status.ERROR)
_NOT_PASSING = (Status.WARN, *_FAILING)  # what the exports set out to fix


@dataclass
class FixPlan:
    exports: dict[str, str] = field(default_factory=dict)  # name -> value, in the order found
    reasons: dict[str, str] = field(default_factory=dict)  # name -> why, as a comment
    notes: list[str] = field(default_factory=list)  # what exports cannot fix
    previous: dict[str, str | None] = field(default_factory=dict)  # name -> value before (None: unset)


FIXED_CHECKS = ("env.vars", "net.interfaces")


def _failures(ctx: Context, check_id: str, statuses: tuple[Status, ...] = _FAILING) -> list[Outcome]:
    """The rows of one check on this context with these statuses, run by the runner as a preflight run would
    (selected for this node's role; a probe that fails becomes an ERROR row, not a crash)."""
    from glm5check.engine.registry import load_registry

    role = ctx.fact(node_info).role
    checks = select_checks(load_registry().checks, ctx.profile.multi_node, role, (check_id,))
    return [row for row in run_checks(ctx, checks) if row.status in statuses]


def plan_fixes(ctx: Context) -> FixPlan:
    """The exports this node needs, found by running env.vars and net.interfaces on its environment. A variable
    the run's stack calls inert is never exported (it changes nothing, whatever its value)."""
    from glm5check.facts.node_env import candidates_text, nic_candidates, suggested_node_env
    from glm5check.facts.stack import inert_variables

    env = ctx.env
    fixes = FixPlan()
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


def remaining_failures(ctx: Context, fixes: FixPlan) -> list[Outcome]:
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
    fixed = Context(ctx.profile, overlay, ctx.options, ctx.launch)
    rows = [row for check_id in FIXED_CHECKS for row in _failures(fixed, check_id, _NOT_PASSING)]
    # A failure, or a warning about a variable this script exports (the serve script overrides it).
    return [row for row in rows if row.status in _FAILING or row.item in fixes.exports]


def render_script(ctx: Context, fixes: FixPlan, remaining: list[Outcome], hostname: str) -> str:
    node = ctx.fact(node_info)
    lines = [
        f"# glm5check fix-env · profile {ctx.profile.name} · node rank {node.rank} ({node.role}) · host {hostname}",
        "# Apply: source this file in the shell that runs vllm serve. Undo: " + UNDO_FUNCTION,
    ]
    lines.append(_undo_line(fixes.previous))
    if not fixes.exports:
        lines.append("# nothing to export: env.vars and net.interfaces need no change on this node")
    for name, value in fixes.exports.items():
        lines.append(f"export {name}={shlex.quote(value)}  # {fixes.reasons[name]}")
    for note in fixes.notes:
        lines.append(f"# NOT FIXED: {note}")
    for result in remaining:
        where = f"[{result.item}]" if result.item else ""
        lines.append(f"# STILL FAILING{where}: {result.message}".replace("\n", " "))
        if result.remediation:
            lines.append(f"#   fix: {result.remediation}".replace("\n", " "))
    return "\n".join(lines) + "\n"


def _undo_line(previous: dict[str, str | None]) -> str:
    steps = [
        f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}" for name, value in previous.items()
    ]
    steps.append(f"unset -f {UNDO_FUNCTION}")
    return f"{UNDO_FUNCTION}() {{ {'; '.join(steps)}; }}"


def _shown(value: str | None) -> str:
    return "unset" if value is None else repr(value)


@click.command("fix-env")
@click.option("--profile", "profile_name", metavar="NAME", help="Built-in profile (see `glm5check profiles`).")
@click.option("--profile-file", metavar="FILE", help="A TOML profile file (may `extends` a built-in one).")
@click.option("--serve-script", metavar="FILE", help="The bash launch script (read, never executed).")
@click.option("--serve-cmd", metavar="CMD", help='The launch command, e.g. "vllm serve /models/GLM-5 …".')
@click.option("--node-rank", type=int, metavar="N", help="This node's data-parallel rank (multi-node).")
@click.option("--node0-ip", metavar="ADDR", help="Node 0's address when no serve script gives it.")
@click.option("--replay", metavar="SNAPSHOT", help="Write the fixes for a recorded snapshot instead.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds allowed to each probe.",
)
@click.pass_context
def fix_env(ctx: click.Context, **kwargs: Any) -> None:
    """Print a sourceable script of the exports that make env.vars and net.interfaces pass here.

    Exit 0 when, after these exports, both pass; 1 when something remains that exports cannot fix
    (it is listed in the script as comments).
    """
    from glm5check.session import RunArgs, build_context, host_name, make_host

    args = RunArgs(**kwargs)
    host, snapshot = make_host(args, record=False)
    recorded = snapshot.meta if snapshot is not None and args.replay else {}
    context, _ = build_context(args, host, recorded)
    try:
        fixes = plan_fixes(context)
    except NotRecorded as exc:
        raise ConfigError(f"fix-env needs {exc.question}, which the snapshot does not record") from None
    remaining = remaining_failures(context, fixes)
    click.echo(render_script(context, fixes, remaining, host_name(host)), nl=False)
    ctx.exit(1 if remaining or fixes.notes else 0)
