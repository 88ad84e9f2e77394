"""What a check receives: the profile, the launch command and its effective plan, the stack, the run options,
the host and the facts cache. Built once per run by the session and never changed afterwards."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from glm5check.engine.check import Result, warned
from glm5check.engine.context import BaseContext
from glm5check.errors import NotRecorded
from glm5check.host.base import Host
from glm5check.knowledge import glm5
from glm5check.knowledge.launch_command import ServeInput, convert_value, profile_launch
from glm5check.knowledge.plan import EffectivePlan, Evaluated, resolve
from glm5check.knowledge.profiles import Profile, ServePlan
from glm5check.knowledge.runtime_values import HostFacts, ScriptScope, describe, evaluate, from_arguments
from glm5check.knowledge.stacks import Stack, StackChoice, load_stack
from glm5check.parsers.launch_script import RuntimeValue
from glm5check.util import safejson


@dataclass(frozen=True)
class Options:
    """Run options that checks may read (the CLI fills them; tests build them directly)."""

    python: str = "python3"
    model_dir: str | None = None
    node_rank: int | None = None
    node0_ip: str | None = None
    pd_role: str | None = None  # --pd-role: the prefill-decode group of this node, as given
    script_args: tuple[str, ...] = ()  # --script-args: the serve script's positional parameters ($1, $2, …)
    peer_npu_ips: tuple[str, ...] = ()  # node 0's NPU device IPs from --peer-npu-ips (or a snapshot)
    expect: dict[str, str] = field(default_factory=dict)  # e.g. {"vllm": "<sha>"} from --expect
    serve_source: str | None = None  # the serve script path or "--serve-cmd", when given
    stack: str | None = None  # --stack as given: a stack name, "auto", or None for the profile's stack


def profile_stack(profile: Profile) -> StackChoice:
    """The stack a profile is written for, when no --stack chooses another."""
    return StackChoice(load_stack(profile.stack), "profile", f"profile {profile.name}")


class Context(BaseContext):
    """The deployment being checked on this node. `launch` is the launch command as read from
    --serve-script / --serve-cmd, or the profile's own command when none was given; `plan` is what vLLM
    runs for it (the command's values, vLLM's defaults for the rest: see `effective`); `stack_choice` the
    software stack it is judged against (the profile's unless --stack chose another)."""

    __slots__ = ("launch", "options", "profile", "stack_choice")
    profile: Profile
    options: Options
    launch: ServeInput
    stack_choice: StackChoice

    def __init__(
        self,
        profile: Profile,
        host: Host,
        options: Options | None = None,
        launch: ServeInput | None = None,
        stack: StackChoice | None = None,
    ) -> None:
        super().__init__(host)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "options", options or Options())
        object.__setattr__(self, "launch", launch or profile_launch(profile))
        object.__setattr__(self, "stack_choice", stack or profile_stack(profile))

    @property
    def stack(self) -> Stack:
        return self.stack_choice.stack

    def with_stack(
        self, choice: StackChoice, keep: tuple[Callable[[Any], Any], ...] = (), launch: ServeInput | None = None
    ) -> Context:
        """The same deployment judged against another stack (and its launch command read with that stack's
        flags, when given). The session calls it while it chooses the stack, before any check ran; `keep`
        names facts already read that do not depend on the stack (the package inventory): they carry over,
        so nothing is probed twice."""
        chosen = Context(self.profile, self.host, self.options, launch or self.launch, choice)
        chosen.facts.adopt(self.facts, keep)
        return chosen

    @property
    def effective(self) -> EffectivePlan:
        """The effective plan with the source of every value."""
        return self.fact(effective_plan)

    @property
    def plan(self) -> ServePlan:
        return self.effective.plan

    @property
    def model_dir(self) -> str:
        """Where the weights are read: --model-dir, else the launch command's model path, else the profile's."""
        return self.options.model_dir or self.effective.model or self.profile.model.path

    @property
    def script_env(self) -> dict[str, str]:
        """Variables the serve script exports; they override the process environment."""
        return self.launch.env

    @property
    def env(self) -> dict[str, str]:
        """The environment vllm serve would see: this process's, overlaid with the serve script's exports
        (those it computes at run time with what they give on this host)."""
        merged = dict(self.fact(host_env))
        merged.update(self.script_env)
        for name, found in self.fact(runtime_env).items():
            if found.value is not None:
                merged[name] = found.value
        return merged

    def env_note(self, name: str) -> Evaluated | None:
        """For a variable the script sets at run time: how, and what it gives on this host."""
        return self.fact(runtime_env).get(name)


