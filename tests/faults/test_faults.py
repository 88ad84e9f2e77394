"""Fault injection, end to end: each scenario breaks one external command or one input file in one way,
runs the real CLI as a subprocess, and asserts that it ends within its time bound with a clear result
(the check's status and a message naming the cause) or a one-line usage error, and never a traceback.

The scenarios run concurrently (they are mostly waiting on subprocesses and 2-second timeouts), so the
whole table takes about as long as its slowest few rows; each row is still its own test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, assert_no_traceback, clean_env

from faults import conflicts, tools
from faults.hardening import HARDENING_SCENARIOS
from faults.model import OUTPUT, PROBE_TIMEOUT, USAGE, Invocation, Ran, Scenario, run_args

sys.path.insert(0, str(REPO / "fixtures"))
from make_checkpoint import link_copy, make_checkpoint

from glm5check.knowledge.targets import TRANSFORMERS_GIT

# The CLI and the scanner as real processes: the slow tier (.ci/run runs it).
pytestmark = pytest.mark.slow


# -- external commands ------------------------------------------------------------------------------------

BROKEN_TOOLS: dict[str, Callable[[Path, str], Path]] = {
    "hung": lambda folder, name: tools.shell_tool(folder, name, tools.HUNG),
    "nonzero": lambda folder, name: tools.shell_tool(folder, name, tools.NON_ZERO),
    "garbage": lambda folder, name: tools.shell_tool(folder, name, tools.GARBAGE),
    "non-utf8": lambda folder, name: tools.printing_tool(folder, name, tools.NON_UTF8),
    "50mb": lambda folder, name: tools.huge_tool(folder, name),
}


def npu_smi_case(kind: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        if kind != "missing":
            BROKEN_TOOLS[kind](tmp / "bin", "npu-smi")
        return Invocation(run_args("a2-single", ("npu.smi",)), [tmp / "bin"])

    return build


def hccn_case(kind: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        tools.npu_smi_ok(tmp / "bin")
        if kind != "missing":
            BROKEN_TOOLS[kind](tmp / "bin", "hccn_tool")
        args = run_args("a2-multi", ("npu.network",), "--node-rank", "0", "--node0-ip", "127.0.0.1")
        return Invocation(args, [tmp / "bin"])

    return build


def python_case(kind: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        python = tmp / "no-such-env" / "bin" / "python3"
        if kind != "missing":
            python = BROKEN_TOOLS[kind](tmp / "bin", "python3")
        return Invocation(run_args("a2-single", ("packages.vllm",), "--python", str(python)))

    return build


def ip_case(kind: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        (tmp / "bin").mkdir(parents=True, exist_ok=True)
        if kind != "missing":
            BROKEN_TOOLS[kind](tmp / "bin", "ip")
        args = run_args("a2-multi", ("net.node0",), "--node-rank", "1", "--node0-ip", "127.0.0.2")
        return Invocation(args, [tmp / "bin"], path_only=kind == "missing")

    return build


HUNG_2S = r"did not answer within 2 s and was killed"
FAILED = ("fail", "error")
# tool -> kind of breakage -> (statuses the check may give, what its message must say)
TOOL_EXPECTATIONS: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "npu-smi": {
        "hung": (FAILED, HUNG_2S),
        "missing": (FAILED, r"npu-smi not found"),
        "nonzero": (FAILED, r"dcmi module initialize failed"),
        "garbage": (FAILED, r"no chip table"),
        "non-utf8": (FAILED, r"no chip table"),
        "50mb": (FAILED, r"printed more than 4 MiB; its output was cut off"),
    },
    "hccn_tool": {
        "hung": (FAILED, HUNG_2S),
        "missing": (FAILED, r"hccn_tool not found"),
        "nonzero": (FAILED, r"exited with status 3"),
        "garbage": (FAILED, r"link unknown"),
        "non-utf8": (FAILED, r"link unknown"),
        "50mb": (FAILED, r"printed more than 4 MiB; its output was cut off"),
    },
    "python": {
        "hung": (FAILED, HUNG_2S),
        "missing": (FAILED, r"not found"),
        "nonzero": (FAILED, r"exited with status 3"),
        "garbage": (FAILED, r"not JSON"),
        "non-utf8": (FAILED, r"not JSON"),
        "50mb": (FAILED, r"not JSON"),
    },
    "ip": {  # without ip, the route is found by matching local subnets instead
        "hung": (FAILED, HUNG_2S),
        "missing": (("pass",), r"reached over lo"),
        "nonzero": (FAILED, r"dcmi module initialize failed"),
        "garbage": (FAILED, r"cannot read route line"),
        "non-utf8": (FAILED, r"cannot read route line"),
        "50mb": (FAILED, r"cannot read route line"),
    },
}
TOOL_CASES = {
    "npu-smi": (npu_smi_case, "npu.smi"),
    "hccn_tool": (hccn_case, "npu.network"),
    "python": (python_case, "packages.vllm"),
    "ip": (ip_case, "net.node0"),
}
COMMAND_SCENARIOS = [
    Scenario(f"{tool}-{kind}", TOOL_CASES[tool][0](kind), TOOL_CASES[tool][1], pattern, statuses)
    for tool, kinds in TOOL_EXPECTATIONS.items()
    for kind, (statuses, pattern) in kinds.items()
]


# -- input files ---------------------------------------------------------------------------------------------

BREAKERS: dict[str, Callable[[Path], object]] = {
    "missing": lambda path: None,
    "directory": lambda path: path.mkdir(parents=True),
    "fifo": tools.fifo,
    "empty": lambda path: path.write_bytes(b""),
    "not-parsable": lambda path: path.write_bytes(b'{{{ [[[ = = "unterminated\n\x00\x01'),
    "huge": tools.huge_file,
    "symlink-loop": tools.symlink_loop,
}
FILE_EXPECTATIONS = {
    "missing": r": missing",
    "directory": r"directory.*not a regular file",
    "fifo": r"FIFO.*not a regular file",
    "empty": r"no `vllm serve`|missing hardware, model, name",
    "not-parsable": r"TOML|JSON|no `vllm serve`",
    "huge": r"larger than",
    "symlink-loop": r"symlink loop",
}


def profile_file_case(kind: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        path = tmp / "custom.toml"
        BREAKERS[kind](path)
        return Invocation(["--profile-file", str(path), "--check", "env.vars", "--format", "json"])

    return build


def serve_script_case(kind: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        path = tmp / "serve.sh"
        BREAKERS[kind](path)
        return Invocation(run_args("a2-single", ("serve.args",), "--serve-script", str(path)))

    return build


def compare_case(kind: str) -> Callable[[Path], Invocation]:
    """`compare A.json B.json` where A is broken: the broken report is named in one line."""

    def build(tmp: Path) -> Invocation:
        path = tmp / "node0.json"
        BREAKERS[kind](path)
        return Invocation(["compare", str(path), str(tmp / "node1.json")])

    return build


FILE_SCENARIOS = [
    *(Scenario(f"profile-file-{kind}", profile_file_case(kind), USAGE, FILE_EXPECTATIONS[kind]) for kind in BREAKERS),
    *(Scenario(f"serve-script-{kind}", serve_script_case(kind), USAGE, FILE_EXPECTATIONS[kind]) for kind in BREAKERS),
    *(
        Scenario(f"compare-report-{kind}", compare_case(kind), USAGE, pattern)
        for kind, pattern in (
            ("fifo", FILE_EXPECTATIONS["fifo"]),
            ("not-parsable", r"JSON"),
            ("symlink-loop", r"symlink loop"),
        )
    ),
]


# -- weights (--model-dir) -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "GLM-5-w4a8", weights="w4a8", mtp="none", shards=4).path


def weights_case(target: str, kind: str) -> Callable[[Path], Invocation]:
    """Break one file of a symlink copy of the checkpoint (target: config, index or shard)."""

    def build(tmp: Path) -> Invocation:
        folder = link_copy(CHECKPOINT[0], tmp / "GLM-5-w4a8")
        name = {
            "config": "config.json",
            "index": "quant_model_weights.safetensors.index.json",
            "shard": "quant_model_weights-00002-of-00004.safetensors",
        }[target]
        (folder / name).unlink()
        if kind == "sparse-2gb":
            with (folder / name).open("wb") as handle:
                handle.truncate(2 * 1024**3)
        else:
            BREAKERS[kind](folder / name)
        return Invocation(run_args("a2-single", ("weights.*",), "--model-dir", str(folder)))

    return build


CHECKPOINT: list[Path] = []
WEIGHTS_SCENARIOS = [
    Scenario(f"weights-{target}-{kind}", weights_case(target, kind), "weights.*", pattern)
    for target, kind, pattern in (
        ("config", "missing", r"config\.json.*missing|missing.*config\.json"),
        ("config", "not-parsable", r"config\.json.*not JSON|not JSON"),
        ("config", "directory", r"config\.json.*(directory|dir)"),
        ("config", "fifo", r"config\.json.*fifo"),
        ("config", "symlink-loop", r"config\.json.*(symlink loop|too many levels)"),
        ("config", "huge", r"config\.json.*(not JSON|larger|too)"),
        ("index", "not-parsable", r"index.*not JSON"),
        ("index", "symlink-loop", r"index.*(symlink loop|too many levels)"),
        ("index", "sparse-2gb", r"index.*2048 MiB, larger than"),
        ("shard", "symlink-loop", r"00002-of-00004.*(symlink loop|unreadable)"),
        ("shard", "not-parsable", r"00002-of-00004.*(truncated|header)"),
        ("shard", "fifo", r"00002-of-00004.*fifo"),
    )
]


# -- snapshots (--replay) ------------------------------------------------------------------------------------


def _demo_copy(tmp: Path) -> Path:
    import shutil

    target = tmp / "snap"
    shutil.copytree(REPO / "glm5check" / "demo" / "a2-node0", target)
    return target


def replay_case(relative: str, kind: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        snap = _demo_copy(tmp)
        path = snap / relative
        if path.exists():
            path.unlink()
        BREAKERS[kind](path)
        return Invocation(run_args("a2-multi", ("npu.*",), "--replay", str(snap)))

    return build


def replay_garbage_archive(tmp: Path) -> Invocation:
    archive = tmp / "node0.tar.gz"
    archive.write_bytes(b"this is not gzip \x00\x01\x02" * 100)
    return Invocation(run_args("a2-multi", ("npu.*",), "--replay", str(archive)))


def replay_missing_output(tmp: Path) -> Invocation:
    snap = _demo_copy(tmp)
    for output in (snap / "commands").glob("*npu-smi*"):
        output.unlink()
    return Invocation(run_args("a2-multi", ("npu.*",), "--replay", str(snap)))


SNAPSHOT_SCENARIOS = [
    Scenario(
        "replay-missing-folder",
        lambda tmp: Invocation(run_args("a2-multi", ("npu.*",), "--replay", str(tmp / "nowhere"))),
        USAGE,
        r"not found",
    ),
    Scenario("replay-snapshot-json-not-parsable", replay_case("snapshot.json", "not-parsable"), USAGE, r"JSON"),
    Scenario("replay-snapshot-json-empty", replay_case("snapshot.json", "empty"), USAGE, r"JSON|empty"),
    Scenario("replay-snapshot-json-fifo", replay_case("snapshot.json", "fifo"), USAGE, r"FIFO.*not a regular file"),
    Scenario(
        "replay-snapshot-json-symlink-loop",
        replay_case("snapshot.json", "symlink-loop"),
        USAGE,
        r"symlink loop|too many levels|not a glm5check snapshot",
    ),
    Scenario(
        "replay-command-index-symlink-loop",
        replay_case("commands/index.json", "symlink-loop"),
        USAGE,
        r"index\.json: symlink loop",
    ),
    Scenario("replay-command-index-huge", replay_case("commands/index.json", "huge"), USAGE, r"not readable JSON"),
    Scenario("replay-archive-not-gzip", replay_garbage_archive, USAGE, r"cannot read snapshot archive"),
    Scenario("replay-command-output-deleted", replay_missing_output, USAGE, r"npu-smi_info\.out: missing"),
]


# -- the rest: git, environment, --output --------------------------------------------------------------------


def corrupt_git(tmp: Path) -> Invocation:
    source = tools.corrupt_git_checkout(tmp / "src" / "vllm")
    python = tools.python_printing_inventory(tmp / "bin", source)
    return Invocation(run_args("a2-single", ("packages.vllm",), "--python", str(python)))


def many_variables(tmp: Path) -> Invocation:
    return Invocation(run_args("a2-single", ("env.vars",)), env=tools.many_env_vars())


def output_to(target: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        (tmp / "a-file").write_text("x", encoding="utf-8")
        resolved = target.format(tmp=tmp)
        return Invocation(["--profile", "a2-multi", "--replay", "demo", "--check", "npu.smi", "--output", resolved])

    return build


def snapshot_to(target: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        (tmp / "a-file").write_text("x", encoding="utf-8")
        return Invocation(["snapshot", "--profile", "a2-single", "--check", "host.shm", "-o", target.format(tmp=tmp)])

    return build


OTHER_SCENARIOS = [
    Scenario("git-metadata-corrupt", corrupt_git, "packages.vllm", r"\.git is damaged"),
    Scenario(
        "env-10000-variables",
        many_variables,
        "env.vars",
        r"HCCL_OP_EXPANSION_MODE \| unset; the guide uses AIV",
        ("warn",),
    ),
    Scenario("output-dev-full", output_to("/dev/full"), USAGE, r"cannot write /dev/full"),
    Scenario("output-read-only-sysfs", output_to("/sys/glm5check-report.txt"), USAGE, r"cannot write"),
    Scenario("output-under-a-file", output_to("{tmp}/a-file/report.txt"), USAGE, r"cannot write"),
    Scenario("snapshot-dev-full-archive", snapshot_to("/proc/glm5check.tar.gz"), USAGE, r"cannot write"),
    Scenario("snapshot-under-a-file", snapshot_to("{tmp}/a-file/snap"), USAGE, r"cannot write"),
]

# -- untrusted values: numbers, generated shell, secrets, bytes (issue 12, classes 3, 5, 6 and 9) -----------


def hostile_profile(body: str, *extra: str, command: str = "run") -> Callable[[Path], Invocation]:
    """A profile file that extends a2-single with body, given to `command` (run, fix-env or fit)."""

    def build(tmp: Path) -> Invocation:
        path = tmp / "hostile.toml"
        path.write_text(f'extends = "a2-single"\n{body}\n', encoding="utf-8")
        head = [] if command == "run" else [command]
        return Invocation([*head, "--profile-file", str(path), *extra])

    return build


def plain(*args: str, **changes: Any) -> Callable[[Path], Invocation]:
    return lambda tmp: Invocation([arg.format(tmp=tmp) for arg in args], **changes)


def _hostile_snapshot(tmp: Path) -> Invocation:
    snap = _demo_copy(tmp)
    meta = json.loads((snap / "snapshot.json").read_text(encoding="utf-8"))
    meta["options"]["node_rank"] = 10**30
    (snap / "snapshot.json").write_text(json.dumps(meta), encoding="utf-8")
    return Invocation(run_args("a2-multi", ("npu.smi",), "--replay", str(snap)))


NUMBER_SCENARIOS = [
    Scenario(
        "numbers-profile-tp-10000000",  # ran 22 s and used 1.3 GB before
        hostile_profile("[serve]\ntensor_parallel_size = 10000000", "--check", "memory.fit"),
        USAGE,
        r"\[serve\] tensor_parallel_size must be a whole number from 1 to 64 that divides 64 \(vLLM requires it to",
        bound_s=10,
    ),
    Scenario(
        "numbers-profile-gpu-utilization-nan",
        hostile_profile("[serve]\ngpu_memory_utilization = nan", "--check", "memory.fit"),
        USAGE,
        r"gpu_memory_utilization must be a number in \(0, 1\] .*, not nan",
    ),
    Scenario(
        "numbers-profile-dp-negative",
        hostile_profile("[serve]\ndata_parallel_size = -2", "--check", "npu.count"),
        USAGE,
        r"data_parallel_size must be a whole number from 1 to 1024",
    ),
    Scenario(
        "numbers-profile-tp-times-dp",
        hostile_profile("[serve]\ntensor_parallel_size = 64\ndata_parallel_size = 1024", command="fit"),
        USAGE,
        r"tensor_parallel_size × data_parallel_size must be at most 8192 NPUs",
    ),
    Scenario(
        "numbers-option-timeout-inf",
        plain("--profile", "a2-single", "--check", "npu.smi", "--timeout", "inf"),
        USAGE,
        r"'--timeout': 'inf' must be a number in \[0.1, 3600\]",
    ),
    Scenario(
        "numbers-option-timeout-nan",
        plain("--profile", "a2-single", "--check", "npu.smi", "--timeout", "nan"),
        USAGE,
        r"'--timeout': 'nan' must be a number in \[0.1, 3600\]",
    ),
    Scenario(
        "numbers-option-node-rank-huge",
        plain("--profile", "a2-multi", "--replay", "demo", "--node-rank", "9" * 40),
        USAGE,
        r"'--node-rank': '9{40}' must be a whole number from 0 to 1023",
    ),
    Scenario(
        "numbers-fit-tp-zero", plain("fit", "--tp", "0"), USAGE, r"'--tp': '0' must be a whole number from 1 to 64"
    ),
    Scenario(
        "numbers-serve-cmd-tp-huge",
        plain(*run_args("a2-single", ("serve.args",)), "--serve-cmd", "vllm serve /m --tensor-parallel-size 10000000"),
        "serve.args",
        r"--tensor-parallel-size '10000000': must be a whole number from 1 to 64",
        bound_s=15,
    ),
    Scenario(
        "numbers-snapshot-node-rank", _hostile_snapshot, USAGE, r"the snapshot's node_rank must be a whole number"
    ),
]


CANARY = "canary"
INJECTED = f'$(touch {CANARY})\n`touch {CANARY}2`; touch {CANARY}3 \'"x" \x1b[31m'


def sourcing_runs_nothing(exit_code: int, variable: str = "", value: str = "") -> Callable[..., None]:
    """fix-env's output, sourced by bash in the scenario's folder, creates no file; variable has value."""

    def verify(result: subprocess.CompletedProcess[str], folder: Path) -> None:
        assert result.returncode == exit_code, result.stderr
        (folder / "fix.sh").write_text(result.stdout, encoding="utf-8")
        shown = f'; printf %s "${variable}"' if variable else ""
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", f"source ./fix.sh{shown}"],
            capture_output=True, text=True, cwd=folder, timeout=30, env=clean_env(),
        )  # fmt: skip
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert not list(folder.glob(f"{CANARY}*")), "the script ran a command"
        assert done.stdout == value

    return verify


def _newline_in_serve_script(tmp: Path) -> Invocation:
    from conftest import FIXTURES

    text = (FIXTURES / "serve-scripts" / "a2-single.sh").read_text(encoding="utf-8")
    (tmp / "serve.sh").write_text(text.replace("HCCL_BUFFSIZE=200", f'HCCL_BUFFSIZE="100\ntouch {CANARY}"'))
    return Invocation(["fix-env", "--profile", "a2-single", "--serve-script", str(tmp / "serve.sh")])


FIX_ENV_SCENARIOS = [
    Scenario(
        "fix-env-profile-value-injection",
        hostile_profile(f"[env]\nHCCL_OP_EXPANSION_MODE = {json.dumps(INJECTED)}", command="fix-env"),
        "",
        "",
        verify=sourcing_runs_nothing(0, "HCCL_OP_EXPANSION_MODE", INJECTED),
    ),
    Scenario("fix-env-serve-script-newline", _newline_in_serve_script, "", "", verify=sourcing_runs_nothing(1)),
    Scenario(
        "fix-env-prompt-command",
        hostile_profile('[env]\nPROMPT_COMMAND = "touch canary"', command="fix-env"),
        USAGE,
        r"fix-env refuses to export PROMPT_COMMAND: the shell or a program would run its value",
    ),
    Scenario(
        "fix-env-name-not-a-variable",
        hostile_profile('[env]\n"X;touch canary" = "1"', command="fix-env"),
        USAGE,
        r"'X;touch canary' has a name that is not a variable name",
    ),
    Scenario(
        "fix-env-nul-byte",
        hostile_profile('[env]\nHCCL_OP_EXPANSION_MODE = "A\\u0000IV"', command="fix-env"),
        USAGE,
        r"'HCCL_OP_EXPANSION_MODE' has a NUL byte",
    ),
]


PLANTED = {  # secrets planted in the environment, the launch command and other processes
    "REDIS_URL": "redis://:Q9emptyUser45@cache:6379/0",
    "DATABASE_URL": "postgres://app:Q9at@inPassword46@db/glm",
    "AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=Q9accountKey47==;EndpointSuffix=x",
    "ODBC_DSN": "Server=db;Uid=sa;Password=Q9connPw48;",
    "MYSQL_PWD": "Q9mysqlPwd49",
    "SMTP_PASS": "Q9smtpPass50",
}
PLANTED_SECRETS = ("Q9emptyUser45", "inPassword46", "Q9accountKey47", "Q9connPw48", "Q9mysqlPwd49", "Q9smtpPass50")
SERVE_SECRETS = ("Q9underscoreFlag41", "Q9continued42", "Q9multiTwo43", "Q9multiThree44")
PROCESS_SECRETS = {"curl": "Q9curlUser51", "mysql": "Q9mysqlAttached52", "sshpass": "Q9sshpass53", "redis": "Q9redis54"}


def nothing_leaks(*secrets: str, snapshot: bool = False) -> Callable[..., None]:
    def verify(result: subprocess.CompletedProcess[str], folder: Path) -> None:
        assert result.returncode in (0, 1), result.stderr
        outputs = {"stdout": result.stdout, "stderr": result.stderr}
        if snapshot:
            files = [p for p in (folder / "snap").rglob("*") if p.is_file()]
            assert any(p.name == "env.json" for p in files)
            outputs |= {str(p): p.read_text(encoding="utf-8", errors="replace") for p in files}
        leaks = [(secret, label) for secret in secrets for label, text in outputs.items() if secret in text]
        assert not leaks, leaks

    return verify


def _serve_script_secrets(tmp: Path) -> Invocation:
    underscore, continued, two, three = SERVE_SECRETS
    (tmp / "serve.sh").write_text(
        "vllm serve /models/GLM-5 \\\n  --tensor-parallel-size 8 \\\n"
        f"  --api_key {underscore} \\\n  --api-key \\\n    {continued} \\\n"
        f"  --api-key K1 {two} {three} \\\n  --port 8077\n",
        encoding="utf-8",
    )
    return Invocation(["snapshot", "--profile", "a2-single", "--check", "serve.args", "--serve-script",
                       str(tmp / "serve.sh"), "-o", str(tmp / "snap")])  # fmt: skip


def _process_secrets(tmp: Path) -> Invocation:
    argvs = [
        ["curl", "-u", f"ops:{PROCESS_SECRETS['curl']}", "http://127.0.0.1:9/"],
        ["mysql", "-uroot", f"-p{PROCESS_SECRETS['mysql']}", "glm"],
        ["sshpass", "-p", PROCESS_SECRETS["sshpass"], "ssh", "node1"],
        ["redis-cli", "-a", PROCESS_SECRETS["redis"], "ping"],
    ]
    background = [subprocess.Popen(["sh", "-c", "sleep 60; :", *argv], start_new_session=True) for argv in argvs]
    args = ["snapshot", "--profile", "a2-multi", "--node-rank", "0", "--node0-ip", "127.0.0.1", "--check", "net.ports"]
    return Invocation([*args, "-o", str(tmp / "snap")], background=background)


def hosts_are_pseudonyms(result: subprocess.CompletedProcess[str], folder: Path) -> None:
    report = json.loads(result.stdout)
    text = json.dumps(report)
    for address in ("fd12:3456:789a::12", "10.9.9.9"):
        assert address not in text
    assert report["node"]["hostname"].startswith("host-")
    assert {r["id"] for r in report["results"]} == {"env.vars"}


SECRET_SCENARIOS = [
    Scenario(
        "secrets-serve-script-flags", _serve_script_secrets, "", "", verify=nothing_leaks(*SERVE_SECRETS, snapshot=True)
    ),
    Scenario(
        "secrets-environment-connection-strings",
        plain("snapshot", "--profile", "a2-single", "--check", "env.vars", "-o", "{tmp}/snap", env=PLANTED),
        "",
        "",
        verify=nothing_leaks(*PLANTED_SECRETS, snapshot=True),
    ),
    Scenario(
        "secrets-other-processes",
        _process_secrets,
        "",
        "",
        verify=nothing_leaks(*PROCESS_SECRETS.values(), snapshot=True),
    ),
    Scenario(
        "secrets-redact-hosts-ipv6",
        plain(
            *run_args("a2-multi", ("env.vars",), "--node-rank", "1", "--node0-ip", "10.9.9.9"),
            "--redact-salt",
            "t42",
            env={"HCCL_IF_IP": "fd12:3456:789a::12"},
        ),
        "",
        "",
        verify=hosts_are_pseudonyms,
    ),
]


# The line npu.smi quotes in its message, with escape sequences, a control character, U+FFFE and a
# byte that is not UTF-8 in it: the JUnit XML was not well-formed and the terminal got the escapes raw.
ESCAPES = b"dcmi module initialize failed \x1b[2J\x1b[31m\x1b]0;owned\x07 \x01\xef\xbf\xbe\xff ret is -8005\n"


def npu_smi_printing_escapes(fmt: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        tools.printing_tool(tmp / "bin", "npu-smi", ESCAPES)
        args = ["--profile", "a2-single", "--check", "npu.smi", "--timeout", PROBE_TIMEOUT, "--format", fmt]
        return Invocation(args, [tmp / "bin"])

    return build


TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")


def inert(fmt: str, code: int | None = None, shows: str = "") -> Callable[..., None]:
    """The output parses in its format, holds no control character or escape sequence (shows: the text
    that stands for one), and the exit code is the run's own (code, or 0/1 when None)."""

    def verify(result: subprocess.CompletedProcess[str], folder: Path) -> None:
        assert result.returncode == code if code is not None else result.returncode in (0, 1), result.stderr
        written = folder / "report.out"
        text = written.read_text(encoding="utf-8") if written.exists() else result.stdout
        assert "internal error" not in result.stderr and not TERMINAL_UNSAFE.search(text)
        if fmt == "json":
            json.loads(text)
        elif fmt == "junit":
            import xml.etree.ElementTree as ET

            ET.fromstring(text.encode())
        else:
            assert text.splitlines()[-1].startswith(tuple("0123456789")), text[-300:]
        assert shows in text

    return verify


