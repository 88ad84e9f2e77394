"""The software stack a run is judged against (glm5check/knowledge/stacks, docs/stacks.md), and what it says about
the environment variables of the run's profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glm5check.knowledge.stacks import DEFAULT_STACK, EnvVar, Stack, load_stack

if TYPE_CHECKING:
    from glm5check.facts.context import Context


def run_stack(ctx: Context) -> Stack:
    """Fact provider: the stack of this run. Every built-in profile is the February guide's deployment, whose
    stack is the default one."""
    return load_stack(DEFAULT_STACK)


def env_meaning(ctx: Context, name: str) -> EnvVar | None:
    return ctx.fact(run_stack).env_var(name)


def inert_variables(ctx: Context) -> frozenset[str]:
    """The profile's variables that change nothing for `vllm serve` at this stack: no fix exports them."""
    names = (*ctx.profile.env, *ctx.profile.node_env)
    return frozenset(name for name in names if (meaning := env_meaning(ctx, name)) is not None and meaning.inert)
