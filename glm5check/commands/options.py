"""Command-line options shared by several commands. Numeric ones are read with the one number reader and
checked against their range (glm5check.knowledge.limits): `--timeout inf`, `--tp 0` or `--node-rank
99999999999` is exit 2 naming the option and what it accepts."""

from __future__ import annotations

from typing import Any

import click

from glm5check.util.numbers import Range


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
