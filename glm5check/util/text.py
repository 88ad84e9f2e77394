"""Text from outside made safe to show and to store: the one sanitiser of every report, comparison,
cluster answer, error line and generated-script comment.

A probe's output, a node's report, a snapshot, a hostname or an environment value can hold control
characters, ANSI escape sequences (which recolour, retitle or rewrite the operator's terminal),
carriage returns and backspaces (which hide text), Unicode line separators and bidirectional overrides
(which make text read differently than it is), the non-characters U+FFFE and U+FFFF (not allowed in
XML 1.0, so the JUnit file would not be well-formed) and lone surrogates (how Python keeps a byte that
is not UTF-8; any UTF-8 writer raises on them). `printable()` replaces each with a visible escape
(`\\x1b`, `\\r`, `\\u202e`; an undecodable byte 0xff becomes `\\xff`), so what remains is printable,
XML 1.0 legal and encodable as UTF-8; tabs and newlines stay (`one_line()` escapes them too).

`ascii_fallback()` is the other half of terminal safety: a codec error handler for a terminal that
cannot encode a character (`LC_ALL=C` without UTF-8 mode, `PYTHONIOENCODING=latin-1`), registered for
three styles so that JSON stays JSON (`\\u00b7`) and XML stays XML (`&#xb7;`).
"""

from __future__ import annotations

import codecs
import re
import shlex
from typing import Any

from glm5check.util.lazyre import lazy

# Everything XML 1.0 forbids or a terminal interprets: C0 and C1 controls and DEL, lone surrogates,
# U+FFFE/U+FFFF, line/paragraph separators, bidirectional embeddings, overrides and isolates.
_UNSAFE_CLASS = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff"
_UNSAFE_MULTILINE = re.compile(f"[{_UNSAFE_CLASS}]")
_UNSAFE_ONE_LINE = lazy(f"[\\t\\n{_UNSAFE_CLASS}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# A host name or an IP address (IPv6 with its zone) as a command line or an inventory gives it: no space,
# no shell character, not an option (a leading `-`), at most 253 characters.
HOST = lazy(r"[A-Za-z0-9_:][A-Za-z0-9_.:%-]{0,252}")


def _escape(character: str) -> str:
    code = ord(character)
    if character in _NAMED:
        return _NAMED[character]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by the surrogateescape error handler
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """text with every control character but tab and newline, escape sequence introducer, separator,
    bidi control, non-character and lone surrogate replaced by a visible escape."""
    if _UNSAFE_MULTILINE.search(text) is None:
        return text
    return _UNSAFE_MULTILINE.sub(lambda match: _escape(match.group()), text)


def one_line(text: str) -> str:
    """printable(), with tabs and newlines escaped too: one line for a terminal or a shell comment."""
    if _UNSAFE_ONE_LINE.search(text) is None:
        return text
    return _UNSAFE_ONE_LINE.sub(lambda match: _escape(match.group()), text)


def json_printable(text: str) -> str:
    """printable() for JSON text: each unsafe character as a `\\uXXXX` escape, which is valid inside a
    JSON string (the only place json.dumps leaves such a character)."""
    if _UNSAFE_MULTILINE.search(text) is None:
        return text
    return _UNSAFE_MULTILINE.sub(lambda match: _json_escape(match.group()), text)


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


# -- terminals that cannot encode a character ---------------------------------------------------------

# The typography of glm5check's own messages, in ASCII.
ASCII_LOOKALIKES = {
    "·": "-",
    "×": "x",
    "—": "-",
    "–": "-",
    "…": "...",
    "→": "->",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "÷": "/",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "\u2009": " ",
    "\u00a0": " ",
}


def _json_escape(character: str) -> str:
    encoded = character.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(encoded[i : i + 2], 'big'):04x}" for i in range(0, len(encoded), 2))


def _replacement(style: str, character: str) -> str:
    if style == "xml":
        return f"&#x{ord(character):x};"
    if style == "json":
        return _json_escape(character)
    return ASCII_LOOKALIKES.get(character) or _json_escape(character)


def _handler(style: str) -> Any:
    def handle(error: UnicodeError) -> tuple[str, int]:
        if not isinstance(error, UnicodeEncodeError):
            raise error
        bad = error.object[error.start : error.end]
        return "".join(_replacement(style, c) for c in bad), error.end

    return handle


def error_handler(style: str) -> str:
    """The name of the codec error handler for a style (text, json or xml), registered on first use."""
    name = f"glm5check-{style}"
    try:
        codecs.lookup_error(name)
    except LookupError:
        codecs.register_error(name, _handler(style))
    return name


def ascii_fallback(text: str, encoding: str, style: str = "text") -> str:
    """text as it will look once encoded in encoding: unchanged when it can be, else with each
    character that cannot replaced in the style's ASCII form."""
    return text.encode(encoding, error_handler(style)).decode(encoding)


def export_text(exports: dict[str, str]) -> str:
    """`export A='x' B='y'` for a remediation shown to the operator: every value shell-quoted, as names and
    values may come from a snapshot or profile made by someone else (fix-env's own lines are
    glm5check.reports.shell's, which also refuse unsafe names)."""
    return "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in exports.items())
