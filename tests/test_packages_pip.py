"""packages.vllm / packages.vllm-ascend against real pip installs of real git repositories.

Minimal packages named like the real ones, with the real version logic (vllm's setup.py appends the
VLLM_TARGET_DEVICE suffix to the setuptools_scm version; vllm-ascend uses setuptools_scm as is and
registers the `ascend` platform plugin), are committed with gitpython and installed with pip into one
venv per module in each way people install them: `pip install .`, `pip install -e .` (clean, then dirty),
`pip install git+file://…@commit`, and a plain wheel that records no commit. glm5check then runs as a
real process on that venv.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import git
import pytest
from conftest import assert_no_traceback, clean_env, report_for, run_cli

pytestmark = pytest.mark.slow

GUIDE_VLLM_PIN = "978a37c82387ce4a40aaadddcdbaf4a06fc4d590"
GUIDE_VLLM_ASCEND_PIN = "ff3a50d011dcbea08f87ebed69ff1bf156dbb01e"

VLLM_PYPROJECT = """[build-system]
requires = ["setuptools>=77", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "vllm"
dynamic = ["version"]
requires-python = ">=3.10"

[tool.setuptools.packages.find]
include = ["vllm*"]

[tool.setuptools_scm]
# no extra settings needed, presence enables setuptools-scm
"""
# vllm's get_vllm_version() (docs/reference/install-facts.md §1.1), reduced to the targets the tests use.
VLLM_SETUP = """import os

from setuptools import setup
from setuptools_scm import get_version


def get_vllm_version() -> str:
    override = os.getenv("VLLM_VERSION_OVERRIDE")
    if override:
        os.environ["SETUPTOOLS_SCM_PRETEND_VERSION"] = override
        return override
    version = get_version(write_to="vllm/_version.py")
    sep = "+" if "+" not in version else "."  # dev versions might contain +
    target = os.getenv("VLLM_TARGET_DEVICE", "cuda")
    if target in ("empty", "cpu"):
        version += f"{sep}{target}"
    return version


setup(version=get_vllm_version())
"""
VLLM_ASCEND_PYPROJECT = """[build-system]
requires = ["setuptools>=64", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"
"""
VLLM_ASCEND_SETUP = """from setuptools import find_packages, setup
from setuptools_scm import get_version

try:
    VERSION = get_version(write_to="vllm_ascend/_version.py")
except LookupError:
    VERSION = "0.0.0"

setup(
    name="vllm_ascend",
    version=VERSION,
    packages=find_packages(include=["vllm_ascend*"]),
    python_requires=">=3.10",
    entry_points={"vllm.platform_plugins": ["ascend = vllm_ascend:register"]},
)
"""
# Importing either package would be a bug in glm5check: make it loud.
INIT = "raise ImportError('glm5check must never import this package')\n"


def _commit_all(repo: git.Repo, message: str) -> str:
    repo.git.add(A=True)
    repo.index.commit(message)
    return repo.head.commit.hexsha


def _make_repo(folder: Path, package: str, files: dict[str, str], tag: str, later_commits: int = 3) -> git.Repo:
    """A repository tagged at its first commit with `later_commits` commits after the tag."""
    repo = git.Repo.init(folder)
    with repo.config_writer() as config:
        config.set_value("user", "name", "glm5check tests")
        config.set_value("user", "email", "tests@example.invalid")
    (folder / package).mkdir()
    (folder / package / "__init__.py").write_text(INIT)
    (folder / ".gitignore").write_text(f"/{package}/_version.py\nbuild/\n*.egg-info/\ndist/\n")
    for name, text in files.items():
        (folder / name).write_text(text)
    _commit_all(repo, "initial")
    repo.create_tag(tag)
    for number in range(later_commits):
        (folder / package / "change.py").write_text(f"CHANGE = {number}\n")
        _commit_all(repo, f"change {number}")
    return repo


@pytest.fixture(scope="module")
def target_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One venv for the module, with the build tools preinstalled so that every install below runs with
    --no-build-isolation --no-index and downloads nothing."""
    env_dir = tmp_path_factory.mktemp("target") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "setuptools>=77",
            "setuptools_scm>=9",
        ],
        check=True,
        timeout=600,
    )
    return python


