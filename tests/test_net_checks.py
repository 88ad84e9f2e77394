"""net.interfaces, net.ports and net.node0 on hand-written snapshots (real formats, no network)."""

from __future__ import annotations

import pytest
from glm5check.checks.net import net_interfaces, net_node0, net_ports
from net_fakes import NIC, NODE0_IP, NODE1_IP, FakeNic, Scenario, guide_env, lo, run_check

from glm5check.engine.check import Status
from glm5check.facts.net import is_vllm_process, parse_ifname_spec
from glm5check.facts.node import node_info
from glm5check.facts.node_env import suggested_node_env
from glm5check.host.base import ConnectResult, ListeningSocket, Process

MGMT = FakeNic("eth0", ("192.168.100.11",))
DOCKER = FakeNic("docker0", ("172.17.0.1",), operstate="down")


def node0(**kwargs: object) -> Scenario:
    """Node 0 as the guide sets it up, with a management NIC and docker0 beside the HCCL NIC."""
    values: dict[str, object] = {
        "env": guide_env(NODE0_IP),
        "nics": [lo(), FakeNic(NIC, (NODE0_IP,)), MGMT, DOCKER],
        "node0_ip": NODE0_IP,
    }
    values.update(kwargs)
    return Scenario(**values)  # type: ignore[arg-type]


def node1(**kwargs: object) -> Scenario:
    values: dict[str, object] = {
        "env": guide_env(NODE1_IP),
        "nics": [lo(), FakeNic(NIC, (NODE1_IP,)), FakeNic("eth0", ("192.168.100.12",))],
        "node0_ip": NODE0_IP,
        "hostname": "npu-a2-02",
        "resolves_to": (NODE1_IP,),
        "route": (f"{NODE0_IP} dev {NIC} src {NODE1_IP} uid 0 \\    cache \n", "", 0),
        "connect": ConnectResult(NODE0_IP, 13389, "refused", "connection refused", 1),
    }
    values.update(kwargs)
    return Scenario(**values)  # type: ignore[arg-type]


def statuses(results: dict) -> dict[str, Status]:
    return {item: result.status for item, result in results.items()}


# -- net.interfaces -----------------------------------------------------------------------------------


def test_healthy_node0_passes_every_item() -> None:
    ctx = node0().context()
    results = run_check(net_interfaces, ctx)
    assert ctx.fact(node_info).role == "primary"
    assert set(results) == {
        "HCCL_IF_IP",
        "HCCL_SOCKET_IFNAME",
        "GLOO_SOCKET_IFNAME",
        "TP_SOCKET_IFNAME",
        "data-parallel-address",
        "hostname",
    }
    assert set(statuses(results).values()) == {Status.PASS}, results
    assert results["HCCL_IF_IP"].observed == f"{NODE0_IP} on {NIC} (up, MTU 1500)"


def test_hccl_if_ip_unset_fails_with_the_export_line() -> None:
    result = run_check(net_interfaces, node0(env=guide_env(NODE0_IP, HCCL_IF_IP=None)).context())["HCCL_IF_IP"]
    assert result.status is Status.FAIL
    assert result.remediation == (f"export HCCL_IF_IP={NODE0_IP} HCCL_SOCKET_IFNAME={NIC} GLOO_SOCKET_IFNAME={NIC}")


def test_hccl_if_ip_not_local_lists_local_addresses() -> None:
    results = run_check(net_interfaces, node0(env=guide_env("10.20.0.99")).context())
    assert results["HCCL_IF_IP"].status is Status.FAIL
    assert "10.20.0.99 is not an address of this host" in results["HCCL_IF_IP"].message
    assert f"{NODE0_IP} ({NIC})" in results["HCCL_IF_IP"].message
    assert f"HCCL_IF_IP={NODE0_IP}" in (results["HCCL_IF_IP"].remediation or "")
    # On node 0 the DP address must equal HCCL_IF_IP.
    assert results["data-parallel-address"].status is Status.FAIL


def test_hccl_if_ip_not_an_address() -> None:
    result = run_check(net_interfaces, node0(env=guide_env("npu-a2-01")).context())["HCCL_IF_IP"]
    assert result.status is Status.FAIL
    assert "not an IP address" in result.message


def test_hccl_if_ip_on_loopback_fails() -> None:
    result = run_check(net_interfaces, node0(env=guide_env("127.0.0.1")).context())["HCCL_IF_IP"]
    assert result.status is Status.FAIL
    assert "loopback" in result.message


