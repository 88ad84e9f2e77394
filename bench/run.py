"""glm5check benchmarks, one command: `python bench/run.py` (add `--doc docs/performance.md` to record).

Every figure is the median of N fresh processes (after one warm-up each), the commands of one comparison
run alternately (A B A B …) so that they share the machine's load; ratios are taken within the same run.
glm5check runs from its own venv under bench/.cache/ with this checkout installed as a user installs it
(`pip install .`, not editable); msprechecker 0.4.0 and the safetensors library from theirs. Targets (issue 14):

  1. `glm5check --profile a2-multi --replay demo` (and the faulty `demo:a2-node1`): at least 4x faster
     than `msprechecker precheck --scene vllm`, at most 40 MiB peak RSS;
  2. a live run over the demo's 25-shard GLM-5-w4a8 checkpoint rebuilt as sparse files (weights checks and
     memory.fit): at most 1.5x the safetensors library opening every shard and listing its tensors
     (safe_open + keys() + metadata()), at most 80 MiB; a repeated run with the scan cache at most 0.6x;
  3. `glm5check --version` at most 2x `python -c pass`; a live run without weights or NPUs at most 300 ms;
  4. the scan's memory grows with distinct shapes, not tensors: w4a8 (237k tensors) peaks within 8 MiB of
     the bf16 282-shard skeleton (60k tensors);
  5. deep-hash throughput (bench/bench_weights.py): at least 0.8x sha256sum.
Wall time is printed with the process's CPU time (user + system) beside it. Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
MSPRECHECKER = "msprechecker==0.4.0"
LIBRARY = ("safetensors", "numpy")
DEMO_SHARDS = 24  # the demo's w4a8 checkpoint: 24 main shards and rot.safetensors
LIBRARY_SCAN = (
    "import sys\nfrom pathlib import Path\nfrom safetensors import safe_open\n"
    "for path in sorted(Path(sys.argv[1]).glob('*.safetensors')):\n"
    "    with safe_open(str(path), framework='numpy') as handle:\n"
    "        handle.keys()\n        handle.metadata()\n"
)
MIB = 1024 * 1024

PEER_SPEEDUP = 4.0
REPLAY_RSS_MIB = 40
SCAN_RATIO = 1.5
SCAN_RSS_MIB = 80
CACHED_RATIO = 0.6
VERSION_RATIO = 2.0
BARE_LIVE_MS = 300
SHAPES_MARGIN_MIB = 8


@dataclass
class Timing:
    label: str
    wall_ms: list[float]
    cpu_ms: list[float]  # user + system of the process and its children: what it costs, whatever the load
    rss_mib: list[float]
    exit_codes: set[int]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def median_cpu_ms(self) -> float:
        return statistics.median(self.cpu_ms)

    @property
    def peak_mib(self) -> float:
        return max(self.rss_mib)


def _once(argv: list[str], env: dict[str, str], cwd: Path | None) -> tuple[float, float, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, cwd=cwd
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def alternate(
    commands: dict[str, list[str]],
    runs: int,
    env: dict[str, str],
    cwd: Path | None = None,
    before: dict[str, Callable[[], None]] | None = None,
) -> dict[str, Timing]:
    """Each command `runs` times, in turns (one warm-up round first); before[label] runs before each run."""
    timings = {label: Timing(label, [], [], [], set()) for label in commands}
    for round_number in range(runs + 1):
        for label, argv in commands.items():
            if before and label in before:
                before[label]()
            wall, cpu, rss, code = _once(argv, env, cwd)
            if round_number:
                timing = timings[label]
                timing.wall_ms.append(wall)
                timing.cpu_ms.append(cpu)
                timing.rss_mib.append(rss)
                timing.exit_codes.add(code)
    return timings


def _venv(name: str, packages: list[str]) -> Path:
    """The python of bench/.cache/<name> with packages installed (once); the checkout is reinstalled."""
    venv = CACHE / name
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    if packages:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *packages], check=True, timeout=1800, stdout=subprocess.DEVNULL
        )
    return python


def glm5check_python() -> Path:
    python = _venv("glm5check-venv", [])
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(REPO)],
        check=True,
        timeout=1800,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(REPO)], check=True, timeout=1800, stdout=subprocess.DEVNULL
    )
    return python


def msprechecker_argv() -> tuple[list[str] | None, str]:
    try:
        python = _venv("msprechecker-venv", [MSPRECHECKER])
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not install {MSPRECHECKER}: {exc}"
    tool = python.parent / "msprechecker"
    probe = subprocess.run([str(tool), "precheck", "--help"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0 or "--scene" not in probe.stdout:
        return None, f"msprechecker precheck --help failed: {(probe.stderr or probe.stdout).strip()[:200]}"
    return [str(tool), "precheck", "--scene", "vllm"], ""


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} ({os.cpu_count()} logical CPUs, nproc {len(os.sched_getaffinity(0))})",
        "ram": f"{mem_kib / 2**20:.1f} GiB",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "load": f"load average {load} when the run started",
    }


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ok = True

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def row(self, timing: Timing, note: str = "") -> None:
        self.say(
            f"  {timing.label:<52} {timing.median_ms:7.0f} ms ({timing.median_cpu_ms:5.0f} ms CPU) "
            f"{timing.peak_mib:5.0f} MiB  {note}"
        )

    def target(self, label: str, value: str, ok: bool, goal: str) -> None:
        self.ok &= ok
        self.say(f"  {label:<52} {value:>22}  target {goal}: {'ok' if ok else 'MISSED'}")


def bench_replay(report: Report, cli: list[str], runs: int, env: dict[str, str], skip_peer: bool) -> None:
    report.say("1. demo replay against msprechecker")
    commands = {
        "glm5check --profile a2-multi --replay demo": [*cli, "--profile", "a2-multi", "--replay", "demo"],
        "glm5check … --replay demo:a2-node1": [*cli, "--profile", "a2-multi", "--replay", "demo:a2-node1"],
    }
    peer, why = (None, "skipped (--skip-peer)") if skip_peer else msprechecker_argv()
    if peer is not None:
        commands["msprechecker precheck --scene vllm"] = peer
    with tempfile.TemporaryDirectory(prefix="glm5check-bench-") as tmp:  # msprechecker writes into its cwd
        timings = alternate(commands, runs, env, Path(tmp))
    for timing in timings.values():
        report.row(timing, f"exit {'/'.join(map(str, sorted(timing.exit_codes)))}")
    mine = list(timings.values())[:2]
    for timing in mine:
        report.target(
            f"peak RSS, {timing.label}",
            f"{timing.peak_mib:.1f} MiB",
            timing.peak_mib <= REPLAY_RSS_MIB,
            f"<= {REPLAY_RSS_MIB} MiB",
        )
    if peer is None:
        report.say(f"  msprechecker not measured: {why}")
        report.ok = False
        return
    theirs = timings["msprechecker precheck --scene vllm"].median_ms
    for timing in mine:
        speedup = theirs / timing.median_ms
        report.target(
            f"msprechecker / {timing.label}", f"{speedup:.1f} x", speedup >= PEER_SPEEDUP, f">= {PEER_SPEEDUP:g} x"
        )


def _checkpoint(folder: Path, weights: str, shards: int | None) -> Path:
    """Written by a child process: building 237k tensor records here would grow this process, and a child
    forked from it starts with its peak RSS (ru_maxrss survives exec)."""
    mtp = "full" if weights == "w4a8" else "layer"
    argv = [
        sys.executable,
        str(REPO / "fixtures" / "make_checkpoint.py"),
        str(folder),
        "--weights",
        weights,
        "--mtp",
        mtp,
        *(["--shards", str(shards)] if shards else []),
    ]
    subprocess.run(argv, check=True, timeout=600, stdout=subprocess.DEVNULL)
    return folder


def bench_scan(report: Report, cli: list[str], runs: int, env: dict[str, str], tmp: Path) -> None:
    report.say("2. live weights scan against the safetensors library (25-shard GLM-5-w4a8, 237,031 tensors)")
    folder = _checkpoint(tmp / "GLM-5-w4a8", "w4a8", DEMO_SHARDS)
    library = _venv("safetensors-venv", list(LIBRARY))
    cache = tmp / "scan-cache"
    scan = [*cli, "--profile", "a2-multi", "--model-dir", str(folder), "--check", "weights.*", "--check", "memory.fit"]
    commands = {
        "safetensors safe_open + keys() + metadata()": [str(library), "-c", LIBRARY_SCAN, str(folder)],
        "python -c 'import numpy' (the library's framework)": [str(library), "-c", "import numpy"],
        "glm5check weights.* + memory.fit, first scan": scan,
        "glm5check … --cache-dir (a repeated run)": [*scan, "--cache-dir", str(cache)],
    }
    timings = alternate(commands, runs, env, tmp)
    for timing in timings.values():
        report.row(timing)
    library_t, numpy_t, first, cached = timings.values()
    ratio = first.median_ms / library_t.median_ms
    report.target("first scan / library", f"{ratio:.2f} x", ratio <= SCAN_RATIO, f"<= {SCAN_RATIO:g} x")
    bare = library_t.median_ms - numpy_t.median_ms + _python_pass_ms(library, runs, env)
    report.say(f"  {'  (first scan / library without its numpy import':<52} {first.median_ms / bare:20.2f} x)")
    report.target(
        "peak RSS, first scan", f"{first.peak_mib:.1f} MiB", first.peak_mib <= SCAN_RSS_MIB, f"<= {SCAN_RSS_MIB} MiB"
    )
    ratio = cached.median_ms / library_t.median_ms
    report.target(
        "repeated run with the scan cache / library", f"{ratio:.2f} x", ratio <= CACHED_RATIO, f"<= {CACHED_RATIO:g} x"
    )


def _python_pass_ms(python: Path, runs: int, env: dict[str, str]) -> float:
    return alternate({"pass": [str(python), "-c", "pass"]}, runs, env)["pass"].median_ms


def bench_startup(report: Report, cli: list[str], python: Path, runs: int, env: dict[str, str], tmp: Path) -> None:
    report.say("3. start-up")
    bare_live = [
        *cli,
        "--profile",
        "a2-multi",
        "--node-rank",
        "0",
        "--node0-ip",
        "127.0.0.1",
        "--model-dir",
        str(tmp / "no-weights"),
    ]
    commands = {
        "python -c pass": [str(python), "-c", "pass"],
        "glm5check --version": [*cli, "--version"],
        "glm5check live a2-multi, no weights, no NPUs": bare_live,
    }
    timings = alternate(commands, runs, env, tmp)
    for timing in timings.values():
        report.row(timing)
    python_t, version, live = timings.values()
    ratio = version.median_ms / python_t.median_ms
    report.target("--version / python -c pass", f"{ratio:.2f} x", ratio <= VERSION_RATIO, f"<= {VERSION_RATIO:g} x")
    report.target(
        "live run without weights or NPUs",
        f"{live.median_ms:.0f} ms",
        live.median_ms <= BARE_LIVE_MS,
        f"<= {BARE_LIVE_MS} ms",
    )


def bench_shapes(report: Report, cli: list[str], runs: int, env: dict[str, str], tmp: Path) -> None:
    report.say("4. memory grows with shapes, not tensors")
    bf16 = _checkpoint(tmp / "GLM5-bf16", "bf16", None)
    w4a8 = tmp / "GLM-5-w4a8"
    scan = [*cli, "--profile", "a2-multi", "--check", "weights.*", "--check", "memory.fit", "--model-dir"]
    timings = alternate(
        {
            "bf16 skeleton, 282 shards, 59,870 tensors": [*scan, str(bf16)],
            "w4a8, 25 shards, 237,031 tensors": [*scan, str(w4a8)],
        },
        runs,
        env,
        tmp,
    )
    for timing in timings.values():
        report.row(timing)
    small, big = (min(t.rss_mib) for t in timings.values())
    report.target(
        "peak RSS w4a8 - bf16",
        f"{big - small:.1f} MiB",
        big - small <= SHAPES_MARGIN_MIB,
        f"<= {SHAPES_MARGIN_MIB} MiB",
    )


def bench_hash(report: Report, runs: int) -> None:
    report.say("5. deep hash (bench/bench_weights.py)")
    argv = [sys.executable, str(REPO / "bench" / "bench_weights.py"), "--hash-only", "--runs", str(max(3, runs // 2))]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    for line in (result.stdout + result.stderr).splitlines():
        report.say("  " + line)
    report.ok &= result.returncode == 0


def run(runs: int, skip_peer: bool, skip_hash: bool) -> Report:
    report = Report()
    report.say("Machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()))
    report.say(
        f"Each figure: median of {runs} fresh processes, the commands of a comparison taken in turns after "
        "one warm-up round; wall time (CPU time = user + system of the process and its children), peak RSS."
    )
    report.say()
    python = glm5check_python()
    cli = [str(python.parent / "glm5check")]
    env = dict(os.environ, NO_COLOR="1")
    env.pop("GLM5CHECK_CACHE_DIR", None)
    with tempfile.TemporaryDirectory(prefix="glm5check-bench-") as tmp:
        bench_replay(report, cli, runs, env, skip_peer)
        bench_scan(report, cli, runs, env, Path(tmp))
        bench_startup(report, cli, python, runs, env, Path(tmp))
        bench_shapes(report, cli, max(3, runs // 2), env, Path(tmp))
    if skip_hash:
        report.say("5. deep hash: skipped (--skip-hash)")
    else:
        bench_hash(report, runs)
    report.say()
    report.say("all targets met" if report.ok else "some targets MISSED")
    return report


def write_doc(path: Path, lines: list[str]) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    marker = "## Latest results"
    head = text.split(marker)[0].rstrip() + "\n\n" if marker in text else text
    body = "\n".join(lines).rstrip()
    command = f"python bench/run.py --doc {path.as_posix()}"
    path.write_text(f"{head}{marker}\n\nRecorded by `{command}`:\n\n```\n{body}\n```\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description="glm5check benchmarks (medians, ratios, peak RSS)")
    parser.add_argument("--runs", type=int, default=7, help="measured runs per command (after one warm-up)")
    parser.add_argument("--skip-peer", action="store_true", help="do not install or run msprechecker")
    parser.add_argument("--skip-hash", action="store_true", help="do not run bench/bench_weights.py")
    parser.add_argument("--doc", type=Path, help="also record the results in this Markdown file")
    args = parser.parse_args()
    report = run(max(1, args.runs), args.skip_peer, args.skip_hash)
    if args.doc:
        write_doc(args.doc, report.lines)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
