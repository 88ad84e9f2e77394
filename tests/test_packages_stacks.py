"""packages.* and ascend.cann under the selected stack, on hand-made inventories of a node built like vllm-ascend's
v0.18.0 release image (vllm 0.18.0 from its tag with VLLM_TARGET_DEVICE=empty, vllm-ascend from its tag, both
`pip install -e`, as the image's Dockerfile does), answered by a replay host."""

from __future__ import annotations

from typing import Any

import pytest
from glm5check.checks import packages as checks
from glm5check.checks.ascend import cann
from glm5check.checks.env import env_vars
from test_packages_checks import Node, demo

from glm5check.engine.check import Check, Status
from glm5check.engine.runner import Outcome, run_one
from glm5check.facts.context import Options
from glm5check.facts.requirements import RequirementPlan, render_requirements, requirements_command
from glm5check.facts.stack import choose_stack
from glm5check.host.git import PROBE_KIND
from glm5check.knowledge.stacks import StackError

V0180_TAG_COMMIT = "e18643f8a4d5bd9990727654318ad069ea0b56e2"  # git rev-list -n1 v0.18.0 (vllm-ascend)
VLLM_V0180_COMMIT = "bcf2be9610c3a8e0b3c7f0ac2a5c3a0a1e6d9f33"  # illustrative; the wheel's _version.py says gbcf2be961
ASCEND_V0180_REQUIRES = (
    *(r for r in demo.VLLM_ASCEND_REQUIRES if not r.startswith(("torch", "triton", "transformers"))),
    "torch==2.9.0",
    "torch-npu==2.9.0",
    "transformers>=4.57.4",
    "triton-ascend==3.2.0",
)


def _checkout(folder: str, head: str, dirty: bool = False) -> dict[str, Any]:
    return {
        "folder": folder,
        "head": head,
        "branch": None,
        "dirty": dirty,
        "changed": ["vllm_ascend/platform.py"] if dirty else [],
        "error": None,
        "submodules": [{"path": "csrc/third_party/catlass", "state": "ok", "commit": None}],
    }


def _editable(folder: str) -> dict[str, Any]:
    return {"dir_info": {"editable": True}, "url": f"file://{folder}"}


def release_node(vllm: str = "0.18.0+empty", ascend: str = "0.18.0", head: str = V0180_TAG_COMMIT) -> Node:
    """A node built like the v0.18.0 image: both packages editable from shallow clones of their tags."""
    node = Node()
    node.set("vllm", vllm, requires=demo.VLLM_REQUIRES, direct_url=_editable(demo.VLLM_CHECKOUT))
    node.set(
        "vllm_ascend",
        ascend,
        requires=ASCEND_V0180_REQUIRES,
        direct_url=_editable(demo.VLLM_ASCEND_CHECKOUT),
        entry_points=demo.VLLM_ASCEND_ENTRY_POINTS,
    )
    node.packages["vllm"] = demo.package(f"{demo.VLLM_CHECKOUT}/vllm", {"_version.py": None})
    node.packages["vllm_ascend"] = demo.package(f"{demo.VLLM_ASCEND_CHECKOUT}/vllm_ascend", {"_version.py": None})
    node.writer.probe(PROBE_KIND, demo.VLLM_CHECKOUT, _checkout(demo.VLLM_CHECKOUT, VLLM_V0180_COMMIT))
    node.writer.probe(PROBE_KIND, demo.VLLM_ASCEND_CHECKOUT, _checkout(demo.VLLM_ASCEND_CHECKOUT, head))
    return node


def judged(node: Node, check: Check, stack: str | None = None) -> dict[str | None, Outcome]:
    """The check's outcomes after the session's stack choice (`--stack`)."""
    ctx = choose_stack(node.context(Options(stack=stack)))
    return {o.item: o for o in run_one(check, ctx)}


def test_the_default_stack_fails_a_release_node_and_names_the_release_stack() -> None:
    node = release_node()
    ascend = judged(node, checks.vllm_ascend)[None]
    assert ascend.status == Status.FAIL
    assert ascend.message == (
        f"installed commit {V0180_TAG_COMMIT} (editable checkout HEAD) is not the pinned "
        "ff3a50d011dcbea08f87ebed69ff1bf156dbb01e; "
        "this is vllm-ascend v0.18.0; --stack v0.18.0 checks against its compatibility matrix"
    )
    assert ascend.remediation is not None
    assert ascend.remediation.endswith("glm5check --stack v0.18.0 (or --stack auto)")
    vllm = judged(node, checks.vllm)[None]
    assert vllm.status == Status.FAIL
    assert "--stack v0.18.0 checks against its compatibility matrix" in vllm.message


