"""Human-readable sizes for messages."""

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
    return f"{count:.0f} B"
