"""Plugins on the command line: `glm5check checks` and the JSON report name the distribution of a plugin's
checks, --disable-plugin and GLM5CHECK_DISABLE_PLUGINS block one, --check/--skip select the row of a plugin
that failed to load, and a profile's [plugins.NAME] table reaches the plugin (real processes, plugins
installed as distribution metadata on PYTHONPATH)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import assert_no_traceback, clean_env, run_cli
from plugin_fakes import install_plugin

SETTINGS_MODULE = """
from glm5check.api import Context, Result, check, passed, plugin_settings, skipped


@check("site.greeting", title="Reads its profile table", explain="Why: t.\\n\\nWhat: t.\\n\\nFix: t.")
def greeting(ctx: Context) -> Result:
    settings = plugin_settings(ctx, "site")
    if "greeting" not in settings:
        return skipped("no [plugins.site] greeting in the profile")
    return passed(f"the profile says {settings['greeting']}", observed=str(settings["greeting"]))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two plugins: glm5check-site (entry point site, one check) and broken-site (fails to import)."""
    folder = tmp_path_factory.mktemp("site")
    install_plugin(folder, "glm5check-site", {"site": "cli_site_checks"}, {"cli_site_checks": SETTINGS_MODULE}, "2.0")
    install_plugin(
        folder, "broken-site", {"broken": "cli_broken_checks"}, {"cli_broken_checks": "import no_such_dep\n"}
    )
    return folder


def _env(site: Path, **extra: str) -> dict[str, str]:
    return clean_env({"PYTHONPATH": str(site), **extra})


def _report(site: Path, *args: str, **env: str) -> dict[str, Any]:
    result = run_cli("--replay", "demo", "--format", "json", *args, env=_env(site, **env))
    assert_no_traceback(result)
    return json.loads(result.stdout)


def _schema() -> dict[str, Any]:
    return json.loads(resources.files("glm5check.schema").joinpath("report-v1.json").read_text())


@pytest.mark.slow
def test_the_catalogue_names_the_distribution_of_every_check(site: Path) -> None:
    listed = json.loads(run_cli("checks", "--format", "json", env=_env(site)).stdout)
    by_id = {row["id"]: row for row in listed}
    assert (by_id["site.greeting"]["distribution"], by_id["site.greeting"]["version"]) == ("glm5check-site", "2.0")
    assert by_id["site.greeting"]["entry_point"] == "site" and by_id["env.vars"]["distribution"] == "glm5check"
    table = run_cli("checks", env=_env(site)).stdout
    assert "from" in table.splitlines()[0]
    assert [line.split()[-2:] for line in table.splitlines() if line.startswith("site.greeting")] == [
        ["glm5check-site", "2.0"]
    ]
    assert (
        "! plugin broken (broken-site 1.0) failed to load: ModuleNotFoundError: No module named 'no_such_dep'" in table
    )
    markdown = run_cli("checks", "--format", "markdown", env=_env(site))
    assert markdown.stdout.startswith("| id | category | title | applies to | from |")
    assert "glm5check: warning: plugin broken (broken-site 1.0) failed to load" in markdown.stderr
    explained = run_cli("explain", "site.greeting", env=_env(site)).stdout
    assert explained.splitlines()[1] == "category: site · applies to: all profiles · from: glm5check-site 2.0"
    assert " · from:" not in run_cli("explain", "env.vars", env=_env(site)).stdout


@pytest.mark.slow
def test_without_plugins_the_catalogue_has_no_from_column() -> None:
    assert run_cli("checks", "--format", "markdown").stdout.startswith("| id | category | title | applies to |\n")


@pytest.mark.slow
def test_the_report_names_the_plugin_of_its_rows_and_stays_valid(site: Path) -> None:
    report = _report(site, "--check", "site.*", "--check", "plugin.*", "--check", "env.vars")
    jsonschema.validate(report, _schema())
    rows = {row["id"]: row for row in report["results"]}
    assert rows["site.greeting"]["plugin"] == {
        "entry_point": "site",
        "distribution": "glm5check-site",
        "version": "2.0",
    }
    assert rows["plugin.broken"]["plugin"]["distribution"] == "broken-site"
    assert rows["plugin.broken"]["message"].startswith("check module cli_broken_checks (from broken-site) failed")
    assert "plugin" not in rows["env.vars"]


@pytest.mark.slow
def test_check_and_skip_apply_to_the_row_of_a_plugin_that_failed_to_load(site: Path) -> None:
    assert [r["id"] for r in _report(site, "--check", "site.*")["results"]] == ["site.greeting"]
    skipped = _report(site, "--skip", "plugin.*")
    assert "plugin.broken" not in {r["id"] for r in skipped["results"]} and skipped["summary"]["error"] == 0
    only = _report(site, "--check", "plugin.broken")
    assert [(r["id"], r["status"]) for r in only["results"]] == [("plugin.broken", "error")]


@pytest.mark.slow
def test_disable_plugin_blocks_one_by_entry_point_or_distribution(site: Path) -> None:
    disabled = _env(site, GLM5CHECK_DISABLE_PLUGINS="site")
    result = run_cli("--replay", "demo", "--format", "json", "--disable-plugin", "broken-site", env=disabled)
    assert_no_traceback(result)
    report = json.loads(result.stdout)
    ids = {r["id"] for r in report["results"]}
    assert not {"site.greeting", "plugin.broken"} & ids and "env.vars" in ids
    assert report["warnings"] == [
        "plugin broken (broken-site 1.0) is disabled (--disable-plugin or GLM5CHECK_DISABLE_PLUGINS)",
        "plugin site (glm5check-site 2.0) is disabled (--disable-plugin or GLM5CHECK_DISABLE_PLUGINS)",
    ]
    assert "glm5check: warning: plugin site (glm5check-site 2.0) is disabled" in result.stderr
    listed = run_cli("checks", "--disable-plugin", "site", env=_env(site)).stdout
    assert "site.greeting" not in listed and "! plugin site (glm5check-site 2.0) is disabled" in listed


@pytest.mark.slow
def test_disabling_a_built_in_module_is_refused_with_the_skip_that_does_it(site: Path) -> None:
    result = run_cli("--replay", "demo", "--disable-plugin", "net", env=_env(site))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "glm5check: error: --disable-plugin net: net is a module of glm5check's own checks, not a plugin; leave its "
        "checks out with --skip 'net.*'"
    ]


@pytest.mark.slow
def test_a_profile_table_reaches_its_plugin_and_a_stray_one_is_a_warning(site: Path, tmp_path: Path) -> None:
    profile = tmp_path / "site.toml"
    profile.write_text(
        'extends = "a2-multi"\n\n[plugins.site]\ngreeting = "hello"\n\n[plugins.sight]\ngreeting = "typo"\n'
    )
    report = _report(site, "--profile-file", str(profile), "--check", "site.*")
    [row] = report["results"]
    assert (row["status"], row["observed"]) == ("pass", "hello")
    assert report["profile"]["plugins"] == {"site": {"greeting": "hello"}, "sight": {"greeting": "typo"}}
    assert report["warnings"] == [
        "the profile's [plugins.sight] table names no installed plugin (installed: broken, broken-site, "
        "glm5check-site, site); nothing reads it"
    ]
    without = _report(site, "--check", "site.*")
    assert without["results"][0]["status"] == "skip" and without["warnings"] == []


@pytest.mark.slow
def test_profiles_show_writes_the_plugin_tables_back(tmp_path: Path) -> None:
    profile = tmp_path / "site.toml"
    profile.write_text('extends = "a2-single"\n[plugins.site-storage]\nstores = ["nfs:/models"]\nlimit = 3\n')
    shown = run_cli("profiles", "show", str(profile))
    assert shown.returncode == 0
    assert shown.stdout.endswith('\n[plugins.site-storage]\nstores = ["nfs:/models"]\nlimit = 3\n')


NOISY_MODULE = """
import os
from pathlib import Path

