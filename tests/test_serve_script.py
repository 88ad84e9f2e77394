"""The launch-script reader: the guide's six scripts, bash's quoting rules, and what is reported."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glm5check.knowledge.launch_command import ServeInputError, read_serve
from glm5check.knowledge.plan import resolve
from glm5check.knowledge.profiles import ServePlan, load_builtin
from glm5check.knowledge.stacks import load_stack
from glm5check.knowledge.vllm_defaults import ORDER, default_for
from glm5check.parsers.launch_script import parse_script
from glm5check.session import load_serve_script
from glm5check.util.numbers import human_whole

SCRIPTS = Path(__file__).resolve().parent.parent / "fixtures" / "serve-scripts"

NODE1 = {"headless": True, "data_parallel_start_rank": 1}
# (fixture, profile, address of node 0 filled into the guide's placeholders, node-specific expectations)
GUIDE_SCRIPTS = [
    ("a2-single.sh", "a2-single", None, {}),
    ("a3-single.sh", "a3-single", None, {}),
    ("a2-multi-node0.sh", "a2-multi", "10.20.0.11", {}),
    ("a2-multi-node1.sh", "a2-multi", "10.20.0.11", NODE1),
    ("a3-multi-node0.sh", "a3-multi", "192.168.100.1", {}),
    ("a3-multi-node1.sh", "a3-multi", "192.168.100.1", NODE1),
    # GLM5.md@2026-08-21-92616f3a64
    ("a3-single-w4a8-200k.sh", "a3-single-w4a8-200k", None, {}),
    ("a3-single-w8a8.sh", "a3-single-w8a8", None, {}),
    ("a3-multi-w8a8-node0.sh", "a3-multi-w8a8", "192.168.100.1", {}),
    ("a3-multi-w8a8-node1.sh", "a3-multi-w8a8", "192.168.100.1", NODE1),
    ("a3-multi-bf16-node0.sh", "a3-multi-bf16", "192.168.100.1", {}),
    ("a3-multi-bf16-node1.sh", "a3-multi-bf16", "192.168.100.1", NODE1),
    ("a2-single-w4a8.sh", "a2-single-w4a8", None, {}),
    ("a2-multi-w4a8-node0.sh", "a2-multi-w4a8", "10.20.0.11", {}),
    ("a2-multi-w4a8-node1.sh", "a2-multi-w4a8", "10.20.0.11", NODE1),
    ("glm51-a3-single-w4a8-200k.sh", "glm51-a3-single-w4a8-200k", None, {}),
    ("glm51-a3-single-w8a8.sh", "glm51-a3-single-w8a8", None, {}),
    ("glm51-a3-multi-bf16-node0.sh", "glm51-a3-multi-bf16", "192.168.100.1", {}),
    (
        "glm51-a3-multi-bf16-node1.sh",
        "glm51-a3-multi-bf16",
        "192.168.100.1",
        {"headless": True, "data_parallel_start_rank": 1},
    ),
]
NODE_SPECIFIC = {"data_parallel_address", "data_parallel_start_rank", "headless"}

GLM5_CONFIG = {"max_position_embeddings": 202752}


@pytest.mark.parametrize(("script", "profile_name", "node0", "node_values"), GUIDE_SCRIPTS)
def test_guide_script_parses_into_the_profile_plan(
    script: str, profile_name: str, node0: str | None, node_values: dict[str, object]
) -> None:
    """The script alone (vLLM's defaults for what it leaves out, nothing of the profile) gives the
    profile's plan: every value the profile sets comes from a line of the script."""
    profile = load_builtin(profile_name)
    serve = load_serve_script(profile, SCRIPTS / script)
    assert serve.problems == ()
    assert serve.model_path == profile.model.path
    effective = resolve(serve, GLM5_CONFIG)
    for f in fields(ServePlan):
        observed, expected = getattr(effective.plan, f.name), getattr(profile.serve, f.name)
        if f.name == "data_parallel_address" and node0 is not None:
            assert observed == node0 and effective.source(f.name).startswith("script line ")
        elif f.name in node_values:
            assert observed == node_values[f.name], f.name
        elif expected is not None:
            assert observed == expected, f"{script}: {f.name} = {observed!r}, profile {expected!r}"
            from_script = effective.source(f.name).startswith("script line ")
            assert from_script or expected == default_for(f.name, GLM5_CONFIG)[0], f.name
        else:  # the guide passes no flag: vLLM's default
            assert effective.source(f.name).startswith("vllm default"), f.name


@pytest.mark.parametrize(("script", "profile_name", "node0", "node_values"), GUIDE_SCRIPTS)
def test_guide_script_exports_are_the_profile_environment(
    script: str, profile_name: str, node0: str | None, node_values: dict[str, object]
) -> None:
    profile = load_builtin(profile_name)
    serve = load_serve_script(profile, SCRIPTS / script)
    for name, value in profile.env.items():
        assert serve.env[name] == value
    assert set(serve.env) == set(profile.env) | set(profile.node_env)
    if profile.multi_node:
        assert serve.env["GLOO_SOCKET_IFNAME"] == serve.env["HCCL_SOCKET_IFNAME"] == serve.env["TP_SOCKET_IFNAME"]
        assert serve.env["HCCL_IF_IP"].count(".") == 3
        assert serve.env_sources["HCCL_IF_IP"].startswith("script line ")


def test_line_numbers_point_at_the_flag() -> None:
    text = (SCRIPTS / "a2-multi-node1.sh").read_text()
    serve = load_serve_script(load_builtin("a2-multi"), SCRIPTS / "a2-multi-node1.sh")
    line = int(serve.sources["data_parallel_rpc_port"].rsplit(" ", 1)[1])
    assert text.splitlines()[line - 1] == "--data-parallel-rpc-port 13389 \\"
    line = int(serve.env_sources["HCCL_IF_IP"].rsplit(" ", 1)[1])
    assert text.splitlines()[line - 1] == "export HCCL_IF_IP=$local_ip"


def test_quotes_comments_and_expansion_follow_bash() -> None:
    parsed = parse_script(
        "name=world  # a comment\n"
        "export A=\"hello $name\" B='$name' C=${name}x D=a#b\n"
        'export E="x \\"q\\" $name"\n'
        "vllm serve /m \\\n"
        '  --served-model-name "$name" \\\n'
        "  # --tensor-parallel-size 4 \\\n"
        "  --port 1\n"
    )
    assert parsed.exports == {"A": "hello world", "B": "$name", "C": "worldx", "D": "a#b", "E": 'x "q" world'}
    assert parsed.command is not None
    assert [w.text for w in parsed.command.words] == ["/m", "--served-model-name", "world"]


def test_unquoted_expansion_is_split_into_words() -> None:
    parsed = parse_script('flags="--port 9000  --seed 7"\nvllm serve /m $flags\n')
    assert parsed.command is not None
    assert [w.text for w in parsed.command.words] == ["/m", "--port", "9000", "--seed", "7"]


def test_statement_separators_redirections_and_prefixes() -> None:
    parsed = parse_script(
        "set -e; cd /work && VLLM_USE_V1=1 nohup /usr/local/bin/vllm serve /m --port 1 > serve.log 2>&1 &\n"
        "echo started | tee -a out.txt\n"
    )
    assert parsed.command is not None
    assert [w.text for w in parsed.command.words] == ["/m", "--port", "1"]
    assert parsed.command.env == {"VLLM_USE_V1": "1"}
    assert parsed.exports == {"VLLM_USE_V1": "1"}


def test_python_module_form_is_a_serve_command() -> None:
    parsed = parse_script("python3 -m vllm.entrypoints.openai.api_server --model /m --port 1\n")
    assert parsed.command is not None and parsed.command.program.startswith("python -m")
    assert [w.text for w in parsed.command.words] == ["--model", "/m", "--port", "1"]


def test_run_time_values_are_kept_as_written_not_guessed() -> None:
    parsed = parse_script(
        "local_ip=$(hostname -I | awk '{print $1}')\n"
        "export HCCL_IF_IP=$local_ip\n"
        "export LD_LIBRARY_PATH=/opt/lib:$LD_LIBRARY_PATH\n"
        "export X=${UNSET_VAR:-default}\n"
        "source /usr/local/Ascend/ascend-toolkit/set_env.sh\n"
        "if true; then echo; fi\n"
        "vllm serve /m --data-parallel-address $node0_ip\n"
    )
    assert parsed.exports == {}
    assert set(parsed.unknown_exports) == {"HCCL_IF_IP", "LD_LIBRARY_PATH", "X"}
    assert parsed.runtime["local_ip"].text == "$(hostname -I | awk '{print $1}')"
    assert (parsed.runtime["HCCL_IF_IP"].text, parsed.runtime["HCCL_IF_IP"].line) == ("$local_ip", 2)
    assert parsed.runtime["HCCL_IF_IP"].parts == ("local_ip",)
    assert parsed.runtime["LD_LIBRARY_PATH"].text == "/opt/lib:$LD_LIBRARY_PATH"
    assert parsed.runtime["X"].parts == ("${UNSET_VAR:-default}",)
    assert parsed.sourced == (("/usr/local/Ascend/ascend-toolkit/set_env.sh", 5),)
    assert [(p.kind, p.name) for p in parsed.problems] == [("unsupported", "if")]
    assert parsed.command is not None
    assert parsed.command.words[-1].unresolved == ("node0_ip",)


def test_unterminated_quote_is_a_syntax_problem() -> None:
    parsed = parse_script('vllm serve /m --speculative-config \'{"method": 1}\n')
    assert any(p.kind == "syntax" and "never closed" in p.message for p in parsed.problems)


def test_second_serve_command_is_reported() -> None:
    parsed = parse_script("vllm serve /a --port 1\nvllm serve /b --port 2\n")
    assert parsed.command is not None and parsed.command.words[0].text == "/a"
    assert [p.kind for p in parsed.problems] == ["duplicate"]


def test_read_serve_errors_are_one_line(tmp_path: Path) -> None:
    profile = load_builtin("a2-single")
    with pytest.raises(ServeInputError, match="cannot read serve script"):
        load_serve_script(profile, tmp_path / "missing.sh")
    empty = tmp_path / "empty.sh"
    empty.write_text("export A=1\necho hi\n")
    with pytest.raises(ServeInputError, match="no `vllm serve` command"):
        load_serve_script(profile, empty)
    with pytest.raises(ServeInputError, match="not both"):
        read_serve(profile, "vllm serve /m", "vllm serve /m")


def test_serve_cmd_and_no_input() -> None:
    profile = load_builtin("a2-single")
    serve = read_serve(profile, command="vllm serve /x -tp 4 --max-model-len 64k --no-enable-prefix-caching")
    assert serve.given == {"tensor_parallel_size": 4, "max_model_len": 64000, "enable_prefix_caching": False}
    assert serve.sources["tensor_parallel_size"] == "--serve-cmd line 1"
    assert serve.model_path == "/x" and serve.model_source == "--serve-cmd line 1"
    plain = read_serve(profile)
    assert not plain.from_script and set(plain.sources.values()) == {"profile"}
    effective = resolve(plain, GLM5_CONFIG)
    for f in fields(ServePlan):
        if getattr(profile.serve, f.name) is not None:
            assert getattr(effective.plan, f.name) == getattr(profile.serve, f.name)
            assert effective.source(f.name) == "profile"


def test_every_plan_field_has_a_vllm_default() -> None:
    assert sorted(ORDER) == sorted(f.name for f in fields(ServePlan))


def test_dotted_json_flags_and_aliases() -> None:
    serve = read_serve(
        load_builtin("a2-single"),
        command="vllm serve /x --compilation-config.cudagraph_mode FULL --speculative_config.method=mtp -ep -O3",
    )
    assert serve.given["compilation_config"] == {"cudagraph_mode": "FULL"}
    assert serve.given["speculative_config"] == {"method": "mtp"}
    assert serve.given["enable_expert_parallel"] is True
    assert serve.flag_values()["--optimization-level"] == "3"
    assert serve.problems == ()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("32768", 32768),
        ("32k", 32000),
        ("32K", 32768),
        ("1.5m", 1500000),
        ("2G", 2 << 30),
        ("1.5K", None),  # vLLM: "Decimals are not allowed with binary suffixes like K"
        ("x", None),
        ("", None),
    ],
)
def test_human_readable_integers(text: str, value: int | None) -> None:
    assert human_whole(text) == value


