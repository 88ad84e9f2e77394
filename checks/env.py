"""env.vars: the environment variables of the guide's launch scripts, one item per variable."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from glm5check.engine.check import Result, check, failed, passed
from glm5check.facts.context import Context, runtime_judged
from glm5check.util.units import whole_number

# Variables whose values must be whole numbers (the runtime parses them with atoi and ignores junk).
_INTEGER_VARS = {"HCCL_BUFFSIZE": "MB", "OMP_NUM_THREADS": "threads"}
_BOOLEAN_WORDS = {"true", "false", "1", "0", "yes", "no", "on", "off"}
_NODE_VALUE = {"address": "<this node's IP address>", "interface": "<the NIC that carries HCCL_IF_IP>"}


def export_line(name: str, value: str) -> str:
    return f"export {name}={shlex.quote(value)}"


def _same(name: str, expected: str, observed: str) -> bool:
    observed = observed.strip()
    if name in _INTEGER_VARS and whole_number(observed) is not None:
        return whole_number(observed) == whole_number(expected)
    if expected.lower() in _BOOLEAN_WORDS:
        return observed.lower() == expected.lower()
    return observed == expected


def judge_variable(name: str, expected: str, env: dict[str, str]) -> Result:
    if name not in env:
        return failed(
            f"unset; the guide uses {expected}",
            item=name,
            expected=expected,
            observed="unset",
            remediation=export_line(name, expected),
        )
    observed = env[name]
    unit = _INTEGER_VARS.get(name)
    if unit and whole_number(observed) is None:
        return failed(
            f"{observed!r} is not a whole number of {unit}; the guide uses {expected}",
            item=name,
            expected=expected,
            observed=observed,
            remediation=export_line(name, expected),
        )
    if not _same(name, expected, observed):
        return failed(
            f"is {observed!r}, the guide uses {expected!r}",
            item=name,
            expected=expected,
            observed=observed,
            remediation=export_line(name, expected),
        )
    return passed(f"= {observed}", item=name, expected=expected, observed=observed)


def judge_node_variable(name: str, kind: str, env: dict[str, str]) -> Result:
    value = env.get(name, "").strip()
    placeholder = _NODE_VALUE[kind]
    if not value:
        return failed(
            f"unset; every node sets it to {placeholder.strip('<>')}",
            item=name,
            expected=placeholder,
            observed="unset",
            remediation=f"export {name}={placeholder}  (or run: glm5check fix-env --profile …)",
        )
    return passed(f"= {value} (checked against this host by net.interfaces)", item=name, observed=value)


@check(
    "env.vars",
    title="Environment variables of the guide's launch script",
    explain="""
Why: the GLM-5 launch scripts export HCCL, OpenMP, PyTorch-NPU and vLLM variables before `vllm serve`.
A missing HCCL_BUFFSIZE or HCCL_OP_EXPANSION_MODE does not stop vLLM from starting: it fails or slows
down minutes later inside HCCL. On two nodes, HCCL_IF_IP and the *_SOCKET_IFNAME variables must be set
on every node to that node's own address and NIC.

What: every variable of the profile's [env] table is compared with the environment vllm serve would see
(this process's environment overlaid with the serve script's exports; a value the script computes at
run time, such as `$(hostname -I | awk '{print $1}')`, is judged by what it gives on this host, and the
result says so). Integers such as HCCL_BUFFSIZE
and OMP_NUM_THREADS must be whole numbers. For multi-node profiles the [node_env] variables must be set;
their values are judged by net.interfaces.

Fix: add the `export` line shown for each failing variable to the launch script, or source the output of
`glm5check fix-env --profile <profile>`.
""",
)
def env_vars(ctx: Context) -> Iterator[Result]:
    env = ctx.env
    for name, expected in ctx.profile.env.items():
        yield runtime_judged(ctx, name, judge_variable(name, expected, env))
    for name, kind in ctx.profile.node_env.items():
        yield runtime_judged(ctx, name, judge_node_variable(name, kind, env))
