"""Deep hashing of a weights folder: SHA-256 of every byte of every file, files hashed in parallel.

Host-layer code (it reads the machine). hashlib releases the GIL while it hashes a large buffer, so
threads hash several shards at once; each file is read in large chunks into one reused buffer.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from glm5check.host.filekinds import KIND_WORDS, file_kind, os_error_text

CHUNK_BYTES = 8 << 20
MANIFEST_SCHEMA = "glm5check.weights-manifest/v1"


@dataclass(frozen=True)
class FileHash:
    name: str  # relative to the folder, with forward slashes
    size: int | None
    sha256: str | None = None
    error: str | None = None


def list_files(folder: str | Path) -> tuple[list[str], list[str]]:
    """Every regular file under folder (symlinks to files included), relative, sorted; and every other
    entry that is not a folder (a FIFO, a device, a broken link), as `name: what it is`."""
    root = Path(folder)
    names, others = [], []
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            path = Path(base) / name
            relative = path.relative_to(root).as_posix()
            if path.is_file():
                names.append(relative)
            else:
                others.append(f"{relative}: {_not_a_file(path)}, not a regular file")
    return sorted(names), sorted(others)


def _not_a_file(path: Path) -> str:
    try:
        return KIND_WORDS.get(file_kind(path.stat().st_mode), "a special file")
    except OSError as exc:
        return f"a symlink that cannot be followed ({os_error_text(exc)})"


def hash_file(path: str | Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
            if progress is not None:
                progress(count)
    return digest.hexdigest()


def _hash_one(root: Path, name: str, progress: Callable[[int], None] | None) -> FileHash:
    path = root / name
    try:
        size = path.stat().st_size
        return FileHash(name, size, hash_file(path, progress))
    except OSError as exc:
        return FileHash(name, None, error=exc.strerror or str(exc))


def hash_folder(
    folder: str | Path,
    names: list[str] | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[FileHash]:
    """Hash the named files (default: every file) in parallel; progress(bytes) may be called from any
    worker thread, serialised by a lock."""
    root = Path(folder)
    names = list_files(root)[0] if names is None else names
    lock = threading.Lock()

    def report(count: int) -> None:
        if progress is not None:
            with lock:
                progress(count)

    count = workers or min(len(names), os.cpu_count() or 1, 8) or 1
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda name: _hash_one(root, name, report), names))
