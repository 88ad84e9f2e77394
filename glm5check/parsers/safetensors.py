"""Safetensors headers: an 8-byte little-endian length, a JSON header, then the tensor data.

Pure functions over bytes. They never raise: whatever cannot be read becomes a problem in the result.
The consistency rules are the ones the `safetensors` library enforces when it opens a file
(dtype known, element count × dtype size = byte span, spans contiguous from 0, file size =
8 + header length + last offset), so a header that passes here also opens there.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from operator import eq, itemgetter, sub
from typing import Any, NamedTuple, cast

from glm5check.util import safejson
from glm5check.util.lazyre import lazy

PREFIX_BYTES = 8
# The safetensors library refuses longer headers ("HeaderTooLarge"); so do we.
MAX_HEADER_BYTES = 100_000_000
LFS_POINTER_START = b"version https://git-lfs"
# One tensor entry as the safetensors library writes it (compact JSON, keys in this order, plain
# names). Headers made only of such entries are read by this regex, ~2x faster than json.loads, which
# builds two lists and a dict per tensor; any other header (spaces, escapes, other key order, duplicates)
# goes through json.loads. Groups: separator, name, dtype, shape, start, end.
_NUMBER = r"(?:0|[1-9][0-9]{0,18})"  # longer numbers (int() refuses over 4300 digits) go to json.loads
_ENTRY_PATTERN = (
    r'([{,])"([^"\\\x00-\x1f]*)":\{"dtype":"([A-Z0-9_]+)","shape":\[((?:'
    + _NUMBER
    + "(?:,"
    + _NUMBER
    + r')*)?)\],"data_offsets":\[('
    + _NUMBER
    + "),("
    + _NUMBER
    + r")\]\}"
)
# The same entry with dtype and shape in one group ("BF16\",\"shape\":[6144"): the streaming scan needs only
# their span, and a GLM-5 shard has a few dozen distinct ones among thousands of tensors.
# Its numbers are matched loosely (faster): the few distinct shapes are checked against _DIMS, and the offsets
# must equal the running sum of the sizes, written as Python writes numbers (no leading zeros).
_KIND_PATTERN = (
    r'([{,])"([^"\\\x00-\x1f]*)":\{"dtype":"([A-Z0-9_]+","shape":\[[0-9,]*)\],"data_offsets":\[([0-9]+),([0-9]+)\]\}'
)
_DIMS = "(?:" + _NUMBER + "(?:," + _NUMBER + ")*)?"
_KIND_SHAPE = '","shape":['
_WINDOW_CHARS = 64 * 1024
_ENTRY_PUNCTUATION = len('{"":{"dtype":"","shape":[],"data_offsets":[,]}')


# Compiled on first use: `glm5check --version` and runs without weights never pay for them.
_ENTRY = lazy(_ENTRY_PATTERN)
_KIND = lazy(_KIND_PATTERN)
_DIMS_TEXT = lazy(_DIMS)


_WHITESPACE = " \t\n\r"
_TAIL_CHARS = 64
_METADATA_START = '{"__metadata__":'
# Offsets are kept as signed 64-bit (array "q"); no real file is 2**63 bytes.
_MAX_OFFSET = 2**63 - 1

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
    """One file's header, as columns in data order (a GLM-5-w4a8 folder has 237,030 tensors: one object
    each would cost ~100 MB). `problems` is empty when the header is consistent (and, when the file size
    was given, agrees with it)."""

    header_len: int | None
    names: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()
    shapes: tuple[tuple[int, ...], ...] = ()
    starts: array[int] = field(default_factory=lambda: array("q"))
    ends: array[int] = field(default_factory=lambda: array("q"))
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

    @property
    def tensors(self) -> list[TensorInfo]:
        """One TensorInfo per tensor, built on demand."""
        return list(map(TensorInfo, self.names, self.dtypes, self.shapes, self.starts, self.ends))

    def sizes(self) -> Iterator[int]:
        """Bytes of each tensor, in the order of `names`."""
        return map(sub, self.ends, self.starts)


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
    problems: list[str] = []
    fast = _compact_entries(text)
    if fast is not None:
        metadata, entries = fast
        columns = _columns_from_compact(entries, problems)
    else:
        try:
            raw = safejson.loads(text, max_chars=MAX_HEADER_BYTES, expect=dict)
        except safejson.JsonProblem as exc:
            reason = "header is not a JSON object" if "not a JSON" in str(exc) else f"header is not valid JSON: {exc}"
            return SafetensorsHeader(length, problems=(reason,))
        metadata = _metadata(raw.pop("__metadata__", None), problems)
        columns = _columns_from_json(raw, problems)
        del raw
    names, dtypes, shapes, starts, ends = columns
    tiled = _contiguous(starts, ends)
    if not tiled:  # the library writes headers in data order, so this is rare
        names, dtypes, shapes, starts, ends = _in_data_order(columns)
    data_bytes = (ends[-1] if ends else 0) if tiled else _check_layout(names, starts, ends, problems)
    truncated_by = _check_size(PREFIX_BYTES + length + data_bytes, file_size, problems)
    return SafetensorsHeader(
        length,
        tuple(names),
        tuple(dtypes),
        tuple(shapes),
        starts,
        ends,
        metadata,
        tuple(problems),
        data_bytes,
        truncated_by=truncated_by,
    )


class HeaderScan(NamedTuple):
    """One header reduced to what the weights scan keeps: its consistency, tensor count and bytes. The
    names and sizes go to the caller's sink as they are read, window by window, and are not kept."""

    header_len: int
    problems: tuple[str, ...]
    data_bytes: int | None
    truncated_by: int | None
    tensor_count: int
    tensor_bytes: int  # the sum of the tensors' sizes

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def expected_file_size(self) -> int | None:
        return None if self.data_bytes is None else PREFIX_BYTES + self.header_len + self.data_bytes


