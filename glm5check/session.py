"""One preflight run from parsed options to exit code: pick the host (live, recording or replay),
resolve the profile and plan, run the checks, write the report (and the snapshot when recording)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glm5check import __version__, console
from glm5check.engine.check import Check
from glm5check.engine.registry import Registry
from glm5check.errors import ConfigError
from glm5check.facts.context import Context, Options
from glm5check.facts.node import node_info
from glm5check.host.base import Host
from glm5check.host.snapshot import (
    SnapshotData,
    SnapshotError,
    read_snapshot,
    write_snapshot,
    write_snapshot_archive,
)
from glm5check.knowledge.launch_command import ServeInput
from glm5check.knowledge.limits import NODE_RANK
from glm5check.knowledge.profiles import BUILTIN, Profile, load_builtin, load_text, to_toml
from glm5check.reporting import build_report, utc_now
from glm5check.reports.model import Report
from glm5check.util import heap
from glm5check.util.names import normalise
from glm5check.util.redact import HostRedactor, redact_text
from glm5check.util.resources import shipped_folders


@dataclass
class RunArgs:
    """The options of one run (`glm5check [run]`, `snapshot`), as the command line gives them."""

    profile_name: str | None = None
    profile_file: str | None = None
    node_rank: int | None = None
    pd_role: str | None = None
    script_args: str | None = None
    serve_script: str | None = None
    serve_cmd: str | None = None
    node0_ip: str | None = None
    peer_npu_ips: str | None = None
    model_dir: str | None = None
    python_path: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    output_format: str = "table"
    output: str | None = None
    strict: bool = False
    problems: bool = False
    verbose: bool = False
    fix_plan: bool = False
    replay: str | None = None
    timeout: float = 10.0
    expect: tuple[str, ...] = ()
    redact_hosts: bool = False
    cache_dir: str | None = None  # the live scan cache (--cache-dir / GLM5CHECK_CACHE_DIR); unused by replays
    requirements: bool = False
    redact_salt: str | None = None
    stack: str | None = None
    disable_plugins: tuple[str, ...] = ()  # --disable-plugin and GLM5CHECK_DISABLE_PLUGINS
    extra: dict[str, Any] = field(default_factory=dict)


STDOUT = "-"  # `snapshot -o -`: the .tar.gz goes to standard output
DEMO_PREFIX = "demo"
DEFAULT_DEMO = "a2-node0"


def resolve_snapshot(spec: str) -> Path:
    """`demo` and `demo:NAME` name the snapshots bundled in the package; anything else is a path."""
    if spec == DEMO_PREFIX or spec.startswith(DEMO_PREFIX + ":"):
        name = spec.partition(":")[2] or DEFAULT_DEMO
        demos = shipped_folders("glm5check.demo", "snapshot.json")
        if name not in demos:
            raise SnapshotError(f"no demo snapshot {name!r} (available: {', '.join(demos) or 'none'})")
        return demos[name]
    return Path(spec)


# A profile is a page of TOML; anything bigger is not one (and is not parsed).
MAX_PROFILE_BYTES = 1 << 20


def load_profile_file(path: str | Path) -> Profile:
    """A profile from a TOML file named on the command line (read through the input guard)."""
    from glm5check.host.inputs import read_input_text

    text = read_input_text(path, "profile file", MAX_PROFILE_BYTES)
    return load_text(text, str(path))


def _load_profile(args: RunArgs, recorded: dict[str, Any]) -> Profile:
    if args.profile_name and args.profile_file:
        raise ConfigError("give --profile or --profile-file, not both")
    if args.profile_file:
        return load_profile_file(args.profile_file)
    if args.profile_name:
        return load_builtin(args.profile_name)
    if recorded.get("profile_toml"):
        return load_text(recorded["profile_toml"], f"the snapshot's profile {recorded.get('profile', '')}")
    if recorded.get("profile") in BUILTIN:
        return load_builtin(recorded["profile"])
    raise ConfigError("no profile: use --profile NAME (see `glm5check profiles`) or --profile-file FILE")


def _expected_commit(item: str) -> tuple[str, str]:
    """(package, commit) of one `--expect NAME=SHA`: a package the checks compare, a 7-40 hex commit."""
    from glm5check.facts.packages import COMMIT_RE, EXPECTABLE

    name, sep, commit = (part.strip() for part in item.partition("="))
    if not sep or not name or not commit:
        raise ConfigError(f"--expect takes NAME=COMMIT (e.g. vllm=978a37c8), not {item!r}")
    if normalise(name) not in EXPECTABLE:
        raise ConfigError(f"--expect {item!r}: glm5check checks the commit of {', '.join(EXPECTABLE)} only")
    if not COMMIT_RE.fullmatch(commit.lower()):
        raise ConfigError(f"--expect {item!r}: {commit!r} is not a commit id (7 to 40 hex digits)")
    return normalise(name), commit.lower()


def _options(args: RunArgs, recorded: dict[str, Any]) -> Options:
    saved = recorded.get("options", {})
    expect: dict[str, str] = dict(saved.get("expect", {}))
    expect.update(_expected_commit(item) for item in args.expect)
    serve_source = args.serve_script or ("--serve-cmd" if args.serve_cmd else None)
    # A launch command given now replaces the recorded one, and with it the node rank recorded with it:
    # the rank comes from this command line's --node-rank, else from the new command. A prefill-decode group
    # given now (--pd-role) replaces the recorded placement too.
    saved_rank = None if serve_source or args.pd_role else saved.get("node_rank")
    return Options(
        python=args.python_path or saved.get("python") or "python3",
        model_dir=args.model_dir or saved.get("model_dir"),
        node_rank=args.node_rank if args.node_rank is not None else _recorded_rank(saved_rank),
        node0_ip=args.node0_ip or saved.get("node0_ip"),
        pd_role=args.pd_role or (None if serve_source else saved.get("pd_role")),
        script_args=script_args_option(args.script_args)
        if args.script_args is not None
        else _saved_args(saved, serve_source),
        peer_npu_ips=peer_npu_ips_option(args.peer_npu_ips) if args.peer_npu_ips is not None else _saved_ips(saved),
        expect=expect,
        serve_source=serve_source or saved.get("serve_source"),
        stack=args.stack or saved.get("stack"),
    )


def _recorded_rank(value: Any) -> int | None:
    """The --node-rank a snapshot recorded (None when it had none); exit 2 when it is not a rank."""
    refusal = None if value is None else NODE_RANK.refusal("the snapshot's node_rank", value)
    if refusal:
        raise ConfigError(refusal)
    return value


# A launch script is a page of bash; anything bigger is not one (and is not parsed).
MAX_SCRIPT_BYTES = 1 << 20


def read_serve_script(path: str | Path) -> str:
    """The text of a serve script named on the command line (a regular file of at most MAX_SCRIPT_BYTES:
    a FIFO would block the read); a ServeInputError (exit 2) says why it cannot be read."""
    from glm5check.host.inputs import InputError, read_input_text
    from glm5check.knowledge.launch_command import ServeInputError

    try:
        return read_input_text(path, "serve script", MAX_SCRIPT_BYTES)
    except InputError as exc:
        raise ServeInputError(str(exc)) from None


def load_serve_script(profile: Profile, path: str | Path) -> ServeInput:
    """The launch command of a serve script file, over the profile's plan."""
    from glm5check.knowledge.launch_command import read_serve

    return read_serve(profile, read_serve_script(path), script_name=str(path))


