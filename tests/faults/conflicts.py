"""Remediations that would undo another check (issue 11 §4): what a report's fixes ask for, against what
the other checks of the same run expect.

- a `pip install` requirement against GLM-5's transformers (the profile's pin) and every requirement
  vllm-ascend declares at the pin (the demo node's real metadata: `numpy<2.0.0`, `torch==2.9.0`, …);
- an `export NAME=VALUE` against the value env.vars wants (the profile's [env]) and the variables a
  fix must never export (the ones the stack calls inert: VLLM_USE_V1, TP_SOCKET_IFNAME, …);
- a flag a fix (memory.fit's) says to turn on or raise against the plan the run judged.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from typing import Any

from conftest import REPO
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from glm5check.knowledge.stacks import DEFAULT_STACK, env_meanings, load_stack

DEMO_INVENTORY = next((REPO / "glm5check" / "demo" / "a2-node0" / "commands").glob("*python3_-I_*.out"))
EXPORT_RE = re.compile(r"\bexport((?:\s+[A-Za-z_][A-Za-z0-9_]*=\S+)+)")
TURN_ON_RE = re.compile(r"\bturn on (--[a-z][a-z0-9-]*)")
RAISE_RE = re.compile(r"\braise (--[a-z][a-z0-9-]*)")


def vllm_ascend_requirements() -> dict[str, SpecifierSet]:
    """What vllm-ascend at the pin requires (its Requires-Dist in the demo node's real inventory)."""
    inventory = json.loads(DEMO_INVENTORY.read_text(encoding="utf-8"))
    [ascend] = [d for d in inventory["distributions"] if d.get("name") in ("vllm_ascend", "vllm-ascend")]
    wanted: dict[str, SpecifierSet] = {}
    for text in ascend["requires"]:
        req = Requirement(text)
        wanted[_key(req.name)] = wanted.get(_key(req.name), SpecifierSet()) & req.specifier
    return wanted


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_expectations(profile: dict[str, Any]) -> dict[str, SpecifierSet]:
    expected = vllm_ascend_requirements()
    expected["transformers"] = SpecifierSet(f">={profile['pins'].get('transformers_min', '5.2.0')}")
    return expected


def _probe_versions(*specifiers: SpecifierSet) -> set[Version]:
    """Versions around every bound of the specifiers: enough to tell whether two of them overlap."""
    probes: set[Version] = set()
    for specifier in specifiers:
        for clause in specifier:
            try:
                version = Version(clause.version.rstrip(".*"))
            except InvalidVersion:
                continue
            major, *rest = version.release
            minor = rest[0] if rest else 0
            probes |= {version, Version(f"{major}.{minor + 1}"), Version(f"{major + 1}.0")}
            if major:
                probes.add(Version(f"{major - 1}.999"))
            probes.add(Version(f"{major}.{minor}.999"))
    return probes


def overlaps(first: SpecifierSet, second: SpecifierSet) -> bool:
    if not first or not second:
        return True
    return any(
        first.contains(v, prereleases=True) and second.contains(v, prereleases=True)
        for v in _probe_versions(first, second)
    )


def pip_requirements(fix: str) -> Iterator[Requirement]:
    """The requirements of every `pip install` in a remediation (URLs, paths, options and -r files aside)."""
    for part in re.split(r"&&|;|\bor\b|,\s", fix):
        words = shlex.split(part, posix=True) if part.count("'") % 2 == 0 else part.split()
        if words[:2] != ["pip", "install"]:
            continue
        for word in words[2:]:
            if word.startswith(("-", "<(", ".", "/", "git+")) or "://" in word:
                continue
            try:
                yield Requirement(word)
            except InvalidRequirement:
                continue


def exports(fix: str) -> Iterator[tuple[str, str]]:
    for match in EXPORT_RE.finditer(fix):
        for assignment in match.group(1).split():
            name, _, value = assignment.partition("=")
            if not value.startswith("<"):  # a placeholder, not a value
                yield name, value.strip("'\"")


def inert_at_default_stack() -> frozenset[str]:
    """The variables the tool calls inert at the built-in profiles' stack: no fix may export them."""
    stack = load_stack(DEFAULT_STACK)
    return frozenset(name for name in env_meanings() if (found := stack.env_var(name)) is not None and found.inert)


def conflicts(report: dict[str, Any], inert: frozenset[str] | None = None) -> list[str]:
    """Every remediation of a report that undoes what another check of the same run expects."""
    inert = inert_at_default_stack() if inert is None else inert
    profile = report["profile"]
    packages = package_expectations(profile)
    env, plan = profile.get("env", {}), profile.get("serve", {})
    found = []
    for row in report["results"]:
        fix = row.get("remediation") or ""
        where = f"{row['id']}[{row['item']}]: {fix}"
        for req in pip_requirements(fix):
            wanted = packages.get(_key(req.name))
            if wanted is not None and not overlaps(req.specifier, wanted):
                found.append(f"{where} — {req} excludes {_key(req.name)}{wanted}")
        for name, value in exports(fix):
            if name in inert:
                found.append(f"{where} — exports {name}, which glm5check calls inert")
            elif name in env and value != env[name]:
                found.append(f"{where} — {name}={value}, but env.vars wants {env[name]}")
        for flag in TURN_ON_RE.findall(fix):
            if plan.get(flag[2:].replace("-", "_")) is True:
                found.append(f"{where} — the plan already has {flag}")
        for flag in RAISE_RE.findall(fix):
            if flag == "--gpu-memory-utilization" and float(plan.get("gpu_memory_utilization", 0)) >= 1.0:
                found.append(f"{where} — {flag} is already at its maximum")
    return found