@pytest.mark.parametrize("name", ["docker0", "veth1a2b3c"])
def test_hccl_if_ip_on_container_links_warns(name: str) -> None:
    nics = [lo(), FakeNic(name, ("172.17.0.5",))]
    scenario = node0(env=guide_env("172.17.0.5", name), nics=nics, node0_ip=None, node_rank=0)
    results = run_check(net_interfaces, scenario.context())
    assert results["HCCL_IF_IP"].status is Status.WARN
    assert "--network host" in results["HCCL_IF_IP"].message
    assert results["HCCL_SOCKET_IFNAME"].status is Status.WARN


def test_administratively_down_interface_fails_with_link_set_up() -> None:
    nics = [lo(), FakeNic(NIC, (NODE0_IP,), flags="0x1002", operstate="down"), MGMT]
    results = run_check(net_interfaces, node0(nics=nics).context())
    assert results["HCCL_IF_IP"].status is Status.FAIL
    assert "administratively down" in results["HCCL_IF_IP"].message
    assert results["HCCL_IF_IP"].remediation == f"ip link set {NIC} up"
    assert results["GLOO_SOCKET_IFNAME"].status is Status.FAIL


def test_interface_without_carrier_fails() -> None:
    nics = [lo(), FakeNic(NIC, (NODE0_IP,), operstate="lowerlayerdown"), MGMT]
    result = run_check(net_interfaces, node0(nics=nics).context())["HCCL_IF_IP"]
    assert result.status is Status.FAIL
    assert "no carrier (operstate lowerlayerdown)" in result.message
    assert "switch port" in (result.remediation or "")


@pytest.mark.parametrize(("psutil_up", "status"), [(True, Status.PASS), (False, Status.FAIL)])
def test_state_falls_back_to_psutil_when_sysfs_is_missing(psutil_up: bool, status: Status) -> None:
    nics = [lo(), FakeNic(NIC, (NODE0_IP,), flags=None, operstate=None, is_up=psutil_up), MGMT]
    assert run_check(net_interfaces, node0(nics=nics).context())["HCCL_IF_IP"].status is status


def test_socket_interface_that_does_not_carry_the_ip_fails() -> None:
    env = guide_env(NODE0_IP, "eth0")
    results = run_check(net_interfaces, node0(env=env).context())
    hccl = results["HCCL_SOCKET_IFNAME"]
    assert hccl.status is Status.WARN
    assert hccl.message.startswith(f"HCCL_IF_IP {NODE0_IP} is on {NIC}, but HCCL_SOCKET_IFNAME=eth0 selects eth0; ")
    assert hccl.remediation == f"export HCCL_SOCKET_IFNAME={NIC} GLOO_SOCKET_IFNAME={NIC}"
    assert results["GLOO_SOCKET_IFNAME"].status is Status.FAIL
    # Nothing reads TensorPipe's variable during vllm serve (the stack says so): a note, no fix to export.
    tensorpipe = results["TP_SOCKET_IFNAME"]
    assert (tensorpipe.status, tensorpipe.remediation) == (Status.PASS, None)
    assert "inert at stack glm5-2026-02: vLLM and vllm-ascend never start torch.distributed.rpc" in tensorpipe.message


def test_socket_interface_that_does_not_exist_fails() -> None:
    results = run_check(net_interfaces, node0(env=guide_env(NODE0_IP, "ens3")).context())
    assert results["GLOO_SOCKET_IFNAME"].status is Status.FAIL
    assert "no interface named ens3" in results["GLOO_SOCKET_IFNAME"].message
    # HCCL takes its NIC from HCCL_IF_IP while that is set: a wrong HCCL_SOCKET_IFNAME misleads, no more.
    hccl = results["HCCL_SOCKET_IFNAME"]
    assert hccl.status is Status.WARN and "selects no interface" in hccl.message
    assert hccl.message.endswith("HCCL ignores it while HCCL_IF_IP is set (HCCL_IF_IP > HCCL_SOCKET_IFNAME)")
    unset = run_check(net_interfaces, node0(env=guide_env(NODE0_IP, "ens3", HCCL_IF_IP=None)).context())
    assert unset["HCCL_SOCKET_IFNAME"].status is Status.FAIL  # without HCCL_IF_IP, HCCL uses it: nothing found


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("enp", Status.PASS),  # prefix
        ("eth,enp", Status.PASS),  # list of prefixes: enp189s0f0 is among them
        (f"={NIC}", Status.PASS),  # exact
        ("=enp", Status.WARN),  # exact: no interface is called "enp"
        (f"=eth0,{NIC}", Status.PASS),
        ("^eth,docker,lo", Status.PASS),  # exclusion leaves enp189s0f0
        ("^enp", Status.WARN),  # excludes the NIC that carries HCCL_IF_IP
        (f"^={NIC}", Status.WARN),
        ("eth", Status.WARN),  # selects eth0 only
    ],
)
def test_hccl_socket_ifname_forms(value: str, status: Status) -> None:
    """Read as HCCL reads the forms; a selection that misses HCCL_IF_IP's NIC warns (HCCL_IF_IP wins)."""
    env = guide_env(NODE0_IP, HCCL_SOCKET_IFNAME=value)
    result = run_check(net_interfaces, node0(env=env).context())["HCCL_SOCKET_IFNAME"]
    assert result.status is status, result
    assert (status is Status.WARN) == ("HCCL ignores it" in result.message)


