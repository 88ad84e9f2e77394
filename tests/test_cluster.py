"""`glm5check cluster` without a network: the exact launcher command lines, quoting that a real shell
keeps intact, inventories, untrusted node output, and whole runs through a stand-in `ssh` that runs each
node's login script (tests/cluster_fakes.py). The same runs over a real OpenSSH server in network
namespaces are in test_cluster_ssh.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cluster_fakes import (
    BANNER,
    NODE0_OCTET,
    FakeNode,
    fake_ssh,
    faulty_node1,
    healthy_node0,
    make_node,
    node_env,
    results_by_key,
)
from conftest import assert_no_traceback, clean_env, run_cli, run_in_process, write_executable
from npu_fakes import device_ips

from glm5check.cluster.collect import NodeOutcome, read_answer
from glm5check.cluster.inventory import InventoryError, NodeSpec, from_hosts, parse_inventory, remote_command
from glm5check.cluster.transports import Transport, remote_text
from glm5check.host.base import CapturedRun

HOSTS = ("npu-a2-01", "npu-a2-02")
ADDRESSES = ("10.231.0.1", "10.231.0.2")
CHECKS = ("--profile", "a2-multi", "--check", "npu.*")


def cluster_schema() -> dict[str, Any]:
    return json.loads(resources.files("glm5check.schema").joinpath("cluster-v1.json").read_text())


# -- launcher command lines ---------------------------------------------------------------------------------

REMOTE = ["glm5check", "--format", "json", "--profile", "a2-multi", "--check", "npu.*", "--node-rank", "1"]


def test_ssh_command_line_uses_batch_mode_and_quotes_the_remote_command() -> None:
    node = NodeSpec("npu-a2-02", rank=1, user="admin", port=2222)
    argv = Transport("ssh", connect_timeout_s=7, ssh_config="/etc/glm5check/ssh_config").argv(node, REMOTE)
    assert argv == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=7",
        "-F",
        "/etc/glm5check/ssh_config",
        "-l",
        "admin",
        "-p",
        "2222",
        "--",
        "npu-a2-02",
        "glm5check --format json --profile a2-multi --check 'npu.*' --node-rank 1",
    ]


def test_pdsh_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PDSH_RCMD_TYPE", raising=False)
    node = NodeSpec("npu-a2-02", rank=1, user="admin")
    argv = Transport("pdsh", connect_timeout_s=5, node_timeout_s=60).argv(node, REMOTE)
    assert argv == [
        "pdsh",
        "-S",
        "-N",
        "-t",
        "5",
        "-u",
        "60",
        "-R",
        "ssh",
        "-l",
        "admin",
        "-w",
        "npu-a2-02",
        "glm5check --format json --profile a2-multi --check 'npu.*' --node-rank 1",
    ]
    monkeypatch.setenv("PDSH_RCMD_TYPE", "mrsh")  # the site's choice of rcmd module is kept
    assert "-R" not in Transport("pdsh").argv(node, REMOTE)


def test_pdsh_refuses_a_per_node_port_or_ssh_config() -> None:
    with pytest.raises(InventoryError, match="pdsh cannot take a port"):
        Transport("pdsh").argv(NodeSpec("n1", port=2222), REMOTE)
    with pytest.raises(InventoryError, match="pdsh cannot take a port"):
        Transport("pdsh", ssh_config="cfg").argv(NodeSpec("n1"), REMOTE)


def test_srun_command_line_runs_one_step_on_the_node_with_the_argument_list() -> None:
    argv = Transport("srun").argv(NodeSpec("npu-a2-02", rank=1), REMOTE)
    assert argv == [
        "srun",
        "--nodes=1",
        "--ntasks=1",
        "--nodelist=npu-a2-02",
        "--job-name=glm5check",
        "--quiet",
        *REMOTE,
    ]


def test_kubectl_command_line_execs_in_the_pod() -> None:
    node = NodeSpec("glm5-lws-0-1", rank=1, namespace="inference", container="vllm")
    argv = Transport("kubectl").argv(node, REMOTE)
    assert argv == ["kubectl", "exec", "--namespace", "inference", "--container", "vllm", "glm5-lws-0-1", "--", *REMOTE]
    assert Transport("kubectl").argv(NodeSpec("pod-0"), REMOTE) == ["kubectl", "exec", "pod-0", "--", *REMOTE]


HOSTILE = [
    "; touch PWNED #",
    "$(touch PWNED)",
    "`touch PWNED`",
    "a'b\"c\\d",
    "line\nbreak",
    "${IFS}x",
    "*",
    "~root",
    "--",
    "",
    "&& touch PWNED",
    "|touch PWNED",
]


def test_the_quoted_remote_command_reaches_a_real_shell_word_for_word(tmp_path: Path) -> None:
    """What ssh and pdsh hand to the node's shell: /bin/sh -c with the quoted string gives back exactly the
    words, runs nothing of them (no PWNED file), whatever they hold."""
    printer = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]
    done = subprocess.run(
        ["/bin/sh", "-c", remote_text([*printer, *HOSTILE])], capture_output=True, text=True, cwd=tmp_path, timeout=30
    )
    assert json.loads(done.stdout) == HOSTILE
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "hosts",
    ["-oProxyCommand=touch PWNED", "node1,-F/tmp/x", "node 1", "node1;id", "$(id)", "node1,,node2", "", "-l@host"],
)
def test_host_names_that_a_launcher_could_take_for_options_are_refused(hosts: str) -> None:
    with pytest.raises(InventoryError):
        from_hosts(hosts)


def test_hosts_give_ranks_by_position_and_take_a_user() -> None:
    inventory = from_hosts("admin@npu-a2-01, npu-a2-02")
    assert [(n.host, n.rank, n.user) for n in inventory.nodes] == [("npu-a2-01", 0, "admin"), ("npu-a2-02", 1, None)]
    assert inventory.node0.host == "npu-a2-01"


# -- inventories --------------------------------------------------------------------------------------------

INVENTORY = """
via = "ssh"
command = "python3 -m glm5check"
user = "root"
port = 2222

