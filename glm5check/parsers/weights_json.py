"""The two big JSON files of a weights folder, read in chunks without building their 237k-entry dicts.

A GLM-5-w4a8 index (`weight_map`: tensor -> shard, 26 MB) and msModelSlim's quant description (tensor -> quant
type, 17 MB) each name every tensor once. The weights scan only needs to know whether they agree with the
shard headers, so each is reduced to an order-independent sum of the hashes of its entries (and the few
entries that are not tensors), which the scan compares with the same sum over the headers' names.

Pure functions over text chunks; they never raise. A document this fast reader cannot vouch for (another
layout, escapes, nesting, anything it is not sure json.loads would read the same way) ends as `None`, and the
caller reads the file with json.loads instead, which names the problem. Python's string hash is keyed per
process (hash randomisation): a document cannot be made to collide with headers it was not written for.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable
from itertools import repeat
from operator import add, itemgetter, methodcaller
from typing import Any, NamedTuple

from glm5check.util import safejson
from glm5check.util.lazyre import lazy

# JSON whitespace, and a string without escapes or control characters (what a plain tensor name is).
_WS = " \t\n\r"
_PLAIN_BREAKER = r'["\\\x00-\x1f]'
_CONTROL_BYTES = bytes(range(32))


# Compiled on first use (start-up time). A string without escapes or control characters, a member's key
# and colon, the separator between members, weight_map's opening, and the colon after a key (with the
# opening quote of a string value).
_PLAIN_BREAKS = lazy(_PLAIN_BREAKER)
_KEY = lazy(r'"[^"\\\x00-\x1f]*"[ \t\n\r]*:[ \t\n\r]*')
_MEMBER_SEPARATOR = lazy(r'[ \t\n\r]*,[ \t\n\r]*"')
_WEIGHT_MAP = lazy(r'"weight_map"[ \t\n\r]*:[ \t\n\r]*\{')
_COLON_QUOTE = lazy(r'":[ \t\n\r]*"')
_COLON = lazy(r'":[ \t\n\r]*')


def plain(texts: Iterable[str], quotes: int = 0) -> bool:
    """Every text can stand between JSON quotes as it is: no backslash, no control character, and (all
    texts together) exactly `quotes` quote characters."""
    joined = "".join(texts)
    if joined.count('"') != quotes or "\\" in joined:
        return False
    if joined.isascii():  # the usual case: deleting the control bytes in C says whether there are any
        data = joined.encode("ascii")
        return len(data.translate(None, _CONTROL_BYTES)) == len(data)
    return _PLAIN_BREAKS.search(joined.replace('"', "")) is None


def dotless(names: list[str]) -> list[str]:
    """The names without a dot, in order (few or none: the settings of a description, never a layer's
    tensor). Tested in C first: a regex over the joined names looks at every character in Python's engine."""
    if all(map(str.__contains__, names, repeat("."))):
        return []
    return [name for name in names if "." not in name]


class Items:
    """The members of one JSON object written in one layout throughout (`"key": value`, separated by `,` and
    the same whitespace), fed in chunks: holds one chunk's worth of text at a time. Each member comes out
    without its opening quote (`key": value`); a separator inside a string value only makes garbage that
    the reader's checks refuse."""

    def __init__(self) -> None:
        self.separator = ""  # `,` + the whitespace before the first key + `"`
        self.carry = ""  # the text after the last separator
        self.count = 0

    def start(self, text: str) -> bool | None:
        """Begin at the text right after the object's `{`: True once the separator is known (from the first
        member: key, value, then `,` and whitespace up to the next key's quote), None while more text is
        needed, False when the object does not look like one this reader can split."""
        body = text.lstrip(_WS)
        key = _KEY.match(body)
        if key is None:
            return None if len(body) < 4096 else False
        try:
            _, end = safejson.loads_at(body, key.end())
        except safejson.JsonProblem:
            return None if len(body) < 1 << 20 else False
        separator = _MEMBER_SEPARATOR.match(body, end)
        if separator is None:
            return None if len(body) < 1 << 20 else False
        self.separator = separator.group()
        self.carry = body[1:]
        return True

    def feed(self, text: str) -> list[str]:
        """The members this text completes."""
        items = (self.carry + text).split(self.separator)
        self.carry = items.pop()
        self.count += len(items)
        return items