def _pip(python: Path, *args: str, cwd: Path | None = None, **env: str) -> None:
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            *args,
            "-q",
            "--disable-pip-version-check",
            "--no-build-isolation",
            "--no-deps",
            "--no-cache-dir",
            "--no-index",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _installed_version(python: Path, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    return subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def _results(python: Path, check_id: str, *extra: str) -> dict[str | None, dict[str, Any]]:
    report = report_for(python, "--check", check_id, *extra)
    return {r["item"]: r for r in report["results"] if r["id"] == check_id}


@pytest.fixture
def vllm_repo(tmp_path: Path) -> git.Repo:
    return _make_repo(
        tmp_path / "vllm", "vllm", {"pyproject.toml": VLLM_PYPROJECT, "setup.py": VLLM_SETUP}, "v0.16.0rc1"
    )


def test_pip_install_dot_is_judged_by_its_setuptools_scm_version(target_python: Path, vllm_repo: git.Repo) -> None:
    head = vllm_repo.head.commit.hexsha
    _pip(target_python, "install", ".", cwd=Path(vllm_repo.working_dir), VLLM_TARGET_DEVICE="empty")
    version = _installed_version(target_python, "vllm")
    match = re.fullmatch(r"0\.16\.0rc2\.dev3\+g([0-9a-f]{7,})\.empty", version)
    assert match and head.startswith(match[1]), version
    passing = _results(target_python, "packages.vllm", "--expect", f"vllm={head}")[None]
    assert passing["status"] == "pass", passing
    assert passing["message"] == f"{version} = pin {head[:8]} (setuptools_scm version, clean)"
    failing = _results(target_python, "packages.vllm")[None]
    assert failing["status"] == "fail"
    assert failing["message"] == f"built from commit {match[1]}, but the pin is {GUIDE_VLLM_PIN}"


def test_pip_install_dot_without_the_empty_target_fails(target_python: Path, vllm_repo: git.Repo) -> None:
    head = vllm_repo.head.commit.hexsha
    _pip(target_python, "install", ".", cwd=Path(vllm_repo.working_dir), VLLM_TARGET_DEVICE="cpu")
    outcome = _results(target_python, "packages.vllm", "--expect", f"vllm={head}")[None]
    assert outcome["status"] == "fail"
    assert "built for target .cpu, not .empty" in outcome["message"]


def test_editable_install_reads_the_checkout_clean_then_dirty(target_python: Path, vllm_repo: git.Repo) -> None:
    head = vllm_repo.head.commit.hexsha
    folder = Path(vllm_repo.working_dir)
    _pip(target_python, "install", "-e", ".", cwd=folder, VLLM_TARGET_DEVICE="empty")
    clean = _results(target_python, "packages.vllm", "--expect", f"vllm={head}")[None]
    assert clean["status"] == "pass", clean
    assert clean["observed"].endswith(f"commit {head} (editable checkout HEAD, clean)")
    (folder / "vllm" / "change.py").write_text("CHANGE = 'local edit'\n")
    dirty = _results(target_python, "packages.vllm", "--expect", f"vllm={head}")[None]
    assert dirty["status"] == "fail"
    assert dirty["message"] == f"the checkout {folder} has uncommitted changes (vllm/change.py)"
    assert dirty["observed"].endswith(f"commit {head} (editable checkout HEAD, dirty)")
    other_pin = _results(target_python, "packages.vllm")[None]
    assert other_pin["message"].startswith(
        f"installed commit {head} (editable checkout HEAD) is not the pinned {GUIDE_VLLM_PIN}"
    )


def test_pip_install_git_url_at_a_commit_uses_vcs_info(target_python: Path, vllm_repo: git.Repo) -> None:
    earlier = vllm_repo.head.commit.parents[0].hexsha  # not the branch tip: the @commit must be honoured
    _pip(target_python, "install", f"git+file://{vllm_repo.working_dir}@{earlier}", VLLM_TARGET_DEVICE="empty")
    passing = _results(target_python, "packages.vllm", "--expect", f"vllm={earlier}")[None]
    assert passing["status"] == "pass", passing
    assert passing["observed"].endswith(f"commit {earlier} (direct_url.json vcs_info, clean)")
    failing = _results(target_python, "packages.vllm", "--expect", f"vllm={vllm_repo.head.commit.hexsha}")[None]
    assert failing["status"] == "fail"
    assert failing["message"] == (
        f"installed commit {earlier} (direct_url.json vcs_info) is not the pinned {vllm_repo.head.commit.hexsha}"
    )


def test_plain_wheel_without_a_commit_fails(target_python: Path, vllm_repo: git.Repo, tmp_path: Path) -> None:
    folder = Path(vllm_repo.working_dir)
    _pip(
        target_python,
        "wheel",
        "-w",
        str(tmp_path / "wheels"),
        ".",
        cwd=folder,
        VLLM_VERSION_OVERRIDE="0.16.0",
    )
    [wheel] = (tmp_path / "wheels").glob("vllm-0.16.0-*.whl")
    _pip(target_python, "install", "--force-reinstall", str(wheel))
    outcome = _results(target_python, "packages.vllm", "--expect", f"vllm={vllm_repo.head.commit.hexsha}")[None]
    assert outcome["status"] == "fail"
    assert outcome["message"] == (
        "0.16.0 carries no git commit (+g<hash>): a release, tag or wheel build, not commit "
        f"{vllm_repo.head.commit.hexsha[:9]}; installed from a wheel or archive file"
    )
    assert outcome["observed"] == "0.16.0; commit unknown (no evidence, clean state unknown)"


def test_vllm_ascend_pip_install_dot_then_editable_clone_with_uninitialised_submodules(
    target_python: Path, tmp_path: Path
) -> None:
    library = _make_repo(tmp_path / "catlass", "catlass", {}, "v1.0", later_commits=0)
    repo = _make_repo(
        tmp_path / "vllm-ascend",
        "vllm_ascend",
        {"pyproject.toml": VLLM_ASCEND_PYPROJECT, "setup.py": VLLM_ASCEND_SETUP},
        "v0.14.0rc1",
    )
    repo.git.execute(
        [
            "git",
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            library.working_dir,
            "csrc/third_party/catlass",
        ]
    )
    head = _commit_all(repo, "add the catlass submodule")
    _pip(target_python, "install", ".", cwd=Path(repo.working_dir))
    assert re.fullmatch(r"0\.14\.0rc2\.dev4\+g[0-9a-f]{7,}", _installed_version(target_python, "vllm-ascend"))
    installed = _results(target_python, "packages.vllm-ascend", "--expect", f"vllm-ascend={head}")
    assert {item: r["status"] for item, r in installed.items()} == {
        None: "pass",
        "platform plugin": "pass",
        "submodules": "pass",
    }
    assert installed[None]["message"].endswith("(setuptools_scm version, clean)")
    assert _results(target_python, "packages.vllm-ascend")[None]["message"].endswith(
        f"but the pin is {GUIDE_VLLM_ASCEND_PIN}"
    )

    clone = git.Repo.clone_from(repo.working_dir, tmp_path / "clone")  # no --recurse-submodules
    _pip(target_python, "install", "-e", ".", cwd=Path(clone.working_dir))
    editable = _results(target_python, "packages.vllm-ascend", "--expect", f"vllm-ascend={head}")
    assert editable[None]["status"] == "pass"
    assert editable["submodules"]["status"] == "fail"
    assert editable["submodules"]["message"].startswith(
        f"uninitialised submodules in {clone.working_dir}: csrc/third_party/catlass"
    )


def test_snapshot_of_real_installs_replays_identically(
    target_python: Path, vllm_repo: git.Repo, tmp_path: Path
) -> None:
    head = vllm_repo.head.commit.hexsha
    folder = Path(vllm_repo.working_dir)
    _pip(target_python, "install", "-e", ".", cwd=folder, VLLM_TARGET_DEVICE="empty")
    (folder / "setup.py").write_text(VLLM_SETUP + "# local edit\n")
    snapshot = tmp_path / "snapshot"
    recorded = run_cli(
        "snapshot",
        "--profile",
        "a2-single",
        "--python",
        str(target_python),
        "--expect",
        f"vllm={head}",
        "--check",
        "packages.*",
        "--check",
        "ascend.*",
        "-o",
        str(snapshot),
        env=clean_env(),
    )
    assert_no_traceback(recorded)
    live = json.loads((snapshot / "report.json").read_text())["results"]
    subprocess.run(["rm", "-rf", str(folder)], check=True)  # replay must not look at the machine
    replayed = run_cli(
        "--replay",
        str(snapshot),
        "--check",
        "packages.*",
        "--check",
        "ascend.*",
        "--format",
        "json",
        env=clean_env(),
    )
    assert_no_traceback(replayed)
    fields = ("id", "item", "status", "message", "expected", "observed", "remediation")
    assert [[r[f] for f in fields] for r in json.loads(replayed.stdout)["results"]] == [
        [r[f] for f in fields] for r in live
    ]
    dirty = next(r for r in live if r["id"] == "packages.vllm" and r["item"] is None)
    assert (dirty["status"], dirty["message"]) == (
        "fail",
        f"the checkout {folder} has uncommitted changes (setup.py)",
    )
    assert {r["id"] for r in live} >= {
        "packages.python",
        "packages.vllm",
        "packages.vllm-ascend",
        "packages.transformers",
        "packages.requirements",
        "ascend.cann",
        "ascend.driver",
    }