[[nodes]]
host = "npu-a2-02"
role = "headless"
serve_script = "/shared/launch/node 1.sh"
port = 22

[[nodes]]
host = "npu-a2-01"
role = "primary"
serve_script = "/shared/launch/node0.sh"
"""


def test_an_inventory_gives_roles_scripts_and_defaults(tmp_path: Path) -> None:
    import tomllib

    inventory = parse_inventory(tomllib.loads(INVENTORY), "inventory")
    assert inventory.node0.host == "npu-a2-01"  # role primary, though listed second
    assert inventory.command == ("python3", "-m", "glm5check")
    first, second = inventory.nodes
    assert (first.user, first.port, first.serve_script) == ("root", 22, "/shared/launch/node 1.sh")
    assert (second.user, second.port, second.rank) == ("root", 2222, None)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[nodes]]\nhost = "a"\nrnak = 1\n', "unknown key(s) rnak"),
        ('[[nodes]]\nhost = "a"\nrank = 1\n[[nodes]]\nhost = "b"\nrank = 1\n', "rank 1 given to more than one node"),
        ('[[nodes]]\nhost = "a"\n[[nodes]]\nhost = "a"\n', "host a given to more than one node"),
        ('[[nodes]]\nhost = "a"\nrole = "primary"\n[[nodes]]\nhost = "b"\nrole = "primary"\n', "more than one"),
        ('[[nodes]]\nhost = "a"\nrank = 0\nrole = "headless"\n', "contradict"),
        ('[[nodes]]\nhost = "a"\nport = 70000\n', "port must be"),
        ('[[nodes]]\nhost = "a"\nrank = true\n', "rank must be"),
        ('[[nodes]]\nhost = "-oProxyCommand=x"\n', "not a plain name"),
        ('user = "root; id"\n[[nodes]]\nhost = "a"\n', "user 'root; id' is not a plain name"),
        ('[[nodes]]\nhost = "a"\nserve_script = "x\\ny"\n', "without control characters"),
        ('command = "--help"\n[[nodes]]\nhost = "a"\n', "starts with -"),
        ('via = "ssh"\n', "needs [[nodes]]"),
        ("[[nodes]\n", "is not TOML"),
    ],
)
def test_bad_inventories_are_usage_errors(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "inventory.toml"
    path.write_text(text, encoding="utf-8")
    done = run_in_process("cluster", "--inventory", str(path), "--dry-run")
    assert_no_traceback(done)
    assert done.returncode == 2 and words in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_remote_command_is_split_like_a_shell_would() -> None:
    assert remote_command("/opt/venv/bin/python -m glm5check") == ("/opt/venv/bin/python", "-m", "glm5check")
    with pytest.raises(InventoryError):
        remote_command("'unclosed")


# -- usage --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--snapshot",), "--snapshot keeps each node's snapshot in --output DIR"),
        (("--snapshot", "--output", "x", "--via", "pdsh"), "pdsh relays lines"),
        (("--peer-npu-ips", "node0"), "--peer-npu-ips takes IP addresses"),
        (("--node0-ip", "-oProxyCommand=x"), "'-oProxyCommand=x' is not a host name or an IP address"),
        (("--hosts", "n0,n1,n2", "--profile", "a2-multi"), "profile a2-multi plans 2 nodes, but 3 hosts were given"),
        (("--serve-script", "/launch/node{rank}.sh", "--inventory", "{inventory}"), "uses {rank}, but npu-a2-01"),
        (("--inventory", "{ranked}", "--profile", "a2-multi"), "plans ranks 0..1, but the inventory gives n1 rank 5"),
    ],
)
def test_usage_errors(args: tuple[str, ...], words: str, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.toml"
    inventory.write_text('[[nodes]]\nhost = "npu-a2-01"\n', encoding="utf-8")
    ranked = tmp_path / "ranked.toml"  # two nodes for a two-node profile, but a rank it does not plan
    ranked.write_text('[[nodes]]\nhost = "n0"\nrank = 0\n[[nodes]]\nhost = "n1"\nrank = 5\n', encoding="utf-8")
    given = [a.replace("{inventory}", str(inventory)).replace("{ranked}", str(ranked)) for a in args]
    hosts = [] if "--inventory" in given else ["--hosts", ",".join(HOSTS)]
    done = run_in_process("cluster", *hosts, *given, "--dry-run")
    assert_no_traceback(done)
    assert done.returncode == 2 and words in done.stderr, done.stderr


def test_a_profile_file_on_the_nodes_only_is_theirs_to_read() -> None:
    """docs/cluster.md: paths are the nodes' paths; a profile file missing here is not a usage error here."""
    done = run_in_process("cluster", "--hosts", ",".join(HOSTS), "--profile-file", "/nodes/only/gl5.toml", "--dry-run")
    assert done.returncode == 0 and "--profile-file /nodes/only/gl5.toml" in done.stdout, done.stderr


