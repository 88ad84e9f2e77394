"""The terminal boundary: everything glm5check prints goes through out() or err().

- Nothing raw reaches the terminal: out() and err() pass text through util.text.printable (reports
  and comparisons are already sanitised where they are built; this catches every other line).
- A terminal that cannot encode a character gets its ASCII form instead of a UnicodeEncodeError: a
  look-alike in tables, `\\u00b7` in JSON, `&#xb7;` in XML (both lossless).
- Plugin code runs inside plugin_code(): what a plugin prints goes to stderr, never into a report on stdout.
- A reader that goes away (`| head -1`), a closed stdout or a full device (`> /dev/full`) ends the
  output quietly: the run still finishes and exits with its own code. stdout is then pointed at
  /dev/null so that the interpreter's last flush cannot fail either.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from typing import BinaryIO, TextIO

from glm5check.errors import ConfigError
from glm5check.util.lazyre import lazy
from glm5check.util.text import error_handler, json_printable, one_line, printable

# The encoding fallback of each output format: JSON keeps \uXXXX escapes, XML and HTML character references.
STYLES = {"table": "text", "json": "json", "junit": "xml", "html": "xml"}
# Writing to these ends the output, not the run.
_GONE = {errno.EPIPE, errno.ENOSPC, errno.EBADF, errno.EIO}
_closed = {"stdout": False, "stderr": False}


def stdout_is_terminal() -> bool:
    stream = sys.stdout
    return stream is not None and not _closed["stdout"] and stream.isatty()


# The only escape sequences glm5check writes itself: the table's status colours (reports/table.py). Text
# from a report never holds one (reporting made it printable before any renderer ran).
_OWN_COLOURS = lazy(r"(\x1b\[(?:3[1-6]|0)m)")


def out(text: str, style: str = "text", colours: bool = False) -> None:
    """Write text to stdout, printable, in the style's encoding fallback (text, json or xml). With
    `colours`, the table's own status colours stay; everything else is made printable as always."""
    if colours:
        parts = _OWN_COLOURS.split(text)
        safe = "".join(part if index % 2 else printable(part) for index, part in enumerate(parts))
    else:
        safe = json_printable(text) if style == "json" else printable(text)
    _write("stdout", _encoded(sys.stdout, safe, style))


def out_exact(data: bytes) -> None:
    """Write data (a generated script, whose bytes matter) unchanged, unless stdout is a terminal: then
    as printable text like everything else."""
    if stdout_is_terminal():
        out(data.decode("utf-8", "surrogateescape"))
    else:
        _write("stdout", data)


def out_stream(write: Callable[[BinaryIO], None]) -> None:
    """Let write() stream binary data (a snapshot archive) to stdout; never to a terminal."""
    if stdout_is_terminal():
        raise ConfigError("this writes a .tar.gz to standard output: redirect it to a file or a pipe")
    stream = sys.stdout
    if stream is None or _closed["stdout"]:
        return
    try:
        stream.flush()
        write(stream.buffer)
        stream.buffer.flush()
    except OSError as exc:
        if not gone(exc):
            raise


@contextmanager
def plugin_code() -> Iterator[None]:
    """While plugin code may run (its import, its checks, its report facts): what it prints goes to stderr,
    so that it can never corrupt a JSON report, a catalogue or a snapshot archive on stdout. Nothing of
    glm5check's own output may be written inside (out() would follow it to stderr)."""
    with redirect_stdout(sys.stderr):
        yield


def err(line: str) -> None:
    """One line on stderr, printable."""
    _write("stderr", _encoded(sys.stderr, one_line(line) + "\n", "text"))


def status(text: str) -> None:
    """The progress line on stderr: text (made one printable line) over the previous one; "" erases it."""
    _write("stderr", _encoded(sys.stderr, "\r" + one_line(text) + "\033[K", "text"))


def _encoded(stream: TextIO | None, text: str, style: str) -> bytes:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return text.encode(encoding, error_handler(style))


def _write(name: str, data: bytes) -> None:
    stream: TextIO | None = getattr(sys, name)
    if stream is None or _closed[name]:
        return
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text-only stream (a test's StringIO): it takes str
            stream.write(data.decode(stream.encoding or "utf-8", "surrogateescape"))
        else:
            stream.flush()
            buffer.write(data)
        stream.flush()
    except OSError as exc:
        if exc.errno not in _GONE and not isinstance(exc, BrokenPipeError):
            raise
        _close(name)


def _close(name: str) -> None:
    """The reader is gone: drop what is buffered and send the rest (and the final flush) to /dev/null."""
    _closed[name] = True
    stream = getattr(sys, name)
    try:
        descriptor = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, descriptor)
        os.close(null)
    except (OSError, ValueError, AttributeError):
        setattr(sys, name, None)


def gone(exc: BaseException) -> bool:
    """True when exc says the reader of stdout went away (the output ends quietly); stdout is then
    pointed at /dev/null."""
    if isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno in _GONE):
        _close("stdout")
        return True
    return False


def use_fallback_for_others() -> None:
    """Output that does not go through out() (click's --help and --version) also falls back to ASCII
    instead of raising UnicodeEncodeError."""
    stream = sys.stdout
    if stream is not None and hasattr(stream, "reconfigure"):
        stream.reconfigure(errors=error_handler("text"))


def exit_code(code: int) -> int:
    """The code to exit with once output ends: a flush that fails here cannot change it."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not _closed[name]:
            try:
                stream.flush()
            except OSError:
                _close(name)
    return code
