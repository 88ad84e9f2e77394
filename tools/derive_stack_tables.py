#!/usr/bin/env python3
"""Derive one stack's tables from the real sources of its vllm and vllm-ascend versions.

    python tools/derive_stack_tables.py STACK            # e.g. v0.18.0 or glm5-2026-02

reads `glm5check/knowledge/stacks/STACK.toml` (its `[derive]` section names the vllm release whose wheel is
read and the vllm-ascend git ref), fetches the vllm wheel with `pip download` (pure Python files are read
straight from the zip; nothing is installed or imported), reads vllm-ascend from a git repository with
`git archive`, and writes `glm5check/knowledge/stacks/STACK.tables.json`:

- `flags`: every `vllm serve` flag, found by interpreting vLLM's own parser-building code statically (ast):
  `make_arg_parser` in `vllm/entrypoints/openai/cli_args.py`, which calls `FrontendArgs.add_cli_args` and
  `AsyncEngineArgs.add_cli_args` → `EngineArgs.add_cli_args` in `vllm/engine/arg_utils.py`. Flags generated
  from config dataclasses go through `get_kwargs(Config)`; their kind is decided by replaying the if/elif
  chain of vLLM's `_compute_kwargs` on each field's type annotation, so a new rule in vLLM is either
  understood or reported, never silently misread.
- `env`: the variables of `vllm/envs.py` `environment_variables` and `vllm_ascend/envs.py` `env_variables`
  with their default expressions, plus every other `os.environ`/`os.getenv` read or write in vllm_ascend.
- `names`: speculative methods, CUDA-graph modes and quantization method names accepted at that version.
- `defaults`: the start-up default rules of `defaults_rules.toml` (hand-written), each anchor resolved to a
  file:line of this version; an anchor that no longer matches stops the run.

Options: `--vllm-src DIR|WHEEL` and `--ascend-src DIR` use local copies instead of pip and git;
`--ascend-git GITDIR` names the vllm-ascend repository (default: $VLLM_ASCEND_GIT, else the mirror);
`--out PATH` writes elsewhere; `--trust-helpers` accepts vLLM type helpers whose code differs from the
ones this script re-implements (only for synthetic trees in tests: review the script first otherwise).
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = REPO_ROOT / "glm5check" / "knowledge" / "stacks"
DEFAULT_ASCEND_GIT = "/work/.mirror/vllm-project+vllm-ascend/repo"
FORMAT = 1
REGENERATE = "python tools/derive_stack_tables.py "

# Where `vllm serve` builds its parser (vllm/entrypoints/cli/serve.py calls make_arg_parser).
ENTRY_MODULE = "vllm.entrypoints.openai.cli_args"
ENTRY_FUNCTION = "make_arg_parser"
ARG_UTILS = "vllm/engine/arg_utils.py"

# sha256 (first 12 hex) of the ast of vLLM's type helpers that `TypeRules` re-implements, as read in vllm
# 0.16.0 … 0.23.0. A different hash means vLLM changed how it turns a type into argparse kwargs.
KNOWN_HELPERS = {
    "get_type_hints": "403e2b26",
    "is_type": "470f7496",
    "contains_type": "67756904",
    "is_not_builtin": "b224552c",
    "collection_to_kwargs": "d0e59beb",
    "get_type": "acc1da5b",
}

PIP_PLATFORMS = ("manylinux_2_24_x86_64", "manylinux_2_28_x86_64", "manylinux_2_31_x86_64", "manylinux_2_35_x86_64")


class DeriveError(Exception):
    """The sources do not have the shape this script understands: stop and say where."""


# ---------------------------------------------------------------------------------------------- sources


class SourceTree:
    """The text files of one project version, keyed by path relative to the project root."""

    def __init__(self, files: dict[str, str], label: str) -> None:
        self.files = files
        self.label = label
        self._trees: dict[str, ast.Module] = {}

    @classmethod
    def from_dir(cls, root: Path, label: str) -> SourceTree:
        files = {p.relative_to(root).as_posix(): p.read_text("utf-8") for p in root.rglob("*.py")}
        return cls(files, label)

    @classmethod
    def from_zip(cls, path: Path, label: str) -> SourceTree:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".py")]
            return cls({n: archive.read(n).decode("utf-8") for n in names}, label)

    @classmethod
    def from_git(cls, gitdir: str, ref: str, label: str) -> SourceTree:
        blob = subprocess.run(
            ["git", "--git-dir", gitdir, "archive", "--format=tar", ref, "vllm_ascend"],
            check=True,
            capture_output=True,
        ).stdout
        files = {}
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(".py"):
                    files[member.name] = tar.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
        return cls(files, label)

    def module_path(self, dotted: str) -> str | None:
        base = dotted.replace(".", "/")
        for candidate in (base + ".py", base + "/__init__.py"):
            if candidate in self.files:
                return candidate
        return None

    def tree(self, path: str) -> ast.Module:
        if path not in self._trees:
            self._trees[path] = ast.parse(self.files[path], filename=path)
        return self._trees[path]

    def paths(self, prefix: str) -> Iterator[str]:
        return (p for p in sorted(self.files) if p.startswith(prefix))


def where(path: str, node: ast.AST) -> str:
    return f"{path}:{getattr(node, 'lineno', 0)}"


# ---------------------------------------------------------------------------------------------- modules


@dataclass
class Module:
    """The top-level names of one module as Python sees them at run time (TYPE_CHECKING blocks skipped)."""

    name: str
    path: str
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    assigns: dict[str, ast.expr] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if not module.path.endswith("__init__.py"):
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, node.module] if node.module else package)


def _collect(module: Module, body: list[ast.stmt]) -> None:
    for node in body:
        if isinstance(node, ast.ClassDef):
            module.classes[node.name] = node
        elif isinstance(node, ast.FunctionDef):
            module.functions[node.name] = node
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                module.imports[alias.asname or alias.name] = (_absolute(module, node), alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module.imports[alias.asname or alias.name.split(".")[0]] = (alias.name, None)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            module.assigns[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            module.assigns[node.target.id] = node.value
        elif sys.version_info >= (3, 12) and isinstance(node, ast.TypeAlias):  # pragma: no cover
            module.assigns[node.name.id] = node.value
        elif isinstance(node, ast.If):
            _collect(module, node.orelse if _is_type_checking(node.test) else node.body + node.orelse)
        elif isinstance(node, ast.Try):
            _collect(module, node.body)


class Project:
    """Module lookup over one SourceTree."""

    def __init__(self, tree: SourceTree) -> None:
        self.src = tree
        self._modules: dict[str, Module | None] = {}

    def module(self, dotted: str) -> Module | None:
        if dotted not in self._modules:
            path = self.src.module_path(dotted)
            mod = None
            if path is not None:
                mod = Module(dotted, path)
                _collect(mod, self.src.tree(path).body)
            self._modules[dotted] = mod
        return self._modules[dotted]

    def module_of_path(self, path: str) -> Module:
        dotted = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        mod = self.module(dotted)
        if mod is None:
            raise DeriveError(f"{self.src.label}: {path} not found")
        return mod

    def resolve(self, mod: Module, name: str, depth: int = 0) -> tuple[str, Module, Any]:
        """What `name` means in `mod`: ("class"|"alias"|"function", defining module, node), ("module", module,
        None), or ("external", mod, dotted name) for anything outside the tree."""
        if depth > 20:
            raise DeriveError(f"import cycle resolving {name} in {mod.path}")
        if name in mod.classes:
            return "class", mod, mod.classes[name]
        if name in mod.functions:
            return "function", mod, mod.functions[name]
        if name in mod.assigns:
            return "alias", mod, mod.assigns[name]
        if name in mod.imports:
            source, attr = mod.imports[name]
            target = self.module(source)
            if attr is None:
                return "external", mod, source
            if target is not None:
                return self.resolve(target, attr, depth + 1)
            sub = self.module(f"{source}.{attr}")
            return ("module", sub, None) if sub else ("external", mod, f"{source}.{attr}")
        return "external", mod, name


# ---------------------------------------------------------------------------------------------- types

# A type hint as `_compute_kwargs` sees it after get_type_hints() flattened Unions and Annotated:
# ("builtin", "bool") | ("generic", origin, args, builtin_syntax) | ("literal", values) |
# ("dataclass", qualname) | ("class", qualname) | ("forward", text)
Hint = tuple
BUILTINS = {"bool", "int", "float", "str", "dict", "list", "tuple", "set", "frozenset", "bytes", "type", "object"}
TYPING_GENERICS = {
    "List": "list",
    "Dict": "dict",
    "Tuple": "tuple",
    "Set": "set",
    "FrozenSet": "frozenset",
    "Type": "type",
}
DATACLASS_DECORATORS = {"dataclass", "config", "pydantic_dataclass"}


class TypeRules:
    """vLLM's type → argparse-kwargs logic (vllm/engine/arg_utils.py), re-implemented over the ast."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def hints(self, expr: ast.expr | None, mod: Module) -> frozenset[Hint]:
        if expr is None:
            return frozenset()
        if isinstance(expr, ast.Constant):
            if expr.value is None:
                return frozenset({("builtin", "NoneType")})
            if isinstance(expr.value, str):
                return frozenset({("forward", expr.value)})
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return self.hints(expr.left, mod) | self.hints(expr.right, mod)
        if isinstance(expr, ast.Subscript):
            return self._subscript(expr, mod)
        return frozenset({self._named(expr, mod)})

    def _named(self, expr: ast.expr, mod: Module) -> Hint:
        name = ast.unparse(expr)
        if isinstance(expr, ast.Name) and expr.id in BUILTINS:
            return ("builtin", expr.id)
        if not isinstance(expr, ast.Name):
            return ("class", name)
        kind, where_mod, node = self.project.resolve(mod, expr.id)
        if kind == "class":
            return ("dataclass" if self.is_dataclass(node, where_mod) else "class", f"{where_mod.name}.{node.name}")
        if kind == "alias":
            hints = self.hints(node, where_mod)
            if len(hints) == 1:
                return next(iter(hints))
            return ("union", hints)
        return ("class", str(node))

    def _special(self, expr: ast.expr, mod: Module) -> str:
        """The typing special form or builtin generic a subscript base names, else ''."""
        if isinstance(expr, ast.Attribute):
            return expr.attr
        if not isinstance(expr, ast.Name):
            return ""
        if expr.id in BUILTINS:
            return expr.id
        kind, _, node = self.project.resolve(mod, expr.id)
        if kind == "external" and isinstance(node, str) and node.split(".")[0] in {"typing", "typing_extensions"}:
            return node.split(".")[-1]
        return expr.id if kind == "external" else ""

    def _subscript(self, expr: ast.Subscript, mod: Module) -> frozenset[Hint]:
        special = self._special(expr.value, mod)
        args = list(expr.slice.elts) if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        if special == "Optional":
            return self.hints(args[0], mod) | {("builtin", "NoneType")}
        if special == "Union":
            return frozenset().union(*(self.hints(a, mod) for a in args))
        if special == "Annotated":
            return self.hints(args[0], mod)
        if special == "Literal":
            return frozenset({("literal", self._literal_values(args, mod))})
        if special in {"ClassVar", "InitVar"}:
            return frozenset({("pseudo", special)})
        if special in BUILTINS or special in TYPING_GENERICS:
            origin = TYPING_GENERICS.get(special, special)
            shape = tuple(
                "..." if isinstance(a, ast.Constant) and a.value is Ellipsis else ast.unparse(a) for a in args
            )
            return frozenset({("generic", origin, shape, special in BUILTINS, self._literal_values(args[:1], mod))})
        return frozenset({("class", ast.unparse(expr))})

    def _literal_values(self, args: list[ast.expr], mod: Module) -> tuple:
        values: list[Any] = []
        for arg in args:
            if isinstance(arg, ast.Constant):
                values.append(arg.value)
                continue
            for hint in self._flat(self.hints(arg, mod)):
                if hint[0] == "literal":
                    values.extend(hint[1])
        return tuple(values)

    @staticmethod
    def _flat(hints: frozenset[Hint]) -> frozenset[Hint]:
        out: set[Hint] = set()
        for hint in hints:
            out |= TypeRules._flat(hint[1]) if hint[0] == "union" else {hint}
        return frozenset(out)

    def field_hints(self, annotation: ast.expr, mod: Module) -> frozenset[Hint]:
        return self._flat(self.hints(annotation, mod))

    def is_dataclass(self, node: ast.ClassDef, mod: Module) -> bool:
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if ast.unparse(target).split(".")[-1] in DATACLASS_DECORATORS:
                return True
        return any(self._base_is_dataclass(base, mod) for base in node.bases)

    def _base_is_dataclass(self, base: ast.expr, mod: Module) -> bool:
        if not isinstance(base, ast.Name):
            return False
        kind, base_mod, node = self.project.resolve(mod, base.id)
        return kind == "class" and self.is_dataclass(node, base_mod)