def test_the_release_stack_passes_the_release_node() -> None:
    node = release_node()
    for stack in ("v0.18.0", "auto"):
        vllm = judged(node, checks.vllm, stack)[None]
        assert (vllm.status, vllm.message) == (
            Status.PASS,
            "0.18.0+empty = vllm 0.18.0, the release of stack v0.18.0 (pip install -e (editable), clean)",
        )
        outcomes = judged(node, checks.vllm_ascend, stack)
        assert {item: o.status for item, o in outcomes.items()} == {
            None: Status.PASS,
            "platform plugin": Status.PASS,
            "submodules": Status.PASS,
        }
        assert outcomes[None].message == (
            "0.18.0 = vllm-ascend 0.18.0, the release of stack v0.18.0 (tag commit e18643f8, "
            "pip install -e (editable), clean)"
        )


@pytest.mark.parametrize(
    ("vllm", "fragment"),
    [
        ("0.19.1+empty", "0.19.1+empty is not the vllm 0.18.0 release of stack v0.18.0"),
        ("0.18.1.dev4+g0123456789.empty", "is not the vllm 0.18.0 release of stack v0.18.0"),
        ("0.18.0+cpu", "built for target .cpu, not .empty (VLLM_TARGET_DEVICE=empty)"),
        ("0.18.0rc1+empty", "0.18.0rc1+empty is not the vllm 0.18.0 release"),
    ],
)
def test_another_vllm_than_the_stacks_release_fails(vllm: str, fragment: str) -> None:
    outcome = judged(release_node(vllm=vllm), checks.vllm, "v0.18.0")[None]
    assert outcome.status == Status.FAIL
    assert fragment in outcome.message
    assert outcome.remediation == (
        "pip uninstall -y vllm, then git clone --depth 1 --branch v0.18.0 https://github.com/vllm-project/vllm.git "
        "&& cd vllm && VLLM_TARGET_DEVICE=empty pip install -v -e . "
        "(or run the release image quay.io/ascend/vllm-ascend:v0.18.0)"
    )


def test_the_vllm_release_wheel_from_the_index_passes() -> None:
    node = release_node()
    node.set("vllm", "0.18.0", requires=demo.VLLM_REQUIRES)  # no direct_url.json: from an index
    outcome = judged(node, checks.vllm, "v0.18.0")[None]
    assert (outcome.status, outcome.message) == (
        Status.PASS,
        "0.18.0 = vllm 0.18.0, the release of stack v0.18.0 (PyPI or another package index, clean state unknown)",
    )


def test_vllm_ascend_away_from_its_tag_or_dirty_fails_under_the_release_stack() -> None:
    moved = judged(release_node(head="0123456789abcdef0123456789abcdef01234567"), checks.vllm_ascend, "v0.18.0")
    assert moved[None].status == Status.FAIL
    assert moved[None].message == (
        "installed commit 0123456789abcdef0123456789abcdef01234567 (editable checkout HEAD) is not v0.18.0's "
        f"tag commit {V0180_TAG_COMMIT}"
    )
    node = release_node()
    node.writer.probe(
        PROBE_KIND, demo.VLLM_ASCEND_CHECKOUT, _checkout(demo.VLLM_ASCEND_CHECKOUT, V0180_TAG_COMMIT, True)
    )
    dirty = judged(node, checks.vllm_ascend, "v0.18.0")[None]
    assert (dirty.status, dirty.message) == (
        Status.FAIL,
        f"the checkout {demo.VLLM_ASCEND_CHECKOUT} has uncommitted changes (vllm_ascend/platform.py)",
    )
    source_build = judged(release_node(ascend="0.18.1.dev2+ge18643f8a"), checks.vllm_ascend, "v0.18.0")[None]
    assert source_build.message.startswith("0.18.1.dev2+ge18643f8a is not the vllm-ascend 0.18.0 release")


