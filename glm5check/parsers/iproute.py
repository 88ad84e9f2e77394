"""Parse iproute2's one-line answers (`ip -o route get ADDR`).

The kernel's answer to "how would a packet to ADDR leave this host" is one line such as

    10.231.0.1 dev enp189s0f0 src 10.231.0.2 uid 0 \\    cache
    8.8.8.8 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0 \\    cache
    local 10.231.0.2 dev lo src 10.231.0.2 uid 0 \\    cache <local>

or an error on stderr (`RTNETLINK answers: Network is unreachable`, exit status 2).
"""

from __future__ import annotations

from typing import NamedTuple

from glm5check.util.numbers import whole

# Route types `ip` prints before the destination; a plain unicast route has no type word.
_ROUTE_TYPES = frozenset(
    {"local", "broadcast", "multicast", "unreachable", "blackhole", "prohibit", "throw", "anycast", "nat"}
)
# Keys that take one value in the one-line format (flags such as `onlink` take none).
_VALUED_KEYS = frozenset({"via", "dev", "src", "from", "uid", "table", "proto", "metric", "mtu", "pref"})


class RouteLookup(NamedTuple):
    """The route the kernel picks towards `destination`; `error` is set when there is none."""

    destination: str | None = None
    route_type: str = "unicast"
    dev: str | None = None
    src: str | None = None
    via: str | None = None
    mtu: int | None = None
    error: str | None = None

    @property
    def found(self) -> bool:
        return self.error is None and self.dev is not None

    def describe(self) -> str:
        """`dev enp189s0f0 src 10.0.0.2 via 10.0.0.254` (the parts that are known)."""
        parts = [f"{key} {value}" for key, value in (("dev", self.dev), ("src", self.src), ("via", self.via)) if value]
        return " ".join(parts) if parts else "no route"


def parse_route_get(stdout: str, stderr: str = "") -> RouteLookup:
    """Read the first route line of `ip -o route get`; never raises."""
    error_line = next((ln.strip() for ln in stderr.splitlines() if ln.strip()), None)
    line = next((ln for ln in stdout.splitlines() if ln.strip()), "")
    # `-o` joins continuation lines with a backslash; only the first part holds the route.
    words = line.split("\\", 1)[0].split()
    if not words:
        return RouteLookup(error=_error_text(error_line) or "no output from ip route get")
    route_type = "unicast"
    if words[0] in _ROUTE_TYPES:
        route_type, words = words[0], words[1:]
    if not words:
        return RouteLookup(route_type=route_type, error=f"cannot read route line {line.strip()!r}")
    destination, fields = words[0], _fields(words[1:])
    mtu = fields.get("mtu")
    return RouteLookup(
        destination=destination,
        route_type=route_type,
        dev=fields.get("dev"),
        src=fields.get("src"),
        via=fields.get("via"),
        mtu=whole(mtu, digits=9),
        error=_route_error(route_type, fields, line),
    )


def _route_error(route_type: str, fields: dict[str, str], line: str) -> str | None:
    if route_type in ("unreachable", "blackhole", "prohibit"):
        return f"route is {route_type}"
    # `ip route get` always names the device of a usable route; a line without one was not understood.
    return None if fields.get("dev") else f"cannot read route line {line.strip()[:120]!r}"


def _fields(words: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    index = 0
    while index < len(words):
        key = words[index]
        if key in _VALUED_KEYS and index + 1 < len(words):
            fields.setdefault(key, words[index + 1])
            index += 2
        else:
            index += 1
    return fields


def _error_text(line: str | None) -> str | None:
    if not line:
        return None
    for prefix in ("RTNETLINK answers:", "Error:"):
        if line.startswith(prefix):
            return line[len(prefix) :].strip() or line
    return line
