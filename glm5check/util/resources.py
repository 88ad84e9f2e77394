"""Files shipped inside the package (built-in profiles, the inventory script, demo snapshots, schemas).

They are part of glm5check, not of the machine being checked, so reading them is not a probe; this is
the one place outside the host layer that opens a file, and only below the package's own folders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_text(package: str, name: str) -> str:
    """The text of a file shipped in `package` (a dotted package name such as glm5check.schema)."""
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def shipped_folders(package: str, marker: str) -> dict[str, Path]:
    """The subfolders of a package that hold a file named `marker`, by name (the demo snapshots)."""
    root = Path(str(resources.files(package)))
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
