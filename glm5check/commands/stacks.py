"""`glm5check stacks` lists the software stacks; `glm5check stacks show NAME` prints one with the source of
every value (docs/stacks.md)."""

from __future__ import annotations

import textwrap

import click

from glm5check import console
from glm5check.knowledge.stacks import (
    DECLARED_KEYS,
    DEFAULT_STACK,
    PIN_KEYS,
    Pin,
    Sourced,
    Stack,
    list_stacks,
    load_stack,
)
from glm5check.util.terminal import columns

LABEL_WIDTH = 16


def _short(sourced: Sourced | None) -> str:
    if sourced is None:
        return "–"
    value = sourced.value
    return value[:8] if len(value) == 40 and all(c in "0123456789abcdef" for c in value) else value


def _component(stack: Stack, name: str) -> str:
    """ "978a37c8 (empty)" for a source build at a commit, "0.18.0" for a release, "v0.18.0" for a tag."""
    pin = stack.pin(name)
    if pin is None:
        return "–"
    if stack.kind == "pinned":
        target = f" ({pin.target.value})" if pin.target else ""
        return _short(pin.commit) + target
    return _short(pin.tag or pin.version)


def render_list() -> str:
    from tabulate import tabulate

    rows = []
    for name in list_stacks():
        stack = load_stack(name)
        rows.append(
            [
                name,
                stack.kind,
                _component(stack, "vllm"),
                _component(stack, "vllm_ascend"),
                stack.guide_revision.value,
                "default" if name == DEFAULT_STACK else "",
            ]
        )
    headers = ["stack", "kind", "vllm", "vllm-ascend", "guide revision", ""]
    return tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True) + "\n"


def _lines(label: str, text: str, width: int) -> list[str]:
    body = textwrap.wrap(text, max(40, width - LABEL_WIDTH), break_long_words=False, break_on_hyphens=False)
    return [f"{label if i == 0 else '':<{LABEL_WIDTH}}{line}" for i, line in enumerate(body or [""])]


def _pin_lines(pin: Pin, width: int) -> list[str]:
    """A pin's values on one line, then where each comes from (one line per distinct source)."""
    values = {key: getattr(pin, key) for key in PIN_KEYS if getattr(pin, key) is not None}
    lines = _lines(
        pin.name.replace("_", "-"), ", ".join(f"{key} {value.value}" for key, value in values.items()), width
    )
    sources: dict[str, list[str]] = {}
    for key, value in values.items():
        sources.setdefault(value.source, []).append(key)
    for source, keys in sources.items():
        named = "" if len(sources) == 1 else f" ({', '.join(keys)})"
        lines += _lines("", f"source{named}: {source}", width)
    for key in DECLARED_KEYS:
        declared = getattr(pin, key)
        if declared is not None:
            who = key.removeprefix("declared_by_").replace("_", "-")
            lines += _lines("", f"declared by {who}: {declared.value} ({declared.source})", width)
    if pin.note:
        lines += _lines("", f"note: {pin.note}", width)
    return lines


def _tables_line(stack: Stack) -> str:
    env = stack.tables["env"]
    derive = stack.derive
    return (
        f"{len(stack.flags)} `vllm serve` flags; {len(env['vllm'])} variables in vllm's envs table, "
        f"{len(env['vllm_ascend'])} in vllm-ascend's; derived from vllm {derive.get('vllm')} and vllm-ascend "
        f"{derive.get('vllm_ascend')} by tools/derive_stack_tables.py ({stack.name}.tables.json)"
    )


def render_stack(name: str, width: int | None = None) -> str:
    stack = load_stack(name)
    width = width or columns(120)
    default = ", the default" if stack.name == DEFAULT_STACK else ""
    lines = [f"stack {stack.name} ({stack.kind}{default}): {stack.summary}", ""]
    lines += _lines("guide revision", stack.guide_revision.value, width)
    lines += _lines("", f"source: {stack.guide_revision.source}", width)
    if stack.note:
        lines += _lines("note", stack.note, width)
    lines.append("")
    for pin in stack.pins.values():
        lines += _pin_lines(pin, width)
    lines.append("")
    sources = {image.source for image in stack.images.values()}
    for key, image in stack.images.items():
        lines += _lines(f"image {key}", image.value, width)
    for source in sources:
        lines += _lines("", f"source: {source}", width)
    lines += ["", *_lines("tables", _tables_line(stack), width)]
    return "\n".join(line.rstrip() for line in lines) + "\n"


@click.group("stacks", invoke_without_command=True)
@click.pass_context
def stacks(ctx: click.Context) -> None:
    """List the software stacks (`--stack NAME`): the pinned February build and the vllm-ascend releases."""
    if ctx.invoked_subcommand is None:
        console.out(render_list())


@stacks.command("show")
@click.argument("name")
def stacks_show(name: str) -> None:
    """Print one stack: every version, pin, image and guide revision with its source."""
    console.out(render_stack(name))