def peer_npu_ips_option(given: str) -> tuple[str, ...]:
    """--peer-npu-ips: every entry an IP address, else ConfigError (exit 2)."""
    from glm5check.facts.npu import split_addresses
    from glm5check.parsers.hccn import valid_ip

    addresses = split_addresses(given)
    if not addresses or any(valid_ip(a) is None for a in addresses):
        raise ConfigError(f"--peer-npu-ips takes IP addresses separated by commas, not {given!r}")
    return addresses


def script_args_option(given: str) -> tuple[str, ...]:
    """--script-args: the words a shell would pass the script (quotes as in bash), else ConfigError (exit 2)."""
    import shlex

    try:
        return tuple(shlex.split(given))
    except ValueError as exc:
        raise ConfigError(f"--script-args {given!r}: {exc}") from None


def _saved_args(saved: dict[str, Any], new_script: str | None) -> tuple[str, ...]:
    """The recorded script's arguments, unless another launch command is given now."""
    args = None if new_script else saved.get("script_args")
    return tuple(str(a) for a in args) if isinstance(args, list) else ()


def _saved_ips(saved: dict[str, Any]) -> tuple[str, ...]:
    ips = saved.get("peer_npu_ips")
    return tuple(str(a) for a in ips) if isinstance(ips, list) else ()