def test_an_address_zone_that_is_not_an_interface_is_no_address() -> None:
    """ipaddress takes any text after `%`; node 0's report (untrusted) would hand it to the other nodes."""
    from glm5check.parsers.hccn import valid_ip

    assert valid_ip("fe80::1%eth0") == "fe80::1%eth0" and valid_ip("fe80::1%3") == "fe80::1%3"
    assert valid_ip("fe80::1%$(id)") is None and valid_ip("fe80::1%a b") is None


def test_a_prefill_decode_profile_is_refused_not_judged_against_one_node_0() -> None:
    hosts = ",".join(f"npu-a3-0{n}" for n in range(4))
    done = run_in_process("cluster", "--hosts", hosts, "--profile", "a3-pd-4node", "--dry-run")
    assert_no_traceback(done)
    assert done.returncode == 2 and "prefill-decode deployment" in done.stderr, done.stderr
    assert "--node-rank N" in done.stderr
    two = ",".join(hosts.split(",")[:2])  # a3-multi-w8a8 plans two nodes
    assert run_in_process("cluster", "--hosts", two, "--profile", "a3-multi-w8a8", "--dry-run").returncode == 0


def test_dry_run_prints_both_phases_and_runs_nothing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_ssh(bin_dir)
    env = clean_env({"FAKE_SSH_NODES": str(tmp_path)}, [bin_dir])
    done = run_in_process(
        "cluster",
        "--hosts",
        ",".join(HOSTS),
        *CHECKS,
        "--serve-script",
        "/shared/launch/node{rank}.sh",
        "--ignore",
        "npu.hbm:a chip held by the monitoring agent",
        "--dry-run",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# phase 1: node 0 alone") and lines[2].startswith("# phase 2:")
    assert lines[1] == (
        "ssh -o BatchMode=yes -o ConnectTimeout=10 -- npu-a2-01 'glm5check --format json --profile a2-multi "
        "--check '\"'\"'npu.*'\"'\"' --ignore '\"'\"'npu.hbm:a chip held by the monitoring agent'\"'\"' "
        "--node-rank 0 --serve-script /shared/launch/node0.sh'"
    )
    assert "--node0-ip NODE0_ADDRESS_FROM_PHASE_1 --peer-npu-ips NODE0_NPU_IPS_FROM_PHASE_1" in lines[3]
    assert list(tmp_path.glob("*.argv")) == []  # nothing ran


def test_plugins_disabled_here_by_option_or_environment_are_disabled_on_every_node(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_ssh(bin_dir)
    env = clean_env({"FAKE_SSH_NODES": str(tmp_path), "GLM5CHECK_DISABLE_PLUGINS": "site-b, site-c"}, [bin_dir])
    done = run_in_process(
        "cluster", "--hosts", ",".join(HOSTS), *CHECKS, "--disable-plugin", "site-a", "--dry-run", env=env
    )
    assert done.returncode == 0, done.stderr
    node_lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    wanted = "--disable-plugin site-a --disable-plugin site-b --disable-plugin site-c"
    assert len(node_lines) == 2 and all(wanted in line for line in node_lines)


def test_every_run_option_is_passed_on_or_deliberately_not() -> None:
    """A run option added later must be classified: passed on to the nodes (the default), given per node
    (HANDLED_HERE) or not taken by cluster (NOT_FOR_CLUSTER). This lists where each one went."""
    from glm5check.cli import NOT_FOR_CLUSTER, cli
    from glm5check.commands.cluster import HANDLED_HERE, cluster_command

    run_names = {p.name for p in cli.params if p.name not in ("version", "help")}
    cluster_names = {p.name for p in cluster_command.params}
    assert run_names - cluster_names == NOT_FOR_CLUSTER
    assert cluster_names >= HANDLED_HERE


# -- whole runs through the stand-in ssh ---------------------------------------------------------------------


def run_cluster(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    if not (bin_dir / "ssh").exists():
        fake_ssh(bin_dir)
    env = clean_env({"FAKE_SSH_NODES": str(tmp_path / "nodes")}, [bin_dir])
    done = run_cli("cluster", *args, env=env, timeout=timeout)
    assert_no_traceback(done)
    return done


def two_nodes(tmp_path: Path) -> tuple[FakeNode, FakeNode]:
    root = tmp_path / "nodes"
    return healthy_node0(root, HOSTS[0], ADDRESSES[0]), faulty_node1(root, HOSTS[1], ADDRESSES[1])


@pytest.mark.slow
def test_two_nodes_phase_two_gets_node0s_address_and_device_ips(tmp_path: Path) -> None:
    node0, node1 = two_nodes(tmp_path)
    done = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS, "--format", "json")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    jsonschema.validate(document, cluster_schema())
    remote = node1.remote_argv()
    assert remote[remote.index("--node0-ip") + 1] == ADDRESSES[0]
    assert remote[remote.index("--peer-npu-ips") + 1] == ",".join(device_ips(NODE0_OCTET))
    assert "--peer-npu-ips" not in node0.remote_argv()
    results = results_by_key(document)
    assert results[f"cluster.node[{HOSTS[0]}]"]["status"] == "warn"  # /etc/hccn.conf is not on this machine
    assert results[f"cluster.node[{HOSTS[1]}]"]["status"] == "fail"
    assert "npu.network[device 5]" in results[f"cluster.node[{HOSTS[1]}]"]["message"]
    assert results[f"cluster.node0[{HOSTS[0]}]"]["status"] == "pass"
    assert (
        "address 10.231.0.1 (its HCCL_IF_IP), 8 NPU device IP(s), RPC port 13389"
        in (results[f"cluster.node0[{HOSTS[0]}]"]["message"])
    )
    ping = results[f"cluster.npu-ping[{HOSTS[1]}]"]
    assert ping["status"] == "fail" and ping["message"].startswith("7 of 8 pass: npu.network[ping 5 -> 192.2.8.198]")
    assert results["cluster.compare"]["status"] == "pass"
    assert [(n["host"], n["rank"], n["role"], n["phase"], n["status"]) for n in document["nodes"]] == [
        (HOSTS[0], 0, "primary", 1, "warn"),
        (HOSTS[1], 1, "headless", 2, "fail"),
    ]
    assert document["node0"]["device_ips"] == device_ips(NODE0_OCTET)
    assert document["summary"]["ok"] is False and document["summary"]["ready"] == 1


@pytest.mark.slow
def test_the_table_shows_nodes_then_cluster_results_then_the_verdict(tmp_path: Path) -> None:
    two_nodes(tmp_path)
    done = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "glm5check 0.1.0 cluster · 2 nodes over ssh · profile a2-multi"
    assert lines[2].split() == ["node", "rank", "role", "status", "results", "problems"]
    assert any(line.startswith(f"{HOSTS[1]}  1") and "FAIL" in line for line in lines)
    assert "FAIL  cluster.npu-ping[npu-a2-02]" in done.stdout
    assert "cluster.node[" not in done.stdout  # both nodes reported: the node table says it
    assert lines[-1].startswith("1 of 2 nodes ready · 6 cluster results")
    assert lines[-1].endswith("exit 1 — the deployment is not ready: fix the FAIL rows")


@pytest.mark.slow
def test_the_table_keeps_the_error_and_fix_of_a_node_that_gave_no_report(tmp_path: Path) -> None:
    healthy_node0(tmp_path / "nodes", HOSTS[0], ADDRESSES[0])
    done = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS)
    assert re.search(r"FAIL  cluster\.node\[npu-a2-02\] +ssh: connect to host npu-a2-02 port 22: No route", done.stdout)
    assert "fix: check that `ssh npu-a2-02 true` works from here" in done.stdout
    assert "cluster.node[npu-a2-01]" not in done.stdout


@pytest.mark.slow
def test_nodes_that_disagree_fail_the_cluster_through_compare(tmp_path: Path) -> None:
    root = tmp_path / "nodes"
    healthy_node0(root, HOSTS[0], ADDRESSES[0])
    make_node(root, HOSTS[1], {**node_env(ADDRESSES[1]), "HCCL_BUFFSIZE": "120"})
    document = json.loads(run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS, "--format", "json").stdout)
    compared = results_by_key(document)["cluster.compare[env: HCCL_BUFFSIZE]"]
    assert compared["status"] == "fail" and compared["values"] == {HOSTS[0]: "unset", HOSTS[1]: "120"}
    # Node 1 has node 0's fixture device IPs too: compare finds them on both nodes.
    assert results_by_key(document)["cluster.compare[npu: device IPs]"]["status"] == "fail"


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("unreachable", "ssh: connect to host npu-a2-02 port 22: No route to host"),
        ("no glm5check", "glm5check is not installed on npu-a2-02 (or not on the PATH of a non-interactive login)"),
        ("banner", f"its standard output is not JSON (Expecting value at line 1 column 1); it begins {BANNER[:60]!r}"),
        ("hang", "no answer within 3 s (--node-timeout); ssh and all it started were killed"),
    ],
)
@pytest.mark.slow
def test_a_broken_node_is_a_fail_row_and_the_healthy_one_still_reports(tmp_path: Path, fault: str, words: str) -> None:
    root = tmp_path / "nodes"
    healthy_node0(root, HOSTS[0], ADDRESSES[0])
    if fault == "no glm5check":
        make_node(root, HOSTS[1], node_env(ADDRESSES[1]), glm5check=False)
    elif fault == "banner":
        make_node(root, HOSTS[1], node_env(ADDRESSES[1]), banner=True)
    elif fault == "hang":
        node = make_node(root, HOSTS[1], node_env(ADDRESSES[1]))
        write_executable(node.folder, "login", "#!/bin/sh\nexec sleep 600\n")
    started = time.monotonic()
    done = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS, "--format", "json", "--node-timeout", "3")
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    document = json.loads(done.stdout)
    jsonschema.validate(document, cluster_schema())
    results = results_by_key(document)
    broken = results[f"cluster.node[{HOSTS[1]}]"]
    assert broken["status"] == "fail" and words in broken["message"], broken["message"]
    assert broken["remediation"]
    if fault == "unreachable":
        assert broken["remediation"].startswith("check that `ssh npu-a2-02 true` works from here")
    assert results[f"cluster.node[{HOSTS[0]}]"]["status"] == "warn"
    assert document["nodes"][1]["summary"] is None and document["nodes"][1]["error"] == broken["message"]