# (names, sizes, plain): one window of a header's tensors in data order; plain when no name needs a JSON escape
Sink = Callable[[list[str], list[int], bool], None]


def scan_header(header: bytes, file_size: int | None, sink: Sink) -> HeaderScan:
    """parse_header's verdict without its columns: a consistent header written the way the library writes
    it is checked column-wise, a window at a time (no Python code per tensor), and each window goes to sink
    once the whole header is known to be sound; anything else goes through parse_header, which names
    every problem, and all its tensors go to sink at once."""
    windows: list[tuple[list[str], list[int]]] = []
    fast = _scan_compact(header, file_size, windows)
    if fast is not None:
        for names, sizes in windows:
            sink(names, sizes, True)
        return fast
    del windows
    parsed = parse_header(header, file_size)
    names, sizes = list(parsed.names), list(parsed.sizes())
    sink(names, sizes, False)
    return HeaderScan(len(header), parsed.problems, parsed.data_bytes, parsed.truncated_by, len(names), sum(sizes))


def _scan_compact(
    header: bytes, file_size: int | None, windows: list[tuple[list[str], list[int]]]
) -> HeaderScan | None:
    """The scan of a consistent compact header, or None when parse_header must decide (exactly the headers
    whose _compact_entries columns tile the data with the sizes their dtypes and shapes need). The entries
    are matched a window of _WINDOW_CHARS at a time, so a 10k-tensor header never has all its match tuples
    alive at once; windows receives each window's names and sizes."""
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        return None
    start = _metadata_end(text)
    end = _content_end(text)
    if start is None or end < 1 or text[end - 1] != "}":
        return None
    metadata, position = start
    scan = _Windows("," if metadata is not None else "{", windows)
    while position < end - 1:
        cut = text.find(']},"', position + _WINDOW_CHARS, end - 1)
        cut = end - 1 if cut < 0 else cut + 2  # entries end with `]}`; a name cannot hold the `"` after
        if not scan.add(text, position, cut):
            return None
        position = cut
    seen = scan.seen
    if not scan.count or "__metadata__" in seen or len(seen) != scan.count or scan.total > _MAX_OFFSET:
        return None
    if file_size is not None and file_size != PREFIX_BYTES + len(header) + scan.total:
        return None
    return HeaderScan(len(header), (), scan.total, None, scan.count, scan.total)


def _content_end(text: str) -> int:
    """The text's length without its trailing whitespace (the library pads with spaces to 8-byte alignment),
    found in its last characters: rstrip on the whole text would copy a 1.2 MB header to drop 7 spaces."""
    tail = text[-_TAIL_CHARS:]
    kept = len(tail.rstrip(_WHITESPACE))
    if kept or len(tail) < _TAIL_CHARS:
        return len(text) - len(tail) + kept
    return len(text.rstrip(_WHITESPACE))


