"""The orjson extra reads exactly what json.loads reads: same values, same errors and messages (fuzzed).

glm5check.util.fastjson uses orjson when it is installed (`pip install glm5check[fast]`; the test extra
installs it) and json.loads otherwise; documents orjson would read differently (NaN, numbers past 64 bits,
lone surrogates, deep nesting) go to json.loads."""

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


def _outcome(read: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", read(text)
    except Exception as exc:  # the same type and message are what is compared
        return type(exc).__name__, str(exc)


@given(value=VALUES, indent=st.sampled_from([None, 2]), ascii_only=st.booleans(), data=st.data())
def test_fastjson_reads_what_json_reads(value: Any, indent: Any, ascii_only: bool, data: st.DataObject) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    for _ in range(data.draw(st.sampled_from([0, 0, 1, 2]))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(DAMAGE) + text[at + data.draw(st.integers(0, 1)) :]
    ours, theirs = _outcome(fastjson.loads, text), _outcome(json.loads, text)
    assert ours[0] == theirs[0] and (_same(ours[1], theirs[1]) if ours[0] == "value" else ours[1] == theirs[1])


@pytest.mark.parametrize("depth", [499, 500, 501, 990, 1023, 1025, 3000])
def test_deep_documents_read_as_json_reads_them(depth: int) -> None:
    text = "[" * depth + "]" * depth
    ours, theirs = _outcome(fastjson.loads, text), _outcome(json.loads, text)
    assert ours[0] == theirs[0]