def is_type(hint: Hint, name: str) -> bool:
    if name == "Literal":
        return hint[0] == "literal"
    return hint == ("builtin", name) or (hint[0] == "generic" and hint[1] == name)


def is_not_builtin(hint: Hint) -> bool:
    if hint[0] == "builtin":
        return False
    return not (hint[0] == "generic" and hint[3])


def collection_nargs(hints: frozenset[Hint], name: str) -> str | int:
    """collection_to_kwargs: nargs '+' unless a fixed-length tuple (then its length)."""
    hint = next(h for h in hints if is_type(h, name))
    if name == "tuple" and hint[0] == "generic" and "..." not in hint[2]:
        return len(hint[2])
    return "+"


# ---------------------------------------------------------------------------------------------- kwargs chain


@dataclass
class Branch:
    test: ast.expr | None  # None = the final else
    effect: dict[str, Any]
    unsupported: bool


class KwargsChain:
    """The if/elif chain in vLLM's `_compute_kwargs` that maps a field's type hints to argparse kwargs."""

    def __init__(self, project: Project) -> None:
        mod = project.module_of_path(ARG_UTILS)
        self.path = mod.path
        fn = mod.functions.get("_compute_kwargs") or mod.functions.get("get_kwargs")
        if fn is None:
            raise DeriveError(f"{ARG_UTILS}: neither _compute_kwargs nor get_kwargs found")
        self.branches = self._chain(fn)
        self.helper_hashes = {name: _ast_hash(mod.functions[name]) for name in KNOWN_HELPERS if name in mod.functions}

    def _chain(self, fn: ast.FunctionDef) -> list[Branch]:
        start = next(
            (n for n in ast.walk(fn) if isinstance(n, ast.If) and ast.unparse(n.test) == "dataclass_cls is not None"),
            None,
        )
        if start is None:
            raise DeriveError(f"{ARG_UTILS}:{fn.lineno}: the type dispatch `if dataclass_cls is not None` is gone")
        branches, node = [], start
        while True:
            branches.append(Branch(node.test, *_effect(node.body)))
            if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
                node = node.orelse[0]
                continue
            branches.append(Branch(None, *_effect(node.orelse)))
            return branches

    def check_helpers(self) -> list[str]:
        problems = []
        for name, known in KNOWN_HELPERS.items():
            seen = self.helper_hashes.get(name)
            if seen != known:
                problems.append(f"{self.path}: {name} is {'missing' if seen is None else 'changed'}")
        return problems

    def kwargs_for(self, hints: frozenset[Hint], where_: str) -> dict[str, Any]:
        for branch in self.branches:
            if branch.test is None or _pred(branch.test, hints):
                if branch.unsupported:
                    raise DeriveError(f"{where_}: vLLM rejects this field's type {sorted(map(str, hints))}")
                return _apply(branch.effect, hints)
        return {}


