"""The files a user names on the command line: profile, serve script, snapshot parts, reports, manifests.

They are read whole, once, before or outside the probes, so they get their own guard instead of a
timeout: only regular files are opened (a FIFO would block the read forever, a directory or device is not
an input), at most max_bytes are read, and every failure is an InputError (exit code 2, one line).
"""

from __future__ import annotations

import os

from glm5check.errors import ConfigError
from glm5check.host.filekinds import KIND_WORDS, file_kind, os_error_text
from glm5check.host.paths import PathEscape, within


class InputError(ConfigError):
    """A file named on the command line that cannot be read (exit code 2)."""


def _fmt_size(count: int) -> str:
    return f"{count / 2**20:.0f} MiB" if count >= 2**20 else f"{count // 1024} KiB"


def read_input_bytes(path: str | os.PathLike[str], what: str, max_bytes: int, inside: str | None = None) -> bytes:
    """The bytes of a regular file of at most max_bytes, or InputError saying why not. `inside`: a resolved
    root the file actually opened must lie under (PathEscape otherwise)."""
    name = os.fspath(path)
    try:
        info = os.stat(name)
        kind = KIND_WORDS.get(file_kind(info.st_mode))
        if kind is not None:
            raise InputError(f"cannot read {what} {name}: it is {kind}, not a regular file")
        if info.st_size > max_bytes:
            raise InputError(f"cannot read {what} {name}: it is larger than {_fmt_size(max_bytes)}")
        with open(name, "rb") as handle:
            if inside is not None:
                _opened_inside(handle.fileno(), name, inside)
            # Sized by stat: read(max_bytes + 1) allocates max_bytes first (~35 us a part, ~200 parts a replay).
            data = handle.read(min(info.st_size, max_bytes) + 1)
            if len(data) > info.st_size:  # it grew after stat, or a /proc-style file says 0: the rest, bounded
                data += handle.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise InputError(f"cannot read {what} {name}: {os_error_text(exc)}") from None
    if len(data) > max_bytes:  # the file grew after stat (or /proc-style files report size 0)
        raise InputError(f"cannot read {what} {name}: it is larger than {_fmt_size(max_bytes)}")
    return data


def _opened_inside(fd: int, name: str, root: str) -> None:
    """The file this descriptor holds lies under root: checked on what was opened, so a folder swapped for a
    symlink out after the name's checks (a race, or a folder remembered as plain) is caught here."""
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc: the name is resolved again
        real = os.path.realpath(name)
    if not within(real, root):
        raise PathEscape(f"{name} is a symlink (or lies under one) that leads out of its folder, to {real}")


def read_input_text(path: str | os.PathLike[str], what: str, max_bytes: int) -> str:
    """The text of a regular file (UTF-8, undecodable bytes replaced), or InputError."""
    return read_input_bytes(path, what, max_bytes).decode("utf-8", errors="replace")
