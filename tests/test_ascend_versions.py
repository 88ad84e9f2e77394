"""CANN toolkit / driver version files (real captured samples) and the ascend.cann / ascend.driver checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from glm5check.checks.ascend import cann, driver
from hypothesis import given
from hypothesis import strategies as st

from glm5check.engine.check import Status
from glm5check.engine.runner import run_one
from glm5check.facts.context import Context
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotWriter
from glm5check.knowledge.profiles import load_builtin
from glm5check.parsers.ascend_versions import (
    cann_version_key,
    parse_ascend_install_info,
    parse_driver_version_info,
    parse_install_info,
    parse_version_cfg,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CANN_SAMPLES = {
    "ascend-matvec-benchmark-version.cfg-8.2.RC2.txt": "8.2.RC2",
    "ascend-samples-issue11-version.cfg-6.0.1-310P3-no-header.txt": "6.0.1",
    "mindcluster-doc-toolkit-8.5.0-aarch64-cann-layout.txt": "8.5.0",
    "mindcluster-fixture-nnae-8.0.RC3-install-info.txt": "8.0.RC3",
    "mindcluster-fixture-toolkit-7.0.T10-aarch64.txt": "7.0.T10",
    "mindie-image-notes-version.cfg-8.0.T63.txt": "8.0.T63",
    "rst-notes-version.cfg-8.0.0-no-opp_kernel.txt": "8.0.0",
    "survey-report-toolkit-9.1.0-x86_64-cann-layout-short.txt": "9.1.0",
    "vllm-ascend-issue1048-toolkit-8.1.T18-aarch64.txt": "8.1.T18",
    "vllm-ascend-issue152-toolkit-8.0.RC1-aarch64.txt": "8.0.RC1",
    "vllm-ascend-issue362-toolkit-8.0.0-aarch64.txt": "8.0.0",
    "vllm-ascend-issue556-toolkit-8.1.T6-x86_64.txt": "8.1.T6",
}
DRIVER_SAMPLES = {
    "codeformer-notes-24.1.rc3.txt": ("24.1.rc3", "24.1.rc3"),
    "mindcluster-doc-24.1.rc1-no-package_version.txt": ("24.1.rc1", None),
    "mindcluster-fixture-23.0.7.txt": ("23.0.7", "23.0.7"),
    "rst-notes-24.1.0.txt": ("24.1.0", "24.1.0"),
}
TOOLKIT_85 = FIXTURES / "cann-toolkit-version" / "mindcluster-doc-toolkit-8.5.0-aarch64-cann-layout.txt"
TOOLKIT_80RC1 = FIXTURES / "cann-toolkit-version" / "vllm-ascend-issue152-toolkit-8.0.RC1-aarch64.txt"
VERSION_CFG_82 = FIXTURES / "cann-toolkit-version" / "ascend-matvec-benchmark-version.cfg-8.2.RC2.txt"
DRIVER_241 = FIXTURES / "driver-version-info" / "rst-notes-24.1.0.txt"
INSTALL_INFO = FIXTURES / "ascend-install-info" / "llmaction-ascend_install.info-A800-9000-A2.txt"


@pytest.mark.parametrize(("name", "version"), sorted(CANN_SAMPLES.items()))
def test_cann_samples(name: str, version: str) -> None:
    text = (FIXTURES / "cann-toolkit-version" / name).read_text()
    parsed = parse_version_cfg(text).toolkit_version if "version.cfg" in name else parse_install_info(text).version
    assert parsed == version
    assert cann_version_key(parsed) is not None


def test_version_cfg_with_two_bracket_pairs_keeps_both() -> None:
    cfg = parse_version_cfg(VERSION_CFG_82.read_text())
    assert cfg.installed["opp_kernel"] == ("8.0.RC3.alpha003", "8.2.RC2")


@pytest.mark.parametrize(("name", "expected"), sorted(DRIVER_SAMPLES.items()))
def test_driver_samples(name: str, expected: tuple[str, str | None]) -> None:
    parsed = parse_driver_version_info((FIXTURES / "driver-version-info" / name).read_text())
    assert (parsed.version, parsed.package_version) == expected
    assert parsed.inner_version and parsed.inner_version.startswith("V100R001")


@pytest.mark.parametrize("path", sorted((FIXTURES / "ascend-install-info").iterdir()))
def test_ascend_install_info_samples(path: Path) -> None:
    info = parse_ascend_install_info(path.read_text())
    assert (info.driver_install_path, info.user) == ("/usr/local/Ascend", "HwHiAiUser")


def test_cann_versions_order_test_builds_then_candidates_then_releases() -> None:
    ordered = [
        "7.0.T10",
        "8.0.T63",
        "8.0.RC1",
        "8.0.RC3",
        "8.0.0",
        "8.1.T6",
        "8.1.T18",
        "8.2.RC1.alpha002",
        "8.2.RC1",
        "8.2.RC2",
        "8.5.0",
        "9.1.0",
    ]
    assert sorted(ordered, key=lambda v: cann_version_key(v) or ()) == ordered
    assert cann_version_key("8.5.0") > cann_version_key("8.3.RC2")  # type: ignore[operator]
    assert cann_version_key("latest") is None


@given(st.text())
def test_parsers_never_raise(text: str) -> None:
    parse_install_info(text)
    parse_version_cfg(text)
    parse_driver_version_info(text)
    parse_ascend_install_info(text)
    cann_version_key(text)


def _writer() -> SnapshotWriter:
    """A node without any of the folders the CANN and driver facts look in (a replay answers only what is
    recorded); each test records what its node has on top."""
    writer = SnapshotWriter("a2-single")
    writer.env({})
    for root in ("/usr/local/Ascend", "/usr/local/Ascend/ascend-toolkit/latest", "/usr/local/Ascend/cann"):
        writer.listing(root, error="missing")
    for path in ("/etc/ascend_install.info", "/usr/local/Ascend/driver/version.info"):
        writer.file(path, error="missing")
    writer.stat("/usr/local/Ascend/driver/lib64", kind=None, size=None, error="missing")
    return writer


def _context(writer: SnapshotWriter) -> Context:
    return Context(load_builtin("a2-single"), ReplayHost(writer.data))


def _results(check: object, writer: SnapshotWriter) -> dict[str | None, tuple[Status, str]]:
    return {o.item: (o.status, o.message) for o in run_one(check, _context(writer))}  # type: ignore[arg-type]


def _toolkit(writer: SnapshotWriter, root: str, sample: Path, arch: str = "aarch64") -> None:
    writer.listing(root, [f"{arch}-linux", "set_env.sh"])
    writer.file(f"{root}/{arch}-linux/ascend_toolkit_install.info", sample.read_text())


def test_cann_in_the_ascend_toolkit_layout_sourced_but_old_warns() -> None:
    writer = _writer()
    _toolkit(writer, "/usr/local/Ascend/ascend-toolkit/latest", TOOLKIT_80RC1)
    writer.env({"ASCEND_TOOLKIT_HOME": "/usr/local/Ascend/ascend-toolkit/latest"})
    writer.stat("/usr/local/Ascend/ascend-toolkit/latest", kind="dir")
    results = _results(cann, writer)
    assert results["toolkit"][0] == Status.WARN
    assert "8.0.RC1 is older than 8.5.0" in results["toolkit"][1]
    assert results["environment"][0] == Status.PASS


def test_cann_in_the_cann_layout_passes_and_unsourced_env_fails() -> None:
    writer = _writer()
    _toolkit(writer, "/usr/local/Ascend/cann", TOOLKIT_85)
    results = _results(cann, writer)
    assert results["toolkit"] == (Status.PASS, "CANN 8.5.0 in /usr/local/Ascend/cann")
    assert results["environment"][0] == Status.FAIL
    assert "not sourced" in results["environment"][1]


def test_versioned_cann_folder_found_by_listing_and_the_sourced_one_wins() -> None:
    writer = _writer()
    writer.listing("/usr/local/Ascend", ["ascend-toolkit", "cann-8.5.0", "driver"])
    _toolkit(writer, "/usr/local/Ascend/cann-8.5.0", TOOLKIT_85)
    _toolkit(writer, "/usr/local/Ascend/ascend-toolkit/latest", TOOLKIT_80RC1)
    writer.env({"ASCEND_TOOLKIT_HOME": "/usr/local/Ascend/cann-8.5.0"})
    writer.stat("/usr/local/Ascend/cann-8.5.0", kind="dir")
    results = _results(cann, writer)
    assert results["toolkit"] == (Status.PASS, "CANN 8.5.0 in /usr/local/Ascend/cann-8.5.0")
    assert results["environment"][0] == Status.PASS


def test_old_version_cfg_layout_is_read() -> None:
    writer = _writer()
    writer.listing("/usr/local/Ascend/ascend-toolkit/latest", ["version.cfg", "bin"])
    writer.file("/usr/local/Ascend/ascend-toolkit/latest/version.cfg", VERSION_CFG_82.read_text())
    assert _results(cann, writer)["toolkit"][0] == Status.WARN


def test_missing_cann_fails_naming_where_it_looked_and_a_dangling_home_fails() -> None:
    writer = _writer()
    writer.env({"ASCEND_TOOLKIT_HOME": "/usr/local/Ascend/cann-9.9.9"})
    writer.listing("/usr/local/Ascend/cann-9.9.9", error="missing")
    writer.stat("/usr/local/Ascend/cann-9.9.9", kind=None, size=None, error="missing")
    results = _results(cann, writer)
    assert results["toolkit"][0] == Status.FAIL
    assert "/usr/local/Ascend/ascend-toolkit/latest" in results["toolkit"][1]
    assert results["environment"] == (
        Status.FAIL,
        "ASCEND_TOOLKIT_HOME points at /usr/local/Ascend/cann-9.9.9, which is not a folder",
    )


def test_driver_passes_with_version_and_lib64_on_the_library_path() -> None:
    writer = _writer()
    writer.file("/etc/ascend_install.info", INSTALL_INFO.read_text())
    writer.file("/usr/local/Ascend/driver/version.info", DRIVER_241.read_text())
    writer.stat("/usr/local/Ascend/driver/lib64", kind="dir")
    writer.env({"LD_LIBRARY_PATH": "/usr/local/Ascend/driver/lib64/common/:/usr/local/Ascend/driver/lib64/driver"})
    results = _results(driver, writer)
    assert results["version"] == (Status.PASS, "driver 24.1.0")
    assert results["LD_LIBRARY_PATH"][0] == Status.PASS


def test_driver_folder_comes_from_ascend_install_info() -> None:
    writer = _writer()
    writer.file("/etc/ascend_install.info", "Driver_Install_Path_Param=/opt/Ascend\n")
    writer.file("/opt/Ascend/driver/version.info", DRIVER_241.read_text())
    writer.stat("/opt/Ascend/driver/lib64", kind="dir")
    results = _results(driver, writer)
    assert results["version"][0] == Status.PASS
    assert results["LD_LIBRARY_PATH"] == (Status.FAIL, "/opt/Ascend/driver/lib64 is not on LD_LIBRARY_PATH")


def test_missing_driver_fails() -> None:
    results = _results(driver, _writer())
    assert results["version"] == (
        Status.FAIL,
        "driver version file not found: /usr/local/Ascend/driver/version.info",
    )
    assert results["LD_LIBRARY_PATH"][0] == Status.FAIL


def test_cann_version_key_of_a_number_int_refuses_is_unknown() -> None:
    assert cann_version_key("8." + "1" * 5000 + ".0") is None
