"""env.vars: the environment variables of the guide's launch scripts, one item per variable, judged by what each
one does at the run's stack (glm5check/knowledge/stacks: who reads it, its default, whether it is inert)."""

from __future__ import annotations

from collections.abc import Iterator

from glm5check.engine.check import Result, check, failed, passed, warned
from glm5check.facts.context import Context, runtime_judged
from glm5check.facts.stack import env_meaning, run_stack
from glm5check.knowledge.profiles import BUILTIN, load_builtin
from glm5check.knowledge.stacks import DEFAULT_STACK, EnvVar, load_stack
from glm5check.util.lazyre import lazy
from glm5check.util.numbers import whole
from glm5check.util.text import export_text

# Variables whose values are counts (the runtime parses them with atoi and ignores junk).
_INTEGER_VARS = {"HCCL_BUFFSIZE": "MB", "OMP_NUM_THREADS": "threads"}
_BOOLEAN_WORDS = {"true", "false", "1", "0", "yes", "no", "on", "off"}
_NODE_VALUE = {"address": "<this node's IP address>", "interface": "<the NIC that carries HCCL_IF_IP>"}
# A getter that converts with int() raises ValueError on anything else, at the first read.
_INT_GETTER = lazy(r"\bint\(")


def _same(name: str, expected: str, observed: str) -> bool:
    observed = observed.strip()
    if name in _INTEGER_VARS and whole(observed) is not None:
        return whole(observed) == whole(expected)
    if expected.lower() in _BOOLEAN_WORDS:
        return observed.lower() == expected.lower()
    return observed == expected


def _where(stack: str, meaning: EnvVar) -> str:
    return f"{meaning.reader} at stack {stack}"


def _not_a_number(name: str, value: str, expected: str, meaning: EnvVar | None) -> Result | None:
    """A value vllm or vllm-ascend converts with int() (and so stops at start-up), else None."""
    if meaning is None or not meaning.read_by_vllm or not _INT_GETTER.search(meaning.getter or ""):
        return None
    try:
        int(value.strip())
    except ValueError:
        return failed(
            f"{value!r} is not a number: {meaning.reader} reads it with int() ({meaning.getter}) and stops at "
            "start-up with ValueError",
            item=name,
            expected=expected,
            observed=value,
            remediation=export_text({name: expected}),
        )
    return None


def _inert(name: str, expected: str, env: dict[str, str], meaning: EnvVar, stack: str) -> Result:
    """A variable nothing reads at this stack: a note, and a warning only where its value misleads (it asks for
    something other than what runs)."""
    why, note = meaning.inert_why, meaning.inert_note(stack)
    value = env.get(name)
    if value is None:
        return passed(f"unset; {note}", item=name, expected=expected, observed="unset")
    default = meaning.unset_value
    if default is not None and not _same(name, default, value):
        return warned(
            f"= {value}, but it has no effect at stack {stack}: {why}; vllm serve runs as with {default}",
            item=name,
            expected=f"{default} (what runs)",
            observed=value,
            remediation=f"none needed; unset it to say what runs (unset {name})",
        )
    return passed(f"= {value}; {note}", item=name, expected=expected, observed=value)


def _default_applies(meaning: EnvVar, env: dict[str, str]) -> bool:
    return meaning.unset_value is not None and not any(env.get(other) for other in meaning.unset_unless)


def _unset(name: str, expected: str, env: dict[str, str], meaning: EnvVar | None, stack: str) -> Result:
    if meaning is not None and _default_applies(meaning, env) and _same(name, expected, meaning.unset_value or ""):
        return passed(
            f"unset; {meaning.reader}'s default {meaning.unset_value} is the guide's value",
            item=name,
            expected=expected,
            observed=f"unset: {meaning.reader} uses {meaning.unset} ({meaning.source})",
        )
    runs = f"{_where(stack, meaning)} then uses: {meaning.unset}" if meaning else "no recorded default"
    return warned(
        f"unset; the guide uses {expected} ({runs})",
        item=name,
        expected=expected,
        observed="unset",
        remediation=export_text({name: expected}),
    )


def judge_variable(name: str, expected: str, env: dict[str, str], meaning: EnvVar | None, stack: str) -> Result:
    """FAIL only where the value stops vllm serve; a value other than the guide's runs, differently: WARN."""
    value = env.get(name)
    broken = _not_a_number(name, value, expected, meaning) if value is not None else None
    if broken is not None:
        return broken
    if meaning is not None and meaning.inert:
        return _inert(name, expected, env, meaning, stack)
    if value is None:
        return _unset(name, expected, env, meaning, stack)
    unit = _INTEGER_VARS.get(name)
    if unit and whole(value) is None:
        return warned(
            f"{value!r} is not a whole number of {unit}; the guide uses {expected}",
            item=name,
            expected=expected,
            observed=value,
            remediation=export_text({name: expected}),
        )
    if not _same(name, expected, value):
        return warned(
            f"is {value!r}, the guide uses {expected!r}",
            item=name,
            expected=expected,
            observed=value,
            remediation=export_text({name: expected}),
        )
    return passed(f"= {value}", item=name, expected=expected, observed=value)


