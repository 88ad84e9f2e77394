"""The bounded whole-number reader (glm5check.util.numbers) and the safe JSON loader
(glm5check.util.safejson): examples of every refusal, then hypothesis properties over arbitrary text
(the fuzz of tests/test_fuzz_parsers.py also calls both and asserts they never raise)."""

from __future__ import annotations

import json
import math
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glm5check.util import safejson
from glm5check.util.numbers import Range, decimal, human_whole, is_whole, whole, whole_value

# -- whole numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        (" 42\n", 42),
        ("007", 7),
        ("9" * 18, int("9" * 18)),
        ("9" * 19, None),  # over the default bound of 18 digits
        ("1" * 5000, None),  # int() would raise: over 4300 digits
        ("²", None),  # isdigit() admits it, int() refuses it
        ("٣", None),  # isdecimal() admits it and int() reads it as 3; no tool prints it
        ("１２", None),  # fullwidth digits
        ("-1", None),  # unsigned unless asked
        ("+1", None),
        ("1_000", None),  # int() accepts underscores
        ("1.0", None),
        ("1e3", None),
        ("", None),
        ("   ", None),
        ("0x1f", None),
        (None, None),
        (12, None),  # not text
    ],
)
def test_whole_reads_only_ascii_digits(text: object, expected: int | None) -> None:
    assert whole(text) == expected


def test_whole_bounds_digits_range_sign_and_base() -> None:
    assert whole("123456", digits=5) is None and whole("12345", digits=5) == 12345
    assert whole("65536", low=1, high=65535) is None and whole("0", low=1) is None
    assert whole("-3", signed=True) == -3 and whole("-", signed=True) is None and whole("--3", signed=True) is None
    assert whole("0x1003", base=16) == 0x1003 and whole("1003", base=16) == 0x1003 and whole("0xg", base=16) is None
    assert whole("040", base=8) == 32 and whole("8", base=8) is None
    assert is_whole("12") and not is_whole("1²") and not is_whole("")


def test_whole_value_takes_parsed_ints_only() -> None:
    assert whole_value(5, 1, 8) == 5
    assert whole_value(True) is None and whole_value(5.0) is None and whole_value("5") is None
    assert whole_value(10**30, high=10**18) is None and whole_value(-1, low=0) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[("0.95", 0.95), ("-2", -2.0), ("1e3", 1000.0), (" 1.5 ", 1.5)],
        *[("nan", None), ("inf", None), ("-Infinity", None), ("1e400", None), ("1" * 40, None)],
        *[("0x10", None), ("١", None), ("1_0", None)],
    ],
)
def test_decimal_is_finite_ascii(text: str, expected: float | None) -> None:
    assert decimal(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32768", 32768),
        ("32k", 32000),
        ("32K", 32768),
        ("25.6k", 25600),  # vLLM: int(float(number) * 1000)
        ("1.5K", None),  # vLLM refuses a fraction with a binary suffix
        ("2G", 2 * 1024**3),
        ("1m", 10**6),
        ("1.5", None),
        ("k", None),
        ("32kk", None),
        ("²k", None),
        ("9" * 30 + "k", None),
    ],
)
def test_human_whole_follows_vllm(text: str, expected: int | None) -> None:
    assert human_whole(text) == expected


def test_range_describes_and_refuses() -> None:
    tp = Range(1, 64, why="vLLM requires it to divide GLM-5's 64 attention heads")
    assert tp.refusal("tensor_parallel_size", 8) is None
    message = tp.refusal("tensor_parallel_size", 10_000_000)
    assert message == (
        "tensor_parallel_size must be a whole number from 1 to 64 "
        "(vLLM requires it to divide GLM-5's 64 attention heads), not 10000000"
    )
    for bad in (0, -1, 8.0, True, "8", math.inf, math.nan, None):
        assert tp.refusal("tp", bad) is not None, bad
    fraction = Range(0, 1, whole=False, low_open=True)
    assert fraction.admits(0.95) and fraction.admits(1) and not fraction.admits(0)
    assert not fraction.admits(math.nan) and not fraction.admits(math.inf) and not fraction.admits(True)
    assert "(0, 1]" in (fraction.refusal("gpu_memory_utilization", 2) or "")
    assert fraction.parse("0.5") == 0.5 and fraction.parse("nan") is None and tp.parse("-3") is None


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_whole_reads_back_every_number_it_may_return(number: int) -> None:
    assert whole(str(number)) == number
    assert whole(f"  {number}\t") == number


@given(st.text(max_size=40))
def test_whole_never_raises_and_returns_only_ascii_spelled_bounded_numbers(text: str) -> None:
    value = whole(text, digits=9, low=0, high=10**6)
    if value is not None:
        assert text.strip().isascii() and text.strip().isdigit() and 0 <= value <= 10**6
    assert decimal(text) is None or math.isfinite(decimal(text) or 0.0)
    human = human_whole(text)
    assert human is None or (isinstance(human, int) and human >= 0)


# -- JSON ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deep"),  # json.loads raises RecursionError
        ("[" * 65 + "]" * 65, "nested too deep (more than 64 levels)"),  # json.loads accepts it
        ('{"a": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ("1e400", "too large for a number"),
        ("1" * 5000, "Exceeds the limit"),
        ("{", "Expecting property name enclosed in double quotes at line 1 column 2"),
        ("", "Expecting value at line 1 column 1"),
        (b'{"a": "\xff"}', "not UTF-8 text"),
        ("x" * 100, "larger than 50 characters"),
    ],
)
def test_loads_refuses_with_a_reason(text: str | bytes, reason: str) -> None:
    with pytest.raises(safejson.JsonProblem) as caught:
        safejson.loads(text, max_chars=50 if len(text) == 100 else safejson.DEFAULT_MAX_CHARS)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_loads_checks_the_top_level_type() -> None:
    assert safejson.loads('{"a": [1, 2.5, "x"]}', expect=dict) == {"a": [1, 2.5, "x"]}
    for text, kind in (("[]", "object"), ('"s"', "object"), ("null", "object"), ("3", "object")):
        with pytest.raises(safejson.JsonProblem, match=f"not a JSON {kind}"):
            safejson.loads(text, expect=dict)
    assert safejson.loads(b"[1]", expect=list) == [1]


def test_depth_is_iterative() -> None:
    deep: list[object] = []
    for _ in range(sys.getrecursionlimit() * 3):
        deep = [deep]
    assert safejson.depth(deep) == sys.getrecursionlimit() * 3 + 1
    assert safejson.depth(5) == 0 and safejson.depth({"a": {"b": []}}) == 3


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@given(JSON_VALUES)
def test_loads_reads_back_what_json_writes(value: object) -> None:
    assert safejson.loads(json.dumps(value)) == value


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), JSON_VALUES.map(json.dumps)))
def test_loads_raises_only_json_problem(text: str | bytes) -> None:
    try:
        value = safejson.loads(text, max_depth=3)
    except safejson.JsonProblem as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert safejson.depth(value) <= 3
    assert not isinstance(value, float) or math.isfinite(value)