@given(st.text(alphabet=st.sampled_from(list("ab$'\"\\#;&|<>{}()= \n-xvllmserv`.=0")), max_size=120))
def test_parser_never_raises(text: str) -> None:
    parsed = parse_script(text)
    assert isinstance(parsed.problems, tuple)


@given(st.text(max_size=200))
def test_parser_never_raises_on_any_text(text: str) -> None:
    parse_script("vllm serve " + text)


_FLAG_WORDS = st.sampled_from(
    ["--tensor-parallel-size", "-tp", "--max-model-len", "8", "32k", "x", "--no-enable-prefix-caching",
     "--speculative-config", "'{\"method\": 1}'", "{", "--compilation-config.cudagraph_mode", "-O3", "--x=y",
     "--headless", "$v", "-1", "--served-model-name", "--api-key", "=", "--gpu-memory-utilization", "0.9"]
)  # fmt: skip


@given(st.lists(_FLAG_WORDS, max_size=30))
def test_command_reading_never_raises(words: list[str]) -> None:
    serve = read_serve(load_builtin("a2-multi"), command="vllm serve /m " + " ".join(words))
    assert all(p.message for p in serve.problems)


# ---------------------------------------------------------------------------------------------------
# No code path runs a shell or evaluates script text.

PACKAGE_DIRS = [
    Path(__file__).resolve().parent.parent / "glm5check",
    Path(__file__).resolve().parent.parent / "checks",
]
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "/bin/sh", "/bin/bash", "/usr/bin/bash", "/usr/bin/env"}


