"""Regular expressions compiled on first use: importing a module (and `glm5check --version`, or a run that
never parses that kind of output) does not pay for compiling its patterns."""

from __future__ import annotations

import re
from typing import Any


class LazyRegex:
    """Stands for re.compile(pattern, flags): the first method asked for compiles it, and each method, once
    looked up, is kept on the instance, so later calls cost what the compiled pattern's own do."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags

    def __getattr__(self, name: str) -> Any:  # only for names not yet on the instance
        value = getattr(re.compile(self.pattern, self.flags), name)
        setattr(self, name, value)
        return value


def lazy(pattern: str, flags: int = 0) -> Any:
    """A LazyRegex typed as a compiled pattern (match, search, sub, findall, … work unchanged)."""
    return LazyRegex(pattern, flags)