class _Windows:
    """The entries of one header checked window by window: they tile the window, each starts where the one
    before ended, and each spans what its dtype and shape need."""

    def __init__(self, first_separator: str, windows: list[tuple[list[str], list[int]]]) -> None:
        self.separator = first_separator
        self.windows = windows
        self.seen: set[str] = set()  # every name so far: a name twice is parse_header's to judge
        self.count = 0
        self.total = 0
        self.span_of: dict[str, int | None] = {}

    def add(self, text: str, position: int, cut: int) -> bool:
        entries = _KIND.findall(text, position, cut)
        if not entries:
            return False
        separators, names, kinds, start_texts, end_texts = map(list, zip(*entries))
        del entries
        covered = (_ENTRY_PUNCTUATION - len(_KIND_SHAPE)) * len(names) + sum(
            len("".join(column)) for column in (names, kinds, start_texts, end_texts)
        )
        if covered != cut - position or "".join(separators) != self.separator + "," * (len(names) - 1):
            return False
        for kind in set(kinds) - self.span_of.keys():
            self.span_of[kind] = _kind_span(kind)
        if start_texts[0] != str(self.total) or start_texts[1:] != end_texts[:-1]:
            return False  # a gap or an overlap: parse_header names it
        spans = list(map(self.span_of.__getitem__, kinds))
        if None in spans:
            return False  # an unknown dtype or a size in bits
        sizes = cast("list[int]", spans)
        ends = list(accumulate(sizes, initial=self.total))[1:]
        if list(map(str, ends)) != end_texts:
            return False
        self.separator, self.total = ",", ends[-1]
        self.count += len(names)
        self.seen.update(names)
        self.windows.append((names, sizes))
        return True


def _kind_span(kind: str) -> int | None:
    """Bytes of one tensor of this dtype and shape ("BF16\",\"shape\":[2,3" -> 12), None when its dtype is
    unknown or its bits do not fill whole bytes."""
    dtype, _, dims = kind.partition(_KIND_SHAPE)
    if dtype not in DTYPE_BITS or not _DIMS_TEXT.fullmatch(dims):
        return None
    return _span(dtype, _shape(dims))


_Columns = tuple[list[str], list[str], list[tuple[int, ...]], array, array]  # names, dtypes, shapes, starts, ends


def _compact_entries(text: str) -> tuple[dict[str, str] | None, list[tuple[str, ...]]] | None:
    """The metadata and entries of a header written the way the library writes it, or None when the
    regex entries do not tile the whole text (then json.loads decides)."""
    found = _entries_after_metadata(text, _ENTRY)
    if found is None:
        return None
    metadata, position, entries = found
    covered = (_ENTRY_PUNCTUATION - 1) * len(entries) + sum(map(len, map("".join, entries)))
    separators = "".join(map(itemgetter(0), entries))
    if not _tiles_text(text, position, covered, separators, metadata is not None, list(map(itemgetter(1), entries))):
        return None
    if not set(map(itemgetter(2), entries)) <= DTYPE_BITS.keys():
        return None  # json.loads names the unknown dtype
    return metadata, entries


def _entries_after_metadata(
    text: str, pattern: re.Pattern[str]
) -> tuple[dict[str, str] | None, int, list[tuple[str, ...]]] | None:
    """The header's metadata, where its entries start, and the pattern's matches from there (None when the
    metadata is not the library's or nothing matches)."""
    start = _metadata_end(text)
    if start is None:
        return None
    metadata, position = start
    entries = pattern.findall(text, position)
    return (metadata, position, entries) if entries else None


def _metadata_end(text: str) -> tuple[dict[str, str] | None, int] | None:
    """The header's leading __metadata__ (a mapping of strings) and where the tensor entries start; None
    when the metadata is not what the library writes."""
    if not text.startswith(_METADATA_START):
        return None, 0
    try:
        value, position = safejson.loads_at(text, len(_METADATA_START))
    except safejson.JsonProblem:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return value, position


def _tiles_text(
    text: str, position: int, covered: int, separators: str, after_metadata: bool, names: list[str]
) -> bool:
    """The regex matches (covered characters in all) are the whole object after position: nothing else
    (garbage, another key) is in the header, the first entry opens the object (or follows the metadata),
    and no name repeats or is __metadata__."""
    end = len(text)
    while end > position and text[end - 1] in " \t\n\r":  # the library pads with spaces (8-byte alignment)
        end -= 1
    if text[end - 1] != "}":
        return False
    # Matches never overlap, so if their lengths add up to the text between the metadata and the final
    # brace they cover it exactly.
    if position + covered + 1 != end:
        return False
    if separators != ("," if after_metadata else "{") + "," * (len(names) - 1):
        return False
    unique = set(names)
    return "__metadata__" not in unique and len(unique) == len(names)


