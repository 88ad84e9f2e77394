"""Acceptance (issue 15): a real environment built the way vllm-ascend's installation guide builds a release from
source, judged under the release stack, `--stack auto` and the default stack.

What is real here: vLLM 0.18.0's own source (its PyPI sdist, unpacked into a git repository tagged v0.18.0, since
the vLLM repository is too large to fetch) built by its own setup.py with VLLM_TARGET_DEVICE=empty, which
imports a real torch (the CPU wheel this machine has) and writes the real `0.18.0+empty` version; vllm-ascend
v0.18.0 cloned from the real repository at the real tag (commit e18643f8) and built by its own setup.py, whose
version comes from setuptools_scm and the tag; both `pip install -e`, as installation.md@v0.18.0 "Build from
source" and the release Dockerfile do. What is not: no CANN or NPU here, so vllm-ascend is built with
COMPILE_CUSTOM_KERNELS=0 and SOC_VERSION=ascend910b1 (its setup.py then skips the C++ ops), and its catlass
submodule cannot be fetched (the guide's `git submodule update --init --recursive` needs the network), which
packages.vllm-ascend[submodules] reports truthfully. Nothing is cached outside the test's temporary folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from conftest import report_for

pytestmark = pytest.mark.slow

VLLM_RELEASE = "0.18.0"
ASCEND_TAG = "v0.18.0"
ASCEND_TAG_COMMIT = "e18643f8a4d5bd9990727654318ad069ea0b56e2"
ASCEND_GIT = os.environ.get("VLLM_ASCEND_GIT", "/work/.mirror/vllm-project+vllm-ascend/repo")
BUILD_TOOLS = ("setuptools>=77.0.3,<81", "setuptools-scm>=8", "packaging>=24.2", "wheel", "jinja2")
# vllm-ascend's setup.py without CANN: no custom kernels, an A2 chip named instead of asked from npu-smi.
ASCEND_BUILD_ENV = {"COMPILE_CUSTOM_KERNELS": "0", "SOC_VERSION": "ascend910b1"}


def _run(argv: list[str], cwd: Path | None = None, **env: str) -> None:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=900, env={**os.environ, "PIP_NO_CACHE_DIR": "1", **env}
    )
    assert done.returncode == 0, f"{argv}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _pip(python: Path, *args: str, cwd: Path | None = None, **env: str) -> None:
    _run([str(python), "-m", "pip", *args, "-q", "--disable-pip-version-check", "--no-cache-dir"], cwd, **env)


def _torch_requirement() -> str:
    """A CPU torch wheel the machine offers (pip's find-links), else torch from the index: vLLM's setup.py imports
    torch at its top even for the empty target."""
    folders = [f for f in os.environ.get("PIP_FIND_LINKS", "/opt/wheels").split() if os.path.isdir(f)]
    wheels = sorted(w for folder in folders for w in glob.glob(f"{folder}/torch-*cpu*.whl"))
    return wheels[-1] if wheels else "torch"


def _vllm_tree(python: Path, workdir: Path) -> Path:
    """vLLM 0.18.0's real source as a git repository at tag v0.18.0: its PyPI sdist, less what the sdist adds
    (PKG-INFO, the egg-info, the generated _version.py)."""
    downloads = workdir / "sdist"
    # Preparing the sdist's metadata runs its setup.py: VLLM_VERSION_OVERRIDE keeps the version pip expects.
    _pip(
        python,
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--no-build-isolation",
        f"vllm=={VLLM_RELEASE}",
        "-d",
        str(downloads),
        VLLM_TARGET_DEVICE="empty",
        VLLM_VERSION_OVERRIDE=VLLM_RELEASE,
    )
    [archive] = downloads.glob("vllm-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    tree = workdir / f"vllm-{VLLM_RELEASE}"
    for generated in ("PKG-INFO", "vllm.egg-info", "vllm/_version.py"):
        target = tree / generated
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    git = ["git", "-c", "user.name=glm5check tests", "-c", "user.email=tests@example.invalid"]
    _run([*git, "init", "-q"], tree)
    _run([*git, "add", "-A"], tree)
    _run([*git, "commit", "-q", "-m", f"vllm {VLLM_RELEASE} (PyPI sdist tree)"], tree)
    _run([*git, "tag", f"v{VLLM_RELEASE}"], tree)
    return tree


@pytest.fixture(scope="module")
def release_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with vllm 0.18.0 (empty target) and vllm-ascend v0.18.0 built from source, editable."""
    if not Path(ASCEND_GIT).exists():
        pytest.skip(f"the vllm-ascend repository is not at {ASCEND_GIT} (set VLLM_ASCEND_GIT)")
    workdir = tmp_path_factory.mktemp("release-build")
    _run([sys.executable, "-m", "venv", str(workdir / "venv")])
    python = workdir / "venv" / "bin" / "python"
    _pip(python, "install", _torch_requirement(), *BUILD_TOOLS)
    vllm = _vllm_tree(python, workdir)
    _pip(python, "install", "--no-deps", "--no-build-isolation", "-e", ".", cwd=vllm, VLLM_TARGET_DEVICE="empty")
    ascend = workdir / "vllm-ascend"
    _run(["git", "clone", "-q", "--depth", "1", "--branch", ASCEND_TAG, f"file://{ASCEND_GIT}", str(ascend)])
    _pip(python, "install", "--no-deps", "--no-build-isolation", "-e", ".", cwd=ascend, **ASCEND_BUILD_ENV)
    return python


def _report(python: Path, *args: str) -> dict[str, Any]:
    return report_for(python, "--check", "packages.vllm", "--check", "packages.vllm-ascend", *args)


def _rows(report: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(r["id"], r["item"]): r for r in report["results"]}


def test_the_build_has_the_release_versions(release_python: Path) -> None:
    code = "import importlib.metadata as m; print(m.version('vllm'), m.version('vllm-ascend'))"
    versions = subprocess.run([str(release_python), "-I", "-c", code], capture_output=True, text=True, check=True)
    assert versions.stdout.split() == [f"{VLLM_RELEASE}+empty", VLLM_RELEASE]


def test_the_matching_release_stack_passes_vllm_and_vllm_ascend(release_python: Path) -> None:
    rows = _rows(_report(release_python, "--stack", "v0.18.0"))
    vllm, ascend = rows[("packages.vllm", None)], rows[("packages.vllm-ascend", None)]
    assert (vllm["status"], vllm["message"]) == (
        "pass",
        "0.18.0+empty = vllm 0.18.0, the release of stack v0.18.0 (pip install -e (editable), clean)",
    )
    assert (ascend["status"], ascend["message"]) == (
        "pass",
        "0.18.0 = vllm-ascend 0.18.0, the release of stack v0.18.0 (tag commit e18643f8, pip install -e "
        "(editable), clean)",
    )
    assert ascend["observed"] == f"0.18.0; commit {ASCEND_TAG_COMMIT} (editable checkout HEAD, clean)"
    assert rows[("packages.vllm-ascend", "platform plugin")]["status"] == "pass"
    # The shallow clone has the catlass submodule registered but not fetched (no network here): a true FAIL.
    submodules = rows[("packages.vllm-ascend", "submodules")]
    assert (submodules["status"], submodules["message"].split(":")[1].split(";")[0].strip()) == (
        "fail",
        "csrc/third_party/catlass",
    )


def test_auto_picks_the_release_stack_and_says_why(release_python: Path) -> None:
    report = _report(release_python, "--stack", "auto")
    assert report["stack"]["name"] == "v0.18.0"
    assert (report["stack"]["source"], report["stack"]["picked_by"]) == (
        "auto",
        "--stack auto: vllm-ascend 0.18.0 is the v0.18.0 release",
    )
    rows = _rows(report)
    assert rows[("packages.vllm", None)]["status"] == rows[("packages.vllm-ascend", None)]["status"] == "pass"


def test_the_default_stack_fails_and_names_the_release_stack(release_python: Path) -> None:
    report = _report(release_python)
    assert (report["stack"]["name"], report["stack"]["source"]) == ("glm5-2026-02", "profile")
    rows = _rows(report)
    ascend = rows[("packages.vllm-ascend", None)]
    assert ascend["status"] == "fail"
    assert ascend["message"] == (
        f"installed commit {ASCEND_TAG_COMMIT} (editable checkout HEAD) is not the pinned "
        "ff3a50d011dcbea08f87ebed69ff1bf156dbb01e; "
        "this is vllm-ascend v0.18.0; --stack v0.18.0 checks against its compatibility matrix"
    )
    assert rows[("packages.vllm", None)]["status"] == "fail"
