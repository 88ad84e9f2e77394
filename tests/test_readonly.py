"""Read-only: every subcommand that inspects a target, run over a fake node (weights, serve script,
profile, fake npu-smi / hccn_tool, its own HOME and working directory) and a real target interpreter (a
venv with packages pip-installed without bytecode, one of them a .pth that imports a module, and vllm
editable from a git checkout whose index is due for a refresh), leaves every file of that node exactly
as it was: same set of paths, same bytes, same mode and same mtime. Only the --output / -o paths, which
live outside the node, are written; a snapshot is also replayed from there."""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import shlex
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import FIXTURES, assert_no_traceback, clean_env, run_cli, write_executable

sys.path.insert(0, str(FIXTURES))
from faults.tools import checkout_due_for_refresh
from make_checkpoint import make_checkpoint, write_sparse_safetensors

from glm5check.knowledge import glm5

NPU_SMI = FIXTURES / "npu-smi-info" / "blog-atlas800IA2-8x910B4-25.0.rc1.1-fresh-install.txt"
HCCN_IP = FIXTURES / "hccn_tool-ip" / "mindcluster-fixture-ip-g-dev0-192.1.45.172.txt"
SERVE_SCRIPT = FIXTURES / "serve-scripts" / "a2-multi-node0.sh"