def runtime_judged(ctx: Context, name: str, result: Result) -> Result:
    """A variable the launch script sets at run time (`export HCCL_IF_IP=$(hostname -I | …)`) is judged by
    what it gives on this host, and says so; one whose value cannot be known here is a warning, never
    "unset"."""
    note = ctx.env_note(name)
    if note is None:
        return result
    if note.value is None:
        return warned(
            f"{name} is {note.note}: check what it gives on this host before launch",
            item=name,
            expected=result.expected,
            observed="set at run time",
            remediation="set the value in the script itself, or export what it reads in this shell and run "
            "glm5check again",
        )
    return replace(result, message=f"{name} is {note.note}: {result.message}")


def host_env(ctx: Context) -> dict[str, str]:
    return ctx.host.env()


def host_facts(ctx: Context) -> HostFacts:
    """This host's environment and addresses, as the run-time idioms of a script read them."""
    addresses: list[str] = []
    nic_of: dict[str, str] = {}
    try:
        interfaces = ctx.host.interfaces()
    except NotRecorded:  # an older snapshot: the run-time values then stay unknown
        interfaces = ()
    for iface in interfaces:
        for address in iface.addresses:
            if address.family == "mac":
                continue
            nic_of[address.address] = iface.name
            loopback = iface.name == "lo" or address.address.startswith("127.") or address.address == "::1"
            if not loopback and not address.address.lower().startswith("fe80"):
                addresses.append(address.address)
    try:
        env = ctx.fact(host_env)
    except NotRecorded:  # the same: a value read from the caller's environment stays unknown
        env = {}
    return HostFacts(env, tuple(addresses), nic_of)


def _scope(ctx: Context) -> ScriptScope:
    return ScriptScope({**ctx.launch.variables, **ctx.launch.env}, ctx.launch.runtime, ctx.options.script_args)


def runtime_env(ctx: Context) -> dict[str, Evaluated]:
    """Every variable the serve script exports with a value computed at run time, evaluated here."""
    if not ctx.launch.unknown_env:
        return {}
    scope, facts = _scope(ctx), ctx.fact(host_facts)
    found: dict[str, Evaluated] = {}
    for name in ctx.launch.unknown_env:
        value = ctx.launch.runtime[name]
        found[name] = _evaluated(value, scope, facts, str)
    return found


def _evaluated(value: RuntimeValue, scope: ScriptScope, facts: HostFacts, convert: Callable[[str], Any]) -> Evaluated:
    how = describe(value, scope)
    text, why = evaluate(value, scope, facts)
    if text is None:
        return Evaluated(None, f"{how}; its value is not known before launch ({why})")
    where = "with --script-args" if from_arguments(value) else "on this host"
    converted = convert(text)
    if converted is None:
        return Evaluated(None, f"{how}; {where} that gives {text!r}, which vllm would reject")
    return Evaluated(converted, f"{how}; {where} that gives {text}")


def _converter(name: str) -> Callable[[str], Any]:
    """How the text a run-time flag value gives becomes the plan's value (the model path stays text)."""
    if name == "model":
        return str
    return lambda text: convert_value(name, text)


def model_config(ctx: Context) -> tuple[dict[str, Any] | None, str]:
    """The model's config.json (read whole, as vLLM reads it) and where it came from; GLM-5's built-in
    config when it cannot be read."""
    path = posixpath.join(ctx.options.model_dir or ctx.launch.model_path or ctx.profile.model.path, "config.json")
    try:
        read = ctx.host.read_file(path)
    except NotRecorded:  # a snapshot from before the plan read config.json
        return dict(glm5.CONFIG), f"GLM-5's published config ({path}: not recorded in the snapshot)"
    why = read.error or "unreadable"
    if read.text is not None and not read.error:
        try:
            data = safejson.loads(read.text)
        except safejson.JsonProblem:
            data, why = None, "not JSON"
        if isinstance(data, dict):
            return data, path
    return dict(glm5.CONFIG), f"GLM-5's published config ({path}: {why})"


def effective_plan(ctx: Context) -> EffectivePlan:
    """The plan vLLM will run: the launch command's values, its run-time values as they come out on
    this host, vLLM's defaults for the rest."""
    config, origin = ctx.fact(model_config)
    scope = _scope(ctx)
    evaluated: dict[str, Evaluated] = {}
    if ctx.launch.runtime_flags:
        facts = ctx.fact(host_facts)
        for name, value in ctx.launch.runtime_flags.items():
            evaluated[name] = _evaluated(value, scope, facts, _converter(name))
    return resolve(ctx.launch, config, origin, evaluated, ctx.profile.serve, ctx.stack.name)


def intended_plan(ctx: Context) -> EffectivePlan:
    """The plan of the deployment the operator intends: the profile's launch command, with vLLM's
    defaults (for the same model) where the profile passes no flag."""
    config, origin = ctx.fact(model_config)
    return resolve(profile_launch(ctx.profile), config, origin, stack=ctx.stack.name)
