"""glm5check benchmarks, one command: `python bench/run.py` (add `--doc docs/performance.md` to record).

Prints medians of several runs, each a fresh process, with ratios measured in the same run:
  1. `glm5check --version` (target <= 120 ms);
  2. a full `a2-multi` demo replay, `glm5check --profile a2-multi --replay demo` (target <= 400 ms), and
     `msprechecker precheck --scene vllm` (msprechecker 0.4.0 from PyPI, installed into a venv under
     bench/.cache/, never into the project) on the same machine: glm5check at least 2x faster;
  3. a live run with fake npu-smi and hccn_tool on PATH (real captured outputs from fixtures/);
  4. peak RSS of each glm5check process (target <= 120 MB), from wait4()'s resource usage;
  5. the weight-scan and deep-hash figures of bench/bench_weights.py.
Exit 1 when a glm5check target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
MSPRECHECKER = "msprechecker==0.4.0"
FIXTURES = REPO / "fixtures"
NPU_SMI_SAMPLE = FIXTURES / "npu-smi-info" / "blog-atlas800IA2-8x910B4-25.0.rc1.1-fresh-install.txt"
HCCN_SAMPLES = {
    "link": FIXTURES / "hccn_tool-link" / "mindcluster-doc-link-UP.txt",
    "ip": FIXTURES / "hccn_tool-ip" / "mindcluster-fixture-ip-g-dev0-192.1.45.172.txt",
}

VERSION_TARGET_MS = 120
REPLAY_TARGET_MS = 400
RSS_TARGET_MB = 120
PEER_SPEEDUP_TARGET = 2.0


@dataclass
class Timing:
    label: str
    median_ms: float
    median_cpu_ms: float  # user + system CPU time: what the process itself costs, whatever the load
    runs: int
    peak_rss_mb: float
    exit_codes: tuple[int, ...]


def measure(
    label: str, argv: list[str], runs: int, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Timing:
    """Median wall time and peak RSS of argv over runs fresh processes (after one warm-up run)."""
    times, cpu, rss, codes = [], [], [], []
    for attempt in range(runs + 1):
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if attempt == 0:
            continue  # warm-up: page cache and .pyc files
        times.append(elapsed * 1000)
        cpu.append((usage.ru_utime + usage.ru_stime) * 1000)
        rss.append(usage.ru_maxrss / 1024)  # KiB on Linux
        codes.append(proc.returncode)
    return Timing(label, statistics.median(times), statistics.median(cpu), runs, max(rss), tuple(sorted(set(codes))))


def glm5check_argv() -> list[str]:
    """The installed console script next to this interpreter, as a user runs it."""
    script = Path(sys.executable).parent / "glm5check"
    return [str(script)] if script.exists() else [sys.executable, "-m", "glm5check"]


def fake_tools(folder: Path) -> Path:
    """npu-smi and hccn_tool that print real captured outputs (hccn_tool answers link and ip)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "npu-smi").write_text(f"#!/bin/sh\ncat {shlex.quote(str(NPU_SMI_SAMPLE))}\n", encoding="utf-8")
    cases = "\n".join(f"  *-{name}*) cat {shlex.quote(str(path))} ;;" for name, path in HCCN_SAMPLES.items())
    (folder / "hccn_tool").write_text(f'#!/bin/sh\ncase "$*" in\n{cases}\n  *) echo ok ;;\nesac\n', encoding="utf-8")
    for tool in ("npu-smi", "hccn_tool"):
        (folder / tool).chmod(0o755)
    return folder


