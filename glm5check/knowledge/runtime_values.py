"""What a launch script's run-time values give on this host, without running any of the script.

A script may compute a value when it runs: `local_ip=$(hostname -I | awk '{print $1}')`,
`nic_name=$(ip -o -4 addr | grep $local_ip | awk '{print $2}')`, `--data-parallel-address $NODE0_IP`
from the caller's environment. The parser keeps such values as templates (RuntimeValue); this module
reads the few idioms whose result follows from facts glm5check already has (this host's addresses and
interfaces, its environment) and says what they give here. Anything else is "not known before launch".
Nothing is executed: a recognised command is answered from the facts, an unrecognised one is not run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from glm5check.parsers.launch_script import RuntimeValue, template_parts
from glm5check.util.lazyre import lazy
from glm5check.util.numbers import is_whole, whole

_MAX_DEPTH = 8  # variables copying variables: a cycle cannot occur in a script read top to bottom
_LISTING = {"ip", "ifconfig"}  # commands that list this host's interfaces and their addresses
_POSITIONAL = lazy(r"\$(\d)|\$\{(\d{1,4})\}")
_DEFAULT_OPERATOR = lazy(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?)-([^}]*)\}")


@dataclass(frozen=True)
class HostFacts:
    """What the idioms read: the environment vllm serve's shell starts with, this host's addresses in
    `hostname -I` order (every interface but loopback), and which interface carries each address."""

    env: Mapping[str, str] = field(default_factory=dict)
    addresses: Sequence[str] = ()
    nic_of: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScriptScope:
    """The script's own variables: resolved ones, those computed at run time, and the positional parameters
    ($1, $2, …) the script is run with (`--script-args`: what launch_online_dp.py passes run_dp_template.sh)."""

    variables: Mapping[str, str] = field(default_factory=dict)
    runtime: Mapping[str, RuntimeValue] = field(default_factory=dict)
    arguments: Sequence[str] = ()


def describe(value: RuntimeValue, scope: ScriptScope) -> str:
    """`set at run time by line 12 ($local_ip; local_ip = $(hostname -I | awk '{print $1}'), line 5)`."""
    origins = [
        f"{name} = {scope.runtime[name].text}, line {scope.runtime[name].line}"
        for name in _runtime_names(value, scope, 0)
    ]
    return f"set at run time by line {value.line} ({'; '.join([value.text, *origins])})"


def _runtime_names(value: RuntimeValue, scope: ScriptScope, depth: int) -> list[str]:
    names: list[str] = []
    for part in value.parts:
        if part in scope.runtime and depth < _MAX_DEPTH:
            names += [part, *_runtime_names(scope.runtime[part], scope, depth + 1)]
    return names


def from_arguments(value: RuntimeValue) -> bool:
    """Whether the value is made of the script's positional parameters only (`$2`), not of this host's facts."""
    return bool(value.parts) and all(_POSITIONAL.fullmatch(part) for part in value.parts)


def evaluate(value: RuntimeValue, scope: ScriptScope, host: HostFacts, depth: int = 0) -> tuple[str | None, str]:
    """(what the value gives on this host, or None; why, when it is None)."""
    out: list[str] = []
    for unknown, text in template_parts(value.template):
        if not unknown:
            out.append(text)
            continue
        found, why = _part(text, scope, host, depth)
        if found is None:
            return None, why
        out.append(found)
    return "".join(out), ""


def _part(part: str, scope: ScriptScope, host: HostFacts, depth: int) -> tuple[str | None, str]:
    if part in scope.runtime and depth < _MAX_DEPTH:
        return evaluate(scope.runtime[part], scope, host, depth + 1)
    positional = _POSITIONAL.fullmatch(part)
    if positional:
        index = whole(positional.group(1) or positional.group(2)) or 0
        if 0 < index <= len(scope.arguments):
            return scope.arguments[index - 1], ""
        given = f"--script-args gives {len(scope.arguments)}" if scope.arguments else "no --script-args"
        return None, f"{part} is the script's argument {index} ({given})"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
        if part in host.env:
            return host.env[part], ""
        return None, f"${part} comes from the caller's environment and is unset in this shell"
    operator = _DEFAULT_OPERATOR.fullmatch(part)
    if operator:
        name, colon, word = operator.groups()
        current = host.env.get(name)
        return (word if current is None or (colon and not current) else current), ""
    if part.startswith(("$(", "`")):
        return _substitution(part, scope, host)
    return None, f"{part} is not known before launch"


def _substitution(text: str, scope: ScriptScope, host: HostFacts) -> tuple[str | None, str]:
    inner = text[2:-1] if text.startswith("$(") else text[1:-1]
    stages = _stages(inner, scope, host)
    if not stages or not stages[0]:
        return None, f"glm5check does not run {text[:60]}"
    head = stages[0]
    if head[0] == "hostname" and head[1:] in (["-I"], ["--all-ip-addresses"]):
        output: str | None = " ".join(host.addresses)
        for stage in stages[1:]:
            output = _filter(stage, output)
        if output is None:
            return None, f"glm5check does not run {text[:60]}"
        return output.strip(), ""
    if head[0] in _LISTING:
        return _nic_carrying(stages, text, host)
    return None, f"glm5check does not run {text[:60]}"


def _stages(inner: str, scope: ScriptScope, host: HostFacts) -> list[list[str]]:
    """The pipeline's commands as argument lists, `$NAME` replaced by what it gives here."""
    lexer = shlex.shlex(inner, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    stages: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token == "|":
                stages.append([])
            else:
                stages[-1].append(_expand_word(token, scope, host))
    except ValueError:
        return []
    return stages


def _expand_word(word: str, scope: ScriptScope, host: HostFacts) -> str:
    name = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", word)
    if not name:
        return word
    key = name.group(1)
    if key in scope.variables:
        return scope.variables[key]
    if key in scope.runtime:
        return evaluate(scope.runtime[key], scope, host, 1)[0] or word
    return host.env.get(key, word)


def _filter(stage: list[str], text: str | None) -> str | None:
    """One text filter of a pipeline on `text`: awk '{print $N}', cut -d' ' -fN, head -1, xargs."""
    if text is None or not stage:
        return None
    first_line = text.splitlines()[0] if text.splitlines() else ""
    awk = re.fullmatch(r"\{\s*print\s+\$(\d+)\s*;?\s*\}", stage[1]) if stage[0] == "awk" and len(stage) == 2 else None
    if awk:
        fields = first_line.split()
        index = whole(awk.group(1), digits=6)
        if index is None:
            return None
        return (" ".join(fields) if index == 0 else fields[index - 1]) if index <= len(fields) else ""
    if stage[0] == "cut":
        return _cut(stage[1:], first_line)
    if stage[0] == "head" and stage[1:] in (["-1"], ["-n1"], ["-n", "1"]):
        return first_line
    if stage == ["xargs"]:
        return " ".join(text.split())
    return None


def _cut(args: list[str], line: str) -> str | None:
    joined = " ".join(args)
    match = re.fullmatch(r"-d\s?(\S| )\s*-f\s?(\d+)|-f\s?(\d+)\s*-d\s?(\S| )", joined)
    if not match:
        return None
    delimiter = match.group(1) or match.group(4)
    index = whole(match.group(2) or match.group(3), digits=6)
    if index is None:
        return None
    parts = line.split(delimiter)
    return parts[index - 1] if 0 < index <= len(parts) else ""


def _nic_carrying(stages: list[list[str]], text: str, host: HostFacts) -> tuple[str | None, str]:
    """`ip … addr | grep ADDR | awk …` and `ifconfig | grep -B1 ADDR | …` name the interface that
    carries ADDR: read as exactly that."""
    grep = next((stage for stage in stages[1:] if stage and stage[0] == "grep"), None)
    address = next((arg for arg in (grep or [])[1:] if not arg.startswith("-") and not is_whole(arg)), None)
    if address is None:
        return None, f"glm5check does not run {text[:60]}"
    address = address.strip("\"'")
    if address not in host.nic_of:
        return None, f"no interface of this host carries {address} (from {text[:60]})"
    return host.nic_of[address], ""