@pytest.mark.slow
def test_node0_unreachable_leaves_the_others_checked_without_its_facts(tmp_path: Path) -> None:
    root = tmp_path / "nodes"
    faulty_node1(root, HOSTS[1], ADDRESSES[1])
    document = json.loads(run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS, "--format", "json").stdout)
    results = results_by_key(document)
    assert results[f"cluster.node0[{HOSTS[0]}]"]["status"] == "fail"
    assert "did not report, so the other nodes were checked without" in results[f"cluster.node0[{HOSTS[0]}]"]["message"]
    assert results[f"cluster.npu-ping[{HOSTS[1]}]"]["status"] == "skip"
    assert document["nodes"][1]["summary"] is not None


@pytest.mark.slow
def test_the_deadline_bounds_the_whole_run_and_names_the_nodes_never_started(tmp_path: Path) -> None:
    root = tmp_path / "nodes"
    hosts = ["n0", "n1", "n2"]
    for host in hosts:
        node = make_node(root, host, {})
        write_executable(node.folder, "login", "#!/bin/sh\nexec sleep 600\n")
    started = time.monotonic()
    args = ("--hosts", ",".join(hosts), "--fanout", "1", "--deadline", "3", "--format", "json")
    done = run_cluster(tmp_path, *args, "--node0-ip", "10.0.0.1", "--peer-npu-ips", "10.1.0.1")
    assert time.monotonic() - started < 20
    errors = [n["error"] for n in json.loads(done.stdout)["nodes"]]
    assert errors[0] == "no answer before the whole run's --deadline of 3 s; ssh and all it started were killed"
    assert errors[2] == "not started: the whole run's --deadline of 3 s had passed"