def _shell_uses(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            if isinstance(func, ast.Name) and name in ("eval", "exec"):
                found.append(f"{name}()")
            if owner == "os" and (name in ("system", "popen") or name.startswith(("spawn", "exec"))):
                found.append(f"os.{name}()")
            for keyword in node.keywords:
                if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value):
                    found.append("shell=...")
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            first = node.elts[0]
            if isinstance(first, ast.Constant) and first.value in _SHELLS:
                found.append(f"argv starting with {first.value!r}")
    return found


def test_no_code_path_runs_a_shell_or_evaluates_text() -> None:
    offenders = {}
    files = [path for folder in PACKAGE_DIRS for path in folder.rglob("*.py")]
    assert len(files) > 20
    for path in files:
        uses = _shell_uses(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        if uses:
            offenders[str(path)] = uses
    assert offenders == {}


def test_the_scan_finds_what_it_looks_for() -> None:
    sample = "import os, subprocess\neval('1')\nos.system('x')\nsubprocess.run('x', shell=True)\nrun(['bash', '-c'])\n"
    assert _shell_uses(ast.parse(sample)) == [
        "eval()",
        "os.system()",
        "shell=...",
        "argv starting with 'bash'",
    ]


def test_here_document_bodies_are_data_not_script_lines() -> None:
    parsed = parse_script(
        "cat > /tmp/rank_table.json <<EOF\n"
        '{"export": "A=1", "vllm serve": "x $nope"}\n'
        "EOF\n"
        "cat <<-'END' | tee log\n"
        "\texport B=2\n"
        "\tEND\n"
        "export C=3\n"
        "vllm serve /m --port 1\n"
    )
    assert parsed.exports == {"C": "3"}
    assert parsed.problems == ()
    assert parsed.command is not None and parsed.command.line == 8


def test_a_fifo_or_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "serve.fifo"
    os.mkfifo(fifo)
    profile = load_builtin("a2-single")
    with pytest.raises(ServeInputError, match="FIFO"):
        load_serve_script(profile, fifo)
    with pytest.raises(ServeInputError, match="directory"):
        load_serve_script(profile, tmp_path)


@pytest.mark.parametrize(
    ("line", "env"),
    [
        ("numactl --cpunodebind=0 --membind=0 vllm serve /m --port 1", {}),
        ("taskset -c 0-47 nohup vllm serve /m --port 1 &", {}),
        ("sudo -E env HCCL_BUFFSIZE=200 vllm serve /m --port 1", {"HCCL_BUFFSIZE": "200"}),
        ("timeout 3600 python3 -u -m vllm.entrypoints.openai.api_server /m --port 1", {}),
    ],
)
def test_launchers_before_vllm_serve(line: str, env: dict[str, str]) -> None:
    parsed = parse_script(line + "\n")
    assert parsed.command is not None, line
    assert [w.text for w in parsed.command.words][-2:] == ["--port", "1"]
    assert parsed.command.env == env


def test_a_command_that_only_mentions_vllm_serve_is_not_it() -> None:
    parsed = parse_script("echo vllm serve is starting\nlogger -t x vllm serve\n")
    assert parsed.command is None


def test_run_time_flag_values_are_kept_for_this_host_and_shown_as_written() -> None:
    profile = load_builtin("a2-multi")
    serve = read_serve(profile, command="vllm serve /m --data-parallel-address $node0_ip --port=${PORT}")
    assert "data_parallel_address" not in serve.given and "port" not in serve.given
    assert {name: value.text for name, value in serve.runtime_flags.items()} == {
        "data_parallel_address": "$node0_ip",
        "port": "$PORT",
    }
    assert [(f.flag, f.value, f.unresolved) for f in serve.flags] == [
        ("--data-parallel-address", "$node0_ip", ("node0_ip",)),
        ("--port", "$PORT", ("PORT",)),
    ]
    assert serve.problems == ()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--tensor-parallel-size", "10000000", "must be a whole number from 1 to 64"),
        ("--data-parallel-size", "99999", "must be a whole number from 1 to 1024"),
        ("--max-model-len", "1G", "must be a whole number from 1 to 16777216"),
        ("--max-num-seqs", "0", "must be a whole number from 1 to 65536"),
        ("--seed", "-1", "must be a whole number from 0 to 4294967295"),
        ("--gpu-memory-utilization", "nan", "not a number"),
        ("--gpu-memory-utilization", "inf", "not a number"),
        ("--gpu-memory-utilization", "1.5", "must be a fraction in (0, 1]"),
        ("--tensor-parallel-size", "9" * 5000, "not a whole number"),
    ],
)
def test_launch_command_numbers_out_of_range_are_problems(flag: str, value: str, message: str) -> None:
    """The value is not given to the plan, so no check computes with it; serve.args reports the problem."""
    serve = read_serve(load_builtin("a2-single"), command=f"vllm serve /models/GLM-5 {flag} {value}")
    assert flag[2:].replace("-", "_") not in serve.given
    assert [p.kind for p in serve.problems] == ["invalid-value"]
    assert message in serve.problems[0].message and serve.problems[0].flag == flag