Path(os.environ["GLM5CHECK_TEST_MARKER"]).write_text("imported")
"""


def _noisy_plugin(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment of a plugin that leaves a marker file when it is imported, and the marker."""
    site = install_plugin(
        tmp_path / "site", "noisy-checks", {"noisy": "cli_noisy_checks"}, {"cli_noisy_checks": NOISY_MODULE}
    )
    marker = tmp_path / "imported"
    return _env(site, GLM5CHECK_TEST_MARKER=str(marker)), marker


@pytest.mark.slow
def test_a_disabled_plugin_is_never_imported(tmp_path: Path) -> None:
    env, marker = _noisy_plugin(tmp_path)
    command = ("--replay", "demo", "--check", "env.vars")
    assert_no_traceback(run_cli(*command, env={**env, "GLM5CHECK_DISABLE_PLUGINS": "noisy-checks"}))
    assert not marker.exists()
    assert_no_traceback(run_cli(*command, env=env))
    assert marker.read_text() == "imported"  # the same plugin, not disabled: it is imported


@pytest.mark.slow
def test_fix_env_imports_no_plugin(tmp_path: Path) -> None:
    env, marker = _noisy_plugin(tmp_path)
    fixed = run_cli("fix-env", "--replay", "demo", env=env)
    assert_no_traceback(fixed)
    assert fixed.returncode == 0 and "env.vars and net.interfaces need no change" in fixed.stdout
    assert not marker.exists()  # it runs two of glm5check's own checks: no plugin is imported


