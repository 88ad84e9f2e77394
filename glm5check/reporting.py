"""The report of one run, built from the context, the outcomes and the facts the checks computed.

Collecting facts only peeks at what checks already computed (REPORTED_FACTS), so building a report never
probes the machine. Every string is redacted here, once, then made printable (control characters, escape
sequences and undecodable bytes shown as escapes: glm5check.util.text), before any renderer sees it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from glm5check import __version__
from glm5check.engine.check import Origin
from glm5check.engine.context import REPORTED_FACTS
from glm5check.engine.registry import PLUGIN_FAULTS
from glm5check.engine.runner import Outcome, Summary
from glm5check.facts.context import Context
from glm5check.facts.deployment import report_plan
from glm5check.facts.node import node_info
from glm5check.knowledge.environment import relevant_env
from glm5check.reports.model import REPORT_SCHEMA, Report
from glm5check.util.redact import redact_env, redact_tree
from glm5check.util.text import scrub_tree


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _facts(ctx: Context) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key, func in [*sorted(REPORTED_FACTS.items()), ("plan", report_plan)]:
        try:
            facts[key] = func(ctx)
        except PLUGIN_FAULTS as exc:  # a report must still be written (a plugin's sys.exit() included)
            facts[key] = {"error": f"{type(exc).__name__}: {exc}"}
    facts["env"] = redact_env(relevant_env(_env_of(ctx), (*ctx.profile.env, *ctx.profile.node_env)))
    return facts


def _env_of(ctx: Context) -> dict[str, str]:
    """The environment vllm serve would see; the launch script's exports alone when the host's cannot be read."""
    try:
        return ctx.env
    except Exception:
        return dict(ctx.script_env)


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    origin = outcome.origin
    plugin = {} if origin is None or origin.built_in else {"plugin": plugin_json(origin)}
    row: dict[str, Any] = {
        "id": outcome.id,
        "item": outcome.item,
        "category": outcome.category,
        "title": outcome.title,
        "status": outcome.status.value,
        "message": outcome.message,
        "expected": outcome.expected,
        "observed": outcome.observed,
        "remediation": outcome.remediation,
        "duration_ms": outcome.duration_ms,
        "waived": outcome.waived,
        **plugin,
    }
    if outcome.fix:
        row["fix"] = [
            {"where": f.where, "commands": [list(argv) for argv in f.commands], "text": f.text} for f in outcome.fix
        ]
    return row


def plugin_json(origin: Origin) -> dict[str, Any]:
    """Which plugin supplied a row: its entry point and distribution (rows of built-in checks have none)."""
    return {"entry_point": origin.entry_point, "distribution": origin.distribution, "version": origin.version}


def _profile(ctx: Context) -> dict[str, Any]:
    """The profile, with `serve` the effective plan (what vLLM runs) and where each value comes from."""
    profile = ctx.profile.to_dict()
    effective = ctx.effective
    profile["serve"] = {k: v for k, v in asdict(effective.plan).items() if v is not None}
    profile["serve_sources"] = dict(effective.sources)
    profile["serve_model"] = {"path": effective.model, "source": effective.model_source}
    profile["source"] = ctx.profile.source
    return profile


def build_report(
    ctx: Context,
    outcomes: list[Outcome],
    summary: Summary,
    duration_ms: int,
    hostname: str,
    warnings: tuple[str, ...] = (),
) -> Report:
    node = ctx.fact(node_info)
    document = {
        "schema": REPORT_SCHEMA,
        "tool": {"name": "glm5check", "version": __version__},
        "created": utc_now(),
        "profile": _profile(ctx),
        "stack": ctx.stack_choice.to_json(),
        "node": {"hostname": hostname, "rank": node.rank, "role": node.role, "rank_source": node.source}
        | ({"group": node.group} if node.group else {}),
        "facts": _facts(ctx),
        "results": [outcome_json(o) for o in outcomes],
        "warnings": list(warnings),
        "summary": {**summary.counts, "total": summary.total, "ok": summary.ok, "duration_ms": duration_ms},
    }
    return Report.from_json(scrub_tree(redact_tree(document)))