def test_another_release_stack_than_the_installed_one_fails_and_names_the_right_one() -> None:
    outcome = judged(release_node(), checks.vllm_ascend, "v0.17.0rc1")[None]
    assert outcome.status == Status.FAIL
    assert outcome.message == (
        "0.18.0 is not the vllm-ascend 0.17.0rc1 release of stack v0.17.0rc1; "
        "this is vllm-ascend v0.18.0; --stack v0.18.0 checks against its compatibility matrix"
    )


@pytest.mark.parametrize(
    ("ascend", "stack", "why"),
    [
        ("0.18.0", "v0.18.0", "--stack auto: vllm-ascend 0.18.0 is the v0.18.0 release"),
        ("0.17.0rc1", "v0.17.0rc1", "--stack auto: vllm-ascend 0.17.0rc1 is the v0.17.0rc1 release"),
        (
            "0.14.0rc2.dev150+gff3a50d01",
            "glm5-2026-02",
            "--stack auto: vllm-ascend 0.14.0rc2.dev150+gff3a50d01 is a source build: the pinned stack",
        ),
        (
            "0.16.0rc1",
            "glm5-2026-02",
            "--stack auto: vllm-ascend 0.16.0rc1 is a release no stack describes: the profile's stack",
        ),
    ],
)
def test_auto_picks_the_installed_release_or_the_pinned_stack(ascend: str, stack: str, why: str) -> None:
    node = release_node(ascend=ascend)
    ctx = choose_stack(node.context(Options(stack="auto")))
    assert (ctx.stack.name, ctx.stack_choice.source, ctx.stack_choice.picked_by) == (stack, "auto", why)


def test_auto_without_a_readable_vllm_ascend_keeps_the_profiles_stack() -> None:
    node = release_node()
    node.dists = [d for d in node.dists if d["name"] != "vllm_ascend"]
    ctx = choose_stack(node.context(Options(stack="auto")))
    assert (ctx.stack.name, ctx.stack_choice.picked_by) == (
        "glm5-2026-02",
        "--stack auto: vllm-ascend is not installed: the profile's stack",
    )
    unreadable = choose_stack(Node().context(Options(stack="auto", python="/nowhere/python")))
    assert unreadable.stack.name == "glm5-2026-02"
    assert unreadable.stack_choice.picked_by.startswith("--stack auto: the installed packages cannot be read (")


def test_an_unknown_stack_is_a_usage_error_with_a_suggestion() -> None:
    with pytest.raises(StackError, match=r"unknown stack 'v0\.18' \(did you mean v0\.18\.0\?\)"):
        choose_stack(release_node().context(Options(stack="v0.18")))


@pytest.mark.parametrize(
    ("stack", "version", "status", "fragment", "fix"),
    [
        ("v0.18.0", "5.2.0", Status.PASS, "5.2.0 has glm_moe_dsa", None),
        (
            "v0.18.0",
            "5.1.0",
            Status.FAIL,
            "has no glm_moe_dsa (GLM-5 needs >= 5.2.0)",
            "pip install 'transformers==5.2.0'",
        ),
        ("v0.19.1rc1", "5.5.3", Status.PASS, "5.5.3 = the transformers v0.19.1rc1's vllm-ascend pins", None),
        (
            "v0.19.1rc1",
            "5.2.0",
            Status.WARN,
            "5.2.0 has glm_moe_dsa, but vllm-ascend v0.19.1rc1 pins 5.5.3, and vllm excludes it "
            "(transformers!=5.0.*,!=5.1.*,!=5.2.*,!=5.3.*,!=5.4.*,!=5.5.0,>=4.56.0)",
            "pip install 'transformers==5.5.3'",
        ),
        ("v0.23.0", "5.6.0", Status.WARN, "5.6.0 has glm_moe_dsa, but vllm-ascend v0.23.0 pins 5.5.4", None),
    ],
)
def test_transformers_is_judged_by_what_the_stack_runs(
    stack: str, version: str, status: Status, fragment: str, fix: str | None
) -> None:
    node = release_node()
    node.set("transformers", version, requires=("huggingface-hub<2.0,>=1.3.0",))
    node.packages["transformers"] = demo.transformers_package(has_glm5=version != "5.1.0")
    outcome = judged(node, checks.transformers, stack)[None]
    assert outcome.status == status, outcome
    assert fragment in outcome.message
    if fix:
        assert outcome.remediation == fix


