"""What a fault scenario is: how to build its broken input, how to run the CLI on it and what to expect."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROBE_TIMEOUT = "2"
USAGE = "usage"  # marks a scenario that must end in exit 2 and one line on stderr
OUTPUT = "output"  # marks a scenario asserted on its exit code (Scenario.codes) and its printed text


@dataclass
class Invocation:
    args: list[str]
    path_prepend: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    path_only: bool = False  # PATH holds only path_prepend (to make a system tool disappear)
    stdout: str = "capture"  # or: "closed" (>&-), "dev-full" (> /dev/full), "broken-pipe" (reader gone)
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)  # killed after the run
    fsize_bytes: int | None = None  # RLIMIT_FSIZE of the run (a full disk, per file)
    signal_when: tuple[int, str] | None = None  # (signal, file): sent to the run once the file appears


@dataclass(frozen=True)
class Scenario:
    name: str
    build: Callable[[Path], Invocation]
    check: str  # the result id whose outcome is asserted, USAGE or OUTPUT
    pattern: str  # regex the check's text (or the usage line, or the output) must match
    statuses: tuple[str, ...] = ("fail", "error")
    bound_s: float = 25.0
    # Its own assertions on the finished process and its folder (the check and pattern are then unused).
    verify: Callable[[subprocess.CompletedProcess[str], Path], None] | None = None
    codes: tuple[int, ...] = (0, 1)  # the exit codes an OUTPUT scenario may end with
    after: Callable[[Path], None] | None = None  # more assertions on the scenario's folder afterwards


@dataclass
class Ran:
    result: subprocess.CompletedProcess[str] | None
    elapsed_s: float
    hung: bool = False
    folder: Path = Path()


def run_args(profile: str, checks: tuple[str, ...], *extra: str) -> list[str]:
    args = ["--profile", profile, "--format", "json", "--timeout", PROBE_TIMEOUT]
    for pattern in checks:
        args += ["--check", pattern]
    return [*args, *extra]
