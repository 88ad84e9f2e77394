"""The weights scan as JSON, for the snapshot digest and the scan cache, and the hash of the code that made it.

Read back strictly: a value that is not exactly what scan_to_json writes (wrong types, missing or extra
fields, another folder) is refused (None), and the caller scans the folder again. The key under which a
digest or cache entry is found is the host's business (glm5check.host); this module only names the code.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from glm5check.facts.weights_scan import JsonFile, Shard, WeightsScan
from glm5check.util.resources import source_digest

SCAN_KIND = "weights-scan"
FORMAT = 1
# The modules whose code decides what a scan holds: a change to any of them makes every digest and cache
# entry stale (the folder is read again).
SCAN_MODULES = (
    "glm5check.facts.weights_scan",
    "glm5check.facts.weights_digest",
    "glm5check.parsers.safetensors",
    "glm5check.parsers.weights_json",
    "glm5check.knowledge.glm5",
    "glm5check.knowledge.placement",
    "glm5check.util.lazyre",
)


@cache
def scan_code() -> str | None:
    """A hash of the scanning code (and this format), or None when the sources cannot be read."""
    digest = source_digest(SCAN_MODULES)
    return None if digest is None else f"{FORMAT}:{digest}"


def _json_file(file: JsonFile | None) -> dict[str, Any] | None:
    return None if file is None else {"name": file.name, "data": file.data, "error": file.error, "sha256": file.sha256}


def scan_to_json(scan: WeightsScan) -> dict[str, Any]:
    return {
        "path": scan.path,
        "error": scan.error,
        "entries": list(scan.entries),
        "config": _json_file(scan.config),
        "index": _json_file(scan.index),
        "quant": _json_file(scan.quant),
        "shards": [
            [
                s.name,
                s.size,
                s.cause,
                s.detail,
                s.header_sha256,
                s.has_header,
                s.tensor_count,
                s.tensor_bytes,
                s.expected_file_size,
            ]
            for s in scan.shards
        ],
        "leftovers": list(scan.leftovers),
        "fingerprint": scan.fingerprint,
        "total_bytes": scan.total_bytes,
        "file_count": scan.file_count,
        "mapped_count": scan.mapped_count,
        "unmapped": [list(pair) for pair in scan.unmapped],
        "described_count": scan.described_count,
        "undescribed": list(scan.undescribed),
        "mtp_layer": scan.mtp_layer,
        "mtp_count": scan.mtp_count,
        "mtp_embed_head": list(scan.mtp_embed_head),
        "tally": [list(pair) for pair in scan.tally],
    }


class _Refused(ValueError):
    """The value is not a scan this code wrote."""


def _of(value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, type(None)))):
        raise _Refused
    return value


def _str(value: Any) -> str:
    return _of(value, str)


def _opt_str(value: Any) -> str | None:
    return _of(value, (str, type(None)))


def _int(value: Any) -> int:
    return _of(value, int)


def _opt_int(value: Any) -> int | None:
    return _of(value, (int, type(None)))


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(map(_str, _of(value, list)))


def _row(value: Any, size: int) -> list[Any]:
    row = _of(value, list)
    if len(row) != size:
        raise _Refused
    return row


def _file(value: Any) -> JsonFile | None:
    if value is None:
        return None
    fields = _of(value, dict)
    if set(fields) != {"name", "data", "error", "sha256"}:
        raise _Refused
    return JsonFile(_str(fields["name"]), fields["data"], _opt_str(fields["error"]), _opt_str(fields["sha256"]))


def _shard(value: Any) -> Shard:
    name, size, cause, detail, sha, has_header, count, nbytes, expected = _row(value, 9)
    return Shard(
        _str(name),
        _opt_int(size),
        _opt_str(cause),
        _str(detail),
        _opt_str(sha),
        _of(has_header, bool),
        _int(count),
        _int(nbytes),
        _opt_int(expected),
    )


def _pair(value: Any, second: Any) -> tuple[str, Any]:
    first, other = _row(value, 2)
    return _str(first), second(other)


def scan_from_json(value: Any, folder: str) -> WeightsScan | None:
    """The scan scan_to_json wrote for this folder, or None."""
    try:
        fields = _of(value, dict)
        if set(fields) != set(scan_to_json(WeightsScan(folder))) or fields["path"] != folder:
            return None
        return WeightsScan(
            path=folder,
            error=_opt_str(fields["error"]),
            entries=_strs(fields["entries"]),
            config=_file(fields["config"]),
            index=_file(fields["index"]),
            quant=_file(fields["quant"]),
            shards=tuple(map(_shard, _of(fields["shards"], list))),
            leftovers=_strs(fields["leftovers"]),
            fingerprint=_opt_str(fields["fingerprint"]),
            total_bytes=_int(fields["total_bytes"]),
            file_count=_int(fields["file_count"]),
            mapped_count=_int(fields["mapped_count"]),
            unmapped=tuple(_pair(pair, _str) for pair in _of(fields["unmapped"], list)),
            described_count=_int(fields["described_count"]),
            undescribed=_strs(fields["undescribed"]),
            mtp_layer=_int(fields["mtp_layer"]),
            mtp_count=_int(fields["mtp_count"]),
            mtp_embed_head=_strs(fields["mtp_embed_head"]),
            tally=tuple(_pair(pair, _int) for pair in _of(fields["tally"], list)),
        )
    except _Refused:
        return None
