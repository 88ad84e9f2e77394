"""The inventory script in a real interpreter: broken environments, interpreters that are missing or
hang, and proof that neither glm5check nor the inventory imports vllm, vllm_ascend, torch, torch_npu or
transformers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_no_traceback, clean_env, run_cli, write_executable

from glm5check.facts.packages import inspect_argv

FORBIDDEN = ("vllm", "vllm_ascend", "torch", "torch_npu", "transformers")


def _site_packages(env_dir: Path) -> Path:
    return next((env_dir / "lib").glob("python3*/site-packages"))


def _dist_info(site: Path, folder: str, files: dict[str, str]) -> None:
    target = site / folder
    target.mkdir()
    for name, text in files.items():
        (target / name).write_text(text)


def _metadata(name: str, version: str, *requires: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A venv (no pip, built in milliseconds) holding hand-written dist-infos, some broken, and packages named
    like the real ones whose __init__ leaves a marker file and raises when anything imports them."""
    root = tmp_path_factory.mktemp("broken")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = _site_packages(env_dir)
    markers = root / "markers"
    markers.mkdir()
    for package in FORBIDDEN:
        (site / package).mkdir()
        (site / package / "__init__.py").write_text(
            f"open({str(markers / package)!r}, 'w').close()\n"
            f"raise ImportError('{package} must not be imported')\n"
        )
    (site / "vllm" / "_version.py").write_text("__version__ = version = '0.16.0rc2.dev3+g978a37c82'\n")
    (site / "transformers" / "models" / "glm_moe_dsa").mkdir(parents=True)
    (site / "transformers" / "models" / "glm_moe_dsa" / "configuration_glm_moe_dsa.py").write_text("")
    (site / "transformers" / "models" / "auto").mkdir()
    (site / "transformers" / "models" / "auto" / "configuration_auto.py").write_text('("glm_moe_dsa", "X")\n')
    _dist_info(
        site,
        "vllm-0.16.0rc2.dev3+g978a37c82.empty.dist-info",
        {
            "METADATA": _metadata("vllm", "0.16.0rc2.dev3+g978a37c82.empty", "transformers<5,>=4.56.0"),
            "direct_url.json": '{"dir_info": {}, "url": "file:///vllm-workspace/vll',
        },
    )
    _dist_info(
        site,
        "vllm_ascend-0.14.0rc2.dev150+gff3a50d01.dist-info",
        {
            "METADATA": _metadata("vllm_ascend", "0.14.0rc2.dev150+gff3a50d01", "torch==2.9.0"),
            "direct_url.json": json.dumps(
                {"dir_info": {"editable": True}, "url": f"file://{root}/vanished-checkout"}
            ),
            "entry_points.txt": "[vllm.platform_plugins]\nascend = vllm_ascend:register\n",
        },
    )
    _dist_info(
        site, "transformers-5.2.0.dev0.dist-info", {"METADATA": _metadata("transformers", "5.2.0.dev0")}
    )
    _dist_info(site, "six-1.17.0.dist-info", {"RECORD": ""})  # no METADATA at all
    return {"python": env_dir / "bin" / "python", "markers": markers, "site": site, "root": root}


