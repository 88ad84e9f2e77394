"""Values a launch script computes when it runs: judged by what they give on this host, and said so."""

from __future__ import annotations

import pytest
from glm5check.checks.env import env_vars
from glm5check.checks.net import net_interfaces
from net_fakes import NIC, NODE1_IP, FakeNic, Scenario, lo, run_check

from glm5check.engine.check import Status
from glm5check.facts.context import Context, Options
from glm5check.knowledge.launch_command import read_serve
from glm5check.knowledge.profiles import load_builtin
from glm5check.knowledge.runtime_values import HostFacts, ScriptScope, describe, evaluate
from glm5check.parsers.launch_script import parse_script

HOST = HostFacts(
    env={"NODE0_IP": "10.20.0.11"},
    addresses=("10.20.0.12", "172.17.0.1"),
    nic_of={"10.20.0.12": NIC, "172.17.0.1": "docker0", "127.0.0.1": "lo"},
)


def _value(script: str, name: str) -> tuple[str | None, str, str]:
    parsed = parse_script(script)
    scope = ScriptScope(parsed.variables, parsed.runtime)
    value, why = evaluate(parsed.runtime[name], scope, HOST)
    return value, why, describe(parsed.runtime[name], scope)


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("X=$(hostname -I | awk '{print $1}')", "10.20.0.12"),
        ("X=`hostname -I | awk '{ print $2 }'`", "172.17.0.1"),
        ("X=$(hostname -I | cut -d' ' -f1)", "10.20.0.12"),
        ("X=$(hostname --all-ip-addresses | cut -f2 -d ' ')", "172.17.0.1"),
        ("X=$(hostname -I | xargs)", "10.20.0.12 172.17.0.1"),
        ("X=$NODE0_IP", "10.20.0.11"),
        ("X=${NODE0_IP:-10.0.0.1}", "10.20.0.11"),
        ("X=${NOT_SET:-10.0.0.1}", "10.0.0.1"),
        ("X=node-$(hostname -I | awk '{print $1}')", "node-10.20.0.12"),
    ],
)
def test_recognised_idioms_give_this_hosts_value(line: str, value: str) -> None:
    assert _value(line + "\n", "X")[0] == value


def test_the_nic_that_carries_a_run_time_address() -> None:
    for listing in (
        "ip -o -4 addr show | grep $local_ip | awk '{print $2}'",
        "ifconfig | grep -B1 $local_ip | head -n1",
    ):
        script = f"local_ip=$(hostname -I | awk '{{print $1}}')\nnic=$({listing})\n"
        assert _value(script, "nic")[0] == NIC, listing
    elsewhere = "local_ip=10.9.9.9\nnic=$(ip a | grep $local_ip | awk '{print $NF}')\n"
    value, why, _ = _value(elsewhere, "nic")
    assert value is None and "no interface of this host carries 10.9.9.9" in why


def test_what_cannot_be_known_says_why_and_where() -> None:
    value, why, how = _value("A=$(cat /etc/node_ip)\nexport X=$A\n", "X")
    assert value is None and why == "glm5check does not run $(cat /etc/node_ip)"
    assert how == "set at run time by line 2 ($A; A = $(cat /etc/node_ip), line 1)"
    value, why, _ = _value("X=$UNSET_HERE\n", "X")
    assert value is None and "$UNSET_HERE comes from the caller's environment and is unset in this shell" in why


# -- the checks that depend on such values ----------------------------------------------------------


NODE1_SCRIPT = """#!/bin/bash
local_ip=$(hostname -I | awk '{print $1}')
nic_name=$(ip -o -4 addr show | grep $local_ip | awk '{print $2}')
export HCCL_IF_IP=$local_ip
export GLOO_SOCKET_IFNAME=$nic_name
export TP_SOCKET_IFNAME=$nic_name
export HCCL_SOCKET_IFNAME=$nic_name
source /usr/local/Ascend/ascend-toolkit/set_env.sh
vllm serve /root/.cache/modelscope/hub/models/vllm-ascend/GLM-5-w4a8 --headless --data-parallel-size 2 \\
  --data-parallel-size-local 1 --data-parallel-start-rank 1 --data-parallel-address 10.20.0.11 \\
  --data-parallel-rpc-port 13389 --tensor-parallel-size 8 --enable-expert-parallel
"""