def _ast_hash(fn: ast.FunctionDef) -> str:
    clean = ast.parse(ast.unparse(fn)).body[0]
    if ast.get_docstring(clean):  # type: ignore[arg-type]
        clean.body = clean.body[1:]  # type: ignore[attr-defined]
    return hashlib.sha256(ast.dump(clean).encode()).hexdigest()[:8]


def _effect(body: list[ast.stmt]) -> tuple[dict[str, Any], bool]:
    """What one branch sets: action / nargs / const literals, or a collection_to_kwargs call."""
    effect: dict[str, Any] = {}
    unsupported = False
    for node in _walk_outside_defs(body):
        if isinstance(node, ast.Raise):
            unsupported = True
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            key = node.targets[0].slice
            if isinstance(key, ast.Constant) and key.value in {"action", "nargs", "const"}:
                value = node.value
                effect[key.value] = value.value if isinstance(value, ast.Constant) else ast.unparse(value)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "collection_to_kwargs":
            effect["nargs_of"] = ast.unparse(node.args[1])
    return effect, unsupported


def _walk_outside_defs(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """ast.walk over statements, not entering nested function definitions (their raise is not ours)."""
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _apply(effect: dict[str, Any], hints: frozenset[Hint]) -> dict[str, Any]:
    out = {k: v for k, v in effect.items() if k != "nargs_of"}
    if "nargs_of" in effect:
        out["nargs"] = collection_nargs(hints, effect["nargs_of"])
    out.update(literal_choices(hints, "nargs" in out))
    return out


def literal_choices(hints: frozenset[Hint], collection: bool) -> dict[str, Any]:
    """literal_to_kwargs: a Literal (or a collection of one) gives `choices`, or only a `metavar` when the
    field also accepts any str; an optional field adds the choice "None"."""
    values: tuple = ()
    if collection:
        values = next((h[4] for h in hints if h[0] == "generic" and h[4]), ())
    elif not any(is_type(h, name) for h in hints for name in ("bool",)):
        values = next((h[1] for h in hints if h[0] == "literal"), ())
    if not values:
        return {}
    if not collection and any(is_type(h, "str") for h in hints):
        return {"metavar": sorted(map(str, values))}
    choices = sorted(values, key=str)
    if ("builtin", "NoneType") in hints:
        choices.append("None")
    return {"choices": choices}


def _pred(test: ast.expr, hints: frozenset[Hint]) -> bool:
    """Evaluate one condition of the chain; a shape this does not know stops the run."""
    if isinstance(test, ast.BoolOp):
        values = (_pred(v, hints) for v in test.values)
        return all(values) if isinstance(test.op, ast.And) else any(values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return not _pred(test.operand, hints)
    text = ast.unparse(test)
    if text == "dataclass_cls is not None":
        return any(h[0] == "dataclass" for h in hints)
    if text == "any((is_not_builtin(th) for th in type_hints))":
        return any(is_not_builtin(h) for h in hints)
    match = re.fullmatch(r"contains_type\(type_hints, (\w+)\)", text)
    if match:
        return any(is_type(h, match.group(1)) for h in hints)
    match = re.fullmatch(r"type_hints == \{(.*)\}", text)
    if match:
        wanted = {
            ("builtin", "NoneType" if n.strip() == "type(None)" else n.strip()) for n in match.group(1).split(",")
        }
        return set(hints) == wanted
    raise DeriveError(f"{ARG_UTILS}:{test.lineno}: unknown condition in _compute_kwargs: {text}")


# ---------------------------------------------------------------------------------------------- parser interpreter


class Expr(str):
    """A value the interpreter does not compute: kept as its source text."""


def literal_of(project: Project, value: ast.expr, mod: Module, depth: int = 0) -> Any:
    """A literal scalar (following module-level constant names), else the expression's text as an Expr."""
    if isinstance(value, ast.Constant) and isinstance(value.value, (str, int, float, bool, type(None))):
        return value.value
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
        operand = value.operand
        if isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float)):
            return -operand.value
    if isinstance(value, ast.Name) and depth < 5:
        kind, where_mod, node = project.resolve(mod, value.id)
        if kind == "alias":
            resolved = literal_of(project, node, where_mod, depth + 1)
            if not isinstance(resolved, Expr):
                return resolved
    return Expr(ast.unparse(value))


