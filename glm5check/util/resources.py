"""Files shipped inside the package (built-in profiles, the inventory script, demo snapshots, schemas).

They are part of glm5check, not of the machine being checked, so reading them is not a probe; this is
the one place outside the host layer that opens a file, and only below the package's own folders.
"""

from __future__ import annotations

import importlib
from importlib.machinery import SourceFileLoader, SourcelessFileLoader
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.abc imports importlib.resources
    from importlib.abc import Traversable


def _files(package: str) -> Traversable:
    """What importlib.resources.files(package) answers. For a package imported from a folder (as pip
    installs glm5check, editable or not) that is the folder of its __init__ file, found here without
    importing importlib.resources (with tempfile and zipfile, ~3 ms of every run); any other package (in a
    zip, a namespace package) is left to importlib.resources."""
    spec = importlib.import_module(package).__spec__
    loader = spec.loader if spec is not None else None
    if spec is not None and spec.origin and isinstance(loader, (SourceFileLoader, SourcelessFileLoader)):
        return Path(spec.origin).parent
    from importlib import resources

    return resources.files(package)


def package_text(package: str, name: str) -> str:
    """The text of a file shipped in `package` (a dotted package name such as glm5check.schema)."""
    return _files(package).joinpath(name).read_text(encoding="utf-8")


def shipped_folders(package: str, marker: str) -> dict[str, Path]:
    """The subfolders of a package that hold a file named `marker`, by name (the demo snapshots)."""
    root = Path(str(_files(package)))
    return {entry.name: entry for entry in sorted(root.iterdir()) if (entry / marker).is_file()}


def source_digest(modules: tuple[str, ...]) -> str | None:
    """sha256 of the source of these modules of glm5check (dotted names), or None when one cannot be read
    (an install without sources: then nothing keyed by the code is trusted)."""
    import hashlib

    digest = hashlib.sha256()
    for module in modules:
        package, _, name = module.rpartition(".")
        try:
            text = package_text(package, f"{name}.py")
        except (OSError, UnicodeDecodeError, ModuleNotFoundError):
            return None
        digest.update(f"{module}\0{len(text)}\0".encode() + text.encode())
    return digest.hexdigest()