def _node1(nics: list[FakeNic], script: str = NODE1_SCRIPT) -> Context:
    """Node 1 of a2-multi on a host with these NICs, launched by `script` (its shell exports nothing)."""
    scenario = Scenario(env={}, nics=nics, hostname="npu-a2-02", resolves_to=(NODE1_IP,), route_for="10.20.0.11")
    host = scenario.context().host
    profile = load_builtin("a2-multi")
    launch = read_serve(profile, script, script_name="node1.sh")
    return Context(profile, host, Options(serve_source="node1.sh"), launch)


def test_hccl_if_ip_from_hostname_is_judged_here_and_says_so() -> None:
    ctx = _node1([lo(), FakeNic(NIC, (NODE1_IP,)), FakeNic("docker0", ("172.17.0.1",))])
    env = run_check(env_vars, ctx)
    how = "HCCL_IF_IP is set at run time by line 4 ($local_ip; local_ip = $(hostname -I | awk '{print $1}'), line 2)"
    assert env["HCCL_IF_IP"].status == Status.PASS
    assert env["HCCL_IF_IP"].message.startswith(f"{how}; on this host that gives {NODE1_IP}: = {NODE1_IP}")
    net = run_check(net_interfaces, ctx)
    assert net["HCCL_IF_IP"].status == Status.PASS and net["HCCL_IF_IP"].message.startswith(how)
    for var in ("HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"):
        assert net[var].status == Status.PASS and f"on this host that gives {NIC}" in net[var].message


def test_a_run_time_value_that_picks_the_wrong_nic_fails_with_what_it_gives() -> None:
    # hostname -I lists the container bridge first on this host: the script's HCCL_IF_IP lands on docker0.
    ctx = _node1([lo(), FakeNic("docker0", ("172.17.0.1",)), FakeNic(NIC, (NODE1_IP,))])
    net = run_check(net_interfaces, ctx)
    row = net["HCCL_IF_IP"]
    assert row.status in (Status.FAIL, Status.WARN) and "on this host that gives 172.17.0.1" in row.message
    assert "docker0" in row.message


def test_a_value_that_cannot_be_known_is_a_warning_never_unset() -> None:
    script = NODE1_SCRIPT.replace("$(hostname -I | awk '{print $1}')", "$(cat /etc/node_ip)")
    ctx = _node1([lo(), FakeNic(NIC, (NODE1_IP,))], script)
    for check in (env_vars, net_interfaces):
        row = run_check(check, ctx)["HCCL_IF_IP"]
        assert row.status == Status.WARN and "glm5check does not run $(cat /etc/node_ip)" in row.message
        assert "unset" not in row.message


@pytest.mark.parametrize(
    ("line", "arguments", "value", "why"),
    [
        ("X=$2", ("0,1", "6700"), "6700", ""),
        ("X=node-$1:$2", ("a", "b"), "node-a:b", ""),
        ("X=${10}", tuple(str(i) for i in range(1, 11)), "10", ""),
        ("X=$3", ("a",), None, "$3 is the script's argument 3 (--script-args gives 1)"),
        ("X=$1", (), None, "$1 is the script's argument 1 (no --script-args)"),
    ],
)
def test_positional_parameters_come_from_the_scripts_arguments(
    line: str, arguments: tuple[str, ...], value: str | None, why: str
) -> None:
    """launch_online_dp.py runs `bash run_dp_template.sh DEVICES PORT …`: $1, $2, … are those words (--script-args)."""
    parsed = parse_script(f"{line}\nvllm serve /m\n")
    scope = ScriptScope(parsed.variables, parsed.runtime, arguments)
    assert evaluate(parsed.runtime["X"], scope, HOST) == (value, why)
