"""Command-line options several commands share. Numeric ones are read with the one number reader and
checked against their range (glm5check.knowledge.limits): `--timeout inf`, `--tp 0` or `--node-rank
99999999999` is exit 2 naming the option and what it accepts. The deployment options (profile, launch
command, node, replay) and the context built from them serve fix-env and plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from glm5check.knowledge.limits import NODE_RANK, TIMEOUT
from glm5check.util.numbers import Range
from glm5check.util.text import HOST

if TYPE_CHECKING:  # the command line imports this module: it stays light for --version
    from glm5check.facts.context import Context
    from glm5check.host.base import Host


class Bounded(click.ParamType):
    """A whole or decimal number inside a Range (never nan, inf, "1e7" for a whole number, or "²")."""

    def __init__(self, limit: Range) -> None:
        self.limit = limit
        self.name = "integer" if limit.whole else "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        parsed = value if self.limit.admits(value) else self.limit.parse(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail(f"{value!r} {self.limit.requirement()}", param, ctx)
        return parsed

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.limit.span()


# A prefill-decode node: its group, and the arguments its launch script is given (the guide's launch_online_dp.py
# runs run_dp_template.sh once per DP rank with them). Taken by the preflight, fix-env and fit (--pd-role).
PD_ROLE_OPTION = click.option(
    "--pd-role",
    type=click.Choice(("prefill", "decode")),
    help="This node's group in a prefill-decode profile (a run also tells it from --node-rank or the script).",
)
SCRIPT_ARGS_OPTION = click.option(
    "--script-args",
    metavar="ARGS",
    help="The serve script's arguments ($1 $2 …), e.g. what launch_online_dp.py passes run_dp_template.sh.",
)


# The deployment a command judges: `glm5check run` (cli.py), fix-env and plan take these alike.
PROFILE_OPTION = click.option(
    "--profile", "profile_name", metavar="NAME", help="Built-in profile (see `glm5check profiles`)."
)
PROFILE_FILE_OPTION = click.option(
    "--profile-file", metavar="FILE", help="A TOML profile file (may `extends` a built-in one)."
)
NODE_RANK_OPTION = click.option(
    "--node-rank",
    type=Bounded(NODE_RANK),
    help="This node's number in a multi-node deployment (node 0 first; prefill-decode: prefill nodes first).",
)
SERVE_SCRIPT_OPTION = click.option(
    "--serve-script", metavar="FILE", help="The bash launch script to validate (read, never executed)."
)
SERVE_CMD_OPTION = click.option(
    "--serve-cmd", metavar="CMD", help='The launch command, e.g. "vllm serve /models/GLM-5 …".'
)


class HostAddress(click.ParamType):
    """A host name or an IP address (util.text.HOST): anything else is exit 2 here, not a FAIL later."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str) or not HOST.fullmatch(value):
            self.fail(f"{value!r} is not a host name or an IP address", param, ctx)
        return value


class Salt(click.ParamType):
    """--redact-salt: a key that is not empty (every report masked with an empty key would share one set
    of pseudonyms, linking hosts across tickets) and prints as it is typed."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            self.fail("takes a key of printable characters, not empty (the ticket number: the same on every node)")
        return value


NODE0_IP_OPTION = click.option(
    "--node0-ip", type=HostAddress(), metavar="ADDR", help="Node 0's address when no serve script gives it."
)
STACK_OPTION = click.option(
    "--stack",
    metavar="NAME|auto",
    help="Software stack to judge against (see `glm5check stacks`; default: the profile's). "
    "`auto`: the release of the installed vllm-ascend, or the pinned stack for a source build.",
)


DISABLE_PLUGIN_OPTION = click.option(
    "--disable-plugin",
    "disable_plugins",
    multiple=True,
    metavar="NAME",
    help="Do not load this plugin (entry point or distribution; repeatable; or GLM5CHECK_DISABLE_PLUGINS=a,b).",
)


def timeout_option() -> Callable[[Any], Any]:
    return click.option(
        "--timeout",
        type=Bounded(TIMEOUT),
        default=10.0,
        show_default=True,
        help="Seconds allowed to each probe.",
    )


def deployment_options(replay_help: str) -> Callable[[Any], Any]:
    """The profile, launch command, node and replay options, as `glm5check run` names them."""
    options = [
        PROFILE_OPTION,
        PROFILE_FILE_OPTION,
        SERVE_SCRIPT_OPTION,
        SERVE_CMD_OPTION,
        NODE_RANK_OPTION,
        PD_ROLE_OPTION,
        SCRIPT_ARGS_OPTION,
        NODE0_IP_OPTION,
        click.option("--replay", metavar="SNAPSHOT", help=replay_help),
        STACK_OPTION,
        timeout_option(),
    ]

    def decorate(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def deployment_context(options: dict[str, Any]) -> tuple[Context, Host]:
    """The context of this node (or of the snapshot given with --replay) for these options."""
    from glm5check.session import RunArgs, build_context, make_host

    args = RunArgs(**options)
    host, snapshot = make_host(args, record=False)
    recorded = snapshot.meta if snapshot is not None and args.replay else {}
    context, _ = build_context(args, host, recorded)
    return context, host
