"""A group's entry points, read without importing importlib.metadata when glm5check declares them alone.

importlib.metadata imports the email package (for distributions' METADATA) and zipfile: ~12 ms, the
largest single import of a run, although a run without plugins only needs glm5check's own
entry_points.txt. `sole_entry_points` reads the same files importlib.metadata reads -- every
`*.dist-info` / `*.egg-info` folder of every sys.path folder, in sys.path order -- and answers only
when exactly one distribution, named `owner`, can declare the group; in every other case (a plugin, a
second copy of the owner, a zip or .egg on sys.path, a finder of distributions other than the path's, a
file it cannot read or parse) it answers None and the caller asks importlib.metadata, so plugins are
always found, named and versioned by importlib.metadata itself. The answers have the attributes of
importlib.metadata's EntryPoint that the registry reads (name, value, group, module, attr, dist with
dist.metadata["Name"] / ["Version"]).
"""

from __future__ import annotations

import os
import re
import sys
from importlib.machinery import PathFinder
from typing import NamedTuple

INFO_SUFFIXES = (".dist-info", ".egg-info")
# importlib.metadata.EntryPoint.pattern: `module[:attr][ [extras]]`
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")
_SEPARATORS = re.compile(r"[-_.]+")


class DeclaringDist(NamedTuple):
    """A distribution's Name and Version, as `dist.metadata[...]` answers them."""

    metadata: dict[str, str]


class DeclaredEntry(NamedTuple):
    name: str
    value: str
    group: str
    dist: DeclaringDist

    @property
    def module(self) -> str:
        match = _VALUE.match(self.value)
        return match.group("module") if match else self.value

    @property
    def attr(self) -> str | None:
        match = _VALUE.match(self.value)
        return match.group("attr") if match else None


def _normalised(info: str) -> str:
    """The distribution a `name-version.dist-info` folder stands for, as importlib.metadata keys it."""
    return _SEPARATORS.sub("_", info.rpartition(".")[0].partition("-")[0]).lower()


def _read(folder: str, info: str, name: str) -> str | None:
    """A file of an info folder; None where importlib.metadata's read_text answers None."""
    try:
        with open(os.path.join(folder, info, name), encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None


def _declaring(infos: list[tuple[str, str]], group: str) -> list[tuple[str, str, str]]:
    """The info folders whose entry_points.txt may declare the group: any that names it (maybe in a comment
    or a value). Not only `[group]`: importlib.metadata takes any line that starts with `[` and ends with
    `]` as a section, named by what strip("[]") leaves (`[]group]`, `[group[]`)."""
    found = []
    for folder, info in infos:
        text = _read(folder, info, "entry_points.txt")
        if text is not None and group in text:
            found.append((folder, info, text))
    return found


def _infos() -> list[tuple[str, str]] | None:
    """(sys.path folder, info folder name) of every distribution on sys.path, or None where importlib.metadata
    would also look elsewhere (another finder, a zip or an .egg)."""
    if any(hasattr(finder, "find_distributions") and finder is not PathFinder for finder in sys.meta_path):
        return None
    found: list[tuple[str, str]] = []
    for entry in sys.path:
        if not isinstance(entry, str):  # a Path a program put there: importlib.metadata lists it too
            return None
        folder = entry or "."
        if folder.lower().endswith(".egg"):
            return None
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            continue
        except OSError:  # a zip file, or what importlib.metadata tries as one (a loop, no permission)
            return None
        found += [(folder, name) for name in names if name.lower().endswith(INFO_SUFFIXES)]
    return found


def _header_fields(text: str) -> dict[str, str]:
    """Name and Version from METADATA's header lines (before the first empty line; no folded values)."""
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, colon, value = line.partition(":")
        if colon and key.lower() in ("name", "version"):
            fields[key.lower()] = value.strip()
    return fields


def _entries(text: str, group: str) -> list[tuple[str, str]] | None:
    """(name, value) of the group's entries, read as importlib.metadata's Sectioned does; None if unclear."""
    section, entries = None, []
    for line in filter(None, map(str.strip, text.splitlines())):
        if line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, equals, value = line.partition("=")
            if not equals:
                return None
            entries.append((name.strip(), value.strip()))
    return entries


def sole_entry_points(group: str, owner: str) -> list[DeclaredEntry] | None:
    """The group's entry points when only `owner`'s distribution can declare them, else None (ask
    importlib.metadata)."""
    infos = _infos()
    if infos is None or [_normalised(name) for _, name in infos].count(owner) != 1:
        return None
    try:
        declaring = _declaring(infos, group)
        if len(declaring) != 1 or _normalised(declaring[0][1]) != owner:
            return None
        folder, info, text = declaring[0]
        metadata = _header_fields(_read(folder, info, "METADATA") or "")
    except (OSError, UnicodeDecodeError):  # importlib.metadata says what is wrong
        return None
    entries = _entries(text, group)
    if entries is None or _SEPARATORS.sub("_", metadata.get("name", "")).lower() != owner:
        return None
    dist = DeclaringDist({"Name": metadata["name"], "Version": metadata.get("version", "")})
    return [DeclaredEntry(name, value, group, dist) for name, value in entries]
