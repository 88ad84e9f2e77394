"""The weights scan's forked child changes nothing but the time: whatever share of the shards the child
folds (none, one, all), whether it finishes or dies, and whatever the folder holds (a shard the index does
not list, one it lists that is missing, a compact index, none, an index only json.loads reads, a broken
header), the scan equals the one made in this process alone."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES

import glm5check.facts.weights_scan as weights_scan
from glm5check.facts.weights_scan import WeightsScan, scan_folder
from glm5check.host import forked as forked_module
from glm5check.host.live import LiveHost

sys.path.insert(0, str(FIXTURES))
import make_checkpoint as mc


class InProcess(LiveHost):
    """A live host the scan does not fork for (forked.can_fork wants a LiveHost exactly)."""


@pytest.fixture(scope="module")
def w4a8(tmp_path_factory: pytest.TempPathFactory) -> mc.Checkpoint:
    return mc.make_checkpoint(tmp_path_factory.mktemp("w4a8") / "GLM-5-w4a8", "w4a8", "full", shards=5)


@pytest.fixture(scope="module")
def bf16(tmp_path_factory: pytest.TempPathFactory) -> mc.Checkpoint:
    return mc.make_checkpoint(tmp_path_factory.mktemp("bf16") / "GLM5-bf16", "bf16", "layer", shards=9)


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children the scan forked."""
    made: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            made.append(pid)
        return pid

    monkeypatch.setattr(forked_module.os, "fork", counting_fork)
    return made


def _share(monkeypatch: pytest.MonkeyPatch, pick: Callable[[list[str]], list[str]]) -> None:
    original = weights_scan._Headers._child_share

    def share(self: weights_scan._Headers, index_name: str | None, listed: list[str]) -> list[str]:
        return pick(listed) if original(self, index_name, listed) or index_name is None else []

    monkeypatch.setattr(weights_scan._Headers, "_child_share", share)


SHARES: dict[str, Callable[[list[str]], list[str]]] = {
    "one": lambda listed: listed[:1],
    "half": lambda listed: listed[: len(listed) // 2],
    "all": lambda listed: listed,
}


def _both(folder: Path) -> tuple[WeightsScan, WeightsScan]:
    return scan_folder(LiveHost(), str(folder)), scan_folder(InProcess(), str(folder))


@pytest.mark.parametrize("share", list(SHARES))
def test_any_share_of_a_sound_folder_scans_the_same(
    w4a8: mc.Checkpoint, monkeypatch: pytest.MonkeyPatch, forks: list[int], share: str
) -> None:
    _share(monkeypatch, SHARES[share])
    forked_scan, alone = _both(w4a8.path)
    assert forks, "the scan did not fork"
    assert forked_scan == alone and forked_scan.complete and not forked_scan.unmapped


def test_the_default_share_forks_and_scans_the_same(w4a8: mc.Checkpoint, forks: list[int]) -> None:
    forked_scan, alone = _both(w4a8.path)
    assert len(forks) == 1
    assert forked_scan == alone


def _dying_child(monkeypatch: pytest.MonkeyPatch) -> None:
    real = weights_scan._Headers._produce

    def produce(self: weights_scan._Headers, names: list[str]) -> Iterator[object]:
        results = real(self, names)
        yield next(results)
        os._exit(3)

    monkeypatch.setattr(weights_scan._Headers, "_produce", produce)


def test_a_child_that_dies_midway_changes_nothing(
    w4a8: mc.Checkpoint, monkeypatch: pytest.MonkeyPatch, forks: list[int]
) -> None:
    _share(monkeypatch, SHARES["all"])
    _dying_child(monkeypatch)
    forked_scan, alone = _both(w4a8.path)
    assert forks and forked_scan == alone


def _broken_copy(source: mc.Checkpoint, tmp_path: Path, breakage: str) -> Path:
    folder = mc.link_copy(source.path, tmp_path / source.path.name)
    index_path = folder / source.index_name
    index = json.loads(index_path.read_text())
    shards = sorted(set(index["weight_map"].values()))
    if breakage == "unlisted shard":
        os.symlink(source.path / shards[0], folder / "model-extra.safetensors")
    elif breakage == "missing shard":
        (folder / shards[0]).unlink()
    elif breakage == "compact index":
        mc.replace_file(index_path, json.dumps(index, separators=(",", ":")).encode())
    elif breakage == "no index":
        index_path.unlink()
    elif breakage == "escaped index":  # the streaming reader does not vouch for escapes: json.loads reads it
        mc.replace_file(index_path, json.dumps(index, indent=2).replace(".weight", "\\u002eweight").encode())
    elif breakage == "wrong index":
        first = next(iter(index["weight_map"]))
        index["weight_map"][first] = shards[-1]
        mc.replace_file(index_path, json.dumps(index, indent=2).encode())
    elif breakage == "truncated header":
        with open(source.path / shards[0], "rb") as shard:
            mc.replace_file(folder / shards[0], shard.read(4096))
    return folder


BREAKAGES = [
    "unlisted shard",
    "missing shard",
    "compact index",
    "no index",
    "escaped index",
    "wrong index",
    "truncated header",
]


@pytest.mark.parametrize("breakage", BREAKAGES)
@pytest.mark.parametrize("share", ["half", "all"])
def test_a_broken_folder_scans_the_same(
    bf16: mc.Checkpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    forks: list[int],
    breakage: str,
    share: str,
) -> None:
    _share(monkeypatch, SHARES[share])
    folder = _broken_copy(bf16, tmp_path, breakage)
    forked_scan, alone = _both(folder)
    # An index the streaming reader refuses from its first chunk shows no separator: nothing to fork for.
    assert bool(forks) == (breakage != "escaped index")
    assert forked_scan == alone
    assert SEEN[breakage](forked_scan)


SEEN: dict[str, Callable[[WeightsScan], bool]] = {  # the breakage shows in the scan (each one differently)
    "unlisted shard": lambda scan: scan.complete and "model-extra.safetensors" not in {s.name for s in scan.shards},
    "missing shard": lambda scan: [s.cause for s in scan.shards if not s.ok] == ["missing"],
    "compact index": lambda scan: scan.complete and not scan.unmapped and scan.mapped_count > 0,
    "no index": lambda scan: scan.complete and scan.index is not None and scan.index.error == "missing",
    "escaped index": lambda scan: scan.complete and not scan.unmapped and scan.mapped_count > 0,
    "wrong index": lambda scan: scan.complete and len(scan.unmapped) == 1,
    "truncated header": lambda scan: [s.cause for s in scan.shards if not s.ok] == ["truncated"],
}


def test_a_sound_folder_is_never_read_twice(w4a8: mc.Checkpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """The streamed sums agree with the headers' (the child's and this process's added up): neither the
    exact readings (json.loads of the index or description) nor a second pass over the headers runs."""
    loaded: list[str] = []
    real_load = weights_scan._JsonSource.load

    def load(self: weights_scan._JsonSource) -> weights_scan.JsonFile:
        loaded.append(self.name)
        return real_load(self)

    def second_reading(self: weights_scan._SecondReading) -> None:
        raise AssertionError("the headers were read a second time")

    monkeypatch.setattr(weights_scan._JsonSource, "load", load)
    monkeypatch.setattr(weights_scan._SecondReading, "__call__", second_reading)
    _share(monkeypatch, SHARES["half"])
    for host in (LiveHost(), InProcess()):
        scan = scan_folder(host, str(w4a8.path))
        assert scan.complete and scan.mapped_count == len(w4a8.tensors) and not scan.undescribed
    assert loaded == ["config.json", "config.json"]
