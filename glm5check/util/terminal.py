"""The terminal's width, as shutil.get_terminal_size reads it, without importing shutil (which imports bz2
and lzma: ~2 ms of every run's start-up)."""

from __future__ import annotations

import os
import sys

from glm5check.util.numbers import whole


def columns(fallback: int) -> int:
    """COLUMNS when it is a positive number, else the width of the terminal standard output is, else
    fallback (standard output is a pipe or a file)."""
    given = whole(os.environ.get("COLUMNS"), low=1, high=100_000)
    if given is not None:
        return given
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or fallback  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return fallback
