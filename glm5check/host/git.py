"""Read a source checkout with gitpython: HEAD commit, uncommitted changes and submodule state.

Used for editable installs (`pip install -e .`), whose running code is whatever the checkout holds now.
Call it only through the host, `ctx.host.probe("git", folder, lambda: read_checkout(folder))`, so that it
is timed out, recorded in snapshots and answered from them on replay. The answer is a JSON-ready dict;
a missing folder, a missing or corrupt `.git`, or a failing git command is an `error` in it, never an
exception.
"""

from __future__ import annotations

import os
from typing import Any

PROBE_KIND = "git"
# The probe is abandoned at the host's timeout; this also kills a git child that would outlive it.
GIT_TIMEOUT_S = 10.0
CHANGED_FILES_SHOWN = 10
# First character of a `git submodule status` line.
_SUBMODULE_STATES = {" ": "ok", "-": "uninitialised", "+": "other-commit", "U": "conflict"}


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    meaningful = [ln for ln in lines if ln.lower().startswith(("fatal:", "error:"))]
    return (meaningful or lines or [""])[0][:300]


def _git_error(exc: Exception) -> str:
    stderr = getattr(exc, "stderr", None)
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    text = _first_line(stderr) if isinstance(stderr, str) and stderr.strip() else _first_line(str(exc))
    return text.replace("stderr: ", "").strip("' ") or type(exc).__name__


def read_checkout(folder: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "folder": folder,
        "head": None,
        "branch": None,
        "dirty": None,
        "changed": [],
        "submodules": [],
        "error": None,
    }
    if not os.path.isdir(folder):
        answer["error"] = f"the source folder {folder} does not exist (moved or deleted after install?)"
        return answer
    if not os.path.exists(os.path.join(folder, ".git")):
        answer["error"] = f"{folder} is not a git checkout (no .git)"
        return answer
    try:
        _read_repository(folder, answer)
    except Exception as exc:  # gitpython raises many types for corrupt repositories; all become data
        answer["error"] = f"cannot read the git checkout {folder}: {_git_error(exc)}"
    return answer


def _read_repository(folder: str, answer: dict[str, Any]) -> None:
    import git

    try:
        repo = git.Repo(folder)
    except git.exc.InvalidGitRepositoryError:
        raise ValueError(".git is damaged: not a valid git repository") from None
    try:
        answer["head"] = repo.head.commit.hexsha
        answer["branch"] = None if repo.head.is_detached else repo.head.ref.name
        status = repo.git.status("--porcelain", "--untracked-files=no", kill_after_timeout=GIT_TIMEOUT_S)
        changed = [line[3:] for line in status.splitlines() if line.strip()]
        answer["dirty"] = bool(changed)
        answer["changed"] = changed[:CHANGED_FILES_SHOWN]
        if os.path.exists(os.path.join(folder, ".gitmodules")):
            answer["submodules"] = _submodules(repo.git.submodule("status", kill_after_timeout=GIT_TIMEOUT_S))
    finally:
        repo.close()


def _submodules(status: str) -> list[dict[str, str | None]]:
    modules: list[dict[str, str | None]] = []
    for line in status.splitlines():
        if not line.strip():
            continue
        parts = line[1:].split()
        modules.append(
            {
                "path": parts[1] if len(parts) > 1 else line.strip(),
                "state": _SUBMODULE_STATES.get(line[0], "unknown"),
                "commit": parts[0] if parts else None,
            }
        )
    return modules
