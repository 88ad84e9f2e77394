"""The host layer: the only code that reads the machine.

`Host` is implemented live (glm5check.host.live), recording (glm5check.host.record) and from a snapshot
(glm5check.host.replay). Every answer is a named tuple (immutable, and built at import far faster than a
frozen dataclass: this module is imported by every run) so that it can be written to a snapshot and read
back identically (glm5check.host.snapshot.plain turns one into JSON). Failures are data (`error`,
`timed_out`, `not_found`), never exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

DEFAULT_TIMEOUT_S = 10.0
OUTPUT_CAP_BYTES = 4 * 1024 * 1024
FILE_CAP_BYTES = 4 * 1024 * 1024

# Paths searched after PATH for Ascend tools: npu-smi and hccn_tool are often not on a container's PATH.
ASCEND_TOOL_DIRS = (
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/local/Ascend/driver/tools",
    "/usr/local/dcmi",
)


class CommandResult(NamedTuple):
    argv: tuple[str, ...]
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    not_found: bool = False
    error: str | None = None
    truncated: bool = False
    timeout_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.error is None

    @property
    def killed(self) -> bool:
        """Ended by a signal it did not handle (not by glm5check's timeout): what it printed is not used."""
        return self.exit_code is not None and self.exit_code < 0

    @property
    def output(self) -> str:
        """stdout and stderr together, for tools that print errors on stdout (npu-smi does)."""
        return self.stdout + ("\n" + self.stderr if self.stderr.strip() else "")

    def describe_failure(self) -> str:
        """One line saying why the command did not answer properly; empty when it did."""
        cmd = " ".join(self.argv)
        if self.not_found:
            return f"{self.argv[0]}: command not found"
        if self.timed_out:
            limit = "its timeout" if self.timeout_s is None else f"{self.timeout_s:g} s"
            return f"`{cmd}` did not answer within {limit} and was killed"
        if self.killed:
            return f"`{cmd}` was {self.error or f'killed by signal {-(self.exit_code or 0)}'}"
        if self.error:
            return f"`{cmd}` could not run: {self.error}"
        if self.exit_code != 0:
            first = next((ln.strip() for ln in self.output.splitlines() if ln.strip()), "no output")
            return f"`{cmd}` exited with status {self.exit_code}: {first[:200]}"
        if self.truncated:
            return f"`{cmd}` printed more than {OUTPUT_CAP_BYTES // 2**20} MiB; its output was cut off and not read"
        return ""


class CapturedRun(NamedTuple):
    """A finished subprocess with its output as raw bytes: what the live runner captured, before decoding.
    `stopped` is set when the caller's stop event ended it early (an interrupt), not its timeout."""

    argv: tuple[str, ...]
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False
    not_found: bool = False
    error: str | None = None
    truncated: bool = False
    timeout_s: float | None = None
    stopped: bool = False

    def decoded(self) -> CommandResult:
        """The answer as checks see it: text decoded from UTF-8 with replacement."""
        return CommandResult(
            argv=self.argv,
            exit_code=self.exit_code,
            stdout=self.stdout.decode("utf-8", errors="replace"),
            stderr=self.stderr.decode("utf-8", errors="replace"),
            timed_out=self.timed_out,
            not_found=self.not_found,
            error=self.error,
            truncated=self.truncated,
            timeout_s=self.timeout_s,
        )


class FileRead(NamedTuple):
    path: str
    text: str | None = None
    error: str | None = None
    truncated: bool = False

    @property
    def exists(self) -> bool:
        return self.error != "missing"


class BytesRead(NamedTuple):
    path: str
    offset: int
    length: int
    data: bytes | None = None
    error: str | None = None


class DirListing(NamedTuple):
    path: str
    entries: tuple[str, ...] | None = None
    error: str | None = None


class StatInfo(NamedTuple):
    path: str
    kind: str | None = None  # file, dir, link, char, block, fifo, socket, other; None when missing
    size: int | None = None
    mode: int | None = None
    uid: int | None = None
    mtime: float | None = None
    link_target: str | None = None
    error: str | None = None

    @property
    def exists(self) -> bool:
        return self.kind is not None


class DiskUsage(NamedTuple):
    path: str
    total_bytes: int | None = None
    used_bytes: int | None = None
    free_bytes: int | None = None
    error: str | None = None


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str
    options: str = ""


class Address(NamedTuple):
    family: str  # ipv4, ipv6, mac
    address: str
    netmask: str | None = None


class Interface(NamedTuple):
    name: str
    is_up: bool | None = None
    mtu: int | None = None
    speed_mbps: int | None = None
    addresses: tuple[Address, ...] = ()


class ListeningSocket(NamedTuple):
    protocol: str  # tcp, tcp6, udp, udp6
    address: str
    port: int
    pid: int | None = None
    process: str | None = None


class Resources(NamedTuple):
    cpu_count: int | None = None  # logical CPUs this process may run on (affinity)
    cpu_count_total: int | None = None
    mem_total_bytes: int | None = None
    mem_available_bytes: int | None = None
    nofile_soft: int | None = None  # -1 means unlimited, None unknown
    nofile_hard: int | None = None


class Process(NamedTuple):
    pid: int
    name: str
    cmdline: tuple[str, ...] = ()


class ConnectResult(NamedTuple):
    address: str
    port: int
    outcome: str  # connected, refused, timeout, unreachable, error
    detail: str = ""
    elapsed_ms: int | None = None


class ProbeValue(NamedTuple):
    """The answer of a custom structured probe (e.g. a git repository read with gitpython)."""

    kind: str
    key: str
    value: Any = None
    error: str | None = None
    timed_out: bool = False


class Host(Protocol):
    """What checks may ask of a machine. Live, recording and replay hosts answer the same way."""

    timeout_s: float

    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult: ...

    def which(self, name: str, extra_dirs: Sequence[str] = ()) -> str | None: ...

    def read_file(self, path: str) -> FileRead: ...

    def read_bytes(self, path: str, offset: int, length: int) -> BytesRead: ...

    def list_dir(self, path: str) -> DirListing: ...

    def stat(self, path: str) -> StatInfo: ...

    def env(self) -> dict[str, str]: ...

    def disk_usage(self, path: str) -> DiskUsage: ...

    def mounts(self) -> tuple[Mount, ...]: ...

    def interfaces(self) -> tuple[Interface, ...]: ...

    def listening_sockets(self) -> tuple[ListeningSocket, ...]: ...

    def processes(self) -> tuple[Process, ...]: ...

    def resources(self) -> Resources: ...

    def hostname(self) -> str: ...

    def resolve(self, name: str) -> tuple[str, ...]: ...

    def tcp_connect(self, address: str, port: int, timeout_s: float | None = None) -> ConnectResult: ...

    def probe(self, kind: str, key: str, func: Callable[[], Any], timeout_s: float | None = None) -> ProbeValue: ...

    def recall(self, kind: str, subject: str, code: str) -> Any:
        """A result computed earlier from subject (a folder) by the code hashed as `code`, when the host can
        vouch that nothing it was computed from changed: a replay's snapshot digest, a live run's scan
        cache (--cache-dir). None otherwise; the caller then computes it from the host's answers."""
        ...

    def remember(
        self, kind: str, subject: str, code: str, value: Any, recompute: Callable[[Host], Any] | None = None
    ) -> None:
        """Keep a result computed from subject for recall (a JSON value): in the live scan cache, or in the
        snapshot being recorded, where it is recompute(a replay of what was recorded) instead: the recorded
        reads are redacted (copied files), and a digest must say what a replay of them would find."""
        ...
