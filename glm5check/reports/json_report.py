"""The JSON report (`glm5check.report/v1`); its JSON Schema ships as glm5check/schema/report-v1.json."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from glm5check import __version__
from glm5check.engine.context import REPORTED_FACTS
from glm5check.engine.runner import Outcome, Summary
from glm5check.facts.context import Context
from glm5check.facts.node import node_info
from glm5check.util.redact import redact_env, redact_hosts, redact_tree

REPORT_SCHEMA = "glm5check.report/v1"
# Environment variables that shape a GLM-5 launch; only these go into the report's facts.env.
_RELEVANT_ENV = re.compile(
    r"^(HCCL_|ASCEND_|VLLM_|GLOO_|TP_SOCKET|OMP_|PYTORCH_NPU|TASK_QUEUE|LD_LIBRARY_PATH$|PYTHONPATH$|CANN|"
    r"ATB_|HF_|MODELSCOPE|TRANSFORMERS_|NPU_|RANK$|WORLD_SIZE$|MASTER_|SLURM_|OMPI_COMM)"
)


def relevant_env(env: dict[str, str], extra: tuple[str, ...] = ()) -> dict[str, str]:
    return redact_env({k: v for k, v in sorted(env.items()) if k in extra or _RELEVANT_ENV.match(k)})


def _facts(ctx: Context) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key, func in sorted(REPORTED_FACTS.items()):
        try:
            facts[key] = func(ctx)
        except Exception as exc:  # a report must still be written
            facts[key] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        env = ctx.env
    except Exception:
        env = dict(ctx.script_env)
    facts["env"] = relevant_env(env, (*ctx.profile.env, *ctx.profile.node_env))
    return facts


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
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
    }


def build_report(
    ctx: Context, outcomes: list[Outcome], summary: Summary, duration_ms: int, hostname: str
) -> dict[str, Any]:
    profile = ctx.profile.to_dict()
    profile["serve"] = {k: v for k, v in asdict(ctx.plan).items() if v is not None}
    profile["source"] = ctx.profile.source
    if ctx.launch.from_script:
        profile["serve_sources"] = dict(ctx.launch.sources)
    node = ctx.fact(node_info)
    report = {
        "schema": REPORT_SCHEMA,
        "tool": {"name": "glm5check", "version": __version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "profile": profile,
        "node": {"hostname": hostname, "rank": node.rank, "role": node.role, "rank_source": node.source},
        "facts": _facts(ctx),
        "results": [outcome_json(o) for o in outcomes],
        "summary": {**summary.counts, "total": summary.total, "ok": summary.ok, "duration_ms": duration_ms},
    }
    return redact_tree(report)


def render_json(report: dict[str, Any], mask_hosts: bool = False) -> str:
    text = json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"
    if mask_hosts:
        text = redact_hosts(text, (report.get("node", {}).get("hostname", ""),))
    return text
