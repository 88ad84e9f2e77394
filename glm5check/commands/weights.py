"""`glm5check weights verify DIR [--deep] [--manifest FILE]`: prove a weights folder is intact and the
same on every node.

Quick (default): the index and every shard's name, size and header hash, from the headers alone.
--deep: the SHA-256 of every byte of every file, files hashed in parallel (a progress bar on a terminal).
--manifest FILE: compare the folder with FILE (exit 1 on any difference); with --write, write FILE
instead (a missing FILE without --write is a usage error: a typo must not silently write a new
manifest that then "matches"). A manifest written with --deep is always checked deeply.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from glm5check import __version__, console
from glm5check.errors import ConfigError
from glm5check.host.hashing import MANIFEST_SCHEMA
from glm5check.host.inputs import read_input_text
from glm5check.util import safejson
from glm5check.util.units import fmt_bytes

MODES = ("quick", "deep")
# A deep manifest of a 282-shard checkpoint is ~60 KiB; anything this big is not a manifest.
MANIFEST_CAP_BYTES = 16 * 1024 * 1024


def _quick_entries(folder: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every shard's size and header hash, and the content hash of every other file a launch reads
    (config.json, generation config, tokenizer files, quant description, index)."""
    from glm5check.facts.weights import served_file_digests
    from glm5check.facts.weights_scan import scan_folder
    from glm5check.host.live import LiveHost

    host = LiveHost()
    scan = scan_folder(host, folder)
    if not scan.readable:
        raise ConfigError(f"cannot read weights folder {folder}: {scan.error}")
    entries = {s.name: {"size": s.size, "header_sha256": s.header_sha256} for s in scan.shards}
    problems = [f"{s.name}: {s.cause} ({s.detail})" for s in scan.shards if not s.ok]
    if not scan.shards:
        problems.append(f"nothing to verify: {folder} holds no .safetensors file ({len(scan.entries)} entries)")
    for digest in served_file_digests(host, folder, scan.entries):
        if digest.error:
            problems.append(f"{digest.name}: {digest.error}")
        else:
            entries[digest.name] = {"size": digest.size, "content_sha256": digest.sha256}
    return entries, problems


def _deep_entries(folder: str, show_progress: bool) -> tuple[dict[str, dict[str, Any]], list[str]]:
    from glm5check.host.hashing import hash_folder, list_files

    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"cannot read weights folder {folder}: not a directory")
    names, others = list_files(root)
    total = sum((root / name).stat().st_size for name in names)
    if show_progress:
        with click.progressbar(length=total, label="hashing", file=sys.stderr, show_pos=False) as bar:
            hashes = hash_folder(root, names, progress=bar.update)
    else:
        hashes = hash_folder(root, names)
    entries = {h.name: {"size": h.size, "sha256": h.sha256} for h in hashes if h.error is None}
    problems = others + [f"{h.name}: {h.error}" for h in hashes if h.error]
    if not names:
        problems.append(f"nothing to verify: {folder} holds no regular file")
    return entries, problems


