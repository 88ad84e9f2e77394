"""`glm5check compare`: reports of the bundled demo nodes (edited to seed one difference each), and two
real nodes in network namespaces running the guide's node 0 / node 1 scripts."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, assert_no_traceback, clean_env, run_cli, run_in_process
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(FIXTURES))
from make_checkpoint import write_sparse_safetensors

from glm5check.commands.compare import NodeReport, compare, render_json, render_table
from glm5check.knowledge import glm5

SCRIPTS = FIXTURES / "serve-scripts"


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The JSON reports of glm5check run on the two bundled demo snapshots (healthy node 0, faulty node 1)."""
    folder = tmp_path_factory.mktemp("demo-reports")
    reports = {}
    for name, snapshot in (("node0", "demo"), ("node1", "demo:a2-node1")):
        out = folder / f"{name}.json"
        done = run_in_process("--profile", "a2-multi", "--replay", snapshot, "--format", "json", "-o", str(out))
        assert_no_traceback(done)
        reports[name] = json.loads(out.read_text())
    return reports


def consistent_pair(demo: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Node 0's real report, and a node 1 made from it: its own host, rank, addresses and device IPs."""
    node0 = copy.deepcopy(demo["node0"])
    node1 = copy.deepcopy(demo["node0"])
    node1["node"].update(hostname="npu-a2-02", rank=1, role="headless")
    node1["profile"]["serve"].update(headless=True, data_parallel_start_rank=1)
    node1["profile"]["serve_sources"].update(headless="script line 25", data_parallel_start_rank="script line 28")
    node1["facts"]["interfaces"] = copy.deepcopy(demo["node1"]["facts"]["interfaces"])
    node1["facts"]["env"]["HCCL_IF_IP"] = demo["node1"]["facts"]["env"]["HCCL_IF_IP"]
    node1["facts"]["npu_device_ips"] = {
        k: v.replace("10.20.11.", "10.20.12.") for k, v in node0["facts"]["npu_device_ips"].items()
    }
    for report in (node0, node1):
        report["profile"]["serve"]["data_parallel_address"] = "10.20.0.11"
    return node0, node1


def run_compare(tmp_path: Path, *reports: dict[str, Any], fmt: str = "json") -> tuple[int, Any]:
    paths = []
    for index, report in enumerate(reports):
        path = tmp_path / f"node{index}.json"
        path.write_text(json.dumps(report))
        paths.append(str(path))
    done = run_in_process("compare", *paths, "--format", fmt)
    assert_no_traceback(done)
    return done.returncode, (json.loads(done.stdout) if fmt == "json" else done.stdout)


def items(result: dict[str, Any]) -> list[str]:
    return [d["item"] for d in result["differences"]]


def test_consistent_nodes_pass(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    code, result = run_compare(tmp_path, *consistent_pair(demo_reports))
    assert (code, result["differences"], result["ok"]) == (0, [], True)
    assert [n["dp_ranks"] for n in result["nodes"]] == [[0], [1]]


def test_the_demo_nodes_disagree_where_node1_is_faulty(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    code, result = run_compare(tmp_path, demo_reports["node0"], demo_reports["node1"])
    assert code == 1
    assert {"transformers version", "HCCL_BUFFSIZE"} <= set(items(result))
    buffsize = next(d for d in result["differences"] if d["item"] == "HCCL_BUFFSIZE")
    assert buffsize["values"] == {"npu-a2-01": "200", "npu-a2-02": "unset"}


def seed(report: dict[str, Any], change: str) -> None:
    facts, serve = report["facts"], report["profile"]["serve"]
    if change == "vllm commit":
        facts["packages"]["vllm"].update(version="0.16.0rc2.dev5+g1a2b3c4d5.empty", commit="1a2b3c4d5")
    elif change == "weights":
        facts["weights"]["fingerprint"] = "sha256:" + "ab" * 32
    elif change == "rank":
        report["node"].update(rank=0, role="primary")
        serve.update(headless=False)
        serve.pop("data_parallel_start_rank")
    elif change == "rpc port":
        serve["data_parallel_rpc_port"] = 13390
    elif change == "mtu":
        nic = next(i for i in facts["interfaces"] if facts["env"]["HCCL_IF_IP"] in i["ipv4"])
        nic["mtu"] = 9000


@pytest.mark.parametrize(
    ("change", "expected_items", "words"),
    [
        ("vllm commit", ["vllm version", "vllm commit"], "built from different commits"),
        ("weights", ["fingerprint"], "weights differ"),
        ("rank", ["DP rank 0", "DP ranks"], "DP rank 0 is taken by 2 nodes"),
        ("rpc port", ["--data-parallel-rpc-port"], "--data-parallel-rpc-port differs"),
        ("mtu", ["MTU"], "the interfaces carrying HCCL_IF_IP have different MTUs"),
    ],
)
def test_each_seeded_difference_is_named(
    change: str,
    expected_items: list[str],
    words: str,
    demo_reports: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    node0, node1 = consistent_pair(demo_reports)
    seed(node1, change)
    code, result = run_compare(tmp_path, node0, node1)
    assert code == 1
    assert items(result) == expected_items
    assert any(words in d["message"] for d in result["differences"])


def test_all_four_seeded_differences_in_one_table(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    node0, node1 = consistent_pair(demo_reports)
    for change in ("vllm commit", "weights", "rank", "rpc port"):
        seed(node1, change)
    code, table = run_compare(tmp_path, node0, node1, fmt="table")
    assert code == 1
    for words in ("vllm commit", "fingerprint", "DP rank 0", "--data-parallel-rpc-port", "13389", "13390"):
        assert words in table
    assert table.rstrip().endswith("exit 1")


def test_short_and_full_commits_agree(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    node0, node1 = consistent_pair(demo_reports)
    node1["facts"]["packages"]["vllm"]["commit"] = "978a37c82387ce4a40aaadddcdbaf4a06fc4d590"
    assert run_compare(tmp_path, node0, node1)[0] == 0


def test_per_node_values_must_be_local_and_distinct(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    node0, node1 = consistent_pair(demo_reports)
    node1["facts"]["env"]["HCCL_IF_IP"] = "10.20.0.11"  # node 0's address, copied into node 1's script
    node1["facts"]["env"]["GLOO_SOCKET_IFNAME"] = "ens3"
    node1["facts"]["npu_device_ips"] = dict(node0["facts"]["npu_device_ips"])
    code, result = run_compare(tmp_path, node0, node1)
    assert code == 1
    messages = [d["message"] for d in result["differences"]]
    assert any("HCCL_IF_IP=10.20.0.11 on npu-a2-02 is not an address of that node" in m for m in messages)
    assert any("HCCL_IF_IP=10.20.0.11 on more than one node" in m for m in messages)
    assert any("GLOO_SOCKET_IFNAME=ens3 on npu-a2-02: no interface ens3" in m for m in messages)
    assert any("NPU device IPs configured on more than one node" in m for m in messages)
    # Interface names may be the same on both nodes: both use enp189s0f0 and that is no difference.
    assert "HCCL_SOCKET_IFNAME" not in items(result)


def test_address_must_be_node0s(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    node0, node1 = consistent_pair(demo_reports)
    for report in (node0, node1):
        report["profile"]["serve"]["data_parallel_address"] = "10.20.0.99"
    code, result = run_compare(tmp_path, node0, node1)
    assert code == 1
    assert items(result) == ["--data-parallel-address", "--data-parallel-address"]
    assert "not an address of node 0 (npu-a2-01: 10.20.0.11" in result["differences"][0]["message"]


def test_missing_rank_is_named(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    node0, node1 = consistent_pair(demo_reports)
    node1["profile"]["serve"]["data_parallel_start_rank"] = 2
    code, result = run_compare(tmp_path, node0, node1)
    assert code == 1
    messages = [d["message"] for d in result["differences"]]
    assert "DP rank 2 is outside 0..1 (--data-parallel-size 2)" in messages
    assert "DP rank(s) 1 of 0..1 are on no node compared here" in messages


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read report"),
        ("{not json", "is not JSON"),
        ('{"schema": "other"}', "is not a glm5check report"),
        ('{"schema": "glm5check.report/v1", "n": ' + "1" * 5000 + "}", "is not JSON (Exceeds the limit"),
    ],
)
def test_unreadable_input_exits_2(
    content: str | None, words: str, demo_reports: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(demo_reports["node0"]))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    done = run_in_process("compare", str(good), str(bad))
    assert_no_traceback(done)
    assert done.returncode == 2
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_more_reports_than_the_limit_is_a_usage_error_before_any_is_read(tmp_path: Path) -> None:
    missing = tmp_path / "never-read.json"  # read first, it would be "cannot read report"
    done = run_cli("compare", *[str(missing)] * 4097)
    assert_no_traceback(done)
    assert done.returncode == 2 and "compare takes at most 4096 reports, not 4097" in done.stderr


def test_one_report_is_a_usage_error(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(demo_reports["node0"]))
    done = run_in_process("compare", str(good))
    assert done.returncode == 2 and "at least two" in done.stderr


def test_secrets_never_reach_the_comparison(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    node0, node1 = consistent_pair(demo_reports)
    node1["facts"]["env"]["HF_HUB_URL"] = "https://user:hunter2@hub.example/"
    code, table = run_compare(tmp_path, node0, node1, fmt="table")
    assert code == 1 and "HF_HUB_URL" in table and "hunter2" not in table


# ---------------------------------------------------------------------------------------------------
# Two real nodes: network namespaces joined by a veth pair (tests/netns.py), the guide's scripts.


def netns_skip_reason() -> str | None:
    from netns import unavailable_reason

    return unavailable_reason()


def small_weights(dest: Path, extra_layer: bool = False) -> Path:
    """A cut-down GLM-5 w4a8 folder (real safetensors headers, sparse data); extra_layer changes its
    fingerprint the way a different download would."""
    layers = (None, 0, 1) if extra_layer else (None, 0)
    tensors = [t for t in glm5.layout("w4a8", "none") if glm5.layer_of(t.name) in layers]
    dest.mkdir(parents=True)
    shard = "quant_model_weights-00001-of-00001.safetensors"
    write_sparse_safetensors(dest / shard, tensors, {"format": "pt"})
    index = {
        "metadata": {"total_size": sum(t.nbytes for t in tensors)},
        "weight_map": {t.name: shard for t in tensors},
    }
    (dest / "quant_model_weights.safetensors.index.json").write_text(json.dumps(index))
    (dest / "config.json").write_text(json.dumps(glm5.CONFIG))
    (dest / "quant_model_description.json").write_text(json.dumps(glm5.quant_description(tensors)))
    return dest


def interpreter_with_vllm(dest: Path, version: str) -> Path:
    """A venv (no pip) whose site-packages holds vllm's installed metadata as `pip install .` leaves it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True, timeout=120)
    site = next(dest.glob("lib/python*/site-packages"))
    info = site / f"vllm-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n")
    (info / "direct_url.json").write_text(json.dumps({"url": "file:///root/vllm", "dir_info": {}}))
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")
    return dest / "bin" / "python"


@pytest.fixture(scope="module")
def nodes() -> Iterator[Any]:
    reason = netns_skip_reason()
    if reason:
        pytest.skip(reason)
    from netns import netns_pair

    with netns_pair() as pair:
        yield pair


def node_script(tmp_path: Path, name: str, address: str, node0: str, **changes: str) -> Path:
    text = (SCRIPTS / name).read_text()
    text = text.replace('local_ip="10.20.0.11"', f'local_ip="{address}"')
    text = text.replace('local_ip="10.20.0.12"', f'local_ip="{address}"')
    text = text.replace('node0_ip="10.20.0.11"', f'node0_ip="{node0}"')
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}-{address}-{len(changes)}.sh"
    path.write_text(text)
    return path


@pytest.mark.netns
@pytest.mark.slow
def test_two_namespace_nodes_agree_then_differ(nodes: Any, tmp_path: Path) -> None:
    from netns import NODE0_IP, NODE1_IP

    weights = small_weights(tmp_path / "weights")
    other_weights = small_weights(tmp_path / "other-weights", extra_layer=True)
    pinned = interpreter_with_vllm(tmp_path / "venv-pinned", "0.16.0rc2.dev3+g978a37c82.empty")
    other = interpreter_with_vllm(tmp_path / "venv-other", "0.16.0rc2.dev9+g0123456ab.empty")
    checks = [
        "--check",
        "serve.*",
        "--check",
        "env.*",
        "--check",
        "net.interfaces",
        "--check",
        "packages.vllm",
        "--check",
        "weights.shards",
        "--check",
        "npu.count",
    ]
    env = {k: v for k, v in clean_env().items() if k != "NO_COLOR"}

    def report(node: Any, script: Path, model: Path, python: Path, name: str) -> str:
        args = [
            "--profile",
            "a2-multi",
            "--serve-script",
            str(script),
            "--model-dir",
            str(model),
            "--python",
            str(python),
            *checks,
        ]
        data = nodes.report(node, args, env)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        return str(path)

    script0 = node_script(tmp_path, "a2-multi-node0.sh", NODE0_IP, NODE0_IP)
    script1 = node_script(tmp_path, "a2-multi-node1.sh", NODE1_IP, NODE0_IP)
    node0 = report(nodes.node0, script0, weights, pinned, "node0")
    node1 = report(nodes.node1, script1, weights, pinned, "node1")
    agreed = run_in_process("compare", node0, node1, "--format", "json", env=clean_env())
    assert_no_traceback(agreed)
    result = json.loads(agreed.stdout)
    assert agreed.returncode == 0, result["differences"]
    assert [n["dp_ranks"] for n in result["nodes"]] == [[0], [1]]

    seeded_script = node_script(
        tmp_path,
        "a2-multi-node1.sh",
        NODE1_IP,
        NODE0_IP,
        **{
            "--data-parallel-rpc-port 13389": "--data-parallel-rpc-port 13390",
            "--data-parallel-start-rank 1": "--data-parallel-start-rank 0",
        },
    )
    seeded = report(nodes.node1, seeded_script, other_weights, other, "node1-seeded")
    differ = run_in_process("compare", node0, seeded, "--format", "json", env=clean_env())
    assert_no_traceback(differ)
    assert differ.returncode == 1
    named = {d["item"] for d in json.loads(differ.stdout)["differences"]}
    assert {"vllm commit", "fingerprint", "DP rank 0", "--data-parallel-rpc-port"} <= named, named
    assert os.path.exists(node0)


def test_single_node_replicas_are_compared_without_rank_rules(tmp_path: Path) -> None:
    reports = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        done = run_in_process("--profile", "a2-single", "--replay", "demo", "--format", "json", "-o", str(out))
        assert_no_traceback(done)
        report = json.loads(out.read_text())
        report["node"]["hostname"] = f"replica-{name}"
        reports.append(report)
    reports[1]["facts"]["cann_version"] = "8.3.RC1"
    code, result = run_compare(tmp_path, *reports)
    assert code == 1
    assert items(result) == ["CANN"]


@pytest.mark.slow
def test_a_fifo_is_refused_without_blocking(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(demo_reports["node0"]))
    fifo = tmp_path / "node1.json"
    os.mkfifo(fifo)
    done = run_cli("compare", str(good), str(fifo), timeout=30)
    assert done.returncode == 2 and "FIFO" in done.stderr


def test_report_nested_too_deep_is_a_config_error(tmp_path: Path) -> None:
    from glm5check.commands.compare import load_reports
    from glm5check.errors import ConfigError

    path = tmp_path / "deep.json"
    path.write_text("[" * 100000, encoding="utf-8")
    with pytest.raises(ConfigError, match="nested too deep"):
        load_reports((str(path),))


def test_wrong_types_inside_a_report_are_tolerated(demo_reports: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """A report is untrusted: every field may have any type. Nothing raises; what cannot be read is unknown."""
    odd = {"schema": "glm5check.report/v1", "node": [1], "profile": 5, "facts": {"interfaces": "x", "env": []}}
    code, result = run_compare(tmp_path, demo_reports["node0"], odd)
    assert code == 1 and result["nodes"][1]["label"] == "node1.json"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_PATHS = [
    ("node",),
    ("node", "rank"),
    ("profile",),
    ("profile", "name"),
    ("profile", "serve"),
    ("profile", "serve", "data_parallel_size"),
    ("profile", "serve", "data_parallel_size_local"),
    ("profile", "serve", "data_parallel_start_rank"),
    ("profile", "serve", "data_parallel_address"),
    ("profile", "node_env"),
    ("profile", "hardware"),
    ("facts",),
    ("facts", "env"),
    ("facts", "env", "HCCL_IF_IP"),
    ("facts", "env", "GLOO_SOCKET_IFNAME"),
    ("facts", "interfaces"),
    ("facts", "packages"),
    ("facts", "packages", "vllm"),
    ("facts", "weights"),
    ("facts", "serve"),
    ("facts", "serve", "flags"),
    ("facts", "npu_device_ips"),
    ("facts", "python"),
]


def _put(report: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        inner = report.get(key)
        if not isinstance(inner, dict):
            return
        report = inner
    report[path[-1]] = value


@settings(max_examples=400)
@given(changes=st.lists(st.tuples(st.sampled_from(_PATHS), _JSON), min_size=1, max_size=4))
@pytest.mark.slow
def test_compare_of_reports_with_any_values_never_raises(
    demo_reports: dict[str, dict[str, Any]], changes: list[tuple[tuple[str, ...], Any]]
) -> None:
    odd = copy.deepcopy(demo_reports["node1"])
    for path, value in changes:
        _put(odd, path, value)
    nodes = [NodeReport("a", "a.json", demo_reports["node0"]), NodeReport("b", "b.json", odd)]
    differences = compare(nodes)
    assert render_table(nodes, differences) and json.loads(render_json(nodes, differences))


def test_terminal_escapes_in_a_report_never_reach_the_table(
    demo_reports: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    node0, node1 = consistent_pair(demo_reports)
    node1["node"]["hostname"] = "npu\x1b]0;owned\x07-a2-02"
    node1["facts"]["env"]["HCCL_BUFFSIZE"] = "\x1b[2J\r\u202e200"
    code, table = run_compare(tmp_path, node0, node1, fmt="table")
    assert code == 1 and "HCCL_BUFFSIZE" in table
    assert not any(ch in table for ch in ("\x1b", "\x07", "\r", "\u202e"))


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("node",), ["npu-a2-02"], "node is a list, not an object"),
        (("node", "rank"), "1", "node.rank is a string, not a whole number"),
        (("node", "rank"), True, "node.rank is true/false, not a whole number"),
        (("facts", "env", "HCCL_BUFFSIZE"), 200, "facts.env.HCCL_BUFFSIZE is a whole number, not a string"),
        (("facts", "interfaces"), {"eth0": {}}, "facts.interfaces is an object, not a list"),
        (("facts", "packages", "vllm", "version"), ["0.16"], "facts.packages.vllm.version is a list"),
        (("profile", "serve", "data_parallel_size"), 10**12, "data_parallel_size is 1000000000000; a deployment"),
        (("profile", "serve", "data_parallel_start_rank"), -1, "data_parallel_start_rank is -1"),
    ],
)
def test_a_field_of_the_wrong_type_names_the_report_and_the_field(
    demo_reports: dict[str, dict[str, Any]], tmp_path: Path, path: tuple[str, ...], value: Any, words: str
) -> None:
    """A report is untrusted: a field of the wrong type is read as unknown (never raises), and the report
    and the field are named in a 'report' difference row, so a malformed report cannot pass unseen."""
    from glm5check.commands.compare import report_problem

    node0, node1 = consistent_pair(demo_reports)
    assert report_problem(node0) is None and report_problem(node1) is None
    target = node1
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problem = report_problem(node1)
    assert problem is not None and words in problem
    code, result = run_compare(tmp_path, node0, node1)
    rows = [d for d in result["differences"] if d["topic"] == "report"]
    assert code == 1 and len(rows) == 1, result["differences"]
    assert words in rows[0]["message"] and "read as unknown" in rows[0]["message"]


def test_beyond_eight_nodes_the_table_has_a_row_per_node_value(demo_reports: dict[str, dict[str, Any]]) -> None:
    from glm5check.commands.compare import WIDE_TABLE_NODES, Difference, NodeReport, render_table

    nodes = [NodeReport(f"node-{n:02d}", f"/r/{n}.json", demo_reports["node0"]) for n in range(WIDE_TABLE_NODES + 1)]
    difference = Difference("env", "HCCL_BUFFSIZE", "HCCL_BUFFSIZE differs", {"node-03": "100", "node-07": "unset"})
    lines = render_table(nodes, [difference]).splitlines()
    assert lines[0].split() == ["topic", "item", "node", "value", "why"]
    rows = [line.split()[:4] for line in lines[2:4]]
    assert rows == [["env", "HCCL_BUFFSIZE", "node-03", "100"], ["env", "HCCL_BUFFSIZE", "node-07", "unset"]]
    wide = render_table(nodes[:2], [Difference("env", "X", "differs", {"node-00": "a", "node-01": "b"})])
    assert wide.splitlines()[0].split() == ["topic", "item", "node-00", "node-01", "why"]


# -- the published compare schema ---------------------------------------------------------------------


def _compare_schema() -> dict[str, Any]:
    from importlib import resources

    return json.loads(resources.files("glm5check.schema").joinpath("compare-v1.json").read_text())


def test_compare_json_validates_against_its_shipped_schema(
    demo_reports: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    import jsonschema

    schema = _compare_schema()
    code, differing = run_compare(tmp_path, demo_reports["node0"], demo_reports["node1"])
    assert code == 1 and differing["differences"]
    jsonschema.validate(differing, schema)
    code, agreeing = run_compare(tmp_path, *consistent_pair(demo_reports))
    assert code == 0 and agreeing["ok"] is True
    jsonschema.validate(agreeing, schema)
    broken = copy.deepcopy(differing)
    broken["differences"][0]["values"] = {"npu-a2-01": 5}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_compare_json_of_reports_with_odd_values_still_validates(
    demo_reports: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """A report from elsewhere may hold a rank as text or a hostname as a number: the output keeps its schema."""
    import jsonschema

    node0, node1 = consistent_pair(demo_reports)
    node1["node"].update(hostname=7, rank="1", role=["headless"])
    _, result = run_compare(tmp_path, node0, node1)
    jsonschema.validate(result, _compare_schema())
    assert result["nodes"][1]["hostname"] == "7" and result["nodes"][1]["rank"] is None
