"""The hccn_tool and /etc/hccn.conf parsers against every real sample in fixtures/hccn*/ (expectations
read off the samples by hand), plus property tests: the parsers never raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glm5check.parsers import hccn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def read(folder: str, name: str) -> str:
    return (FIXTURES / folder / name).read_text(encoding="utf-8")


LINKS = {
    "dsv3-multinode-doc-link-loop-elided.txt": (["UP", "UP"], "UP", ["..."]),
    "mindcluster-code-comment-link-DOWN.txt": (["DOWN"], "DOWN", []),
    "mindcluster-doc-link-UP.txt": (["UP"], "UP", []),
}


@pytest.mark.parametrize("name", sorted(LINKS))
def test_link(name: str) -> None:
    values, value, unread = LINKS[name]
    parsed = hccn.parse_link(read("hccn_tool-link", name))
    assert [v for _, v in parsed.values] == values and parsed.value == value and list(parsed.unread) == unread


HEALTH = {
    "dsv3-multinode-doc-net_health-loop-Success-elided.txt": (["Success", "Success"], ["..."]),
    "mindcluster-doc-net_health-Init.txt": (["Init"], []),
    "mindcluster-doc-net_health-Success.txt": (["Success"], []),
}


@pytest.mark.parametrize("name", sorted(HEALTH))
def test_net_health(name: str) -> None:
    values, unread = HEALTH[name]
    parsed = hccn.parse_net_health(read("hccn_tool-net_health", name))
    assert [v for _, v in parsed.values] == values and list(parsed.unread) == unread


def test_netdetect_loop() -> None:
    parsed = hccn.parse_netdetect(read("hccn_tool-netdetect", "dsv3-multinode-doc-netdetect-loop-elided.txt"))
    assert [v for _, v in parsed.values] == ["11.12.165.1", "11.12.165.1"] and parsed.value == "11.12.165.1"
    assert parsed.unread == ("...",)


IPS = {
    "arthurchiao-blog-ip-g-i3.txt": [(None, "29.1.112.213", "255.255.0.0")],
    "llmaction-ip-g-i3.txt": [(None, "10.20.11.24", "255.255.255.0")],
    "mindcluster-doc-ip-g-masked.txt": [(None, None, "255.255.255.0")],  # "10.xx.xx.10" is not an address
    "mindcluster-fixture-ip-g-dev0-192.1.45.172.txt": [(None, "192.1.45.172", "255.255.0.0")],
    "mindcluster-fixture-ip-g-8dev-session-with-commands.txt": [
        (0, "192.1.45.172", "255.255.0.0"),
        (1, "192.2.167.33", "255.255.0.0"),
        (2, "192.3.103.252", "255.255.0.0"),
        (3, "192.4.166.202", "255.255.0.0"),
        (4, "192.1.157.81", "255.255.0.0"),
        (5, "192.2.8.198", "255.255.0.0"),
        (6, "192.3.26.213", "255.255.0.0"),
        (7, "192.4.32.120", "255.255.0.0"),
    ],
}


@pytest.mark.parametrize("name", sorted(IPS))
def test_ip(name: str) -> None:
    parsed = hccn.parse_ip(read("hccn_tool-ip", name))
    assert [(e.device, e.address, e.netmask) for e in parsed.entries] == IPS[name]
    assert parsed.unread == (("ipaddr:10.xx.xx.10",) if "masked" in name else ())


def test_gateway_loop() -> None:
    parsed = hccn.parse_gateway(read("hccn_tool-gateway", "dsv3-multinode-doc-gateway-loop-8dev.txt"))
    assert [(e.gateway, e.interface) for e in parsed.entries] == [("11.12.165.1", f"eth{n}") for n in range(8)]
    assert parsed.gateway is None  # eight answers: not one device's
    assert hccn.parse_gateway("default gateway:11.12.165.1, Iface:eth0\n").gateway == "11.12.165.1"


def test_lldp_full_and_grepped() -> None:
    full = hccn.parse_lldp(read("hccn_tool-lldp", "arthurchiao-blog-lldp-g-i3-partially-masked.txt"))
    assert full.ifnames == ("400GE1/1/20:2",)
    assert full.tlvs["Maximum Frame Size"] == ("9216",)
    assert "Huarong DX511" in full.tlvs["System Description"]
    assert full.unread == ("...",)
    grepped = hccn.parse_lldp(read("hccn_tool-lldp", "dsv3-multinode-doc-lldp-grep-Ifname-8dev.txt"))
    assert grepped.ifnames == tuple(f"400GE1/{n}/5:{p}" for n in range(1, 5) for p in (1, 2))


def test_tls_grep_switch_loop() -> None:
    parsed = hccn.parse_tls(read("hccn_tool-tls", "dsv3-multinode-doc-tls-loop-grep-switch-8dev.txt"))
    assert [(d.device, d.switch, d.preconfigured, d.alarm_days) for d in parsed.devices] == [
        (n, 0, 1, 60) for n in range(8)
    ]
    assert parsed.switch == 0


def test_tls_single_switch_line() -> None:
    parsed = hccn.parse_tls(read("hccn_tool-tls", "mindcluster-doc-tls-g-grep-switch.txt"))
    assert [(d.device, d.switch, d.preconfigured) for d in parsed.devices] == [(0, 0, 1)]


def test_tls_old_format_with_certificates() -> None:
    parsed = hccn.parse_tls(read("hccn_tool-tls", "hccl-doc-tls-g-loop-2dev-full-old-format-elided.txt"))
    assert [(d.device, d.switch, d.preconfigured) for d in parsed.devices] == [(0, 0, None), (1, 0, None)]
    certs = parsed.devices[1].certs
    assert [c.kind for c in certs] == ["pub cert", "ca1 cert", "ca2 cert"]
    assert certs[0].issuer == "/C=CN/ST=GD/O=HUAWEI/OU=2012/CN=2_1thCA"
    assert certs[2].end_time == "Sat Feb 16 03:19:10 2030 GMT"
    assert all(c.subject is None and c.expiration_status is None for c in certs)


def test_tls_new_format_with_crl() -> None:
    parsed = hccn.parse_tls(read("hccn_tool-tls", "hccn-tool-ref-doc-tls-g-i0-new-format-subject-expiration-crl.txt"))
    (device,) = parsed.devices
    assert (device.device, device.switch, device.preconfigured, device.alarm_days) == (0, 0, 0, 60)
    assert [(c.kind, c.expiration_status) for c in device.certs] == [
        ("pub cert", 0),
        ("ca1 cert", 0),
        ("ca2 cert", 0),
        ("crl", 1),
    ]
    assert device.certs[0].subject == "/C=CN/O=xxx/CN=www.xxx.com"
    assert device.certs[3].subject is None and device.certs[1].end_time == "Thu Feb  3 03:10:27 2056 GMT"
    assert parsed.unread == ()


PINGS = {
    "arthurchiao-blog-ping-i3.txt": [(3, "29.1.137.205")],
    "llmaction-ping-i3-ok.txt": [(3, "10.20.11.16")],
    "dsv3-multinode-doc-ping-loop-8dev-ok.txt": [(n, "11.12.165.80") for n in range(8)],
}


@pytest.mark.parametrize("name", sorted(PINGS))
def test_ping(name: str) -> None:
    parsed = hccn.parse_ping(read("hccn_tool-ping", name))
    assert [(r.device, r.target) for r in parsed.runs] == PINGS[name]
    assert all((r.replies, r.transmitted, r.received, r.loss_pct, r.ok) == (3, 3, 3, 0.0, True) for r in parsed.runs)


def test_ping_with_losses_is_not_ok() -> None:
    text = "device 0 PING 10.0.0.2\n3 packets transmitted, 0 received, 100.00% packet loss\n"
    (run,) = hccn.parse_ping(text).runs
    assert (run.received, run.loss_pct, run.ok) == (0, 100.0, False)
    assert hccn.parse_ping("device 0 PING 10.0.0.2\n").runs[0].ok is None


def test_hccn_conf_8npu() -> None:
    conf = hccn.parse_hccn_conf(read("hccn-conf", "openyuanrong-fixture-hccn-conf-8npu-SANITIZED-127.0.0.x.txt"))
    assert sorted(conf.devices) == list(range(8))
    assert [conf.address(n) for n in range(8)] == [
        "127.0.0.45",
        "127.0.0.226",
        "127.0.0.83",
        "127.0.0.190",
        "127.0.0.208",
        "127.0.0.247",
        "127.0.0.118",
        "127.0.0.223",
    ]
    assert conf.devices[5] == {
        "address": "127.0.0.247",
        "netmask": "255.255.0.0",
        "netdetect": "127.0.0.1",
        "gateway": "127.0.0.1",
        "send_arp_status": "1",
        "tls_enable": "0",
    }


def test_hccn_conf_16npu_with_arp() -> None:
    conf = hccn.parse_hccn_conf(read("hccn-conf", "openyuanrong-fixture-hccn-conf-16npu-arp-SANITIZED-127.0.0.x.txt"))
    assert sorted(conf.devices) == list(range(16)) and conf.unread == ()
    assert conf.devices[0]["arp"] == "-i eth0 -s 127.0.0.114 bc:1e:85:d8:ca:dd"
    assert conf.devices[15]["netmask"] == "255.255.128.0" and conf.address(15) == "127.0.0.94"


def test_hccn_conf_elided() -> None:
    conf = hccn.parse_hccn_conf(read("hccn-conf", "arthurchiao-blog-hccn-conf-with-netdetect-gateway-arp-elided.txt"))
    assert sorted(conf.devices) == [0, 7] and conf.unread == ("...",)
    assert (conf.address(0), conf.address(7)) == ("29.1.137.205", "29.1.170.143")
    assert conf.devices[7]["gateway"] == "29.1.0.1"
    assert conf.address(3) is None


def test_every_sample_is_covered() -> None:
    covered = {
        "hccn_tool-link": LINKS,
        "hccn_tool-net_health": HEALTH,
        "hccn_tool-ip": IPS,
        "hccn_tool-ping": PINGS,
    }
    for folder, cases in covered.items():
        assert sorted(p.name for p in (FIXTURES / folder).iterdir()) == sorted(cases), folder
    assert len(list((FIXTURES / "hccn_tool-tls").iterdir())) == 4
    assert len(list((FIXTURES / "hccn-conf").iterdir())) == 3


# -- never raises -----------------------------------------------------------------------------------------

SAMPLES = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("hccn*/*"))]
PARSERS = [
    hccn.parse_link,
    hccn.parse_net_health,
    hccn.parse_netdetect,
    hccn.parse_ip,
    hccn.parse_gateway,
    hccn.parse_lldp,
    hccn.parse_tls,
    hccn.parse_ping,
    hccn.parse_hccn_conf,
]


@st.composite
def mutated_samples(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SAMPLES)).splitlines()
    for _ in range(draw(st.integers(0, 5))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        if draw(st.booleans()):
            del lines[index]
        else:
            lines[index] = draw(st.text(st.sampled_from("[]():,=._- 0123456789abxdevidtls\t"), max_size=80))
    return "\n".join(lines)


@given(st.one_of(st.text(), mutated_samples()))
def test_parsers_never_raise(text: str) -> None:
    for parse in PARSERS:
        parse(text)


@pytest.mark.parametrize("number", ["²", "9" * 5000], ids=["superscript", "5000-digits"])
def test_numbers_int_refuses_are_unknown_not_raised(number: str) -> None:
    text = "\n".join(
        [
            f"hccn_tool -i {number} -ip -g",
            "ipaddr:10.0.0.2",
            f"dev_id:{number}, tls switch[{number}]",
            f"device {number} PING 10.0.0.3",
            f"{number} packets transmitted, {number} received, 0% packet loss",
            f"address_{number}=10.0.0.2",
            f"[devid {number}] link status: UP",
        ]
    )
    for parse in PARSERS:
        parse(text)
    assert hccn.parse_hccn_conf(f"address_{'9' * 5000}=10.0.0.2").devices == {}