# -- the flag table is the selected stack's ------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "stack", "unknown", "message"),
    [
        # gone from vLLM 0.17.0 (deprecated at the pin), 0.18.0 and 0.19.1 (docs/stacks.md)
        ("--disable-log-requests", "glm5-2026-02", None, None),
        (
            "--disable-log-requests",
            "v0.17.0rc1",
            "--disable-log-requests",
            "line 1: --disable-log-requests is not a flag of vllm 0.17.0 (stack v0.17.0rc1)",
        ),
        ("--swap-space 4", "v0.17.0rc1", None, None),
        ("--swap-space 4", "v0.18.0", "--swap-space", "line 1: --swap-space is not a flag of vllm 0.18.0"),
        # -sc (short for --speculative-config) exists from 0.19.1
        ('-sc \'{"method": "deepseek_mtp", "num_speculative_tokens": 1}\'', "v0.19.1rc1", None, None),
        ('-sc \'{"method": "deepseek_mtp"}\'', "v0.18.0", "-sc", "-sc is not a flag of vllm 0.18.0"),
        ("--enable-expert-paralel", "v0.23.0", "--enable-expert-paralel", "did you mean --enable-expert-parallel?"),
    ],
)
def test_flags_are_judged_by_the_stacks_vllm(
    command: str, stack: str, unknown: str | None, message: str | None
) -> None:
    launch = read_serve(load_builtin("a2-single"), command=f"vllm serve /m {command}", stack=load_stack(stack))
    problems = [p for p in launch.problems if p.kind == "unknown-flag"]
    assert [p.flag for p in problems] == ([unknown] if unknown else [])
    if message:
        assert message in problems[0].message
    if command.startswith("-sc") and not unknown:
        assert launch.given["speculative_config"] == {"method": "deepseek_mtp", "num_speculative_tokens": 1}