EXITING_CHECK = """
import sys

from glm5check.api import Context, Result, check, reported_fact


@reported_fact("quits")
def quits_fact(ctx: Context) -> None:
    sys.exit(0)


@check("site.quits", title="Calls sys.exit", explain="Why: t.\\n\\nWhat: t.\\n\\nFix: t.")
def quits(ctx: Context) -> Result:
    sys.exit(0)
"""


@pytest.mark.slow
def test_a_plugin_calling_sys_exit_cannot_end_the_run_as_ready(tmp_path: Path) -> None:
    site = install_plugin(
        tmp_path / "site",
        "exit-at-import",
        {"early": "cli_exit_early"},
        {"cli_exit_early": "import sys\nsys.exit(0)\n"},
    )
    install_plugin(site, "exit-in-check", {"late": "cli_exit_late"}, {"cli_exit_late": EXITING_CHECK})
    done = run_cli("--replay", "demo", "--check", "site.*", "--check", "plugin.*", "--format", "json", env=_env(site))
    assert_no_traceback(done)
    report = json.loads(done.stdout)
    rows = {r["id"]: r for r in report["results"]}
    assert done.returncode == 1 and set(rows) == {"site.quits", "plugin.early"}
    assert report["facts"]["quits"] == {"error": "SystemExit: 0"}
    assert rows["site.quits"]["message"].startswith("internal error in site.quits: SystemExit: 0 (at cli_exit_late.py:")
    assert rows["plugin.early"]["message"].endswith("(from exit-at-import) failed to load: SystemExit: 0")


PRINTING_MODULE = """
from glm5check.api import Context, Result, check, passed, reported_fact

print("printed at import")


@reported_fact("chatty")
def chatty_fact(ctx: Context) -> str:
    print("printed by a report fact")
    return "said"


@check("site.chatty", title="Prints", explain="Why: t.\\n\\nWhat: t.\\n\\nFix: t.")
def chatty(ctx: Context) -> Result:
    print("printed by a check")
    return passed("printed")
"""


@pytest.mark.slow
def test_what_a_plugin_prints_goes_to_stderr_never_into_the_output(tmp_path: Path) -> None:
    env = _env(install_plugin(tmp_path / "site", "chatty", {"chatty": "cli_chatty"}, {"cli_chatty": PRINTING_MODULE}))
    report = run_cli("--replay", "demo", "--check", "site.*", "--format", "json", env=env)
    assert json.loads(report.stdout)["facts"]["chatty"] == "said"
    assert report.stderr.splitlines()[:3] == ["printed at import", "printed by a check", "printed by a report fact"]
    catalogue = run_cli("checks", "--format", "json", env=env)
    assert "site.chatty" in catalogue.stdout and json.loads(catalogue.stdout)
    assert "printed at import" in catalogue.stderr
    explained = run_cli("explain", "site.chatty", env=env)
    assert explained.stdout.startswith("site.chatty") and "printed" not in explained.stdout
    archive = tmp_path / "node.tar.gz"
    snapshot = subprocess.run(
        [sys.executable, "-m", "glm5check", "snapshot", "--profile", "a2-single", "--check", "site.*", "-o", "-"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    archive.write_bytes(snapshot.stdout)
    assert tarfile.is_tarfile(archive) and b"printed by a check" in snapshot.stderr
