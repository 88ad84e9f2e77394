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
import sys
from typing import Any

import click

from glm5check import console
from glm5check.commands.options import deployment_context, deployment_options
from glm5check.engine.runner import Outcome
from glm5check.errors import ConfigError, NotRecorded
from glm5check.facts.context import Context
from glm5check.facts.node import node_info
from glm5check.remedy import EnvFixes, plan_env_fixes, remaining_failures
from glm5check.reports.model import rank_text
from glm5check.reports.shell import UnsafeScript, export_line, safe_name
from glm5check.util.text import ascii_fallback, one_line

UNDO_FUNCTION = "glm5check_fix_env_undo"


def comment(text: str) -> str:
    """A shell comment that stays one comment: newlines and every other control character escaped."""
    return "# " + ascii_fallback(one_line(text), sys.getfilesystemencoding())


def render_script(ctx: Context, fixes: EnvFixes, remaining: list[Outcome], hostname: str) -> str:
    node = ctx.fact(node_info)
    header = (
        f"glm5check fix-env · profile {ctx.profile.name} · stack {ctx.stack.name} · "
        f"{rank_text(node.rank, node.role, node.group)} · host {hostname}"
    )
    still = [(f"[{r.item}]" if r.item else "", r.message, r.remediation) for r in remaining]
    return script_text(header, fixes, still)


def script_text(header: str, fixes: EnvFixes, still: list[tuple[str, str, str | None]]) -> str:
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


@click.command("fix-env")
@deployment_options("Write the fixes for a recorded snapshot instead.")
@click.pass_context
def fix_env(ctx: click.Context, **kwargs: Any) -> None:
    """Print a sourceable script of the exports that make env.vars and net.interfaces pass here.

    Exit 0 when, after these exports, both pass; 1 when something remains that exports cannot fix
    (it is listed in the script as comments).
    """
    from glm5check.session import host_name

    context, host = deployment_context(kwargs)
    try:
        fixes = plan_env_fixes(context)
    except NotRecorded as exc:
        raise ConfigError(f"fix-env needs {exc.question}, which the snapshot does not record") from None
    remaining = remaining_failures(context, fixes)
    console.out_exact(script_bytes(render_script(context, fixes, remaining, host_name(host))))
    ctx.exit(1 if remaining or fixes.notes else 0)
