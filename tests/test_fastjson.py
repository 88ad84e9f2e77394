"""The orjson extra never reads a document differently from json.loads (fuzzed).

glm5check.util.fastjson.accelerated() answers with orjson when it is installed (`pip install glm5check[fast]`;
the test extra installs it) and NOT_READ otherwise; documents orjson would read differently (NaN, numbers
past 64 bits, lone surrogates, deep nesting) and every document it refuses are NOT_READ, so safejson's own
reading decides and words the error."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glm5check.util import fastjson

pytestmark = pytest.mark.skipif(fastjson._orjson() is None, reason="orjson is not installed")

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["\ud800", "é", "\u2028", "\x00", "W4A8_DYNAMIC"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=20,
)
DAMAGE = st.sampled_from(['"', ",", "}", "{", "]", "[", "\\", ":", "1", "e", "-", " ", "NaN", "\\ud800", ""])


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same types (NaN equal to NaN, 1 not equal to 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[key], b[key]) for key in a)
    return a == b


def _agrees(text: str) -> bool:
    """accelerated(text) is NOT_READ or exactly the value json.loads reads."""
    fast = fastjson.accelerated(text)
    if fast is fastjson.NOT_READ:
        return True
    try:
        return _same(fast, json.loads(text))
    except RecursionError:  # json.loads cannot read it from pytest's deep stack; safejson caps depth at 64
        return True
    except ValueError:  # orjson read what json.loads refuses
        return False


@given(value=VALUES, indent=st.sampled_from([None, 2]), ascii_only=st.booleans(), data=st.data())
def test_accelerated_never_reads_differently(value: Any, indent: Any, ascii_only: bool, data: st.DataObject) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    for _ in range(data.draw(st.sampled_from([0, 0, 1, 2]))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(DAMAGE) + text[at + data.draw(st.integers(0, 1)) :]
    assert _agrees(text)


@pytest.mark.parametrize("depth", [499, 500, 501, 990, 1023, 1025, 3000])
def test_deep_documents_read_as_json_reads_them(depth: int) -> None:
    text = "[" * depth + "]" * depth
    assert _agrees(text)
    assert (fastjson.accelerated(text) is fastjson.NOT_READ) == (depth > fastjson.MAX_DEPTH)


def test_accelerated_reads_a_plain_index() -> None:
    text = json.dumps({"weight_map": {f"layer.{n}": "model-00001.safetensors" for n in range(50)}})
    assert fastjson.accelerated(text) == json.loads(text)