def test_python_is_judged_by_the_stacks_row() -> None:
    node = release_node()
    node.python_version = "3.12.3"
    old = judged(node, checks.python_version, "v0.18.0")[None]
    assert (old.status, old.expected) == (
        Status.FAIL,
        ">=3.10,<3.12 (stack v0.18.0: vllm-ascend@182b75ea84:docs/source/community/versioning_policy.md:32 "
        "(release compatibility matrix, row v0.18.0))",
    )
    assert old.remediation == "use a Python 3.11 environment and pass --python /path/to/bin/python"
    assert judged(node, checks.python_version, "v0.21.0rc1")[None].status == Status.PASS


def test_cann_is_judged_by_the_stacks_row() -> None:
    node = release_node()
    demo._cann_and_driver(node.writer)  # CANN 8.5.0, as on the February nodes
    pinned = judged(node, cann)["toolkit"]
    assert pinned.status == Status.PASS
    release = judged(node, cann, "v0.18.0")["toolkit"]
    assert (release.status, release.expected) == (Status.WARN, ">= 8.5.1")
    assert release.message == "CANN 8.5.0 is older than 8.5.1, which vllm-ascend v0.18.0 is built for"


@pytest.mark.parametrize(
    ("stack", "status", "fragment"),
    [
        ("glm5-2026-02", Status.WARN, "= 1, but it has no effect at stack glm5-2026-02: read only when vLLM's"),
        (
            "v0.17.0rc1",
            Status.WARN,
            "has no effect at stack v0.17.0rc1: defined in vllm_ascend/envs.py but read nowhere",
        ),
        ("v0.18.0", Status.PASS, "= 1"),
        ("v0.23.0", Status.PASS, "= 1"),
    ],
)
def test_env_vars_reads_which_variables_the_stacks_versions_read(stack: str, status: Status, fragment: str) -> None:
    """a2-single exports VLLM_ASCEND_BALANCE_SCHEDULING=1: inert at the pin and at v0.17.0rc1, read from v0.18.0rc1
    on (docs/stacks.md), as the selected stack's generated env tables say."""
    node = release_node()
    node.writer.env({"VLLM_ASCEND_BALANCE_SCHEDULING": "1"})
    outcome = judged(node, env_vars, stack)["VLLM_ASCEND_BALANCE_SCHEDULING"]
    assert outcome.status == status, outcome
    assert fragment in outcome.message


def _image_packages(node: Node, torch_npu: str, triton: str, transformers: str) -> Node:
    """What the release image installs besides vllm and vllm-ascend (its Dockerfile: the row's torch_npu build)."""
    node.set("torch_npu", torch_npu, requires=("torch==2.9.0+cpu",))
    node.set("triton-ascend", triton)
    node.set("transformers", transformers, requires=("huggingface-hub<2.0,>=1.3.0",))
    node.packages["transformers"] = demo.transformers_package(has_glm5=True)
    return node


def _requirement_rows(node: Node, stack: str | None) -> dict[str | None, Outcome]:
    return judged(node, checks.requirements, stack)


def test_the_release_row_replaces_what_vllm_ascend_declares_for_torch_npu_and_triton() -> None:
    node = _image_packages(release_node(), "2.9.0.post1+gitdc51c2d", "3.2.0.dev20260322", "5.2.0")
    release = _requirement_rows(node, "v0.18.0")
    assert release["vllm-ascend"].status == Status.PASS, release["vllm-ascend"]
    assert release["vllm-ascend torch-npu pin"].message == (
        "known, expected conflict: vllm-ascend requires torch-npu==2.9.0 (installed 2.9.0.post1+gitdc51c2d); "
        "the v0.18.0 compatibility matrix installs torch-npu 2.9.0.post1+git4c901a4"
    )
    assert release["vllm-ascend triton-ascend pin"].status == Status.PASS
    assert release["vllm transformers pin"].message.endswith("; GLM-5 needs transformers >= 5.2.0")
    pinned = _requirement_rows(node, None)["vllm-ascend"]
    assert pinned.status == Status.FAIL
    assert "triton-ascend==3.2.0 (installed 3.2.0.dev20260322)" in pinned.message
    wrong_build = _requirement_rows(_image_packages(release_node(), "2.9.0", "3.2.0", "5.2.0"), "v0.18.0")
    # vllm-ascend accepts them (==2.9.0, ==3.2.0), so they run; not the builds the release was tested with: WARN
    assert wrong_build["vllm-ascend"].status == Status.WARN
    assert (
        "torch-npu==2.9.0.post1 (installed 2.9.0; the v0.18.0 compatibility matrix installs torch-npu "
        "2.9.0.post1+git4c901a4)" in wrong_build["vllm-ascend"].message
    )
    assert (
        wrong_build["vllm-ascend"].remediation
        == "pip install 'torch-npu==2.9.0.post1' 'triton-ascend==3.2.0.dev20260322'"
    )


