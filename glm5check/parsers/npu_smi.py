"""Parsers for `npu-smi info` and its `-t health` output.

`npu-smi info` prints a box table whose columns changed across driver generations (21.x to 26.x), chips
(910A, 910B1-B4, A3 `Ascend910` with two chips per NPU, 310/310B/310P without an HBM column, Ascend 950
with separate `NPU ID` and `Name` columns) and pastes (trailing spaces, `...` elisions, damaged borders).
The parser reads it row by row and by content, not by character positions: cells are split on `|`,
"used / total" pairs are found by pattern, and the header rows say which layout the rows follow. A header
row of no known layout is refused (`unknown_header`, no chips) instead of being read with shifted columns.
Every function here is pure and never raises; what it cannot read is None and the line is listed in
`unread`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from glm5check.util.lazyre import lazy
from glm5check.util.numbers import decimal, is_whole, whole

_VERSION_RE = lazy(r"npu-smi\s+(\S+)\s+Version:\s*(\S+)", re.IGNORECASE)
_PAIR_RE = lazy(r"(\d+)\s*/\s*(\d+)")
_BUS_ID_RE = lazy(r"^[0-9A-Fa-fx]{4,8}:[0-9A-Fa-fx]{2}:[0-9A-Fa-fx]{2}\.[0-9A-Fa-fx]$")
_NO_PROCESS_RE = lazy(r"No running processes found in NPU\s+(\d+)", re.IGNORECASE)
_DCMI_RE = lazy(r"dcmi\s+mod\w*\s+initiali[sz]\w*\s+failed.*?ret\s+is\s+(-?\d{1,9})(?!\d)", re.IGNORECASE)


class NpuChip(NamedTuple):
    """One chip (die) row pair of the table. `npu` is the NPU id as printed (not renumbered)."""

    npu: int | None
    chip: int | None = None
    phy_id: int | None = None  # A3 tables: the chip's physical id (0-15), the logical device number
    device: int | None = None  # 310/310P tables: the `Device` column
    name: str | None = None
    health: str | None = None
    power_w: float | None = None
    temp_c: int | None = None
    aicore_pct: int | None = None
    memory_used_mb: int | None = None
    memory_total_mb: int | None = None
    hbm_used_mb: int | None = None
    hbm_total_mb: int | None = None
    bus_id: str | None = None


class NpuProcess(NamedTuple):
    npu: int | None
    chip: int | None
    pid: int | None
    name: str | None  # None when npu-smi printed an empty name
    memory_mb: int | None
    container_pid: str | None = None  # 26.x "Process id in container" (`NA` on the host)


class NpuSmiInfo(NamedTuple):
    chips: tuple[NpuChip, ...] = ()
    processes: tuple[NpuProcess, ...] = ()
    idle_npus: tuple[int, ...] = ()  # "No running processes found in NPU n"
    tool_version: str | None = None
    driver_version: str | None = None
    has_hbm_column: bool | None = None  # None when no header was read
    has_process_table: bool = False
    elided: bool = False  # the paste replaced rows with `...`
    unread: tuple[str, ...] = ()
    error_code: int | None = None  # DCMI return code (-8005, -8020) when npu-smi printed no table
    error: str | None = None  # the error line npu-smi printed instead of a table
    # A table header row of no layout glm5check knows: the table is refused (no chips), never guessed at.
    unknown_header: str | None = None

    @property
    def is_table(self) -> bool:
        return bool(self.chips) or self.tool_version is not None or self.unknown_header is not None


# -- the main table ----------------------------------------------------------------------------------


def _ints(words: list[str]) -> list[int] | None:
    """Every word as a number, or None when one is not."""
    numbers = [number for number in map(whole, words) if number is not None]
    return numbers if len(numbers) == len(words) else None


def _is_border(line: str) -> bool:
    return line.startswith("+") and set(line) <= set("+-=|")


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return [cell.strip() for cell in inner.split("|")]


# The header rows npu-smi prints, each as its cells with runs of spaces collapsed and joined by "|"
# (fixtures/npu-smi-info/, fixtures/SOURCES.md). "v1": the NPU id and chip name share the first column and
# the second row starts with the chip index (A2, A3 with Phy-ID, 310/310P with Device, 21.x-26.x);
# "950": npu-smi 25.x on Ascend 950 prints separate `NPU ID` and `Name` columns, no chip column, and the
# second row's id cells are empty. Any other header is refused rather than read with shifted columns.
_TOP_HEADERS = {
    "v1": lazy(r"NPU Name\|Health\|Power\(W\) Temp\(C\)(?: Hugepages-Usage\(page\))?"),
    "950": lazy(r"NPU ID\|Name\|Health\|Power\(W\) Temp\(C\) Hugepages-Usage\(page\)"),
}
_SECOND_HEADERS = {
    "v1": lazy(
        r"Chip(?: (?P<second>Phy-ID|Device))?\|Bus-Id\|AICore\(%\)"
        r"(?P<memory> Memory-Usage\(MB\))?(?P<hbm> HBM-Usage\(MB\))?"
    ),
    "950": lazy(r"\|\|Bus-Id\|NPU Util\(%\)(?P<memory> Memory-Usage\(MB\))(?P<hbm> HBM-Usage\(MB\))"),
}
_PROCESS_HEADER = lazy(
    r"NPU (?P<ids>Chip|ID)\|Process id\|Process name\|Process memory\((?P<unit>MB|B)\)"
    r"(?P<container>\|Process id in container)?"
)


@dataclass
class _Layout:
    """What the header rows said about the columns of the chip table."""

    family: str  # "v1" or "950"
    complete: bool = False  # the second header row was read too
    second_id: str | None = None  # "phy_id" (A3), "device" (310/310P) or None
    has_memory: bool = True
    has_hbm: bool = True


class _ProcessLayout(NamedTuple):
    with_chip: bool  # "NPU Chip" (two ids) or "NPU ID" (one)
    bytes_unit: bool  # "Process memory(B)" (23.0.rc1) instead of MB
    container: bool  # 26.x "Process id in container"


@dataclass
class _State:
    """What the npu-smi info reader has seen so far, table by table."""

    layout: _Layout | None = None
    processes_layout: _ProcessLayout | None = None
    in_processes: bool = False
    pending: dict[str, object] | None = None  # the NPU row waiting for its chip row
    chips: list[NpuChip] = field(default_factory=list)
    processes: list[NpuProcess] = field(default_factory=list)
    idle: list[int] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    tool_version: str | None = None
    driver_version: str | None = None
    has_process_table: bool = False
    elided: bool = False
    unknown_header: str | None = None


def _header_key(cells: list[str]) -> str:
    return "|".join(" ".join(cell.split()) for cell in cells)


def _is_data_row(cells: list[str], state: _State) -> bool:
    """Every data row starts with a number (NPU id, chip index), except the second row of a chip on the
    950 layout, whose id cells are empty and whose third cell is the Bus-Id value (or NA)."""
    first = next((cell for cell in cells if cell), "")
    if is_whole(first[:1]):
        return True
    layout = state.layout
    return bool(
        layout and layout.family == "950" and len(cells) > 2 and not cells[0] and not cells[1] and cells[2] != "Bus-Id"
    )


def _read_header(line: str, cells: list[str], state: _State) -> None:
    key = _header_key(cells)
    process = _PROCESS_HEADER.fullmatch(key)
    if process:
        _flush(state)
        state.in_processes = state.has_process_table = True
        state.processes_layout = _ProcessLayout(
            process["ids"] == "Chip", process["unit"] == "B", process["container"] is not None
        )
        return
    family = next((name for name, pattern in _TOP_HEADERS.items() if pattern.fullmatch(key)), None)
    if family is not None:
        _flush(state)
        state.layout, state.in_processes = _Layout(family), False
        return
    second = _SECOND_HEADERS[state.layout.family].fullmatch(key) if state.layout else None
    if second is None or state.layout is None:
        state.unknown_header = state.unknown_header or line.strip()
        return
    groups = second.groupdict()
    state.layout.second_id = {"Phy-ID": "phy_id", "Device": "device"}.get(groups.get("second") or "")
    state.layout.has_memory = groups["memory"] is not None
    state.layout.has_hbm = groups["hbm"] is not None
    state.layout.complete = True


def _npu_row(cells: list[str], layout: _Layout) -> dict[str, object] | None:
    """The first row of a chip: `| 0     910B1 | OK | 88.4  46  0 / 0 |` (v1) or
    `| 0      | Ascend950PR      | OK            | 195.6  56  0 / 0 |` (950); None when it is not one."""
    if layout.family == "950":
        if len(cells) < 3 or whole(cells[0]) is None:
            return None
        words, health_words, rest = [cells[0], *cells[1].split()], cells[2].split(), cells[3:4]
    else:
        words, health_words, rest = cells[0].split(), cells[1].split() if len(cells) > 1 else [], cells[2:3]
    npu = whole(words[0]) if words else None
    if npu is None:
        return None
    name = " ".join(words[1:]) or None
    redacted = name is not None and set(name.lower()) == {"x"}  # "xxx" in vendor docs: not a chip name
    health = health_words[0] if len(health_words) == 1 else None
    if health is not None and (_BUS_ID_RE.match(health) or health == "NA" or ":" in health):
        return None  # the Bus-Id column: a chip row
    if health is None and (name is None or is_whole(name)):
        return None  # "0  0" with no health: a chip row (chip + phy-id / device)
    row: dict[str, object] = {"npu": npu, "name": None if redacted else name, "health": health}
    if rest:
        values = _PAIR_RE.sub(" ", rest[0]).split()
        row["power_w"] = decimal(values[0]) if values else None
        row["temp_c"] = whole(values[1]) if len(values) > 1 else None
    return row


def _chip_fields(cells: list[str], layout: _Layout) -> dict[str, object] | None:
    """The second row of a chip: `| 0  [phy-id] | 0000:C1:00.0 | 0  0 / 0  4175 / 65536 |` (v1) or
    `|        |                  | 0000:61:00.0  | 0  0 / 0  5239 / 131072 |` (950: one chip per NPU)."""
    if layout.family == "950":
        ids: list[int] | None = [0] if len(cells) > 2 and not cells[0] and not cells[1] else None
        cells = cells[2:]
    else:
        ids = _ints(cells[0].split())
        cells = cells[1:]
    if not ids or len(ids) > 2:
        return None
    fields: dict[str, object] = {"chip": ids[0]}
    if len(ids) == 2 and layout.second_id:
        fields[layout.second_id] = ids[1]
    bus = cells[0].split()[0] if cells and cells[0].split() else None
    fields["bus_id"] = bus if bus and _BUS_ID_RE.match(bus) else None
    if len(cells) < 2:
        return fields
    pairs = [(whole(u), whole(t)) for u, t in _PAIR_RE.findall(cells[1])]
    rest = _PAIR_RE.sub(" ", cells[1]).split()
    fields["aicore_pct"] = whole(rest[0]) if rest else None
    names: list[str] = []
    if layout.has_memory:
        names.append("memory")
    if layout.has_hbm:
        names.append("hbm")
    if len(pairs) == len(names):
        for prefix, (used, total) in zip(names, pairs):
            fields[f"{prefix}_used_mb"] = used
            fields[f"{prefix}_total_mb"] = total
    return fields


def _flush(state: _State) -> None:
    """An NPU row whose chip row never came (elided or cut paste): keep what it said."""
    if state.pending is not None:
        state.chips.append(NpuChip(**state.pending))  # type: ignore[arg-type]  # keys: NpuChip fields by name
        state.pending = None


def _read_device_row(line: str, cells: list[str], state: _State) -> None:
    layout = state.layout
    if layout is None or not layout.complete:  # no header read: the columns are not known
        state.unread.append(line)
        return
    row = _npu_row(cells, layout)
    if row is not None:
        _flush(state)
        state.pending = row
        return
    chip = _chip_fields(cells, layout) if state.pending is not None else None
    if chip is None or state.pending is None:
        state.unread.append(line)
        return
    state.chips.append(NpuChip(**{**state.pending, **chip}))  # type: ignore[arg-type]  # as in _flush
    state.pending = None


def _read_process_row(line: str, cells: list[str], state: _State) -> None:
    layout = state.processes_layout
    ids = _ints(cells[0].split())
    if layout is None or len(cells) < 4 or ids is None or len(ids) != (2 if layout.with_chip else 1):
        state.unread.append(line)
        return
    pid = whole(cells[1])
    memory = whole(cells[3])
    if pid is None:
        state.unread.append(line)
        return
    state.processes.append(
        NpuProcess(
            npu=ids[0],
            chip=ids[1] if layout.with_chip else None,
            pid=pid,
            name=cells[2] or None,
            memory_mb=memory // (1 << 20) if layout.bytes_unit and memory is not None else memory,
            container_pid=(cells[4] or None) if layout.container and len(cells) > 4 else None,
        )
    )


def _read_line(raw: str, state: _State) -> None:
    line = raw.rstrip()
    if not line.strip():
        return
    if _is_border(line.strip()):
        if "=" in line and not state.in_processes:
            _flush(state)
        return
    version = _VERSION_RE.search(line)
    if version:
        state.tool_version, state.driver_version = version.group(1), version.group(2)
        return
    if line.strip() in ("...", "... ..."):
        state.elided = True
        state.unread.append(line)
        return
    idle = _NO_PROCESS_RE.search(line)
    idle_npu = whole(idle.group(1)) if idle else None
    if idle_npu is not None:
        state.idle.append(idle_npu)
        return
    if not line.lstrip().startswith("|"):
        state.unread.append(line)
        return
    cells = _cells(line)
    if not _is_data_row(cells, state):
        _read_header(line, cells, state)
    elif state.unknown_header is not None:
        state.unread.append(line)  # rows under a header glm5check does not know are not guessed at
    elif state.in_processes:
        _read_process_row(line, cells, state)
    else:
        _read_device_row(line, cells, state)


def dcmi_error(text: str) -> tuple[int | None, str] | None:
    """The error npu-smi printed instead of a table: (DCMI return code or None, the line)."""
    for line in text.splitlines():
        match = _DCMI_RE.search(line)
        if match:
            return whole(match.group(1), signed=True, digits=9), line.strip()
    for line in text.splitlines():
        stripped = line.strip()
        lowered = stripped.lower()
        if "command not found" in lowered or "no such file" in lowered or lowered.startswith("error parameter"):
            return None, stripped
        if lowered.startswith("invalid") or "failed" in lowered:
            return None, stripped
    return None


def parse_info(text: str) -> NpuSmiInfo:
    """`npu-smi info`: chips, processes, versions, unread lines; the DCMI error when there is no table."""
    if not isinstance(text, str):
        return NpuSmiInfo()
    state = _State()
    for raw in text.splitlines():
        _read_line(raw, state)
    _flush(state)
    refused = state.unknown_header is not None
    layout = state.layout
    info = NpuSmiInfo(
        chips=() if refused else tuple(state.chips),
        processes=() if refused else tuple(state.processes),
        idle_npus=tuple(state.idle),
        tool_version=state.tool_version,
        driver_version=state.driver_version,
        has_hbm_column=layout.has_hbm if layout is not None and layout.complete else None,
        has_process_table=state.has_process_table,
        elided=state.elided,
        unread=tuple(state.unread),
        unknown_header=state.unknown_header,
    )
    if not info.is_table:
        error = dcmi_error(text)
        if error is not None:
            return NpuSmiInfo(unread=info.unread, error_code=error[0], error=error[1])
    return info


# -- key/value outputs (-t health; the same form as -t common, -t power ...) ----------------------------

_KV_RE = lazy(r"^\s*(?P<key>[^:]*?)\s*:\s?(?P<value>.*?)\s*$")


class KeyValueOutput(NamedTuple):
    """`\\t<Key padded to 31>: <value>` lines, in blocks separated by blank lines. A line with an empty key
    continues the previous key (the `Error Information` lines of `-t health`)."""

    blocks: tuple[tuple[tuple[str, str], ...], ...] = ()
    unread: tuple[str, ...] = ()

    def first(self, key: str) -> str | None:
        for block in self.blocks:
            for name, value in block:
                if name == key:
                    return value
        return None

    def values(self, key: str) -> tuple[str, ...]:
        return tuple(value for block in self.blocks for name, value in block if name == key)


def parse_key_values(text: str) -> KeyValueOutput:
    if not isinstance(text, str):
        return KeyValueOutput()
    blocks: list[list[tuple[str, str]]] = [[]]
    unread: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        match = _KV_RE.match(line)
        if match is None:
            unread.append(line)
            continue
        key, value = match.group("key"), match.group("value")
        if not key:
            previous = next((b for b in reversed(blocks) if b), None)
            if previous is None:
                unread.append(line)
            else:
                name, old = previous[-1]
                previous[-1] = (name, f"{old}\n{value}" if old else value)
            continue
        blocks[-1].append((key, value))
    return KeyValueOutput(tuple(tuple(b) for b in blocks if b), tuple(unread))


def _known(value: str | None) -> str | None:
    return None if value is None or value.strip() in ("", "NA", "xxx", "-") else value.strip()


class HealthInfo(NamedTuple):
    """`npu-smi info -t health -i N [-c C]`."""

    status: str | None
    error_codes: tuple[str, ...] = ()
    error_information: tuple[str, ...] = ()
    unread: tuple[str, ...] = ()


def parse_health(text: str) -> HealthInfo:
    kv = parse_key_values(text)
    codes = _known(kv.first("Error Code"))
    information = _known(kv.first("Error Information"))
    return HealthInfo(
        status=_known(kv.first("Health Status")),
        error_codes=tuple(codes.split()) if codes else (),
        error_information=tuple(ln.strip() for ln in information.splitlines() if ln.strip()) if information else (),
        unread=kv.unread,
    )
