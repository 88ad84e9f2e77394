"""glm5check.api is the public surface of plugins: every name in __all__ is there, every fact says what it
holds and what it returns, the facts are the cached facts the built-in checks use, the examples of README
and docs/plugins.md import nothing else, and docs/plugins.md's catalogue of facts and types is generated
from the module (`python tests/test_api.py` rewrites it)."""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import re
from typing import Any

import pytest
from conftest import REPO

import glm5check.api as api
from glm5check.facts.context import Context
from glm5check.facts.npu import chip_plan
from glm5check.facts.weights import memory_fit, scan_weights
from glm5check.testing import replay_context

PLUGINS_DOC = REPO / "docs" / "plugins.md"
CATALOGUE = re.compile(r"<!-- facts:start -->\n(.*?)<!-- facts:end -->", re.S)


def test_every_exported_name_is_there() -> None:
    assert len(api.__all__) == len(set(api.__all__))
    assert [name for name in api.__all__ if not hasattr(api, name)] == []
    assert {fact.__name__ for fact in api.FACTS} <= set(api.__all__)


@pytest.mark.parametrize("fact", api.FACTS, ids=lambda fact: fact.__name__)
def test_every_fact_says_what_it_holds_and_returns(fact: Any) -> None:
    assert fact.__doc__ and len(fact.__doc__.strip()) > 40
    assert list(inspect.signature(fact).parameters) == ["ctx"]
    assert fact.__annotations__["return"] not in ("Any", "object")


def test_the_facts_are_the_ones_the_built_in_checks_share() -> None:
    ctx = replay_context("demo")
    assert api.weights_scan(ctx) is ctx.fact(scan_weights) is ctx.fact(api.weights_scan)
    assert api.memory_fit(ctx) is ctx.fact(memory_fit)
    assert api.chip_plan(ctx) is ctx.fact(chip_plan) and len(api.chip_plan(ctx).planned) == 8
    assert api.effective_plan(ctx).plan is ctx.plan and api.model_dir(ctx) == ctx.model_dir
    assert api.stack_choice(ctx).stack is ctx.stack and ctx.stack.pin("vllm_ascend") is not None
    assert api.node_info(ctx).rank == 0 and api.npu_smi(ctx).path is not None
    mount = api.mount_of(api.mounts(ctx), api.model_dir(ctx))
    assert mount is not None and mount.fstype == "nfs4"


def test_the_context_is_the_one_checks_receive() -> None:
    assert api.Context is Context


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, re.S)


def _glm5check_imports(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return {m for m in modules if m == "glm5check" or m.startswith("glm5check.")}


def _plugin_section(markdown: str, heading: str) -> str:
    return markdown.split(heading, 1)[1].split("\n## ", 1)[0]


def test_the_examples_import_only_the_api_and_their_tests_the_harness() -> None:
    readme = _plugin_section((REPO / "README.md").read_text(encoding="utf-8"), "## Writing a plugin")
    doc = PLUGINS_DOC.read_text(encoding="utf-8")
    blocks = _python_blocks(readme) + _python_blocks(doc)
    assert len(blocks) >= 4
    for block in blocks:
        allowed = {"glm5check.api", "glm5check.testing"} if "run_check" in block else {"glm5check.api"}
        assert _glm5check_imports(block) <= allowed, block[:200]


def _summary(func: Any) -> str:
    return " ".join(inspect.getdoc(func).split())  # type: ignore[union-attr]


def _returns(func: Any) -> str:
    return str(func.__annotations__["return"])


def _own_classes(cls: type) -> list[type]:
    """cls and its bases that glm5check defines (not object, tuple, Protocol, …), base classes first."""
    return [klass for klass in reversed(cls.__mro__) if klass.__module__.startswith("glm5check.")]


def _members(cls: type) -> list[str]:
    """Data fields, then `computed*` properties, then `methods()`, each public and once."""
    if dataclasses.is_dataclass(cls):
        data = [f.name for f in dataclasses.fields(cls)]
    elif hasattr(cls, "_fields"):
        data = list(cls._fields)
    else:  # a class with __slots__ (Context) or a Protocol's declared attributes (Host)
        data = [
            n for k in _own_classes(cls) for n in (*getattr(k, "__slots__", ()), *vars(k).get("__annotations__", {}))
        ]
    found = [v for k in _own_classes(cls) for v in vars(k).items() if not v[0].startswith("_")]
    computed = [f"{name}*" for name, value in found if isinstance(value, property)]
    methods = [f"{name}()" for name, value in found if inspect.isfunction(value)]
    return list(dict.fromkeys(n for n in (*data, *computed, *methods) if not n.startswith("_")))


def catalogue() -> str:
    """The facts and the types of glm5check.api, as docs/plugins.md shows them."""
    lines = ["| fact | returns | what it holds |", "|---|---|---|"]
    lines += [f"| `{f.__name__}(ctx)` | `{_returns(f)}` | {_summary(f)} |" for f in api.FACTS]
    types = [getattr(api, n) for n in api.__all__ if inspect.isclass(getattr(api, n))]
    records = [t for t in types if not issubclass(t, (Exception, enum.Enum))]
    lines += ["", "| type | fields, `computed*` and `methods()` |", "|---|---|"]
    lines += [f"| `{t.__name__}` | {', '.join(f'`{n}`' for n in _members(t))} |" for t in records]
    return "\n".join(lines) + "\n"


def test_the_facts_catalogue_in_docs_is_current() -> None:
    block = CATALOGUE.search(PLUGINS_DOC.read_text(encoding="utf-8"))
    assert block is not None
    assert block.group(1) == catalogue(), "run: python tests/test_api.py"


if __name__ == "__main__":
    text = PLUGINS_DOC.read_text(encoding="utf-8")
    PLUGINS_DOC.write_text(CATALOGUE.sub(lambda _: f"<!-- facts:start -->\n{catalogue()}<!-- facts:end -->", text))
