"""The `glm5check` console command. `--version` is answered before anything else is imported (click and
the CLI cost more than the interpreter's own start-up); every other command goes to glm5check.cli, with the
garbage collector paused for its start-up (glm5check.util.heap)."""

from __future__ import annotations

import sys

VERSION_FLAGS = (["--version"], ["-V"])


def main() -> None:
    if sys.argv[1:] in VERSION_FLAGS:
        from glm5check import __version__

        sys.stdout.write(f"glm5check {__version__}\n")
        sys.exit(0)
    from glm5check.util import heap  # after --version, which imports nothing but this module

    heap.pause()
    from glm5check.cli import main as cli_main

    try:
        cli_main()
    finally:
        heap.resume()  # a command that ended before its start-up did
        heap.at_exit()