def judge_node_variable(name: str, kind: str, env: dict[str, str], meaning: EnvVar | None, stack: str) -> Result:
    """Per-node variables: their values are judged against this host by net.interfaces."""
    value = env.get(name, "").strip()
    placeholder = _NODE_VALUE[kind]
    if meaning is not None and meaning.inert:
        shown = f"= {value}" if value else "unset"
        return passed(f"{shown}; {meaning.inert_note(stack)}", item=name, observed=value or "unset")
    if not value:
        return warned(
            f"unset; every node sets it to {placeholder.strip('<>')} (net.interfaces judges what this node uses)",
            item=name,
            expected=placeholder,
            observed="unset",
            remediation=f"export {name}={placeholder}  (or run: glm5check fix-env --profile …)",
        )
    return passed(f"= {value} (checked against this host by net.interfaces)", item=name, observed=value)


def variables_table() -> str:
    """`explain env.vars`: what every variable of every built-in profile means at the default stack."""
    stack = load_stack(DEFAULT_STACK)
    values: dict[str, list[str]] = {}
    for name in BUILTIN:
        profile = load_builtin(name)
        for var, value in profile.env.items():
            values.setdefault(var, []).append(f"{name}: {value}")
        for var, kind in profile.node_env.items():
            values.setdefault(var, []).append(f"{name}: {_NODE_VALUE[kind]}")
    lines = [f"The variables of the built-in profiles at stack {DEFAULT_STACK} (glm5check/knowledge/stacks):"]
    for var, profiles in sorted(values.items()):
        meaning = stack.env_var(var)
        lines += ["", f"{var}  ({'; '.join(profiles)})"]
        if meaning is None:
            lines.append("  no recorded meaning")
            continue
        state = "inert: " + (meaning.effect or "nothing reads it") if meaning.inert else "read"
        default = f" = {meaning.unset_value}" if meaning.unset_value is not None else ""
        lines += [
            f"  read by: {meaning.reader} — {meaning.meaning}",
            f"  when unset{default}: {meaning.unset}",
            f"  at this stack: {state}",
            f"  source: {meaning.source}",
        ]
    return "\n".join(lines) + "\n"


@check(
    "env.vars",
    title="Environment variables of the guide's launch script",
    explain="""
Why: the GLM-5 launch scripts export HCCL, OpenMP, PyTorch-NPU and vLLM variables before `vllm serve`.
Most change how fast it runs, not whether it starts: a value other than the guide's is a warning. A value
that stops vllm serve fails: vllm and vllm-ascend read some variables with int() at start-up
(VLLM_ASCEND_BALANCE_SCHEDULING=yes is a ValueError), whether or not the profile names them. On two nodes,
HCCL_IF_IP and the *_SOCKET_IFNAME variables are set on every node to that node's own address and NIC.

What: every variable of the profile's [env] table against the environment vllm serve would see (this
process's environment overlaid with the serve script's exports; a value the script computes at run
time, such as `$(hostname -I | awk '{print $1}')`, is judged by what it gives on this host, and the
result says so), judged by what it does at the run's
stack (glm5check/knowledge/stacks: who reads it, its default, whether it is read at all, with sources): an
unset variable whose default is the guide's value passes and says so (HCCL_BUFFSIZE: HCCL's default is 200
MB); a variable nothing reads at the stack (VLLM_USE_V1, removed from vLLM before the pin) is a note, and
a warning only when its value asks for something other than what runs. For multi-node profiles the
[node_env] variables are listed; their values are judged by net.interfaces. The table below gives every
variable's meaning.

Fix: add the `export` line shown for each variable to the launch script, or source the output of
`glm5check fix-env --profile <profile>` (it never exports a variable that is inert at the stack).
""",
    appendix=variables_table,
)
def env_vars(ctx: Context) -> Iterator[Result]:
    env = ctx.env
    stack = ctx.fact(run_stack).name
    for name, expected in ctx.profile.env.items():
        yield runtime_judged(ctx, name, judge_variable(name, expected, env, env_meaning(ctx, name), stack))
    for name, kind in ctx.profile.node_env.items():
        yield runtime_judged(ctx, name, judge_node_variable(name, kind, env, env_meaning(ctx, name), stack))
    yield from _stops_start_up(ctx, env)


def _stops_start_up(ctx: Context, env: dict[str, str]) -> Iterator[Result]:
    """vLLM variables outside the profile whose value vllm or vllm-ascend cannot convert at start-up."""
    known = {*ctx.profile.env, *ctx.profile.node_env}
    for name in sorted(n for n in env if n.startswith("VLLM_") and n not in known):
        meaning = env_meaning(ctx, name)
        broken = _not_a_number(name, env[name], meaning.unset_value or "0", meaning) if meaning else None
        if broken is not None:
            yield broken
