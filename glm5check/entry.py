"""The `glm5check` console command. `--version` is answered before anything else is imported (click and
the CLI cost more than the interpreter's own start-up); every other command goes to glm5check.cli."""

from __future__ import annotations

import gc
import sys

VERSION_FLAGS = (["--version"], ["-V"])


def main() -> None:
    if sys.argv[1:] in VERSION_FLAGS:
        from glm5check import __version__

        sys.stdout.write(f"glm5check {__version__}\n")
        sys.exit(0)
    from glm5check.cli import main as cli_main

    try:
        cli_main()
    finally:
        # The interpreter's last collection at exit walks every object still alive (modules, classes,
        # the report: ~15 ms of a replay's ~0.2 s) to find cycles that exit frees anyway. Frozen objects
        # are skipped; atexit handlers, flushing and finalisers run as before.
        gc.freeze()