@dataclass
class ClassRef:
    module: Module
    node: ast.ClassDef


@dataclass
class BoundMethod:
    cls: ClassRef  # the class the method runs for (`cls` of a classmethod)
    start: ClassRef  # where the lookup starts
    name: str
    skip_own: bool = False  # super(): look in the bases of `start` only


class Parser:
    """The parser object (or an argument group of it): add_argument calls are recorded."""


@dataclass
class Flag:
    names: list[str]
    kwargs: dict[str, Any]
    source: str


FIELD_KEY = "__field__"


class Interpreter:
    """Runs vLLM's parser-building functions over the ast, recording each add_argument call."""

    def __init__(self, project: Project, chain: KwargsChain, rules: TypeRules) -> None:
        self.project = project
        self.chain = chain
        self.rules = rules
        self.flags: list[Flag] = []
        self.positionals: list[str] = []
        self._kwargs_cache: dict[str, dict[str, dict[str, Any]]] = {}

    # -- dataclass fields and get_kwargs
    def fields(self, ref: ClassRef) -> list[tuple[str, ast.AnnAssign, Module]]:
        out: dict[str, tuple[str, ast.AnnAssign, Module]] = {}
        for base in ref.node.bases:
            base_ref = self.class_ref(ref.module, base)
            if base_ref is not None and self.rules.is_dataclass(base_ref.node, base_ref.module):
                for item in self.fields(base_ref):
                    out[item[0]] = item
        for node in ref.node.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                hints = self.rules.field_hints(node.annotation, ref.module)
                if not any(h[0] == "pseudo" for h in hints) and "KW_ONLY" not in ast.unparse(node.annotation):
                    out[node.target.id] = (node.target.id, node, ref.module)
        return list(out.values())

    def class_ref(self, mod: Module, expr: ast.expr) -> ClassRef | None:
        if not isinstance(expr, ast.Name):
            return None
        kind, where_mod, node = self.project.resolve(mod, expr.id)
        return ClassRef(where_mod, node) if kind == "class" else None

    def get_kwargs(self, ref: ClassRef) -> dict[str, dict[str, Any]]:
        key = f"{ref.module.name}.{ref.node.name}"
        if key not in self._kwargs_cache:
            table = {}
            for name, node, mod in self.fields(ref):
                origin = where(mod.path, node)
                entry = {"default": self.field_default(node.value, mod), "help": Expr("<help>")}
                entry[FIELD_KEY] = (f"{ref.node.name}.{name}", origin)
                entry.update(self.chain.kwargs_for(self.rules.field_hints(node.annotation, mod), origin))
                table[name] = entry
            self._kwargs_cache[key] = table
        return copy.deepcopy(self._kwargs_cache[key])

    def field_default(self, value: ast.expr | None, mod: Module) -> Any:
        if value is None:
            return Expr("<required>")
        if isinstance(value, ast.Call) and ast.unparse(value.func).split(".")[-1] in {"field", "Field"}:
            for kw in value.keywords:
                if kw.arg == "default":
                    return self.constant(kw.value, mod)
                if kw.arg == "default_factory":
                    return Expr(f"factory {ast.unparse(kw.value)}")
            return Expr(ast.unparse(value))
        return self.constant(value, mod)

    def constant(self, value: ast.expr, mod: Module) -> Any:
        return literal_of(self.project, value, mod)

    # -- running functions
    def run(self, mod: Module, fn: ast.FunctionDef, args: list[Any], owner: ClassRef | None) -> Any:
        params = [a.arg for a in fn.args.args]
        env: dict[str, Any] = dict(zip(params, args))
        for param, default in zip(reversed(params), reversed(fn.args.defaults)):
            env.setdefault(param, self.constant(default, mod))
        try:
            self.block(fn.body, env, mod, owner)
        except _Return as ret:
            return ret.value
        return None

    def block(self, body: list[ast.stmt], env: dict[str, Any], mod: Module, owner: ClassRef | None) -> None:
        for stmt in body:
            self.stmt(stmt, env, mod, owner)

    def stmt(self, node: ast.stmt, env: dict[str, Any], mod: Module, owner: ClassRef | None) -> None:
        ev = lambda e: self.eval(e, env, mod, owner)  # noqa: E731
        if isinstance(node, ast.Return):
            raise _Return(ev(node.value) if node.value else None)
        if isinstance(node, ast.Expr):
            ev(node.value)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = ev(node.value)
            for target in targets:
                self.assign(target, value, env, mod, owner)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Subscript):
                    container, key = ev(target.value), ev(target.slice)
                    if isinstance(container, dict):
                        container.pop(key, None)
        elif isinstance(node, ast.If):
            self.branch(node, env, mod, owner)
        elif isinstance(node, ast.For):
            self.loop(node, env, mod, owner)
        elif isinstance(node, (ast.With, ast.Try)):
            self.block(node.body, env, mod, owner)

    def assign(self, target: ast.expr, value: Any, env: dict, mod: Module, owner: ClassRef | None) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value, env, mod, owner)
            if isinstance(container, dict):
                container[self.eval(target.slice, env, mod, owner)] = value

    def branch(self, node: ast.If, env: dict, mod: Module, owner: ClassRef | None) -> None:
        test = self.eval(node.test, env, mod, owner)
        if isinstance(test, Expr):  # decided at run time (sys.argv, platform): both arms may add flags
            self.block(node.body, env, mod, owner)
            self.block(node.orelse, env, mod, owner)
        else:
            self.block(node.body if test else node.orelse, env, mod, owner)

    def loop(self, node: ast.For, env: dict, mod: Module, owner: ClassRef | None) -> None:
        items = self.eval(node.iter, env, mod, owner)
        if not isinstance(items, list):
            raise DeriveError(f"{where(mod.path, node)}: cannot follow loop over {ast.unparse(node.iter)}")
        for item in items:
            self.assign_tuple(node.target, item, env)
            self.block(node.body, env, mod, owner)

    @staticmethod
    def assign_tuple(target: ast.expr, item: Any, env: dict) -> None:
        if isinstance(target, ast.Tuple):
            for sub, value in zip(target.elts, item):
                if isinstance(sub, ast.Name):
                    env[sub.id] = value
        elif isinstance(target, ast.Name):
            env[target.id] = item

    # -- expressions
    def eval(self, node: ast.expr, env: dict, mod: Module, owner: ClassRef | None) -> Any:
        """The value of an expression: a literal, a dict or list of values, a class, a parser, or an Expr."""
        ev = lambda e: self.eval(e, env, mod, owner)  # noqa: E731
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id] if node.id in env else self.global_name(node, mod)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, ev(node.value))
        if isinstance(node, ast.Call):
            return self.call(node, env, mod, owner)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        handler = {
            ast.Subscript: self._subscript,
            ast.Dict: self._dict,
            ast.JoinedStr: self._fstring,
            ast.UnaryOp: self._not,
            ast.Compare: self._membership,
        }.get(type(node))
        return handler(node, ev, mod) if handler else Expr(ast.unparse(node))

    @staticmethod
    def _subscript(node: Any, ev: Any, mod: Module) -> Any:
        container, key = ev(node.value), ev(node.slice)
        if not isinstance(container, dict) or isinstance(key, Expr):
            return Expr(ast.unparse(node))
        if key not in container:  # vLLM itself would raise KeyError here
            raise DeriveError(f"{where(mod.path, node)}: {ast.unparse(node)}: no such key")
        return container[key]

    @staticmethod
    def _dict(node: Any, ev: Any, mod: Module) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:  # {**other, "default": None}
                out.update(ev(value))
            else:
                out[ev(key)] = ev(value)
        return out

    @staticmethod
    def _fstring(node: Any, ev: Any, mod: Module) -> Any:
        parts = [ev(v.value) if isinstance(v, ast.FormattedValue) else v.value for v in node.values]
        computed = all(isinstance(p, str) and not isinstance(p, Expr) for p in parts)
        return "".join(parts) if computed else Expr(ast.unparse(node))

    @staticmethod
    def _not(node: Any, ev: Any, mod: Module) -> Any:
        operand = ev(node.operand) if isinstance(node.op, ast.Not) else None
        return not operand if operand is not None and not isinstance(operand, Expr) else Expr(ast.unparse(node))

    @staticmethod
    def _membership(node: Any, ev: Any, mod: Module) -> Any:
        """`"key" in kwargs[...]`: decidable when the right side is a dict the interpreter built."""
        if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.In, ast.NotIn)):
            return Expr(ast.unparse(node))
        left, right = ev(node.left), ev(node.comparators[0])
        if isinstance(right, dict) and not isinstance(left, Expr):
            return (left in right) == isinstance(node.ops[0], ast.In)
        return Expr(ast.unparse(node))

    def global_name(self, node: ast.Name, mod: Module) -> Any:
        kind, where_mod, target = self.project.resolve(mod, node.id)
        if kind == "class":
            return ClassRef(where_mod, target)
        if kind == "function" and target.name == "get_kwargs":
            return Expr("get_kwargs")
        return Expr(node.id)

    def attribute(self, node: ast.Attribute, base: Any) -> Any:
        if isinstance(base, ClassRef):
            if self.find_method(base, node.attr, False) is not None:
                return BoundMethod(base, base, node.attr)
            for name, ann, mod in self.fields(base):
                if name == node.attr:
                    return self.field_default(ann.value, mod)
        return Expr(ast.unparse(node))

    def find_method(self, ref: ClassRef, name: str, skip_own: bool) -> tuple[ClassRef, ast.FunctionDef] | None:
        if not skip_own:
            for node in ref.node.body:
                if isinstance(node, ast.FunctionDef) and node.name == name:
                    return ref, node
        for base in ref.node.bases:
            base_ref = self.class_ref(ref.module, base)
            found = self.find_method(base_ref, name, False) if base_ref else None
            if found:
                return found
        return None

    def call(self, node: ast.Call, env: dict, mod: Module, owner: ClassRef | None) -> Any:
        ev = lambda e: self.eval(e, env, mod, owner)  # noqa: E731
        func = node.func
        if isinstance(func, ast.Attribute) and ast.unparse(func.value) == "super()":
            if owner is None:
                raise DeriveError(f"{where(mod.path, node)}: super() outside a class")
            cls = env.get("cls")
            runtime = cls if isinstance(cls, ClassRef) else owner
            method = BoundMethod(runtime, owner, func.attr, skip_own=True)
            return self.invoke(method, [ev(a) for a in node.args], mod, node)
        if isinstance(func, ast.Attribute):
            base = ev(func.value)
            if isinstance(base, Parser):
                return self.parser_call(func.attr, node, env, mod, owner)
            if isinstance(base, dict):
                return self.dict_call(base, func.attr, [ev(a) for a in node.args])
            if isinstance(base, str) and not isinstance(base, Expr) and func.attr == "replace":
                return base.replace(*[ev(a) for a in node.args])
        target = ev(func)
        if target == "get_kwargs" or (isinstance(func, ast.Name) and func.id == "get_kwargs"):
            ref = ev(node.args[0])
            if not isinstance(ref, ClassRef):
                raise DeriveError(f"{where(mod.path, node)}: get_kwargs of an unknown class")
            return self.get_kwargs(ref)
        if isinstance(target, BoundMethod):
            return self.invoke(target, [ev(a) for a in node.args], mod, node)
        return Expr(ast.unparse(node))

    def invoke(self, method: BoundMethod, args: list[Any], mod: Module, node: ast.Call) -> Any:
        found = self.find_method(method.start, method.name, method.skip_own)
        if found is None:
            raise DeriveError(f"{where(mod.path, node)}: method {method.name} not found")
        defining, fn = found
        if "classmethod" in {ast.unparse(d) for d in fn.decorator_list}:
            args = [method.cls, *args]
        return self.run(defining.module, fn, args, defining)

    @staticmethod
    def dict_call(base: dict, name: str, args: list[Any]) -> Any:
        if name == "items":
            return [[k, v] for k, v in base.items()]
        if name == "pop":
            return base.pop(args[0], *args[1:2])
        if name == "update" and args and isinstance(args[0], dict):
            base.update(args[0])
            return None
        if name == "get":
            return base.get(args[0], *args[1:2])
        return Expr(f"dict.{name}")

    def parser_call(self, name: str, node: ast.Call, env: dict, mod: Module, owner: ClassRef | None) -> Any:
        ev = lambda e: self.eval(e, env, mod, owner)  # noqa: E731
        if name in {"add_argument_group", "add_mutually_exclusive_group"}:
            return Parser()
        if name != "add_argument":
            return Expr(f"parser.{name}")
        names: list[Any] = []
        for arg in node.args:
            value = ev(arg.value) if isinstance(arg, ast.Starred) else ev(arg)
            names.extend(value if isinstance(value, list) else [value])
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            value = ev(kw.value)
            if kw.arg is None:
                kwargs.update(value)
            else:
                kwargs[kw.arg] = value
        if any(isinstance(n, Expr) or not isinstance(n, str) for n in names):
            raise DeriveError(f"{where(mod.path, node)}: flag name not computable: {ast.unparse(node)}")
        if not any(n.startswith("-") for n in names):
            self.positionals.extend(names)
        else:
            self.flags.append(Flag(names, kwargs, where(mod.path, node)))
        return Expr("action")


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