def _inventory(python: Path) -> dict[str, Any]:
    argv = inspect_argv(str(python))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=python.parents[2])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_inventory_reports_broken_metadata_per_distribution(broken_env: dict[str, Path]) -> None:
    data = _inventory(broken_env["python"])
    by_name = {d["name"]: d for d in data["distributions"]}
    assert by_name["six"]["errors"] == ["no METADATA file"] and by_name["six"]["name_from_folder"]
    assert by_name["six"]["version"] == "1.17.0"
    assert by_name["vllm"]["direct_url_error"].startswith("direct_url.json is not JSON")
    assert by_name["vllm_ascend"]["direct_url"]["dir_info"] == {"editable": True}
    assert by_name["vllm"]["requires"] == ["transformers<5,>=4.56.0"]
    assert data["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert data["marker_environment"]["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert data["packages"]["transformers"]["probes"] == {
        "models/glm_moe_dsa/configuration_glm_moe_dsa.py": True,
        "models/auto/configuration_auto.py": True,
    }
    assert data["packages"]["vllm"]["texts"]["_version.py"].startswith("__version__")
    assert not list(broken_env["markers"].iterdir()), "the inventory imported a package"


def test_cli_on_a_broken_environment_fails_clearly_and_imports_nothing(broken_env: dict[str, Path]) -> None:
    # The fake packages are importable by glm5check's own process too (PYTHONPATH), so an import anywhere
    # in the whole run would leave a marker.
    env = clean_env({"PYTHONPATH": str(broken_env["site"])})
    result = run_cli(
        "--profile", "a2-single", "--python", str(broken_env["python"]), "--format", "json", env=env
    )
    assert_no_traceback(result)
    assert result.returncode == 1
    results = {(r["id"], r["item"]): r for r in json.loads(result.stdout)["results"]}
    vllm = results[("packages.vllm", None)]
    assert vllm["status"] == "fail" and "direct_url.json is not JSON" in vllm["message"]
    ascend = results[("packages.vllm-ascend", None)]
    assert ascend["status"] == "fail"
    assert "editable install, but its source folder cannot be read" in ascend["message"]
    assert "vanished-checkout does not exist" in ascend["message"]
    assert results[("packages.requirements", "metadata")]["status"] == "warn"
    assert results[("packages.transformers", None)]["status"] == "warn"  # has glm_moe_dsa, no git record
    assert not list(broken_env["markers"].iterdir()), "vllm / torch / transformers were imported"


@pytest.mark.parametrize("kind", ["missing", "hangs"])
def test_interpreter_that_is_missing_or_hangs_is_an_error_without_traceback(
    tmp_path: Path, kind: str
) -> None:
    if kind == "missing":
        python, fragment = str(tmp_path / "no-such-python"), "was not found"
    else:
        python = str(write_executable(tmp_path, "python3", "#!/bin/sh\nsleep 30\n"))
        fragment = "did not answer within 1 s and was killed"
    result = run_cli(
        "--profile",
        "a2-single",
        "--python",
        python,
        "--timeout",
        "1",
        "--check",
        "packages.*",
        "--format",
        "json",
        timeout=60,
    )
    assert_no_traceback(result)
    assert result.returncode == 1
    outcomes = json.loads(result.stdout)["results"]
    assert {r["id"] for r in outcomes} == {
        "packages.python",
        "packages.vllm",
        "packages.vllm-ascend",
        "packages.transformers",
        "packages.requirements",
    }
    for outcome in outcomes:
        assert outcome["status"] == "error"
        assert fragment in outcome["message"] and "--python" in outcome["message"]


def test_a_copy_on_pythonpath_is_seen_as_vllm_serve_would_see_it(broken_env: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    _dist_info(tmp_path, "vllm-0.15.0+empty.dist-info", {"METADATA": _metadata("vllm", "0.15.0+empty")})
    env = clean_env({"PYTHONPATH": str(tmp_path)})
    python = str(broken_env["python"])
    result = run_cli("--profile", "a2-single", "--python", python, "--check", "packages.vllm",
                     "--format", "json", env=env)
    assert_no_traceback(result)
    [outcome] = json.loads(result.stdout)["results"]
    assert outcome["status"] == "fail"
    assert outcome["message"].startswith("2 installed copies of vllm: 0.15.0+empty at ")


def test_the_user_site_counts_unless_pythonnousersite_is_set(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=True).create(env_dir)  # such venvs see the user site
    python = env_dir / "bin" / "python"
    home = tmp_path / "home"
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    user_site = home / ".local" / "lib" / version / "site-packages"
    user_site.mkdir(parents=True)
    _dist_info(user_site, "transformers-4.57.0.dist-info", {"METADATA": _metadata("transformers", "4.57.0")})

    def transformers_paths(env: dict[str, str]) -> list[str]:
        done = subprocess.run(inspect_argv(str(python), env), capture_output=True, text=True, timeout=60,
                              env=clean_env({"HOME": str(home)}))
        dists = json.loads(done.stdout)["distributions"]
        return [d["path"] for d in dists if d["name"] == "transformers"]

    assert transformers_paths({}) == [str(user_site / "transformers-4.57.0.dist-info")]
    assert transformers_paths({"PYTHONNOUSERSITE": "1"}) == []
