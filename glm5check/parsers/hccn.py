"""Parsers for `hccn_tool -i N -<command> -g` outputs and `/etc/hccn.conf`.

Each sub-command prints its own key style (`link status: UP`, `ipaddr:10.0.0.2`, `netdetect address: x`,
`default gateway:x, Iface:ethN`, `dev_id:0, tls switch[0](...)`). Operators often loop over devices
(`for i in {0..7}; do hccn_tool -i $i -link -g; done`), which concatenates outputs without separators, so
every parser returns all the values it found, in order; a session transcript's command lines
(`... hccn_tool -i 3 -ip -g`) tell which device the following lines belong to. Pure functions that never
raise; what cannot be read is None and the line is listed in `unread`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from glm5check.util.lazyre import lazy
from glm5check.util.numbers import decimal, whole

_COMMAND_RE = lazy(r"hccn_tool\b.*?-i\s+(\d+)")

_ZONE = lazy(r"[A-Za-z0-9_.-]{1,64}")  # an interface name (Linux: 15 characters at most) or index


def valid_ip(text: str | None) -> str | None:
    """The address when it is a real IPv4/IPv6 address (masked `10.xx.xx.10` is unknown). An IPv6 zone must
    be an interface name or number: ipaddress takes any text after `%` (`fe80::1%$(id)`), which another
    node's command line would then carry."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    zone = getattr(address, "scope_id", None)
    return str(address) if zone is None or _ZONE.fullmatch(zone) else None


def _lines(text: str) -> list[str]:
    return text.splitlines() if isinstance(text, str) else []


class Values(NamedTuple):
    """A single-key sub-command (`-link`, `-net_health`, `-netdetect`): each value found, with the device
    when a command line or `[devid N]` prefix said which one (else None)."""

    values: tuple[tuple[int | None, str], ...] = ()
    unread: tuple[str, ...] = ()

    @property
    def value(self) -> str | None:
        """The value of a single-device output; None when there is none or several differing ones."""
        distinct = {v for _, v in self.values}
        return distinct.pop() if len(distinct) == 1 else None


def _parse_values(text: str, pattern: re.Pattern[str]) -> Values:
    values: list[tuple[int | None, str]] = []
    unread: list[str] = []
    device: int | None = None
    for line in _lines(text):
        if not line.strip():
            continue
        command = _COMMAND_RE.search(line)
        if command:
            device = whole(command.group(1))
            continue
        match = pattern.search(line)
        if match:
            values.append((device, match.group(1).strip()))
        else:
            unread.append(line)
    return Values(tuple(values), tuple(unread))


_LINK_RE = lazy(r"link status\s*:\s*(\S+)", re.IGNORECASE)
_HEALTH_RE = lazy(r"net health status\s*:\s*(\S+)", re.IGNORECASE)
_NETDETECT_RE = lazy(r"netdetect address\s*:\s*(\S+)", re.IGNORECASE)


def parse_link(text: str) -> Values:
    """`hccn_tool -i N -link -g`: `link status: UP` / `DOWN`."""
    return _parse_values(text, _LINK_RE)


def parse_net_health(text: str) -> Values:
    """`hccn_tool -i N -net_health -g`: `net health status: Success` (or Init, Fault, ...)."""
    return _parse_values(text, _HEALTH_RE)


def parse_netdetect(text: str) -> Values:
    """`hccn_tool -i N -netdetect -g`: `netdetect address: <ip>`."""
    return _parse_values(text, _NETDETECT_RE)


class IpEntry(NamedTuple):
    device: int | None
    address: str | None  # None when absent or masked
    netmask: str | None


class IpOutput(NamedTuple):
    entries: tuple[IpEntry, ...] = ()
    unread: tuple[str, ...] = ()

    @property
    def address(self) -> str | None:
        return self.entries[0].address if len(self.entries) == 1 else None

    @property
    def netmask(self) -> str | None:
        return self.entries[0].netmask if len(self.entries) == 1 else None


def parse_ip(text: str) -> IpOutput:
    """`hccn_tool -i N -ip -g`: `ipaddr:<ip>` then `netmask:<mask>` (no space after the colon)."""
    entries: list[IpEntry] = []
    unread: list[str] = []
    device: int | None = None
    for line in _lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        command = _COMMAND_RE.search(stripped)
        key, sep, value = stripped.partition(":")
        if command:
            device = whole(command.group(1))
        elif sep and key.strip() == "ipaddr":
            entries.append(IpEntry(device, valid_ip(value), None))
            if entries[-1].address is None:
                unread.append(line)
        elif sep and key.strip() == "netmask" and entries and entries[-1].netmask is None:
            entries[-1] = IpEntry(entries[-1].device, entries[-1].address, valid_ip(value))
        else:
            unread.append(line)
    return IpOutput(tuple(entries), tuple(unread))