# ---------------------------------------------------------------------------------------------- flag table

SWITCH_ACTIONS = {"store_true", "store_false", "store_const", "count", "help", "version"}


def flag_kind(kwargs: dict[str, Any]) -> str:
    """value | bool (BooleanOptionalAction, so --no- too) | switch (no value) | list (nargs +) | optional (nargs ?)."""
    action = kwargs.get("action")
    if isinstance(action, str) and action.endswith("BooleanOptionalAction"):
        return "bool"
    if isinstance(action, str) and action in SWITCH_ACTIONS:
        return "switch"
    nargs = kwargs.get("nargs")
    if nargs in ("+", "*") or (isinstance(nargs, int) and nargs > 1):
        return "list"
    if nargs == "?":
        return "optional"
    return "value"


def flag_default(kwargs: dict[str, Any]) -> tuple[bool, Any]:
    """(is_literal, value): argparse's default for the flag, when it is None, a number, a string or a bool."""
    if "default" not in kwargs:
        action = kwargs.get("action")
        return True, (False if action == "store_true" else True if action == "store_false" else None)
    value = kwargs["default"]
    if isinstance(value, Expr) or not isinstance(value, (str, int, float, bool, type(None))):
        return False, str(value) if isinstance(value, Expr) else repr(value)
    return True, value


