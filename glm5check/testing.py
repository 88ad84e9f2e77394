"""A test harness for plugin authors (as pytest ships `pytester`): build the context a check receives from
a recorded snapshot or from one written by hand, run checks through glm5check's own runner, and look at
their results.

    from glm5check.api import Status
    from glm5check.testing import SnapshotBuilder, replay_context, run_check

    from my_site_checks import site_owner


    def test_the_demo_node_names_no_owner() -> None:
        [result] = run_check(site_owner, replay_context("demo"))
        assert result.status is Status.FAIL


    def test_an_owner_passes() -> None:
        snapshot = SnapshotBuilder("a2-single", env={"SITE_OWNER": "inference-oncall"})
        [result] = run_check(site_owner, snapshot.context())
        assert result.status is Status.PASS

A context is built exactly as `glm5check --replay` builds it (glm5check.session), so a check sees what it
would see in a real run. Replay answers only what the snapshot recorded: any other question raises
NotRecorded and the check is a SKIP. A snapshot written by hand therefore records absence explicitly
(`SnapshotBuilder.absent(path)`, `.no_tool(name)`), and starts with an empty recorded environment.
Checks run through the engine's runner, so an exception becomes an ERROR row, a failed probe an ERROR with
its reason and a replay gap a SKIP, exactly as in a real run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glm5check.engine.check import Check, Result
from glm5check.engine.registry import load_registry
from glm5check.engine.runner import check_patterns, run_checks
from glm5check.facts.context import Context
from glm5check.host.base import DirListing, DiskUsage, FileRead, StatInfo
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotWriter
from glm5check.knowledge.profiles import Profile, load_text
from glm5check.session import RunArgs, build_context, make_host, node_checks

__all__ = ["SnapshotBuilder", "profile_from_toml", "replay_context", "run_check", "run_selected"]

MISSING = "missing"  # what the live host answers for a path that does not exist


def profile_from_toml(text: str, origin: str = "test profile") -> Profile:
    """A profile from TOML text, as --profile-file reads a file (it may `extends = "a2-multi"` and carry
    `[plugins.NAME]` tables)."""
    return load_text(text, origin)


def replay_context(
    snapshot: str | Path | SnapshotBuilder = "demo",
    *,
    profile: str | Profile | None = None,
    serve_script: str | Path | None = None,
    serve_cmd: str | None = None,
    node_rank: int | None = None,
    model_dir: str | None = None,
    node0_ip: str | None = None,
    stack: str | None = None,
    pd_role: str | None = None,
) -> Context:
    """The context `glm5check --replay SNAPSHOT` builds. SNAPSHOT is a snapshot directory or .tar.gz,
    `demo` / `demo:a2-node1` (the bundled demo nodes), or a SnapshotBuilder. `profile` is a built-in
    profile's name or a Profile (see profile_from_toml); without one, the snapshot's own. `serve_script`
    (a file) or `serve_cmd` replace the recorded launch command; `stack` is --stack (a stack's name or
    `auto`; without it, the recorded run's); `pd_role` is --pd-role (prefill or decode: the group of a
    prefill-decode node); the other options are the command line's."""
    args = RunArgs(
        profile_name=profile if isinstance(profile, str) else None,
        serve_script=str(serve_script) if serve_script is not None else None,
        serve_cmd=serve_cmd,
        node_rank=node_rank,
        model_dir=model_dir,
        node0_ip=node0_ip,
        stack=stack,
        pd_role=pd_role,
    )
    given = profile if isinstance(profile, Profile) else None
    if isinstance(snapshot, SnapshotBuilder):
        return build_context(args, ReplayHost(snapshot.data), snapshot.data.meta, given)[0]
    args.replay = str(snapshot)
    host, data = make_host(args, record=False)
    return build_context(args, host, data.meta if data is not None else {}, given)[0]


class SnapshotBuilder(SnapshotWriter):
    """A snapshot written by hand for a test: record the answers a check needs, then build its context.

    Every method of the snapshot writer records one answer: `command(argv, stdout, exit_code=…)`,
    `which(name, path)`, `file(path, text)`, `stat(path, kind, size)`, `listing(path, entries)`,
    `env({...})` (adds variables), `disk_usage(path, total, used, free)`, `mounts([...])`,
    `interfaces([...])`, `sockets([...])`, `processes([...])`, `resources(...)`, `resolve(name, addresses)`,
    `connect(...)`, `probe(kind, key, value)`; `write(path)` saves it as a snapshot directory (or .tar.gz)
    for `glm5check --replay`. Whatever is not recorded is not known: asking it is a SKIP.
    """

    def __init__(
        self,
        profile: str = "a2-single",
        hostname: str = "node",
        env: Mapping[str, str] | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(profile, hostname, options)
        self.env(dict(env or {}))  # an environment is always there: record it (empty unless given)

    def absent(self, *paths: str) -> None:
        """Record that these paths do not exist, for every question about them (read, stat, listing, disk
        usage), as the live host answers for a missing path."""
        for path in paths:
            self.data.files[path] = FileRead(path, error=MISSING)
            self.data.stats[path] = StatInfo(path, error=MISSING)
            self.data.listings[path] = DirListing(path, error=MISSING)
            self.data.disk_usage[path] = DiskUsage(path, error=MISSING)

    def no_tool(self, *names: str) -> None:
        """Record that these commands are not installed (`ctx.host.which(name)` answers None)."""
        for name in names:
            self.which(name, None)

    def serve_script(self, text: str) -> None:
        """Record the launch script of the run (as a snapshot keeps it; replay parses it)."""
        self.data.meta["serve"] = {"script_text": text, "command": None}

    def serve_command(self, command: str) -> None:
        """Record the launch command of the run (`vllm serve …`, as --serve-cmd gives it)."""
        self.data.meta["serve"] = {"script_text": None, "command": command}

    def context(self) -> Context:
        """The context a replay of this snapshot builds (replay_context(builder, …) takes options too)."""
        return replay_context(self)


def run_check(check: Check, ctx: Context) -> list[Result]:
    """Run one check on the context through glm5check's runner and return its results (an exception is an
    ERROR result, ProbeFailed an ERROR with its reason, a replay gap a SKIP). The check runs whatever
    its `nodes` and `roles` say; run_selected applies them as a real run does."""
    return [outcome.result for outcome in run_checks(ctx, [check])]


def run_selected(ctx: Context, *patterns: str, skip: Sequence[str] = ()) -> dict[str, list[Result]]:
    """Run the installed checks (glm5check's and every plugin's) whose ids match the patterns (globs, as
    --check takes them; none: all) and not `skip`, where they apply to the context's profile and node as
    in a real run; their results by check id, in catalogue order. A pattern that matches no installed
    check is a SelectionError, naming any plugin that failed to load."""
    registry = load_registry()
    check_patterns(registry.checks, patterns, skip, registry.errors)
    selected = node_checks(registry.checks, ctx, patterns, skip)
    results: dict[str, list[Result]] = {check.id: [] for check in selected}
    for outcome in run_checks(ctx, selected):
        results[outcome.id].append(outcome.result)
    return results