class GatewayEntry(NamedTuple):
    gateway: str | None
    interface: str | None


class GatewayOutput(NamedTuple):
    entries: tuple[GatewayEntry, ...] = ()
    unread: tuple[str, ...] = ()

    @property
    def gateway(self) -> str | None:
        return self.entries[0].gateway if len(self.entries) == 1 else None


_GATEWAY_RE = lazy(r"default gateway\s*:\s*([^,\s]+)\s*(?:,\s*Iface\s*:\s*(\S+))?", re.IGNORECASE)


def parse_gateway(text: str) -> GatewayOutput:
    """`hccn_tool -i N -gateway -g`: `default gateway:<ip>, Iface:ethN`."""
    entries: list[GatewayEntry] = []
    unread: list[str] = []
    for line in _lines(text):
        if not line.strip():
            continue
        match = _GATEWAY_RE.search(line)
        if match:
            entries.append(GatewayEntry(valid_ip(match.group(1)), match.group(2)))
        else:
            unread.append(line)
    return GatewayOutput(tuple(entries), tuple(unread))


@dataclass(frozen=True)
class LldpOutput:
    """`hccn_tool -i N -lldp -g`: TLV name -> value lines; `Ifname` values (the switch port) on their own."""

    tlvs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ifnames: tuple[str, ...] = ()
    unread: tuple[str, ...] = ()


def parse_lldp(text: str) -> LldpOutput:
    tlvs: dict[str, list[str]] = {}
    ifnames: list[str] = []
    unread: list[str] = []
    current: str | None = None
    for line in _lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == "...":
            unread.append(line)
            continue
        if stripped.startswith("Ifname:"):
            ifnames.append(stripped.partition(":")[2].strip())
        if not line[0].isspace() and stripped.endswith("TLV"):
            current = stripped[: -len("TLV")].strip()
            tlvs.setdefault(current, [])
        elif current is not None:
            tlvs[current].append(stripped)
        elif not stripped.startswith("Ifname:"):
            unread.append(line)
    return LldpOutput({k: tuple(v) for k, v in tlvs.items()}, tuple(ifnames), tuple(unread))


class TlsCert(NamedTuple):
    kind: str  # pub cert, ca1 cert, ca2 cert, crl
    subject: str | None = None
    issuer: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    expiration_status: int | None = None  # 0 normal, 1 near expiration, 2 has expired (new format only)


class TlsDevice(NamedTuple):
    device: int | None
    switch: int | None  # 0 disabled, 1 enabled
    preconfigured: int | None = None  # new format only
    alarm_days: int | None = None
    certs: tuple[TlsCert, ...] = ()


class TlsOutput(NamedTuple):
    devices: tuple[TlsDevice, ...] = ()
    unread: tuple[str, ...] = ()

    @property
    def switch(self) -> int | None:
        switches = {d.switch for d in self.devices}
        return switches.pop() if len(switches) == 1 else None


_TLS_SWITCH_RE = lazy(r"dev_id\s*:\s*(\d+)\s*,\s*tls switch\[(\d+)\]")
_TLS_PRESET_RE = lazy(r"tls preconfigured\[(\d+)\]")
_TLS_ALARM_RE = lazy(r"alarm time threshold\[(\d+)\]")
_TLS_CERT_RE = lazy(r"dev_id\s*:\s*(\d+)\s*,\s*\[([^\]]+)\]\s*info")
_TLS_FIELD_RE = lazy(r"^(subject|issuer|start_time|end_time|tls expiration status)\[(.*)\]")


def _tls_field(cert: TlsCert, name: str, value: str) -> TlsCert:
    text = value or None
    if name == "tls expiration status":
        return cert._replace(expiration_status=whole(value.split("]")[0]))
    if name == "subject":
        return cert._replace(subject=text)
    if name == "issuer":
        return cert._replace(issuer=text)
    if name == "start_time":
        return cert._replace(start_time=text)
    return cert._replace(end_time=text)


