"""Paths that come from data, confined to the folder they belong to.

A snapshot's index names its output files, an archive names its members, a weights index names its
shards, a recorded read names the file it copied: each of these is a *relative name under a root*, and
data from another machine can make it point anywhere (`../../etc/shadow`, `/root/.ssh/id_rsa`, a symlink
inside the snapshot folder that leads out of it). Every such name goes through this module:

- `relative_parts(name)`: the name's components, refusing an absolute name, a `..` component, an
  empty name and a NUL byte (lexical: nothing is read);
- `confined_join(root, name)`: root/name as a string path, for paths handed to a Host (live or replay);
- `confined_path(root, name)`: root/name on this machine, also refusing a symlink anywhere along the way
  that resolves outside root (the folder's own symlinks that stay inside are followed);
- `member_name(path)`: where a recorded absolute path is stored inside a snapshot folder (`files/…`).

A refusal is a PathEscape whose message names the path and the reason.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path


class PathEscape(ValueError):
    """A data-derived path that would leave its root (or is no path at all); the message says why."""


def relative_parts(name: str) -> tuple[str, ...]:
    """The components of a relative name (`a/./b//c` -> a, b, c), or PathEscape."""
    if not name:
        raise PathEscape("an empty path")
    if "\0" in name:
        raise PathEscape(f"{name!r} holds a NUL byte")
    if name.startswith("/"):
        raise PathEscape(f"{name} is an absolute path")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise PathEscape(f"{name} climbs out of its folder (a '..' component)")
    if not parts:
        raise PathEscape(f"{name!r} names the folder itself, not a file in it")
    return parts


def confined_join(root: str, name: str) -> str:
    """root/name, for a name that must stay under root (PathEscape otherwise)."""
    return posixpath.join(root, *relative_parts(name))


def within(path: str, root: str) -> bool:
    """path is root or lies under it (both already resolved or both lexical; no filesystem access)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def confined_path(root: str | os.PathLike[str], name: str, *, resolved: bool = False) -> Path:
    """root/name on this machine, resolved: PathEscape when the name, or a symlink on the way, leads out
    of root. The path need not exist (its existing part is resolved). `resolved`: root is already
    os.path.realpath's answer (a folder read part by part resolves it once, not once per part)."""
    parts = relative_parts(name)
    real_root = os.fspath(root) if resolved else os.path.realpath(root)
    real = _resolve_under(real_root, parts)
    if not within(real, real_root):
        raise PathEscape(f"{name} is a symlink (or lies under one) that leads out of its folder, to {real}")
    return Path(real)


def _resolve_under(real_root: str, parts: tuple[str, ...]) -> str:
    """os.path.realpath(real_root/parts) for a resolved real_root: only the parts can be symlinks, so only
    they are looked at; from the first symlink on, realpath resolves the rest (~10x fewer lstat calls)."""
    path = real_root
    for index, part in enumerate(parts):
        path = os.path.join(path, part)
        if os.path.islink(path):
            return os.path.realpath(os.path.join(path, *parts[index + 1 :]))
    return path


class ConfinedFolder:
    """confined_path for many names under one resolved root (a snapshot folder's ~200 parts): each
    folder's components are looked at once, then only a name's last component (path objects and lstat
    calls cost ~40 us a name otherwise). A symlink on the way sends the name through confined_path."""

    # Deeper names (a snapshot's are 2-4 deep) go through confined_path: the cache of a folder 5,000 deep
    # would hold 5,000 prefixes of it (and _plain would recurse past Python's limit).
    MAX_CACHED_DEPTH = 32

    def __init__(self, root: str, real_root: str) -> None:
        self.root, self.real_root = root, real_root
        self.plain: set[tuple[str, ...]] = {()}  # folders under root with no symlink on the way

    def join(self, name: str) -> str:
        """root/name (lexical), or PathEscape when it, or a symlink on the way, leads out of root."""
        parts = relative_parts(name)
        path = os.path.join(self.root, *parts)
        if len(parts) > self.MAX_CACHED_DEPTH or not self._plain(parts[:-1]) or os.path.islink(path):
            confined_path(self.real_root, name, resolved=True)
        return path

    def _plain(self, folder: tuple[str, ...]) -> bool:
        if folder in self.plain:
            return True
        if not self._plain(folder[:-1]) or os.path.islink(os.path.join(self.real_root, *folder)):
            return False
        self.plain.add(folder)
        return True


def member_name(path: str) -> str:
    """The relative name under which a recorded file path is kept (`/etc/hccn.conf` -> `etc/hccn.conf`;
    `..` is resolved lexically first, so `/a/../../b` -> `b` and a relative path counts from /)."""
    if "\0" in path:
        raise PathEscape(f"{path!r} holds a NUL byte")
    normal = posixpath.normpath("/" + path).lstrip("/")
    if not normal:
        raise PathEscape(f"{path!r} names the root folder, not a file")
    return normal
