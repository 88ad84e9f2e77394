"""setuptools_scm / vllm version strings: commit, dirty date, target suffix, and the verdict against a pin."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glm5check.parsers.versions import (
    commits_agree,
    is_full_commit,
    judge_scm_version,
    parse_scm_version,
    parse_version_py,
    target_problem,
    without_target,
)

VLLM_PIN = "978a37c82387ce4a40aaadddcdbaf4a06fc4d590"
VLLM_ASCEND_PIN = "ff3a50d011dcbea08f87ebed69ff1bf156dbb01e"
INSTALL_FACTS = Path(__file__).resolve().parents[1] / "fixtures" / "install-facts"


@pytest.mark.parametrize(
    ("text", "commit", "dirty", "target"),
    [
        ("0.16.0rc2.dev3+g978a37c82.empty", "978a37c82", None, "empty"),
        ("0.14.0rc2.dev150+gff3a50d01", "ff3a50d01", None, None),
        ("0.14.0rc2.dev150+gff3a50d011", "ff3a50d011", None, None),  # setuptools_scm 8.x abbreviation
        ("0.16.0rc2.dev3+gd8949ce.empty", "d8949ce", None, "empty"),
        ("0.16.0rc2.dev3+g978a37c82.d20260301.empty", "978a37c82", "20260301", "empty"),
        ("0.16.0rc2.dev3+gd8949ce70.d20261127", "d8949ce70", "20261127", None),
        ("0.16.0rc2.dev3+gd8949ce70.cpu", "d8949ce70", None, "cpu"),
        ("0.16.0rc2.dev3+g978a37c82.cu128", "978a37c82", None, "cu128"),
        ("0.16.0+empty", None, None, "empty"),  # built at an exact tag
        ("0.1.dev4+gd8949ce70", "d8949ce70", None, None),  # clone without tags
        ("0.16.0", None, None, None),
        ("0.16.0+g978a37c.x", "978a37c", None, "x"),
    ],
)
def test_parse_scm_version(text: str, commit: str | None, dirty: str | None, target: str | None) -> None:
    parsed = parse_scm_version(text)
    assert parsed.valid
    assert (parsed.commit, parsed.dirty_date, parsed.target) == (commit, dirty, target)


def test_too_short_hash_is_not_a_commit() -> None:
    assert parse_scm_version("0.16.0+gabc12").commit is None


def test_guide_versions_pass_against_the_guide_pins() -> None:
    assert judge_scm_version(parse_scm_version("0.16.0rc2.dev3+g978a37c82.empty"), VLLM_PIN, "empty").ok
    assert judge_scm_version(parse_scm_version("0.14.0rc2.dev150+gff3a50d01"), VLLM_ASCEND_PIN, None).ok


def test_wrong_vllm_builds_fail_with_distinct_messages() -> None:
    cases = {
        "0.16.0rc2.dev3+g978a37c82": ("target", "no .empty target suffix"),
        "0.16.0rc2.dev3+g978a37c82.d20260301.empty": ("dirty", "uncommitted changes (.d20260301)"),
        "0.16.0": ("no-commit", "carries no git commit"),
        "0.16.0rc2.dev3+g1234567ab.empty": (
            "other-commit",
            f"built from commit 1234567ab, but the pin is {VLLM_PIN}",
        ),
        "0.16.0rc2.dev3+g978a37c82.cpu": ("target", "built for target .cpu, not .empty"),
    }
    messages = set()
    for text, (problem, fragment) in cases.items():
        verdict = judge_scm_version(parse_scm_version(text), VLLM_PIN, "empty")
        assert not verdict.ok
        assert verdict.problems == (problem,)
        assert fragment in verdict.message
        messages.add(verdict.message)
    assert len(messages) == len(cases)


def test_vllm_ascend_with_a_label_it_never_carries_fails() -> None:
    verdict = judge_scm_version(parse_scm_version("0.14.0rc2.dev150+gff3a50d01.empty"), VLLM_ASCEND_PIN, None)
    assert verdict.problems == ("target",)
    assert target_problem(parse_scm_version("1.0+gff3a50d01"), None) is None


@pytest.mark.parametrize(
    ("text", "as_vllm_sees_it"),
    [
        ("0.16.0rc2.dev3+g978a37c82.empty", "0.16.0rc2.dev3+g978a37c82"),
        ("0.16.0rc2.dev3+g978a37c82.d20260301.empty", "0.16.0rc2.dev3+g978a37c82.d20260301"),
        ("0.15.0+empty", "0.15.0"),
        ("0.14.0rc2.dev150+gff3a50d01", "0.14.0rc2.dev150+gff3a50d01"),
    ],
)
def test_without_target_gives_the_version_vllm_reports(text: str, as_vllm_sees_it: str) -> None:
    assert without_target(parse_scm_version(text)) == as_vllm_sees_it


def test_commits_agree_by_prefix_of_at_least_seven() -> None:
    assert commits_agree("978a37c82", VLLM_PIN)
    assert commits_agree(VLLM_PIN, "978a37c")
    assert not commits_agree("978a37", VLLM_PIN)
    assert not commits_agree("978a37c83", VLLM_PIN)
    assert not commits_agree(None, VLLM_PIN)
    assert not commits_agree("not-hex-at-all", "not-hex-at-all")
    assert is_full_commit(VLLM_PIN) and not is_full_commit("978a37c82")


def test_version_py_of_both_setuptools_scm_generations() -> None:
    new = parse_version_py((INSTALL_FACTS / "vllm_ascend__version.py.ff3a50d.setuptools_scm-9.2.2.txt").read_text())
    old = parse_version_py((INSTALL_FACTS / "vllm_ascend__version.py.ff3a50d.setuptools_scm-8.3.1.txt").read_text())
    pypi = parse_version_py((INSTALL_FACTS / "vllm__version.py.from-pypi-sdist-0.16.0.txt").read_text())
    assert (new.version, new.commit_id) == ("0.14.0rc2.dev150+gff3a50d01", "gff3a50d01")
    assert (old.version, old.commit_id) == ("0.14.0rc2.dev150+gff3a50d011", None)
    assert (pypi.version, pypi.commit_id) == ("0.16.0", "g89a77b108")
    torch_npu_file = INSTALL_FACTS / "torch_npu-2.9.0_version.py.from-pypi-wheel.txt"
    torch_npu = parse_version_py(torch_npu_file.read_text())
    assert (torch_npu.version, torch_npu.commit_id) == ("2.9.0", None)


@given(st.one_of(st.text(), st.none(), st.integers()))
def test_parsers_never_raise(value: object) -> None:
    parsed = parse_scm_version(value)
    judge_scm_version(parsed, VLLM_PIN, "empty")
    parse_version_py(value)
    commits_agree(value if isinstance(value, str) else None, VLLM_PIN)


def test_a_number_int_refuses_is_unknown_not_an_error() -> None:
    version = parse_scm_version("1." + "1" * 5000)
    assert not version.valid


def test_safe_version_is_none_for_what_packaging_refuses() -> None:
    from glm5check.parsers.versions import release_before, safe_version

    assert str(safe_version("0.18.0rc1")) == "0.18.0rc1"
    for bad in ("", "not a version", None, 18, "1." + "9" * 5000):  # the last: int() refuses over 4300 digits
        assert safe_version(bad) is None, bad
    assert release_before("5.2.0.dev0", "5.2.0") is False  # a git build of the minimum counts
    assert release_before("4.57.1", "5.2.0") is True
    assert release_before("garbage", "5.2.0") is None and release_before("5.2.0", "x") is None