class Decoder:
    """UTF-8 chunks to text, strictly (a file that is not UTF-8 goes to json.loads's reading)."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")

    def text(self, data: bytes, final: bool = False) -> str | None:
        try:
            return self.decoder.decode(data, final)
        except UnicodeDecodeError:
            return None


class IndexDigest(NamedTuple):
    """A safetensors index with a weight_map of plain names, as the scan compares it with the headers."""

    rest: dict[str, Any]  # every member but weight_map, as json.loads reads them
    separator: str  # between a name and its shard in weight_map (`": "`)
    entries: int
    entry_hash: int  # sum of hash(name + separator + shard + '"') over weight_map
    shards: tuple[str, ...]  # the shard names weight_map uses, sorted


def index_hash(names: list[str], separator: str, shard: str) -> int:
    """The sum IndexDigest.entry_hash has when these names (all plain) map to shard."""
    return sum(map(hash, map(add, names, repeat(separator + shard + '"'))))


class _Reader:
    """Text chunks to the members of the streamed object: `_begin` until it is found, then `_entries`."""

    def __init__(self) -> None:
        self.decoder = Decoder()
        self.items: Items | None = None
        self.failed = False

    def feed(self, data: bytes, final: bool = False) -> None:
        text = None if self.failed else self.decoder.text(data, final)
        if text is None:
            self.failed = True
        elif self.items is None:
            self._begin(text)
        else:
            self._entries(self.items.feed(text))

    def _begin(self, text: str) -> None:
        raise NotImplementedError

    def _entries(self, items: list[str]) -> None:
        raise NotImplementedError


class IndexReader:
    """Feeds an index document chunk by chunk; `result()` is its IndexDigest or None (then json.loads)."""

    def __init__(self) -> None:
        self.decoder = Decoder()
        self.failed = False
        self.head = ""  # the text up to weight_map's opening brace
        self.between = ""  # between two entries of weight_map: `,` + whitespace + `"`
        self.carry: str | None = None  # the text after the last complete entry, once weight_map has begun
        self.tail: str | None = None  # the text after weight_map's closing brace, once it was seen
        self.separator: str | None = None  # between a name and its shard (`": "`)
        self.count = 0
        self.entry_hash = 0
        self.values: set[str] = set()

    def feed(self, data: bytes, final: bool = False) -> None:
        text = None if self.failed else self.decoder.text(data, final)
        if text is None:
            self.failed = True
        elif self.tail is not None:
            self.tail += text
        elif self.carry is None:
            self._begin(text)
        else:
            self._body(text)

    def _begin(self, text: str) -> None:
        self.head += text
        found = _WEIGHT_MAP.search(self.head)
        if found is None:
            self.failed = len(self.head) > 1 << 20  # a head that long has no weight_map worth streaming
            return
        items = Items()
        started = items.start(self.head[found.end() :])
        if started is None:
            return  # wait for the first member's separator
        if not started:
            self.failed = True
            return
        self.head, self.between, self.carry = self.head[: found.end() - 1], items.separator, ""
        self._body(items.carry)

    def _body(self, text: str) -> None:
        """Split the entries off; the map ends at the first `"` followed by `}` (a plain name or shard holds
        no quote, so any other such place makes garbage the checks refuse)."""
        buffer = (self.carry or "") + text
        end = _map_end(buffer)
        if end is None:
            items = buffer.split(self.between)
            self.carry = items.pop()
        else:
            items = buffer[: end[0]].split(self.between)
            self.carry, self.tail = "", buffer[end[1] :]
        self._entries(items)

    def _entries(self, items: list[str]) -> None:
        if not items or self.failed:
            return
        if self.separator is None:
            found = _COLON_QUOTE.search(items[0])
            if found is None:
                self.failed = True
                return
            self.separator = found.group()
        if not _name_to_name(items, self.separator):
            self.failed = True
            return
        self.count += len(items)
        self.entry_hash += sum(map(hash, items))
        self.values.update(_values_of(items, self.separator))

    def result(self) -> IndexDigest | None:
        """The digest, once every chunk was fed (the last with final=True)."""
        if self.failed or self.tail is None or self.separator is None:
            return None
        if not all(value.endswith('"') for value in self.values):
            return None
        shards = tuple(sorted(value[:-1] for value in self.values))
        rest = _rest(self.head, self.tail, "weight_map")
        if rest is None or not plain(shards):
            return None
        return IndexDigest(rest, self.separator, self.count, self.entry_hash, shards)


def _map_end(buffer: str) -> tuple[int, int] | None:
    """(just after the last value's closing quote, just after the map's `}`), or None when not in buffer."""
    brace = buffer.find("}")
    while brace >= 0:
        before = buffer[:brace].rstrip(_WS)
        if before.endswith('"'):
            return len(before), brace + 1
        brace = buffer.find("}", brace + 1)
    return None


def _name_to_name(items: list[str], separator: str) -> bool:
    """Each item is `name": "value"` with both plain: three quotes, two of them in the one separator, the
    last one closing it (so the object's text is exactly what json.loads reads as these pairs)."""
    # One separator (two quotes) and a closing quote in each item, and no other quote in all of them.
    return (
        set(map(str.count, items, repeat(separator))) == {1}
        and set(map(itemgetter(-1), items)) == {'"'}
        and plain(items, quotes=3 * len(items))
    )


def _values_of(items: list[str], separator: str) -> set[str]:
    """The distinct `shard"` texts of `name": "shard"` items. Shard names usually all have one length, so
    each item's tail of that length is cut in C; a tail that does not start with the separator means they
    do not, and each item is split instead."""
    width = len(items[-1]) - items[-1].rfind(separator)
    tails = set(map(itemgetter(slice(-width, None)), items))
    if all(tail.startswith(separator) for tail in tails):
        return {tail[len(separator) :] for tail in tails}
    return set(map(itemgetter(2), map(methodcaller("rpartition", separator), items)))


def _rest(head: str, tail: str, member: str) -> dict[str, Any] | None:
    """The document around the streamed member, read by json.loads with a placeholder no file can hold in
    its place (a random key): the member must be where the stream found it, at the top level."""
    marker = os.urandom(16).hex()
    try:
        document = safejson.loads(f'{head}{{"{marker}": 0}}{tail}', max_chars=len(head) + len(tail) + 64)
    except safejson.JsonProblem:
        return None
    if not isinstance(document, dict) or document.get(member) != {marker: 0}:
        return None
    return {key: value for key, value in document.items() if key != member}


class DescriptionDigest(NamedTuple):
    """A flat quant description (tensor -> quant type, plus a few settings), as the scan compares it."""

    dotted: int  # entries whose key has a dot (tensor names)
    dotted_hash: int  # sum of hash(key) over them
    others: dict[str, Any]  # entries whose key has no dot (model_quant_type, version, …), as json.loads reads them


class DescriptionReader(_Reader):
    """Feeds a quant description chunk by chunk; `result()` is its DescriptionDigest or None."""

    def __init__(self) -> None:
        super().__init__()
        self.opening = ""
        self.dotted = 0
        self.dotted_hash = 0
        self.others: dict[str, str] = {}  # key -> its value's text
        self.values: set[str] = set()
        self.separator: str | None = None  # between a key and its value (`": `)

    def _begin(self, text: str) -> None:
        self.opening += text
        body = self.opening.lstrip(_WS)
        if not body:
            return
        if not body.startswith("{"):
            self.failed = True
            return
        items = Items()
        started = items.start(body[1:])
        if started is None:
            return  # wait for the first member's separator
        if not started:
            self.failed = True
            return
        self.items, self.opening = items, ""
        self._entries(self.items.feed(""))

    def _entries(self, items: list[str]) -> None:
        if not items or self.failed:
            return
        if self.separator is None:
            found = _COLON.search(items[0])
            if found is None:
                self.failed = True
                return
            self.separator = found.group()
        # `key": value` items joined by their own separator and split once: keys and values alternate.
        fields = self.separator.join(items).split(self.separator)
        keys, values = fields[0::2], fields[1::2]
        if len(fields) != 2 * len(items) or not plain(keys):
            self.failed = True  # a value holding the separator, or a key that needs an escape
            return
        self.values.update(values)
        settings = dotless(keys)
        for key in settings:  # few (model_quant_type, version, …); the last one counts, as for json.loads
            self.others[key] = values[len(keys) - 1 - keys[::-1].index(key)]
        self.dotted += len(keys) - len(settings)
        self.dotted_hash += sum(map(hash, keys)) - sum(map(hash, settings))

    def result(self) -> DescriptionDigest | None:
        """The digest, once every chunk was fed (the last with final=True)."""
        if self.failed or self.items is None:
            return None
        last = self.items.carry.rstrip(_WS)
        if not last.endswith("}"):
            return None
        self._entries([last[:-1].rstrip(_WS)])
        parsed = None if self.failed else _values(self.values)
        if parsed is None:
            return None
        others = {key: parsed[value] for key, value in self.others.items()}
        return DescriptionDigest(self.dotted, self.dotted_hash, others)


def _values(values: set[str]) -> dict[str, Any] | None:
    """Each distinct value text (few: FLOAT, W8A8, …) read by json.loads; None when one is not a whole value."""
    parsed = {}
    for text in values:
        try:
            parsed[text] = safejson.loads(text)
        except safejson.JsonProblem:
            return None
    return parsed
