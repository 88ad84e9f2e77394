"""The one way glm5check writes an `export` line for an operator to source or paste (`glm5check fix-env`
and the environment section of `--fix-plan`): the value shell-quoted (shlex.quote), and refused
(UnsafeScript, exit 2 where it ends a command) when the name is not a shell variable name, is a variable
through which the shell or a program runs code of the value's choosing, or the value holds a NUL byte.
Names and values come from profiles, serve scripts and snapshots made by others.
"""

from __future__ import annotations

import re

from glm5check.errors import ConfigError
from glm5check.util.text import export_text, one_line


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
    return export_text({name: value})