@pytest.mark.slow
def test_output_keeps_every_report_and_snapshot_written_atomically(tmp_path: Path) -> None:
    two_nodes(tmp_path)
    out = tmp_path / "out"
    done = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS, "--snapshot", "--output", str(out))
    assert done.returncode == 1 and done.stdout.startswith("glm5check 0.1.0 cluster")
    assert sorted(p.name for p in out.iterdir()) == [
        "cluster.json",
        f"{HOSTS[0]}.json",
        f"{HOSTS[0]}.snapshot.tar.gz",
        f"{HOSTS[1]}.json",
        f"{HOSTS[1]}.snapshot.tar.gz",
    ]
    document = json.loads((out / "cluster.json").read_text())
    jsonschema.validate(document, cluster_schema())
    assert document["nodes"][1]["report"] == f"{HOSTS[1]}.json"
    node1 = json.loads((out / f"{HOSTS[1]}.json").read_text())
    assert node1["node"]["rank"] == 1 and node1["schema"] == "glm5check.report/v1"
    with tarfile.open(out / f"{HOSTS[1]}.snapshot.tar.gz") as archive:
        assert "snapshot/report.json" in archive.getnames()
    replayed = run_in_process(
        "--replay", str(out / f"{HOSTS[1]}.snapshot.tar.gz"), "--check", "npu.*", "--format", "json"
    )
    pings = [r for r in json.loads(replayed.stdout)["results"] if (r["item"] or "").startswith("ping ")]
    assert len(pings) == 8  # the snapshot recorded the --peer-npu-ips phase one gave node 1