def parse_tls(text: str) -> TlsOutput:
    """`hccn_tool -i N -tls -g` in the old (switch + certs) and new (preconfigured, subject, expiration
    status, crl) formats, or just its `grep switch` lines."""
    devices: list[TlsDevice] = []
    unread: list[str] = []
    for line in _lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        switch = _TLS_SWITCH_RE.search(stripped)
        cert = _TLS_CERT_RE.search(stripped)
        field_match = _TLS_FIELD_RE.match(stripped)
        if switch:
            preset = _TLS_PRESET_RE.search(stripped)
            alarm = _TLS_ALARM_RE.search(stripped)
            devices.append(
                TlsDevice(
                    device=whole(switch.group(1)),
                    switch=whole(switch.group(2)),
                    preconfigured=whole(preset.group(1)) if preset else None,
                    alarm_days=whole(alarm.group(1)) if alarm else None,
                )
            )
        elif cert and devices and devices[-1].device == whole(cert.group(1)):
            last = devices[-1]
            devices[-1] = last._replace(certs=(*last.certs, TlsCert(cert.group(2))))
        elif field_match and devices and devices[-1].certs:
            last = devices[-1]
            updated = _tls_field(last.certs[-1], field_match.group(1), field_match.group(2))
            devices[-1] = last._replace(certs=(*last.certs[:-1], updated))
        else:
            unread.append(line)
    return TlsOutput(tuple(devices), tuple(unread))


class PingRun(NamedTuple):
    device: int | None
    target: str | None
    replies: int = 0  # `recv seq=N,time=...ms` lines
    transmitted: int | None = None
    received: int | None = None
    loss_pct: float | None = None

    @property
    def ok(self) -> bool | None:
        """True when every packet came back; None when the summary line is missing."""
        if self.transmitted is None or self.received is None:
            return None
        return self.transmitted > 0 and self.received == self.transmitted


class PingOutput(NamedTuple):
    runs: tuple[PingRun, ...] = ()
    unread: tuple[str, ...] = ()


_PING_HEAD_RE = lazy(r"device\s+(\d+)\s+PING\s+(\S+)", re.IGNORECASE)
_PING_RECV_RE = lazy(r"recv\s+seq=\d+", re.IGNORECASE)
_PING_SUMMARY_RE = lazy(r"(\d+)\s+packets transmitted,\s*(\d+)\s+received,\s*([\d.]+)%\s+packet loss", re.IGNORECASE)


def parse_ping(text: str) -> PingOutput:
    """`hccn_tool -i N -ping -g address IP`: `device N PING ip`, `recv seq=...` lines, a summary."""
    runs: list[PingRun] = []
    unread: list[str] = []
    for line in _lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        head = _PING_HEAD_RE.search(stripped)
        summary = _PING_SUMMARY_RE.search(stripped)
        if head:
            runs.append(PingRun(whole(head.group(1)), valid_ip(head.group(2))))
        elif _PING_RECV_RE.search(stripped) and runs:
            runs[-1] = runs[-1]._replace(replies=runs[-1].replies + 1)
        elif summary:
            base = runs.pop() if runs and runs[-1].transmitted is None else PingRun(None, None)
            loss = summary.group(3)
            runs.append(
                base._replace(
                    transmitted=whole(summary.group(1)),
                    received=whole(summary.group(2)),
                    loss_pct=decimal(loss),
                )
            )
        else:
            unread.append(line)
    return PingOutput(tuple(runs), tuple(unread))


@dataclass(frozen=True)
class HccnConf:
    """`/etc/hccn.conf`: per device number, its keys without the `_N` suffix (address, netmask, netdetect,
    gateway, send_arp_status, tls_enable, arp)."""

    devices: dict[int, dict[str, str]] = field(default_factory=dict)
    unread: tuple[str, ...] = ()

    def address(self, device: int) -> str | None:
        return valid_ip(self.devices.get(device, {}).get("address"))


_CONF_RE = lazy(r"^\s*([A-Za-z_]+?)_(\d+)\s*=\s*(.*?)\s*$")


def parse_hccn_conf(text: str) -> HccnConf:
    devices: dict[int, dict[str, str]] = {}
    unread: list[str] = []
    for line in _lines(text):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _CONF_RE.match(line)
        device = whole(match.group(2)) if match else None
        if match and device is not None:
            devices.setdefault(device, {})[match.group(1)] = match.group(3)
        else:
            unread.append(line)
    return HccnConf(devices, tuple(unread))