def test_a_speculative_method_is_judged_by_the_stacks_vllm() -> None:
    command = 'vllm serve /m --speculative-config \'{"method": "ngram_gpu", "num_speculative_tokens": 2}\''
    pinned = read_serve(load_builtin("a2-single"), command=command)
    assert [p.message for p in pinned.problems] == [
        "--serve-cmd line 1: --speculative-config method 'ngram_gpu' is not a speculative method of the pinned vllm; "
        "did you mean ngram?"
    ]
    assert read_serve(load_builtin("a2-single"), command=command, stack=load_stack("v0.18.0")).problems == ()


def test_a_variable_doubled_past_the_limits_is_reported_not_expanded() -> None:
    from glm5check.parsers.launch_script import MAX_WORD_CHARS

    parsed = parse_script("A=x\n" + 'A="$A$A"\n' * 30 + "vllm serve /models/GLM-5 --served-model-name $A\n")
    assert any("holds a word longer than 64 KiB; it is not read" in p.message for p in parsed.problems)
    name = next(w.text for w in parsed.command.words if w.text.startswith("xx")) if parsed.command else ""
    assert 0 < len(name) <= MAX_WORD_CHARS


def test_a_statement_expanding_beyond_a_mib_is_not_read() -> None:
    big = "y" * 60_000
    parsed = parse_script(f"B={big}\nvllm serve /m " + "$B " * 40 + "\n")
    assert parsed.command is None
    assert any("expands to more than 1024 KiB" in p.message for p in parsed.problems)
