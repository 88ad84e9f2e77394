"""Every public function of every module in glm5check/parsers/ is fuzzed: it is found by introspection
(so a new parser is fuzzed from the day it is added), called with inputs drawn for each parameter from
its annotation (text made of real captured lines from fixtures/, mutated and mixed with random text;
random bytes; None), and must return without raising. CI runs the "ci" profile's examples per parser;
`pytest --hypothesis-profile=fuzz tests/test_fuzz_parsers.py` runs many more.

Two parsers that live outside glm5check/parsers/ (the mounts table of the live host and the target
interpreter's inventory) are fuzzed the same way."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest
from conftest import FIXTURES
from hypothesis import given
from hypothesis import strategies as st

import glm5check.parsers
from glm5check.facts.packages import parse_inventory
from glm5check.host.live import parse_mounts
from glm5check.parsers.versions import parse_scm_version


def _fixture_lines() -> list[str]:
    lines: set[str] = set()
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix in (".txt", ".sh", ".conf", ".info", ".cfg", ".json", ""):
            text = path.read_bytes()[:200_000].decode("utf-8", "replace")
            lines.update(line for line in text.splitlines() if line.strip())
    return sorted(lines)


FIXTURE_LINES = _fixture_lines()


def _mutate(line: str, data: st.DataObject) -> str:
    """Cut, duplicate or splice a real line so that parsers meet almost-right input."""
    if not line:
        return line
    cut = data.draw(st.integers(0, len(line)))
    kind = data.draw(st.sampled_from(["keep", "truncate", "splice", "insert", "double"]))
    if kind == "truncate":
        return line[:cut]
    if kind == "splice":
        return line[:cut] + data.draw(st.sampled_from(FIXTURE_LINES))[cut:]
    if kind == "insert":
        return line[:cut] + data.draw(st.text(max_size=8)) + line[cut:]
    if kind == "double":
        return line[:cut] + line[cut:] * 2
    return line


@st.composite
def realistic_text(draw: st.DrawFn) -> str:
    data = draw(st.data())
    pieces = draw(
        st.lists(
            st.one_of(st.sampled_from(FIXTURE_LINES).map(lambda ln: _mutate(ln, data)), st.text(max_size=40)),
            max_size=25,
        )
    )
    separator = draw(st.sampled_from(["\n", "\r\n", "\n\n", " "]))
    return separator.join(pieces)


TEXT = st.one_of(realistic_text(), st.text(max_size=300))
STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "str": TEXT,
    "str | None": st.one_of(st.none(), TEXT),
    "bytes": st.one_of(st.binary(max_size=600), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))),
    "int | None": st.one_of(st.none(), st.integers(-10, 1 << 40)),
    "object": st.one_of(
        st.none(),
        TEXT,
        st.integers(),
        st.floats(),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    ),
    "ScmVersion": TEXT.map(parse_scm_version),
    "int": st.integers(-10, 1 << 20),
    "Iterable[str]": st.lists(TEXT, max_size=5),
    "list[str]": st.lists(TEXT, max_size=5),
    "Sink": st.just(lambda names, sizes, plain: None),  # where the weights scan folds a header's tensors
}


def _parsers() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for module_info in pkgutil.iter_modules(glm5check.parsers.__path__):
        module = importlib.import_module(f"glm5check.parsers.{module_info.name}")
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ == module.__name__ and not name.startswith("_"):
                found[f"{module_info.name}.{name}"] = func
    found["host.live.parse_mounts"] = parse_mounts
    found["facts.packages.parse_inventory"] = parse_inventory
    return found


PARSERS = _parsers()


def test_every_parser_module_is_found() -> None:
    modules = {name.split(".")[0] for name in PARSERS}
    assert {
        "npu_smi",
        "hccn",
        "iproute",
        "safetensors",
        "launch_script",
        "versions",
        "ascend_versions",
    } <= modules
    assert len(PARSERS) >= 40


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_parameter_has_a_strategy(name: str) -> None:
    for parameter in inspect.signature(PARSERS[name]).parameters.values():
        assert str(parameter.annotation) in STRATEGIES, f"{name}({parameter.name}: {parameter.annotation})"


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.data())
def test_parser_never_raises(name: str, data: st.DataObject) -> None:
    func = PARSERS[name]
    arguments = {
        p.name: data.draw(STRATEGIES[str(p.annotation)], label=p.name)
        for p in inspect.signature(func).parameters.values()
    }
    result = func(**arguments)
    returns = str(inspect.signature(func).return_annotation)
    if returns == "bool":
        assert isinstance(result, bool)
    elif returns == "str":
        assert isinstance(result, str)
    elif returns[:1].isupper() and "|" not in returns and "[" not in returns:
        named_tuple = isinstance(result, tuple) and hasattr(result, "_fields")
        assert dataclasses.is_dataclass(result) or named_tuple, (name, type(result))
