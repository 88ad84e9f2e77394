"""`glm5check cluster --hosts node0,node1 --via ssh|pdsh|srun|kubectl [run options]`: run glm5check on every
node of a deployment through a launcher the cluster already has, and judge the deployment as one.

Every run option (profile, checks, waivers, …) is passed on to every node unchanged; `--serve-script` may
name each node's own script with `{rank}` and `{host}` (an inventory entry's serve_script wins). Paths are
the nodes' paths. The nodes print their JSON report on standard output; nothing is written on them.
See docs/cluster.md.
"""

from __future__ import annotations

import shlex
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from glm5check import console
from glm5check.cli import UsageProblem, node_options, plugins_to_disable
from glm5check.commands.options import Bounded
from glm5check.util.numbers import Range

if TYPE_CHECKING:
    from glm5check.cluster.collect import Limits, RemoteRun
    from glm5check.cluster.inventory import Inventory
    from glm5check.cluster.judge import NodeView
    from glm5check.cluster.transports import Transport
    from glm5check.util.redact import HostRedactor

FORMATS = ("table", "json", "junit", "html")
# Run options the cluster handles itself instead of passing them on as they are: per node or per phase
# (serve script, node 0's address and device IPs), or on its own outputs (--redact-hosts: the nodes' reports
# must keep their addresses for phase two and compare; what this command writes and prints is masked).
HANDLED_HERE = frozenset({"serve_script", "node0_ip", "peer_npu_ips", "redact_hosts", "redact_salt"})


