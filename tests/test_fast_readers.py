"""The weights scan's fast readers never say more than the exact readings they stand for.

- IndexReader / DescriptionReader (chunked, hash sums) against json.loads of the same document: whenever
  a fast reader returns a digest, json.loads reads the same object and the digest's parts are what that
  object holds; any layout, escape or damage it cannot vouch for gives None (the scan then uses json.loads).
- scan_header (windowed, column-wise) against parse_header: the same verdict, and the same names and sizes.
Documents are generated in every layout json.dumps writes, fed in chunks of any size, and damaged at random.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from glm5check.parsers.safetensors import DTYPE_BITS, parse_header, scan_header
from glm5check.parsers.weights_json import DescriptionReader, IndexReader

PLAIN_PARTS = st.sampled_from(["model", "layers", "0", "78", "mlp", "experts", "7", "weight", "lm_head", "é", "}", ","])
TRICKY_PARTS = st.sampled_from(['a"b', "x\\y", "\n", ":", " ", "\u2028", "", "\x7f"])
PLAIN_NAMES = st.lists(PLAIN_PARTS, min_size=1, max_size=5).map(".".join)
NAMES = st.lists(st.one_of(PLAIN_PARTS, TRICKY_PARTS), min_size=1, max_size=5).map(".".join)
PLAIN_SHARDS = st.sampled_from(
    ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "rot.safetensors"]
)
SHARDS = st.one_of(PLAIN_SHARDS, st.sampled_from(['a"b.safetensors', "x,y", "t\\u", "}"]))
ASCII_ONLY = st.sampled_from([False, False, False, True])  # True escapes é: then json.loads decides
# Most documents are what the fast readers take (plain names); the rest test what they must refuse.
WEIGHT_MAPS = st.one_of(*[st.dictionaries(PLAIN_NAMES, PLAIN_SHARDS, max_size=12)] * 3, st.dictionaries(NAMES, SHARDS))
LAYOUT = st.sampled_from([None, 0, 1, 2, 4, "\t"])


# How a document is written and fed: json.dumps's layouts, chunks of any size, and data for damage.
WRITTEN: dict[str, Any] = {
    "indent": LAYOUT,
    "ascii_only": ASCII_ONLY,
    "compact": st.booleans(),
    "chunk": st.integers(1, 64),
    "data": st.data(),
}


def _dump(value: Any, indent: Any, ascii_only: bool, compact: bool) -> str:
    separators = (",", ":") if compact and indent is None else None
    return json.dumps(value, indent=indent, ensure_ascii=ascii_only, separators=separators)


@st.composite
def damaged(draw: st.DrawFn, text: str) -> str:
    """The text, sometimes with a few characters inserted, deleted or replaced."""
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        piece = draw(st.sampled_from(['"', ",", "}", "{", "\\", ":", " ", "\n", "x", "]", "", "1"]))
        cut = draw(st.integers(0, 1))
        text = text[:at] + piece + text[at + cut :]
    return text


def _feed(reader: Any, text: str, chunk: int) -> Any:
    data = text.encode("utf-8", "surrogatepass")
    if not data:
        reader.feed(b"", True)
    for offset in range(0, len(data), chunk):
        reader.feed(data[offset : offset + chunk], offset + chunk >= len(data))
    return reader.result()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


@given(
    weight_map=WEIGHT_MAPS,
    metadata=st.dictionaries(st.sampled_from(["total_size", "format", "weight_map"]), st.integers(0, 99), max_size=2),
    before=st.booleans(),
    **WRITTEN,
)
def test_index_digest_is_what_json_loads_reads(
    weight_map: dict[str, str],
    metadata: dict[str, int],
    before: bool,
    indent: Any,
    ascii_only: bool,
    compact: bool,
    chunk: int,
    data: st.DataObject,
) -> None:
    document = {"metadata": metadata, "weight_map": weight_map} if before else {"weight_map": weight_map, "x": 1}
    text = data.draw(damaged(_dump(document, indent, ascii_only, compact)))
    digest = _feed(IndexReader(), text, chunk)
    if digest is None:
        return
    loaded = _loads(text)
    assert isinstance(loaded, dict) and isinstance(loaded.get("weight_map"), dict), text
    mapping = loaded["weight_map"]
    assert digest.rest == {key: value for key, value in loaded.items() if key != "weight_map"}
    assert set(digest.shards) == set(mapping.values())
    if digest.entries == len(mapping):  # no key written twice: then the sums are the entries' own
        items = (name + digest.separator + shard + '"' for name, shard in mapping.items())
        assert digest.entry_hash == sum(map(hash, items))
    if (
        text == _dump(document, indent, ascii_only, compact)
        and weight_map
        and all('"' not in s and "\\" not in s and s.isprintable() for s in [*weight_map, *weight_map.values()])
    ):
        assert digest.entries == len(weight_map)


PLAIN_VALUES = st.one_of(
    st.sampled_from(["FLOAT", "W8A8", "W8A8_DYNAMIC", "W4A8_DYNAMIC", "1.0.0"]), st.integers(-5, 5), st.booleans()
)
VALUES = st.one_of(
    st.sampled_from(["FLOAT", "W8A8", "W8A8_DYNAMIC", "W4A8_DYNAMIC", "1.0.0", 'a"b', 'x, "y']),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
)


@given(
    description=st.one_of(
        *[st.dictionaries(PLAIN_NAMES, PLAIN_VALUES, max_size=12)] * 3, st.dictionaries(NAMES, VALUES, max_size=12)
    ),
    **WRITTEN,
)
def test_description_digest_is_what_json_loads_reads(
    description: dict[str, Any], indent: Any, ascii_only: bool, compact: bool, chunk: int, data: st.DataObject
) -> None:
    text = data.draw(damaged(_dump(description, indent, ascii_only, compact)))
    digest = _feed(DescriptionReader(), text, chunk)
    if digest is None:
        return
    loaded = _loads(text)
    assert isinstance(loaded, dict), text
    assert digest.others == {key: value for key, value in loaded.items() if "." not in key}
    dotted = [key for key in loaded if "." in key]
    if digest.dotted == len(dotted):
        assert digest.dotted_hash == sum(map(hash, dotted))


TENSOR = st.tuples(st.sampled_from(sorted(DTYPE_BITS)), st.lists(st.integers(0, 40), max_size=3))


def _header(tensors: list[tuple[str, str, list[int]]], metadata: bool, gap: int) -> tuple[bytes, int]:
    entries: dict[str, Any] = {"__metadata__": {"format": "pt"}} if metadata else {}
    offset = 0
    for name, dtype, shape in tensors:
        size = -(-DTYPE_BITS[dtype] * math.prod(shape) // 8)
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size + gap
    body = json.dumps(entries, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 8)
    return body, 8 + len(body) + offset


@given(
    count=st.integers(0, 2500),
    kinds=st.lists(TENSOR, min_size=1, max_size=4),
    metadata=st.booleans(),
    gap=st.sampled_from([0, 0, 0, 1]),
    size_delta=st.sampled_from([0, 0, -1, 3]),
    data=st.data(),
)
def test_windowed_header_scan_agrees_with_parse_header(
    count: int, kinds: list[tuple[str, list[int]]], metadata: bool, gap: int, size_delta: int, data: st.DataObject
) -> None:
    tensors = [(f"model.layers.{i // 50}.mlp.experts.{i}.w", *kinds[i % len(kinds)]) for i in range(count)]
    body, size = _header(tensors, metadata, gap)
    if data.draw(st.booleans()):
        body = data.draw(damaged(body.decode())).encode()
    seen: list[tuple[str, int]] = []
    scanned = scan_header(body, size + size_delta, lambda names, sizes, _plain: seen.extend(zip(names, sizes)))
    parsed = parse_header(body, size + size_delta)
    assert (scanned.problems, scanned.data_bytes, scanned.truncated_by) == (
        parsed.problems,
        parsed.data_bytes,
        parsed.truncated_by,
    )
    assert seen == list(zip(parsed.names, parsed.sizes()))
    assert (scanned.tensor_count, scanned.tensor_bytes) == (len(parsed.names), sum(parsed.sizes()))
