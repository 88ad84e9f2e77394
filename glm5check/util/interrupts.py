"""The operator's own interrupts, told apart from a plugin's.

Only the operator stops a run: Ctrl-C (SIGINT, exit 130) or SIGTERM (exit 143). `install()` replaces both
handlers with ones that first note the signal and then raise in the main thread (KeyboardInterrupt,
Terminated), so that every with-block unwinds and the output writer removes its temporaries (and
ignores SIGXFSZ, so that a file size limit is a write error, not a kill). Code that
contains a plugin (a check, a check module's import) catches everything it raises, KeyboardInterrupt
and SystemExit included, and lets it through only when `requested()` says the operator asked.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

SIGINT_EXIT = 130
SIGTERM_EXIT = 143

_requested = threading.Event()


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM (a BaseException, like KeyboardInterrupt: nothing swallows it)."""


def requested() -> bool:
    """Whether the operator sent SIGINT or SIGTERM to this process."""
    return _requested.is_set()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    raise Terminated


def install() -> None:
    """Route SIGINT and SIGTERM through the handlers above (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when SIGINT is ignored (nohup &)
        signal.signal(signal.SIGINT, _on_sigint)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    # Under a file size limit (ulimit -f), a write beyond it fails with EFBIG instead of killing the
    # process, so the output writer can remove its temporary and say why.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