def test_gloo_takes_exact_names_only() -> None:
    env = guide_env(NODE0_IP, GLOO_SOCKET_IFNAME=f"={NIC}")
    result = run_check(net_interfaces, node0(env=env).context())["GLOO_SOCKET_IFNAME"]
    assert result.status is Status.FAIL
    assert "exact interface names" in result.message


def test_gloo_list_with_a_second_interface_warns() -> None:
    env = guide_env(NODE0_IP, GLOO_SOCKET_IFNAME=f"{NIC},eth0")
    result = run_check(net_interfaces, node0(env=env).context())["GLOO_SOCKET_IFNAME"]
    assert result.status is Status.WARN
    assert "every listed interface" in result.message


def test_gloo_list_naming_a_missing_interface_fails() -> None:
    env = guide_env(NODE0_IP, GLOO_SOCKET_IFNAME=f"{NIC},ib0")
    result = run_check(net_interfaces, node0(env=env).context())["GLOO_SOCKET_IFNAME"]
    assert result.status is Status.FAIL
    assert "no interface named ib0" in result.message


def test_ifname_spec_parsing() -> None:
    spec = parse_ifname_spec("HCCL_SOCKET_IFNAME", "^=eth0, enp0")
    assert (spec.exclude, spec.exact, spec.names) == (True, True, ("eth0", "enp0"))
    assert not spec.selects("eth0") and spec.selects("eth1")
    assert parse_ifname_spec("HCCL_SOCKET_IFNAME", "eth").selects("eth12")
    tp = parse_ifname_spec("TP_SOCKET_IFNAME", "eth0,eth1")
    assert tp.names == ("eth0,eth1",)  # TensorPipe takes one name, commas included


def test_unset_socket_variable_warns_unless_nothing_reads_it() -> None:
    env = guide_env(NODE0_IP, GLOO_SOCKET_IFNAME=None, TP_SOCKET_IFNAME=None)
    results = run_check(net_interfaces, node0(env=env).context())
    assert (results["GLOO_SOCKET_IFNAME"].status, results["GLOO_SOCKET_IFNAME"].observed) == (Status.WARN, "unset")
    assert results["TP_SOCKET_IFNAME"].status is Status.PASS


def test_serve_script_exports_override_the_process_environment() -> None:
    scenario = node0(env=guide_env("10.9.9.9", "eth0"), script_env=guide_env(NODE0_IP))
    results = run_check(net_interfaces, scenario.context())
    assert results["HCCL_IF_IP"].status is Status.PASS
    assert results["HCCL_SOCKET_IFNAME"].status is Status.PASS


def test_hostname_loopback_only_fails_without_gloo_interface() -> None:
    env = guide_env(NODE0_IP, GLOO_SOCKET_IFNAME=None)
    results = run_check(net_interfaces, node0(env=env, resolves_to=("127.0.1.1",)).context())
    assert results["hostname"].status is Status.FAIL
    assert "Gloo then falls back to the loopback address" in results["hostname"].message
    assert f"GLOO_SOCKET_IFNAME={NIC}" in (results["hostname"].remediation or "")


def test_hostname_resolving_to_a_foreign_address_fails_without_gloo_interface() -> None:
    env = guide_env(NODE0_IP, GLOO_SOCKET_IFNAME=None)
    result = run_check(net_interfaces, node0(env=env, resolves_to=("10.20.0.99",)).context())["hostname"]
    assert result.status is Status.FAIL
    assert "resolves to 10.20.0.99, not an address of this host" in result.message


