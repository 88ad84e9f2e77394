"""Weights benchmarks: header scan of the 282-shard GLM-5 bf16 checkpoint, and deep-hash throughput.

    python bench/bench_weights.py [--runs 5] [--hash-mib 1024] [--hash-files 4]

1. Scan (warm page cache): glm5check's scan of every shard header (plus index, config and the
   quant description) beside the `safetensors` library opening the same files and listing every
   tensor's dtype and shape. Target: under 1 s.
2. Deep hash: `glm5check weights verify --deep`'s parallel SHA-256 beside `sha256sum` on the same files
   (random data, warm). Target: at least 80 % of sha256sum's throughput.
Prints medians and ratios; exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fixtures"))

from make_checkpoint import make_checkpoint  # noqa: E402

from glm5check.facts.weights import scan_folder  # noqa: E402
from glm5check.host.hashing import hash_folder  # noqa: E402
from glm5check.host.live import LiveHost  # noqa: E402

SCAN_TARGET_S = 1.0
HASH_TARGET_RATIO = 0.8


def median_time(func: Callable[[], object], runs: int) -> float:
    func()  # warm-up: page cache, imports
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def library_scan(folder: Path) -> int:
    from safetensors import safe_open

    count = 0
    for path in sorted(folder.glob("*.safetensors")):
        with safe_open(str(path), framework="numpy") as handle:
            for name in handle.keys():  # noqa: SIM118 - a safe_open handle is not iterable
                view = handle.get_slice(name)
                view.get_dtype()
                view.get_shape()
                count += 1
    return count


def bench_scan(runs: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="glm5check-bench-") as tmp:
        checkpoint = make_checkpoint(Path(tmp) / "GLM5-bf16", "bf16", "layer")
        folder = str(checkpoint.path)
        scan = scan_folder(LiveHost(), folder)
        assert scan.complete and len(scan.shards) == 282, "generated checkpoint did not scan cleanly"
        ours = median_time(lambda: scan_folder(LiveHost(), folder), runs)
        theirs = median_time(lambda: library_scan(checkpoint.path), runs)
    print(f"scan of 282 shards, {scan.tensor_count:,} tensors (median of {runs}, warm)")
    print(f"  glm5check scan_folder      {ours:8.3f} s")
    print(f"  safetensors safe_open      {theirs:8.3f} s")
    print(
        f"  ratio glm5check / library  {ours / theirs:8.2f}   target: glm5check under {SCAN_TARGET_S:g} s: "
        f"{'met' if ours < SCAN_TARGET_S else 'MISSED'}"
    )
    return ours < SCAN_TARGET_S


def bench_hash(runs: int, total_mib: int, files: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="glm5check-hash-") as tmp:
        folder = Path(tmp)
        each = total_mib * (1 << 20) // files
        for number in range(files):
            (folder / f"shard-{number:05d}.bin").write_bytes(os.urandom(each))
        names = sorted(p.name for p in folder.iterdir())
        total = each * files
        ours = median_time(lambda: hash_folder(folder, names), runs)
        argv = ["sha256sum", *(str(folder / n) for n in names)]
        theirs = median_time(lambda: subprocess.run(argv, check=True, capture_output=True), runs)
    ours_rate, their_rate = total / ours / (1 << 20), total / theirs / (1 << 20)
    ratio = ours_rate / their_rate
    print(f"deep hash of {files} files, {total_mib} MiB (median of {runs}, warm, {os.cpu_count()} CPUs)")
    print(f"  glm5check hash_folder      {ours_rate:8.0f} MiB/s")
    print(f"  sha256sum                  {their_rate:8.0f} MiB/s")
    print(
        f"  ratio glm5check / sha256sum {ratio:7.2f}   target >= {HASH_TARGET_RATIO:g}: "
        f"{'met' if ratio >= HASH_TARGET_RATIO else 'MISSED'}"
    )
    return ratio >= HASH_TARGET_RATIO


def main() -> int:
    parser = argparse.ArgumentParser(description="glm5check weights benchmarks")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hash-mib", type=int, default=1024)
    parser.add_argument("--hash-files", type=int, default=4)
    parser.add_argument("--hash-only", action="store_true", help="the deep hash only (bench/run.py times the scan)")
    args = parser.parse_args()
    scan_ok = True if args.hash_only else bench_scan(args.runs)
    hash_ok = bench_hash(max(3, args.runs // 2), args.hash_mib, args.hash_files)
    return 0 if scan_ok and hash_ok else 1


if __name__ == "__main__":
    sys.exit(main())
