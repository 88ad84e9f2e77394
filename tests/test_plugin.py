"""Third-party checks: a plugin package installed with pip into a fresh venv is listed and run, found
through the same `glm5check.checks` entry-point group as the built-in checks."""

from __future__ import annotations

import base64
import hashlib
import json
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import assert_no_traceback, clean_env

PLUGIN_MODULE = '''
"""A site-specific check, written exactly like glm5check's own."""

from glm5check.engine.check import check, failed, passed


@check(
    "site.owner",
    title="The node names its owning team",
    explain="""
Why: our on-call rota needs to know whom to page when a launch fails.

What: the SITE_OWNER environment variable.

Fix: export SITE_OWNER=<team>.
""",
)
def site_owner(ctx):
    owner = ctx.env.get("SITE_OWNER")
    if owner:
        return passed(f"owned by {owner}", observed=owner)
    return failed("no owner", remediation="export SITE_OWNER=<team>")
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_plugin_wheel(folder: Path) -> Path:
    """A real wheel (PEP 427) holding one module and an entry point in the glm5check.checks group."""
    dist = "glm5check_site_checks-1.0.dist-info"
    files = {
        "glm5check_site_checks.py": PLUGIN_MODULE.encode(),
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: glm5check-site-checks\nVersion: 1.0\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/entry_points.txt": b"[glm5check.checks]\nsite = glm5check_site_checks\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{dist}/RECORD,,"]
    wheel = folder / "glm5check_site_checks-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.mark.slow
def test_a_plugin_installed_in_a_venv_is_listed_and_run(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    venv_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # glm5check and its dependencies come from the environment running the tests (editable or not).
    outer = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if Path(p).is_dir()]
    (venv_site / "outer.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in outer))
    wheel = build_plugin_wheel(tmp_path)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--no-deps", "-q", str(wheel)],
        check=True,
        timeout=120,
        capture_output=True,
    )

    listed = subprocess.run(
        [str(python), "-m", "glm5check", "checks", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    ids = [c["id"] for c in json.loads(listed.stdout)]
    assert "site.owner" in ids and "env.vars" in ids

    def run(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "-m", "glm5check", "--profile", "a2-single", "--check", "site.*", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(extra),
        )

    failing = run({})
    assert_no_traceback(failing)
    assert failing.returncode == 1
    assert [(r["id"], r["status"]) for r in json.loads(failing.stdout)["results"]] == [("site.owner", "fail")]
    passing = run({"SITE_OWNER": "inference-oncall"})
    assert passing.returncode == 0
    assert json.loads(passing.stdout)["results"][0]["message"] == "owned by inference-oncall"


def test_the_same_package_is_not_visible_without_installing_it() -> None:
    from glm5check.engine.registry import load_registry

    assert load_registry().get("site.owner") is None