def fingerprint(entries: dict[str, dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(entries):
        digest.update(json.dumps([name, entries[name]], sort_keys=True).encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def compare(manifest: dict[str, Any], entries: dict[str, dict[str, Any]]) -> list[str]:
    """The differences between a manifest's files and this folder's, one line each."""
    recorded: dict[str, Any] = manifest.get("files", {})
    lines = [f"missing here: {name}" for name in sorted(set(recorded) - set(entries))]
    lines += [f"not in the manifest: {name}" for name in sorted(set(entries) - set(recorded))]
    for name in sorted(set(recorded) & set(entries)):
        if recorded[name] != entries[name]:
            lines.append(f"differs: {name} (manifest {recorded[name]}, here {entries[name]})")
    return lines


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = safejson.loads(read_input_text(path, "manifest", MANIFEST_CAP_BYTES))
    except (OSError, UnicodeDecodeError, safejson.JsonProblem) as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        raise ConfigError(f"{path} is not a glm5check weights manifest")
    if data.get("mode") not in MODES or not isinstance(data.get("files"), dict):
        raise ConfigError(f"manifest {path} has no mode or files")
    return data


def _manifest_to_compare(path: Path | None, write: bool, folder: str) -> dict[str, Any] | None:
    """The manifest to compare with; None when there is none or --write asks to write it (never into the
    folder it describes: it would replace one of its files, or be a file the other nodes do not have)."""
    from glm5check.host.output import check_not_an_input

    if write and path is None:
        raise ConfigError("--write needs --manifest FILE (the manifest to write)")
    if path is not None and write:
        check_not_an_input(str(path), {}, {"the weights folder": folder}, option="--manifest")
    if path is None or write:
        return None
    if not path.exists():
        raise ConfigError(f"manifest {path} not found; to write a new one, add --write")
    return _load_manifest(path)


def _mode(deep: bool, manifest: dict[str, Any] | None) -> str:
    if manifest is None:
        return "deep" if deep else "quick"
    if deep and manifest["mode"] == "quick":
        raise ConfigError("the manifest was written without --deep; compare it without --deep")
    return str(manifest["mode"])


@click.group("weights")
def weights() -> None:
    """Weights folder tools."""


@weights.command("verify")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--deep", is_flag=True, help="Hash every byte (SHA-256), not only the headers.")
@click.option("--manifest", type=click.Path(dir_okay=False), help="Compare with this manifest (--write: write it).")
@click.option("--write", is_flag=True, help="Write --manifest instead of comparing with it.")
@click.option("--format", "output_format", type=click.Choice(("table", "json")), default="table")
@click.pass_context
def verify(ctx: click.Context, folder: str, deep: bool, manifest: str | None, write: bool, output_format: str) -> None:
    """Verify a weights folder; write or compare a manifest so nodes can prove identical weights."""
    manifest_path = Path(manifest) if manifest else None
    recorded = _manifest_to_compare(manifest_path, write, folder)
    mode = _mode(deep, recorded)
    started = time.monotonic()
    if mode == "deep":
        entries, problems = _deep_entries(folder, sys.stderr.isatty() and output_format == "table")
    else:
        entries, problems = _quick_entries(folder)
    elapsed = time.monotonic() - started
    result: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "tool": {"name": "glm5check", "version": __version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "folder": str(Path(folder).resolve()),
        "mode": mode,
        "fingerprint": fingerprint(entries),
        "total_bytes": sum(e["size"] or 0 for e in entries.values()),
        "files": entries,
    }
    differences = compare(recorded, entries) if recorded else []
    if manifest_path and write:
        _write_manifest(manifest_path, result)
    _print(result, problems, differences, manifest_path, recorded is not None, elapsed, output_format)
    ctx.exit(1 if problems or differences else 0)


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    from glm5check.host.output import save_text

    save_text(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _print(
    result: dict[str, Any],
    problems: list[str],
    differences: list[str],
    manifest: Path | None,
    compared: bool,
    elapsed: float,
    output_format: str,
) -> None:
    if output_format == "json":
        console.out(json.dumps({**result, "problems": problems, "differences": differences}, indent=2) + "\n", "json")
        return
    files = len(result["files"])
    rate = result["total_bytes"] / elapsed / (1 << 20) if result["mode"] == "deep" and elapsed > 0 else None
    speed = f", {rate:,.0f} MiB/s" if rate else ""
    console.out(
        f"{result['mode']} verify of {result['folder']}: {files} files, "
        f"{fmt_bytes(result['total_bytes'])} in {elapsed:.2f} s{speed}\n"
    )
    console.out(f"fingerprint {result['fingerprint']}" + "\n")
    for line in problems:
        console.out(f"FAIL  {line}" + "\n")
    if compared:
        for line in differences:
            console.out(f"DIFF  {line}" + "\n")
        if not differences:
            console.out(f"identical to manifest {manifest}" + "\n")
    elif manifest:
        console.out(f"wrote manifest {manifest}" + "\n")
