"""`glm5check cluster --format html`: one self-contained page for the whole deployment — the cluster's
verdict and results, then a section per node with its problems, its own chips' HBM bars and its results —
checked on the DOM a real headless Chromium dumps (Debian's `chromium`), and masked (--redact-hosts)
before it is marked up, so that a node named like an element cannot change the page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cluster_fakes import fake_ssh, faulty_node1, healthy_node0
from conftest import REPO, assert_no_traceback, clean_env, run_cli
from test_html_report import Dom

from glm5check.reports.html import BAR_PX

sys.path.insert(0, str(REPO / "docs"))
from make_docs import chromium_command, find_chromium

CHROMIUM = find_chromium()
# cluster runs every node through a fake ssh, as processes
pytestmark = pytest.mark.slow
HOSTS = ("npu-a2-01", "npu-a2-02")
ADDRESSES = ("10.231.0.1", "10.231.0.2")


def _cluster(
    tmp_path: Path, hosts: tuple[str, ...], *args: str, node1: bool = True
) -> subprocess.CompletedProcess[str]:
    """Node 0 healthy, node 1 with a link down (or, without node1, a host ssh cannot reach)."""
    nodes = tmp_path / "nodes"
    healthy_node0(nodes, hosts[0], ADDRESSES[0])
    if node1:
        faulty_node1(nodes, hosts[1], ADDRESSES[1])
    fake_ssh(tmp_path / "bin")
    env = clean_env({"FAKE_SSH_NODES": str(nodes)}, [tmp_path / "bin"])
    done = run_cli("cluster", "--hosts", ",".join(hosts), "--profile", "a2-multi", *args, env=env)
    assert_no_traceback(done)
    return done


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """--format html --output DIR: the page beside cluster.json and the nodes' reports."""
    tmp_path = tmp_path_factory.mktemp("cluster-html")
    done = _cluster(tmp_path, HOSTS, "--format", "html", "--output", str(tmp_path / "out"))
    assert done.returncode == 1 and done.stdout == "" and "exit 1" in done.stderr
    return tmp_path / "out"


def _dom(text: str) -> Dom:
    dom = Dom()
    dom.feed(text)
    return dom


def _sections(dom: Dom) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """The elements of each node's section (id node-N), in document order."""
    sections: dict[str, list[tuple[str, dict[str, str]]]] = {}
    current = None
    for tag, attrs in dom.elements:
        if tag == "section" and "node-report" in attrs.get("class", "").split():
            current = attrs["id"]
            sections[current] = []
        elif tag == "p" and attrs.get("id") == "redaction":
            current = None
        elif current is not None:
            sections[current].append((tag, attrs))
    return sections


def _rows(elements: list[tuple[str, dict[str, str]]]) -> list[tuple[str, str | None, str]]:
    return [
        (a["data-id"], a["data-item"] or None, a["data-status"]) for t, a in elements if t == "tr" and "data-id" in a
    ]


def test_the_page_covers_the_cluster_and_every_node_and_fetches_nothing(kept: Path) -> None:
    text = (kept / "cluster.html").read_text(encoding="utf-8")
    document = json.loads((kept / "cluster.json").read_text(encoding="utf-8"))
    dom = _dom(text)
    assert text.startswith("<!DOCTYPE html>") and not dom.find("script") and not dom.find("img")
    assert all(a["href"].startswith("#node-") for t, a in dom.elements if "href" in a)  # links within the page
    assert not [a for _, a in dom.elements if "src" in a] and "url(" not in text
    (verdict,) = dom.find("div", id="verdict")
    assert "exit 1 — the deployment is not ready" in text and "bad" in verdict["class"]
    cluster = [
        a["data-id"] + f"[{a['data-item']}]" for t, a in dom.elements if t == "tr" and a.get("id", "").startswith("c-")
    ]
    assert cluster == [f"{r['id']}[{r['item'] or ''}]" for r in document["results"]]
    sections = _sections(dom)
    assert list(sections) == ["node-0", "node-1"]
    for index, host in enumerate(HOSTS):
        report = json.loads((kept / f"{host}.json").read_text(encoding="utf-8"))
        assert _rows(sections[f"node-{index}"]) == [(r["id"], r["item"], r["status"]) for r in report["results"]]
    ids = [a["id"] for _, a in dom.elements if "id" in a]
    assert len(ids) == len(set(ids))  # every table's filters are its own


def test_a_node_that_gave_no_report_keeps_its_error_and_fix(tmp_path: Path) -> None:
    done = _cluster(tmp_path, HOSTS, "--format", "html", node1=False)
    sections = _sections(_dom(done.stdout))
    assert done.returncode == 1 and _rows(sections["node-1"]) == []
    assert "No route to host" in done.stdout and _rows(sections["node-0"])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package chromium)")
def test_chromium_dom_has_every_nodes_results_and_bars_that_add_up(kept: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = kept / "cluster.html"
    command = chromium_command(CHROMIUM, str(tmp_path / "profile"), "--dump-dom", page.as_uri())
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    sections = _sections(_dom(done.stdout))
    for index, host in enumerate(HOSTS):
        report = json.loads((kept / f"{host}.json").read_text(encoding="utf-8"))
        elements = sections[f"node-{index}"]
        assert _rows(elements) == [(r["id"], r["item"], r["status"]) for r in report["results"]]
        bars = [a for t, a in elements if t == "svg"]
        chips = [c for n in report["facts"]["plan"]["nodes"] if n["this_node"] for r in n["ranks"] for c in r["chips"]]
        assert len(bars) == len(chips) == 8  # this node's chips only
        budget = report["facts"]["plan"]["budget"]["budget_bytes"]
        parts = [a for t, a in elements if t == "rect"]
        assert all(int(bar["data-budget"]) == budget for bar in bars)
        assert sum(int(p["width"]) for p in parts) == BAR_PX * len(bars)
        assert sum(int(p["data-bytes"]) for p in parts) == budget * len(bars)


def test_redact_hosts_masks_the_data_before_the_markup(tmp_path: Path) -> None:
    """Nodes named like elements of the page: masking the rendered text would rename the elements."""
    done = _cluster(tmp_path, ("main", "table"), "--format", "html", "--redact-hosts")
    text = done.stdout
    dom = _dom(text)
    assert dom.find("main") and dom.find("table", **{"class": "nodes"}) and not dom.find("host")
    assert all(address not in text for address in ADDRESSES) and "host-" in text
    assert ">main<" not in text and ">table<" not in text  # the node names, masked where they are shown
    assert "they are masked here" in text
