"""The fix plan (`--fix-plan`): every remediation of a run as one script, in three sections — on the host,
in the container, in the launch script — each remedy once, under a comment line per problem it fixes.

It is a script people read and paste: every word of a command is shell-quoted (shlex.quote; an
environment assignment as NAME=<quoted value>), and every other text is a comment made one printable line
by util.text.one_line (control and line-breaking characters escaped), so nothing from a report can end a
comment or start a command.
glm5check never runs it.
"""

from __future__ import annotations

import re
import shlex
import textwrap
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from glm5check.reports.model import FixStep, Report
from glm5check.reports.shell import UnsafeScript, export_line
from glm5check.util.text import one_line

WIDTH = 100
SECTIONS = {
    "host": "On the host, outside the container (as root)",
    "container": "In the container, in the shell that runs vllm serve",
    "launch": "In the launch script (the vllm serve command and its exports)",
}
PLACE_WORDS = {"host": "on the host", "container": "in the container", "launch": "in the launch script"}
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_UNPRINTABLE = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


@dataclass(frozen=True)
class Problem:
    label: str
    status: str
    message: str


@dataclass
class Remedy:
    steps: tuple[FixStep, ...]
    problems: list[Problem] = field(default_factory=list)

    @property
    def place(self) -> str:
        return self.steps[0].where if self.steps else "container"


@dataclass(frozen=True)
class FixPlan:
    remedies: tuple[Remedy, ...]
    env_problems: tuple[Problem, ...] = ()
    exports: tuple[tuple[str, str, str], ...] = ()  # (name, value, why)
    env_notes: tuple[str, ...] = ()

    @property
    def problem_count(self) -> int:
        return sum(len(r.problems) for r in self.remedies) + len(self.env_problems)


def comment(text: str, indent: str = "") -> list[str]:
    lines = textwrap.wrap(one_line(text), WIDTH - 2 - len(indent), break_long_words=False, break_on_hyphens=False)
    return [f"# {indent}{line}".rstrip() for line in lines or [""]]


def shell_word(word: str, assignment: bool = False) -> str:
    found = _ASSIGNMENT.match(word) if assignment else None
    return f"{found.group(1)}={shlex.quote(found.group(2))}" if found else shlex.quote(word)


def command_line(commands: Iterable[tuple[str, ...]]) -> str:
    """Commands joined with &&, each word quoted; in a subshell when one changes the directory."""
    rendered = []
    changes_dir = False
    for argv in commands:
        words, leading = [], True
        for word in argv:
            leading = leading and bool(_ASSIGNMENT.match(word))
            words.append(shell_word(word, assignment=leading))
        changes_dir = changes_dir or (bool(argv) and argv[0] == "cd")
        rendered.append(" ".join(words))
    line = " && ".join(rendered)
    return f"( {line} )" if changes_dir else line


def printable(commands: Iterable[tuple[str, ...]]) -> bool:
    """No argument holds a control or line-breaking character (a pasted line must stay one line)."""
    return not any(unicodedata.category(ch) in _UNPRINTABLE for argv in commands for word in argv for ch in word)


def _step_lines(step: FixStep, place: str) -> list[str]:
    """A step under its problems; one that happens elsewhere than its remedy's section says where."""
    elsewhere = PLACE_WORDS.get(step.where, step.where) if step.where != place else ""
    if not step.commands:
        return comment(f"{elsewhere}: {step.text}" if elsewhere else step.text, "  ")
    if not printable(step.commands):
        return comment("a command of this fix holds a control character and is not printed; run it by hand", "  ")
    return [*(comment(f"{elsewhere}:") if elsewhere else []), command_line(step.commands)]


def _problem_lines(problems: Iterable[Problem]) -> Iterator[str]:
    """One comment line per problem, its message cut to the width."""
    for problem in problems:
        line = one_line(f"# {problem.status.upper()} {problem.label}: {problem.message}")
        yield line if len(line) <= WIDTH else line[: WIDTH - 1].rstrip() + "…"


def _remedy_lines(remedy: Remedy) -> list[str]:
    lines = list(_problem_lines(remedy.problems))
    for step in remedy.steps:
        lines += _step_lines(step, remedy.place)
    return lines


def _env_lines(plan: FixPlan) -> list[str]:
    if not (plan.exports or plan.env_notes):
        return []
    lines = comment("The environment, as `glm5check fix-env` exports it (or put these lines in the launch script):")
    lines += _problem_lines(plan.env_problems)
    for name, value, why in plan.exports:
        lines += _export_lines(name, value, why)
    for note in plan.env_notes:
        lines += comment(f"NOT FIXED by an export: {note}")
    return lines


def _export_lines(name: str, value: str, why: str) -> list[str]:
    """fix-env's export line for one variable, or a comment saying why fix-env refuses it."""
    try:
        line = export_line(name, value)
    except UnsafeScript as refused:
        return comment(f"NOT PRINTED: {refused}")
    return [line + (f"  # {one_line(why)}" if why else "")]


def render_fix_plan(report: Report, plan: FixPlan) -> str:
    node = report.node
    head = [
        "#!/bin/sh",
        *comment(
            f"glm5check fix plan · profile {report.profile.get('name')} · {node.rank_text} · "
            f"host {node.hostname} · {report.created}"
        ),
    ]
    if not plan.problem_count:
        return "\n".join([*head, "# nothing to fix: no FAIL, ERROR or WARN in this run", ""])
    head += comment(
        f"{plan.problem_count} problem(s). glm5check ran none of this: read each step, and run it where its "
        "section says. Lines starting with # are done by hand; then run glm5check again."
    )
    body: list[str] = []
    for number, (place, title) in enumerate(SECTIONS.items(), 1):
        blocks = [_remedy_lines(r) for r in plan.remedies if r.place == place]
        if place == "container" and _env_lines(plan):
            blocks.append(_env_lines(plan))
        if blocks:
            body += ["", f"# ── {number}. {title} " + "─" * max(3, WIDTH - len(title) - 9)]
            for block in blocks:
                body += ["", *block]
    return "\n".join([*head, *body, ""])
