"""`glm5check fix-env`: its output, sourced by a real bash, makes env.vars (and on two nodes
net.interfaces) pass when glm5check runs again in that shell; the undo line puts the old values back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, assert_no_traceback, clean_env, run_in_process
from hypothesis import given
from hypothesis import strategies as st

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is needed to source the generated script")


def fix_script(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Path]:
    done = run_in_process("fix-env", *args, env=env or clean_env())
    assert_no_traceback(done)
    path = tmp_path / "fix.sh"
    path.write_text(done.stdout)
    return done.returncode, path


def in_bash(script: str, env: dict[str, str], prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The test (not glm5check) runs bash: source the generated file, then run glm5check in that shell."""
    assert BASH is not None
    return subprocess.run(
        [*prefix, BASH, "--noprofile", "--norc", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def statuses(report: dict[str, Any], check_id: str) -> dict[str | None, str]:
    return {r["item"]: r["status"] for r in report["results"] if r["id"] == check_id}


@pytest.mark.slow
def test_sourced_output_makes_env_vars_pass(tmp_path: Path) -> None:
    env = clean_env({"HCCL_BUFFSIZE": "abc", "OMP_NUM_THREADS": "4"})
    before = json.loads(
        run_in_process("--profile", "a2-single", "--check", "env.vars", "--format", "json", env=env).stdout
    )
    assert set(statuses(before, "env.vars").values()) == {"pass", "warn"}
    code, script = fix_script(tmp_path, "--profile", "a2-single", env=env)
    assert code == 0
    text = script.read_text()
    assert "export HCCL_BUFFSIZE=200" in text and "export OMP_NUM_THREADS=10" in text
    # Unset with the guide's value as default (HCCL_BUFFSIZE aside), or inert: nothing to export.
    for name in ("OMP_PROC_BIND", "PYTORCH_NPU_ALLOC_CONF", "VLLM_USE_V1", "VLLM_ASCEND_BALANCE_SCHEDULING"):
        assert f"export {name}=" not in text, name
    done = in_bash(
        f"source {script} && exec {sys.executable} -m glm5check --profile a2-single --check env.vars --format json",
        env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = statuses(json.loads(done.stdout), "env.vars")
    assert len(after) == 7 and set(after.values()) == {"pass"}


@pytest.mark.slow
def test_undo_line_restores_the_previous_values(tmp_path: Path) -> None:
    env = clean_env({"HCCL_BUFFSIZE": "100"})
    _, script = fix_script(tmp_path, "--profile", "a2-single", env=env)
    done = in_bash(
        f'source {script}; echo "$HCCL_BUFFSIZE ${{HCCL_OP_EXPANSION_MODE-unset}}"; glm5check_fix_env_undo; '
        'echo "$HCCL_BUFFSIZE ${HCCL_OP_EXPANSION_MODE-unset}"; '
        "type glm5check_fix_env_undo >/dev/null 2>&1 || echo gone",
        env,
    )
    assert done.stdout.splitlines() == ["200 AIV", "100 unset", "gone"], done.stderr


def test_nothing_to_fix(tmp_path: Path) -> None:
    profile_env = {
        "HCCL_OP_EXPANSION_MODE": "AIV", "OMP_PROC_BIND": "false", "OMP_NUM_THREADS": "10",
        "VLLM_USE_V1": "1",
        "HCCL_BUFFSIZE": "200", "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True",
        "VLLM_ASCEND_BALANCE_SCHEDULING": "1",
    }  # fmt: skip
    code, script = fix_script(tmp_path, "--profile", "a2-single", env=clean_env(profile_env))
    assert code == 0
    assert "export " not in script.read_text() and "nothing to export" in script.read_text()


def test_serve_script_value_cannot_be_overridden_by_an_export(tmp_path: Path) -> None:
    launch = tmp_path / "serve.sh"
    launch.write_text(
        (FIXTURES / "serve-scripts" / "a2-single.sh").read_text().replace("HCCL_BUFFSIZE=200", "HCCL_BUFFSIZE=100")
    )
    code, script = fix_script(tmp_path, "--profile", "a2-single", "--serve-script", str(launch))
    text = script.read_text()
    assert code == 1
    assert "# NOT FIXED: the serve script sets HCCL_BUFFSIZE=100" in text
    assert "# STILL FAILING[HCCL_BUFFSIZE]" in text


def test_replayed_node1_gets_the_nic_towards_node0(tmp_path: Path) -> None:
    """The faulty demo node 1 names eth0 in its socket variables while HCCL_IF_IP is on enp189s0f0."""
    code, script = fix_script(tmp_path, "--profile", "a2-multi", "--replay", "demo:a2-node1")
    text = script.read_text()
    assert code == 0, text
    for name in ("HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"):
        assert f"export {name}=enp189s0f0" in text
        assert f"export {name}=eth0" in text.splitlines()[2]  # the undo line
    # Inert at the stack (nothing starts TensorPipe) and unset with HCCL's default 200: nothing to export.
    assert "TP_SOCKET_IFNAME" not in text and "HCCL_BUFFSIZE" not in text


def test_node0_with_several_up_nics_lists_them_and_exits_1(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from net_fakes import NIC, NODE0_IP, FakeNic, Scenario, lo

    nics = [lo(), FakeNic(NIC, (NODE0_IP,)), FakeNic("eth0", ("192.168.100.11",))]
    scenario = Scenario({}, nics, node_rank=0, hostname="npu-a2-01", resolves_to=(NODE0_IP,))
    snap = scenario.writer().write(tmp_path / "snap")
    args = ("--profile", "a2-multi", "--node-rank", "0", "--replay", str(snap))
    code, script = fix_script(tmp_path, *args)
    text = script.read_text()
    assert code == 1, text
    assert f"# NOT FIXED: several up NICs could carry HCCL_IF_IP: {NODE0_IP} ({NIC}), 192.168.100.11 (eth0)" in text
    exported = [line.split("=")[0] for line in text.splitlines() if line.startswith("export ")]
    assert "export HCCL_IF_IP" not in exported and "export HCCL_SOCKET_IFNAME" not in exported
    # Node 0's address given: its NIC is known, nothing is guessed.
    code, script = fix_script(tmp_path, *args, "--node0-ip", NODE0_IP)
    assert (
        f"export HCCL_IF_IP={NODE0_IP}" in script.read_text()
        and f"export HCCL_SOCKET_IFNAME={NIC}" in script.read_text()
    )


@pytest.mark.netns
@pytest.mark.slow
def test_two_node_exports_make_net_interfaces_pass_in_a_namespace(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from netns import NET_VARS, NODE0_IP, netns_pair, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    env = {k: v for k, v in clean_env().items() if k not in NET_VARS}
    env.update(HCCL_SOCKET_IFNAME="eth0", GLOO_SOCKET_IFNAME="docker0", HCCL_IF_IP="192.0.2.7")
    args = ("--profile", "a2-multi", "--node-rank", "1", "--node0-ip", NODE0_IP)
    checks = "--check env.vars --check net.interfaces --format json"
    with netns_pair() as pair:
        prefix = ("ip", "netns", "exec", pair.node1.netns)
        generated = in_bash(f"exec {sys.executable} -m glm5check fix-env {' '.join(args)}", env, prefix)
        assert_no_traceback(generated)
        assert generated.returncode == 0, generated.stdout + generated.stderr
        script = tmp_path / "fix.sh"
        script.write_text(generated.stdout)
        assert f"export HCCL_IF_IP={pair.node1.address}" in generated.stdout
        done = in_bash(f"source {script} && exec {sys.executable} -m glm5check {' '.join(args)} {checks}", env, prefix)
    report = json.loads(done.stdout)
    assert set(statuses(report, "env.vars").values()) == {"pass"}
    net = statuses(report, "net.interfaces")
    assert {net[name] for name in ("HCCL_IF_IP", "HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME")} == {"pass"}
    assert "fail" not in net.values(), net


# -- the script is data: quoting, refusals, and a fuzz of what sourcing it does ---------------------------

CANARY = "glm5check-canary"
# Fragments that run a command when a value or a comment is not quoted: each would create CANARY.
INJECTIONS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY}; "',
    f"\ntouch {CANARY}\n",
    f"\r\ntouch {CANARY}",
    f"\\\ntouch {CANARY}",
    f"; touch {CANARY} #",
    f"|touch {CANARY}",
    f"&& touch {CANARY}",
    f"<(touch {CANARY})",
    f"\u2028touch {CANARY}",
    "$HOME ${PATH} $((1+1)) !! * ~ \\ ' \" \t",
    "\x1b[31m\x1b]0;title\x07",
]
UNDECODABLE = st.sampled_from([chr(0xDC00 + b) for b in range(0x80, 0x100)])  # bytes that are not UTF-8
VALUE_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=12)
VALUES = st.lists(st.one_of(VALUE_TEXT, st.sampled_from(INJECTIONS), UNDECODABLE), max_size=4).map("".join)
COMMENT_TEXT = st.lists(st.one_of(st.text(max_size=10), st.sampled_from(INJECTIONS)), max_size=3).map("".join)
NAMES = st.from_regex(r"GLM5_FUZZ_[A-Za-z0-9_]{1,8}", fullmatch=True)


def _env_dump(chunk: bytes) -> dict[bytes, bytes]:
    pairs = [item.partition(b"=") for item in chunk.split(b"\0") if item]
    return {name: value for name, _, value in pairs}


def _source_and_dump(script: bytes, env: dict[str, str]) -> tuple[list[dict[bytes, bytes]], bytes, list[str]]:
    """Environments before sourcing, after sourcing and after the undo function, as `env -0` prints
    them; bash's stderr; the files left in the working folder."""
    assert BASH is not None
    marker = b"\0--glm5check--\0"
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "fix.sh").write_bytes(script)
        done = subprocess.run(
            [BASH, "--noprofile", "--norc", "-c", "env -0; printf '\\0--glm5check--\\0'; source ./fix.sh; env -0;"
             " printf '\\0--glm5check--\\0'; glm5check_fix_env_undo; env -0; :"],
            capture_output=True, env=env, cwd=folder, timeout=30, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        left = sorted(p.name for p in Path(folder).iterdir() if p.name != "fix.sh")
    return [_env_dump(chunk) for chunk in done.stdout.split(marker)], done.stderr, left


@given(
    exports=st.dictionaries(NAMES, VALUES, max_size=4),
    previous=st.lists(st.one_of(st.none(), VALUES), min_size=4, max_size=4),
    header=COMMENT_TEXT,
    comments=st.lists(COMMENT_TEXT, min_size=3, max_size=3),
)
@pytest.mark.slow
def test_sourcing_sets_exactly_the_values_and_runs_nothing(
    exports: dict[str, str], previous: list[str | None], header: str, comments: list[str]
) -> None:
    from glm5check.commands.fix_env import script_bytes, script_text
    from glm5check.remedy import EnvFixes as FixPlan

    before = dict(zip(exports, previous))
    fixes = FixPlan(
        exports=exports,
        reasons={name: comments[0] for name in exports},
        notes=[comments[1]],
        previous=before,
    )
    script = script_bytes(script_text(header, fixes, [(f"[{comments[2]}]", comments[2], comments[0])]))
    env = {"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8", **{k: v for k, v in before.items() if v is not None}}
    (initial, sourced, undone), stderr, left = _source_and_dump(script, env)
    expected = {**initial, **{os.fsencode(k): os.fsencode(v) for k, v in exports.items()}}
    assert sourced == expected
    assert undone == initial
    assert stderr == b"" and left == [], (stderr, left)


@given(name=st.one_of(st.text(max_size=10), st.sampled_from(["PROMPT_COMMAND", "BASH_FUNC_x%%", "LD_PRELOAD", "A"])))
def test_export_line_refuses_what_is_not_a_safe_name(name: str) -> None:
    import re

    from glm5check.reports.shell import RUNS_CODE, UnsafeScript, export_line

    safe = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name not in RUNS_CODE
    if safe and not name.startswith("BASH_FUNC_"):
        assert export_line(name, "v") == f"export {name}=v"
    else:
        with pytest.raises(UnsafeScript):
            export_line(name, "v")


def test_a_nul_byte_cannot_be_exported() -> None:
    from glm5check.reports.shell import UnsafeScript, export_line

    with pytest.raises(UnsafeScript, match="NUL byte"):
        export_line("HCCL_BUFFSIZE", "20\x000")


def _hostile_profile(tmp_path: Path, env_table: str) -> Path:
    path = tmp_path / "hostile.toml"
    path.write_text(f'extends = "a2-single"\n\n[env]\n{env_table}\n', encoding="utf-8")
    return path


@pytest.mark.slow
def test_hostile_profile_values_are_exported_verbatim_and_run_nothing(tmp_path: Path) -> None:
    value = f'$(touch {CANARY})\n`touch {CANARY}`; \'"x" \x1b[31m'
    profile = _hostile_profile(tmp_path, f"HCCL_OP_EXPANSION_MODE = {json.dumps(value)}")
    code, script = fix_script(tmp_path, "--profile-file", str(profile))
    assert code == 0
    done = in_bash(f'cd {tmp_path} && source {script} && printf %s "$HCCL_OP_EXPANSION_MODE"', clean_env())
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout == value
    assert not (tmp_path / CANARY).exists()


@pytest.mark.slow
def test_a_newline_in_a_serve_script_export_stays_inside_its_comment(tmp_path: Path) -> None:
    launch = tmp_path / "serve.sh"
    text = (FIXTURES / "serve-scripts" / "a2-single.sh").read_text()
    launch.write_text(text.replace("HCCL_BUFFSIZE=200", f'HCCL_BUFFSIZE="100\ntouch {CANARY}"'))
    code, script = fix_script(tmp_path, "--profile", "a2-single", "--serve-script", str(launch))
    assert code == 1
    assert all(
        line.startswith(("#", "export ", "glm5check_fix_env_undo()")) for line in script.read_text().splitlines()
    )
    done = in_bash(f"cd {tmp_path} && source {script}", clean_env())
    assert done.returncode == 0 and not (tmp_path / CANARY).exists(), done.stderr


@pytest.mark.parametrize(
    ("env_table", "message"),
    [
        ('"HCCL;touch x" = "1"', "'HCCL;touch x' has a name that is not a variable name"),
        ('HCCL_BUFFSIZE = "2\\u00000"', "'HCCL_BUFFSIZE' has a NUL byte"),
        ('PROMPT_COMMAND = "touch x"', "fix-env refuses to export PROMPT_COMMAND: the shell or a program would run"),
    ],
)
def test_what_cannot_be_exported_safely_is_exit_2(tmp_path: Path, env_table: str, message: str) -> None:
    done = run_in_process("fix-env", "--profile-file", str(_hostile_profile(tmp_path, env_table)), env=clean_env())
    assert_no_traceback(done)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("glm5check: error: ") and message in done.stderr, done.stderr
