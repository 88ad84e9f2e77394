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

CHUNK_BYTES = 8 << 20
MANIFEST_SCHEMA = "glm5check.weights-manifest/v1"


@dataclass(frozen=True)
class FileHash:
    name: str  # relative to the folder, with forward slashes
    size: int | None
    sha256: str | None = None
    error: str | None = None


def list_files(folder: str | Path) -> list[str]:
    """Every regular file under folder (symlinks to files included), relative, sorted."""
    root = Path(folder)
    names = []
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            path = Path(base) / name
            if path.is_file():
                names.append(path.relative_to(root).as_posix())
    return sorted(names)


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
    names = list_files(root) if names is None else names
    lock = threading.Lock()

    def report(count: int) -> None:
        if progress is not None:
            with lock:
                progress(count)

    count = workers or min(len(names), os.cpu_count() or 1, 8) or 1
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda name: _hash_one(root, name, report), names))
