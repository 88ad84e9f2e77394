"""The optional orjson accelerator of glm5check.util.safejson (`pip install glm5check[fast]`).

orjson reads large documents several times faster, but it does not read everything json.loads does the same
way: NaN and Infinity, numbers beyond 64 bits (it makes floats of them), lone surrogates, and documents
nested nearly as deep as json's recursion limit. So `accelerated()` answers only where it agrees with
json.loads: a document it refuses, or that holds a run of 19 or more digits, or whose result nests deeper
than MAX_DEPTH, is NOT_READ, and safejson's own reading decides (and words every error). Without orjson
everything is NOT_READ (the default: glm5check needs nothing else).
"""

from __future__ import annotations

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


NOT_READ = object()


def accelerated(text: str) -> Any:
    """What json.loads(text) returns, read by orjson; NOT_READ where orjson is absent or might differ."""
    fast = _orjson()
    if fast is None or not _container_start().match(text) or _long_number().search(text) is not None:
        return NOT_READ
    try:
        value = fast.loads(text)
    except (fast.JSONDecodeError, TypeError, ValueError):
        return NOT_READ
    return value if _depth_within(value, MAX_DEPTH) else NOT_READ


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
