"""Every file glm5check writes goes through this module, and appears whole or not at all.

A file output (a report, a comparison, a manifest, a .tar.gz snapshot) is written to a temporary file
beside its target, flushed to disk and renamed over the target only when complete; a snapshot folder is
built in a temporary sibling folder and renamed into place. On any failure (disk full, a file size
limit, an encoding error, Ctrl-C, SIGTERM) the temporary is removed and the previous file or folder is
left exactly as it was. An output that is not a regular file (/dev/null, /dev/stdout, a FIFO) is written
directly: it cannot be replaced, and a temporary file must never be created in /dev.

Names inside a snapshot folder or archive come from recorded data; `TreeSink.put` confines each one to
the output (glm5check.host.paths), so nothing is written outside what the user named.

`check_not_an_input` refuses (exit 2) an output that names one of the run's own inputs.
"""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    import tarfile

# tarfile, shutil and secrets are imported by the functions that write: every replay imports this module
# (the snapshot reader shares its names) and writes nothing (start-up time).

from glm5check.errors import ConfigError
from glm5check.host.paths import PathEscape, relative_parts, within

# A snapshot folder may replace an existing folder only when that holds a snapshot (or nothing).
SNAPSHOT_MARKER = "snapshot.json"


class OutputError(ConfigError):
    """An output that cannot be written (exit code 2); the previous file is left as it was."""


def _failure(target: str | os.PathLike[str], exc: OSError) -> OutputError:
    return OutputError(f"cannot write {os.fspath(target)}: {exc.strerror or exc}")


def _is_special(path: Path) -> bool:
    """An existing output that is neither a regular file nor a folder (a device, a FIFO, a socket)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _temporary_name(target: Path) -> Path:
    import secrets

    return target.with_name(f".{target.name}.glm5check-{secrets.token_hex(4)}.tmp")


def _remove(path: Path) -> None:
    import shutil

    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError:
        pass  # already gone, or it cannot be removed: nothing more to do


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (best effort: some filesystems refuse to open or fsync a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextmanager
def _removed_on_failure(temporary: Path, target: str | os.PathLike[str]) -> Iterator[None]:
    """Remove temporary when the block fails in any way (Ctrl-C and SIGTERM included); an OSError
    becomes an OutputError naming target."""
    try:
        yield
    except OSError as exc:
        _remove(temporary)
        raise _failure(target, exc) from None
    except BaseException:
        _remove(temporary)
        raise


@contextmanager
def atomic_file(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces target only when the with-block completes."""
    path = Path(target)
    if _is_special(path):
        try:
            with path.open("wb") as direct:
                yield direct
        except OSError as exc:
            raise _failure(target, exc) from None
        return
    if path.is_dir():
        raise OutputError(f"cannot write {os.fspath(target)}: it is a directory")
    temporary = _temporary_name(path)
    with _removed_on_failure(temporary, target):
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    _sync_folder(path.parent)


def output_folder(path: Path, mode: int = 0o777) -> Path:
    """The folder --output names (glm5check cluster writes one file per node there), or the scan cache's
    (mode 0o700), created with its parents when missing; each file in it is then written with write_atomic."""
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as exc:
        raise _failure(path, exc) from None
    return path


def write_atomic(target: str | os.PathLike[str], content: bytes) -> None:
    """Write content to target atomically (OutputError, exit 2, when it cannot be written)."""
    with atomic_file(target) as handle:
        handle.write(content)


def save_text(target: str | os.PathLike[str], text: str) -> None:
    """Write text as UTF-8, atomically; text that cannot be encoded leaves the target untouched."""
    write_atomic(target, text.encode("utf-8"))


class TreeSink(Protocol):
    """Where a snapshot's parts go: `put("commands/001-npu-smi.out", b"…")`."""

    def put(self, name: str, content: bytes) -> None: ...


