"""Read a source checkout with git: HEAD commit, branch, uncommitted changes and submodule state.

Used for editable installs (`pip install -e .`), whose running code is whatever the checkout holds now.
Call it only through the host, `ctx.host.probe("git", folder, lambda: read_checkout(folder))`, so that it
is timed out, recorded in snapshots and answered from them on replay. The answer is a JSON-ready dict;
a missing folder, a missing or corrupt `.git`, or a failing git command is an `error` in it, never an
exception.

git runs through the host's one process runner (glm5check.host.live.run_process: its own session, a
deadline, nothing left behind) and only reads: `--no-optional-locks` (and GIT_OPTIONAL_LOCKS=0) keep
`git status` from refreshing `.git/index`, `core.fsmonitor=false` keeps it from starting a monitor
daemon, and GIT_CEILING_DIRECTORIES keeps it from using a repository above the folder.
"""

from __future__ import annotations

import os
from typing import Any

PROBE_KIND = "git"
GIT_TIMEOUT_S = 10.0
CHANGED_FILES_SHOWN = 10
# First character of a `git submodule status` line.
_SUBMODULE_STATES = {" ": "ok", "-": "uninitialised", "+": "other-commit", "U": "conflict"}


class _GitFailed(Exception):
    pass


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    meaningful = [ln for ln in lines if ln.lower().startswith(("fatal:", "error:"))]
    return (meaningful or lines or [""])[0][:300]


def _git(folder: str, *args: str, allow_exit: tuple[int, ...] = ()) -> str:
    """The output of one read-only git command in folder, or _GitFailed with git's own first line."""
    # Imported here: facts.packages imports this module in every run, and a replay never starts git nor
    # needs the live host's subprocess and socket machinery (start-up time).
    from glm5check.host.live import run_process

    argv = ["git", "--no-optional-locks", "-c", "core.fsmonitor=false", "-C", folder, *args]
    ceiling = os.path.dirname(os.path.abspath(folder))
    done = run_process(argv, GIT_TIMEOUT_S, extra_env={"GIT_CEILING_DIRECTORIES": ceiling})
    if done.not_found:
        raise _GitFailed("git is not installed")
    if done.timed_out:
        raise _GitFailed(f"git {args[0]} did not answer within {GIT_TIMEOUT_S:g} s and was killed")
    if done.error:
        raise _GitFailed(f"git {args[0]}: {done.error}")
    if done.exit_code != 0 and done.exit_code not in allow_exit:
        text = done.stderr.decode("utf-8", "replace") or done.stdout.decode("utf-8", "replace")
        raise _GitFailed(_first_line(text) or f"git {args[0]} exited with status {done.exit_code}")
    return done.stdout.decode("utf-8", "replace")


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
    except _GitFailed as exc:
        reason = str(exc)
        if "not a git repository" in reason:
            reason = ".git is damaged: not a valid git repository"
        answer["error"] = f"cannot read the git checkout {folder}: {reason}"
    return answer


def _read_repository(folder: str, answer: dict[str, Any]) -> None:
    head = _git(folder, "rev-parse", "--verify", "HEAD^{commit}").strip()
    if len(head) != 40:
        raise _GitFailed(f"HEAD is not a commit ({head[:60]!r})")
    answer["head"] = head
    answer["branch"] = _git(folder, "symbolic-ref", "-q", "--short", "HEAD", allow_exit=(1,)).strip() or None
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    answer["dirty"] = bool(changed)
    answer["changed"] = changed[:CHANGED_FILES_SHOWN]
    if os.path.exists(os.path.join(folder, ".gitmodules")):
        answer["submodules"] = _submodules(_git(folder, "submodule", "status"))


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