def flag_rows(flags: list[Flag]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for flag in flags:
        longs = [n for n in flag.names if n.startswith("--")]
        row: dict[str, Any] = {"kind": flag_kind(flag.kwargs)}
        aliases = [n for n in flag.names if n != longs[0]]
        if aliases:
            row["aliases"] = aliases
        literal, value = flag_default(flag.kwargs)
        row["default" if literal else "default_expr"] = value
        if flag.kwargs.get("deprecated") is True:
            row["deprecated"] = True
        row["source"] = flag.source
        if FIELD_KEY in flag.kwargs:
            row["field"], row["field_source"] = flag.kwargs[FIELD_KEY]
        rows[longs[0]] = row
    return dict(sorted(rows.items()))


def parser_aliases(project: Project) -> dict[str, str]:
    """Short forms that FlexibleArgumentParser rewrites itself (`-O3` → `--optimization-level 3`)."""
    path = "vllm/utils/argparse_utils.py"
    if path not in project.src.files:
        return {}
    aliases = {}
    for node in ast.walk(project.src.tree(path)):
        if not isinstance(node, ast.If):
            continue
        short = re.search(r"\.startswith\('(-[A-Za-z])'\)", ast.unparse(node.test))
        longs = [
            n.value
            for stmt in node.body
            for n in ast.walk(stmt)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("--")
        ]
        if short and longs:
            aliases[short.group(1)] = f"{longs[0]} ({path}:{node.lineno})"
    return aliases


def derive_flags(project: Project, trust_helpers: bool) -> dict[str, Any]:
    chain = KwargsChain(project)
    problems = chain.check_helpers()
    if problems and not trust_helpers:
        raise DeriveError("vLLM's type helpers differ from what this script re-implements: " + "; ".join(problems))
    interp = Interpreter(project, chain, TypeRules(project))
    mod = project.module(ENTRY_MODULE)
    if mod is None or ENTRY_FUNCTION not in mod.functions:
        raise DeriveError(f"{ENTRY_MODULE}.{ENTRY_FUNCTION} not found")
    interp.run(mod, mod.functions[ENTRY_FUNCTION], [Parser()], None)
    return {
        "flags": flag_rows(interp.flags),
        "positionals": interp.positionals,
        "parser_aliases": parser_aliases(project),
    }


# ---------------------------------------------------------------------------------------------- environment

ENV_CALLS = {"os.getenv", "os.environ.get", "getenv", "environ.get"}  # direct reads outside the envs tables


ENV_GETTERS = ("os.getenv", "os.environ.get", "getenv", "environ.get")
# vllm/envs.py helpers whose second argument is the default: env_with_choices(name, default, choices), …
CHOICE_GETTERS = ("env_with_choices", "env_list_with_choices", "env_set_with_choices")
# deprecated_env(name, removal_version, replacement, getter) wraps a getter and warns when the variable is set
DEPRECATED_WRAPPER = "deprecated_env"


def _reads_name(node: ast.AST, name: str, funcs: tuple[str, ...]) -> bool:
    if not (isinstance(node, ast.Call) and node.args and ast.unparse(node.func).endswith(funcs)):
        return False
    first = node.args[0]
    return isinstance(first, ast.Constant) and first.value == name


def _env_default(body: ast.expr, name: str) -> tuple[bool, Any]:
    """The default a variable's getter falls back to: the second argument of the os.getenv / environ.get (or
    env_with_choices) call that reads `name`; (False, text) when it is not a literal."""
    for funcs in (ENV_GETTERS, CHOICE_GETTERS):
        call = next((n for n in ast.walk(body) if _reads_name(n, name, funcs)), None)
        if isinstance(call, ast.Call):
            fallback = call.args[1] if len(call.args) > 1 else None
            if fallback is None:
                return True, None
            try:
                return True, ast.literal_eval(fallback)
            except ValueError:
                return False, ast.unparse(fallback)
    return False, None


def _env_row(value: ast.expr, name: str, source: str) -> dict[str, Any]:
    """One variable of an envs table: its default, getter text and line; deprecated_env wrappers unwrapped."""
    deprecated = None
    if isinstance(value, ast.Call) and _reads_name(value, name, (DEPRECATED_WRAPPER,)) and len(value.args) >= 4:
        deprecated = _short(" ".join(ast.unparse(a) for a in value.args[1:3]))
        value = value.args[3]
    body = value.body if isinstance(value, ast.Lambda) else value
    known, default = _env_default(body, name)
    row: dict[str, Any] = {"default": default} if known else {}
    if deprecated:
        row["deprecated"] = deprecated
    return {**row, "expr": _short(ast.unparse(body)), "source": source}


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def env_table(src: SourceTree, path: str, dict_name: str) -> dict[str, dict[str, Any]]:
    """The entries of the `dict_name = {"VAR": lambda: …}` table in `path`."""
    if path not in src.files:
        return {}
    table: dict[str, dict[str, Any]] = {}
    for node in src.tree(path).body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        if not (isinstance(target, ast.Name) and target.id == dict_name and isinstance(node.value, ast.Dict)):
            continue
        for key, value in zip(node.value.keys, node.value.values):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                table[key.value] = _env_row(value, key.value, where(path, key))
    return dict(sorted(table.items()))


def _env_access(node: ast.AST) -> tuple[str, str] | None:
    """(name, "read"|"write") when `node` reads or writes one environment variable by a constant name."""
    if (
        isinstance(node, ast.Call)
        and node.args
        and ast.unparse(node.func) in ENV_CALLS | {"os.environ.setdefault", "os.environ.pop"}
    ):
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            op = "write" if ast.unparse(node.func).endswith(("setdefault", "pop")) else "read"
            return first.value, op
    environ = {"os.environ", "environ"}
    subscript = isinstance(node, ast.Subscript) and ast.unparse(node.value) in environ
    if subscript and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):  # type: ignore[attr-defined]
        return node.slice.value, "write" if isinstance(node.ctx, (ast.Store, ast.Del)) else "read"  # type: ignore[attr-defined]
    membership = isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.In, ast.NotIn))
    if membership and ast.unparse(node.comparators[0]) in environ and isinstance(node.left, ast.Constant):  # type: ignore[attr-defined]
        return str(node.left.value), "read"  # type: ignore[attr-defined]
    return None


