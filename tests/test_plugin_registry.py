"""Plugins are accountable and containable: every check names the distribution that supplied it, an entry
point `module:attr` supplies what attr names (or is a load error saying why), --disable-plugin keeps a
plugin from being imported, and --check/--skip select the rows of plugins that failed to load."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from conftest import REPO
from plugin_fakes import CHECK_MODULE, install_plugin, unique

from glm5check.engine.check import Check, Origin, Result, Status, check, passed
from glm5check.engine.registry import DISABLE_ENV, LoadError, disabled_plugins, load_registry
from glm5check.engine.runner import SelectionError, check_patterns, load_error_row, run_checks, selected_errors
from glm5check.errors import ConfigError
from glm5check.facts.context import Context
from glm5check.testing import SnapshotBuilder


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _plugin(site: Path, targets: dict[str, str], distribution: str | None = None) -> tuple[str, str]:
    """One distribution whose module defines PREFIX.first and PREFIX.second; targets are entry point name ->
    `MODULE[:attr]` (MODULE stands for the module's name). Returns (module, prefix)."""
    module, prefix = unique("site_checks"), unique("site").replace("_", "-")
    entries = {name: target.replace("MODULE", module) for name, target in targets.items()}
    install_plugin(site, distribution or unique("site-dist"), entries, {module: CHECK_MODULE.format(prefix=prefix)})
    return module, prefix


def _ids(prefix: str) -> list[str]:
    return [c.id for c in load_registry().checks if c.id.startswith(prefix + ".")]


def _error(name: str) -> LoadError:
    return next(e for e in load_registry().errors if e.plugin == name)


def test_every_check_names_the_entry_point_and_distribution_that_supplied_it(site: Path) -> None:
    _, prefix = _plugin(site, {"tidy": "MODULE"}, distribution="Tidy_Site.Checks")
    registry = load_registry()
    first = registry.get(f"{prefix}.first")
    assert first is not None and first.origin == Origin("tidy", "tidy-site-checks", "1.0")
    assert not first.origin.built_in and first.origin.describe() == "tidy (tidy-site-checks 1.0)"
    env_vars = registry.get("env.vars")
    assert env_vars is not None and env_vars.origin is not None
    assert env_vars.origin.built_in and env_vars.origin.entry_point == "env"


def test_an_entry_point_module_attr_supplies_only_what_attr_names(site: Path) -> None:
    _, one = _plugin(site, {"one": "MODULE:second"})
    _, both = _plugin(site, {"both": "MODULE:BOTH"})
    _, whole = _plugin(site, {"whole": "MODULE"})
    assert _ids(one) == [f"{one}.second"]
    assert _ids(both) == [f"{both}.first", f"{both}.second"]
    assert _ids(whole) == [f"{whole}.first", f"{whole}.second"]


def test_an_attribute_that_is_a_module_supplies_its_checks(site: Path) -> None:
    package = unique("site_package")
    (site / package).mkdir()
    (site / package / "__init__.py").write_text(f"from {package} import checks\n")
    (site / package / "checks.py").write_text(CHECK_MODULE.format(prefix="pkg"))
    install_plugin(site, unique("pkg-dist"), {"pkg": f"{package}:checks"}, {})
    assert _ids("pkg") == ["pkg.first", "pkg.second"]


@pytest.mark.parametrize(
    ("attr", "reason"),
    [
        ("WORD", ":WORD is a str: an entry point names a Check, an iterable of Checks or a module of checks"),
        ("NOT_CHECKS", ":NOT_CHECKS holds a str: an entry point names a Check"),
        ("NOTHING", ":NOTHING is empty: an entry point names a Check"),
        ("missing", "AttributeError: module"),
    ],
)
def test_an_entry_point_naming_something_else_is_a_load_error(site: Path, attr: str, reason: str) -> None:
    module, prefix = _plugin(site, {"odd": f"MODULE:{attr}"})
    assert _ids(prefix) == []
    error = _error("odd")
    assert reason in error.reason and error.module == f"{module}:{attr}"
    assert error.origin is not None and not error.origin.built_in


def test_a_module_without_checks_and_one_that_fails_to_import_are_load_errors(site: Path) -> None:
    empty, broken = unique("empty_checks"), unique("broken_checks")
    modules = {empty: "VALUE = 1\n", broken: "raise RuntimeError('no licence server')\n"}
    install_plugin(site, unique("odd-dist"), {"empty": empty, "broken": broken}, modules)
    assert _error("empty").reason == f"module {empty} defines no check (no @check function in it)"
    assert _error("broken").reason == "RuntimeError: no licence server"


def test_a_module_that_calls_sys_exit_at_import_is_a_load_error_not_the_end_of_the_run(site: Path) -> None:
    quits = unique("quitting_checks")
    install_plugin(site, unique("quit-dist"), {"quits": quits}, {quits: "import sys\nsys.exit(0)\n"})
    registry = load_registry()
    assert _error("quits").reason == "SystemExit: 0" and registry.get("env.vars") is not None


class _Vanish(BaseException):
    """Neither an Exception nor SystemExit: uncaught, it would end the worker thread that runs the check."""


@check("site.exits", title="calls sys.exit", explain="Why: t.\n\nWhat: t.\n\nFix: t.")
def _exits(ctx: Context) -> Result:
    sys.exit(0)


@check("site.vanishes", title="ends its thread", explain="Why: t.\n\nWhat: t.\n\nFix: t.")
def _vanishes(ctx: Context) -> Result:
    raise _Vanish


@check("site.fine", title="passes", explain="Why: t.\n\nWhat: t.\n\nFix: t.")
def _fine(ctx: Context) -> Result:
    return passed("fine")


def test_a_check_that_exits_or_ends_its_thread_is_an_error_row_and_the_others_still_run() -> None:
    rows = {r.id: r for r in run_checks(SnapshotBuilder().context(), [_exits, _vanishes, _fine], jobs=1)}
    assert rows["site.exits"].status is Status.ERROR
    assert rows["site.exits"].message.startswith("internal error in site.exits: SystemExit: 0 (at test_plugin_reg")
    assert rows["site.vanishes"].message.startswith("internal error in site.vanishes: _Vanish:")
    assert rows["site.fine"].status is Status.PASS


# Where plugin code runs (its import, its checks, its report facts) and the functions there that catch only
# glm5check's own failures.
RUNS_PLUGIN_CODE = ("glm5check/engine/registry.py", "glm5check/engine/runner.py", "glm5check/reporting.py")
CATCHES_OWN_FAILURES = {"origin_of", "_env_of"}


def _handlers_of_exception(path: Path) -> list[str]:
    """`function:line` of every `except Exception` (not PLUGIN_FAULTS) in the file."""
    found = []
    for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(func, ast.FunctionDef):
            for node in ast.walk(func):
                if isinstance(node, ast.ExceptHandler) and ast.unparse(node.type or ast.Tuple([])) == "Exception":
                    found.append(f"{func.name}:{node.lineno}")
    return found


def test_where_plugin_code_runs_its_faults_are_caught_with_plugin_faults() -> None:
    """A bare `except Exception` there would let a plugin's sys.exit() end the run without a report."""
    found = [f"{name}: {where}" for name in RUNS_PLUGIN_CODE for where in _handlers_of_exception(REPO / name)]
    unexpected = [f for f in found if f.split(": ")[1].split(":")[0] not in CATCHES_OWN_FAILURES]
    assert not unexpected, "use PLUGIN_FAULTS:\n" + "\n".join(unexpected)


def test_a_check_id_taken_or_in_the_plugin_category_is_refused(site: Path) -> None:
    module = unique("clash_checks")
    source = (
        "from glm5check.api import check, passed\n"
        "E = 'Why: t.\\n\\nWhat: t.\\n\\nFix: t.'\n"
        "taken = check('env.vars', title='mine', explain=E)(lambda ctx: passed('x'))\n"
        "reserved = check('plugin.mine', title='mine', explain=E)(lambda ctx: passed('x'))\n"
    )
    install_plugin(
        site, unique("clash-dist"), {"clash": f"{module}:taken", "reserve": f"{module}:reserved"}, {module: source}
    )
    registry = load_registry()
    env_vars = registry.get("env.vars")
    assert env_vars is not None and env_vars.origin is not None and env_vars.origin.built_in
    assert _error("clash").reason.startswith("check id env.vars is defined twice (already by env (glm5check")
    assert "the plugin.* ids are the rows of plugins that failed to load" in _error("reserve").reason
    assert registry.get("plugin.mine") is None


def test_disabling_a_plugin_keeps_it_from_being_imported(site: Path) -> None:
    broken = unique("broken_checks")
    _, prefix = _plugin(site, {"tidy": "MODULE"}, distribution="tidy-checks")
    install_plugin(site, "crashy-checks", {"crashy": broken}, {broken: "raise SystemError('import side effect')\n"})
    registry = load_registry(("crashy", "Tidy_Checks"))
    assert not registry.errors and registry.get(f"{prefix}.first") is None and registry.get("env.vars") is not None
    assert sorted(o.distribution for o in registry.disabled) == ["crashy-checks", "tidy-checks"]
    assert registry.notes()[0].startswith("plugin crashy (crashy-checks 1.0) is disabled")
    assert "crashy" in registry.plugin_names() and "tidy-checks" in registry.plugin_names()


def test_a_registry_without_plugins_imports_none_and_keeps_every_built_in_check(site: Path) -> None:
    broken = unique("broken_checks")
    install_plugin(site, "crashy-checks", {"crashy": broken}, {broken: "raise SystemError('import side effect')\n"})
    everything = load_registry()
    own = load_registry(plugins=False)
    assert [e.plugin for e in everything.errors] == ["crashy"] and not own.errors
    assert own.checks == tuple(c for c in everything.checks if c.origin is not None and c.origin.built_in)
    assert own.checks and not own.plugin_names()


def test_a_name_no_plugin_has_is_noted_and_a_built_in_module_cannot_be_disabled() -> None:
    registry = load_registry(("no-such-plugin",))
    assert registry.not_installed == ("no-such-plugin",)
    assert registry.notes() == ["--disable-plugin no-such-plugin: no installed plugin has that name"]
    with pytest.raises(ConfigError, match=r"npu is a module of glm5check's own checks.*--skip 'npu\.\*'"):
        load_registry(("npu",))
    with pytest.raises(ConfigError, match="that is glm5check itself"):
        load_registry(("glm5check",))


def test_the_environment_variable_adds_names_to_the_option() -> None:
    environ = {DISABLE_ENV: "a, b  c,,a"}
    assert disabled_plugins(("x", "a"), environ) == ("x", "a", "b", "c")
    assert disabled_plugins((), {}) == ()


ORIGIN = Origin("site", "site-checks", "2.1")
BROKEN = LoadError("Site Checks!", "site_checks:CHECKS", "ImportError: no numpy", ORIGIN)


def test_a_load_error_row_names_its_plugin_and_how_to_leave_it_out() -> None:
    row = load_error_row(BROKEN)
    assert (row.id, row.category, row.status, row.origin) == ("plugin.site-checks", "plugin", Status.ERROR, ORIGIN)
    assert row.message == ("check module site_checks:CHECKS (from site-checks) failed to load: ImportError: no numpy")
    assert row.remediation == "fix or update the plugin, or leave it out: --disable-plugin Site Checks!"
    built_in = load_error_row(LoadError("npu", "glm5check.checks.npu", "SyntaxError", Origin("npu", "glm5check")))
    assert built_in.remediation is not None and built_in.remediation.startswith("reinstall glm5check")


def test_check_and_skip_select_the_rows_of_plugins_that_failed_to_load() -> None:
    assert selected_errors([BROKEN]) == [BROKEN]
    assert selected_errors([BROKEN], include=("env.*",)) == []
    assert selected_errors([BROKEN], exclude=("plugin.*",)) == []
    assert selected_errors([BROKEN], include=("plugin.site-*",)) == [BROKEN]
    checks = load_registry().checks
    check_patterns(checks, ("plugin.site-checks",), (), [BROKEN])
    check_patterns(checks, ("env.*",), ("plugin.*",), [])  # a CI file's --skip 'plugin.*' with nothing broken
    with pytest.raises(SelectionError, match=r"no check matches 'site\.\*'.*plugin site \(site-checks 2\.1\) failed"):
        check_patterns(checks, ("site.*",), (), [BROKEN])


@pytest.mark.parametrize("check_id", ["Site.owner", "owner", "site.owner ok", "site.ow/ner"])
def test_a_check_id_outside_the_report_schema_is_refused(check_id: str) -> None:
    with pytest.raises(ValueError, match="is not a check id"):
        check(check_id, title="t", explain="t")


def test_a_valid_check_id_is_accepted() -> None:
    made = check("site.owner-2_x.y", title="t", explain="t")(lambda ctx: passed("x"))
    assert isinstance(made, Check) and made.category == "site" and made.origin is None


def test_a_plugin_cannot_replace_a_fact_the_report_holds(site: Path) -> None:
    taken, reserved, plan = unique("taken_fact"), unique("reserved_fact"), unique("plan_fact")
    template = (
        "from glm5check.api import check, passed, reported_fact\n\n@reported_fact({key!r})\ndef mine(ctx): return 1\n"
    )
    modules = {taken: template.format(key="packages"), reserved: template.format(key="env")}
    modules[plan] = template.format(key="plan")
    install_plugin(site, unique("fact-dist"), {"taken": taken, "reserved": reserved, "plan": plan}, modules)
    assert _error("taken").reason == (
        "ValueError: the report fact 'packages' is already reported by glm5check.facts.packages.report_packages"
    )
    assert _error("reserved").reason == "ValueError: the report fact 'env' is already reported by the report itself"
    assert _error("plan").reason == "ValueError: the report fact 'plan' is already reported by the report itself"
