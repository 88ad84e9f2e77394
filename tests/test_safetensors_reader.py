"""The header reader against the `safetensors` library: same tensors on files the library writes, and
never an exception on damaged or random bytes."""

from __future__ import annotations

import ctypes
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors import SafetensorError, TensorSpec, deserialize, serialize

from glm5check.parsers import safetensors as reader
from glm5check.parsers.safetensors import (
    DTYPE_BITS,
    looks_like_lfs_pointer,
    parse_file_bytes,
    parse_header,
    prefix_problem,
)

# The library's dtype names (TensorSpec) and the header names it writes for them.
LIBRARY_DTYPES = {
    "bool": "BOOL", "int8": "I8", "uint8": "U8", "int16": "I16", "uint16": "U16", "int32": "I32",
    "uint32": "U32", "int64": "I64", "uint64": "U64", "float16": "F16", "float32": "F32", "float64": "F64",
    "bfloat16": "BF16", "float8_e4m3fn": "F8_E4M3", "float8_e4m3fnuz": "F8_E4M3FNUZ", "float8_e5m2": "F8_E5M2",
    "float8_e5m2fnuz": "F8_E5M2FNUZ", "float8_e8m0fnu": "F8_E8M0", "complex64": "C64",
}  # fmt: skip

names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20).filter(
    lambda n: n != "__metadata__"
)
shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3)
tensor_sets = st.dictionaries(names, st.tuples(st.sampled_from(sorted(LIBRARY_DTYPES)), shapes), max_size=6)
metadata = st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3)


def library_bytes(tensors: dict[str, tuple[str, list[int]]], meta: dict[str, str] | None) -> bytes:
    """A safetensors file written by the library, data filled with a running byte pattern."""
    buffers = []
    specs = {}
    for index, (name, (dtype, shape)) in enumerate(tensors.items()):
        nbytes = math.prod(shape) * DTYPE_BITS[LIBRARY_DTYPES[dtype]] // 8
        buffer = ctypes.create_string_buffer(bytes((index + i) % 256 for i in range(nbytes)), max(nbytes, 1))
        buffers.append(buffer)
        specs[name] = TensorSpec(dtype=dtype, shape=shape, data_ptr=ctypes.addressof(buffer), data_len=nbytes)
    return bytes(serialize(specs, metadata=meta))


@given(tensor_sets, metadata)
def test_agrees_with_the_library_on_files_it_writes(tensors: dict, meta: dict | None) -> None:
    data = library_bytes(tensors, meta)
    header = parse_file_bytes(data)
    try:
        theirs = dict(deserialize(data))
    except SafetensorError:
        # safetensors 0.8.0 writes `{},"__metadata__":{}}` for no tensors and empty metadata and cannot
        # read it back; agreeing means refusing it too.
        assert not header.ok
        return
    assert header.ok, header.problems
    assert {t.name for t in header.tensors} == set(theirs)
    base = 8 + (header.header_len or 0)
    for tensor in header.tensors:
        assert tensor.dtype == theirs[tensor.name]["dtype"]
        assert list(tensor.shape) == theirs[tensor.name]["shape"]
        assert data[base + tensor.start : base + tensor.end] == bytes(theirs[tensor.name]["data"])
    assert header.expected_file_size == len(data)
    assert header.metadata == meta


@st.composite
def damaged_files(draw: st.DrawFn) -> bytes:
    data = bytearray(library_bytes(draw(tensor_sets), draw(metadata)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(("flip", "cut", "insert", "delete")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at]
    return bytes(data)


@given(damaged_files())
def test_never_raises_on_damaged_files_and_accepts_only_what_the_library_accepts(data: bytes) -> None:
    header = parse_file_bytes(data)
    if header.ok:
        theirs = dict(deserialize(data))  # raises if our "ok" were wrong
        assert {t.name for t in header.tensors} == set(theirs)


@given(damaged_files() | st.builds(library_bytes, tensor_sets, metadata))
def test_compact_reader_agrees_with_json_loads(data: bytes) -> None:
    """Headers the library writes are read by a regex; whatever it accepts, json.loads must read the same."""
    fast = parse_file_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "_compact_entries", lambda text: None)
        assert parse_file_bytes(data) == fast


def test_compact_reader_is_used_for_library_headers() -> None:
    data = library_bytes({"b": ("float32", [2, 3]), "a": ("int8", [4])}, {"format": "pt"})
    length = 8 + (reader.header_length(data) or 0)
    assert reader._compact_entries(data[8:length].decode()) is not None
    header = parse_file_bytes(data)
    assert header.ok and header.names == ("b", "a") and list(header.sizes()) == [24, 4]
    assert header.metadata == {"format": "pt"} and header.tensors[0].shape == (2, 3)


@given(st.binary(max_size=300))
def test_never_raises_on_random_bytes(data: bytes) -> None:
    parse_file_bytes(data)
    parse_header(data, file_size=len(data) + 8)
    prefix_problem(data, None)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    )
)
def test_never_raises_on_any_json_header(value: object) -> None:
    parse_header(json.dumps(value).encode(), file_size=100)


def _file(header: dict, data_len: int) -> bytes:
    body = json.dumps(header).encode()
    return len(body).to_bytes(8, "little") + body + bytes(data_len)


def test_truncated_file_says_how_many_bytes_are_missing() -> None:
    data = _file({"w": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [0, 32]}}, 32)
    header = parse_file_bytes(data[:-10])
    assert not header.ok and header.truncated_by == 10
    assert "truncated" in header.problems[0]
    try:
        deserialize(data[:-10])
    except SafetensorError:
        pass
    else:  # pragma: no cover - the library must refuse it too
        raise AssertionError("library accepted a truncated file")


def test_offsets_that_lie_are_named() -> None:
    lying = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 6]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
    }
    header = parse_file_bytes(_file(lying, 16))
    assert any("needs 8 bytes" in p for p in header.problems)
    assert any("gap" in p for p in header.problems)
    overlapping = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    assert any("overlaps" in p for p in parse_file_bytes(_file(overlapping, 12)).problems)


def test_unknown_dtype_and_bad_shape() -> None:
    header = parse_file_bytes(_file({"a": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 1]}}, 1))
    assert header.problems[0] == "a: unknown dtype 'Q7'"
    header = parse_file_bytes(_file({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 1]}}, 1))
    assert "not a list of non-negative integers" in header.problems[0]


def test_git_lfs_pointer_is_recognised() -> None:
    stub = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 5347000000\n"
    assert looks_like_lfs_pointer(stub) and looks_like_lfs_pointer(stub[:8])
    header = parse_file_bytes(stub)
    assert header.lfs_pointer and "Git-LFS pointer" in header.problems[0]


def test_header_too_large_and_too_short() -> None:
    assert "HeaderTooLarge" in (prefix_problem((200_000_000).to_bytes(8, "little"), None) or "")
    assert "fewer than the 8-byte" in (prefix_problem(b"\x01\x02", 2) or "")
    assert "does not fit" in (prefix_problem((100).to_bytes(8, "little"), 50) or "")


@pytest.mark.parametrize("field", ["shape", "data_offsets"])
def test_a_number_int_refuses_is_a_problem_not_an_error(field: str) -> None:
    big = "1" * 5000
    entry = {"shape": f'"shape":[{big}],"data_offsets":[0,4]', "data_offsets": f'"shape":[1],"data_offsets":[0,{big}]'}
    header = parse_header(('{"a":{"dtype":"F32",' + entry[field] + "}}").encode(), 100)
    assert not header.ok and "not valid JSON" in header.problems[0]
