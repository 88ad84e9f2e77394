"""The report every renderer draws: typed rows and summary, plus the profile and facts as JSON-ready data.

The session builds it (glm5check.reporting); renderers only read it. `to_json()` is exactly the
`glm5check.report/v1` document; `Report.from_json()` reads such a document back (tests, compare).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NamedTuple

REPORT_SCHEMA = "glm5check.report/v1"
STATUSES = ("pass", "warn", "fail", "error", "skip")


class FixStep(NamedTuple):
    """One step of a row's remediation: commands (argv lists, run in order) or, without them, words."""

    where: str  # host, container or launch
    commands: tuple[tuple[str, ...], ...] = ()
    text: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FixStep:
        commands = tuple(tuple(str(word) for word in argv) for argv in data.get("commands", ()))
        return cls(str(data["where"]), commands, str(data.get("text", "")))

    def to_json(self) -> dict[str, Any]:
        return {"where": self.where, "commands": [list(argv) for argv in self.commands], "text": self.text}


@dataclass(frozen=True)
class Row:
    """One result row: a check's judgement of one item, with its metadata."""

    id: str
    item: str | None
    category: str
    title: str
    status: str  # pass, warn, fail, skip, error
    message: str
    expected: str | None = None
    observed: str | None = None
    remediation: str | None = None
    duration_ms: int = 0
    waived: str | None = None
    plugin: dict[str, Any] | None = None  # entry_point, distribution, version: set for a plugin's rows only
    fix: tuple[FixStep, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.id}[{self.item}]" if self.item else self.id

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "fix"}
        if data["plugin"] is None:  # the rows of built-in checks: the report of 0.1.0, unchanged
            del data["plugin"]
        if self.fix:
            data["fix"] = [step.to_json() for step in self.fix]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        fields_ = {k: v for k, v in data.items() if k != "fix"}
        return cls(**fields_, fix=tuple(FixStep.from_json(step) for step in data.get("fix", ())))


def rank_text(rank: int, role: str, group: str | None) -> str:
    """`node rank 1 (headless)`, or `node rank 0 (primary of the decode group)` on a prefill-decode node."""
    return f"node rank {rank} ({role}" + (f" of the {group} group)" if group else ")")


class NodeSection(NamedTuple):
    hostname: str
    rank: int
    role: str
    rank_source: str
    group: str | None = None  # prefill or decode: a node of a prefill-decode deployment (rank and role within it)

    @property
    def rank_text(self) -> str:
        return rank_text(self.rank, self.role, self.group)

    def to_json(self) -> dict[str, Any]:
        data = self._asdict()
        if self.group is None:
            del data["group"]  # reports of other deployments keep their shape
        return data


@dataclass(frozen=True)
class SummarySection:
    """The counts per status, the total, the verdict and the run's duration."""

    counts: dict[str, int]
    total: int
    ok: bool
    duration_ms: int

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)


class Report(NamedTuple):
    tool: dict[str, str]
    created: str
    profile: dict[str, Any]
    node: NodeSection
    facts: dict[str, Any]
    results: tuple[Row, ...]
    summary: SummarySection
    warnings: tuple[str, ...] = ()  # about the run itself, e.g. an --ignore that matched nothing
    stack: dict[str, str] | None = None  # name, kind, guide_revision, source, picked_by (absent before 0.2)

    def to_json(self) -> dict[str, Any]:
        summary = self.summary
        stack = {"stack": dict(self.stack)} if self.stack is not None else {}
        return {
            "schema": REPORT_SCHEMA,
            "tool": dict(self.tool),
            "created": self.created,
            "profile": self.profile,
            **stack,
            "node": self.node.to_json(),
            "facts": self.facts,
            "results": [row.to_json() for row in self.results],
            "warnings": list(self.warnings),
            "summary": {**summary.counts, "total": summary.total, "ok": summary.ok, "duration_ms": summary.duration_ms},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """A report from its JSON document (one this version wrote: the schema is not re-validated)."""
        summary = data["summary"]
        return cls(
            tool=dict(data["tool"]),
            created=data["created"],
            profile=data["profile"],
            node=NodeSection(**data["node"]),
            facts=data["facts"],
            results=tuple(Row.from_json(row) for row in data["results"]),
            summary=SummarySection(
                {status: summary[status] for status in STATUSES},
                summary["total"],
                summary["ok"],
                summary["duration_ms"],
            ),
            warnings=tuple(data.get("warnings", ())),
            stack=dict(data["stack"]) if isinstance(data.get("stack"), dict) else None,
        )
