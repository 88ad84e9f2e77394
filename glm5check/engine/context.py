"""The run context as the engine sees it: a host to ask, and a per-run cache of facts.

Facts are lazy and cached: a provider is a plain function `provider(ctx) -> value`; the first check
that asks runs it (and so its probes), every later check gets the same value. Providers that fail
raise ProbeFailed, and every check asking for that fact becomes an ERROR with the same reason.

What a deployment check receives (profile, effective plan, options) is glm5check.facts.context.Context,
a subclass; the engine itself knows nothing about NPUs or vLLM.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from glm5check.host.base import Host

T = TypeVar("T")
C = TypeVar("C", bound="BaseContext")


class Facts:
    """A per-run cache of fact providers' values, safe to use from the runner's worker threads."""

    def __init__(self, ctx: BaseContext) -> None:
        self._ctx = ctx
        self._values: dict[Callable[..., Any], Any] = {}
        self._errors: dict[Callable[..., Any], BaseException] = {}
        self._locks: dict[Callable[..., Any], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, provider: Callable[[Any], T]) -> T:
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

    def adopt(self, other: Facts, providers: tuple[Callable[..., Any], ...]) -> None:
        """Take over the values and failures `other` has computed for `providers` (for a context derived
        from its own, where those facts cannot differ)."""
        with other._guard:
            values = {p: other._values[p] for p in providers if p in other._values}
            errors = {p: other._errors[p] for p in providers if p in other._errors}
        with self._guard:
            self._values.update(values)
            self._errors.update(errors)

    def peek(self, provider: Callable[[Any], T]) -> T | None:
        """The value if some check already computed it; never runs a probe (used by reports)."""
        with self._guard:
            return self._values.get(provider)


class BaseContext:
    """A host and the facts cache. Immutable once built: attributes are set once, in __init__."""

    __slots__ = ("_facts", "host")
    host: Host
    _facts: Facts

    def __init__(self, host: Host) -> None:
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "_facts", Facts(self))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a {type(self).__name__} is immutable; build a new one instead of setting {name}")

    @property
    def facts(self) -> Facts:
        return self._facts

    def fact(self, provider: Callable[[Any], T]) -> T:
        return self.facts.get(provider)


# Report facts: key in the JSON report's `facts` -> function(ctx) returning JSON-ready data or None.
# They must only `peek` at facts, so writing a report never probes the machine.
REPORTED_FACTS: dict[str, Callable[[Any], Any]] = {}
RESERVED_FACTS = frozenset({"env", "plan"})  # written by the report itself (glm5check.reporting)


def _qualified(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"


def reported_fact(key: str) -> Callable[[Callable[[C], Any]], Callable[[C], Any]]:
    """Register a function that puts one fact into the JSON report's `facts` under `key`. A key another
    function reports already is a ValueError (a plugin raising it at import is a load error), so no plugin
    can replace what glm5check or another plugin reports."""

    def register(func: Callable[[C], Any]) -> Callable[[C], Any]:
        taken = REPORTED_FACTS.get(key)
        if key in RESERVED_FACTS or (taken is not None and _qualified(taken) != _qualified(func)):
            owner = _qualified(taken) if taken is not None else "the report itself"
            raise ValueError(f"the report fact {key!r} is already reported by {owner}")
        REPORTED_FACTS[key] = func
        return func

    return register