def _tree_state(root: Path) -> dict[str, tuple[str, int, int]]:
    """path -> (sha256 or link target, mode, mtime in ns) of every entry under root, links not followed."""
    state: dict[str, tuple[str, int, int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                digest = "link:" + os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                digest = _sha256(path)
            else:
                digest = "dir" if stat.S_ISDIR(info.st_mode) else "other"
            state[str(path.relative_to(root))] = (digest, info.st_mode, info.st_mtime_ns)
    return state


def _sha256(path: Path) -> str:
    """The content hash of a file, reading only its data regions (the checkpoint's shards are sparse,
    hundreds of GiB of holes, which read as zeros): each region is hashed with its offset, then the size."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        fd, size, position = handle.fileno(), os.fstat(handle.fileno()).st_size, 0
        while position < size:
            try:
                start = os.lseek(fd, position, os.SEEK_DATA)
            except OSError as exc:  # ENXIO: only a hole remains
                if exc.errno != errno.ENXIO:
                    raise
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            digest.update(f"{start}:".encode())
            handle.seek(start)
            remaining = end - start
            while remaining > 0:
                block = handle.read(min(remaining, 1 << 20))
                if not block:
                    break
                digest.update(block)
                remaining -= len(block)
            position = end
    digest.update(f"size:{size}".encode())
    return digest.hexdigest()


def _record_line(name: str, data: bytes) -> str:
    """A RECORD line of a wheel: name, urlsafe-base64 sha256 without padding, size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A real wheel (PEP 427) holding files, for pip to install."""
    dist = f"{name}-{version}.dist-info"
    files = {
        **files,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        record = [_record_line(path, text.encode()) for path, text in files.items()]
        archive.writestr(f"{dist}/RECORD", "\n".join([*record, f"{dist}/RECORD,,"]) + "\n")
    return wheel


def _target_interpreter(root: Path, wheels: Path) -> Path:
    """A venv with vllm pip-installed (no .pyc: --no-compile) next to a .pth that imports a module, as
    setuptools' distutils-precedence.pth does; vllm then marked editable from a real git checkout."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    source = checkout_due_for_refresh(root / "src" / "vllm")
    wheel = _wheel(
        wheels,
        "vllm",
        "0.16.0",
        {
            "vllm/__init__.py": "",
            "vllm/_version.py": "__version__ = version = '0.16.0'\n",
            "glm5check_node_hook.py": "HOOKED = True\n",
            "glm5check_node_hook.pth": "import glm5check_node_hook\n",
        },
    )
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--no-deps", "--no-compile"]
    subprocess.run([*pip, "-q", str(wheel)], check=True, capture_output=True, timeout=120)
    direct_url = next(venv.glob("lib/python*/site-packages/vllm-0.16.0.dist-info")) / "direct_url.json"
    direct_url.write_text(json.dumps({"dir_info": {"editable": True}, "url": source.as_uri()}))
    return python


def _make_node(root: Path, wheels: Path) -> dict[str, str]:
    bin_dir = root / "usr" / "local" / "bin"
    write_executable(bin_dir, "npu-smi", f"#!/bin/sh\ncat {shlex.quote(str(NPU_SMI))}\n")
    write_executable(bin_dir, "hccn_tool", f"#!/bin/sh\ncat {shlex.quote(str(HCCN_IP))}\n")
    python = _target_interpreter(root, wheels)
    model = make_checkpoint(root / "models" / "GLM-5", weights="bf16", mtp="layer", shards=3).path
    small = root / "models" / "small"  # deep hashing reads every byte: a folder of a few KiB
    small.mkdir()
    (small / "config.json").write_bytes((model / "config.json").read_bytes())
    for number in (1, 2):
        write_sparse_safetensors(
            small / f"model-0000{number}-of-00002.safetensors",
            [glm5.Tensor(f"layer.{number}.weight", "BF16", (32, 32))],
            {"format": "pt"},
        )
    scripts = root / "scripts"
    scripts.mkdir()
    (scripts / "node0.sh").write_bytes(SERVE_SCRIPT.read_bytes())
    (root / "profile.toml").write_text('extends = "a2-multi"\nname = "site"\ndescription = "site"\n', encoding="utf-8")
    (root / "home").mkdir()
    return {
        "bin": str(bin_dir),
        "python": str(python),
        "model": str(model),
        "small": str(small),
        "script": str(scripts / "node0.sh"),
        "profile": str(root / "profile.toml"),
        "home": str(root / "home"),
    }


def _commands(node: dict[str, str], out: Path) -> list[list[str]]:
    target = [
        "--profile-file",
        node["profile"],
        "--python",
        node["python"],
        "--model-dir",
        node["model"],
        "--node-rank",
        "0",
        "--node0-ip",
        "127.0.0.1",
        "--timeout",
        "5",
    ]
    script = ["--serve-script", node["script"]]
    return [
        ["run", *target, *script],
        ["run", *target, "--format", "json", "-o", str(out / "node0.json")],
        [*target, "--format", "junit", "-o", str(out / "node0.xml")],
        ["snapshot", *target, *script, "-o", str(out / "snap")],
        ["snapshot", *target, "-o", str(out / "snap.tar.gz")],
        ["run", "--replay", str(out / "snap"), "--format", "json", "-o", str(out / "replayed.json")],
        ["run", "--replay", str(out / "snap.tar.gz")],
        ["fit", "--profile-file", node["profile"], "--model-dir", node["model"]],
        ["compare", str(out / "node0.json"), str(out / "replayed.json")],
        ["fix-env", "--profile-file", node["profile"], *script, "--node-rank", "0"],
        ["fix-env", "--replay", str(out / "snap")],
        ["weights", "verify", node["model"]],
        ["weights", "verify", node["small"], "--deep", "--manifest", str(out / "manifest.json"), "--write"],
        ["weights", "verify", node["small"], "--manifest", str(out / "manifest.json")],
    ]


@pytest.fixture(scope="module")
def node_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("node")
    out = tmp_path_factory.mktemp("out")
    node = _make_node(root, tmp_path_factory.mktemp("wheels"))
    before = _tree_state(root)
    env = clean_env(
        {"HOME": node["home"], "XDG_CACHE_HOME": node["home"] + "/.cache", "TMPDIR": str(out)},
        path_prepend=[node["bin"]],
    )
    results, recorded = [], {}
    for args in _commands(node, out):
        if "--replay" in args and not recorded:
            recorded = _snapshots_state(out)  # as the snapshot commands left them, before any replay
        results.append((args, run_cli(*args, env=env, cwd=root)))
    return {
        "before": before,
        "after": _tree_state(root),
        "results": results,
        "out": out,
        "recorded": recorded,
        "replayed": _snapshots_state(out),
    }


def _snapshots_state(out: Path) -> dict[str, tuple[str, int, int]]:
    """The state of both snapshots the commands write (a folder and an archive) and then replay."""
    archive = (out / "snap.tar.gz").stat()
    return {
        **_tree_state(out / "snap"),
        "snap.tar.gz": (_sha256(out / "snap.tar.gz"), archive.st_mode, archive.st_mtime_ns),
    }


@pytest.mark.slow
def test_every_command_ran(node_run: dict[str, object]) -> None:
    results = node_run["results"]
    assert isinstance(results, list)
    for args, result in results:
        assert_no_traceback(result)
        assert result.returncode in (0, 1), (args, result.stderr[-1500:])
    out = node_run["out"]
    assert isinstance(out, Path)
    for written in (
        "node0.json",
        "node0.xml",
        "snap/snapshot.json",
        "snap.tar.gz",
        "replayed.json",
        "manifest.json",
    ):
        assert (out / written).is_file(), written


@pytest.mark.slow
def test_nothing_changed_in_the_node(node_run: dict[str, object]) -> None:
    before, after = node_run["before"], node_run["after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    assert len(before) > 20  # the node really holds weights, scripts and tools
    assert any(path.endswith("glm5check_node_hook.pth") for path in before)  # the target venv is in it
    assert any(path.endswith(os.path.join(".git", "index")) for path in before)
    created = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert not created, f"created: {created}"
    assert not removed, f"removed: {removed}"
    assert not changed, f"changed: {changed}"


@pytest.mark.slow
def test_replaying_a_snapshot_leaves_it_as_recorded(node_run: dict[str, object]) -> None:
    replays = [args for args, _ in node_run["results"] if "--replay" in args]  # type: ignore[attr-defined]
    assert len(replays) == 3
    recorded = node_run["recorded"]
    assert isinstance(recorded, dict) and "snapshot.json" in recorded and "snap.tar.gz" in recorded
    assert node_run["replayed"] == recorded


def test_the_state_detects_a_change(tmp_path: Path) -> None:
    """The comparison itself can fail: touching one file's mtime changes the state."""
    (tmp_path / "a").write_text("x", encoding="utf-8")
    before = _tree_state(tmp_path)
    os.utime(tmp_path / "a", ns=(1, 1))
    assert _tree_state(tmp_path) != before