def quiet_exit(code: int) -> Callable[..., None]:
    def verify(result: subprocess.CompletedProcess[str], folder: Path) -> None:
        assert (result.returncode, result.stderr) == (code, ""), result.stderr

    return verify


def snapshot_keeps_the_byte(result: subprocess.CompletedProcess[str], folder: Path) -> None:
    assert result.returncode in (0, 1), result.stderr
    assert '"2\\udcff0"' in (folder / "snap" / "system" / "env.json").read_text(encoding="utf-8")


NON_UTF8_ENV = {"HCCL_BUFFSIZE": "2\udcff0"}  # the byte 0xff, as os.environ holds it
ENV_VARS = ("--profile", "a2-single", "--check", "env.vars")
NODE1 = ("--profile", "a2-multi", "--replay", "demo:a2-node1")  # a run whose own exit code is 1
NODE0 = ("--profile", "a2-multi", "--replay", "demo")  # and one whose code is 0
BYTE_SCENARIOS = [
    Scenario(
        "bytes-probe-escapes-junit", npu_smi_printing_escapes("junit"), "", "", verify=inert("junit", 1, "x1b[2J")
    ),
    Scenario(
        "bytes-probe-escapes-table", npu_smi_printing_escapes("table"), "", "", verify=inert("table", 1, "x1b[2J")
    ),
    Scenario("bytes-probe-escapes-json", npu_smi_printing_escapes("json"), "", "", verify=inert("json", 1, "x1b[2J")),
    Scenario(
        "bytes-env-non-utf8-json-file",
        plain(*ENV_VARS, "--format", "json", "-o", "{tmp}/report.out", env=NON_UTF8_ENV),
        "",
        "",
        verify=inert("json", None, "2\\\\xff0"),
    ),
    Scenario(
        "bytes-env-non-utf8-json-stdout",
        plain(*ENV_VARS, "--format", "json", env={**NON_UTF8_ENV, "PYTHONIOENCODING": "utf-8"}),
        "",
        "",
        verify=inert("json", None, "2\\\\xff0"),
    ),
    Scenario(
        "bytes-env-non-utf8-snapshot",
        plain("snapshot", "--profile", "a2-single", "--check", "env.vars", "-o", "{tmp}/snap", env=NON_UTF8_ENV),
        "",
        "",
        verify=snapshot_keeps_the_byte,
    ),
    Scenario(
        "bytes-latin1-terminal", plain(*NODE1, env={"PYTHONIOENCODING": "latin-1"}), "", "", verify=inert("table", 1)
    ),
    Scenario(
        "bytes-ascii-terminal-json",
        plain(*NODE1, "--format", "json", env={"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}),
        "",
        "",
        verify=inert("json", 1),
    ),
    # click ended a run whose reader went away with exit 1 whatever the run's own code (here 0).
    Scenario("bytes-reader-gone", plain(*NODE0, stdout="broken-pipe"), "", "", verify=quiet_exit(0)),
    Scenario("bytes-stdout-closed", plain(*NODE1, stdout="closed"), "", "", verify=quiet_exit(1)),
    Scenario("bytes-stdout-dev-full", plain(*NODE1, stdout="dev-full"), "", "", verify=quiet_exit(1)),
]
UNTRUSTED_VALUE_SCENARIOS = [*NUMBER_SCENARIOS, *FIX_ENV_SCENARIOS, *SECRET_SCENARIOS, *BYTE_SCENARIOS]

SCENARIOS = [
    *COMMAND_SCENARIOS,
    *FILE_SCENARIOS,
    *WEIGHTS_SCENARIOS,
    *SNAPSHOT_SCENARIOS,
    *OTHER_SCENARIOS,
    *UNTRUSTED_VALUE_SCENARIOS,
    *HARDENING_SCENARIOS,
]
BY_NAME = {s.name: s for s in SCENARIOS}


# -- running ------------------------------------------------------------------------------------------------


def _environment(invocation: Invocation) -> dict[str, str]:
    env = clean_env(invocation.env, path_prepend=invocation.path_prepend)
    if invocation.path_only:
        env["PATH"] = ":".join(str(p) for p in invocation.path_prepend)
    return env


# Runs glm5check under a file size limit set in the process itself (no preexec_fn: the scenarios run on
# threads), then execs it; -B: no .pyc write may meet the limit before glm5check ignores SIGXFSZ.
_LIMITED = (
    "import os, resource, sys; limit = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)); "
    "os.execv(sys.executable, [sys.executable, '-B', '-m', 'glm5check', *sys.argv[2:]])"
)


def _command(invocation: Invocation) -> list[str]:
    if invocation.fsize_bytes is not None:
        return [sys.executable, "-c", _LIMITED, str(invocation.fsize_bytes), *invocation.args]
    return [sys.executable, "-m", "glm5check", *invocation.args]


def _signalled(command: list[str], invocation: Invocation, timeout: float, options: dict[str, Any]) -> Any:
    """Run command, sending it invocation.signal_when's signal once its file appears (the run reached the
    point to interrupt: a probe it waits on has started)."""
    signum, name = invocation.signal_when or (0, "")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if (options["cwd"] / name).exists():
            time.sleep(0.2)
            process.send_signal(signum)
            break
        time.sleep(0.05)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _launch(invocation: Invocation, tmp: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """The CLI as a real process, its stdout captured, closed, /dev/full, or a pipe nobody reads."""
    command = _command(invocation)
    options: dict[str, Any] = {"text": True, "errors": "replace", "cwd": tmp, "stdin": subprocess.DEVNULL}
    options["env"] = _environment(invocation)
    if invocation.stdout in ("closed", "dev-full"):
        if invocation.stdout == "closed":
            command = ["bash", "-c", 'exec "$@" >&-', "glm5check", *command]
        with open("/dev/full" if invocation.stdout == "dev-full" else os.devnull, "w") as target:
            done = subprocess.run(command, stdout=target, stderr=subprocess.PIPE, timeout=timeout, **options)
        return subprocess.CompletedProcess(command, done.returncode, "", done.stderr)
    if invocation.stdout == "broken-pipe":
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
        assert process.stdout is not None
        process.stdout.close()  # the reader is gone before the first line (`| head -0`)
        process.stdout = None
        _, stderr = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(command, process.returncode, "", stderr)
    if invocation.signal_when is not None:
        return _signalled(command, invocation, timeout, options)
    return subprocess.run(command, capture_output=True, timeout=timeout, **options)


def _run(scenario: Scenario, tmp: Path) -> Ran:
    invocation = scenario.build(tmp)
    started = time.monotonic()
    try:
        result = _launch(invocation, tmp, scenario.bound_s + 30)
    except subprocess.TimeoutExpired:
        return Ran(None, time.monotonic() - started, hung=True, folder=tmp)
    finally:
        for process in invocation.background:  # each in its own session: the shell and its sleep
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return Ran(result, time.monotonic() - started, folder=tmp)


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, checkpoint: Path
) -> dict[str, Ran]:
    """Run every selected scenario at once (threads waiting on subprocesses)."""
    CHECKPOINT[:] = [checkpoint]
    wanted = list(
        dict.fromkeys(  # two tests per scenario share one run
            item.callspec.params["name"]
            for item in request.session.items
            if getattr(item, "callspec", None) and item.callspec.params.get("name") in BY_NAME
        )
    )
    folders = {name: tmp_path_factory.mktemp(re.sub(r"\W", "_", name)) for name in wanted}
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {name: pool.submit(_run, BY_NAME[name], folders[name]) for name in wanted}
        return {name: future.result() for name, future in futures.items()}


def _check_text(rows: list[dict[str, object]]) -> str:
    keys = ("item", "message", "observed", "expected", "remediation")
    return "\n".join(" | ".join(str(row.get(k) or "") for k in keys) for row in rows)


# Issue 12's classes of failure, each with the scenarios that attack it (prefixes of scenario names).
ISSUE_12_CLASSES = {
    "1 path escapes": ("replay-archive-", "replay-folder-", "weights-index-names-", "snapshot-model-dir-"),
    "2 writes not promised": ("git-status-leaves-the-index-alone",),
    "3 shell injection": ("fix-env-",),
    "4 non-atomic output": ("output-", "snapshot-archive-file", "snapshot-folder-file", "snapshot-sig", "run-sigint"),
    "5 secrets": ("secrets-",),
    "6 numbers": ("numbers-",),
    "7 unbounded work": ("compare-implausible", "compare-1000", "serve-script-", "replay-archive-bomb"),
    "8 children outliving their pipe": ("npu-smi-",),
    "9 bytes": ("bytes-",),
    "10 trusted too much": ("compare-node-", "compare-env-", "weights-verify-", "replay-folder-field"),
    "11 plugins": ("plugin-",),
}


def test_at_least_thirty_scenarios() -> None:
    assert len(SCENARIOS) >= 30
    assert len(BY_NAME) == len(SCENARIOS)
    assert len(UNTRUSTED_VALUE_SCENARIOS) >= 20
    assert len(HARDENING_SCENARIOS) >= 45


def test_every_class_of_issue_12_is_attacked() -> None:
    names = [s.name for s in [*UNTRUSTED_VALUE_SCENARIOS, *HARDENING_SCENARIOS]]
    for kind, prefixes in ISSUE_12_CLASSES.items():
        assert any(name.startswith(prefixes) for name in names), kind
    assert len(names) >= 40


@pytest.mark.parametrize("name", list(BY_NAME))
@pytest.mark.slow
def test_fault(name: str, outcomes: dict[str, Ran]) -> None:
    scenario = BY_NAME[name]
    ran = outcomes[name]
    assert not ran.hung, f"{name}: still running after {ran.elapsed_s:.0f} s"
    assert ran.elapsed_s < scenario.bound_s, f"{name}: took {ran.elapsed_s:.1f} s (bound {scenario.bound_s} s)"
    result = ran.result
    assert result is not None
    assert_no_traceback(result)
    if scenario.after is not None:
        scenario.after(ran.folder)
    if scenario.verify is not None:
        scenario.verify(result, ran.folder)
        return
    if scenario.check == OUTPUT:
        assert result.returncode in scenario.codes, (result.returncode, result.stderr[-2000:])
        assert re.search(scenario.pattern, result.stdout + result.stderr, re.IGNORECASE), result.stderr[-2000:]
        return
    if scenario.check == USAGE:
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("glm5check: error: "), result.stderr[-2000:]
        assert "internal error" not in lines[0]
        assert re.search(scenario.pattern, lines[0], re.IGNORECASE), lines[0]
        return
    assert result.returncode in (0, 1), (result.returncode, result.stderr[-2000:])
    report = json.loads(result.stdout)
    rows = [
        r for r in report["results"] if re.fullmatch(scenario.check.replace(".", r"\.").replace("*", ".*"), r["id"])
    ]
    assert rows, f"{name}: no {scenario.check} result in {[r['id'] for r in report['results']]}"
    text = _check_text(rows)
    assert {r["status"] for r in rows} & set(scenario.statuses), text
    assert re.search(scenario.pattern, text, re.IGNORECASE), text


# -- fixes that never undo another check (issue 11 §4) ----------------------------------------------------


@pytest.mark.parametrize("name", list(BY_NAME))
def test_fault_remediations_never_undo_another_check(name: str, outcomes: dict[str, Ran]) -> None:
    result = outcomes[name].result
    if BY_NAME[name].check == USAGE or result is None or not result.stdout.startswith("{"):
        return  # a usage error has no report
    report = json.loads(result.stdout)
    if report.get("schema") != "glm5check.report/v1":
        return  # another command's JSON (compare, weights verify)
    assert conflicts.conflicts(report) == []


DEMO_PROFILES = ("a2-single", "a3-single", "a2-multi", "a3-multi")


@pytest.mark.parametrize("profile", DEMO_PROFILES)
@pytest.mark.parametrize("demo", ["demo", "demo:a2-node1"])
def test_demo_remediations_and_fix_env_never_undo_another_check(profile: str, demo: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "glm5check", "--profile", profile, "--replay", demo, "--format", "json"],
        capture_output=True, text=True, env=clean_env(), timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    report = json.loads(run.stdout)
    if demo != "demo":  # node 1 is broken on purpose: its fixes must be there to be judged
        assert [r for r in report["results"] if r["remediation"]], "a run with nothing to fix proves nothing"
    fix_env = subprocess.run(
        [sys.executable, "-m", "glm5check", "fix-env", "--profile", profile, "--replay", demo],
        capture_output=True, text=True, env=clean_env(), timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    exported = [line.split("  #")[0] for line in fix_env.stdout.splitlines() if line.startswith("export ")]
    script_rows = [{"id": "fix-env", "item": None, "remediation": line} for line in exported]
    assert conflicts.conflicts({**report, "results": report["results"] + script_rows}) == []


def test_the_conflict_finder_sees_every_kind_of_contradiction() -> None:
    profile = {"pins": {"transformers_min": "5.2.0"}, "env": {"OMP_NUM_THREADS": "10"}}
    profile["serve"] = {"enable_expert_parallel": True, "gpu_memory_utilization": 1.0}
    bad = [
        "pip install 'transformers<5,>=4.56.0'",
        "pip install 'numpy>=2'",
        "pip install 'torch-npu==2.9.0.post2'",
        "give the container more cores, or export OMP_NUM_THREADS=4",
        "spread the weights over more NPUs or turn on --enable-expert-parallel",
        "lower --max-model-len to 1024 or below, or raise --gpu-memory-utilization / use more NPUs",
        "export VLLM_USE_V1=1",
    ]
    good = [
        "pip install 'numpy<2.0.0' 'torch-npu==2.9.0' 'fastapi[standard]<0.124.0,>=0.115.0'",
        f"pip install 'transformers @ {TRANSFORMERS_GIT}'",
        "pip install git+https://github.com/huggingface/transformers.git",
        "export OMP_NUM_THREADS=10 HCCL_SOCKET_IFNAME=enp189s0f0",
        "export HCCL_IF_IP=<this node's IP address>",
        "pip install -r <(glm5check --profile a2-multi --requirements)",
    ]
    rows = [{"id": "x.y", "item": str(n), "remediation": fix} for n, fix in enumerate(bad + good)]
    found = conflicts.conflicts({"profile": profile, "results": rows}, inert=frozenset({"VLLM_USE_V1"}))
    assert [line.split("]")[0] for line in found] == [f"x.y[{n}" for n in range(len(bad))], found
