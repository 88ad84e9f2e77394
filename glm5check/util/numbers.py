"""The one reader of whole numbers (and finite decimals) that come from outside, and the ranges they
must fall in.

Text from a probe, a file, the environment or a command line is never passed to int() or float()
directly: `isdigit()` admits "²" (int() refuses it), `isdecimal()` admits "٣" (int() accepts it, no
tool prints it), int() refuses more than 4300 digits and float() accepts "nan", "inf" and "1e400".
`whole()` takes ASCII digits only, at most `digits` of them, inside an optional range, and answers
None for anything else; `tests/test_architecture.py` checks that no other module calls int() on text.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

# 18 digits always fit a signed 64-bit integer, which is what every tool we read prints.
MAX_DIGITS = 18
_DIGITS = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,3})?")
_HUMAN = re.compile(r"([0-9]+(?:\.[0-9]+)?)([kKmMgGtT])")
_HUMAN_POWER = {"k": 1, "m": 2, "g": 3, "t": 4}


def whole(
    text: object,
    *,
    digits: int = MAX_DIGITS,
    low: int | None = None,
    high: int | None = None,
    signed: bool = False,
    base: int = 10,
) -> int | None:
    """The whole number `text` spells (surrounding whitespace allowed; a leading "-" when signed; an
    optional "0x" in base 16), or None when it is not one of at most `digits` ASCII digits in
    [low, high]."""
    if not isinstance(text, str):
        return None
    body = text.strip()
    negative = signed and body.startswith("-")
    body = body[1:] if negative else body
    if base == 16 and body[:2] in ("0x", "0X"):
        body = body[2:]
    if not 0 < len(body) <= digits or body.strip(_DIGITS[base]):
        return None
    value = -int(body, base) if negative else int(body, base)
    return value if within(value, low, high) else None


def is_whole(text: object, digits: int = MAX_DIGITS) -> bool:
    """True when `text` is a plain unsigned whole number (ASCII digits only)."""
    return whole(text, digits=digits) is not None


def within(value: float, low: float | None = None, high: float | None = None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def whole_value(value: object, low: int | None = None, high: int | None = None) -> int | None:
    """An int already parsed (from JSON or TOML) inside [low, high]; None for a bool, a float, text,
    or a number out of range."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if within(value, low, high) else None


def decimal(text: object, *, max_chars: int = 32) -> float | None:
    """A finite decimal number written in ASCII (`0.95`, `-2`, `1e3`), or None: never nan or inf."""
    if not isinstance(text, str) or len(text.strip()) > max_chars or not _DECIMAL.fullmatch(text.strip()):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def human_whole(text: object, *, digits: int = MAX_DIGITS) -> int | None:
    """vLLM's human-readable integers (vllm/engine/arg_utils.py `human_readable_int`, 0.16.0): `32768`;
    `32k` = 32000 and `25.6k` = 25600 (decimal suffixes k m g t, a fraction truncated as vLLM's
    int(float × multiplier) does); `32K` = 32768 (binary suffixes K M G T, which vLLM refuses with a
    fraction). None when vLLM would refuse it or it has more than `digits` digits."""
    if not isinstance(text, str):
        return None
    match = _HUMAN.fullmatch(text.strip())
    if match is None:
        return whole(text, digits=digits)
    number, suffix = match.groups()
    if len(number) > digits + 1:
        return None
    power = _HUMAN_POWER[suffix.lower()]
    if suffix.isupper():
        return None if "." in number else int(number) * 1024**power
    return int(float(number) * 1000**power)


class Range(NamedTuple):
    """The values a number from outside may take: whole numbers from low to high (with `divides`, only those
    that divide it), or (whole=False) any finite number in (low, high] when low_open else [low, high]."""

    low: float
    high: float
    whole: bool = True
    low_open: bool = False
    why: str = ""  # where the bound comes from, shown with a refusal
    divides: int = 0  # a whole number this one must divide (0: any)

    def span(self) -> str:
        """`1..64`, `0.1..3600` (a metavar for command-line help)."""
        if self.whole:
            return f"{int(self.low)}..{int(self.high)}"
        return f"{self.low:g}..{self.high:g}"

    def describe(self) -> str:
        if self.whole:
            dividing = f" that divides {self.divides}" if self.divides else ""
            return f"a whole number from {int(self.low)} to {int(self.high)}{dividing}"
        opening = "(" if self.low_open else "["
        return f"a number in {opening}{self.low:g}, {self.high:g}]"

    def admits(self, value: object) -> bool:
        if self.whole:
            number = whole_value(value, int(self.low), int(self.high))
            return number is not None and not (self.divides and number and self.divides % number)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        return (value > self.low if self.low_open else value >= self.low) and value <= self.high

    def requirement(self) -> str:
        """`must be a whole number from 1 to 64 (why)`."""
        return f"must be {self.describe()}" + (f" ({self.why})" if self.why else "")

    def refusal(self, field: str, value: object) -> str | None:
        """None when value is admitted, else `field must be …, not …` (with the bound's reason)."""
        return None if self.admits(value) else f"{field} {self.requirement()}, not {value!r}"

    def parse(self, text: str) -> float | int | None:
        """The value `text` spells, when it is admitted (for command-line options)."""
        value: float | int | None = whole(text, signed=True) if self.whole else decimal(text)
        return value if value is not None and self.admits(value) else None