def msprechecker_argv() -> tuple[list[str] | None, str]:
    """The msprechecker command from bench's own venv (created on first use), or None and why not."""
    venv = CACHE / "msprechecker-venv"
    tool = venv / "bin" / "msprechecker"
    if not tool.exists():
        print(f"installing {MSPRECHECKER} into {venv} (once) …", file=sys.stderr)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", MSPRECHECKER],
                check=True,
                timeout=900,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            return None, f"could not install {MSPRECHECKER}: {exc}"
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


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def run(runs: int, skip_peer: bool, skip_weights: bool) -> tuple[list[str], bool]:
    lines: list[str] = []
    all_ok = True

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    info = machine()
    say("Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    say(f"Each figure: median of {runs} fresh processes after one warm-up; wall time (CPU time = user + system).")
    say()
    cli = glm5check_argv()
    env = dict(os.environ, NO_COLOR="1")
    replay_argv = [*cli, "--profile", "a2-multi", "--replay", "demo"]
    version = measure("glm5check --version", [*cli, "--version"], runs, env)
    replay = measure("glm5check --profile a2-multi --replay demo", replay_argv, runs, env)
    # Attribution: the same replay without the checks that read the demo's full GLM-5-w4a8 weight
    # metadata (25 shard headers, index and quant description: ~240k tensors each).
    light = measure(
        "  same without weights.*, memory.fit, serve.args",
        [*replay_argv, "--skip", "weights.*", "--skip", "memory.fit", "--skip", "serve.args"],
        runs,
        env,
    )
    with tempfile.TemporaryDirectory(prefix="glm5check-bench-") as tmp:
        tools = fake_tools(Path(tmp) / "bin")
        live_env = dict(env, PATH=f"{tools}{os.pathsep}{env.get('PATH', '')}")
        live = measure(
            "glm5check live a2-multi, fake npu-smi + hccn_tool",
            [
                *cli,
                "--profile",
                "a2-multi",
                "--node-rank",
                "0",
                "--node0-ip",
                "127.0.0.1",
                "--model-dir",
                str(Path(tmp) / "no-weights"),
            ],
            runs,
            live_env,
            cwd=Path(tmp),
        )
        peer_argv, peer_why = (None, "skipped (--skip-peer)") if skip_peer else msprechecker_argv()
        peer = None
        if peer_argv is not None:
            # msprechecker writes ./msprechecker_env.sh: run it in a scratch folder.
            peer = measure("msprechecker precheck --scene vllm", peer_argv, runs, env, cwd=Path(tmp))

    def row(timing: Timing, note: str) -> None:
        say(f"{timing.label:<50} {timing.median_ms:7.0f} ms ({timing.median_cpu_ms:5.0f} ms CPU)  {note}")

    ok = version.median_ms <= VERSION_TARGET_MS
    all_ok &= ok
    row(version, f"target <= {VERSION_TARGET_MS} ms: {verdict(ok)}")
    ok = replay.median_ms <= REPLAY_TARGET_MS
    all_ok &= ok
    row(replay, f"target <= {REPLAY_TARGET_MS} ms: {verdict(ok)}")
    row(light, "(no target)")
    if peer is not None:
        speedup = peer.median_ms / replay.median_ms
        ok = speedup >= PEER_SPEEDUP_TARGET
        all_ok &= ok
        row(peer, f"exit {'/'.join(map(str, peer.exit_codes))}, peak RSS {peer.peak_rss_mb:.0f} MB")
        say(
            f"{'  ratio msprechecker / glm5check replay':<50} {speedup:7.1f} x"
            f"{'':17}target >= {PEER_SPEEDUP_TARGET:g} x: {verdict(ok)}"
        )
    else:
        say(f"{'msprechecker precheck --scene vllm':<50} not measured: {peer_why}")
    row(live, f"(no target; exit {'/'.join(map(str, live.exit_codes))})")
    say(f"{'  ratio live / replay':<50} {live.median_ms / replay.median_ms:7.1f} x")
    peak = max(version.peak_rss_mb, replay.peak_rss_mb, live.peak_rss_mb)
    ok = peak <= RSS_TARGET_MB
    all_ok &= ok
    say(
        f"{'peak RSS of glm5check: version / replay / live':<50} {peak:7.0f} MB  "
        f"({version.peak_rss_mb:.0f} / {replay.peak_rss_mb:.0f} / {live.peak_rss_mb:.0f} MB; replay without "
        f"weights {light.peak_rss_mb:.0f} MB)  target <= {RSS_TARGET_MB} MB: {verdict(ok)}"
    )
    say()
    weights_script = Path(__file__).resolve().parent / "bench_weights.py"
    if skip_weights:
        say("weights: skipped (--skip-weights)")
    elif not weights_script.exists():
        say("weights: bench/bench_weights.py is not there yet; no weight-scan or deep-hash figures")
    else:
        say("weights (bench/bench_weights.py):")
        result = subprocess.run(
            [sys.executable, str(weights_script), "--runs", str(max(3, runs // 2))],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        for line in (result.stdout + result.stderr).splitlines():
            say("  " + line)
        all_ok &= result.returncode == 0
    return lines, all_ok


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
    parser.add_argument("--skip-weights", action="store_true", help="do not run bench/bench_weights.py")
    parser.add_argument("--doc", type=Path, help="also record the results in this Markdown file")
    args = parser.parse_args()
    if shutil.which("sh") is None:
        print("bench needs /bin/sh for the fake npu-smi and hccn_tool", file=sys.stderr)
        return 2
    lines, ok = run(max(1, args.runs), args.skip_peer, args.skip_weights)
    if args.doc:
        write_doc(args.doc, lines)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