@click.command("cluster")
@click.option("--hosts", metavar="H0,H1,…", help="The nodes, in node-rank order (the first is node 0).")
@click.option("--inventory", metavar="FILE", help="A TOML inventory: hosts, ranks or roles, serve scripts, ssh.")
@click.option("--via", type=click.Choice(("ssh", "pdsh", "srun", "kubectl")), help="The launcher (default ssh).")
@click.option(
    "--fanout",
    type=Bounded(Range(1, 1024, why="nodes at once")),
    default=16,
    show_default=True,
    help="Nodes run at once.",
)
@click.option(
    "--node-timeout",
    type=Bounded(Range(1, 86400, why="a day")),
    default=180,
    show_default=True,
    help="Seconds per node.",
)
@click.option(
    "--deadline",
    type=Bounded(Range(1, 86400, why="a day")),
    default=600,
    show_default=True,
    help="Seconds for the whole run.",
)
@click.option(
    "--connect-timeout",
    type=Bounded(Range(1, 600, why="ten minutes")),
    default=10,
    show_default=True,
    help="Seconds to connect (ssh ConnectTimeout, pdsh -t).",
)
@click.option("--ssh-config", metavar="FILE", help="ssh -F FILE (default: your ~/.ssh/config).")
@click.option(
    "--remote-command",
    metavar="CMD",
    help="How glm5check starts on the nodes (default glm5check; e.g. 'python3 -m glm5check').",
)
@click.option("--snapshot", is_flag=True, help="Also bring back each node's snapshot (needs --output).")
@click.option("--dry-run", is_flag=True, help="Print the launcher command of every node and run nothing.")
@click.option("--format", "cluster_format", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", "-o", "output_dir", metavar="DIR", help="Keep every node's report and the cluster report.")
@node_options
@click.pass_context
def cluster_command(ctx: click.Context, **kwargs: Any) -> None:
    """Run glm5check on every node (ssh, pdsh, srun, kubectl) and judge the deployment: exit 1 unless ready."""
    from glm5check.cluster.collect import Limits, RemoteRun

    if kwargs["snapshot"] and not kwargs["output_dir"]:
        raise UsageProblem("--snapshot keeps each node's snapshot in --output DIR: give --output")
    if kwargs["snapshot"] and (kwargs["redact_hosts"] or kwargs["redact_salt"] is not None):
        raise UsageProblem("--redact-hosts cannot mask inside the nodes' snapshot archives: leave out one of them")
    # A CI job's GLM5CHECK_DISABLE_PLUGINS holds on every node, as --disable-plugin does.
    kwargs["disable_plugins"] = plugins_to_disable(kwargs["disable_plugins"])
    inventory = _inventory(kwargs)
    _refuse_what_the_profile_cannot_plan(kwargs, inventory)
    transport = _transport(kwargs, inventory)
    remote = RemoteRun(
        command=_command(kwargs, inventory),
        forwarded=tuple(_forwarded(kwargs)),
        snapshot=kwargs["snapshot"],
        node0_ip=kwargs["node0_ip"],
        peer_npu_ips=_peer_ips(kwargs["peer_npu_ips"]),
    )
    commands = _planned_commands(inventory, transport, remote)  # also refuses what a launcher cannot do
    if kwargs["dry_run"]:
        console.out(commands)
        ctx.exit(0)
    limits = Limits(kwargs["node_timeout"], kwargs["deadline"], kwargs["fanout"])
    ctx.exit(_run(kwargs, inventory, transport, remote, limits))


def _refuse_what_the_profile_cannot_plan(kwargs: dict[str, Any], inventory: Inventory) -> None:
    """A prefill-decode profile is two vLLM deployments, each with its own node 0, while phase two gives every
    node the one node 0 of the inventory: its verdicts would judge decode nodes against the prefill head.
    More hosts than the profile's nodes, or an inventory rank beyond them, would give a node a rank the
    profile does not plan (each would refuse it on its own, exit 2 there)."""
    from glm5check.host.inputs import InputError
    from glm5check.knowledge.profiles import load_builtin
    from glm5check.session import load_profile_file

    name, path = kwargs["profile_name"], kwargs["profile_file"]
    if not (name or path):
        return
    try:
        profile = load_profile_file(path) if path else load_builtin(name)
    except InputError:
        return  # a profile file on the nodes' paths only (docs/cluster.md): each node reads and judges it
    if profile.is_pd:
        raise UsageProblem(
            f"profile {profile.name} is a prefill-decode deployment (two groups, each with its own node 0); "
            "cluster judges one group at a time only with per-node options it cannot pass yet: run "
            f"`glm5check --profile {profile.name} --node-rank N` on each node instead"
        )
    planned, hosts = profile.hardware.nodes, len(inventory.nodes)
    if hosts > planned:
        raise UsageProblem(
            f"profile {profile.name} plans {planned} node{'s' if planned > 1 else ''}, but {hosts} hosts were "
            f"given: list the first {planned} (node 0 first), or use a profile for {hosts} nodes"
        )
    beyond = [node for node in inventory.nodes if node.rank is not None and node.rank >= planned]
    if beyond:
        raise UsageProblem(
            f"profile {profile.name} plans ranks 0..{planned - 1}, but the inventory gives {beyond[0].host} "
            f"rank {beyond[0].rank}: number the nodes from 0, or use a profile for more nodes"
        )


def _inventory(kwargs: dict[str, Any]) -> Inventory:
    from glm5check.cluster.inventory import Inventory, from_hosts, load_inventory, with_serve_script

    if bool(kwargs["hosts"]) == bool(kwargs["inventory"]):
        raise UsageProblem("give the nodes with --hosts H0,H1,… or --inventory FILE (one of them)")
    inventory = from_hosts(kwargs["hosts"]) if kwargs["hosts"] else load_inventory(kwargs["inventory"])
    nodes = tuple(with_serve_script(n, kwargs["serve_script"]) for n in inventory.nodes)
    return Inventory(nodes, inventory.via, inventory.command, inventory.ssh_config)


def _transport(kwargs: dict[str, Any], inventory: Inventory) -> Transport:
    from glm5check.cluster.transports import VIAS, Transport

    via = kwargs["via"] or inventory.via or "ssh"
    if via not in VIAS:
        raise UsageProblem(f"via = {via!r} in the inventory: use one of {', '.join(VIAS)}")
    transport = Transport(
        via,
        connect_timeout_s=min(kwargs["connect_timeout"], kwargs["node_timeout"]),
        node_timeout_s=kwargs["node_timeout"],
        ssh_config=kwargs["ssh_config"] or inventory.ssh_config,
    )
    if kwargs["snapshot"] and not transport.binary_safe:
        raise UsageProblem(f"--snapshot needs a launcher that passes bytes unchanged; {via} relays lines (use ssh)")
    return transport


def _command(kwargs: dict[str, Any], inventory: Inventory) -> tuple[str, ...]:
    from glm5check.cluster.inventory import remote_command

    if kwargs["remote_command"]:
        return remote_command(kwargs["remote_command"])
    return inventory.command or ("glm5check",)


def _forwarded(kwargs: dict[str, Any]) -> list[str]:
    """The run options given here, as words for the nodes' command lines."""
    words: list[str] = []
    node_params = node_options(lambda: None).__click_params__
    for param in reversed(node_params):  # decorators collect them last-first
        if param.name not in HANDLED_HERE and isinstance(param, click.Option):
            words += _option_words(param, kwargs[param.name])
    return words


def _option_words(param: click.Option, value: Any) -> list[str]:
    if value is None or value == () or value is False or value == param.default:
        return []
    flag = max(param.opts, key=len)
    if param.is_flag:
        return [flag]
    values = value if param.multiple else (value,)
    return [word for item in values for word in (flag, str(item))]


def _peer_ips(value: str | None) -> str | None:
    from glm5check.session import peer_npu_ips_option

    return None if value is None else ",".join(peer_npu_ips_option(value))


def _planned_commands(inventory: Inventory, transport: Transport, remote: RemoteRun) -> str:
    """Every node's launcher command, phase by phase, as the --dry-run text."""
    from glm5check.cluster.collect import phases

    lines = []
    planned = phases(inventory, remote)
    for number, nodes in enumerate(planned, start=1):
        if len(planned) > 1:
            lines.append(_PHASE_TITLES[number])
        for node in nodes:
            remote_argv = remote.argv(node, None, node is inventory.node0, dry_run=True)
            lines.append(_display(transport.argv(node, remote_argv)))
    return "\n".join(lines) + "\n"


_PHASE_TITLES = {
    1: "# phase 1: node 0 alone; its report gives the other nodes --node0-ip and --peer-npu-ips",
    2: "# phase 2: the other nodes, with node 0's address and NPU device IPs",
}


def _display(argv: list[str]) -> str:
    from glm5check.util.redact import redact_text

    return redact_text(shlex.join(argv))


def _run(kwargs: dict[str, Any], inventory: Inventory, transport: Transport, remote: RemoteRun, limits: Limits) -> int:
    from glm5check.cluster import judge, report
    from glm5check.cluster.collect import collect

    stop = threading.Event()
    started = time.monotonic()
    outcomes, node0 = collect(inventory, transport, remote, limits, stop)
    strict = bool(kwargs["strict"])
    views = [judge.view(o, strict) for o in outcomes]
    why = "one node: nothing to pass on" if len(views) == 1 else "--node0-ip and --peer-npu-ips were given"
    results = judge.cluster_results(views, node0, inventory.node0.host, why)
    redactor = _redactor(views, kwargs)
    mask = redactor.text if redactor else str
    stems = report.file_stems(views, redactor is not None) if kwargs["output_dir"] else None
    run = {"via": transport.name, "profile": _profile(kwargs, views), "duration_ms": _ms(started)}
    document = report.build_document(views, results, node0, run, strict, stems)
    if kwargs["cluster_format"] == "html":
        text = _html(document, views, strict, redactor)  # masked before it is marked up
    else:
        text = mask(_rendered(kwargs, document, views))
    if kwargs["output_dir"] and stems is not None:
        kept = text if kwargs["cluster_format"] in report.KEPT_FORMATS else None
        report.write_output(kwargs["output_dir"], views, stems, document, kept, kwargs["cluster_format"], mask)
        if kwargs["cluster_format"] == "table":
            console.out(text)
        else:
            console.err(mask(report.summary_line(document, strict)))
    else:
        console.out(text, console.STYLES[kwargs["cluster_format"]])
    return 0 if document["summary"]["ok"] else 1


def _rendered(kwargs: dict[str, Any], document: dict[str, Any], views: list[NodeView]) -> str:
    from glm5check.cluster import report

    fmt = kwargs["cluster_format"]
    if fmt == "json":
        return report.render_json(document)
    if fmt == "junit":
        return report.render_junit(document, views)
    return report.render_table(document, sys.stdout, bool(kwargs["strict"]))


def _redactor(views: list[NodeView], kwargs: dict[str, Any]) -> HostRedactor | None:
    """--redact-hosts: IPv4 and IPv6 addresses and every node's names (as given, and as it reports itself)
    replaced by pseudonyms keyed with --redact-salt, as whole words (util.redact.HostRedactor)."""
    from glm5check.util.redact import HostRedactor

    if not kwargs["redact_hosts"] and kwargs["redact_salt"] is None:
        return None
    names = {v.host for v in views} | {v.hostname for v in views if v.hostname}
    return HostRedactor(kwargs["redact_salt"], tuple(names))


def _html(document: dict[str, Any], views: list[NodeView], strict: bool, redactor: HostRedactor | None) -> str:
    from glm5check.cluster.html import NodePage, render_cluster_html

    pages = [NodePage.of(view) for view in views]
    if redactor is not None:
        document, pages = redactor.tree(document), [p.masked(redactor.tree) for p in pages]
    return render_cluster_html(document, pages, strict, hosts_masked=redactor is not None)


def _profile(kwargs: dict[str, Any], views: list[NodeView]) -> str | None:
    if kwargs["profile_name"]:
        return str(kwargs["profile_name"])
    for view in views:
        profile = (view.outcome.report or {}).get("profile")
        if isinstance(profile, dict) and isinstance(profile.get("name"), str):
            return str(profile["name"])
    return None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
