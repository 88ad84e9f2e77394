"""The npu-smi parsers against every real sample in fixtures/npu-smi-info*/ (expectations read off the
samples by hand), plus property tests: the parsers never raise, whatever they are fed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glm5check.parsers import npu_smi
from glm5check.parsers.npu_smi import NpuProcess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TABLES = FIXTURES / "npu-smi-info"


def read(folder: str, name: str) -> str:
    return (FIXTURES / folder / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Expected:
    npus: list[int]
    names: list[str | None]
    health: list[str]
    hbm: list[tuple[int, int] | None]  # (used, total) per chip; None where the table has no HBM column
    tool: str
    driver: str
    chips: list[int] | None = None  # chip index per row when not all 0
    memory: list[tuple[int, int]] | None = None  # DDR Memory-Usage (used, total) when worth checking
    processes: list[NpuProcess] | None = None
    unread: list[str] | None = None


def _same(value: object, count: int) -> list:
    return [value] * count


B1_IDLE = [3373, 3367, 3371, 3367, 3371, 3369, 3369, 3369]
A3_USED = [
    3402,
    3200,
    3396,
    3205,
    3395,
    3203,
    3395,
    3203,
    52553,
    52358,
    52567,
    52345,
    52552,
    52358,
    52554,
    52358,
]
A3_PIDS = [957687, 957770, 957790, 957852, 957876, 957912, 957957, 958011]

CASES: dict[str, Expected] = {
    "arthurchiao-blog-8x910B1-23.0.rc2-elided.txt": Expected(
        [0, 1, 7],
        _same("910B1", 3),
        _same("OK", 3),
        [(4175, 65536), (4175, 65536), (4174, 65536)],
        "23.0.rc2",
        "23.0.rc2",
        unread=["..."],
    ),
    "ascend-utils-readme-2x910A-21.0.2-no-hugepages-col.txt": Expected(
        [1, 4],
        ["910A", "910A"],
        ["OK", "OK"],
        [(0, 32768), (0, 32768)],
        "21.0.2",
        "21.0.2",
        memory=[(1809, 15079), (1809, 15079)],
    ),
    "blog-atlas800IA2-8x910B4-25.0.rc1.1-fresh-install.txt": Expected(
        list(range(8)),
        _same("910B4", 8),
        _same("OK", 8),
        [*_same((2654, 32768), 7), (2653, 32768)],
        "25.0.rc1.1",
        "25.0.rc1.1",
        processes=[],
    ),
    "deploy-deepseek-910a-8x910A-named-910B-24.1.0.txt": Expected(
        list(range(8)),
        _same("910B", 8),
        _same("OK", 8),
        _same((0, 32768), 8),
        "24.1.0",
        "24.1.0",
        memory=[(u, 15038) for u in (2382, 2378, 2382, 2384, 2385, 2355, 2384, 2355)],
        processes=[],
    ),
    "devnotes-310B4-davinci-mini-23.0.rc3.txt": Expected(
        [0],
        ["310B4"],
        ["OK"],
        [None],
        "23.0.rc3",
        "23.0.rc3",
        memory=[(1797, 3513)],
    ),
    "mindcluster-doc-910-23.0.5-elided.txt": Expected(
        [0, 7],
        [None, None],
        ["OK", "OK"],
        [(0, 32768), (0, 32768)],
        "23.0.5",
        "23.0.5",
        memory=[(920, 13553), (2346, 15567)],
        unread=["...", "..."],
    ),
    "lane-health-fixture-3x950PR-25.7.rc1-alarm-with-process.txt": Expected(
        [0, 1, 2],
        _same("Ascend950PR", 3),
        ["Alarm", "Alarm", "OK"],
        [(90633, 114688), (30492, 114688), (5413, 131072)],
        "25.7.rc1",
        "25.7.rc1",
        memory=_same((0, 0), 3),
        processes=[NpuProcess(0, None, 1530715, "python", 4724), NpuProcess(0, None, 1655234, "python", 4728)],
    ),
    "mindxsdk-styletransfer-310-21.0.3.1-atlas200dk.txt": Expected(
        [0],
        ["310"],
        ["OK"],
        [None],
        "21.0.3.1",
        "21.0.3.1",
        memory=[(5324, 8192)],
    ),
    "modelarts-1x910A-Warning-23.0.rc3.txt": Expected(
        [1],
        ["910A"],
        ["Warning"],
        [(1, 32768)],
        "23.0.rc3",
        "23.0.rc3",
        memory=[(2681, 15137)],
        processes=[],
    ),
    "modelzoo-DBNet-300IPro-310P3-22.0.2-drv22.0.4-npuid2144.txt": Expected(
        [2144],
        ["310P3"],
        ["OK"],
        [None],
        "22.0.2",
        "22.0.4",
        memory=[(1807, 21527)],
    ),
    "modelzoo-FasterRCNN-DCN-Res101-310P3-22.0.0-MANGLED-borders.txt": Expected(
        [0],
        ["310P3"],
        ["OK"],
        [None],
        "22.0.0",
        "22.0.2",
        memory=[(994, 21534)],
    ),
    "modelzoo-SETR-310P3-22.0.0-drv22.0.2-hugepages.txt": Expected(
        [0],
        ["310P3"],
        ["OK"],
        [None],
        "22.0.0",
        "22.0.2",
        memory=[(4066, 21534)],
    ),
    "modelzoo-bert_large_NER-310P3-22.0.0-drv22.0.3.txt": Expected(
        [0],
        ["310P3"],
        ["OK"],
        [None],
        "22.0.0",
        "22.0.3",
        memory=[(3292, 21527)],
    ),
    "nputop-fixture-910B2C-23.0.2.1-with-process.txt": Expected(
        [0, 1],
        ["910B2C", "910B2C"],
        ["OK", "OK"],
        [(20701, 65536), (20687, 65536)],
        "23.0.2.1",
        "23.0.2.1",
        processes=[NpuProcess(0, 0, 124528, "python3.8", 17400)],
    ),
    "nputop-fixture-A3-Ascend910-25.2.0-2npu-trimmed.txt": Expected(
        [0, 0, 1, 1],
        _same("Ascend910", 4),
        _same("OK", 4),
        [(3133, 65536), (2876, 65536), (3116, 65536), (10568, 65536)],
        "25.2.0",
        "25.2.0",
        chips=[0, 1, 0, 1],
        processes=[NpuProcess(1, 1, 990711, "python", 7746)],
        unread=['""",'],
    ),
    "openyuanrong-fixture-4x300IDuo-8chip-310P3-24.1.0.1-npuid1536.txt": Expected(
        [1536, 1536, 1792, 1792, 2048, 2048, 2304, 2304],
        _same("310P3", 8),
        _same("OK", 8),
        _same(None, 8),
        "24.1.0.1",
        "24.1.0.1",
        chips=[0, 1] * 4,
        memory=[
            (1596, 44280),
            (1325, 43693),
            (1452, 44280),
            (1444, 43693),
            (1353, 44280),
            (1529, 43693),
            (1656, 44280),
            (1278, 43693),
        ],
        processes=[],
    ),
    "openyuanrong-fixture-8x910B4-24.1.rc3-processes-empty-names.txt": Expected(
        list(range(8)),
        _same("910B4", 8),
        _same("OK", 8),
        [(u, 32768) for u in (22283, 22267, 2818, 2819, 2829, 2829, 30759, 30760)],
        "24.1.rc3",
        "24.1.rc3",
        processes=[
            NpuProcess(0, 0, 582939, None, 19502),
            NpuProcess(1, 0, 695171, None, 19498),
            NpuProcess(6, 0, 99910, None, 27977),
            NpuProcess(7, 0, 99976, None, 27977),
        ],
    ),
    "openyuanrong-fixture-8x910B4-25.2.0-python3.9-process.txt": Expected(
        list(range(8)),
        _same("910B4", 8),
        _same("OK", 8),
        [(u, 32768) for u in (2894, 2653, 2836, 2842, 2653, 2836, 2659, 2659)],
        "25.2.0",
        "25.2.0",
        processes=[NpuProcess(0, 0, 472206, "python3.9", 113)],
    ),
    "openyuanrong-fixture-A3-16chip-24.1.rc3.3-pt_main_thread.txt": Expected(
        [n for n in range(8) for _ in (0, 1)],
        _same("Ascend910", 16),
        _same("OK", 16),
        [(u, 65536) for u in A3_USED],
        "24.1.rc3.3",
        "24.1.rc3.3",
        chips=[0, 1] * 8,
        processes=[NpuProcess(4 + i // 2, i % 2, pid, "pt_main_thread", 49207) for i, pid in enumerate(A3_PIDS)],
    ),
    "paddle-npu-doc-2x910A-21.0.4-hugepages15.txt": Expected(
        [0, 1],
        ["910A", "910A"],
        ["OK", "OK"],
        [(1, 32768), (1, 32768)],
        "21.0.4",
        "21.0.4",
        memory=[(839, 15170), (1274, 15171)],
    ),
    "survey-report-1x950PR-25.7.rc1.6-EXCERPT.txt": Expected(
        [0],
        ["Ascend950PR"],
        ["OK"],
        [(5239, 131072)],
        "25.7.rc1.6",
        "25.7.rc1.6",
    ),
    "triton-ascend-doc-1x910B4-26.0.rc1-wide-layout.txt": Expected(
        [0],
        ["910B4"],
        ["OK"],
        [(2871, 32768)],
        "26.0.rc1",
        "26.0.rc1",
        processes=[],
    ),
    "vllm-ascend-issue1048-8x910B4-24.1.rc3.txt": Expected(
        list(range(8)),
        _same("910B4", 8),
        _same("OK", 8),
        [(u, 32768) for u in (2825, 2825, 2829, 2840, 31859, 2824, 2840, 2830)],
        "24.1.rc3",
        "24.1.rc3",
    ),
    "vllm-ascend-issue12980-A3-26.0.rc2-wide-FRAGMENT-head.txt": Expected(
        [0, 0],
        ["Ascend910", "Ascend910"],
        ["OK", "OK"],
        [(3419, 65536), (2874, 65536)],
        "26.0.rc2",
        "26.0.rc2",
        chips=[0, 1],
    ),
    "vllm-ascend-issue152-8x910B1-24.1.rc3-idle.txt": Expected(
        list(range(8)),
        _same("910B1", 8),
        _same("OK", 8),
        [(u, 65536) for u in B1_IDLE],
        "24.1.rc3",
        "24.1.rc3",
        processes=[],
    ),
}


def test_every_table_sample_has_a_case() -> None:
    assert sorted(p.name for p in TABLES.iterdir()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_table_sample(name: str) -> None:
    expected = CASES[name]
    info = npu_smi.parse_info((TABLES / name).read_text(encoding="utf-8"))
    assert len(info.chips) == len(expected.npus)
    assert [c.npu for c in info.chips] == expected.npus
    assert [c.name for c in info.chips] == expected.names
    assert [c.health for c in info.chips] == expected.health
    hbm = [None if c.hbm_total_mb is None else (c.hbm_used_mb, c.hbm_total_mb) for c in info.chips]
    assert hbm == expected.hbm
    assert info.has_hbm_column is (expected.hbm[0] is not None)
    assert (info.tool_version, info.driver_version) == (expected.tool, expected.driver)
    assert [c.chip for c in info.chips] == (expected.chips or [0] * len(expected.npus))
    if expected.memory is not None:
        assert [(c.memory_used_mb, c.memory_total_mb) for c in info.chips] == expected.memory
    if expected.processes is not None:
        assert [(p.npu, p.chip, p.pid, p.name, p.memory_mb) for p in info.processes] == [
            (p.npu, p.chip, p.pid, p.name, p.memory_mb) for p in expected.processes
        ]
        assert info.has_process_table
    assert list(info.unread) == (expected.unread or [])
    assert info.error is None


def test_a3_phy_ids_and_dash_power_are_read() -> None:
    info = npu_smi.parse_info((TABLES / "openyuanrong-fixture-A3-16chip-24.1.rc3.3-pt_main_thread.txt").read_text())
    assert [c.phy_id for c in info.chips] == list(range(16))
    assert info.chips[0].power_w == 182.0
    assert all(c.power_w is None for c in info.chips[1::2])  # "-" on chip 1 of each NPU
    assert info.chips[0].bus_id == "0000:9D:00.0"
    assert info.idle_npus == (0, 1, 2, 3)


def test_310_tables_have_unknown_hbm_and_bus_id() -> None:
    info = npu_smi.parse_info((TABLES / "devnotes-310B4-davinci-mini-23.0.rc3.txt").read_text())
    chip = info.chips[0]
    assert (chip.hbm_used_mb, chip.hbm_total_mb, chip.bus_id, chip.device) == (None, None, None, 0)
    duo = npu_smi.parse_info((TABLES / "openyuanrong-fixture-4x300IDuo-8chip-310P3-24.1.0.1-npuid1536.txt").read_text())
    assert [c.device for c in duo.chips] == list(range(8))
    assert all(c.power_w is None for c in duo.chips)  # "NA"


def test_wide_26x_process_table_has_container_pid_column() -> None:
    info = npu_smi.parse_info((TABLES / "triton-ascend-doc-1x910B4-26.0.rc1-wide-layout.txt").read_text())
    assert info.has_process_table and info.idle_npus == (0,) and info.processes == ()


def test_missing_closing_border_and_trailing_spaces_change_nothing() -> None:
    text = (TABLES / "vllm-ascend-issue152-8x910B1-24.1.rc3-idle.txt").read_text()
    cut = "\n".join(text.splitlines()[:-1])
    spaced = "\n".join(line + "   " for line in text.splitlines())
    for variant in (cut, spaced):
        info = npu_smi.parse_info(variant)
        assert [c.hbm_used_mb for c in info.chips] == B1_IDLE


def test_950_layout_reads_names_health_bus_ids_and_utilisation() -> None:
    info = npu_smi.parse_info((TABLES / "lane-health-fixture-3x950PR-25.7.rc1-alarm-with-process.txt").read_text())
    assert [(c.npu, c.name, c.health) for c in info.chips] == [
        (0, "Ascend950PR", "Alarm"),
        (1, "Ascend950PR", "Alarm"),
        (2, "Ascend950PR", "OK"),
    ]
    assert [c.bus_id for c in info.chips] == ["0000:71:00.0", "0000:61:00.0", "0000:81:00.0"]
    assert [(c.power_w, c.temp_c, c.aicore_pct) for c in info.chips] == [
        (205.7, 71, 100),
        (207.7, 60, 100),
        (192.7, 57, 0),
    ]
    assert info.unknown_header is None and info.unread == ()
    excerpt = npu_smi.parse_info((TABLES / "survey-report-1x950PR-25.7.rc1.6-EXCERPT.txt").read_text())
    assert excerpt.idle_npus == (0,)


def _header_swapped(name: str, old: str, new: str) -> str:
    text = (TABLES / name).read_text()
    assert old in text
    return text.replace(old, new)


A2_SAMPLE = "vllm-ascend-issue152-8x910B1-24.1.rc3-idle.txt"
PR950_SAMPLE = "lane-health-fixture-3x950PR-25.7.rc1-alarm-with-process.txt"
UNKNOWN_HEADERS = {
    # A v1 top header over the 950 second header: a combination npu-smi never prints.
    "950 rows, v1 top header": (
        PR950_SAMPLE,
        "| NPU ID | Name             | Health        |",
        "| NPU   Name               | Health        |",
        "| Bus-Id        | NPU Util(%)",
    ),
    # An A2 table whose second header names a column glm5check has never seen.
    "new second-row column": (
        A2_SAMPLE,
        "| AICore(%)   Memory-Usage(MB)",
        "| AICore(%)   NPU-Power(W)    ",
        "NPU-Power",
    ),
    # A top header with a column inserted before Health.
    "inserted column": (
        A2_SAMPLE,
        "| NPU   Name                | Health",
        "| NPU   Name   | Slot | Health",
        "| Slot |",
    ),
    # A process table with a new column between name and memory.
    "process table column": (
        A2_SAMPLE,
        "| Process name             | Process memory(MB)",
        "| Process name  | Priority | Process memory(MB)",
        "| Priority |",
    ),
}


@pytest.mark.parametrize("case", sorted(UNKNOWN_HEADERS))
def test_an_unknown_header_refuses_the_table_instead_of_shifting_columns(case: str) -> None:
    name, old, new, refused = UNKNOWN_HEADERS[case]
    info = npu_smi.parse_info(_header_swapped(name, old, new))
    assert info.unknown_header is not None and refused in info.unknown_header
    assert info.chips == () and info.processes == () and info.is_table and info.error is None


def test_rows_without_a_header_are_not_read() -> None:
    text = (TABLES / A2_SAMPLE).read_text()
    headless = "\n".join(ln for ln in text.splitlines() if "Health" not in ln and "Bus-Id" not in ln)
    info = npu_smi.parse_info(headless)
    assert info.chips == () and info.unknown_header is None and len(info.unread) == 16


ERRORS = {
    "vllm-ascend-issue2698-dcmi-init-failed-8005-in-container.txt": (-8005, "dcmi module initialize failed"),
    "mindie-docker-guide-command-not-found.txt": (None, "bash: npu-smi: command not found"),
    "mindcluster-fixture-invalid-card-id.txt": (None, "Invalid card id."),
    "openyuanrong-fixture-error-parameter-of-t-usage-INDENTED.txt": (None, "Error parameter of -t"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_outputs(name: str) -> None:
    code, message = ERRORS[name]
    info = npu_smi.parse_info(read("npu-smi-info-errors", name))
    assert info.chips == () and not info.is_table
    assert info.error_code == code
    assert info.error is not None and info.error.startswith(message)


def test_dcmi_8020_variant() -> None:
    # The "device is used" variant quoted in the reference INDEX (no capture file of its own).
    info = npu_smi.parse_info("dcmi model initialized failed, because the device is used. ret is -8020\n")
    assert info.error_code == -8020


def test_health_ok_and_alarm() -> None:
    ok = npu_smi.parse_health(read("npu-smi-info-t-other", "mindcluster-doc-t-health-OK.txt"))
    assert (ok.status, ok.error_codes, ok.error_information) == ("OK", (), ())
    alarm = npu_smi.parse_health(read("npu-smi-info-t-other", "mindcluster-fixture-t-health-Alarm-tabs.txt"))
    assert alarm.status == "Alarm"
    assert alarm.error_codes == ("A4025021", "8C03A000", "8C084E00")
    assert len(alarm.error_information) == 3
    assert alarm.error_information[2].endswith("event state=Heartbeat Lost.")


OTHER_KV = {
    "arthurchiao-blog-t-common-i1-910B1-with-mcu.txt": ("Aicore Count", "24"),
    "llmaction-t-common-i1-with-mcu-chip.txt": ("HBM Usage Rate(%)", "91"),
    "llmaction-t-common-i7-busy.txt": ("NPU Real-time Power(W)", "331.1"),
    "llmaction-t-flash-i0.txt": ("Flash ID", "1730504"),
    "mindcluster-doc-t-common-raw-indent.txt": ("Aicore Freq(MHZ)", "900"),
    "mindcluster-doc-t-ecc.txt": ("HBM Double Bit Error Count", "0"),
    "yunion-telegraf-fixture-t-power.txt": ("NPU Real-time Power(W)", "103.5"),
    "yunion-telegraf-fixture-t-temp-with-mcu-sensors.txt": ("NPU Temperature (C)", "39"),
}


@pytest.mark.parametrize("name", sorted(OTHER_KV))
def test_other_key_value_outputs(name: str) -> None:
    key, value = OTHER_KV[name]
    kv = npu_smi.parse_key_values(read("npu-smi-info-t-other", name))
    assert kv.first(key) == value and kv.unread == ()
    assert kv.first("NPU ID") in ("0", "1", "7")


def test_every_other_sample_folder_is_covered() -> None:
    errors = sorted(p.name for p in (FIXTURES / "npu-smi-info-errors").iterdir())
    assert errors == sorted(ERRORS)
    other = {p.name for p in (FIXTURES / "npu-smi-info-t-other").iterdir()}
    assert other - set(OTHER_KV) == {"mindcluster-doc-t-health-OK.txt", "mindcluster-fixture-t-health-Alarm-tabs.txt"}


# -- never raises -----------------------------------------------------------------------------------------

SAMPLES = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("npu-smi-info*/*"))]
PARSERS = [
    npu_smi.parse_info,
    npu_smi.parse_health,
    npu_smi.parse_key_values,
]


@st.composite
def mutated_samples(draw: st.DrawFn) -> str:
    """A real sample with lines dropped, duplicated or replaced, and characters changed."""
    lines = draw(st.sampled_from(SAMPLES)).splitlines()
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "replace", "poke", "cut"]))
        if action == "drop":
            del lines[index]
        elif action == "dup":
            lines.insert(index, lines[index])
        elif action == "replace":
            lines[index] = draw(st.text(st.sampled_from("|+-= /0123456789abcOKNA.:\t"), max_size=120))
        elif action == "poke" and lines[index]:
            at = draw(st.integers(0, len(lines[index]) - 1))
            char = draw(st.characters(codec="utf-8"))
            lines[index] = lines[index][:at] + char + lines[index][at + 1 :]
        elif action == "cut":
            lines[index] = lines[index][: draw(st.integers(0, max(len(lines[index]), 0)))]
    return "\n".join(lines)


