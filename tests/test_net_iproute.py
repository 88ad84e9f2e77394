"""`ip -o route get` parsing, on outputs captured from iproute2 6.1.0 (Debian 12) in network namespaces."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from glm5check.parsers.iproute import parse_route_get

# Captured with `ip netns exec NS ip -o route get ADDR` (two namespaces joined by a veth pair).
DIRECT = "10.231.0.1 dev enp189s0f0 src 10.231.0.2 uid 0 \\    cache \n"
LOCAL = "local 10.231.0.2 dev lo src 10.231.0.2 uid 0 \\    cache <local> \n"
BROADCAST = "broadcast 10.231.0.255 dev enp189s0f0 src 10.231.0.2 uid 0 \\    cache <local,brd> \n"
GATEWAY = "8.8.8.8 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0 \\    cache \n"
IPV6 = "fe80::1 from :: dev enp189s0f0 proto kernel metric 256 pref medium\n"
UNREACHABLE_STDERR = "RTNETLINK answers: Network is unreachable\n"
BAD_PREFIX_STDERR = 'Error: any valid prefix is expected rather than "bogus".\n'


def test_direct_route_gives_dev_and_src() -> None:
    route = parse_route_get(DIRECT)
    assert route.found
    assert (route.destination, route.dev, route.src, route.via) == (
        "10.231.0.1",
        "enp189s0f0",
        "10.231.0.2",
        None,
    )
    assert route.route_type == "unicast"
    assert route.describe() == "dev enp189s0f0 src 10.231.0.2"


def test_gateway_route_gives_via() -> None:
    route = parse_route_get(GATEWAY)
    assert (route.dev, route.src, route.via) == ("eth0", "192.0.2.2", "192.0.2.1")
    assert route.describe() == "dev eth0 src 192.0.2.2 via 192.0.2.1"


def test_local_and_broadcast_types() -> None:
    assert parse_route_get(LOCAL).route_type == "local"
    assert parse_route_get(LOCAL).dev == "lo"
    assert parse_route_get(BROADCAST).route_type == "broadcast"


def test_ipv6_line_has_from_but_no_src() -> None:
    route = parse_route_get(IPV6)
    assert (route.dev, route.src) == ("enp189s0f0", None)


def test_errors_come_from_stderr() -> None:
    route = parse_route_get("", UNREACHABLE_STDERR)
    assert not route.found
    assert route.error == "Network is unreachable"
    assert parse_route_get("", BAD_PREFIX_STDERR).error.startswith("any valid prefix is expected")
    assert parse_route_get("", "").error == "no output from ip route get"


def test_unreachable_route_type_is_not_found() -> None:
    route = parse_route_get("unreachable 10.9.9.9 dev lo table main src 10.0.0.1 uid 0 \\    cache \n")
    assert route.route_type == "unreachable"
    assert not route.found


@given(st.text(), st.text())
def test_never_raises(stdout: str, stderr: str) -> None:
    parse_route_get(stdout, stderr)


def test_mtu_that_int_refuses_is_unknown() -> None:
    for mtu in ("1500\u00b2", "9" * 5000):
        lookup = parse_route_get(f"10.0.0.1 dev eth0 src 10.0.0.2 mtu {mtu} uid 0 \\    cache")
        assert lookup.found and lookup.mtu is None
