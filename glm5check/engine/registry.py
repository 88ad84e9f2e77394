"""The check registry: every module in the `glm5check.checks` entry-point group, built-in or plugin.

Built-in checks are found exactly like a third-party plugin's: pyproject.toml names each module of
checks/ under [project.entry-points."glm5check.checks"], and the registry collects the Check objects
each module defines. A module that fails to import does not stop the run: it becomes a load error,
reported as an ERROR result so that a broken plugin is visible.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from glm5check.engine.check import Check

ENTRY_POINT_GROUP = "glm5check.checks"
# Catalogue order: from what is installed, through the hardware, to the launch itself.
CATEGORY_ORDER = ("packages", "ascend", "npu", "env", "net", "host", "weights", "memory", "serve")


@dataclass(frozen=True)
class LoadError:
    plugin: str
    module: str
    reason: str


@dataclass(frozen=True)
class Registry:
    checks: tuple[Check, ...]
    errors: tuple[LoadError, ...] = ()

    def get(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)


def _category_rank(check: Check) -> tuple[int, str]:
    rank = CATEGORY_ORDER.index(check.category) if check.category in CATEGORY_ORDER else len(CATEGORY_ORDER)
    return rank, check.category


def load_registry() -> Registry:
    checks: dict[str, Check] = {}
    order: list[str] = []
    errors: list[LoadError] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            module = importlib.import_module(entry.value.split(":")[0])
        except Exception as exc:
            errors.append(LoadError(entry.name, entry.value, f"{type(exc).__name__}: {exc}"))
            continue
        for value in vars(module).values():
            if not isinstance(value, Check):
                continue
            if value.id in checks and checks[value.id] is not value:
                errors.append(LoadError(entry.name, entry.value, f"check id {value.id} is defined twice"))
                continue
            if value.id not in checks:
                order.append(value.id)
            checks[value.id] = value
    ordered = sorted((checks[i] for i in order), key=lambda c: (*_category_rank(c), order.index(c.id)))
    return Registry(tuple(ordered), tuple(errors))
