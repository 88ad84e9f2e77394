"""Redaction corpus: secrets planted in every place glm5check reads (environment names and values, URLs
with passwords, Authorization headers and --api-key flags in the serve command and script, keys in a
profile file, command outputs, copied files, process command lines) never appear in any output: the
table, JSON, JUnit, every file of a snapshot directory and of a .tar.gz, a replay of it, and compare."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, assert_no_traceback, clean_env, run_cli, write_executable

sys.path.insert(0, str(FIXTURES))
from make_checkpoint import make_checkpoint

from glm5check.util.redact import REDACTED, redact_argv, redact_env, redact_text, redact_tree

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
}

SERVE_CMD = (
    "vllm serve /models/GLM-5 --tensor-parallel-size 8 --quantization ascend "
    f"--api-key {SECRETS['api-key-in-serve-cmd']} "
    f"--middleware 'Authorization: Bearer {SECRETS['bearer-in-serve-cmd']}'"
)

SERVE_SCRIPT = f"""#!/bin/bash
export HF_TOKEN={SECRETS["token-export-in-script"]}
export HCCL_BUFFSIZE=200
vllm serve /models/GLM-5 \\
  --tensor-parallel-size 8 \\
  --quantization ascend \\
  --api-key "{SECRETS["api-key-in-script"]}"
"""

PROFILE = f"""extends = "a2-multi"
name = "leaky"
description = "a profile holding secrets"

[env]
VLLM_API_KEY = "{SECRETS["profile-env-key"]}"
VLLM_ASCEND_EXTRA = "--token {SECRETS["profile-flag-in-value"]}"
"""


def _fake_python(folder: Path) -> Path:
    inventory_file = next((REPO / "glm5check" / "demo" / "a2-node0" / "commands").glob("*python3_-I_-c*.out"))
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
    holder = subprocess.Popen(["sh", "-c", "sleep 120", "vllm", "serve", "--api-key", SECRETS["process-argv-api-key"]])
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
        holder.kill()
        holder.wait()
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
