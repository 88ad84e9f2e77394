"""packages.* verdicts on hand-made inventories (the JSON pyinspect prints), answered by a replay host."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import assert_no_traceback, clean_env, run_cli, write_executable
from glm5check.checks import packages as checks
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from glm5check.engine.check import Check, Status
from glm5check.engine.context import REPORTED_FACTS
from glm5check.engine.runner import Outcome, run_one
from glm5check.facts import requirements
from glm5check.facts.context import Context, Options
from glm5check.facts.packages import Dist, inspect_argv
from glm5check.host.git import PROBE_KIND
from glm5check.host.pyinspect import version_lines
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotWriter
from glm5check.knowledge.profiles import Profile, load_builtin
from glm5check.knowledge.targets import TRANSFORMERS_GIT
from glm5check.parsers.versions import parse_scm_version, without_target

PART = Path(__file__).resolve().parents[1] / "fixtures" / "demo" / "parts" / "packages.py"
VLLM_PIN = "978a37c82387ce4a40aaadddcdbaf4a06fc4d590"
VLLM_ASCEND_PIN = "ff3a50d011dcbea08f87ebed69ff1bf156dbb01e"


def _load_part() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_part_packages", PART)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_part()


class Node:
    """A guide-built node whose stack a test then breaks."""

    def __init__(self) -> None:
        self.dists, self.packages = demo.guide_stack()
        self.writer = SnapshotWriter("a2-single")
        self.writer.env({})  # a replay answers only what is recorded: this node's environment is empty
        self.writer.probe(PROBE_KIND, demo.VLLM_ASCEND_CHECKOUT, demo._checkout(VLLM_ASCEND_PIN))
        self.python_version = "3.11.14"

    def set(self, name: str, version: str, **fields: Any) -> Node:
        record = demo.dist(name, version, **fields)
        key = name.lower().replace("_", "-")
        self.dists = [d for d in self.dists if d["name"].lower().replace("_", "-") != key] + [record]
        return self

    def record(self, name: str) -> dict[str, Any]:
        return next(d for d in self.dists if d["name"].lower().replace("_", "-") == name)

    def context(self, options: Options | None = None, profile: Profile | None = None) -> Context:
        self.writer.command(
            inspect_argv("python3"),
            stdout=demo.inventory_json(self.dists, self.packages, self.python_version),
        )
        return Context(profile or load_builtin("a2-single"), ReplayHost(self.writer.data), options)

    def run(
        self, check: Check, options: Options | None = None, profile: Profile | None = None
    ) -> dict[str | None, Outcome]:
        return {o.item: o for o in run_one(check, self.context(options, profile))}


def test_guide_node_passes_every_package_check() -> None:
    node = Node()
    for check in (
        checks.python_version,
        checks.vllm,
        checks.vllm_ascend,
        checks.transformers,
        checks.requirements,
    ):
        outcomes = node.run(check)
        assert all(o.status == Status.PASS for o in outcomes.values()), outcomes
    assert node.run(checks.vllm)[None].message == (
        "0.16.0rc2.dev3+g978a37c82.empty = pin 978a37c8 (setuptools_scm version, clean)"
    )


@pytest.mark.parametrize(
    ("version", "fragment"),
    [
        ("0.16.0rc2.dev3+g978a37c82", "has no .empty target suffix: built without VLLM_TARGET_DEVICE=empty"),
        ("0.16.0rc2.dev3+g978a37c82.d20260301.empty", "uncommitted changes (.d20260301)"),
        ("0.16.0", "0.16.0 carries no git commit (+g<hash>): a release, tag or wheel build"),
        ("0.16.0rc2.dev3+g978a37c82.cu128", "built for target .cu128, not .empty"),
        ("0.15.0rc1.dev12+g0123456789.empty", f"built from commit 0123456789, but the pin is {VLLM_PIN}"),
    ],
)
def test_wrong_vllm_builds_fail_with_their_reason(version: str, fragment: str) -> None:
    node = Node()
    node.set("vllm", version, requires=demo.VLLM_REQUIRES, direct_url=node.record("vllm")["direct_url"])
    pretend = "__version__ = version = '0.16.0'\n__commit_id__ = commit_id = None\n"
    scm = parse_scm_version(version)
    version_py = demo.version_py(without_target(scm), f"g{scm.commit}") if scm.commit else pretend
    node.packages["vllm"] = demo.package(f"{demo.SITE}/vllm", {"_version.py": version_py})
    outcome = node.run(checks.vllm)[None]
    assert outcome.status == Status.FAIL
    assert fragment in outcome.message
    assert outcome.remediation and "VLLM_TARGET_DEVICE=empty pip install -v ." in outcome.remediation


def test_vllm_wheel_from_pypi_says_so() -> None:
    node = Node().set("vllm", "0.16.0", requires=demo.VLLM_REQUIRES)
    pypi_version_py = (PART.parents[2] / "install-facts" / "vllm__version.py.from-pypi-sdist-0.16.0.txt").read_text()
    node.packages["vllm"] = demo.package(f"{demo.SITE}/vllm", {"_version.py": version_lines(pypi_version_py)})
    outcome = node.run(checks.vllm)[None]
    assert outcome.status == Status.FAIL
    assert outcome.message == (
        f"installed commit 89a77b108 (_version.py __commit_id__) is not the pinned {VLLM_PIN}; "
        "0.16.0 has no .empty target suffix: built without VLLM_TARGET_DEVICE=empty "
        "(for the default CUDA target); "
        "installed from PyPI or another package index"
    )


def test_expect_override_replaces_the_pin_and_failures_show_both_commits() -> None:
    other = "0123456789abcdef0123456789abcdef01234567"
    node = Node()
    vcs = {
        "url": "https://github.com/vllm-project/vllm-ascend.git",
        "vcs_info": {"commit_id": other, "vcs": "git"},
    }
    node.set(
        "vllm_ascend",
        "0.14.0rc2.dev151+g0123456789",
        requires=demo.VLLM_ASCEND_REQUIRES,
        direct_url=vcs,
        entry_points=demo.VLLM_ASCEND_ENTRY_POINTS,
    )
    failing = node.run(checks.vllm_ascend)[None]
    assert failing.status == Status.FAIL
    assert other in failing.message and VLLM_ASCEND_PIN in failing.message
    assert "direct_url.json vcs_info" in failing.message
    passing = node.run(checks.vllm_ascend, Options(expect={"vllm-ascend": other[:9]}))[None]
    assert passing.status == Status.PASS
    assert passing.expected == f"commit {other[:9]} (--expect)"


def test_an_expected_commit_that_is_not_one_fails_clearly() -> None:
    outcome = Node().run(checks.vllm, Options(expect={"vllm": "main"}))[None]
    assert (outcome.status, outcome.message) == (
        Status.FAIL,
        "the expected commit 'main' (--expect) is not a commit id: 7 to 40 hex digits",
    )


def test_transformers_from_pypi_below_5_2_fails_with_the_error_users_hit() -> None:
    node = Node().set("transformers", "5.1.0")
    node.packages["transformers"] = demo.transformers_package(False)
    outcome = node.run(checks.transformers)[None]
    assert outcome.status == Status.FAIL
    assert "model type `glm_moe_dsa` but Transformers does not recognize this architecture" in outcome.message
    assert outcome.remediation == "pip install git+https://github.com/huggingface/transformers.git"


def test_transformers_release_with_glm5_warns_unless_the_profile_accepts_releases() -> None:
    node = Node().set("transformers", "5.2.0")
    outcome = node.run(checks.transformers)[None]
    assert outcome.status == Status.WARN
    assert "has glm_moe_dsa and works, but the guide installs git main" in outcome.message
    profile = load_builtin("a2-single")
    lenient = replace(profile, pins=replace(profile.pins, transformers_source="pypi"))
    assert node.run(checks.transformers, profile=lenient)[None].status == Status.PASS


def test_transformers_git_build_without_glm5_fails() -> None:
    node = Node()
    node.packages["transformers"] = demo.transformers_package(False)
    outcome = node.run(checks.transformers)[None]
    assert outcome.status == Status.FAIL
    assert "models/glm_moe_dsa/configuration_glm_moe_dsa.py missing" in (outcome.observed or "")


def test_requirements_fail_on_a_wrong_torch_npu_and_a_missing_triton() -> None:
    node = Node().set("torch_npu", "2.8.0", requires=("torch==2.8.0+cpu",))
    node.dists = [d for d in node.dists if d["name"] != "triton-ascend"]
    outcome = node.run(checks.requirements)["vllm-ascend"]
    assert outcome.status == Status.FAIL
    assert "torch-npu==2.9.0 (installed 2.8.0)" in outcome.message
    assert "triton-ascend==3.2.0 (not installed)" in outcome.message
    assert outcome.remediation == "pip install 'torch-npu==2.9.0' 'triton-ascend==3.2.0'"


def test_a_post_release_of_an_exact_pin_is_a_warning_not_a_blocker() -> None:
    node = Node().set("torch_npu", "2.9.0.post2", requires=("torch==2.9.0+cpu",))
    outcome = node.run(checks.requirements)["vllm-ascend"]
    assert outcome.status == Status.WARN
    assert "torch-npu==2.9.0 (installed 2.9.0.post2, a post-release of the pin)" in outcome.message
    assert outcome.remediation == "pip install 'torch-npu==2.9.0'"
    assert not requirements._post_release_of_pin(SpecifierSet("==2.9.0"), "2.9.1")
    assert not requirements._post_release_of_pin(SpecifierSet(">=2.9.0,<3"), "2.9.0.post2")
    assert not requirements._post_release_of_pin(SpecifierSet("==1.0"), "1" * 5000)  # int() refuses it


def test_requirements_fail_on_two_copies_of_torch_and_keep_extras_in_the_fix() -> None:
    node = Node()
    node.dists.append(demo.dist("torch", "2.8.0", folder_name="torch-2.8.0.dist-info"))
    node.dists = [d for d in node.dists if d["name"] != "fastapi"]
    vllm, ascend = node.run(checks.requirements)["vllm"], node.run(checks.requirements)["vllm-ascend"]
    assert "torch==2.9.0 (2 copies installed: 2.9.0+cpu, 2.8.0)" in ascend.message
    assert vllm.message.endswith("unmet: fastapi>=0.115.0 (not installed)")
    # vllm-ascend's fastapi<0.124.0 is merged in: a newer fastapi would break vllm-ascend.
    assert vllm.remediation == "pip install 'fastapi[standard]<0.124.0,>=0.115.0'"


def test_requirement_fixes_never_undo_another_check() -> None:
    node = Node().set("numpy", "2.1.0").set("transformers", "4.50.0")
    node.dists = [d for d in node.dists if d["name"] not in ("regex", "psutil")]
    plan = requirements.requirement_plan(node.context())
    # vllm asks for a bare numpy, vllm-ascend for numpy<2.0.0; GLM-5 needs transformers from git main,
    # never vllm's transformers<5.
    assert set(plan.install) == {
        "numpy<2.0.0",
        f"transformers @ {TRANSFORMERS_GIT}",
        "regex",
        "psutil",
    }
    ascend = node.run(checks.requirements)["vllm-ascend"]
    expected = f"pip install 'transformers @ {TRANSFORMERS_GIT}' 'numpy<2.0.0'"
    assert ascend.remediation == expected, ascend.remediation


def test_a_long_unmet_list_is_summarised_and_fixed_by_one_command() -> None:
    node = Node()
    keep = {"vllm", "vllm_ascend", "transformers", "torch_npu", "huggingface-hub"}
    node.dists = [d for d in node.dists if d["name"] in keep]
    outcome = node.run(checks.requirements)["vllm"]
    assert outcome.status == Status.FAIL
    assert outcome.message.startswith(
        "11 of 12 requirements of vllm 0.16.0rc2.dev3+g978a37c82.empty unmet: "
        "regex, cachetools, psutil, numpy, requests, … and 6 more"
    ), outcome.message
    assert len(outcome.observed.split("; ")) == 11  # the full list stays in the JSON report
    assert outcome.remediation == "pip install -r <(glm5check --profile a2-single --requirements)"


def test_vllm_transformers_pin_is_the_expected_conflict_and_extras_are_ignored() -> None:
    outcomes = Node().run(checks.requirements)
    assert outcomes["vllm"].status == Status.PASS  # `pytest; extra == "test"` is not required
    conflict = outcomes["vllm transformers pin"]
    assert conflict.status == Status.PASS
    assert conflict.message.startswith("known, expected conflict: vllm requires transformers<5,>=4.56.0")


def test_two_installed_copies_fail() -> None:
    node = Node()
    node.dists.append(demo.dist("vllm", "0.15.0+empty", folder_name="vllm-0.15.0+empty.dist-info"))
    outcome = node.run(checks.vllm)[None]
    assert outcome.status == Status.FAIL
    assert outcome.message.startswith("2 installed copies of vllm: ")
    assert node.run(checks.requirements)["vllm"].status == Status.SKIP


def test_broken_metadata_and_direct_url_fail_clearly() -> None:
    node = Node()
    node.dists = [d for d in node.dists if d["name"] != "vllm"] + [
        {
            "name": "vllm",
            "version": "0.16.0rc2.dev3+g978a37c82.empty",
            "name_from_folder": True,
            "path": f"{demo.SITE}/vllm-0.16.0rc2.dev3+g978a37c82.empty.dist-info",
            "errors": ["no METADATA file"],
        }
    ]
    ascend = node.record("vllm-ascend")
    ascend.pop("direct_url")
    ascend["direct_url_error"] = "direct_url.json is not JSON (Expecting value: line 1 column 1 (char 0)): '{oops'"
    node.dists.append(
        {
            "name": "six",
            "version": "1.17.0",
            "name_from_folder": True,
            "errors": ["no METADATA file"],
            "path": f"{demo.SITE}/six-1.17.0.dist-info",
        }
    )
    vllm = node.run(checks.vllm)[None]
    assert (vllm.status, vllm.message) == (
        Status.FAIL,
        f"vllm's metadata is broken: {demo.SITE}/vllm-0.16.0rc2.dev3+g978a37c82.empty.dist-info has no METADATA",
    )
    ascend_outcome = node.run(checks.vllm_ascend)[None]
    assert ascend_outcome.status == Status.FAIL
    assert "install record is broken" in ascend_outcome.message and "not JSON" in ascend_outcome.message
    broken = node.run(checks.requirements)["metadata"]
    assert broken.status == Status.WARN and "six-1.17.0.dist-info" in broken.message


def test_editable_install_whose_folder_vanished_fails() -> None:
    node = Node()
    vllm = node.record("vllm")
    vllm["direct_url"] = {"dir_info": {"editable": True}, "url": "file:///vllm-workspace/vllm"}
    node.writer.probe(
        PROBE_KIND,
        "/vllm-workspace/vllm",
        {
            "folder": "/vllm-workspace/vllm",
            "head": None,
            "dirty": None,
            "changed": [],
            "submodules": [],
            "error": "the source folder /vllm-workspace/vllm does not exist (moved or deleted after install?)",
        },
    )
    outcome = node.run(checks.vllm)[None]
    assert outcome.status == Status.FAIL
    assert "editable install, but its source folder cannot be read" in outcome.message
    assert "does not exist" in outcome.message


def test_setup_py_develop_is_judged_by_its_checkout_and_setup_py_install_has_no_record() -> None:
    node = Node()
    ascend = node.record("vllm-ascend")
    ascend.pop("direct_url")
    ascend["path"] = f"{demo.VLLM_ASCEND_CHECKOUT}/vllm_ascend.egg-info"
    node.writer.probe(
        PROBE_KIND,
        demo.VLLM_ASCEND_CHECKOUT,
        {
            "folder": demo.VLLM_ASCEND_CHECKOUT,
            "head": VLLM_ASCEND_PIN,
            "dirty": True,
            "changed": ["setup.py"],
            "error": None,
            "submodules": [],
        },
    )
    outcome = node.run(checks.vllm_ascend)[None]
    assert outcome.status == Status.FAIL
    assert outcome.message == f"the checkout {demo.VLLM_ASCEND_CHECKOUT} has uncommitted changes (setup.py)"
    assert outcome.observed.endswith(f"commit {VLLM_ASCEND_PIN} (editable checkout HEAD, dirty)")
    node.set("vllm", "0.16.0", folder_name="vllm-0.16.0-py3.11.egg-info")
    node.record("vllm")["path"] = f"{demo.SITE}/vllm-0.16.0-py3.11.egg-info"
    node.packages["vllm"] = demo.package(f"{demo.SITE}/vllm")
    vllm = node.run(checks.vllm)[None]
    assert vllm.message.startswith("0.16.0 carries no git commit")
    assert vllm.message.endswith("; installed from setup.py install (no install record)")


def test_uninitialised_submodules_and_a_missing_platform_plugin_fail() -> None:
    node = Node()
    node.record("vllm-ascend")["entry_points"] = "[console_scripts]\nfoo = bar:main\n"
    node.writer.probe(
        PROBE_KIND,
        demo.VLLM_ASCEND_CHECKOUT,
        {
            "folder": demo.VLLM_ASCEND_CHECKOUT,
            "head": VLLM_ASCEND_PIN,
            "dirty": False,
            "changed": [],
            "error": None,
            "submodules": [{"path": "csrc/third_party/catlass", "state": "uninitialised", "commit": None}],
        },
    )
    outcomes = node.run(checks.vllm_ascend)
    assert outcomes[None].status == Status.PASS
    assert outcomes["submodules"].status == Status.FAIL
    assert "csrc/third_party/catlass" in outcomes["submodules"].message
    assert outcomes["platform plugin"].status == Status.FAIL


def test_a_submodule_at_another_commit_warns() -> None:
    node = Node()
    node.writer.probe(
        PROBE_KIND,
        demo.VLLM_ASCEND_CHECKOUT,
        {
            "folder": demo.VLLM_ASCEND_CHECKOUT,
            "head": VLLM_ASCEND_PIN,
            "dirty": False,
            "changed": [],
            "error": None,
            "submodules": [{"path": "csrc/third_party/catlass", "state": "other-commit", "commit": None}],
        },
    )
    outcome = node.run(checks.vllm_ascend)["submodules"]
    assert (outcome.status, outcome.observed) == (Status.WARN, "csrc/third_party/catlass")


def test_python_outside_the_supported_versions_fails() -> None:
    node = Node()
    node.python_version = "3.12.3"
    outcome = node.run(checks.python_version)[None]
    assert (outcome.status, outcome.expected) == (Status.FAIL, "3.10 or 3.11 (profile a2-single)")


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        ({"exit_code": None, "not_found": True}, "the target interpreter 'python3' was not found"),
        (
            {"exit_code": None, "timed_out": True, "timeout_s": 10.0},
            "did not answer within 10 s and was killed",
        ),
        (
            {"exit_code": 1, "stderr": "Traceback (most recent call last):\nSyntaxError: invalid syntax"},
            "exited with status 1: SyntaxError: invalid syntax",
        ),
        ({"exit_code": 0, "stdout": "Python 2.7 says hi"}, "its output is not JSON: 'Python 2.7 says hi'"),
    ],
)
def test_an_interpreter_that_cannot_answer_is_an_error_for_every_package_check(
    command: dict[str, Any], fragment: str
) -> None:
    writer = SnapshotWriter("a2-single")
    writer.env({})
    writer.command(inspect_argv("python3"), **command)
    ctx = Context(load_builtin("a2-single"), ReplayHost(writer.data))
    for check in (checks.python_version, checks.vllm, checks.transformers, checks.requirements):
        [outcome] = run_one(check, ctx)
        assert outcome.status == Status.ERROR
        assert fragment in outcome.message and "--python" in outcome.message
        assert "Traceback" not in outcome.message


def test_reported_facts_name_versions_sources_and_commits() -> None:
    ctx = Node().context()
    for check in (checks.python_version, checks.vllm, checks.vllm_ascend):
        run_one(check, ctx)
    packages = REPORTED_FACTS["packages"](ctx)
    assert packages["vllm"] == {
        "version": "0.16.0rc2.dev3+g978a37c82.empty",
        "source": "local-folder",
        "commit": "978a37c82",
        "commit_source": "setuptools_scm version",
        "dirty": False,
    }
    assert packages["transformers"]["commit"] == demo.TRANSFORMERS_COMMIT
    assert packages["torch-npu"]["version"] == "2.9.0"
    assert REPORTED_FACTS["python"](ctx) == {"version": "3.11.14", "executable": demo.PYTHON}


def test_install_kinds_of_the_direct_url_files_pip_really_writes() -> None:
    examples = (PART.parents[2] / "install-facts" / "direct_url-examples-observed.txt").read_text()
    records = [json.loads(line) for line in examples.splitlines() if line.startswith("{")]
    dists = [Dist("vllm", "0", "/site/vllm-0.dist-info", direct_url=record) for record in records]
    assert [d.install_kind for d in dists] == ["local-folder", "editable", "vcs", "vcs"]
    assert [d.local_folder for d in dists] == ["/path/to/checkout", "/path/to/checkout", None, None]
    assert [d.vcs_commit for d in dists[2:]] == [
        "d8949ce7066c87d4f8e5fa0fe797b6f5f1a9375e",
        "4665fe8dedc21fcd71554dfd20ffaaf4dbc25b49",
    ]
    assert Dist("vllm", "0", "/site/vllm-0.dist-info").install_kind == "index"


def test_inventory_nested_too_deep_is_a_reason_not_an_error() -> None:
    from glm5check.facts.packages import parse_inventory

    assert parse_inventory("[" * 100_000) == "its output is not JSON: " + repr("[" * 200)


def test_version_with_a_number_int_refuses_is_unmet_not_an_error() -> None:
    from packaging.specifiers import SpecifierSet

    huge = "1" * 5000 + ".0"
    assert requirements._satisfies(SpecifierSet(">=1"), huge) is False
    assert checks._older_than(huge, "5.2.0") is True


def _fake_python(folder: Path, drop: set[str]) -> Path:
    """A target interpreter answering the demo node's real inventory without the distributions in drop."""
    demo_inventory = next((PART.parents[3] / "glm5check" / "demo" / "a2-node0" / "commands").glob("*python3_-I_*.out"))
    inventory = json.loads(demo_inventory.read_text())
    inventory["distributions"] = [d for d in inventory["distributions"] if d.get("name") not in drop]
    payload = folder / "inventory.json"
    folder.mkdir(parents=True, exist_ok=True)
    payload.write_text(json.dumps(inventory))
    return write_executable(folder, "python3", f"#!/bin/sh\ncat '{payload}'\n")