@pytest.mark.slow
def test_an_output_folder_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    two_nodes(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    done = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS, "--output", str(blocker / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"glm5check: error: cannot write {blocker / 'out'}: Not a directory"


@pytest.mark.slow
def test_junit_holds_the_cluster_results_and_every_nodes_results(tmp_path: Path) -> None:
    two_nodes(tmp_path)
    out = tmp_path / "out"
    done = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS, "--format", "junit", "--output", str(out))
    assert done.stdout == "" and "exit 1" in done.stderr
    root = ET.parse(out / "cluster.xml").getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert {"glm5check.cluster", f"glm5check.{HOSTS[0]}.npu", f"glm5check.{HOSTS[1]}.npu"} <= set(suites)
    failed = [c.get("name") for c in suites["glm5check.cluster"].findall("testcase") if c.find("failure") is not None]
    assert failed == [f"cluster.node[{HOSTS[1]}]", f"cluster.npu-ping[{HOSTS[1]}]"]
    assert int(root.get("tests") or 0) == len(root.findall("./testsuite/testcase"))


# -- a node's standard output is untrusted -------------------------------------------------------------------


def answer(stdout: bytes, exit_code: int = 0, stderr: bytes = b"", **flags: Any) -> NodeOutcome:
    base = NodeOutcome(NodeSpec("npu-a2-02", rank=1), 2, ("ssh", "--", "npu-a2-02", "glm5check"))
    run = CapturedRun(base.argv, exit_code, stdout, stderr, timeout_s=5, **flags)
    return read_answer(base, run, Transport("ssh"), snapshot=False, limit="within 5 s (--node-timeout)")


def test_escape_sequences_in_a_report_never_reach_the_terminal_or_the_xml() -> None:
    hostile = {
        "schema": "glm5check.report/v1",
        "node": {"hostname": "npu\x1b]0;owned\x07-a2", "rank": 1, "role": "headless"},
        "results": [{"id": "npu.hbm", "status": "fail", "message": "\x1b[2J\x1b[31mfine\r\u202eevil\ud800"}],
    }
    outcome = answer(json.dumps(hostile).encode())
    assert outcome.report is not None
    text = json.dumps(outcome.report, ensure_ascii=False)
    assert not any(ch in text for ch in ("\x1b", "\x07", "\r", "\u202e")) and "\\\\x1b" in text


@pytest.mark.parametrize(
    ("stdout", "words"),
    [
        (b"[" * 100_000, "not JSON (nested too deep)"),
        (b'{"schema": "glm5check.report/v1", "n": ' + b"9" * 5000 + b"}", "not JSON (Exceeds the limit"),
        (b'{"schema": "something else"}', "not a glm5check report"),
        (b"\xff\xfe garbage", "not JSON"),
        (b"", "no output (exit 0)"),
    ],
)
def test_garbage_on_standard_output_is_a_clear_error(stdout: bytes, words: str) -> None:
    outcome = answer(stdout)
    assert outcome.report is None and outcome.error and words in outcome.error


def test_a_report_with_every_field_of_the_wrong_type_is_judged_not_raised() -> None:
    from glm5check.cluster.judge import cluster_results, view

    odd = {"schema": "glm5check.report/v1", "node": "x", "results": [5, {"status": "lol", "id": 3}], "summary": []}
    outcome = answer(json.dumps(odd).encode())
    node = view(outcome, strict=False)
    assert [r.status for r in node.results] == ["error", "error"] and node.status == "fail"
    assert cluster_results([node], None, "npu-a2-02", "one node")[0].status == "fail"


def test_output_beyond_the_cap_is_not_read() -> None:
    outcome = answer(b"x" * (16 << 20), truncated=True)
    assert outcome.error == "printed more than 16 MiB on standard output; not read"


def test_a_usage_error_on_the_node_is_named() -> None:
    outcome = answer(b"", 2, b"glm5check: error: no profile: use --profile NAME\n")
    said = "glm5check: error: no profile: use --profile NAME"
    assert outcome.error == f"glm5check on npu-a2-02 stopped with a usage error (exit 2): {said}"


def test_the_real_ssh_tests_say_why_they_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    import netns
    import sshd_nodes

    monkeypatch.setattr("os.access", lambda path, mode: False)
    assert "apt-get install openssh-server" in (sshd_nodes.unavailable_reason() or "")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert netns.unavailable_reason() == "network-namespace tests need root (ip netns add); running as uid 1000"


@pytest.mark.slow
def test_the_example_in_docs_cluster_md_is_what_the_command_prints(tmp_path: Path) -> None:
    """Two nodes (healthy, faulty), as docs/cluster.md shows them."""
    from conftest import REPO

    healthy_node0(tmp_path / "nodes", HOSTS[0], "10.20.0.11")  # the guide's node addresses
    faulty_node1(tmp_path / "nodes", HOSTS[1], "10.20.0.12")
    command = "cluster --hosts npu-a2-01,npu-a2-02 --profile a2-multi --check npu.*"
    bin_dir = tmp_path / "bin"
    fake_ssh(bin_dir)
    env = clean_env({"FAKE_SSH_NODES": str(tmp_path / "nodes"), "COLUMNS": "110"}, [bin_dir])
    done = run_in_process(*command.split(), env=env)
    shown = command.replace("npu.*", "'npu.*'")
    printed = f"$ glm5check {shown}\n{done.stdout}"
    block = re.search(
        r"<!-- example:start -->\n```\n(.*?)```\n<!-- example:end -->", (REPO / "docs" / "cluster.md").read_text(), re.S
    )
    assert block is not None

    def timeless(text: str) -> str:
        return re.sub(r"\d+\.\d\d s    exit", "N.NN s    exit", text)

    assert timeless(block.group(1)) == timeless(printed), f"paste into docs/cluster.md:\n{printed}"


@pytest.mark.slow
def test_redact_hosts_masks_what_cluster_writes_but_not_what_phase_two_needs(tmp_path: Path) -> None:
    node0, node1 = two_nodes(tmp_path)
    out = tmp_path / "out"
    done = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), *CHECKS, "--redact-hosts", "--output", str(out))
    remote = node1.remote_argv()
    assert "--redact-hosts" not in remote and remote[remote.index("--node0-ip") + 1] == ADDRESSES[0]
    assert sorted(p.name for p in out.iterdir()) == ["cluster.json", "node0.json", "node1.json"]
    written = [done.stdout, *(p.read_text() for p in out.iterdir())]
    for text in written:
        assert not any(secret in text for secret in (*HOSTS, *ADDRESSES, node0.folder.name)), text[:500]
    assert "host-" in done.stdout and "198.1" in (out / "cluster.json").read_text()  # pseudonyms
    refused = run_cluster(tmp_path, "--hosts", ",".join(HOSTS), "--redact-hosts", "--snapshot", "-o", str(out))
    assert refused.returncode == 2 and "cannot mask inside the nodes' snapshot archives" in refused.stderr