def test_hostname_loopback_only_is_harmless_with_gloo_interface() -> None:
    results = run_check(net_interfaces, node0(resolves_to=("127.0.1.1",)).context())
    assert results["hostname"].status is Status.PASS
    assert "harmless" in results["hostname"].message


def test_dp_address_must_equal_hccl_if_ip_on_node0() -> None:
    # The script's --data-parallel-address is the management address of this very host.
    scenario = node0(node0_ip="192.168.100.11")
    results = run_check(net_interfaces, scenario.context())
    assert results["data-parallel-address"].status is Status.FAIL
    assert "differs from HCCL_IF_IP" in results["data-parallel-address"].message


def test_dp_address_not_local_on_rank0_fails() -> None:
    results = run_check(net_interfaces, node0(node_rank=0, node0_ip="10.20.0.50").context())
    assert results["data-parallel-address"].status is Status.FAIL
    assert "not an address of this host" in results["data-parallel-address"].message


def test_dp_address_unknown_is_skipped() -> None:
    results = run_check(net_interfaces, node0(node0_ip=None, node_rank=0).context())
    assert results["data-parallel-address"].status is Status.SKIP


def test_headless_node_has_no_dp_address_item() -> None:
    results = run_check(net_interfaces, node1().context())
    assert "data-parallel-address" not in results
    assert set(statuses(results).values()) == {Status.PASS}


# -- net.ports ----------------------------------------------------------------------------------------


def test_free_ports_pass() -> None:
    sockets = [
        ListeningSocket("tcp", "0.0.0.0", 22, 1187, "sshd"),
        ListeningSocket("tcp", "127.0.0.1", 13389),
    ]
    results = run_check(net_ports, node0(sockets=sockets).context())
    assert statuses(results) == {
        "api-port": Status.PASS,
        "rpc-port": Status.PASS,  # 127.0.0.1:13389 does not block a bind on 10.20.0.11
        "hccl-ports": Status.PASS,
        "vllm-running": Status.PASS,
    }


def test_busy_api_port_names_the_process() -> None:
    sockets = [ListeningSocket("tcp", "127.0.0.1", 8077, 4242, "python3")]
    result = run_check(net_ports, node0(sockets=sockets).context())["api-port"]
    assert result.status is Status.FAIL
    assert "127.0.0.1:8077 held by pid 4242 (python3)" in result.message
    assert result.remediation == "stop pid 4242 (kill 4242), or choose another --port"


@pytest.mark.parametrize("address", ["0.0.0.0", "::", NODE0_IP])
def test_busy_rpc_port_on_the_dp_address(address: str) -> None:
    sockets = [ListeningSocket("tcp6" if ":" in address else "tcp", address, 13389)]
    result = run_check(net_ports, node0(sockets=sockets).context())["rpc-port"]
    assert result.status is Status.FAIL
    assert "a process not visible here" in result.message
    assert f"free on {NODE0_IP}" in (result.expected or "")


def test_hccl_port_range_follows_hccl_if_base_port() -> None:
    sockets = [ListeningSocket("tcp", "0.0.0.0", 60005, 77, "java")]
    assert run_check(net_ports, node0(sockets=sockets).context())["hccl-ports"].status is Status.WARN
    moved = node0(sockets=sockets, env=guide_env(NODE0_IP, HCCL_IF_BASE_PORT="50000"))
    result = run_check(net_ports, moved.context())["hccl-ports"]
    assert result.status is Status.PASS
    assert "50000-50031" in result.message


def test_running_vllm_warns_with_pids() -> None:
    procs = [
        Process(900, "python3", ("/usr/bin/python3", "/usr/local/bin/vllm", "serve", "/models/GLM-5")),
        Process(901, "VLLM::EngineCore", ("VLLM::EngineCore",)),
        Process(902, "python3", ("python3", "-m", "glm5check", "--profile", "a2-multi")),
    ]
    result = run_check(net_ports, node0(processes=procs).context())["vllm-running"]
    assert result.status is Status.WARN
    assert "2 vLLM process(es)" in result.message
    assert result.remediation == "stop it before launching again: kill 900 901"


def test_vllm_process_recognition() -> None:
    assert is_vllm_process(Process(1, "python", ("python", "-m", "vllm.entrypoints.openai.api_server")))
    assert not is_vllm_process(Process(2, "bash", ("bash", "-c", "echo vllm")))
    assert not is_vllm_process(Process(3, "glm5check", ("/venv/bin/glm5check", "vllm", "serve")))


