"""The command line: fast --version, the catalogue commands, usage errors."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import click
import pytest
from conftest import assert_no_traceback, run_cli, run_in_process

from glm5check import __version__
from glm5check.engine.registry import load_registry

HEAVY = ("git", "tabulate", "psutil", "vllm", "torch", "torch_npu", "vllm_ascend", "transformers")


def test_version_imports_nothing_heavy() -> None:
    probe = (
        "import sys\n"
        "from glm5check.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as exc:\n    code = exc.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, code)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines()[0] == f"glm5check {__version__}"
    assert result.stdout.splitlines()[1] == "HEAVY [] 0"


def test_version_importtime_has_no_heavy_module() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "glm5check", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def _collector_after(command: str) -> list[str]:
    """What the console entry leaves of the garbage collector, seen from an atexit handler (which runs
    after entry.main returned): enabled, and whether start-up objects were frozen."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('GC', gc.isenabled(), gc.get_freeze_count() > 10000, file=sys.stderr))\n"
        f"sys.argv = ['glm5check', *{command.split()!r}]\n"
        "from glm5check.entry import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    return [line for line in result.stderr.splitlines() if line.startswith("GC ")]


@pytest.mark.parametrize("command", ["--profile a2-multi --replay demo --check packages.python", "checks", "plan -h"])
def test_the_console_entry_gives_the_collector_back_after_start_up(command: str) -> None:
    """heap.pause() keeps the collector off while glm5check and the check modules are imported; the run,
    a subcommand and a command that ends early all end with it on and the start-up objects frozen."""
    assert _collector_after(command) == ["GC True True"]


def test_importing_glm5check_leaves_the_collector_alone() -> None:
    from glm5check.util import heap

    assert gc.isenabled()
    heap.resume()  # without pause (a program using glm5check): no freeze, nothing changed
    assert gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.slow
def test_checks_lists_every_registered_check() -> None:
    result = run_cli("checks", "--format", "json")
    assert result.returncode == 0
    listed = json.loads(result.stdout)
    registry = load_registry()
    assert [c["id"] for c in listed] == [c.id for c in registry.checks]
    assert {"env.vars", "host.shm", "host.resources"} <= {c["id"] for c in listed}
    table = run_cli("checks")
    assert "env.vars" in table.stdout and "host.shm" in table.stdout


@pytest.mark.slow
def test_explain_prints_why_what_and_fix() -> None:
    result = run_cli("explain", "host.shm")
    assert result.returncode == 0
    assert result.stdout.startswith("host.shm — /dev/shm size and free space")
    assert "Why:" in result.stdout and "Fix:" in result.stdout and "--shm-size=1g" in result.stdout


@pytest.mark.slow
def test_explain_unknown_check_exits_2() -> None:
    result = run_cli("explain", "host.nope")
    assert result.returncode == 2
    assert_no_traceback(result)
    assert result.stderr.startswith("glm5check: error: no check 'host.nope' (did you mean host.")


def test_every_check_has_title_explain_and_a_fix() -> None:
    registry = load_registry()
    for check in registry.checks:
        assert check.title and len(check.title) < 80, check.id
        assert "Why" in check.explain and "Fix" in check.explain, check.id


@pytest.mark.slow
def test_bad_option_value_is_one_line() -> None:
    result = run_cli("--profile", "a2-single", "--format", "yaml")
    assert result.returncode == 2
    assert_no_traceback(result)
    assert len(result.stderr.strip().splitlines()) == 1 and "yaml" in result.stderr


@pytest.mark.slow
def test_bad_expect_is_one_line() -> None:
    result = run_cli("--profile", "a2-single", "--replay", "demo", "--expect", "vllm")
    assert result.returncode == 2
    assert result.stderr.strip() == "glm5check: error: --expect takes NAME=COMMIT (e.g. vllm=978a37c8), not 'vllm'"


