"""Builders for broken fake tools and broken input files used by the fault scenarios."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from conftest import FIXTURES, REPO, write_executable

FIFTY_MB = 50 * 1024 * 1024
NPU_SMI_SAMPLE = FIXTURES / "npu-smi-info" / "blog-atlas800IA2-8x910B4-25.0.rc1.1-fresh-install.txt"
DEMO_INVENTORY = next((REPO / "glm5check" / "demo" / "a2-node0" / "commands").glob("*python3_-I_*.out"))
NON_UTF8 = b"\xff\xfe\x80\x81 npu \xc3\x28 \xa0\xa1 \xf0\x28\x8c\xbc\n" * 200

# What each kind of broken tool does, as a shell body (the tool ignores its arguments).
HUNG = "exec sleep 600"
NON_ZERO = "echo 'dcmi module initialize failed. ret is -8005' >&2\nexit 3"
GARBAGE = "printf '%s\\n' '}{ ][ <<<>>> :: %%% NaN -1 0x-- | || ||| +---+ ;;' 'Error?? 12 34 ab cd'\nexit 0"


def shell_tool(folder: Path, name: str, body: str) -> Path:
    return write_executable(folder, name, f"#!/bin/sh\n{body}\n")


def printing_tool(folder: Path, name: str, payload: bytes) -> Path:
    """A tool that prints exactly payload (bytes kept next to it, printed with cat)."""
    data = folder / f"{name}.payload"
    folder.mkdir(parents=True, exist_ok=True)
    data.write_bytes(payload)
    return shell_tool(folder, name, f"cat {shlex.quote(str(data))}")


def huge_tool(folder: Path, name: str) -> Path:
    """A tool that prints 50 MB of plausible-looking lines."""
    return shell_tool(
        folder,
        name,
        f"yes '| 0     910B4     | OK   | 93.1  37  0 / 0  | 3379 / 65536 |' | head -c {FIFTY_MB}",
    )


def npu_smi_ok(folder: Path) -> Path:
    return printing_tool(folder, "npu-smi", NPU_SMI_SAMPLE.read_bytes())


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def symlink_loop(path: Path) -> Path:
    """path -> path.loop -> path: every open fails with ELOOP."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partner = path.with_name(path.name + ".loop")
    partner.symlink_to(path.name)
    path.symlink_to(partner.name)
    return path


def huge_file(path: Path, line: bytes = b"# padding padding padding padding padding padding padding\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(line * (FIFTY_MB // len(line)))
    return path


def python_printing_inventory(folder: Path, editable_source: Path) -> Path:
    """A fake target interpreter answering the demo's real inventory, with vllm as an editable install
    of editable_source (so the git metadata of that folder is read)."""
    inventory = json.loads(DEMO_INVENTORY.read_text(encoding="utf-8"))
    for dist in inventory["distributions"]:
        if dist.get("name") == "vllm":
            dist["direct_url"] = {"dir_info": {"editable": True}, "url": editable_source.as_uri()}
    return printing_tool(folder, "python3", json.dumps(inventory).encode())


def corrupt_git_checkout(folder: Path) -> Path:
    """A source folder whose .git exists but is damaged (HEAD and objects are garbage)."""
    git_dir = folder / ".git"
    (git_dir / "objects").mkdir(parents=True)
    (git_dir / "refs" / "heads").mkdir(parents=True)
    (git_dir / "HEAD").write_bytes(b"\x00\xffnot a ref at all\n")
    (git_dir / "config").write_text("[core\n\trepositoryformatversion = banana\n", encoding="utf-8")
    return folder


def many_env_vars(count: int = 10_000) -> dict[str, str]:
    return {f"GLM5CHECK_FAULT_VAR_{n:05d}": f"value-{n}-" + "x" * 20 for n in range(count)}


def checkout_due_for_refresh(folder: Path) -> Path:
    """A real git checkout of one commit whose tracked file was touched afterwards (same content, new
    stat): a plain `git status` would refresh, i.e. rewrite, its .git/index."""
    import subprocess

    folder.mkdir(parents=True)
    (folder / "setup.py").write_text("print('vllm')\n", encoding="utf-8")
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for step in (["init", "-q"], ["add", "setup.py"], ["commit", "-qm", "initial"]):
        subprocess.run([*git, *step], check=True, capture_output=True, timeout=60)
    os.utime(folder / "setup.py", ns=(10**18, 10**18))
    return folder
