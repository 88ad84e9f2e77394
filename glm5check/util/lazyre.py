"""Regular expressions compiled on first use: importing a module (and `glm5check --version`, or a run that
never parses that kind of output) does not pay for compiling its patterns."""

from __future__ import annotations

import re
from typing import Any


class LazyRegex:
    """Stands for re.compile(pattern, flags); compiles on the first method call and delegates after."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled(), name)


def lazy(pattern: str, flags: int = 0) -> Any:
    """A LazyRegex typed as a compiled pattern (match, search, sub, findall, … work unchanged)."""
    return LazyRegex(pattern, flags)