def env_accesses(src: SourceTree, prefix: str, skip: str) -> dict[str, dict[str, list[str]]]:
    """Every direct os.environ / os.getenv access by constant name under `prefix` (except the envs table)."""
    found: dict[str, dict[str, list[str]]] = {}
    for path in src.paths(prefix):
        if path == skip:
            continue
        for node in ast.walk(src.tree(path)):
            access = _env_access(node)
            if access:
                found.setdefault(access[0], {}).setdefault(access[1], []).append(where(path, node))
    return dict(sorted(found.items()))


def env_uses(src: SourceTree, prefix: str, names: set[str], module_aliases: set[str]) -> dict[str, list[str]]:
    """Where vllm_ascend code reads `envs_ascend.NAME` (or any alias of its envs module)."""
    uses: dict[str, list[str]] = {}
    for path in src.paths(prefix):
        for node in ast.walk(src.tree(path)):
            if isinstance(node, ast.Attribute) and node.attr in names and ast.unparse(node.value) in module_aliases:
                uses.setdefault(node.attr, []).append(where(path, node))
    return dict(sorted(uses.items()))


def derive_env(vllm: SourceTree, ascend: SourceTree) -> dict[str, Any]:
    ascend_table = env_table(ascend, "vllm_ascend/envs.py", "env_variables")
    return {
        "vllm": env_table(vllm, "vllm/envs.py", "environment_variables"),
        "vllm_direct": env_accesses(vllm, "vllm/", "vllm/envs.py"),
        "vllm_ascend": ascend_table,
        "vllm_ascend_uses": env_uses(ascend, "vllm_ascend/", set(ascend_table), {"envs", "envs_ascend", "ascend_envs"}),
        "vllm_ascend_direct": env_accesses(ascend, "vllm_ascend/", "vllm_ascend/envs.py"),
    }


# ---------------------------------------------------------------------------------------------- names


def literal_names(project: Project, module: str, alias: str) -> tuple[list[str], str]:
    mod = project.module(module)
    if mod is None or alias not in mod.assigns:
        raise DeriveError(f"{module}.{alias} not found")
    hints = TypeRules(project).field_hints(mod.assigns[alias], mod)
    values = sorted({str(v) for h in hints if h[0] == "literal" for v in h[1]})
    return values, where(mod.path, mod.assigns[alias])


def enum_members(project: Project, module: str, cls: str) -> tuple[list[str], str]:
    mod = project.module(module)
    if mod is None or cls not in mod.classes:
        raise DeriveError(f"{module}.{cls} not found")
    node = mod.classes[cls]
    members = [t.id for s in node.body if isinstance(s, ast.Assign) for t in s.targets if isinstance(t, ast.Name)]
    return [m for m in members if m.isupper()], where(mod.path, node)


def registered_quantizations(ascend: SourceTree) -> dict[str, str]:
    """Quantization names vllm-ascend registers with vLLM (`register_quantization_config(NAME)`)."""
    project = Project(ascend)
    found: dict[str, str] = {}
    for path in ascend.paths("vllm_ascend/"):
        mod = project.module_of_path(path)
        for node in ast.walk(ascend.tree(path)):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).endswith("register_quantization_config")
                and node.args
            ):
                name = literal_of(project, node.args[0], mod)
                if not isinstance(name, Expr):
                    found.setdefault(str(name), where(path, node))
    return dict(sorted(found.items()))


def derive_names(project: Project, ascend: SourceTree) -> dict[str, Any]:
    spec, spec_src = literal_names(project, "vllm.config.speculative", "SpeculativeMethod")
    modes, modes_src = enum_members(project, "vllm.config.compilation", "CUDAGraphMode")
    quant, quant_src = literal_names(project, "vllm.model_executor.layers.quantization", "QuantizationMethods")
    return {
        "speculative_methods": {"values": spec, "source": spec_src},
        "cudagraph_modes": {"values": modes, "source": modes_src},
        "quantization_methods": {"values": quant, "source": quant_src},
        "quantization_methods_ascend": registered_quantizations(ascend),
    }


# ---------------------------------------------------------------------------------------------- defaults


def resolve_anchor(trees: dict[str, SourceTree], anchor: dict[str, str]) -> str:
    """file:line of the first line of `anchor["file"]` in `anchor["repo"]` that matches `anchor["pattern"]`."""
    src = trees[anchor["repo"]]
    text = src.files.get(anchor["file"])
    if text is None:
        raise DeriveError(f"{src.label}: {anchor['file']} not found (anchor {anchor['pattern']!r})")
    pattern = re.compile(anchor["pattern"])
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line):
            return f"{anchor['file']}:{number}"
    raise DeriveError(f"{src.label}: {anchor['file']} has no line matching {anchor['pattern']!r}: re-read the rule")