def test_headless_node_checks_no_api_or_rpc_port() -> None:
    sockets = [ListeningSocket("tcp", "0.0.0.0", 8077, 1, "nginx")]
    results = run_check(net_ports, node1(sockets=sockets).context())
    assert set(results) == {"hccl-ports", "vllm-running"}


def _single(**kwargs: object) -> Scenario:
    return Scenario(**{"env": {}, "nics": [lo(), MGMT], "profile": "a2-single", **kwargs})  # type: ignore[arg-type]


def test_single_node_checks_the_api_port_and_running_vllm() -> None:
    procs = [Process(900, "python3", ("/usr/bin/python3", "/usr/local/bin/vllm", "serve", "/models/GLM-5"))]
    sockets = [ListeningSocket("tcp", "0.0.0.0", 8077, 900, "python3")]
    results = run_check(net_ports, _single(sockets=sockets, processes=procs).context())
    assert statuses(results) == {"api-port": Status.FAIL, "vllm-running": Status.WARN}
    assert "0.0.0.0:8077 held by pid 900 (python3)" in results["api-port"].message
    idle = run_check(net_ports, _single().context())
    assert statuses(idle) == {"api-port": Status.PASS, "vllm-running": Status.PASS}


@pytest.mark.parametrize("port", [0, 65536, 99999])
def test_a_port_outside_the_tcp_range_fails_instead_of_being_free(port: int) -> None:
    results = run_check(net_ports, _single(plan_changes={"port": port}).context())
    assert results["api-port"].status is Status.FAIL
    assert results["api-port"].message == f"API port {port} is outside 1-65535: vllm serve cannot listen on it"
    rpc = run_check(net_ports, node0(plan_changes={"data_parallel_rpc_port": port}).context())["rpc-port"]
    assert rpc.status is Status.FAIL and "--data-parallel-rpc-port to a free port in 1-65535" in rpc.remediation


# -- net.node0 ----------------------------------------------------------------------------------------


def test_healthy_node1_reaches_node0() -> None:
    ctx = node1().context()
    assert ctx.fact(node_info).role == "headless"
    results = run_check(net_node0, ctx)
    assert statuses(results) == {"route": Status.PASS, "rpc-connect": Status.PASS}
    assert "refused the connection: node 0 is up" in results["rpc-connect"].message
    assert f"dev {NIC} src {NODE1_IP}" in (results["route"].observed or "")


def test_route_from_another_source_than_hccl_if_ip_fails() -> None:
    env = guide_env("192.168.100.12", "eth0")
    result = run_check(net_node0, node1(env=env).context())["route"]
    assert result.status is Status.FAIL
    assert "not from HCCL_IF_IP 192.168.100.12" in result.message
    assert result.remediation == (f"export HCCL_IF_IP={NODE1_IP} HCCL_SOCKET_IFNAME={NIC} GLOO_SOCKET_IFNAME={NIC}")


def test_no_route_fails_with_the_kernel_reason() -> None:
    scenario = node1(
        route=("", "RTNETLINK answers: Network is unreachable\n", 2),
        connect=ConnectResult(NODE0_IP, 13389, "unreachable", "Network is unreachable", 0),
    )
    results = run_check(net_node0, scenario.context())
    assert results["route"].status is Status.FAIL
    assert results["route"].message == f"no route to node 0 {NODE0_IP}: Network is unreachable"
    assert results["rpc-connect"].status is Status.FAIL
    assert "no route (Network is unreachable)" in results["rpc-connect"].message


def test_connect_timeout_fails_naming_interface_and_route() -> None:
    scenario = node1(connect=ConnectResult(NODE0_IP, 13389, "timeout", "no answer within 10 s", 10001))
    result = run_check(net_node0, scenario.context())["rpc-connect"]
    assert result.status is Status.FAIL
    assert f"dev {NIC} src {NODE1_IP}, {NIC} (up, MTU 1500)" in result.message
    assert "firewall" in (result.remediation or "")


def test_connect_accepted_passes() -> None:
    scenario = node1(connect=ConnectResult(NODE0_IP, 13389, "connected", "", 1))
    result = run_check(net_node0, scenario.context())["rpc-connect"]
    assert result.status is Status.PASS
    assert "already listening" in result.message


