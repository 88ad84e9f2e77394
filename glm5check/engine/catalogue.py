"""The check catalogue: `glm5check checks` (table, JSON or Markdown for the README) and `explain ID`."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import Any

from glm5check.engine.check import Check
from glm5check.engine.registry import Registry, load_registry
from glm5check.errors import ConfigError


def render_catalogue(output_format: str, disabled: Sequence[str] = ()) -> tuple[str, list[str]]:
    """The catalogue in a format, and notes about plugins (failed to load, disabled) for the reader. The
    table and Markdown have a `from` column (the distribution of each check) once a plugin is installed."""
    registry = load_registry(disabled)
    if output_format == "json":
        return json.dumps([_json_row(c) for c in registry.checks], indent=2) + "\n", plugin_notes(registry)
    headers = ["id", "category", "title", "applies to"]
    rows = [[c.id, c.category, c.title, c.scope] for c in registry.checks]
    if any(c.origin and not c.origin.built_in for c in registry.checks):
        headers.append("from")
        rows = [[*row, _distribution(c)] for row, c in zip(rows, registry.checks)]
    if output_format == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join([f"`{row[0]}`", *row[1:]]) + " |" for row in rows]
        return "\n".join(lines) + "\n", plugin_notes(registry)
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="simple") + "\n", plugin_notes(registry)


def _distribution(check: Check) -> str:
    origin = check.origin
    if origin is None:
        return "?"
    return f"{origin.distribution} {origin.version}" if origin.version else origin.distribution


def _json_row(check: Check) -> dict[str, Any]:
    origin = check.origin
    return {
        "id": check.id,
        "category": check.category,
        "title": check.title,
        "applies_to": check.scope,
        "distribution": origin.distribution if origin else None,
        "version": origin.version if origin else None,
        "entry_point": origin.entry_point if origin else None,
    }


def plugin_notes(registry: Registry) -> list[str]:
    """One line per plugin that failed to load or is disabled, and per disabled name nothing has."""
    return [f"plugin {e.describe()} failed to load: {e.reason}" for e in registry.errors] + registry.notes()


def split_label(label: str) -> tuple[str, str | None]:
    """`npu.hbm[NPU 3]` -> ("npu.hbm", "NPU 3"); a bare id has no item."""
    label = label.strip()
    if label.endswith("]") and "[" in label:
        check_id, _, item = label[:-1].partition("[")
        return check_id.strip(), item
    return label, None


def explain(label: str, disabled: Sequence[str] = ()) -> str:
    registry = load_registry(disabled)
    check_id, item = split_label(label)
    check = registry.get(check_id)
    if check is None:
        close = [c.id for c in registry.checks if check_id.split(".")[0] in c.id]
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `glm5check checks`)"
        raise ConfigError(f"no check {check_id!r}{hint}")
    body = "\n\n".join(textwrap.fill(p, 100) if "\n" not in p.strip() else p for p in check.explain.split("\n\n"))
    appendix = f"\n{check.appendix().rstrip()}\n" if check.appendix else ""
    source = f" · from: {_distribution(check)}" if check.origin and not check.origin.built_in else ""
    about = f" · item: {item}" if item else ""
    head = f"{check.id} — {check.title}\ncategory: {check.category} · applies to: {check.scope}{source}{about}"
    return f"{head}\n\n{body}\n{appendix}"
