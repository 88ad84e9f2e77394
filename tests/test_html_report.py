"""The HTML report: one self-contained page (no network, no external asset, no script), everything from the
report escaped, and — in a real headless Chromium (Debian's `chromium`) — every result present in the DOM,
the status and category filters working without a server, and the HBM bars adding up to the budget."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, assert_no_traceback, run_in_process

from glm5check.reports.html import BAR_PX, render_html
from glm5check.reports.model import NodeSection, Report, Row

sys.path.insert(0, str(REPO / "docs"))
from make_docs import SCREEN_WIDTH, SCREENSHOTS, chromium_command, find_chromium, screenshot

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package chromium)")
DEMOS = {"a2-node0": "demo", "a2-node1": "demo:a2-node1"}


class Dom(HTMLParser):
    """The elements of a page: (tag, attributes) in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and all(wanted[k] in a.get(k, "").split() for k in wanted)]


def _dom(text: str) -> Dom:
    dom = Dom()
    dom.feed(text)
    return dom


def _report(replay: str) -> dict[str, Any]:
    return json.loads(run_in_process("--profile", "a2-multi", "--replay", replay, "--format", "json").stdout)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("html")
    written = {}
    for node, replay in DEMOS.items():
        target = folder / f"{node}.html"
        done = run_in_process("--profile", "a2-multi", "--replay", replay, "--format", "html", "--output", str(target))
        assert_no_traceback(done)
        written[node] = target
    return written


def _dump_dom(page: Path, tmp_path: Path) -> str:
    assert CHROMIUM is not None
    command = chromium_command(CHROMIUM, str(tmp_path / "profile"), "--dump-dom", page.as_uri())
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_page_is_self_contained_and_has_no_script(pages: dict[str, Path]) -> None:
    for page in pages.values():
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>")
        dom = _dom(text)
        assert not dom.find("script") and not dom.find("link") and not dom.find("img") and not dom.find("iframe")
        assert not [a for _, a in dom.elements if "src" in a or "href" in a]
        assert "url(" not in text and "@import" not in text
        (csp,) = dom.find("meta", **{"http-equiv": "Content-Security-Policy"})
        assert csp["content"].startswith("default-src 'none'")
        for section in ("problems", "plan", "results", "facts", "redaction", "verdict"):
            assert dom.find("section", id=section) or dom.find("p", id=section) or dom.find("div", id=section)