def _serve_texts(args: RunArgs, recorded: dict[str, Any]) -> tuple[str | None, str | None]:
    """The serve script's text and the serve command: from the options, else from the snapshot."""
    script_text = read_serve_script(args.serve_script) if args.serve_script else None
    if script_text is None and args.serve_cmd is None:
        serve = recorded.get("serve", {})
        return serve.get("script_text"), serve.get("command")
    return script_text, args.serve_cmd


def build_context(
    args: RunArgs, host: Host, recorded: dict[str, Any], given: Profile | None = None
) -> tuple[Context, dict[str, Any]]:
    """The run's context: the profile (`given`, as glm5check.testing gives one, else from the options or the
    snapshot), the options, the launch command and the stack over the host."""
    from glm5check.facts.stack import choose_stack
    from glm5check.knowledge.launch_command import read_serve
    from glm5check.knowledge.stacks import Stack, load_stack

    profile = given or _load_profile(args, recorded)
    _check_node_rank(args.node_rank, profile)
    options = _options(args, recorded)
    script_text, command = _serve_texts(args, recorded)
    serve_meta = {"script_text": script_text, "command": command}
    # The text is parsed as read (from the file or the snapshot); no copy of it is written anywhere.
    replayed = not (args.serve_script or args.serve_cmd)
    script_name = (args.serve_script or "the recorded serve script") if script_text is not None else None

    def launch_for(stack: Stack, of: Profile = profile) -> ServeInput:
        return read_serve(of, script_text, command, script_name or "serve script", replayed, stack)

    launch = launch_for(load_stack(profile.stack))
    node = node_profile(profile, options, launch)
    if node is not profile:  # a prefill-decode node reads its launch command over its group's plan
        launch = launch_for(load_stack(node.stack), node)
    ctx = Context(node, host, options, launch)
    return choose_stack(ctx, lambda stack: launch_for(stack, node)), serve_meta


def _check_node_rank(rank: int | None, profile: Profile) -> None:
    """Exit 2 when --node-rank names a node the profile does not have (a prefill-decode profile's groups say
    it themselves): rank 5 of a two-node deployment was judged as a headless node, and any rank of a one-node
    profile was silently node 0."""
    nodes = profile.hardware.nodes
    if rank is not None and not profile.pd and rank >= nodes:
        which = "node 0 only" if nodes == 1 else f"nodes 0-{nodes - 1}"
        raise ConfigError(f"--node-rank {rank}: profile {profile.name} has {which}")


def node_profile(profile: Profile, options: Options, launch: ServeInput) -> Profile:
    """The profile this node runs: for a prefill-decode profile, its group's (exit 2 when nothing says which)."""
    from glm5check.knowledge.pd import choose_group

    group = choose_group(profile, options.pd_role, options.node_rank, launch.given)
    return profile if group is None else profile.for_group(group.name)


