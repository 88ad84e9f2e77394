"""What a check receives: the profile and plan, the options, the node's role, the host and the facts.

Facts are lazy and cached: a provider is a plain function `provider(ctx) -> value`; the first check
that asks runs it (and so its probes), every later check gets the same value. Providers that fail
raise ProbeFailed, and every check asking for that fact becomes an ERROR with the same reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from glm5check.host.base import Host
from glm5check.knowledge.profiles import Profile, ServePlan

T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """Run options that checks may read (the CLI fills them; tests build them directly)."""

    python: str = "python3"
    model_dir: str | None = None
    node_rank: int | None = None
    node0_ip: str | None = None
    expect: dict[str, str] = field(default_factory=dict)  # e.g. {"vllm": "<sha>"} from --expect
    serve_source: str | None = None  # the serve script path or "--serve-cmd", when given


@dataclass(frozen=True)
class NodeInfo:
    rank: int
    role: str  # single, primary, headless
    source: str  # where the rank came from: single-node profile, --node-rank, serve script, detected, default


class Facts:
    """A per-run cache of fact providers' values, safe to use from the runner's worker threads."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._values: dict[Callable[..., Any], Any] = {}
        self._errors: dict[Callable[..., Any], BaseException] = {}
        self._locks: dict[Callable[..., Any], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, provider: Callable[[Context], T]) -> T:
        with self._guard:
            lock = self._locks.setdefault(provider, threading.Lock())
        with lock:
            if provider in self._values:
                return self._values[provider]
            if provider in self._errors:
                raise self._errors[provider]
            try:
                value = provider(self._ctx)
            except BaseException as exc:
                self._errors[provider] = exc
                raise
            self._values[provider] = value
            return value

    def peek(self, provider: Callable[[Context], T]) -> T | None:
        """The value if some check already computed it; never runs a probe (used by reports)."""
        with self._guard:
            return self._values.get(provider)


# Report facts: key in the JSON report's `facts` -> function(ctx) returning JSON-ready data or None.
# They must only `peek` at facts, so writing a report never probes the machine.
REPORTED_FACTS: dict[str, Callable[[Context], Any]] = {}


def reported_fact(key: str) -> Callable[[Callable[[Context], Any]], Callable[[Context], Any]]:
    def register(func: Callable[[Context], Any]) -> Callable[[Context], Any]:
        REPORTED_FACTS[key] = func
        return func

    return register


class Context:
    def __init__(
        self,
        profile: Profile,
        host: Host,
        options: Options | None = None,
        plan: ServePlan | None = None,
        script_env: dict[str, str] | None = None,
    ) -> None:
        self.profile = profile
        self.host = host
        self.options = options or Options()
        # The serve plan: the profile's, or the one read from --serve-script / --serve-cmd.
        self.plan = plan or profile.serve
        # Variables exported by the serve script; they override the process environment.
        self.script_env = dict(script_env or {})
        # Set by the session when a serve script or command was given (glm5check.knowledge.launch_command.ServeInput),
        # with the origin of each plan field ("profile", "serve script line 12", ...).
        self.serve_input: Any = None
        self.plan_sources: dict[str, str] = {}
        self.facts = Facts(self)
        self._node: NodeInfo | None = None
        self._node_lock = threading.Lock()

    def fact(self, provider: Callable[[Context], T]) -> T:
        return self.facts.get(provider)

    @property
    def env(self) -> dict[str, str]:
        """The environment vllm serve would see: this process's, overlaid with the serve script's exports."""
        merged = dict(self.fact(_host_env))
        merged.update(self.script_env)
        return merged

    @property
    def node(self) -> NodeInfo:
        with self._node_lock:
            if self._node is None:
                from glm5check.facts.node import resolve_node

                self._node = resolve_node(self)
            return self._node


def _host_env(ctx: Context) -> dict[str, str]:
    return ctx.host.env()
