"""The check registry: every entry point of the `glm5check.checks` group, built-in or plugin.

Built-in checks are found exactly like a third-party plugin's: pyproject.toml names each module of
checks/ under [project.entry-points."glm5check.checks"], and the registry collects the Check objects
each module defines. An entry point `module:attr` supplies what attr names (a Check, an iterable of
Checks, or a module whose Checks are taken). Every check remembers the entry point and distribution that
supplied it (`Check.origin`), for `glm5check checks` and the JSON report. The group is read by
importlib.metadata, except when glm5check's distribution alone declares it (no plugin installed): then
its own entry_points.txt is read directly (glm5check.util.entrypoints), sparing the ~12 ms import.

Nothing a plugin does stops the run: a module that fails to import, an entry point that names something
else than checks, or a check id defined twice becomes a load error, reported as an ERROR row
`plugin.<entry point>` so that a broken plugin is visible. `--disable-plugin NAME` (or
GLM5CHECK_DISABLE_PLUGINS) keeps a plugin from being imported at all; the built-in modules cannot be
disabled (`--skip 'npu.*'` leaves their checks out).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import NamedTuple, Protocol

from glm5check.engine.check import BUILT_IN, Check, Origin
from glm5check.errors import ConfigError
from glm5check.util import interrupts
from glm5check.util.entrypoints import sole_entry_points
from glm5check.util.names import normalise

ENTRY_POINT_GROUP = "glm5check.checks"
DISABLE_ENV = "GLM5CHECK_DISABLE_PLUGINS"
# Catalogue order: from what is installed, through the hardware, to the launch itself.
CATEGORY_ORDER = ("packages", "ascend", "container", "npu", "env", "net", "host", "weights", "memory", "serve")
# The ids of load-error rows; no check may take this category.
LOAD_ERROR_CATEGORY = "plugin"
WHAT_AN_ENTRY_POINT_NAMES = "an entry point names a Check, an iterable of Checks or a module of checks"
# What a plugin's code may raise that becomes its own ERROR row: sys.exit() too, which would otherwise end
# the whole run with the plugin's exit code and no report (Ctrl-C still stops the run).
PLUGIN_FAULTS = (Exception, SystemExit)


class EntryPoint(Protocol):
    """What the registry reads of an entry point: importlib.metadata's EntryPoint, or glm5check's own read
    by glm5check.util.entrypoints (when no other distribution declares the group)."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    @property
    def module(self) -> str: ...

    @property
    def attr(self) -> str | None: ...


def plugin_fault(exc: BaseException) -> bool:
    """Whether plugin code's exception is its own ERROR row: PLUGIN_FAULTS, and a KeyboardInterrupt the
    operator did not send (no SIGINT or SIGTERM arrived: the plugin raised it itself)."""
    return isinstance(exc, PLUGIN_FAULTS) or (isinstance(exc, KeyboardInterrupt) and not interrupts.requested())


class LoadError(NamedTuple):
    plugin: str  # the entry point's name
    module: str  # what it points at: `module` or `module:attr`
    reason: str
    origin: Origin | None = None

    def describe(self) -> str:
        """`site (glm5check-site-checks 1.0)`, or the entry point's name where its distribution is unknown."""
        return self.origin.describe() if self.origin else self.plugin

    @property
    def check_id(self) -> str:
        """The id of its ERROR row: `plugin.<entry point>`, in the characters a check id may hold."""
        name = re.sub(r"[^a-z0-9_.-]+", "-", self.plugin.lower()).strip(".-") or "unnamed"
        return f"{LOAD_ERROR_CATEGORY}.{name}"