def make_host(args: RunArgs, record: bool) -> tuple[Host, SnapshotData | None]:
    if args.replay:  # a replay never imports the live host (subprocess, socket, psutil: start-up time)
        from glm5check.host.replay import ReplayHost

        data = read_snapshot(resolve_snapshot(args.replay))
        return ReplayHost(data, args.timeout), data
    from glm5check.host.live import LiveHost

    if record:
        from glm5check.host.record import RecordingHost

        recording = RecordingHost(LiveHost(args.timeout))
        return recording, recording.data
    return LiveHost(args.timeout, cache_dir=args.cache_dir), None


def host_name(host: Host) -> str:
    """The host name for the report header ("unknown" when a snapshot does not record it)."""
    from glm5check.errors import ProbeFailed

    try:
        return host.hostname()
    except ProbeFailed:
        return "unknown"


def table_mode(args: RunArgs) -> str:
    if args.problems and args.verbose:
        raise ConfigError("give --problems or --verbose, not both")
    return "problems" if args.problems else "verbose" if args.verbose else "default"


def _render(report: Report, args: RunArgs, stream: Any, fix_plan: str | None = None) -> str:
    if fix_plan is not None:
        return fix_plan
    report = hosts_masked(report, host_redactor(report, args))
    if args.output_format == "json":
        from glm5check.reports.json_report import render_json

        return render_json(report)
    if args.output_format == "junit":
        from glm5check.reports.junit import render_junit

        return render_junit(report)
    if args.output_format == "html":
        from glm5check.reports.html import render_html

        return render_html(report, args.strict, hosts_masked=args.redact_hosts or args.redact_salt is not None)
    from glm5check.reports.table import render_table

    return render_table(report, stream, args.strict, table_mode(args))


def host_redactor(report: Report, args: RunArgs) -> HostRedactor | None:
    """The run's one --redact-hosts / --redact-salt masker (None without them): without a salt its key is
    random, so every text of one output must go through the same one."""
    if not (args.redact_hosts or args.redact_salt is not None):
        return None
    return HostRedactor(args.redact_salt, (report.node.hostname,))


def hosts_masked(report: Report, hosts: HostRedactor | None) -> Report:
    """The report with its hostname and addresses replaced in every text (the renderers escape the
    pseudonyms as any text); the report itself without a masker."""
    return report if hosts is None else Report.from_json(hosts.tree(report.to_json()))


def check_output_target(args: RunArgs, record: bool) -> None:
    """Exit 2 before anything runs when --output names one of the run's inputs (it would be destroyed), or
    a snapshot folder would replace a folder that is not a snapshot."""
    from glm5check.host.output import check_folder_target, check_not_an_input
    from glm5check.host.snapshot import ARCHIVE_SUFFIXES

    if not args.output:
        return
    if record and args.output != STDOUT and not args.output.endswith(ARCHIVE_SUFFIXES):
        check_folder_target(args.output)
    replay = str(resolve_snapshot(args.replay)) if args.replay else None
    check_not_an_input(
        args.output,
        {
            "the serve script": args.serve_script,
            "the profile file": args.profile_file,
            "the replayed snapshot": replay,
            "the target interpreter": args.python_path,
        },
        {"the replayed snapshot": replay, "the weights folder": args.model_dir},
    )


def _check_output_choice(args: RunArgs) -> None:
    table_mode(args)
    if args.fix_plan and args.output_format != "table":
        raise ConfigError(
            f"--fix-plan writes a script instead of the report: it cannot be --format {args.output_format}"
        )


