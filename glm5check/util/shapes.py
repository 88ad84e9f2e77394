"""Values read from untrusted JSON (a report from a file or another node): the expected shape, else an
empty or None stand-in, so that a field of the wrong type is unknown instead of an exception."""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: Any) -> int | None:
    """A whole number (JSON true and false are not numbers here)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
