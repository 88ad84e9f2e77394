"""The JSON report (`glm5check.report/v1`); its JSON Schema ships as glm5check/schema/report-v1.json."""

from __future__ import annotations

import json

from glm5check.reports.model import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"
