"""glm5check.util.resources: the files shipped in glm5check, found where importlib.resources finds them,
without importing it for packages imported from a folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from glm5check.util.resources import _files, package_text

SHIPPED = ("glm5check.host", "glm5check.demo", "glm5check.schema", "glm5check.knowledge.profiles")


@pytest.mark.parametrize("package", SHIPPED)
def test_a_package_folder_is_the_one_importlib_resources_names(package: str) -> None:
    assert _files(package) == resources.files(package)


def test_a_package_in_a_zip_is_read_through_importlib_resources(tmp_path: Path, monkeypatch) -> None:
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zipped_pkg_for_resources/__init__.py", "")
        bundle.writestr("zipped_pkg_for_resources/data.txt", "inside the zip\n")
    monkeypatch.syspath_prepend(str(archive))
    assert package_text("zipped_pkg_for_resources", "data.txt") == "inside the zip\n"


def test_a_replay_imports_neither_importlib_resources_nor_importlib_metadata(tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom glm5check.cli import main\n"
        "try:\n    main(['--profile', 'a2-multi', '--replay', 'demo', '--format', 'json'])\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('importlib.resources', 'importlib.metadata', 'email')\n"
        "print([m for m in heavy if m in sys.modules], file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr[-2000:]
