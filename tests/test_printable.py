"""The report sanitiser and the terminal fallback (glm5check.util.text), and that every string of a
report passes through them: hostile text in any field renders as printable, XML-legal, UTF-8-encodable
output in every format. The end-to-end runs (a real process writing to a latin-1 terminal, a closed
pipe, /dev/full, a probe printing escape sequences) are in tests/faults."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glm5check.reports.json_report import render_json
from glm5check.reports.junit import render_junit
from glm5check.reports.model import Report
from glm5check.reports.table import render_table
from glm5check.util.text import ascii_fallback, json_printable, one_line, printable, scrub_tree

# What XML 1.0 allows (https://www.w3.org/TR/xml/#charsets), minus what a terminal would interpret.
XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain · text × ok", "plain · text × ok"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("bell\x07 nul\x00 del\x7f csi\x9b", "bell\\x07 nul\\x00 del\\x7f csi\\x9b"),
        ("byte \udcff kept", "byte \\xff kept"),  # os.environ's surrogateescape of a non-UTF-8 byte
        ("lone \ud800", "lone \\ud800"),
        ("rtl \u202eevil", "rtl \\u202eevil"),
        ("sep\u2028x", "sep\\u2028x"),
        ("nonchar \ufffe\uffff", "nonchar \\ufffe\\uffff"),
    ],
)
def test_printable_shows_every_unsafe_character_as_an_escape(text: str, shown: str) -> None:
    assert one_line(text) == shown


def test_multiline_keeps_newlines_and_tabs() -> None:
    assert printable("a\nb\tc\x1b") == "a\nb\tc\\x1b"
    assert json.loads(f'"{json_printable(chr(0x85) + chr(0xDCFF))}"') == "\x85\udcff"


def test_scrub_tree_reaches_keys_lists_and_nested_values() -> None:
    tree = {"k\x1b": ["\x07", {"x": "\udcfe"}], "n": 3, "b": None}
    assert scrub_tree(tree) == {"k\\x1b": ["\\x07", {"x": "\\xfe"}], "n": 3, "b": None}


@pytest.mark.parametrize(
    ("style", "encoding", "expected"),
    [
        ("text", "ascii", "2 x A2 - DP2 x TP8 -> <= ... \\u4e2d"),
        ("text", "latin-1", "2 × A2 · DP2 × TP8 -> <= ... \\u4e2d"),
        ("json", "ascii", "2 \\u00d7 A2 \\u00b7 DP2 \\u00d7 TP8 \\u2192 \\u2264 \\u2026 \\u4e2d"),
        ("xml", "ascii", "2 &#xd7; A2 &#xb7; DP2 &#xd7; TP8 &#x2192; &#x2264; &#x2026; &#x4e2d;"),
        ("text", "utf-8", "2 × A2 · DP2 × TP8 → ≤ … 中"),
    ],
)
def test_ascii_fallback_keeps_each_format_valid(style: str, encoding: str, expected: str) -> None:
    assert ascii_fallback("2 × A2 · DP2 × TP8 → ≤ … 中", encoding, style) == expected


def test_json_fallback_of_an_astral_character_is_a_surrogate_pair() -> None:
    assert json.loads(f'"{ascii_fallback("😀", "ascii", "json")}"') == "😀"


@given(st.text())
def test_printable_output_is_terminal_safe_xml_legal_and_utf8(text: str) -> None:
    for shown in (printable(text), one_line(text)):
        assert not TERMINAL_UNSAFE.search(shown)
        assert XML_CHAR.fullmatch(shown)
        shown.encode("utf-8")


def _hostile_report(text: str) -> Report:
    row = {
        "id": f"npu.smi{text}",
        "item": text,
        "category": "npu",
        "title": text,
        "status": "fail",
        "message": text,
        "expected": text,
        "observed": text,
        "remediation": text,
        "duration_ms": 1,
        "waived": None,
    }
    document = {
        "tool": {"name": "glm5check", "version": "0"},
        "created": "now",
        "profile": {"name": text, "description": text},
        "node": {"hostname": text, "rank": 0, "role": "primary", "rank_source": text},
        "facts": {text: [text, {text: text}]},
        "results": [row, {**row, "status": "error"}, {**row, "status": "warn"}, {**row, "status": "skip"}],
        "summary": {"pass": 0, "warn": 1, "fail": 1, "error": 1, "skip": 1, "total": 4, "ok": False, "duration_ms": 1},
    }
    return Report.from_json(scrub_tree(document))


HOSTILE = st.one_of(
    st.text(),
    st.sampled_from(["\x1b[2J\x1b[H", "\x1b]0;owned\x07", "\udcff\udc80", "\x00\x0c\ufffe", "]]>", "<x/>&amp;"]),
)


@given(HOSTILE)
def test_every_format_of_a_sanitised_report_is_well_formed_and_inert(text: str) -> None:
    report = _hostile_report(text)
    table = render_table(report, None)
    assert not TERMINAL_UNSAFE.search(table)
    table.encode("utf-8")
    assert json.loads(render_json(report).encode("utf-8"))["results"][0]["message"] == report.results[0].message
    junit = render_junit(report)
    assert XML_CHAR.fullmatch(junit)
    ET.fromstring(junit.encode("utf-8"))


def test_an_export_remediation_quotes_every_value_so_a_pasted_line_runs_nothing() -> None:
    """Interface names and addresses in a remediation may come from someone else's snapshot (`;`, `$(…)` and
    backquotes are legal in a Linux interface name)."""
    import shlex

    from glm5check.util.text import export_text

    hostile = {"HCCL_IF_IP": "10.0.0.1", "HCCL_SOCKET_IFNAME": "eth0;id", "GLOO_SOCKET_IFNAME": "e$(id)`id`"}
    line = export_text(hostile)
    assert line == "export HCCL_IF_IP=10.0.0.1 HCCL_SOCKET_IFNAME='eth0;id' GLOO_SOCKET_IFNAME='e$(id)`id`'"
    assert shlex.split(line)[1:] == [f"{name}={value}" for name, value in hostile.items()]