def derive_defaults(rules: dict[str, Any], stack: str, trees: dict[str, SourceTree], flags: dict) -> dict[str, Any]:
    """The rules of defaults_rules.toml that apply to `stack`, with their anchors resolved at its versions."""
    out: dict[str, Any] = {}
    for name, entries in rules.items():
        entry = next((e for e in entries if stack in e["stacks"] or "*" in e["stacks"]), None)
        if entry is None:
            raise DeriveError(f"defaults_rules.toml: no rule for {name} applies to {stack}")
        row: dict[str, Any] = {k: v for k, v in entry.items() if k not in {"stacks", "anchors", "flag"}}
        flag = flags.get(entry["flag"]) if "flag" in entry else None
        if flag is not None:
            row["flag"] = entry["flag"]
            row["parser_default"] = flag.get("default", flag.get("default_expr"))
            row["parser_default_source"] = flag.get("field_source", flag["source"])
        row["sources"] = [f"{anchor['repo']}: {resolve_anchor(trees, anchor)}" for anchor in entry.get("anchors", [])]
        out[name] = row
    return out


# ---------------------------------------------------------------------------------------------- fetching


def fetch_vllm(version: str, into: Path) -> Path:
    """The vllm wheel of `version` from the package index (any platform: only its Python files are read)."""
    platforms = [arg for p in PIP_PLATFORMS for arg in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:", *platforms]
    cmd += ["--python-version", "3.12", "-d", str(into), f"vllm=={version}"]
    subprocess.run(cmd, check=True)
    wheels = sorted(into.glob(f"vllm-{version}-*.whl"))
    if not wheels:
        raise DeriveError(f"pip did not download vllm {version}")
    return wheels[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_vllm(args: argparse.Namespace, version: str, tmp: Path) -> tuple[SourceTree, dict[str, str]]:
    given = Path(args.vllm_src) if args.vllm_src else None
    if given is not None and given.is_dir():
        return SourceTree.from_dir(given, f"vllm {version} ({given})"), {"version": version, "path": str(given)}
    wheel = given or fetch_vllm(version, tmp)
    origin = {"version": version, "wheel": wheel.name, "sha256": sha256(wheel)}
    return SourceTree.from_zip(wheel, f"vllm {version}"), origin


def open_ascend(args: argparse.Namespace, ref: str) -> tuple[SourceTree, dict[str, str]]:
    if args.ascend_src:
        return SourceTree.from_dir(Path(args.ascend_src), f"vllm-ascend {ref}"), {"ref": ref, "path": args.ascend_src}
    gitdir = args.ascend_git or os.environ.get("VLLM_ASCEND_GIT") or DEFAULT_ASCEND_GIT
    commit = subprocess.run(
        ["git", "--git-dir", gitdir, "rev-parse", f"{ref}^{{commit}}"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return SourceTree.from_git(gitdir, commit, f"vllm-ascend {ref}"), {"ref": ref, "commit": commit}


# ---------------------------------------------------------------------------------------------- output


def write_tables(path: Path, tables: dict[str, Any]) -> None:
    """Compact JSON, one entry of each table per line, so a new release reads as a small diff."""
    lines = ["{"]
    items = list(tables.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            lines.append(f"{json.dumps(key)}: {{")
            inner = list(value.items())
            for j, (k, v) in enumerate(inner):
                lines.append(f"  {json.dumps(k)}: {_dump(v)}{',' if j < len(inner) - 1 else ''}")
            lines.append("}" + comma)
        else:
            lines.append(f"{json.dumps(key)}: {_dump(value)}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", "utf-8")


def _dump(value: Any) -> str:
    if isinstance(value, dict) and len(json.dumps(value)) > 400 and all(isinstance(v, dict) for v in value.values()):
        return "{\n" + ",\n".join(f"    {json.dumps(k)}: {_dump(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def load_stack(name: str, stacks_dir: Path) -> dict[str, Any]:
    path = stacks_dir / f"{name}.toml"
    if not path.is_file():
        raise DeriveError(f"no stack file {path}")
    with path.open("rb") as handle:
        return tomllib.load(handle)


def derive(args: argparse.Namespace) -> dict[str, Any]:
    stacks_dir = Path(args.stacks_dir)
    stack = load_stack(args.stack, stacks_dir)
    recipe = stack.get("derive") or {}
    if "vllm" not in recipe or "vllm_ascend" not in recipe:
        raise DeriveError(f"{args.stack}.toml: [derive] needs vllm (a release) and vllm_ascend (a git ref)")
    with tempfile.TemporaryDirectory(prefix="derive-stack-") as tmp:
        vllm, vllm_origin = open_vllm(args, recipe["vllm"], Path(tmp))
    ascend, ascend_origin = open_ascend(args, recipe["vllm_ascend"])
    project = Project(vllm)
    tables: dict[str, Any] = {
        "_generated": f"by tools/derive_stack_tables.py — do not edit; regenerate: {REGENERATE}{args.stack}",
        "format": FORMAT,
        "stack": args.stack,
        "derived_from": {"vllm": vllm_origin, "vllm_ascend": ascend_origin, "note": recipe.get("note", "")},
    }
    tables.update(derive_flags(project, args.trust_helpers))
    tables["env"] = derive_env(vllm, ascend)
    tables["names"] = derive_names(project, ascend)
    rules_path = stacks_dir / "defaults_rules.toml"
    if rules_path.is_file():
        with rules_path.open("rb") as handle:
            rules = tomllib.load(handle)
        tables["defaults"] = derive_defaults(rules, args.stack, {"vllm": vllm, "vllm-ascend": ascend}, tables["flags"])
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", help="stack name: glm5check/knowledge/stacks/<stack>.toml")
    parser.add_argument("--vllm-src", help="an unpacked vllm tree or a vllm wheel (default: pip download)")
    parser.add_argument("--ascend-src", help="an unpacked vllm-ascend tree (default: git archive of the ref)")
    parser.add_argument("--ascend-git", help=f"vllm-ascend git dir (default: $VLLM_ASCEND_GIT or {DEFAULT_ASCEND_GIT})")
    parser.add_argument("--stacks-dir", default=str(STACKS_DIR), help="where the stack files live")
    parser.add_argument("--out", help="output path (default: <stacks-dir>/<stack>.tables.json)")
    parser.add_argument("--trust-helpers", action="store_true", help="accept changed vLLM type helpers")
    args = parser.parse_args(argv)
    try:
        tables = derive(args)
    except (DeriveError, subprocess.CalledProcessError, OSError, SyntaxError) as exc:
        print(f"derive_stack_tables: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else Path(args.stacks_dir) / f"{args.stack}.tables.json"
    write_tables(out, tables)
    print(
        f"{out}: {len(tables['flags'])} flags, {len(tables['env']['vllm'])} vllm and "
        f"{len(tables['env']['vllm_ascend'])} vllm-ascend variables"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
