"""The progress line: while a check has run longer than a second (a weights scan on NFS, NPU pings), one
line on stderr says which ones and for how long, and is erased when the run ends.

Only for a person watching: stderr must be a terminal, and nothing is written for machine formats (json,
junit) or when NO_COLOR or CI is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TextIO

from glm5check.util.terminal import columns

DELAY_S = 1.0
QUIET_FORMATS = ("json", "junit")
QUIET_VARIABLES = ("NO_COLOR", "CI")


def wanted(stream: TextIO, output_format: str, env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if output_format in QUIET_FORMATS or any(name in env for name in QUIET_VARIABLES):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class ProgressLine:
    """Call it with {check id: seconds running} as often as you like; close() erases the line. `show` writes
    one status line over the previous one ("" erases it): glm5check.console.status."""

    def __init__(self, show: Callable[[str], None], delay_s: float = DELAY_S) -> None:
        self._show = show
        self._delay_s = delay_s
        self._shown = False

    def __call__(self, running: Mapping[str, float]) -> None:
        slow = sorted((seconds, name) for name, seconds in running.items() if seconds >= self._delay_s)
        if not slow:
            self.close()
            return
        longest = slow[-1][0]
        names = ", ".join(name for _, name in reversed(slow))
        self._write(f"glm5check: waiting for {names} ({longest:.0f} s)")

    def _write(self, text: str) -> None:
        width = columns(80) - 1
        if len(text) > width:
            text = text[: max(width - 1, 0)] + "…"
        self._show(text)
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self._show("")
            self._shown = False
