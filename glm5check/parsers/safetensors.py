"""Safetensors headers: an 8-byte little-endian length, a JSON header, then the tensor data.

Pure functions over bytes. They never raise: whatever cannot be read becomes a problem in the result.
The consistency rules are the ones the `safetensors` library enforces when it opens a file
(dtype known, element count × dtype size = byte span, spans contiguous from 0, file size =
8 + header length + last offset), so a header that passes here also opens there.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

PREFIX_BYTES = 8
# The safetensors library refuses longer headers ("HeaderTooLarge"); so do we.
MAX_HEADER_BYTES = 100_000_000
LFS_POINTER_START = b"version https://git-lfs"
_BY_OFFSETS = attrgetter("start", "end")

# Bits per element of every dtype the format defines.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
}


class TensorInfo(NamedTuple):
    """A named tuple, not a dataclass: a GLM-5-w4a8 folder has 237,030 of them, built in a second."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class SafetensorsHeader:
    """One file's header. `problems` is empty when the header is consistent (and, when the file size
    was given, agrees with it)."""

    header_len: int | None
    tensors: tuple[TensorInfo, ...] = ()
    metadata: dict[str, str] | None = None
    problems: tuple[str, ...] = ()
    data_bytes: int | None = None  # the last data offset: how many data bytes the header describes
    lfs_pointer: bool = False
    truncated_by: int | None = None  # bytes missing at the end of the file, when short

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def expected_file_size(self) -> int | None:
        if self.header_len is None or self.data_bytes is None:
            return None
        return PREFIX_BYTES + self.header_len + self.data_bytes


def looks_like_lfs_pointer(data: bytes) -> bool:
    """A Git-LFS pointer stub: a small text file starting `version https://git-lfs...`."""
    # Eight bytes ("version ") are enough: as a length they would be about 2.3e18, never a real header.
    if len(data) < len(LFS_POINTER_START):
        return data[:PREFIX_BYTES] == LFS_POINTER_START[:PREFIX_BYTES] and len(data) >= PREFIX_BYTES
    return data.startswith(LFS_POINTER_START)


def header_length(prefix: bytes) -> int | None:
    """The header length from the first 8 bytes; None when fewer than 8 bytes are given."""
    if len(prefix) < PREFIX_BYTES:
        return None
    return int.from_bytes(prefix[:PREFIX_BYTES], "little")


def prefix_problem(prefix: bytes, file_size: int | None) -> str | None:
    """Why the header behind these first bytes cannot be read, or None when its length is plausible."""
    length = header_length(prefix)
    if length is None:
        return f"file has only {len(prefix)} bytes, fewer than the 8-byte header length"
    if looks_like_lfs_pointer(prefix):
        return "Git-LFS pointer stub, not the weights (run `git lfs pull` or download the real file)"
    if length > MAX_HEADER_BYTES:
        return f"header length {length} is larger than {MAX_HEADER_BYTES} bytes (HeaderTooLarge)"
    if file_size is not None and PREFIX_BYTES + length > file_size:
        return f"header of {length} bytes does not fit in a file of {file_size} bytes"
    return None


def parse_file_bytes(data: bytes) -> SafetensorsHeader:
    """Parse a whole file (or its beginning) held in memory; the file size is len(data)."""
    problem = prefix_problem(data, len(data))
    length = header_length(data)
    if problem is not None or length is None:
        lfs = looks_like_lfs_pointer(data)
        return SafetensorsHeader(length, problems=(problem or "unreadable header length",), lfs_pointer=lfs)
    return parse_header(data[PREFIX_BYTES : PREFIX_BYTES + length], file_size=len(data))


def parse_header(header: bytes, file_size: int | None = None) -> SafetensorsHeader:
    """Parse the JSON header (the bytes after the 8-byte length) and check it against file_size."""
    length = len(header)
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        return SafetensorsHeader(length, problems=("header is not UTF-8 text",))
    if not text.startswith("{"):
        return SafetensorsHeader(length, problems=("header does not start with '{': not a safetensors file",))
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return SafetensorsHeader(length, problems=(f"header is not valid JSON: {exc}",))
    if not isinstance(raw, dict):
        return SafetensorsHeader(length, problems=("header is not a JSON object",))
    problems: list[str] = []
    metadata = _metadata(raw.pop("__metadata__", None), problems)
    tensors = [t for name, entry in raw.items() if (t := _tensor(name, entry, problems)) is not None]
    tensors.sort(key=_BY_OFFSETS)
    data_bytes = _check_layout(tensors, problems)
    truncated_by = _check_size(PREFIX_BYTES + length + data_bytes, file_size, problems)
    return SafetensorsHeader(
        length, tuple(tensors), metadata, tuple(problems), data_bytes, truncated_by=truncated_by
    )


def _metadata(value: Any, problems: list[str]) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    problems.append("__metadata__ is not a mapping of strings to strings")
    return None


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0  # bool is a subclass of int, not a count


def _tensor(name: str, entry: Any, problems: list[str]) -> TensorInfo | None:
    if not isinstance(entry, dict):
        problems.append(f"{name}: entry is not an object")
        return None
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        problems.append(f"{name}: unknown dtype {dtype!r}")
        return None
    if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape):
        problems.append(f"{name}: shape {shape!r} is not a list of non-negative integers")
        return None
    if not (type(offsets) is list and len(offsets) == 2 and _is_count(offsets[0]) and _is_count(offsets[1])):
        problems.append(f"{name}: data_offsets {offsets!r} are not two non-negative integers")
        return None
    start, end = offsets
    if end < start:
        problems.append(f"{name}: data_offsets [{start}, {end}] end before they start")
        return None
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != end - start:
        problems.append(
            f"{name}: {dtype} {shape} needs {bits / 8:g} bytes but data_offsets [{start}, {end}] "
            f"span {end - start}"
        )
    return TensorInfo(name, dtype, tuple(shape), start, end)


def _check_layout(tensors: list[TensorInfo], problems: list[str]) -> int:
    """Spans must tile the data area from byte 0 without gaps or overlaps; returns the last offset."""
    position = 0
    for tensor in tensors:
        if tensor.start != position:
            kind = "overlaps the previous tensor" if tensor.start < position else "leaves a gap"
            problems.append(f"{tensor.name}: data starts at {tensor.start}, expected {position} ({kind})")
        position = max(position, tensor.end)
    return position


def _check_size(expected: int, file_size: int | None, problems: list[str]) -> int | None:
    if file_size is None or file_size == expected:
        return None
    if file_size < expected:
        problems.append(f"truncated: {file_size} bytes present, the header describes {expected}")
        return expected - file_size
    problems.append(f"{file_size - expected} unexpected bytes after the last tensor ({expected} expected)")
    return None
