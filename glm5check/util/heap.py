"""The console command's start-up, without the cyclic garbage collector.

Importing glm5check, click and the check modules allocates ~100k objects that all live until exit
(modules, functions, classes, compiled patterns). The collector's young-generation passes over them find
nothing to free and cost ~8 ms of a ~0.2 s replay; the interpreter's last collection at exit walks them
all once more (~15 ms). The console entry pauses the collector until start-up is over; `resume` then moves
everything alive into the permanent generation (gc.freeze: never walked again) and turns it back on, so
the run itself is collected as usual. Only the console command pauses: a program that imports glm5check
keeps its collector as it set it (`resume` is a no-op unless `pause` ran)."""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Start-up begins (the console entry only)."""
    global _paused
    _paused = True
    gc.disable()


def resume() -> None:
    """Start-up is over: what exists now lives to the end; collect from here on. Called where a command's
    own code is imported (the run after its check modules, each lazy subcommand after its module)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def at_exit() -> None:
    """Before the interpreter's exit: its last collection would only walk what exit frees anyway."""
    gc.freeze()