@pytest.mark.slow
def test_expect_of_an_unchecked_package_or_a_non_hex_commit_exits_2() -> None:
    cases = {
        "numpy=978a37c8": "glm5check: error: --expect 'numpy=978a37c8': glm5check checks the commit of vllm, "
        "vllm-ascend, transformers only",
        "vllm=main": "glm5check: error: --expect 'vllm=main': 'main' is not a commit id (7 to 40 hex digits)",
        "vllm_ascend=ff3a5": "glm5check: error: --expect 'vllm_ascend=ff3a5': 'ff3a5' is not a commit id "
        "(7 to 40 hex digits)",
    }
    for value, line in cases.items():
        result = run_cli("--profile", "a2-single", "--replay", "demo", "--expect", value)
        assert (result.returncode, result.stderr.strip()) == (2, line)
    accepted = run_cli(
        "--profile", "a2-multi", "--replay", "demo", "--check", "packages.vllm*", "--expect", "VLLM_Ascend=FF3A50D0"
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


@pytest.mark.slow
def test_unwritable_output_exits_2(tmp_path) -> None:
    target = tmp_path / "no-such-dir" / "report.json"
    result = run_cli("--replay", "demo", "--format", "json", "--output", str(target))
    assert result.returncode == 2
    assert_no_traceback(result)
    assert result.stderr.strip().startswith(f"glm5check: error: cannot write {target}")


def _all_commands() -> dict[str, click.Command]:
    from glm5check.cli import LAZY_COMMANDS, cli

    found: dict[str, click.Command] = {}
    pending: list[tuple[str, click.Command]] = [("glm5check", cli)]
    while pending:
        name, command = pending.pop()
        found[name] = command
        if isinstance(command, click.Group):
            context = click.Context(command)
            for sub in sorted(set(command.list_commands(context)) | set(LAZY_COMMANDS if command is cli else ())):
                child = command.get_command(context, sub)
                if child is not None:
                    pending.append((f"{name} {sub}", child))
    return found


def test_every_numeric_option_is_bounded() -> None:
    """No option reads a number with click's int/float types (they accept nan, inf and any size)."""
    from glm5check.commands.options import Bounded

    commands = _all_commands()
    assert {"glm5check fit", "glm5check fix-env", "glm5check snapshot"} <= set(commands)
    loose = [
        f"{name} {param.opts[0]}"
        for name, command in commands.items()
        for param in command.params
        if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType))
    ]
    bounded = [p for c in commands.values() for p in c.params if isinstance(p.type, Bounded)]
    assert not loose and len(bounded) >= 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--timeout", "inf"), "Invalid value for '--timeout': 'inf' must be a number in [0.1, 3600]"),
        (("--timeout", "nan"), "'nan' must be a number in [0.1, 3600]"),
        (("--timeout", "0"), "'0' must be a number in [0.1, 3600]"),
        (("--node-rank", "99999999999"), "'--node-rank': '99999999999' must be a whole number from 0 to 1023"),
        (("fit", "--tp", "10000000"), "'--tp': '10000000' must be a whole number from 1 to 64"),
        (("fit", "--gpu-memory-utilization", "nan"), "must be a number in (0, 1]"),
        (("fit", "--tp", "64", "--dp", "1024"), "tensor_parallel_size × data_parallel_size must be at most 8192"),
        (("fix-env", "--timeout", "-1"), "'-1' must be a number in [0.1, 3600]"),
    ],
)
@pytest.mark.slow
def test_numeric_options_out_of_range_exit_2_naming_the_option(args: tuple[str, ...], message: str) -> None:
    command = args if args[0] in ("fit", "fix-env") else ("--profile", "a2-single", "--replay", "demo", *args)
    result = run_cli(*command)
    assert result.returncode == 2
    assert_no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_no_arguments_prints_help_and_exits_0() -> None:
    result = run_in_process()
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("Usage: glm5check [OPTIONS] [COMMAND]")
    assert "--profile NAME" in result.stdout and "explain" in result.stdout


def test_a_real_usage_error_still_exits_2() -> None:
    for args in (("--no-such-option",), ("--strict",), ("--problems",)):
        result = run_in_process(*args)
        assert result.returncode == 2, args
        assert_no_traceback(result)
        assert result.stderr.startswith("glm5check: error: ") and len(result.stderr.strip().splitlines()) == 1


def test_explain_takes_an_id_with_its_item_as_the_table_prints_it() -> None:
    result = run_in_process("explain", "npu.hbm[NPU 3]")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "npu.hbm — HBM size and free HBM on every planned chip"
    assert lines[1].endswith("· item: NPU 3")
    assert run_in_process("explain", "npu.hbm").stdout.splitlines()[2:] == lines[2:]
    unknown = run_in_process("explain", "npu.nope[NPU 3]")
    assert unknown.returncode == 2 and "no check 'npu.nope'" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--node0-ip", "10.0.0.1; id"), "'10.0.0.1; id' is not a host name or an IP address"),
        (("--node0-ip", "-oProxyCommand=x"), "is not a host name or an IP address"),
        (("--node0-ip", ""), "is not a host name or an IP address"),
        (("--redact-salt", ""), "takes a key of printable characters, not empty"),
        (("--redact-salt", "ticket\n4711"), "takes a key of printable characters, not empty"),
    ],
)
def test_node0_address_and_redaction_key_are_checked_where_they_enter(args: tuple[str, ...], words: str) -> None:
    for command in ((), ("cluster", "--hosts", "n0,n1", "--dry-run")):
        done = run_in_process(*command, "--replay", "demo", *args) if not command else run_in_process(*command, *args)
        assert done.returncode == 2 and words in done.stderr, (command, done.stderr)


def test_good_node0_addresses_and_salts_are_taken() -> None:
    for address in ("10.20.0.11", "fe80::1%eth0", "npu-a2-01.example"):
        done = run_in_process("--replay", "demo:a2-node1", "--node0-ip", address, "--check", "net.node0")
        assert done.returncode in (0, 1), done.stderr
    assert run_in_process("--replay", "demo", "--redact-salt", "4711", "--check", "env.vars").returncode in (0, 1)