def _fix_plan(ctx: Context, report: Report, selected: list[str], args: RunArgs) -> str:
    """The run's fix plan; its environment part is fix-env's when env.vars or net.interfaces ran. With
    --redact-hosts / --redact-salt, every text in it is masked like the report's."""
    from glm5check.remedy import FIXED_CHECKS, build_fix_plan, plan_env_fixes
    from glm5check.reports.fix_plan import render_fix_plan

    env = plan_env_fixes(ctx) if set(FIXED_CHECKS) & set(selected) else None
    hosts = host_redactor(report, args)
    if env is not None and hosts is not None:
        env.exports = {name: hosts.text(value) for name, value in env.exports.items()}
        env.reasons = {name: hosts.text(value) for name, value in env.reasons.items()}
        env.notes = [hosts.text(note) for note in env.notes]
    masked = hosts_masked(report, hosts)
    return render_fix_plan(masked, build_fix_plan(masked, env))


def check_weights_folder_targets(args: RunArgs, ctx: Context, record: bool) -> None:
    """Exit 2 when a live run would write into the weights folder it checks, wherever that folder came from
    (--model-dir, the launch command, the profile): --output there could replace config.json; a --cache-dir
    entry there changes the folder it vouches for (never found again, one more file on every run)."""
    from glm5check.host.output import check_not_an_input, inside

    if args.replay:
        return
    if args.output and args.output != STDOUT:
        check_not_an_input(args.output, {}, {"the weights folder": ctx.model_dir})
    if args.cache_dir and not record and inside(args.cache_dir, ctx.model_dir):
        raise ConfigError(
            f"--cache-dir {args.cache_dir} is inside the weights folder ({ctx.model_dir}); choose another place"
        )


def run_session(args: RunArgs, record: bool = False) -> int:
    from glm5check.engine.registry import load_registry
    from glm5check.engine.runner import (
        Waiver,
        check_patterns,
        run_checks,
        selected_errors,
        summarize,
        unused_waivers,
    )
    from glm5check.reports.progress import ProgressLine
    from glm5check.reports.progress import wanted as progress_wanted
    from glm5check.reports.table import summary_line

    started = time.perf_counter()
    _check_output_choice(args)
    with console.plugin_code():
        registry = load_registry(args.disable_plugins)
    heap.resume()  # the check modules are imported: start-up is over
    check_patterns(registry.checks, args.include, args.exclude, registry.errors)
    check_output_target(args, record)
    host, snapshot = make_host(args, record)
    recorded = snapshot.meta if snapshot is not None and args.replay else {}
    ctx, serve_meta = build_context(args, host, recorded)
    check_weights_folder_targets(args, ctx, record)
    if args.requirements:
        return print_requirements(ctx, args.output)
    load_errors = selected_errors(registry.errors, args.include, args.exclude)
    checks = _selected(registry.checks, ctx, args, bool(load_errors))
    waivers = [Waiver.parse(w) for w in args.ignore]
    progress = ProgressLine(console.status) if progress_wanted(sys.stderr, args.output_format) else None
    with console.plugin_code():
        try:
            outcomes = run_checks(ctx, checks, waivers, load_errors, watch=progress)
        finally:
            if progress is not None:
                progress.close()
        warnings = (*registry.notes(), *unread_plugin_tables(ctx.profile, registry), *unused_waivers(outcomes, waivers))
        for line in warnings:
            console.err(f"glm5check: warning: {line}")
        summary = summarize(outcomes, args.strict)
        hostname = host_name(host)
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        report = build_report(ctx, outcomes, summary, elapsed_ms, hostname, warnings)  # plugins' report facts
    fix_plan = _fix_plan(ctx, report, [c.id for c in checks], args) if args.fix_plan else None
    if record and snapshot is not None and args.output == STDOUT:
        snapshot.report = report.to_json()
        snapshot.meta = _snapshot_meta(ctx, hostname, serve_meta)
        console.out_stream(lambda stream: write_snapshot_archive(snapshot, stream))
        console.err(summary_line(report, args.strict))
    elif record and snapshot is not None and args.output:
        snapshot.report = report.to_json()
        snapshot.meta = _snapshot_meta(ctx, hostname, serve_meta)
        write_snapshot(snapshot, args.output)
        console.out(_render(report, args, sys.stdout, fix_plan), console.STYLES[args.output_format], _colours(args))
        console.err(f"snapshot written to {args.output}")
    elif args.output:
        from glm5check.host.output import save_text

        save_text(args.output, _render(report, args, None, fix_plan))
        console.err(summary_line(report, args.strict))
    else:
        console.out(_render(report, args, sys.stdout, fix_plan), console.STYLES[args.output_format], _colours(args))
    return 0 if summary.ok else 1


