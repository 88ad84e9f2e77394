"""The command line. Heavy modules are imported inside commands so that `--version` stays fast."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from glm5check import __version__, console
from glm5check.commands.options import (
    DISABLE_PLUGIN_OPTION,
    NODE0_IP_OPTION,
    NODE_RANK_OPTION,
    PD_ROLE_OPTION,
    PROFILE_FILE_OPTION,
    PROFILE_OPTION,
    SCRIPT_ARGS_OPTION,
    SERVE_CMD_OPTION,
    SERVE_SCRIPT_OPTION,
    STACK_OPTION,
    Salt,
    timeout_option,
)
from glm5check.errors import ConfigError
from glm5check.util import heap

# Subcommands living in their own modules, imported only when invoked: name -> "module:attribute".
LAZY_COMMANDS: dict[str, str] = {
    "fit": "glm5check.commands.fit:fit",
    "weights": "glm5check.commands.weights:weights",
    "compare": "glm5check.commands.compare:compare_command",
    "fix-env": "glm5check.commands.fix_env:fix_env",
    "cluster": "glm5check.commands.cluster:cluster_command",
    "stacks": "glm5check.commands.stacks:stacks",
    "plan": "glm5check.commands.plan:plan_command",
}

FORMATS = ("table", "json", "junit", "html")


class UsageProblem(ConfigError):
    """Invalid usage or configuration: exit 2 with one line."""


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, attribute = LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            heap.resume()
            return command
        return super().get_command(ctx, cmd_name)


_RUN_OPTIONS = [
    PROFILE_OPTION,
    PROFILE_FILE_OPTION,
    NODE_RANK_OPTION,
    PD_ROLE_OPTION,
    SCRIPT_ARGS_OPTION,
    SERVE_SCRIPT_OPTION,
    SERVE_CMD_OPTION,
    NODE0_IP_OPTION,
    click.option(
        "--peer-npu-ips",
        metavar="IP,…",
        help="Node 0's NPU device IPs for the cross-node hccn_tool ping (or GLM5CHECK_PEER_NPU_IPS).",
    ),
    click.option("--model-dir", metavar="PATH", help="The weights folder (default: the profile's)."),
    click.option("--python", "python_path", metavar="PATH", help="Interpreter whose packages are checked."),
    click.option("--check", "include", multiple=True, metavar="ID", help="Only these checks (glob, repeatable)."),
    click.option("--skip", "exclude", multiple=True, metavar="ID", help="Skip these checks (glob, repeatable)."),
    click.option("--ignore", multiple=True, metavar="ID[:REASON]", help="Waive failures of these (glob)."),
    click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True),
    click.option("--output", "-o", metavar="FILE", help="Write the report here instead of standard output."),
    click.option("--strict", is_flag=True, help="Warnings fail too."),
    click.option("--problems", is_flag=True, help="Table: only the rows that are not PASS, and the summary."),
    click.option("--verbose", "-v", is_flag=True, help="Table: every row in full, with expected and observed."),
    click.option(
        "--fix-plan", is_flag=True, help="Print every remediation as one script to read and paste (never run)."
    ),
    click.option("--replay", metavar="SNAPSHOT", help="Evaluate a snapshot (directory, .tar.gz, demo[:NAME])."),
    timeout_option(),
    click.option("--expect", multiple=True, metavar="NAME=SHA", help="Pin another commit, e.g. vllm=<sha>."),
    click.option("--redact-hosts", is_flag=True, help="Also replace hostnames and IP addresses by pseudonyms."),
    click.option(
        "--redact-salt",
        type=Salt(),
        metavar="TEXT",
        help="Key of the host pseudonyms: the same TEXT on every node of one ticket gives each address the "
        "same pseudonym (implies --redact-hosts).",
    ),
    click.option(
        "--cache-dir",
        metavar="DIR",
        envvar="GLM5CHECK_CACHE_DIR",
        show_envvar=True,
        help="Keep the weights scan in DIR and reuse it while no file of the weights folder changed "
        "(live runs only; the one place glm5check writes besides --output).",
    ),
    DISABLE_PLUGIN_OPTION,
    click.option(
        "--requirements",
        is_flag=True,
        help="Print, instead of the report, the pip requirements vllm and vllm-ascend still need "
        "(pip install -r <(glm5check … --requirements)).",
    ),
    STACK_OPTION,
]


def run_options(func: Any) -> Any:
    for option in reversed(_RUN_OPTIONS):
        func = option(func)
    return func


# Run options `glm5check cluster` does not take: its own --format and --output shape the cluster report, it
# gives each node its --node-rank (which also gives a prefill-decode node its group), and nodes run live; a
# script's arguments are one node's. Every other run option is passed on to every node.
NOT_FOR_CLUSTER = frozenset({"output_format", "output", "replay", "node_rank", "pd_role", "script_args"})


def node_options(func: Any) -> Any:
    """The run options, less NOT_FOR_CLUSTER, for `glm5check cluster`."""
    func = run_options(func)
    func.__click_params__ = [p for p in func.__click_params__ if p.name not in NOT_FOR_CLUSTER]
    return func


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="glm5check", message="%(prog)s %(version)s")
@run_options
@click.pass_context
def cli(ctx: click.Context, **kwargs: Any) -> None:
    """Preflight checks for serving GLM-5 with vLLM / vllm-ascend on Ascend NPU nodes.

    Run `glm5check --profile a2-multi` on each node before `vllm serve`.
    """
    if ctx.invoked_subcommand is not None:
        return
    if _no_arguments(ctx):
        console.out(ctx.get_help() + "\n")
        ctx.exit(0)
    ctx.exit(_execute(kwargs))


def _no_arguments(ctx: click.Context) -> bool:
    """`glm5check` alone: every option at its default (a real usage error still exits 2)."""
    return all(ctx.get_parameter_source(name) is click.core.ParameterSource.DEFAULT for name in ctx.params)


@cli.command("run")
@run_options
@click.pass_context
def run_command(ctx: click.Context, **kwargs: Any) -> None:
    """Run the preflight checks (the default command)."""
    ctx.exit(_execute(kwargs))


@cli.command("snapshot")
@run_options
@click.pass_context
def snapshot_command(ctx: click.Context, **kwargs: Any) -> None:
    """Record every probe of a run (and its report) as a snapshot directory or .tar.gz (-o PATH)."""
    if not kwargs["output"]:
        raise UsageProblem("snapshot needs -o PATH (a directory, a file ending in .tar.gz, or - for standard output)")
    if kwargs["output"] == "-" and sys.stdout.isatty():
        raise UsageProblem("snapshot -o - writes a .tar.gz to standard output: redirect it to a file or a pipe")
    if kwargs["replay"]:
        raise UsageProblem("snapshot records a live run; it cannot be combined with --replay")
    if kwargs["requirements"]:
        raise UsageProblem("snapshot records a run; it cannot be combined with --requirements")
    ctx.exit(_execute(kwargs, record=True))


def _execute(options: dict[str, Any], record: bool = False) -> int:
    from glm5check.session import RunArgs, run_session

    options = {**options, "disable_plugins": plugins_to_disable(options["disable_plugins"])}
    return run_session(RunArgs(**options), record=record)


def plugins_to_disable(given: tuple[str, ...]) -> tuple[str, ...]:
    """--disable-plugin's names and GLM5CHECK_DISABLE_PLUGINS's (`glm5check cluster` passes both on)."""
    from glm5check.engine.registry import disabled_plugins

    return disabled_plugins(given, os.environ)


@cli.command("checks")
@click.option("--format", "output_format", type=click.Choice(("table", "json", "markdown")), default="table")
@DISABLE_PLUGIN_OPTION
def checks_command(output_format: str, disable_plugins: tuple[str, ...]) -> None:
    """List every check: id, category, title, where it applies and, with plugins installed, which
    distribution supplied it."""
    from glm5check.engine.catalogue import render_catalogue

    with console.plugin_code():
        text, notes = render_catalogue(output_format, plugins_to_disable(disable_plugins))
    if output_format == "table":
        text += "".join(f"! {note}\n" for note in notes)
    else:
        for note in notes:
            console.err(f"glm5check: warning: {note}")
    console.out(text, "json" if output_format == "json" else "text")


@cli.command("explain")
@click.argument("check_id")
@DISABLE_PLUGIN_OPTION
def explain_command(check_id: str, disable_plugins: tuple[str, ...]) -> None:
    """Why a check matters, what it compares and how to fix it (CHECK_ID as the table prints it, with or
    without its item: `explain 'npu.hbm[NPU 3]'`)."""
    from glm5check.engine.catalogue import explain

    with console.plugin_code():
        text = explain(check_id, plugins_to_disable(disable_plugins))
    console.out(text)


@cli.group("profiles", invoke_without_command=True)
@click.pass_context
def profiles_command(ctx: click.Context) -> None:
    """List the built-in profiles: name, stack, guide revision, deployment."""
    if ctx.invoked_subcommand is None:
        from tabulate import tabulate

        from glm5check.knowledge.profiles import BUILTIN, load_builtin

        rows = [(name, p.stack, p.guide, p.description) for name, p in ((n, load_builtin(n)) for n in BUILTIN)]
        console.out(
            tabulate(rows, headers=("profile", "stack", "guide revision", "deployment"), tablefmt="plain") + "\n"
        )


@profiles_command.command("show")
@click.argument("name")
def profiles_show(name: str) -> None:
    """Print a profile, resolved, in the TOML format --profile-file reads."""
    from glm5check.knowledge.profiles import load_builtin, to_toml
    from glm5check.session import load_profile_file

    profile = load_profile_file(name) if Path(name).suffix == ".toml" else load_builtin(name)
    console.out(to_toml(profile))


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error ends in one line on stderr and exit code 2, never a traceback; a reader
    that goes away ends the output quietly (glm5check.console). Ctrl-C ends the run with 130 and SIGTERM
    with 143, after every output in progress was removed."""
    from glm5check.util import interrupts

    console.use_fallback_for_others()
    interrupts.install()
    try:
        code = cli.main(args=argv, prog_name="glm5check", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        console.err(f"glm5check: error: {exc.format_message()}")
        code = 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        console.err("glm5check: interrupted")
        code = interrupts.SIGINT_EXIT
    except interrupts.Terminated:
        console.err("glm5check: terminated")
        code = interrupts.SIGTERM_EXIT
    except ConfigError as exc:
        console.err(f"glm5check: error: {exc}")
        code = 2
    except Exception as exc:
        if console.gone(exc):  # click's own --help or --version output to a closed reader
            code = 0
        elif os.environ.get("GLM5CHECK_DEBUG"):
            raise
        else:
            console.err(f"glm5check: internal error: {type(exc).__name__}: {exc} (set GLM5CHECK_DEBUG=1 for details)")
            code = 2
    sys.exit(console.exit_code(code if isinstance(code, int) else 0))
