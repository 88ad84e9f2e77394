"""host/git.py on real repositories built with gitpython: HEAD, dirty tree, submodules, corrupt .git."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from glm5check.host.git import read_checkout


def _repo(folder: Path, files: dict[str, str]) -> git.Repo:
    repo = git.Repo.init(folder)
    with repo.config_writer() as config:
        config.set_value("user", "name", "glm5check tests")
        config.set_value("user", "email", "tests@example.invalid")
    for name, text in files.items():
        (folder / name).write_text(text)
    repo.index.add(list(files))
    repo.index.commit("initial")
    return repo


def test_clean_then_dirty_checkout(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "vllm", {"setup.py": "print('v1')\n", "README.md": "vllm\n"})
    (tmp_path / "vllm" / "build.log").write_text("untracked files do not make a tree dirty\n")
    clean = read_checkout(str(tmp_path / "vllm"))
    assert clean["error"] is None
    assert clean["head"] == repo.head.commit.hexsha and len(clean["head"]) == 40
    assert (clean["dirty"], clean["changed"], clean["submodules"]) == (False, [], [])
    (tmp_path / "vllm" / "setup.py").write_text("print('patched')\n")
    dirty = read_checkout(str(tmp_path / "vllm"))
    assert (dirty["dirty"], dirty["changed"]) == (True, ["setup.py"])


def test_submodules_uninitialised_in_a_fresh_clone_then_initialised(tmp_path: Path) -> None:
    library = _repo(tmp_path / "catlass", {"lib.h": "// catlass\n"})
    parent = _repo(tmp_path / "vllm-ascend", {"setup.py": ""})
    parent.git.execute(
        [
            "git",
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            str(library.working_dir),
            "csrc/third_party/catlass",
        ]
    )
    parent.index.commit("add catlass")
    clone = git.Repo.clone_from(parent.working_dir, tmp_path / "clone")
    before = read_checkout(clone.working_dir)
    assert before["error"] is None
    assert [(s["path"], s["state"]) for s in before["submodules"]] == [("csrc/third_party/catlass", "uninitialised")]
    clone.git.execute(["git", "-c", "protocol.file.allow=always", "submodule", "update", "--init", "--recursive"])
    after = read_checkout(clone.working_dir)
    assert [(s["path"], s["state"]) for s in after["submodules"]] == [("csrc/third_party/catlass", "ok")]
    assert after["submodules"][0]["commit"] == library.head.commit.hexsha


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("vanished", "does not exist (moved or deleted after install?)"),
        ("no-git", "is not a git checkout (no .git)"),
        ("garbage-gitfile", "cannot read the git checkout"),
        ("empty-git-dir", ".git is damaged: not a valid git repository"),
        ("corrupt-head", "cannot read the git checkout"),
    ],
)
def test_broken_checkouts_are_errors_in_the_answer_not_exceptions(tmp_path: Path, damage: str, fragment: str) -> None:
    folder = tmp_path / "checkout"
    if damage != "vanished":
        _repo(folder, {"a.txt": "a\n"})
    if damage == "no-git":
        _rmtree(folder / ".git")
    elif damage == "garbage-gitfile":
        _rmtree(folder / ".git")
        (folder / ".git").write_text("this is not a gitdir pointer\n")
    elif damage == "empty-git-dir":
        _rmtree(folder / ".git")
        (folder / ".git").mkdir()
    elif damage == "corrupt-head":
        (folder / ".git" / "HEAD").write_text("ref: refs/heads/\x00broken\n")
    answer = read_checkout(str(folder))
    assert answer["head"] is None
    assert fragment in answer["error"], answer["error"]
    assert "Traceback" not in answer["error"]


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)