def test_transformers_fixes_agree_under_a_stack_whose_vllm_ascend_pins_it() -> None:
    """v0.19.1rc1: the guide's `pip install transformers==5.2.0` meets GLM-5's minimum, but vLLM 0.19.1 excludes
    5.2.* and vllm-ascend pins 5.5.3: every check asks for the same 5.5.3, none for the guide's 5.2.0."""
    node = _image_packages(release_node(vllm="0.19.1+empty", ascend="0.19.1rc1"), "2.9.0", "3.2.0", "5.2.0")
    excluded = "transformers!=5.0.*,!=5.1.*,!=5.2.*,!=5.3.*,!=5.4.*,!=5.5.0,>=4.56.0"
    node.record("vllm")["requires"] = [r for r in demo.VLLM_REQUIRES if not r.startswith("transformers")] + [excluded]
    ascend = node.record("vllm-ascend")
    ascend["requires"] = [r for r in ascend["requires"] if not r.startswith("transformers")] + ["transformers==5.5.3"]
    transformers = judged(node, checks.transformers, "v0.19.1rc1")[None]
    assert (transformers.status, transformers.remediation) == (Status.WARN, "pip install 'transformers==5.5.3'")
    rows = _requirement_rows(node, "v0.19.1rc1")
    for name in ("vllm", "vllm-ascend"):
        assert rows[name].status == Status.FAIL
        assert "(installed 5.2.0)" in rows[name].message
        assert rows[name].remediation == "pip install 'transformers==5.5.3'"
    node.set("transformers", "5.5.3", requires=("huggingface-hub<2.0,>=1.3.0",))
    assert judged(node, checks.transformers, "v0.19.1rc1")[None].status == Status.PASS
    fixed = _requirement_rows(node, "v0.19.1rc1")
    assert {name: row.status for name, row in fixed.items()} == {"vllm": Status.PASS, "vllm-ascend": Status.PASS}


def test_the_requirements_command_keeps_the_stack_option() -> None:
    node = release_node()
    assert requirements_command(choose_stack(node.context(Options(stack="auto")))) == (
        "glm5check --profile a2-single --stack auto --requirements"
    )
    assert requirements_command(choose_stack(node.context())) == "glm5check --profile a2-single --requirements"
    listing = render_requirements(choose_stack(node.context(Options(stack="v0.18.0"))), RequirementPlan({}, ()))
    assert listing.startswith(
        "# glm5check: what vllm and vllm-ascend need in python3 (profile a2-single, stack v0.18.0)"
    )


@pytest.mark.parametrize(
    ("declared", "installed", "glm5", "conflict"),
    [
        ("<5,>=4.56.0", "5.1.0", "5.2.0", True),  # only vllm's <5 fails: GLM-5's own transformers breaks it
        ("<5,>=4.56.0", "5.2.0.dev0", "5.2.0", True),
        ("<5,>=4.56.0", "4.50.0", "5.2.0", False),  # >=4.56.0 fails too: a real unmet requirement
        ("<5,>=4.56.0", "4.57.1", "5.2.0", False),  # met as declared
        ("!=5.2.*,>=4.56.0", "5.2.0", "5.5.3", False),  # every clause admits 5.5.3: judged as declared
    ],
)
def test_the_transformers_conflict_is_only_the_clauses_glm5_breaks(
    declared: str, installed: str, glm5: str, conflict: bool
) -> None:
    from packaging.specifiers import SpecifierSet

    from glm5check.facts.requirements import _glm5_conflict

    assert _glm5_conflict(SpecifierSet(declared), installed, glm5) is conflict
