"""Human-readable sizes for messages, and reading plain whole numbers."""

from __future__ import annotations

GIB = 1 << 30
MIB = 1 << 20


def fmt_bytes(count: float | None) -> str:
    if count is None:
        return "unknown"
    for unit, size in (("TiB", 1 << 40), ("GiB", GIB), ("MiB", MIB), ("KiB", 1 << 10)):
        if abs(count) >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(count)} B"


def whole_number(text: str) -> int | None:
    """A plain decimal count (ASCII digits, at most 18 of them), else None: `isdigit()` also admits "²",
    which int() refuses."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 18 else None