def test_everything_from_the_report_is_escaped() -> None:
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    demo = Report.from_json(_report("demo:a2-node1"))
    rows = (
        Row("site.x", hostile, "site" + hostile, hostile, "fail", hostile, hostile, hostile, hostile),
        *demo.results,
    )
    node = NodeSection(hostile, 1, "headless", "test")
    report = Report(demo.tool, demo.created, {**demo.profile, "name": hostile}, node, demo.facts, rows, demo.summary)
    text = render_html(report)
    assert (
        "<script" not in text and "<img" not in text and "onerror=alert" not in text.replace("onerror=alert(2)&gt;", "")
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    dom = _dom(text)
    assert all(not k.startswith("on") for _, attrs in dom.elements for k in attrs)
    # Class names and ids come from indexes: a hostile category cannot add CSS or elements.
    assert any(a.get("data-id") == "site.x" and "cat-0" in a.get("class", "") for a in dom.find("tr"))


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("node", sorted(DEMOS))
def test_chromium_dom_has_every_result_and_bars_that_add_up_to_the_budget(
    node: str, pages: dict[str, Path], tmp_path: Path
) -> None:
    report = _report(DEMOS[node])
    dom = _dom(_dump_dom(pages[node], tmp_path))
    rows = [a for t, a in dom.elements if t == "tr" and "data-id" in a]
    shown = [(a["data-id"], a["data-item"] or None, a["data-status"]) for a in rows]
    assert shown == [(r["id"], r["item"], r["status"]) for r in report["results"]]
    problems = [r for r in report["results"] if r["status"] in ("fail", "error", "warn")]
    assert len([a for t, a in dom.elements if t == "div" and "problem" in a.get("class", "").split()]) == len(problems)
    budget = report["facts"]["plan"]["budget"]
    bars = dom.find("svg", **{"class": "bar"})
    planned = [c for n in report["facts"]["plan"]["nodes"] if n["this_node"] for r in n["ranks"] for c in r["chips"]]
    assert len(bars) == len(planned) == 8
    rects = _bar_rects(dom)
    assert len(rects) == len(bars)
    for bar, parts, chip in zip(bars, rects, planned):
        assert int(bar["width"]) == BAR_PX and int(bar["data-budget"]) == budget["budget_bytes"]
        assert sum(int(p["width"]) for p in parts) == BAR_PX
        assert sum(int(p["data-bytes"]) for p in parts) == budget["budget_bytes"]
        held = next(int(p["data-bytes"]) for p in parts if p["data-part"] == "held")
        assert held == chip["budget"]["held_bytes"]  # the HBM other processes hold on that chip
        assert [p["data-part"] for p in parts] == ["weights", "reserve", "held", "kv", "free"]
        xs = [int(p["x"]) for p in parts]
        assert xs == [sum(int(q["width"]) for q in parts[:i]) for i in range(len(parts))]


def _bar_rects(dom: Dom) -> list[list[dict[str, str]]]:
    """The rects of each bar, in order."""
    bars: list[list[dict[str, str]]] = []
    for tag, attrs in dom.elements:
        if tag == "svg" and "bar" in attrs.get("class", "").split():
            bars.append([])
        elif tag == "rect" and bars and "part" in attrs.get("class", "").split():
            bars[-1].append(attrs)
    return bars


FILTER_PROBE = """<script>
function visible() {
  return [...document.querySelectorAll('table.results tbody tr')]
    .filter(r => getComputedStyle(r).display !== 'none').map(r => r.dataset.status + ' ' + r.dataset.id);
}
const all = visible();
document.getElementById('f-st-pass').checked = false;
const noPass = visible();
document.getElementById('f-st-pass').checked = true;
const npu = [...document.querySelectorAll('.filters label')].find(l => l.textContent === 'npu');
document.getElementById(npu.htmlFor).checked = true;
const onlyNpu = visible();
document.body.setAttribute('data-probe', JSON.stringify({all, noPass, onlyNpu}));
</script></body>"""


@needs_chromium
@pytest.mark.slow
def test_the_filters_work_in_chromium_without_a_server(pages: dict[str, Path], tmp_path: Path) -> None:
    """A copy of the page with a probe script (the report itself has none and forbids scripts) that
    unchecks PASS, then picks the npu category, and records which rows the CSS leaves visible."""
    text = pages["a2-node1"].read_text(encoding="utf-8")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text).replace("</body>", FILTER_PROBE)
    probe = tmp_path / "probe.html"
    probe.write_text(text, encoding="utf-8")
    dumped = _dump_dom(probe, tmp_path)
    found = re.search(r'data-probe="([^"]*)"', dumped)
    assert found is not None
    seen = json.loads(html.unescape(found.group(1)))
    report = _report("demo:a2-node1")
    assert len(seen["all"]) == len(report["results"])
    assert all(not row.startswith("pass ") for row in seen["noPass"])
    assert len(seen["noPass"]) == sum(r["status"] != "pass" for r in report["results"])
    assert seen["onlyNpu"] and all(row.split()[1].startswith("npu.") for row in seen["onlyNpu"])
    assert len(seen["onlyNpu"]) == sum(r["category"] == "npu" for r in report["results"])


def test_redact_hosts_masks_the_page_and_stays_well_formed(tmp_path: Path) -> None:
    target = tmp_path / "masked.html"
    run_in_process("--replay", "demo:a2-node1", "--format", "html", "--redact-hosts", "--output", str(target))
    text = target.read_text(encoding="utf-8")
    assert "10.20.0.12" not in text and "npu-a2-02" not in text and "HCCL_IF_IP" in text
    assert not _dom(text).find("ip") and not _dom(text).find("host")  # no mask became an element
    xml = run_in_process("--replay", "demo:a2-node1", "--format", "junit", "--redact-hosts").stdout
    root = ET.fromstring(xml)  # well-formed: the masks are escaped like any text
    assert "10.20.0.12" not in xml and "npu-a2-02" not in (root.get("name") or "")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.slow  # chromium, when installed
def test_the_readme_screenshots_are_what_make_docs_renders(pages: dict[str, Path], tmp_path: Path) -> None:
    """README links every screenshot docs/make_docs.py makes, at the size it makes them; with Chromium here,
    make_docs' own screenshot of the page renders at that size too."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for node, (_, height) in SCREENSHOTS.items():
        committed = REPO / "docs" / f"html-report-{node}.png"
        assert f"](docs/{committed.name})" in readme
        assert _png_size(committed.read_bytes()) == (SCREEN_WIDTH, height)
        if CHROMIUM is not None:
            fresh = tmp_path / committed.name
            screenshot(CHROMIUM, pages[node], fresh, height)
            assert _png_size(fresh.read_bytes()) == (SCREEN_WIDTH, height)