def _colours(args: RunArgs) -> bool:
    """The table paints its status words on a terminal (never under NO_COLOR): let them through."""
    from glm5check.reports.table import use_colour

    return args.output_format == "table" and not args.fix_plan and use_colour(sys.stdout)


def print_requirements(ctx: Context, output: str | None) -> int:
    """--requirements: the merged pip requirements that make packages.requirements pass, for pip -r."""
    from glm5check.errors import ProbeFailed
    from glm5check.facts.requirements import render_requirements, requirement_plan

    try:
        plan = ctx.fact(requirement_plan)
    except ProbeFailed as exc:
        raise ConfigError(f"--requirements: {exc}") from None
    text = render_requirements(ctx, plan)
    if output:
        from glm5check.host.output import save_text

        save_text(output, text)
    else:
        console.out(text)
    return 0


def unread_plugin_tables(profile: Profile, registry: Registry) -> list[str]:
    """A warning per [plugins.NAME] table of the profile that no installed plugin is named after (a typo,
    or a plugin this node lacks): nothing reads it."""
    installed = registry.plugin_names()
    return [
        f"the profile's [plugins.{name}] table names no installed plugin (installed: "
        f"{', '.join(sorted(installed)) or 'none'}); nothing reads it"
        for name in profile.plugins
        if normalise(name) not in installed
    ]


def _selected(registered: tuple[Check, ...], ctx: Context, args: RunArgs, load_errors: bool) -> list[Check]:
    """The checks for this node; --check/--skip that leave none of them (nor a plugin's load error) is a
    usage error, never an empty "ready for vllm serve"."""
    from glm5check.engine.runner import SelectionError, wanted

    checks = node_checks(registered, ctx, args.include, args.exclude)
    if not checks and not load_errors:
        named = [c for c in registered if wanted(c, args.include, args.exclude)]
        scopes = "; ".join(f"{c.id} runs on {c.scope}" for c in named) or "--skip leaves no check"
        raise SelectionError(
            f"the selected checks do not apply to this node (profile {ctx.profile.name}, "
            f"{ctx.fact(node_info).role}): {scopes}"
        )
    return checks


def node_checks(
    registered: Iterable[Check], ctx: Context, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Check]:
    """The checks --check/--skip keep that apply to this node: the profile's topology, the node's role and,
    in a prefill-decode deployment, its group (glm5check.testing selects with this too)."""
    from glm5check.engine.runner import select_checks

    node = ctx.fact(node_info)
    return select_checks(registered, ctx.profile.multi_node, node.role, include, exclude, node.group)


def _snapshot_meta(ctx: Context, hostname: str, serve_meta: dict[str, Any]) -> dict[str, Any]:
    opts = ctx.options
    return {
        "tool": {"name": "glm5check", "version": __version__},
        "created": utc_now(),
        "hostname": hostname,
        "profile": ctx.profile.name,
        "profile_toml": redact_text(to_toml(ctx.profile)),
        "options": {
            "python": opts.python,
            "model_dir": opts.model_dir,
            "node_rank": opts.node_rank,
            "node0_ip": opts.node0_ip,
            "pd_role": ctx.profile.pd_group,
            "script_args": list(opts.script_args),
            "peer_npu_ips": list(opts.peer_npu_ips),
            "expect": opts.expect,
            "serve_source": opts.serve_source,
            "stack": opts.stack,
        },
        "serve": {k: None if v is None else redact_text(v) for k, v in serve_meta.items()},
    }
