"""json.loads, through orjson when it is installed (`pip install glm5check[fast]`), with the same result.

orjson reads large documents several times faster, but it does not read everything json.loads does the same
way: NaN and Infinity, numbers beyond 64 bits (it makes floats of them), lone surrogates, and documents
nested nearly as deep as json's recursion limit. So orjson is used only where it agrees with json.loads: a
document it refuses, or that holds a run of 19 or more digits, or whose result nests deeper than
MAX_DEPTH, is read by json.loads, which also gives every error and its message. Without orjson this is
json.loads (the default: glm5check needs nothing else).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

MAX_DEPTH = 500  # json.loads reads this deep from any call stack glm5check has; orjson stops at 1024
_LONG_NUMBER = r"[0-9]{19}"  # 19 digits may pass 2**63: orjson turns what passes 2**64 into a float


@cache
def _orjson() -> Any:
    try:
        import orjson
    except ImportError:
        return None
    return orjson


@cache
def _long_number() -> re.Pattern[str]:
    return re.compile(_LONG_NUMBER)


@cache
def _container_start() -> re.Pattern[str]:
    """What orjson is worth trying on: an object or array (anything else fails fast in json.loads)."""
    return re.compile(r"[ \t\n\r]*[\[{]")


def loads(text: str) -> Any:
    """json.loads(text): the same value, or the same exception with the same message."""
    fast = _orjson()
    if fast is not None and _container_start().match(text) and _long_number().search(text) is None:
        try:
            value = fast.loads(text)
        except (fast.JSONDecodeError, TypeError, ValueError):
            value = _REFUSED
        if value is not _REFUSED and _depth_within(value, MAX_DEPTH):
            return value
    return json.loads(text)


_REFUSED = object()


def _depth_within(value: Any, limit: int) -> bool:
    """The value nests no deeper than limit (containers within containers)."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return True
    return False
