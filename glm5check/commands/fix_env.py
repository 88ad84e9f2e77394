"""`glm5check fix-env`: the `export` lines that make env.vars and net.interfaces pass on this node.

The output is a shell script to `source` (it only exports; nothing in it runs a program; it never exports a
variable the run's stack calls inert) and one line
defining `glm5check_fix_env_undo`, which puts back the values this node had before. The per-node values
(HCCL_IF_IP and the NIC in the three *_SOCKET_IFNAME variables) come from the net facts: on node 0 the
NIC carrying node 0's address, on node 1 the source address and device of the route towards node 0,
else the NIC already carrying HCCL_IF_IP. The fixed environment is checked again before printing, and
whatever exports cannot fix (a NIC that is down, a serve script that sets another value) is written
as a comment; the exit code is then 1.

Values come from profiles, serve scripts and snapshots made by others, so the script is built as data:
every value is shell-quoted (shlex.quote) and written in the bytes the environment holds it in, every
comment is one printable line, and a name that is not a shell variable name, a variable through which
the shell or a program runs code (PROMPT_COMMAND, BASH_ENV, LD_PRELOAD, …) or a NUL byte is refused with
exit 2. tests/test_fix_env.py sources fuzzed scripts in bash and checks that exactly the intended
variables change and nothing runs.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from glm5check import console
from glm5check.commands.options import PD_ROLE_OPTION, SCRIPT_ARGS_OPTION, Bounded
from glm5check.engine.check import Status
from glm5check.engine.runner import Outcome, run_checks, select_checks
from glm5check.errors import ConfigError, NotRecorded
from glm5check.facts.context import Context
from glm5check.facts.node import node_info
from glm5check.knowledge.limits import NODE_RANK, TIMEOUT
from glm5check.reports.model import rank_text
from glm5check.util.text import ascii_fallback, one_line

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
    (selected for this node's role; a probe that fails becomes an ERROR row, not a crash). Both checks are
    glm5check's own: no plugin is imported (one that is broken or disabled cannot change the exports)."""
    from glm5check.engine.registry import load_registry

    role = ctx.fact(node_info).role
    registry = load_registry(plugins=False)
    checks = select_checks(registry.checks, ctx.profile.multi_node, role, (check_id,))
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
    fixed = Context(ctx.profile, overlay, ctx.options, ctx.launch, ctx.stack_choice)
    rows = [row for check_id in FIXED_CHECKS for row in _failures(fixed, check_id, _NOT_PASSING)]
    # A failure, or a warning about a variable this script exports (the serve script overrides it).
    return [row for row in rows if row.status in _FAILING or row.item in fixes.exports]


class UnsafeScript(ConfigError):
    """A fix that cannot be written as a safe `export` line (exit code 2)."""


# A shell variable name (POSIX); anything else could not be exported or would be read as code.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Variables through which the shell, the dynamic loader or Python run code of the value's choosing:
# a profile or serve script from someone else must not plant them in the operator's shell.
RUNS_CODE = frozenset(
    {"PROMPT_COMMAND", "PS0", "PS1", "PS2", "PS3", "PS4", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "IFS", "PATH"}
    | {"CDPATH", "GLOBIGNORE", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "PYTHONSTARTUP", "PYTHONPATH"}
    | {"PYTHONHOME", "PYTHONINSPECT", "PERL5OPT", "NODE_OPTIONS"}
)


def safe_name(name: str) -> str:
    """name, when it is a shell variable name that does not make the shell run code; else UnsafeScript."""
    if not _NAME.fullmatch(name):
        raise UnsafeScript(f"fix-env refuses to export {one_line(name)!r}: not a shell variable name")
    if name in RUNS_CODE or name.startswith("BASH_FUNC_"):
        raise UnsafeScript(f"fix-env refuses to export {name}: the shell or a program would run its value")
    return name


def export_line(name: str, value: str) -> str:
    """`export NAME='value'`, or UnsafeScript when it cannot be sourced safely: an unsafe name (see
    safe_name), a NUL byte (no environment value can hold one)."""
    safe_name(name)
    if "\0" in value:
        raise UnsafeScript(f"fix-env refuses to export {name}: its value holds a NUL byte")
    return f"export {name}={shlex.quote(value)}"


def comment(text: str) -> str:
    """A shell comment that stays one comment: newlines and every other control character escaped."""
    return "# " + ascii_fallback(one_line(text), sys.getfilesystemencoding())


def render_script(ctx: Context, fixes: FixPlan, remaining: list[Outcome], hostname: str) -> str:
    node = ctx.fact(node_info)
    header = (
        f"glm5check fix-env · profile {ctx.profile.name} · stack {ctx.stack.name} · "
        f"{rank_text(node.rank, node.role, node.group)} · host {hostname}"
    )
    still = [(f"[{r.item}]" if r.item else "", r.message, r.remediation) for r in remaining]
    return script_text(header, fixes, still)


def script_text(header: str, fixes: FixPlan, still: list[tuple[str, str, str | None]]) -> str:
    """The script: only comments, `export` lines and the undo function; every value shell-quoted."""
    apply = f"Apply: source this file in the shell that runs vllm serve. Undo: {UNDO_FUNCTION}"
    lines = [comment(header), comment(apply), _undo_line(fixes.previous)]
    if not fixes.exports:
        lines.append(comment("nothing to export: env.vars and net.interfaces need no change on this node"))
    for name, value in fixes.exports.items():
        lines.append(f"{export_line(name, value)}  {comment(fixes.reasons.get(name, ''))}")
    lines += [comment(f"NOT FIXED: {note}") for note in fixes.notes]
    for where, message, remediation in still:
        lines.append(comment(f"STILL FAILING{where}: {message}"))
        if remediation:
            lines.append(comment(f"  fix: {remediation}"))
    return "\n".join(lines) + "\n"


def script_bytes(text: str) -> bytes:
    """The script as the shell will read it: values in the bytes the environment holds them in (an
    undecodable byte of the old value goes back as that byte); UnsafeScript when that cannot be."""
    try:
        return os.fsencode(text)
    except UnicodeEncodeError as exc:
        raise UnsafeScript(
            f"fix-env cannot write {one_line(exc.object[exc.start : exc.end])!r} in this locale's encoding "
            f"({exc.encoding}); run it under a UTF-8 locale"
        ) from None


def _undo_line(previous: dict[str, str | None]) -> str:
    steps = [
        f"unset {safe_name(name)}" if value is None else export_line(name, value) for name, value in previous.items()
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
@click.option(
    "--node-rank",
    type=Bounded(NODE_RANK),
    help="This node's number in a multi-node deployment (node 0 first; prefill-decode: prefill nodes first).",
)
@PD_ROLE_OPTION
@SCRIPT_ARGS_OPTION
@click.option("--node0-ip", metavar="ADDR", help="Node 0's address when no serve script gives it.")
@click.option("--replay", metavar="SNAPSHOT", help="Write the fixes for a recorded snapshot instead.")
@click.option("--stack", metavar="NAME|auto", help="Software stack (see `glm5check stacks`; default: the profile's).")
@click.option(
    "--timeout",
    type=Bounded(TIMEOUT),
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
    console.out_exact(script_bytes(render_script(context, fixes, remaining, host_name(host))))
    ctx.exit(1 if remaining or fixes.notes else 0)