@pytest.mark.slow
def test_requirements_option_prints_a_pip_file_the_fix_points_at(tmp_path: Path) -> None:
    python = _fake_python(tmp_path / "bin", {"regex", "cachetools", "psutil", "numpy", "requests", "tqdm", "scipy"})
    env = clean_env()
    report = run_cli(
        "--profile",
        "a2-single",
        "--python",
        str(python),
        "--check",
        "packages.requirements",
        "--format",
        "json",
        env=env,
    )
    assert_no_traceback(report)
    rows = {r["item"]: r for r in json.loads(report.stdout)["results"]}
    fix = f"pip install -r <(glm5check --profile a2-single --python {python} --requirements)"
    assert rows["vllm"]["remediation"] == fix and rows["vllm-ascend"]["status"] == "fail"
    printed = run_cli("--profile", "a2-single", "--python", str(python), "--requirements", env=env)
    assert printed.returncode == 0, printed.stderr
    lines = [ln for ln in printed.stdout.splitlines() if not ln.startswith("#")]
    assert sorted(lines) == sorted(
        ["regex", "cachetools", "psutil", "numpy<2.0.0", "requests>=2.26.0", "tqdm", "scipy"]
    )
    assert all(Requirement(line) for line in lines)  # what pip -r reads
    broken = run_cli("--profile", "a2-single", "--python", str(tmp_path / "none"), "--requirements", env=env)
    assert broken.returncode == 2 and broken.stderr.startswith("glm5check: error: --requirements: the target")