def test_node0_address_on_this_host_fails() -> None:
    scenario = node1(node_rank=1, nics=[lo(), FakeNic(NIC, (NODE0_IP,))], env=guide_env(NODE0_IP))
    results = run_check(net_node0, scenario.context())
    assert statuses(results) == {"address": Status.FAIL}
    assert "is on this host" in results["address"].message


def test_unknown_node0_address_is_skipped() -> None:
    results = run_check(net_node0, node1(node0_ip=None, node_rank=1).context())
    assert statuses(results) == {"address": Status.SKIP}


def test_subnet_fallback_when_ip_is_not_installed() -> None:
    results = run_check(net_node0, node1(route=None).context())
    assert results["route"].status is Status.PASS
    assert "subnet match" in (results["route"].observed or "")


def test_node0_given_as_a_name_is_resolved() -> None:
    scenario = node1(node0_ip="npu-a2-01", names={"npu-a2-01": [NODE0_IP]}, route_for=NODE0_IP)
    results = run_check(net_node0, scenario.context())
    assert statuses(results) == {"route": Status.PASS, "rpc-connect": Status.PASS}


def test_node0_name_that_does_not_resolve_fails() -> None:
    results = run_check(net_node0, node1(node0_ip="npu-a2-01", node_rank=1, names={"npu-a2-01": ()}).context())
    assert statuses(results) == {"address": Status.FAIL}
    assert "npu-a2-01" in results["address"].message and "does not resolve" in results["address"].message


def test_where_the_net_checks_apply() -> None:
    for check in (net_interfaces, net_node0):
        assert check.nodes == "multi"
        assert not check.applies(False, "single")
    assert net_node0.applies(True, "headless") and not net_node0.applies(True, "primary")
    assert all(
        net_ports.applies(multi, role) for multi, role in ((True, "primary"), (True, "headless"), (False, "single"))
    )


# -- the exports this node should use (fix-env uses the same provider) ---------------------------------


def test_suggestion_on_node0_is_node0_address() -> None:
    suggestion = node0(env={}).context().fact(suggested_node_env)
    assert suggestion is not None
    assert suggestion.exports == {
        "HCCL_IF_IP": NODE0_IP,
        "HCCL_SOCKET_IFNAME": NIC,
        "GLOO_SOCKET_IFNAME": NIC,
    }


def test_suggestion_on_node1_follows_the_route_to_node0() -> None:
    suggestion = node1(env={}).context().fact(suggested_node_env)
    assert suggestion is not None
    assert (suggestion.nic, suggestion.address) == (NIC, NODE1_IP)
    assert suggestion.reason == f"the route towards node 0 {NODE0_IP}"


def test_suggestion_without_node0_keeps_a_valid_hccl_if_ip() -> None:
    nics = [lo(), MGMT, FakeNic("ens5", ("10.30.0.7",))]
    suggestion = node0(env={"HCCL_IF_IP": "10.30.0.7"}, nics=nics, node0_ip=None).context().fact(suggested_node_env)
    assert suggestion is not None and (suggestion.nic, suggestion.address) == ("ens5", "10.30.0.7")


def test_suggestion_falls_back_to_the_only_up_nic_and_says_so() -> None:
    nics = [lo(), DOCKER, FakeNic("ens5", ("10.30.0.7",), operstate="down"), MGMT]
    suggestion = node0(env={}, nics=nics, node0_ip=None).context().fact(suggested_node_env)
    assert suggestion is not None and suggestion.nic == "eth0"
    assert suggestion.reason == "eth0 is the only up NIC with an address"


def test_no_guess_among_several_up_nics_the_fix_names_them() -> None:
    nics = [lo(), FakeNic(NIC, (NODE0_IP,)), MGMT, DOCKER]
    ctx = node0(env={}, nics=nics, node0_ip=None, node_rank=0).context()
    assert ctx.fact(suggested_node_env) is None
    results = run_check(net_interfaces, ctx)
    assert results["HCCL_IF_IP"].status is Status.FAIL
    fix = results["HCCL_IF_IP"].remediation or ""
    assert fix.startswith(f"export HCCL_IF_IP=<one of {NODE0_IP} ({NIC}), 192.168.100.11 (eth0): the one")
    assert "--node0-ip" in fix


def test_no_suggestion_without_a_usable_nic() -> None:
    assert node0(env={}, nics=[lo(), DOCKER], node0_ip=None).context().fact(suggested_node_env) is None
