"""The check catalogue: `glm5check checks` (table, JSON or Markdown for the README) and `explain ID`."""

from __future__ import annotations

import json
import textwrap

from glm5check.engine.registry import load_registry
from glm5check.errors import ConfigError


def render_catalogue(output_format: str) -> str:
    registry = load_registry()
    rows = [(c.id, c.category, c.title, c.scope) for c in registry.checks]
    if output_format == "json":
        keys = ("id", "category", "title", "applies_to")
        return json.dumps([dict(zip(keys, row)) for row in rows], indent=2) + "\n"
    if output_format == "markdown":
        lines = ["| id | category | title | applies to |", "|---|---|---|---|"]
        lines += [f"| `{i}` | {cat} | {title} | {scope} |" for i, cat, title, scope in rows]
        return "\n".join(lines) + "\n"
    from tabulate import tabulate

    text = tabulate(rows, headers=("id", "category", "title", "applies to"), tablefmt="simple")
    errors = "".join(f"\n! plugin {e.plugin} ({e.module}) failed to load: {e.reason}" for e in registry.errors)
    return text + errors + "\n"


def explain(check_id: str) -> str:
    registry = load_registry()
    check = registry.get(check_id)
    if check is None:
        close = [c.id for c in registry.checks if check_id.split(".")[0] in c.id]
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `glm5check checks`)"
        raise ConfigError(f"no check {check_id!r}{hint}")
    body = "\n\n".join(textwrap.fill(p, 100) if "\n" not in p.strip() else p for p in check.explain.split("\n\n"))
    appendix = f"\n{check.appendix().rstrip()}\n" if check.appendix else ""
    return f"{check.id} — {check.title}\ncategory: {check.category} · applies to: {check.scope}\n\n{body}\n{appendix}"
