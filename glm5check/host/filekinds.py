"""Words for what a path is and why it could not be read, shared by the live host and the input reader."""

from __future__ import annotations

import errno
import stat as stat_module


def os_error_text(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "missing"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, NotADirectoryError):
        return "not a directory"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return exc.strerror or str(exc)


_KINDS = (
    (stat_module.S_ISREG, "file"),
    (stat_module.S_ISDIR, "dir"),
    (stat_module.S_ISCHR, "char"),
    (stat_module.S_ISBLK, "block"),
    (stat_module.S_ISFIFO, "fifo"),
    (stat_module.S_ISSOCK, "socket"),
)


def file_kind(mode: int) -> str:
    """file, dir, char, block, fifo, socket or other, from a stat mode."""
    return next((name for test, name in _KINDS if test(mode)), "other")


# What a path is, in words, for every kind but a regular file.
KIND_WORDS = {
    "dir": "a directory",
    "fifo": "a FIFO (named pipe)",
    "char": "a character device",
    "block": "a block device",
    "socket": "a socket",
    "other": "a special file",
}
