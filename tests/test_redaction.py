"""Redaction corpus: secrets planted in every place glm5check reads (environment names and values, URLs
with passwords, Authorization headers and --api-key flags in the serve command and script, keys in a
profile file, command outputs, copied files, process command lines) never appear in any output: the
table, JSON, JUnit, every file of a snapshot directory and of a .tar.gz, a replay of it, and compare."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, assert_no_traceback, clean_env, run_cli, write_executable

sys.path.insert(0, str(FIXTURES))
from hypothesis import given
from hypothesis import strategies as st
from make_checkpoint import make_checkpoint

from glm5check.util.redact import REDACTED, is_secret_name, redact_argv, redact_env, redact_text, redact_tree

# Each secret has a unique core that must never be printed. name -> secret value.
SECRETS = {
    "hf-token": "hf_RDXhfTokenQ9wPz3LmN8kVb7Yt2Rs",
    "modelscope-token": "ms-RDXmsTok4a7c2e9f1b3d",
    "aws-secret": "RDXawsSecret/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "aws-session": "RDXawsSessionFwoGZXIvYXdzEJr",
    "github-token": "ghp_RDXgithubTok0123456789abcdefABCDEF",
    "openai-key": "sk-RDXopenaiKey1234567890abcdef",
    "vllm-api-key-env": "RDXvllmEnvKey-5f2a9c",
    "db-password": "RDXdbPassw0rd!x",
    "pip-index-password": "RDXpipIdxPw77",
    "pip-extra-index-token": "RDXpipExtraTok88",
    "proxy-password": "RDXproxyPw99",
    "git-remote-token": "glpat-RDXgitlabTok1234",
    "direct-url-password": "RDXdirectUrlPw42",
    "bearer-in-serve-cmd": "RDXbearerServeCmd0a1b2c3d",
    "api-key-in-serve-cmd": "sk-RDXserveCmdKey9f8e7d6c",
    "api-key-in-script": "RDXscriptApiKey-7e6d5c",
    "token-export-in-script": "hf_RDXscriptExportTok55",
    "profile-env-key": "RDXprofileApiKey-3c2b1a",
    "profile-flag-in-value": "RDXprofileFlagSecret-11",
    "command-output-bearer": "RDXnpuSmiBearer-0f0e0d0c",
    "command-output-basic": "UkRYYmFzaWNVc2VyOlJEWGJhc2ljUGFzcw==",
    "copied-file-json-key": "RDXconfigJsonToken-77aa",
    "process-argv-api-key": "RDXprocessArgvKey-66bb",
    "value-in-innocent-var": "sk-RDXinnocentVar0123456789",
    "cookie": "RDXsessionCookie-abcdef123",
    # Shapes that leaked before redaction worked on tokens (issue 12, class 5).
    "underscore-flag": "RDXunderscoreFlag-41",
    "continued-flag-value": "RDXcontinuedValue-42",
    "multi-value-second": "RDXmultiValueTwo-43",
    "multi-value-third": "RDXmultiValueThree-44",
    "url-empty-user": "RDXemptyUserPw-45",
    "url-at-in-password": "RDX@atInPassword-46",
    "connection-account-key": "RDXaccountKey+47/Zw==",
    "connection-password": "RDXconnPassword-48",
    "mysql-pwd": "RDXmysqlPwd-49",
    "star-pass": "RDXsmtpPass-50",
    "process-curl-user": "RDXcurlUserPw-51",
    "process-mysql-attached": "RDXmysqlAttached-52",
    "process-sshpass": "RDXsshpassPw-53",
    "process-redis-cli": "RDXredisCliPw-54",
}

ENV = {
    "HF_TOKEN": SECRETS["hf-token"],
    "MODELSCOPE_API_TOKEN": SECRETS["modelscope-token"],
    "AWS_SECRET_ACCESS_KEY": SECRETS["aws-secret"],
    "AWS_SESSION_TOKEN": SECRETS["aws-session"],
    "GITHUB_TOKEN": SECRETS["github-token"],
    "OPENAI_API_KEY": SECRETS["openai-key"],
    "VLLM_API_KEY": SECRETS["vllm-api-key-env"],
    "DB_PASSWORD": SECRETS["db-password"],
    "PIP_INDEX_URL": f"https://builder:{SECRETS['pip-index-password']}@pypi.internal.example/simple",
    "PIP_EXTRA_INDEX_URL": f"https://__token__:{SECRETS['pip-extra-index-token']}@repo.example/simple",
    "HTTPS_PROXY": f"http://proxyuser:{SECRETS['proxy-password']}@proxy.example:3128",
    "VLLM_EXTRA_ARGS": f"--api-key {SECRETS['value-in-innocent-var']}",
    "HTTP_COOKIE": SECRETS["cookie"],
    "REDIS_URL": f"redis://:{SECRETS['url-empty-user']}@cache.internal:6379/0",
    "DATABASE_URL": f"postgres://app:{SECRETS['url-at-in-password']}@db.internal:5432/glm",
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=glm5;"
    f"AccountKey={SECRETS['connection-account-key']};EndpointSuffix=core.windows.net",
    "ODBC_DSN": f"Server=db.internal;Uid=sa;Password={SECRETS['connection-password']};",
    "MYSQL_PWD": SECRETS["mysql-pwd"],
    "SMTP_PASS": SECRETS["star-pass"],
}
# Other processes on the node, as `ps` would show them (seen by net.ports, recorded in snapshots).
PROCESSES = [
    ["curl", "-u", f"ops:{SECRETS['process-curl-user']}", "http://127.0.0.1:9/"],
    ["mysql", "-uroot", f"-p{SECRETS['process-mysql-attached']}", "glm"],
    ["sshpass", "-p", SECRETS["process-sshpass"], "ssh", "node1"],
    ["redis-cli", "-a", SECRETS["process-redis-cli"], "ping"],
]

SERVE_CMD = (
    "vllm serve /models/GLM-5 --tensor-parallel-size 8 --quantization ascend "
    f"--api-key {SECRETS['api-key-in-serve-cmd']} {SECRETS['multi-value-second']} {SECRETS['multi-value-third']} "
    f"--middleware 'Authorization: Bearer {SECRETS['bearer-in-serve-cmd']}'"
)

SERVE_SCRIPT = f"""#!/bin/bash
export HF_TOKEN={SECRETS["token-export-in-script"]}
export HCCL_BUFFSIZE=200
vllm serve /models/GLM-5 \\
  --tensor-parallel-size 8 \\
  --quantization ascend \\
  --api-key "{SECRETS["api-key-in-script"]}" \\
  --api_key {SECRETS["underscore-flag"]} \\
  --api-key \\
    {SECRETS["continued-flag-value"]} \\
  --port 8077
