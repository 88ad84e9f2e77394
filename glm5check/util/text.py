"""Text that came from another machine, made safe to print, write as XML and encode as UTF-8.

A node's report or its error output may hold terminal escape sequences (which recolour, retitle or
rewrite the operator's terminal), carriage returns and backspaces (which hide text), bidirectional
overrides (which reorder it), lone surrogates (which cannot be encoded: printing them raises) and
characters XML 1.0 forbids. `printable` replaces each with U+FFFD; tabs and newlines stay.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    return _UNSAFE.sub(REPLACEMENT, text)


def scrub_tree(tree: Any) -> Any:
    """The same JSON tree with every string (keys too) made printable. Iterative, so any depth that
    json.loads accepted is fine."""
    holder = [tree]
    pending: list[tuple[Any, Any]] = [(holder, 0)]
    while pending:
        container, key = pending.pop()
        value = container[key]
        if isinstance(value, str):
            container[key] = printable(value)
        elif isinstance(value, list):
            pending.extend((value, index) for index in range(len(value)))
        elif isinstance(value, dict):
            cleaned = {printable(k) if isinstance(k, str) else k: v for k, v in value.items()}
            container[key] = cleaned
            pending.extend((cleaned, k) for k in cleaned)
    return holder[0]
