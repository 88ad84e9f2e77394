"""The software stack a run is judged against (glm5check/knowledge/stacks, docs/stacks.md): choosing it
(`--stack NAME`, `--stack auto` from the installed vllm-ascend, else the profile's), and what it says about the
environment variables of the run's profile. The session calls `choose_stack` once, before any check runs;
checks read `ctx.stack`."""

from __future__ import annotations

from collections.abc import Callable

from glm5check.errors import ProbeFailed
from glm5check.facts.context import Context
from glm5check.facts.packages import inventory
from glm5check.knowledge.launch_command import ServeInput
from glm5check.knowledge.stacks import EnvVar, Stack, StackChoice, auto_stack_name, load_stack

AUTO = "auto"


def choose_stack(ctx: Context, launch_for: Callable[[Stack], ServeInput] | None = None) -> Context:
    """`ctx` judged against the stack `--stack` asks for (ctx.options.stack); unchanged without --stack. An
    unknown name is a StackError (exit 2, with a did-you-mean). `launch_for` reads the launch command again
    with the chosen stack's flags (its exports, which the package inventory saw, do not depend on them)."""
    requested = ctx.options.stack
    if not requested:
        return ctx
    if requested == AUTO:
        choice = auto_stack(ctx)
    else:
        choice = StackChoice(load_stack(requested), "option", f"--stack {requested}")
    launch = launch_for(choice.stack) if launch_for is not None else None
    return ctx.with_stack(choice, keep=(inventory,), launch=launch)


def auto_stack(ctx: Context) -> StackChoice:
    """The release stack of the installed vllm-ascend, the pinned stack for a source build, else the
    profile's stack (read from the package inventory, which the packages checks then reuse)."""
    try:
        installed = ctx.fact(inventory).named("vllm-ascend")
    except ProbeFailed as exc:
        return StackChoice(ctx.stack, "auto", f"--stack auto: the installed packages cannot be read ({exc})")
    versions = tuple(dist.version or "(no version)" for dist in installed)
    name, why = auto_stack_name(versions, ctx.profile.stack)
    return StackChoice(load_stack(name), "auto", f"--stack auto: {why}")


def run_stack(ctx: Context) -> Stack:
    """Fact provider: the stack of this run, whose tables say which variables its vllm and vllm-ascend read."""
    return ctx.stack


def env_meaning(ctx: Context, name: str) -> EnvVar | None:
    return ctx.fact(run_stack).env_var(name)


def inert_variables(ctx: Context) -> frozenset[str]:
    """The profile's variables that change nothing for `vllm serve` at this stack: no fix exports them."""
    names = (*ctx.profile.env, *ctx.profile.node_env)
    return frozenset(name for name in names if (meaning := env_meaning(ctx, name)) is not None and meaning.inert)