"""

PROFILE = f"""extends = "a2-multi"
name = "leaky"
description = "a profile holding secrets"

[env]
VLLM_API_KEY = "{SECRETS["profile-env-key"]}"
VLLM_ASCEND_EXTRA = "--token {SECRETS["profile-flag-in-value"]}"
"""


def _fake_python(folder: Path) -> Path:
    inventory_file = next((REPO / "glm5check" / "demo" / "a2-node0" / "commands").glob("*python3_-I_*.out"))
    inventory = json.loads(inventory_file.read_text(encoding="utf-8"))
    for dist in inventory["distributions"]:
        if dist.get("name") == "vllm":
            dist["direct_url"] = {
                "url": f"https://oauth2:{SECRETS['git-remote-token']}@gitlab.example/vllm.git",
                "vcs_info": {"vcs": "git", "commit_id": "978a37c82387ce4a40aaadddcdbaf4a06fc4d590"},
            }
        if dist.get("name") == "transformers":
            dist["direct_url"] = {
                "url": f"https://ci:{SECRETS['direct-url-password']}@files.example/transformers-5.2.0.tar.gz",
                "archive_info": {},
            }
    payload = folder / "inventory.json"
    folder.mkdir(parents=True, exist_ok=True)
    payload.write_text(json.dumps(inventory), encoding="utf-8")
    return write_executable(folder, "python3", f"#!/bin/sh\ncat {shlex.quote(str(payload))}\n")


def _fake_npu_smi(folder: Path) -> Path:
    sample = FIXTURES / "npu-smi-info" / "blog-atlas800IA2-8x910B4-25.0.rc1.1-fresh-install.txt"
    extra = folder / "npu-smi.extra"
    folder.mkdir(parents=True, exist_ok=True)
    extra.write_text(
        f"Authorization: Bearer {SECRETS['command-output-bearer']}\n"
        f"authorization: Basic {SECRETS['command-output-basic']}\n",
        encoding="utf-8",
    )
    return write_executable(folder, "npu-smi", f"#!/bin/sh\ncat '{sample}' '{extra}'\n")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("leaky-node")
    bin_dir = root / "bin"
    python = _fake_python(bin_dir)
    _fake_npu_smi(bin_dir)
    model = make_checkpoint(root / "GLM-5-w4a8", weights="w4a8", mtp="none", shards=2).path
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["hub_auth_token"] = SECRETS["copied-file-json-key"]
    (model / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (root / "leaky.toml").write_text(PROFILE, encoding="utf-8")
    (root / "serve.sh").write_text(SERVE_SCRIPT, encoding="utf-8")
    common = [
        "--profile-file",
        str(root / "leaky.toml"),
        "--python",
        str(python),
        "--model-dir",
        str(model),
        "--node-rank",
        "0",
        "--node0-ip",
        "127.0.0.1",
        "--timeout",
        "5",
    ]
    env = clean_env(ENV, path_prepend=[bin_dir])
    # A process whose command line carries an API key, as a running vllm would (seen by net.ports).
    holder = subprocess.Popen(
        ["sh", "-c", "sleep 120", "vllm", "serve", "--api-key", SECRETS["process-argv-api-key"]], start_new_session=True
    )
    # `sh -c 'sleep 120; :' ARGS` keeps ARGS in the shell's own command line, as the program would have.
    others = [subprocess.Popen(["sh", "-c", "sleep 120; :", *argv], start_new_session=True) for argv in PROCESSES]
    outputs: dict[str, str] = {}
    try:

        def run(label: str, *args: str) -> None:
            result = run_cli(*args, env=env, cwd=root)
            assert_no_traceback(result)
            assert result.returncode in (0, 1), (label, result.stderr[-2000:])
            outputs[label] = result.stdout + result.stderr

        run("table", *common, "--serve-cmd", SERVE_CMD)
        run(
            "json",
            *common,
            "--serve-script",
            str(root / "serve.sh"),
            "--format",
            "json",
            "-o",
            str(root / "node0.json"),
        )
        run("junit", *common, "--serve-cmd", SERVE_CMD, "--format", "junit", "-o", str(root / "node0.xml"))
        run(
            "snapshot-dir",
            "snapshot",
            *common,
            "--serve-script",
            str(root / "serve.sh"),
            "-o",
            str(root / "snap"),
        )
        run("snapshot-tgz", "snapshot", *common, "--serve-cmd", SERVE_CMD, "-o", str(root / "snap.tar.gz"))
        run("replay", "--replay", str(root / "snap"), "--format", "json")
        run("replay-tgz", "--replay", str(root / "snap.tar.gz"))
        (root / "node1.json").write_text((root / "node0.json").read_text(encoding="utf-8"), encoding="utf-8")
        run("compare", "compare", str(root / "node0.json"), str(root / "node1.json"))
        run("compare-json", "compare", "--format", "json", str(root / "node0.json"), str(root / "node1.json"))
    finally:
        for process in (holder, *others):  # each in its own session: the shell and its sleep
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    outputs["json-file"] = (root / "node0.json").read_text(encoding="utf-8")
    outputs["junit-file"] = (root / "node0.xml").read_text(encoding="utf-8")
    for path in sorted((root / "snap").rglob("*")):
        if path.is_file():
            outputs[f"snapshot:{path.relative_to(root)}"] = path.read_bytes().decode("utf-8", "replace")
    with tarfile.open(root / "snap.tar.gz") as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member)
            if handle is not None:
                outputs[f"tgz:{member.name}"] = handle.read().decode("utf-8", "replace")
    return {"outputs": outputs, "root": root}


def test_the_corpus_has_at_least_twenty_shapes() -> None:
    assert len(SECRETS) >= 20
    assert len(set(SECRETS.values())) == len(SECRETS)


@pytest.mark.slow
def test_every_output_was_produced(node: dict[str, object]) -> None:
    outputs = node["outputs"]
    assert isinstance(outputs, dict)
    assert json.loads(outputs["json-file"])["schema"] == "glm5check.report/v1"
    assert "<testsuite" in outputs["junit-file"]
    assert any(label.startswith("snapshot:") and label.endswith("env.json") for label in outputs)
    assert any(label.startswith("tgz:") and label.endswith("report.json") for label in outputs)
    # The planted values were read: the redacted marker stands where they were.
    assert REDACTED in outputs["snapshot:snap/system/env.json"]
    assert "sleep 120" in "".join(v for k, v in outputs.items() if k.endswith("processes.json"))


@pytest.mark.parametrize("shape", list(SECRETS))
@pytest.mark.slow
def test_secret_never_appears(shape: str, node: dict[str, object]) -> None:
    secret = SECRETS[shape]
    outputs = node["outputs"]
    assert isinstance(outputs, dict)
    leaks = [label for label, text in outputs.items() if secret in text]
    assert not leaks, f"{shape} leaked into {leaks}"


# -- the redactor itself, shape by shape ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abcDEF123456", "abcDEF123456"),
        ("curl -H 'authorization: basic dXNlcjpwYXNz'", "dXNlcjpwYXNz"),
        ("pip install --index-url https://u:p4ssw0rd@host/simple x", "p4ssw0rd"),
        ("git+https://oauth2:glpat-xyz12345@gitlab.example/a.git", "glpat-xyz12345"),
        ("vllm serve m --api-key sk-abcdef123456", "sk-abcdef123456"),
        ('vllm serve m --api-key="quoted secret"', "quoted secret"),
        ('{"hub_auth_token": "tok-123456"}', "tok-123456"),
        ("hf_token: hf_abcdefghijklmnopqrstu", "hf_abcdefghijklmnopqrstu"),
        ("export AWS_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG'", "wJalrXUtnFEMI/K7MDENG"),
        ("token ghp_0123456789abcdefghijABCDEFGHIJ0123 in a log", "ghp_0123456789abcdefghijABCDEFGHIJ0123"),
        ("key AKIAIOSFODNN7EXAMPLE in a log", "AKIAIOSFODNN7EXAMPLE"),
    ],
)
def test_redact_text_masks(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_redact_text_keeps_ordinary_text() -> None:
    line = "HCCL_BUFFSIZE=200 --max-num-batched-tokens 4096 https://github.com/vllm-project/vllm.git"
    assert redact_text(line) == line


def test_redact_argv_masks_the_value_after_a_secret_flag() -> None:
    argv = ["vllm", "serve", "/m", "--api-key", "plainvalue42", "--port", "8000"]
    assert redact_argv(argv) == ["vllm", "serve", "/m", "--api-key", REDACTED, "--port", "8000"]


def test_redact_tree_masks_values_of_secret_names_wherever_they_repeat() -> None:
    report = {
        "profile": {"env": {"MY_API_KEY": "plain-looking-42"}},
        "results": [
            {
                "item": "MY_API_KEY",
                "expected": "plain-looking-42",
                "message": "MY_API_KEY is plain-looking-42",
            }
        ],
    }
    assert "plain-looking-42" not in json.dumps(redact_tree(report))


def test_redact_env_masks_secret_names_only() -> None:
    env = redact_env({"HF_TOKEN": "x1", "HCCL_BUFFSIZE": "200", "KEYTIMEOUT": "1"})
    assert env == {"HF_TOKEN": REDACTED, "HCCL_BUFFSIZE": "200", "KEYTIMEOUT": "1"}


def test_paths_under_secret_looking_names_are_not_masked_elsewhere() -> None:
    redact_env({"SSH_AUTH_SOCK": "/usr/local/ssh-agent.sock"})
    assert redact_text("driver in /usr/local/ssh-agent.sock/x") == "driver in /usr/local/ssh-agent.sock/x"


def test_a_redacted_config_json_still_parses_with_its_token_ids() -> None:
    config = {"eos_token_id": [154820, 154827], "pad_token_id": 154820, "max_position_embeddings": 202752}
    assert json.loads(redact_text(json.dumps(config, indent=2))) == config


def test_names_that_count_tokens_hold_no_secret() -> None:
    """A report's serve_sources maps max_num_batched_tokens to "profile": that word must not become a
    secret masked in every message."""
    report = {
        "profile": {"serve_sources": {"max_num_batched_tokens": "profile"}},
        "results": [{"message": "profile x"}],
    }
    assert redact_tree(report) == report
    assert redact_env({"HF_TOKEN": "x1", "VLLM_MAX_TOKENS": "4096"}) == {
        "HF_TOKEN": REDACTED,
        "VLLM_MAX_TOKENS": "4096",
    }


# -- tokens, not substrings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("HF_TOKEN", True),
        ("MYSQL_PWD", True),
        ("SMTP_PASS", True),
        ("AccountKey", True),
        ("SharedAccessSignature", True),
        ("X-Api-Key", True),
        ("hubAuthToken", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("client_secret", True),
        ("max_num_batched_tokens", False),  # counts tokens
        ("num_speculative_tokens", False),
        ("eos_token_id", False),  # a token's id, in every config.json
        ("num_key_value_heads", False),
        ("KEYTIMEOUT", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("PWD", False),  # the shell's working folder
        ("BYPASS_PROXY", False),
        ("HCCL_BUFFSIZE", False),
    ],
)
def test_names_are_judged_by_their_words(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_a_remembered_secret_is_masked_only_as_a_whole_token() -> None:
    redact_env({"GLM5_TEST_TOKEN": "abc123secret"})
    assert redact_text("key abc123secret here") == f"key {REDACTED} here"
    assert redact_text("xabc123secretx stays") == "xabc123secretx stays"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--api_key K1 --port 1", "--api_key '<redacted>' --port 1"),
        ("--api-key K1 K2 K3 --port 1", "--api-key '<redacted>' '<redacted>' '<redacted>' --port 1"),
        ("--hf-token T1 T2", "--hf-token '<redacted>' T2"),  # one value: not a multi-value flag
        ("--api-key \\\n    K1 \\\n  --port 1", "--api-key \\\n    '<redacted>' \\\n  --port 1"),
        ('--api-key="K 1" x', '--api-key="<redacted>" x'),
        ("--max-num-batched-tokens 4096", "--max-num-batched-tokens 4096"),
        ("--disable-api-key-check /models/x", "--disable-api-key-check /models/x"),
        ("https://:T@h/x https://u:p@ss@h/y", "https://<redacted>@h/x https://<redacted>@h/y"),
        ("AccountName=a;AccountKey=K==;Suffix=s", "AccountName=a;AccountKey='<redacted>';Suffix=s"),
        ("Server=s;Uid=sa;Password=P;", "Server=s;Uid=sa;Password='<redacted>';"),
        ("curl -u ops:P http://h", "curl -u '<redacted>' http://h"),
        ("mysql -uroot -pP db", "mysql -uroot -p'<redacted>' db"),
        ("sshpass -p P ssh h", "sshpass -p '<redacted>' ssh h"),
        ("redis-cli -a P ping", "redis-cli -a '<redacted>' ping"),
        ("docker run -p 8000:8000 img", "docker run -p 8000:8000 img"),
        ('"--token P"', '"--token <redacted>"'),  # a flag inside a TOML or JSON string
        ("--token P; echo next --port 1", "--token '<redacted>'; echo next --port 1"),
    ],
)
def test_flags_and_programs_are_read_as_shell_words(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_argv_reads_programs_and_multi_value_flags() -> None:
    assert redact_argv(["sh", "-c", "sleep 1; :", "redis-cli", "-a", "P", "ping"])[-2:] == [REDACTED, "ping"]
    assert redact_argv(["vllm", "serve", "--api-key", "A", "B", "--port", "1"]) == [
        "vllm", "serve", "--api-key", REDACTED, REDACTED, "--port", "1",
    ]  # fmt: skip
    assert redact_argv(["mysql", "--password=P", "-pQ"]) == ["mysql", f"--password={REDACTED}", f"-p{REDACTED}"]


def test_a_redacted_launch_script_reads_back_as_the_same_command() -> None:
    """Only the values change: no word is swallowed, no continuation lost, no redirection created."""
    from glm5check.parsers.launch_script import parse_script

    recorded = parse_script(SERVE_SCRIPT).command
    replayed = parse_script(redact_text(SERVE_SCRIPT)).command
    assert recorded is not None and replayed is not None
    before = [w.text for w in recorded.words]
    after = [w.text for w in replayed.words]
    assert len(after) == len(before) and after[-2:] == ["--port", "8077"]
    assert [b if a == REDACTED else a for a, b in zip(after, before)] == before
    assert after.count(REDACTED) == 3


def test_hosts_become_stable_pseudonyms_and_ids_stay() -> None:
    from glm5check.util.redact import HostRedactor

    report = {
        "node": {"hostname": "npu"},
        "results": [{"id": "npu.smi", "message": "npu at 10.20.0.12 and fe80::1a2b:3c4d%eth0 (2001:db8::5); npu."}],
        "facts": {"driver_version": "24.1.0.3", "bind": "0.0.0.0", "lo": "127.0.0.1 ::1"},
    }
    first = HostRedactor("ticket-42", ["npu"]).tree(report)
    second = HostRedactor("ticket-42", ["npu"]).tree(report)
    other = HostRedactor("another-ticket", ["npu"]).tree(report)
    assert first == second and first != other
    message = first["results"][0]["message"]
    assert first["results"][0]["id"] == "npu.smi" and first["facts"] == report["facts"]
    for original in ("10.20.0.12", "fe80::1a2b:3c4d", "2001:db8::5", "npu "):
        assert original not in message
    assert first["node"]["hostname"].startswith("host-") and message.startswith(first["node"]["hostname"])
    assert HostRedactor(None, ["npu"]).tree(report) != HostRedactor(None, ["npu"]).tree(report)  # random salt


# -- fuzz: a secret placed anywhere never reaches any output -------------------------------------------------

SECRET = st.text(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789-_.~+/=!%^*"), min_size=6)
SECRET = SECRET.map(lambda s: f"Q9{s}Z7")  # never a word of glm5check's own text
SECRET_NAMES = st.sampled_from(
    ["HF_TOKEN", "MYSQL_PWD", "SMTP_PASS", "DB_PASSWORD", "X_API_KEY", "client_secret", "AccountKey", "MY_AUTH"]
)
PLACEMENTS = [
    "--api-key {s}",
    "--api_key={s}",
    "--api-key K0 {s}",
    "--hf-token '{s}'",
    "--password \\\n  {s}",
    "https://user:{s}@host.example/x",
    "https://:{s}@host.example",
    "redis://:{s}@cache:6379/0",
    "postgres://app:p@{s}@db/x",
    "DefaultEndpointsProtocol=https;AccountKey={s};EndpointSuffix=x",
    "Server=db;Password={s};",
    "Authorization: Bearer {s}",
    "curl -u ops:{s} http://h",
    "mysql -p{s} glm",
    "sshpass -p {s} ssh node1",
    "redis-cli -a {s} ping",
    'export HF_TOKEN="{s}"',
    '{{"hub_auth_token": "{s}"}}',
]


def _outputs(env: dict[str, str], text: str, argv: list[str]) -> dict[str, str]:
    """Every output format glm5check writes, built the way a run builds them."""
    import tempfile

    from glm5check.host.base import Process
    from glm5check.host.record import RecordingHost
    from glm5check.host.snapshot import write_snapshot
    from glm5check.reports.json_report import render_json
    from glm5check.reports.junit import render_junit
    from glm5check.reports.model import Report
    from glm5check.reports.table import render_table
    from glm5check.util.text import scrub_tree

    class Live:  # the machine, answering with the planted secrets
        timeout_s = 1.0

        def env(self) -> dict[str, str]:
            return env

        def processes(self) -> tuple[Process, ...]:
            return (Process(pid=7, name=argv[0], cmdline=tuple(argv)),)

    recording = RecordingHost(Live())  # type: ignore[arg-type]
    recording.env()
    recording.processes()
    row = {"id": "serve.args", "item": None, "category": "serve", "title": "t", "status": "fail"}
    row |= {"message": text, "expected": text, "observed": " ".join(argv), "remediation": None}
    document = {
        "tool": {"name": "glm5check", "version": "0"},
        "created": "now",
        "profile": {"name": "p", "description": text, "env": dict(env)},
        "node": {"hostname": "h", "rank": 0, "role": "primary", "rank_source": "x"},
        "facts": {"env": redact_env(env), "processes": [argv]},
        "results": [{**row, "duration_ms": 0, "waived": None}],
        "summary": {"pass": 0, "warn": 0, "fail": 1, "error": 0, "skip": 0, "total": 1, "ok": False, "duration_ms": 0},
    }
    report = Report.from_json(scrub_tree(redact_tree(document)))
    recording.data.report = report.to_json()
    recording.data.meta = {"serve": {"script_text": redact_text(text)}}
    outputs = {"table": render_table(report, None), "json": render_json(report), "junit": render_junit(report)}
    with tempfile.TemporaryDirectory() as folder:
        write_snapshot(recording.data, Path(folder) / "snap")
        for path in Path(folder).rglob("*"):
            if path.is_file():
                outputs[str(path)] = path.read_text(encoding="utf-8")
    return outputs


@given(secret=SECRET, name=SECRET_NAMES, placement=st.sampled_from(PLACEMENTS), data=st.data())
def test_a_secret_placed_anywhere_never_appears_in_any_output(
    secret: str, name: str, placement: str, data: st.DataObject
) -> None:
    planted = placement.format(s=secret)
    innocent = data.draw(st.sampled_from(["VLLM_EXTRA_ARGS", "PIP_INDEX_URL", "SERVE_NOTE"]))
    env = {name: secret, innocent: planted, "HCCL_BUFFSIZE": "200"}
    argv = ["sh", "-c", "sleep 1; :", *shlex.split(planted.replace("\\\n", " "))]
    outputs = _outputs(env, f"vllm serve /m --port 1 {planted}\n", argv)
    leaks = [label for label, text in outputs.items() if secret in text]
    assert not leaks, (planted, leaks)
    assert "HCCL_BUFFSIZE" in outputs["json"] and "200" in outputs["json"]