class _FolderSink:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, name: str, content: bytes) -> None:
        path = self.root.joinpath(*_checked(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as handle:  # x: a name written twice is a bug, never a silent overwrite
            handle.write(content)


class _ArchiveSink:
    def __init__(self, archive: tarfile.TarFile, folder: str) -> None:
        self.archive, self.folder, self.mtime = archive, folder, int(time.time())

    def put(self, name: str, content: bytes) -> None:
        import tarfile

        info = tarfile.TarInfo("/".join((self.folder, *_checked(name))))
        info.size, info.mtime, info.mode = len(content), self.mtime, 0o644
        self.archive.addfile(info, io.BytesIO(content))


def _checked(name: str) -> tuple[str, ...]:
    try:
        return relative_parts(name)
    except PathEscape as exc:
        raise OutputError(f"refusing to write outside the output: {exc}") from None


def _replaceable(path: Path) -> bool:
    """Whether a folder output may replace what is at path: nothing, an empty folder or a snapshot."""
    if not path.exists() and not path.is_symlink():
        return True
    if path.is_symlink() or not path.is_dir():
        return False
    return (path / SNAPSHOT_MARKER).is_file() or not any(path.iterdir())


def check_folder_target(target: str | os.PathLike[str]) -> None:
    """OutputError unless a folder output may go to target (nothing there, an empty folder, a snapshot)."""
    if not _replaceable(Path(target)):
        raise OutputError(f"cannot write {os.fspath(target)}: it exists and is not a glm5check snapshot folder")


@contextmanager
def atomic_folder(target: str | os.PathLike[str]) -> Iterator[TreeSink]:
    """A sink whose parts become the folder target when the with-block completes (built in a hidden
    sibling folder, then renamed; a previous snapshot folder there is replaced, anything else refused)."""
    path = Path(target)
    check_folder_target(path)
    output_folder(path.parent)  # a snapshot folder's parents are created, as they always were
    building = _temporary_name(path)
    with _removed_on_failure(building, target):
        building.mkdir()
        yield _FolderSink(building)
        _swap_in(building, path)
    _sync_folder(path.parent)


def _swap_in(built: Path, target: Path) -> None:
    """Rename built to target; an existing target is moved aside first and removed afterwards."""
    if not target.exists():
        os.rename(built, target)
        return
    old = _temporary_name(target)
    os.rename(target, old)
    try:
        os.rename(built, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove(old)


@contextmanager
def archive_to_stream(stream: BinaryIO, folder: str) -> Iterator[TreeSink]:
    """A sink writing a .tar.gz (every member under one top folder) to a binary stream as it goes: the
    temporary file of atomic_archive, or standard output (`snapshot -o -`)."""
    import tarfile

    with tarfile.open(fileobj=stream, mode="w|gz") as archive:
        yield _ArchiveSink(archive, folder)


@contextmanager
def atomic_archive(target: str | os.PathLike[str], folder: str) -> Iterator[TreeSink]:
    """A sink whose parts become a .tar.gz file, written atomically."""
    with atomic_file(target) as handle, archive_to_stream(handle, folder) as sink:
        yield sink


def _same(first: str, second: str) -> bool:
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return os.path.samefile(first, second)  # hard links
    except OSError:
        return False


def _under(path: str, folder: str) -> bool:
    return within(os.path.realpath(path), os.path.realpath(folder))


def inside(path: str, folder: str) -> bool:
    """Whether path is folder itself (by path, symlink or hard link) or lies anywhere under it."""
    return _same(path, folder) or _under(path, folder)


def check_not_an_input(
    output: str,
    inputs: Mapping[str, str | None],
    folders: Mapping[str, str | None] | None = None,
    option: str = "--output",
) -> None:
    """OutputError (exit 2) when output is one of the run's input files (by path or hard link), or lies
    inside one of its input folders (a replayed snapshot folder, say): writing it would destroy what the
    run reads. inputs and folders map a description ("the serve script") to a path (None: not given)."""
    for what, path in inputs.items():
        if path and _same(output, path):
            raise OutputError(f"{option} {output} is {what}; choose another file")
    for what, path in (folders or {}).items():
        if path and inside(output, path):
            raise OutputError(f"{option} {output} is inside {what} ({path}); choose another place")
