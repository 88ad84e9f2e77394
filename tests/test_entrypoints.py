"""glm5check.util.entrypoints: the built-in check modules' entry points read without importing
importlib.metadata, only when glm5check's distribution alone declares the group, and exactly as
importlib.metadata reads them; every other case is left to importlib.metadata (None)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from conftest import REPO
from plugin_fakes import install_plugin, unique

from glm5check.engine.check import BUILT_IN
from glm5check.engine.registry import ENTRY_POINT_GROUP, _group, origin_of
from glm5check.util.entrypoints import sole_entry_points

GROUP = ENTRY_POINT_GROUP


def _as_importlib_reads() -> list[tuple[str, str, str, str | None, object]]:
    return sorted((e.name, e.value, e.module, e.attr, origin_of(e)) for e in entry_points(group=GROUP))


@pytest.fixture(autouse=True)
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder first on sys.path, out of the checkout: an editable install leaves glm5check.egg-info
    in it, and pytest puts the checkout on sys.path, where importlib.metadata (and so the fast path) would
    find a second glm5check."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != REPO])
    (tmp_path / "site").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return tmp_path / "site"


def test_alone_glm5check_entry_points_are_what_importlib_metadata_finds() -> None:
    sole = sole_entry_points(GROUP, BUILT_IN)
    assert sole is not None and len(sole) >= 10
    assert sorted((e.name, e.value, e.module, e.attr, origin_of(e)) for e in sole) == _as_importlib_reads()
    assert all(origin.built_in and origin.version for origin, _ in _group(plugins=True))


def test_a_run_without_plugins_never_imports_importlib_metadata(tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom glm5check.engine.registry import load_registry\n"
        "registry = load_registry()\n"
        "print(len(registry.checks), 'importlib.metadata' in sys.modules, 'email.message' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    count, metadata, email = result.stdout.split()
    assert int(count) > 20 and (metadata, email) == ("False", "False"), result.stderr


def test_a_plugin_leaves_discovery_to_importlib_metadata(site: Path) -> None:
    install_plugin(site, unique("other-dist"), {"other": "nowhere"}, {})
    assert sole_entry_points(GROUP, BUILT_IN) is None
    assert "other" in {origin.entry_point for origin, _ in _group(plugins=True)}


def test_a_header_in_a_comment_is_enough_to_ask_importlib_metadata(site: Path) -> None:
    info = site / "commented-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: commented\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"# [{GROUP}] is not declared here\n[console_scripts]\nx = y:z\n")
    assert sole_entry_points(GROUP, BUILT_IN) is None


def test_a_glm5check_build_in_the_working_folder_is_on_sys_path_too(site: Path, monkeypatch) -> None:
    """`python -m glm5check` in a checkout: importlib.metadata would take its glm5check.egg-info first."""
    (site / "glm5check.egg-info").mkdir()
    (site / "glm5check.egg-info" / "entry_points.txt").write_text(f"[{GROUP}]\nenv = glm5check.checks.env\n")
    monkeypatch.chdir(site)
    monkeypatch.syspath_prepend("")
    assert sole_entry_points(GROUP, BUILT_IN) is None


def test_a_second_glm5check_on_sys_path_leaves_the_choice_to_importlib_metadata(site: Path) -> None:
    info = site / "glm5check-0.0.1.dist-info"  # an older copy first on sys.path, without entry points
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: glm5check\nVersion: 0.0.1\n")
    assert sole_entry_points(GROUP, BUILT_IN) is None


def test_a_zip_on_sys_path_leaves_discovery_to_importlib_metadata(tmp_path: Path, monkeypatch) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(archive))
    assert sole_entry_points(GROUP, BUILT_IN) is None


def test_what_has_no_entry_points_is_passed_over_as_importlib_metadata_does(site: Path) -> None:
    (site / "legacy-1.0.egg-info").write_text("Metadata-Version: 1.0\nName: legacy\n")  # a distutils file
    (site / "bare-2.0.dist-info").mkdir()
    (site / "missing-folder-on-path").mkdir()
    sole = sole_entry_points(GROUP, BUILT_IN)
    assert sole is not None and sorted((e.name, e.value) for e in sole) == [r[:2] for r in _as_importlib_reads()]


@pytest.mark.parametrize("header", [f"[]{GROUP}]", f"[{GROUP}[]", f"[[{GROUP}]]"])
def test_every_section_header_importlib_metadata_reads_as_the_group_is_a_plugin(site: Path, header: str) -> None:
    """importlib.metadata names a section by what strip("[]") leaves of a `[…]` line."""
    info = site / "oddly-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: oddly\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"{header}\noddly = oddly_checks\n")
    assert "oddly" in {e.name for e in entry_points(group=GROUP)}  # what importlib.metadata finds
    assert sole_entry_points(GROUP, BUILT_IN) is None
    assert "oddly" in {origin.entry_point for origin, _ in _group(plugins=True)}


def test_a_sys_path_folder_that_cannot_be_listed_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A symbolic link loop (or a folder without read permission) on PYTHONPATH: importlib.metadata passes
    over it; reading it here must not fail every run."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    monkeypatch.syspath_prepend(str(loop))
    assert sole_entry_points(GROUP, BUILT_IN) is None
    assert {origin.entry_point for origin, _ in _group(plugins=True)} == {e.name for e in entry_points(group=GROUP)}


def test_a_path_object_on_sys_path_is_left_to_importlib_metadata(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [site, *sys.path])  # a program may put a Path there
    assert sole_entry_points(GROUP, BUILT_IN) is None