class Registry(NamedTuple):
    checks: tuple[Check, ...]
    errors: tuple[LoadError, ...] = ()
    origins: tuple[Origin, ...] = ()  # every entry point of the group, loaded or not
    disabled: tuple[Origin, ...] = ()  # entry points that --disable-plugin kept from loading
    not_installed: tuple[str, ...] = ()  # names given to disable that no installed plugin has

    def get(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def notes(self) -> list[str]:
        """One line per plugin --disable-plugin kept out, and per name to disable that no plugin has."""
        notes = [f"plugin {o.describe()} is disabled (--disable-plugin or {DISABLE_ENV})" for o in self.disabled]
        return notes + [f"--disable-plugin {name}: no installed plugin has that name" for name in self.not_installed]

    def plugin_names(self) -> set[str]:
        """The normalised entry-point and distribution names of every installed plugin (not built-in)."""
        return {normalise(n) for o in self.origins if not o.built_in for n in (o.entry_point, o.distribution)}


def disabled_plugins(given: Iterable[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """The plugins to block: --disable-plugin's names, then GLM5CHECK_DISABLE_PLUGINS's (comma- or
    space-separated), each once."""
    from_env = re.split(r"[,\s]+", environ.get(DISABLE_ENV, ""))
    return tuple(dict.fromkeys(name.strip() for name in (*given, *from_env) if name.strip()))


def origin_of(entry: EntryPoint, read: dict[int, tuple[str | None, str | None]] | None = None) -> Origin:
    """The entry point and the distribution that declares it ("unknown" when its metadata has no name).
    `read` keeps each distribution's name and version by the distribution's identity (every entry point of
    one distribution shares it): its METADATA is parsed once, not twice per entry point (~0.5 ms each)."""
    dist = getattr(entry, "dist", None)
    known = {} if read is None else read
    if id(dist) not in known:
        try:
            metadata = dist.metadata if dist is not None else None
            known[id(dist)] = (metadata["Name"], metadata["Version"]) if metadata is not None else (None, None)
        except Exception:  # damaged metadata: the entry point still loads, the row says where it came from
            known[id(dist)] = (None, None)
    name, version = known[id(dist)]
    return Origin(entry.name, normalise(name) if name else "unknown", version or None)


def _blocked(origins: Sequence[Origin], names: Sequence[str]) -> tuple[list[Origin], list[str]]:
    """The origins the names block, and the names that match no installed plugin; a name of a built-in
    module or of glm5check itself is a ConfigError (exit 2)."""
    blocked: list[Origin] = []
    unmatched: list[str] = []
    for name in names:
        key = normalise(name)
        matched = [o for o in origins if key in (normalise(o.entry_point), normalise(o.distribution))]
        if key == BUILT_IN or any(o.built_in for o in matched):
            raise ConfigError(f"--disable-plugin {name}: {_built_in_refusal(key)}")
        blocked += matched
        if not matched:
            unmatched.append(name)
    return blocked, unmatched


def _built_in_refusal(key: str) -> str:
    if key == BUILT_IN:
        return "that is glm5check itself; it disables plugins, not its own checks"
    return f"{key} is a module of glm5check's own checks, not a plugin; leave its checks out with --skip '{key}.*'"


def _category_rank(check: Check) -> tuple[int, str]:
    rank = CATEGORY_ORDER.index(check.category) if check.category in CATEGORY_ORDER else len(CATEGORY_ORDER)
    return rank, check.category


def _load_order(found: tuple[Origin, EntryPoint]) -> tuple[bool, str, str]:
    origin, entry = found
    return not origin.built_in, entry.name, origin.distribution


def _target(entry: EntryPoint, module: ModuleType) -> object:
    """What the entry point names: the module, or the attribute `module:attr` (dotted) names in it."""
    target: object = module
    for part in (entry.attr or "").split("."):
        if part:
            target = getattr(target, part)
    return target


def _supplied(entry: EntryPoint, target: object) -> list[Check] | str:
    """The checks an entry point's target supplies, or why it supplies none."""
    if isinstance(target, Check):
        return [target]
    if isinstance(target, ModuleType):
        found = [value for value in vars(target).values() if isinstance(value, Check)]
        return found or f"module {target.__name__} defines no check (no @check function in it)"
    if isinstance(target, Iterable) and not isinstance(target, (str, bytes, Mapping)):
        items = list(target)
        found = [item for item in items if isinstance(item, Check)]
        if items and len(found) == len(items):
            return found
        stranger = next((i for i in items if not isinstance(i, Check)), None)
        what = f"holds a {type(stranger).__name__}" if items else "is empty"
        return f"{entry.value} {what}: {WHAT_AN_ENTRY_POINT_NAMES}"
    return f"{entry.value} is a {type(target).__name__}: {WHAT_AN_ENTRY_POINT_NAMES}"


def _checks_of(entry: EntryPoint, module: ModuleType) -> list[Check] | str:
    try:
        return _supplied(entry, _target(entry, module))
    except PLUGIN_FAULTS as exc:  # a missing attribute, a generator that raises: the plugin's fault, one row
        return f"{entry.value}: {type(exc).__name__}: {exc}"


def _refusal(check: Check, known: dict[str, Check]) -> str | None:
    """Why the registry refuses a check a plugin supplies (its id taken, or a load-error id), else None."""
    if check.category == LOAD_ERROR_CATEGORY:
        return f"check id {check.id}: the {LOAD_ERROR_CATEGORY}.* ids are the rows of plugins that failed to load"
    other = known.get(check.id)
    if other is not None and other.func is not check.func:
        where = other.origin.describe() if other.origin else "another module"
        return f"check id {check.id} is defined twice (already by {where})"
    return None


def _group(plugins: bool) -> list[tuple[Origin, EntryPoint]]:
    """The group's entry points with their origins, glm5check's own modules first (so a plugin can never
    take a built-in check's id, whatever it is named); only those without `plugins`."""
    read: dict[int, tuple[str | None, str | None]] = {}
    found = sorted(((origin_of(e, read), e) for e in _entry_points()), key=_load_order)
    return [(origin, entry) for origin, entry in found if plugins or origin.built_in]


def _entry_points() -> Sequence[EntryPoint]:
    """The group's entry points: read from glm5check's own entry_points.txt when no other distribution can
    declare the group, else by importlib.metadata (importing it costs ~12 ms: glm5check.util.entrypoints)."""
    sole = sole_entry_points(ENTRY_POINT_GROUP, BUILT_IN)
    if sole is not None:
        return sole
    from importlib.metadata import entry_points

    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def _load_entry(entry: EntryPoint, origin: Origin, checks: dict[str, Check]) -> list[LoadError]:
    """Imports one entry point and adds the checks it supplies to `checks`; what went wrong, as load errors."""
    try:
        module = importlib.import_module(entry.module)
    except BaseException as exc:
        if not plugin_fault(exc):
            raise
        return [LoadError(entry.name, entry.value, f"{type(exc).__name__}: {exc}", origin)]
    supplied = _checks_of(entry, module)
    if isinstance(supplied, str):
        return [LoadError(entry.name, entry.value, supplied, origin)]
    errors: list[LoadError] = []
    for candidate in supplied:
        refusal = _refusal(candidate, checks)
        if refusal:
            errors.append(LoadError(entry.name, entry.value, refusal, origin))
        elif candidate.id not in checks:
            checks[candidate.id] = replace(candidate, origin=origin)
    return errors


def load_registry(disabled: Sequence[str] = (), plugins: bool = True) -> Registry:
    """Every check of the group's entry points but the `disabled` plugins' (names of entry points or
    distributions), in catalogue order; what could not be loaded as load errors. Without `plugins`, only
    glm5check's own modules (no plugin is imported)."""
    found = _group(plugins)
    origins = [origin for origin, _ in found]
    blocked, unmatched = _blocked(origins, disabled)
    checks: dict[str, Check] = {}
    errors = [error for origin, entry in found if origin not in blocked for error in _load_entry(entry, origin, checks)]
    order = list(checks)
    ordered = sorted(checks.values(), key=lambda c: (*_category_rank(c), order.index(c.id)))
    return Registry(tuple(ordered), tuple(errors), tuple(origins), tuple(blocked), tuple(unmatched))
