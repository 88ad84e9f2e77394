"""Plugins installed for a test: real distribution metadata (a .dist-info folder with METADATA and
entry_points.txt, as pip writes it) and real modules in a folder put on sys.path or PYTHONPATH, so that
importlib.metadata finds their entry points exactly as it finds an installed wheel's."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

_UNIQUE = itertools.count()

CHECK_MODULE = """
from glm5check.api import Context, Result, check, failed, passed

EXPLAIN = "Why: a test.\\n\\nWhat: nothing.\\n\\nFix: nothing."


@check("{prefix}.first", title="the first check", explain=EXPLAIN)
def first(ctx: Context) -> Result:
    return passed("first ran")


@check("{prefix}.second", title="the second check", explain=EXPLAIN)
def second(ctx: Context) -> Result:
    return failed("second ran")


BOTH = [first, second]
NOT_CHECKS = ["first", "second"]
NOTHING: list[object] = []
WORD = "first"
"""


def unique(stem: str) -> str:
    """A module or distribution name no other test used in this process (imported modules stay cached)."""
    return f"{stem}_{next(_UNIQUE)}"


def install_plugin(
    site: Path,
    distribution: str,
    entry_points: dict[str, str],
    modules: dict[str, str],
    version: str = "1.0",
) -> Path:
    """Write modules (name -> source) and a distribution declaring entry points (name -> `module[:attr]`)
    in the glm5check.checks group into the folder `site`; return the folder."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[glm5check.checks]\n{lines}")
    return site