@given(st.one_of(st.text(), mutated_samples()))
def test_parsers_never_raise(text: str) -> None:
    for parse in PARSERS:
        parse(text)


@given(mutated_samples())
def test_mutated_tables_give_well_typed_chips(text: str) -> None:
    info = npu_smi.parse_info(text)
    for chip in info.chips:
        assert chip.hbm_used_mb is None or isinstance(chip.hbm_used_mb, int)
        assert chip.health is None or isinstance(chip.health, str)
        assert isinstance(chip.npu, int)
    assert all(isinstance(line, str) for line in info.unread)


# Digits that `str.isdigit` accepts but `int` refuses (superscripts), and numbers longer than the 4300
# digits `int` converts, once raised ValueError out of the parsers.
ODD_NUMBERS = ["²", "0²", "9" * 5000]
NUMBER_LINES = [
    "| {n}  910B1 | OK | 93.6  40  0 / 0 |",
    "| 0  910B1 | OK | 93.6  40  0 / 0 |\n| {n} | 0000:C1:00.0 | 0  0 / 0  {n} / 65536 |",
    "| NPU  Chip | Process id | Process name | Process memory(MB) |\n| 0 {n} | 12 | python | 3 |",
    "No running processes found in NPU {n}",
    "dcmi module initialize failed. ret is -{n}",
    "NPU ID : {n}\nChip Count : {n}\nTotal Count : {n}",
    "{n}  0  0  Ascend910B1",
]


@pytest.mark.parametrize("number", ODD_NUMBERS, ids=["superscript", "digit-superscript", "5000-digits"])
@pytest.mark.parametrize("template", NUMBER_LINES)
def test_numbers_int_refuses_are_unknown_not_raised(template: str, number: str) -> None:
    text = template.format(n=number)
    for parse in PARSERS:
        parse(text)
    info = npu_smi.parse_info(text)
    assert all(c.npu is None or c.npu < 10**18 for c in info.chips)
