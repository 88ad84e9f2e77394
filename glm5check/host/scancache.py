"""The live scan cache (opt-in: `--cache-dir DIR` or GLM5CHECK_CACHE_DIR): a weights scan kept across runs.

An entry is found by a key made of the code that computed it and the identity of every entry of the folder
it was computed from: (name, size, mtime_ns, ctime_ns, inode, device) of the file each one is (symlinks
followed), and of the folder itself. A shard that is touched, replaced, renamed or repointed changes the key,
so the folder is scanned again. Never used by a replay or a recording (those read the raw inputs).

The cache is untrusted input too: an entry is read only as a regular file (no symlink followed) of bounded
size, must be JSON naming exactly the key it was looked up by, and anything else is ignored. Writes stay
inside the cache folder, through the one atomic writer (glm5check.host.output).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from glm5check.host.output import inside, output_folder, write_atomic
from glm5check.util import safejson

T = TypeVar("T")
ENTRY_CAP_BYTES = 64 * 1024 * 1024
SCHEMA = "glm5check.scan-cache/v1"

Bounded = Callable[[Callable[[], T]], T]


def folder_identity(folder: str) -> list[Any]:
    """(name, size, mtime_ns, ctime_ns, inode, device) of the folder and of what each of its entries is."""

    def identity(path: str) -> list[Any]:
        try:
            info = os.stat(path)
        except OSError as exc:
            return [exc.errno]
        return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev, info.st_mode]

    with os.scandir(folder) as listing:
        names = sorted(entry.name for entry in listing)
    return [[".", *identity(folder)], *([name, *identity(os.path.join(folder, name))] for name in names)]


class ScanCache:
    def __init__(self, folder: str, bounded: Bounded[Any]) -> None:
        self.folder = os.path.abspath(folder)
        self.bounded = bounded
        self.seen: dict[tuple[str, str, str], str] = {}  # what recall saw: remember stores under that key only

    def _key(self, kind: str, subject: str, code: str) -> str | None:
        try:
            identity = self.bounded(lambda: folder_identity(subject))
        except Exception:  # unreadable folder, timed out: nothing to vouch for
            return None
        text = json.dumps([SCHEMA, kind, os.path.abspath(subject), code, identity], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def _entry(self, key: str) -> str:
        return os.path.join(self.folder, f"{key}.json")

    def recall(self, kind: str, subject: str, code: str) -> Any:
        key = self._key(kind, subject, code)
        if key is None:
            return None
        self.seen[(kind, subject, code)] = key
        try:
            stored = self.bounded(lambda: _read_entry(self._entry(key)))
        except Exception:  # missing, unreadable, not JSON, nested too deep, timed out: not trusted
            return None
        if not isinstance(stored, dict) or set(stored) != {"schema", "key", "value"}:
            return None
        if stored["schema"] != SCHEMA or stored["key"] != key:
            return None
        return stored["value"]

    def remember(self, kind: str, subject: str, code: str, value: Any) -> None:
        """Store value, unless the folder changed while it was computed (then its key is unknown)."""
        before = self.seen.get((kind, subject, code))
        if before is None or self._key(kind, subject, code) != before:
            return
        if inside(self.folder, subject):  # the entry would change the folder it vouches for: never found again
            return
        text = json.dumps({"schema": SCHEMA, "key": before, "value": value}, separators=(",", ":"))
        try:
            self.bounded(lambda: _write_entry(self.folder, self._entry(before), text))
        except Exception:  # a cache that cannot be written only costs the next run a scan
            return


def _read_entry(path: str) -> Any:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > ENTRY_CAP_BYTES:
            return None
        data = handle.read(ENTRY_CAP_BYTES + 1)
    return safejson.loads(data, max_chars=ENTRY_CAP_BYTES) if len(data) <= ENTRY_CAP_BYTES else None


def _write_entry(folder: str, target: str, text: str) -> None:
    output_folder(Path(folder), mode=0o700)
    write_atomic(target, text.encode("utf-8"))
