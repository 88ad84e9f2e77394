"""The one loader of JSON that comes from outside (reports, snapshots, manifests, weights indexes,
safetensors headers, probe output, JSON-valued serve flags).

json.loads alone raises RecursionError (not ValueError) on deeply nested text, accepts NaN and
Infinity (and turns 1e400 into inf), and returns whatever the top level is. `loads()` turns every one
of these into a JsonProblem (a ValueError) with a one-line reason, and also refuses text longer than
the caller's cap and data nested deeper than `max_depth` (the code that walks reports and profiles
recursively must never meet more). `tests/test_architecture.py` checks that nothing else calls
json.loads on outside data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from glm5check.util import fastjson

MIB = 1 << 20
DEFAULT_MAX_CHARS = 64 * MIB
# Reports, profiles and configs nest a handful of levels; 64 leaves room for any real document while
# staying far below Python's recursion limit for the code that walks the data afterwards.
DEFAULT_MAX_DEPTH = 64


class JsonProblem(ValueError):
    """Text that is not usable JSON; str() is the one-line reason ("nested too deep", …)."""


def _refuse_constant(name: str) -> Any:
    raise JsonProblem(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonProblem(f"{text[:20]} is too large for a number")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def loads(
    text: str | bytes,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    expect: type | None = None,
) -> Any:
    """The value of JSON text, or JsonProblem: too long, not UTF-8, not JSON, NaN/Infinity or a number
    too large for a float, nested deeper than max_depth, or (with expect) another type at the top."""
    if len(text) > max_chars:
        raise JsonProblem(f"larger than {_size(max_chars)}")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonProblem("not UTF-8 text") from None
    value = fastjson.accelerated(text)
    if value is fastjson.NOT_READ or not _finite(value):
        value = _decode(_DECODER.decode, text)
    return _checked(value, text, max_depth, expect)


def loads_at(
    text: str, start: int, *, max_depth: int = DEFAULT_MAX_DEPTH, expect: type | None = None
) -> tuple[Any, int]:
    """The JSON value that begins at text[start] and where it ends (for a document with a known
    prefix, such as a safetensors header's metadata); JsonProblem as loads()."""
    value, end = _decode(_DECODER.raw_decode, text, start)
    return _checked(value, text[start:end], max_depth, expect), end


def _decode(decode: Callable[..., Any], *args: Any) -> Any:
    try:
        return decode(*args)
    except JsonProblem:
        raise
    except RecursionError:
        raise JsonProblem("nested too deep") from None
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # a number int() refuses (over 4300 digits)
        raise JsonProblem(str(exc).split(":")[0]) from None


def _finite(value: Any) -> bool:
    """No float in value is NaN or infinite (orjson reads 1e400 as inf; the strict reading refuses it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _checked(value: Any, text: str, max_depth: int, expect: type | None) -> Any:
    if _openers(text) > max_depth and depth(value) > max_depth:
        raise JsonProblem(f"nested too deep (more than {max_depth} levels)")
    if expect is not None and not isinstance(value, expect):
        raise JsonProblem(f"not a JSON {_kind(expect)}")
    return value


def _openers(text: str) -> int:
    """An upper bound of the nesting depth, cheap enough for a 26 MB weights index."""
    return text.count("[") + text.count("{")


def depth(value: Any) -> int:
    """How deeply lists and objects nest in value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


_KINDS: dict[type, str] = {dict: "object", list: "array", str: "string"}


def _kind(expect: type) -> str:
    return _KINDS.get(expect, expect.__name__)


def _size(chars: int) -> str:
    return f"{chars // MIB} MiB" if chars >= MIB else f"{chars} characters"