def _columns_from_compact(entries: list[tuple[str, ...]], problems: list[str]) -> _Columns:
    """Columns of regex entries, checked column-wise (no Python code runs per tensor) when every size
    agrees; otherwise entry by entry, like json.loads's, to name each problem."""
    shape_texts = list(map(itemgetter(3), entries))
    shape_of = {text: _shape(text) for text in set(shape_texts)}  # "2048,6144" -> (2048, 6144)
    dtypes = list(map(itemgetter(2), entries))
    kinds = list(zip(dtypes, shape_texts))
    span_of = {kind: _span(kind[0], shape_of[kind[1]]) for kind in set(kinds)}  # None: not whole bytes
    try:
        starts = array("q", map(int, map(itemgetter(4), entries)))
        ends = array("q", map(int, map(itemgetter(5), entries)))
    except OverflowError:  # an offset beyond 2**63
        starts = ends = array("q")
    if len(ends) == len(entries) and list(map(span_of.__getitem__, kinds)) == list(map(sub, ends, starts)):
        shapes = list(map(shape_of.__getitem__, shape_texts))
        return list(map(itemgetter(1), entries)), dtypes, shapes, starts, ends
    columns: _Columns = ([], [], [], array("q"), array("q"))
    for _, name, dtype, shape_text, start_text, end_text in entries:
        _add(columns, problems, name, dtype, shape_of[shape_text], int(start_text), int(end_text))
    return columns


def _shape(text: str) -> tuple[int, ...]:
    return tuple(map(int, text.split(","))) if text else ()


def _span(dtype: str, shape: tuple[int, ...]) -> int | None:
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    return None if bits % 8 else bits // 8


def _columns_from_json(raw: dict[str, Any], problems: list[str]) -> _Columns:
    columns: _Columns = ([], [], [], array("q"), array("q"))
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            problems.append(f"{name}: entry is not an object")
            continue
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
            problems.append(f"{name}: unknown dtype {dtype!r}")
            continue
        if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape):
            problems.append(f"{name}: shape {shape!r} is not a list of non-negative integers")
            continue
        if not (type(offsets) is list and len(offsets) == 2 and _is_count(offsets[0]) and _is_count(offsets[1])):
            problems.append(f"{name}: data_offsets {offsets!r} are not two non-negative integers")
            continue
        _add(columns, problems, name, dtype, tuple(shape), offsets[0], offsets[1])
    return columns


def _add(
    columns: _Columns, problems: list[str], name: str, dtype: str, shape: tuple[int, ...], start: int, end: int
) -> None:
    """Add one tensor to the columns, or name why it cannot be placed; a size that disagrees with
    dtype × shape is a problem but the tensor still takes its span."""
    if end < start:
        problems.append(f"{name}: data_offsets [{start}, {end}] end before they start")
        return
    if end > _MAX_OFFSET:
        problems.append(f"{name}: data_offsets [{start}, {end}] lie beyond 2**63 bytes")
        return
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits != (end - start) * 8:
        problems.append(
            f"{name}: {dtype} {list(shape)} needs {bits / 8:g} bytes but data_offsets [{start}, {end}] "
            f"span {end - start}"
        )
    names, dtypes, shapes, starts, ends = columns
    names.append(name)
    dtypes.append(dtype)
    shapes.append(shape)
    starts.append(start)
    ends.append(end)


def _in_data_order(columns: _Columns) -> _Columns:
    names, dtypes, shapes, starts, ends = columns
    order = sorted(range(len(names)), key=lambda i: (starts[i], ends[i]))
    return (
        [names[i] for i in order],
        [dtypes[i] for i in order],
        [shapes[i] for i in order],
        array("q", (starts[i] for i in order)),
        array("q", (ends[i] for i in order)),
    )


def _contiguous(starts: array, ends: array) -> bool:
    """Each span starts where the one before ends, the first at 0: the data is tiled, in order."""
    return not starts or (starts[0] == 0 and all(map(eq, starts[1:], ends)))


def _metadata(value: Any, problems: list[str]) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    problems.append("__metadata__ is not a mapping of strings to strings")
    return None


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0  # bool is a subclass of int, not a count


def _check_layout(names: list[str], starts: array, ends: array, problems: list[str]) -> int:
    """Spans must tile the data area from byte 0 without gaps or overlaps; returns the last offset."""
    position = 0
    for name, start, end in zip(names, starts, ends):
        if start != position:
            kind = "overlaps the previous tensor" if start < position else "leaves a gap"
            problems.append(f"{name}: data starts at {start}, expected {position} ({kind})")
        if end > position:
            position = end
    return position


def _check_size(expected: int, file_size: int | None, problems: list[str]) -> int | None:
    if file_size is None or file_size == expected:
        return None
    if file_size < expected:
        problems.append(f"truncated: {file_size} bytes present, the header describes {expected}")
        return expected - file_size
    problems.append(f"{file_size - expected} unexpected bytes after the last tensor ({expected} expected)")
    return None
