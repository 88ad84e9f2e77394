"""Stacks: the software set a GLM-5 deployment runs on, one data file per supported combination.

A stack names vllm and vllm-ascend (commit pins or releases), transformers, torch / torch_npu, triton-ascend, CANN,
the Python range, Mooncake where prefill-decode needs it and the release image, each value with its source
(`<name>.toml`, hand-written). Its tables — the `vllm serve` flags, the environment variables vllm and vllm-ascend
read, the accepted speculative / CUDA-graph / quantization names and the start-up defaults — are generated from the
real sources of those versions by `tools/derive_stack_tables.py` (`<name>.tables.json`) and loaded on first use.
`env_meanings.toml` adds what the variables of the profiles and guide revisions mean to the components that read
them. Pure: reads only files of this package. See docs/stacks.md.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, NamedTuple

from glm5check.errors import ConfigError
from glm5check.parsers.versions import safe_version
from glm5check.util import safejson
from glm5check.util.resources import package_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_STACK = "glm5-2026-02"
# Every stack, in order: the pinned ones, then the releases by version (tests/test_stacks.py checks that this
# names exactly the <stack>.toml files of this folder).
STACKS = (
    DEFAULT_STACK,
    *("v0.17.0rc1", "v0.18.0rc1", "v0.18.0", "v0.19.1rc1", "v0.20.2rc1"),
    *("v0.21.0rc1", "v0.22.1rc1", "v0.23.0rc1", "v0.23.0"),
)
FLAG_KINDS = ("value", "bool", "switch", "list", "optional")
PIN_NAMES = ("vllm", "vllm_ascend", "transformers", "torch", "torch_npu", "triton_ascend", "cann", "python", "mooncake")
PIN_KEYS = ("version", "requirement", "commit", "tag", "target", "install", "guide_pin")
DECLARED_KEYS = ("declared_by_vllm", "declared_by_vllm_ascend")
TABLES_FORMAT = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_READERS_FROM_SOURCES = frozenset({"vllm", "vllm-ascend"})


class StackError(ConfigError):
    """An unknown stack, or a stack file that cannot be read or lacks a source (exit code 2)."""


class Sourced(NamedTuple):
    """One value and where it comes from (file and revision, or source file:line at a commit)."""

    value: str
    source: str


class Pin(NamedTuple):
    """What a stack requires of one component; every value that is set carries its source."""

    name: str
    version: Sourced | None = None  # exact version (a release, or what a source build installs as)
    requirement: Sourced | None = None  # PEP 440 specifier set (transformers, python)
    commit: Sourced | None = None  # 40-hex commit of a source build or of a release tag
    tag: Sourced | None = None
    target: Sourced | None = None  # vllm's VLLM_TARGET_DEVICE of a source build
    install: Sourced | None = None  # "git": installed from the git main branch
    guide_pin: Sourced | None = None  # the exact version the guide's command names, when it names one
    declared_by_vllm: Sourced | None = None  # what vllm's own metadata requires of it
    declared_by_vllm_ascend: Sourced | None = None
    note: str | None = None


class Flag(NamedTuple):
    """One `vllm serve` flag at a stack's vllm version."""

    name: str
    kind: str  # value | bool (--no- form too) | switch | list (nargs +) | optional (nargs ?)
    aliases: tuple[str, ...]
    default: Any  # argparse's default when it is a literal (None, number, str, bool), else None
    default_expr: str | None  # the default's source text when it is not a literal
    deprecated: bool
    source: str  # file:line of the add_argument call
    field: str | None  # the config dataclass field it comes from (ModelConfig.seed)
    field_source: str | None


class Default(NamedTuple):
    """What vLLM does at start-up with a plan value the launch command leaves out."""

    field: str
    flag: str | None
    rule: str
    glm5: Any  # the resulting value for GLM-5 on Atlas A2/A3, when the rule alone decides it; else None
    parser_default: Any
    parser_default_source: str | None
    sources: tuple[str, ...]  # file:line of each anchor at this stack's versions


class EnvVar(NamedTuple):
    """One environment variable as this stack's software reads it."""

    name: str
    reader: str  # HCCL | CANN runtime | torch_npu | libgomp | … | vllm | vllm-ascend | build
    meaning: str
    unset: str  # what happens when it is not set
    source: str  # where meaning and unset come from
    default: Any  # the default of vllm's / vllm-ascend's getter at this stack (from the tables), else None
    deprecated: str | None  # vLLM's removal version and replacement when its envs table marks it deprecated
    read_by_vllm: bool  # vllm or vllm-ascend (Python) read it at this stack, per the generated tables
    inert: bool  # setting it changes nothing for `vllm serve` at this stack
    effect: str | None  # what it does at this stack when that depends on the version
    effect_source: str | None
    locations: tuple[str, ...]  # "vllm-ascend: vllm_ascend/utils.py:476 (read)" …
    # The value `vllm serve` runs with when the variable is not set (env_meanings' `unset_value`, else the getter's
    # default), unless one of `unset_unless` is set; None when it depends on more than that.
    unset_value: str | None = None
    unset_unless: tuple[str, ...] = ()
    getter: str | None = None  # vllm's / vllm-ascend's getter expression in its envs table

    @property
    def inert_why(self) -> str:
        """Why setting an inert variable changes nothing for `vllm serve` at this stack."""
        return self.effect or "nothing reads it during vllm serve"

    def inert_note(self, stack: str) -> str:
        return f"inert at stack {stack}: {self.inert_why}"


def list_stacks() -> tuple[str, ...]:
    """Every stack name: the pinned stacks first, then releases in version order."""
    return STACKS


def release_stack_for(vllm_ascend_version: str) -> str | None:
    """The release stack of an installed vllm-ascend version ("0.18.0" → "v0.18.0"), or None."""
    name = "v" + vllm_ascend_version.strip().removeprefix("v")
    return name if name in list_stacks() and not name.startswith("glm5-") else None


def is_release_version(version: str) -> bool:
    """A version a release tag installs as ("0.18.0", "0.18.0rc1"): no local label (`+g<hash>`, `+empty`) and no
    `.devN` (what setuptools_scm gives a commit after a tag)."""
    parsed = safe_version(version)
    return parsed is not None and parsed.local is None and not parsed.is_devrelease


def release_stack_of(version: str) -> str | None:
    """The release stack an installed vllm-ascend version is exactly ("0.18.0" → "v0.18.0"); None for a source
    build or a release no stack describes."""
    parsed = safe_version(version)
    if parsed is None or not is_release_version(version):
        return None
    return release_stack_for(str(parsed))


def auto_stack_name(vllm_ascend_versions: tuple[str, ...], fallback: str) -> tuple[str, str]:
    """`--stack auto`: (stack name, why) for the vllm-ascend versions installed (normally one). A release with a
    stack picks it; a source build picks the pinned stack; anything else keeps `fallback` (the profile's stack)."""
    if len(vllm_ascend_versions) != 1:
        found = "is not installed" if not vllm_ascend_versions else "is installed more than once"
        return fallback, f"vllm-ascend {found}: the profile's stack"
    version = vllm_ascend_versions[0]
    if not is_release_version(version):
        return DEFAULT_STACK, f"vllm-ascend {version} is a source build: the pinned stack"
    release = release_stack_of(version)
    if release is None:
        return fallback, f"vllm-ascend {version} is a release no stack describes: the profile's stack"
    return release, f"vllm-ascend {version} is the {release} release"


def load_stack(name: str) -> Stack:
    """The stack `name`; an unknown name is a StackError that lists the known ones."""
    if not _NAME.match(name) or name not in list_stacks():
        import difflib  # only for a did-you-mean (start-up time)

        close = difflib.get_close_matches(name, list_stacks(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise StackError(f"unknown stack {name!r}{hint}; known: {', '.join(list_stacks())}")
    return _load(name)


@cache
def _load(name: str) -> Stack:
    data = _read_toml(f"{name}.toml")
    try:
        return Stack(
            name=data["name"],
            kind=data["kind"],
            summary=data["summary"],
            guide_revision=Sourced(data["guide_revision"], data["guide_revision_source"]),
            note=data.get("note"),
            pins={key: _pin(key, data[key]) for key in PIN_NAMES if key in data},
            images=_images(data["image"]),
            derive=dict(data["derive"]),
        )
    except (KeyError, TypeError) as exc:
        raise StackError(f"stack file {name}.toml: missing or malformed {exc}") from exc


def _read_toml(filename: str) -> dict[str, Any]:
    try:
        return tomllib.loads(package_text(__name__, filename))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StackError(f"cannot read {filename}: {exc}") from exc


def _pin(name: str, section: dict[str, Any]) -> Pin:
    values = {key: _sourced(section, key) for key in (*PIN_KEYS, *DECLARED_KEYS) if key in section}
    return Pin(name=name, note=section.get("note"), **values)


def _sourced(section: dict[str, Any], key: str) -> Sourced:
    """A value with its own `<key>_source`, else the section's `source`; a value without either is an error."""
    source = section.get(f"{key}_source", section.get("source"))
    if not source:
        raise StackError(f"{key} = {section[key]!r} has no source")
    return Sourced(str(section[key]), str(source))


def _images(section: dict[str, Any]) -> dict[str, Sourced]:
    return {key: _sourced(section, key) for key in section if not key.endswith("source")}


@dataclass(frozen=True)
class Stack:
    """A supported software combination and its derived tables (loaded on first use)."""

    name: str
    kind: str  # "pinned" (source builds at commits) or "release"
    summary: str
    guide_revision: Sourced
    note: str | None
    pins: Mapping[str, Pin]
    images: Mapping[str, Sourced]  # "a2" / "a3" → image reference
    derive: Mapping[str, str]  # how tools/derive_stack_tables.py reads this stack's sources

    def pin(self, name: str) -> Pin | None:
        return self.pins.get(name)

    def sourced(self, pin: str, key: str) -> Sourced | None:
        """One value of one pin with its source (`stack.sourced("vllm", "commit")`), or None when not set."""
        found = self.pins.get(pin)
        value = getattr(found, key, None) if found is not None and key in PIN_KEYS + DECLARED_KEYS else None
        return value if isinstance(value, Sourced) else None

    @cached_property
    def tables(self) -> dict[str, Any]:
        """The generated tables of this stack (<name>.tables.json)."""
        try:
            tables = safejson.loads(package_text(__name__, f"{self.name}.tables.json"))
        except (OSError, ValueError) as exc:
            raise StackError(f"cannot read the tables of stack {self.name}: {exc}") from exc
        if not isinstance(tables, dict) or tables.get("format") != TABLES_FORMAT:
            raise StackError(f"{self.name}.tables.json: not format {TABLES_FORMAT}; regenerate it (docs/stacks.md)")
        return tables

    # -- flags
    @cached_property
    def flags(self) -> Mapping[str, Flag]:
        return {name: _flag(name, row) for name, row in self.tables["flags"].items()}

    @cached_property
    def _aliases(self) -> Mapping[str, str]:
        aliases = {alias: flag.name for flag in self.flags.values() for alias in flag.aliases}
        for short, target in self.tables.get("parser_aliases", {}).items():
            aliases[short] = target.split(" ", 1)[0]
        return aliases

    def canonical_flag(self, written: str) -> str:
        """The long flag a command-line token sets, as vLLM's FlexibleArgumentParser reads it: `=value` and a
        `.key` suffix dropped, underscores before them turned into dashes, short aliases (`-tp`, `-O3`) resolved."""
        token = written.split("=", 1)[0]
        if token.startswith("--"):
            return "--" + token[2:].split(".", 1)[0].replace("_", "-")
        if token in self._aliases:
            return self._aliases[token]
        attached = token[:2]  # -O3 and -Odecode are -O with the value attached
        if attached in self._aliases and attached == "-O":
            return self._aliases[attached]
        return token

    def flag_kind(self, flag: str) -> str | None:
        """The kind of a flag (any spelling); "negated" for the --no- form of a bool flag; None when unknown."""
        name = self.canonical_flag(flag)
        if name in self.flags:
            return self.flags[name].kind
        base = self.flags.get("--" + name[len("--no-") :]) if name.startswith("--no-") else None
        return "negated" if base is not None and base.kind == "bool" else None

    def suggest_flag(self, written: str) -> str | None:
        """The closest known flag to an unknown one (did-you-mean), or None when nothing is close."""
        import difflib  # only for a did-you-mean (start-up time)

        name = self.canonical_flag(written)
        known = [*self.flags, *self._aliases, *(f"--no-{f[2:]}" for f, v in self.flags.items() if v.kind == "bool")]
        matches = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        return self.canonical_flag(matches[0]) if matches else None

    # -- names accepted at this version
    def _names(self, key: str) -> frozenset[str]:
        return frozenset(self.tables["names"][key]["values"])

    @cached_property
    def speculative_methods(self) -> frozenset[str]:
        return self._names("speculative_methods")

    @cached_property
    def cudagraph_modes(self) -> frozenset[str]:
        return self._names("cudagraph_modes")

    @cached_property
    def quantization_methods(self) -> frozenset[str]:
        """vLLM's built-in methods plus the ones vllm-ascend registers ("ascend")."""
        return self._names("quantization_methods") | frozenset(self.tables["names"]["quantization_methods_ascend"])

    # -- defaults
    def default(self, field: str) -> Default | None:
        """vLLM's default for a plan field at this stack (rule, GLM-5 value, citations), or None when unknown."""
        row = self.tables.get("defaults", {}).get(field)
        if row is None:
            return None
        return Default(
            field=field,
            flag=row.get("flag"),
            rule=row["rule"],
            glm5=row.get("glm5"),
            parser_default=row.get("parser_default"),
            parser_default_source=row.get("parser_default_source"),
            sources=tuple(row.get("sources", ())),
        )

    # -- environment
    def env_var(self, name: str) -> EnvVar | None:
        """What `name` means at this stack, or None when no profile, guide, vllm or vllm-ascend knows it."""
        found = _EnvFinding(self.tables["env"], name)
        hand = env_meanings().get(name)
        if hand is None and not found.known:
            return None
        effect = _effect(hand, self.name)
        reader = hand["reader"] if hand else found.reader
        read = found.read
        inert = bool(effect["inert"]) if effect else (reader in _READERS_FROM_SOURCES and not read)
        return EnvVar(
            name=name,
            reader=reader,
            meaning=hand["meaning"] if hand else found.generic_meaning(),
            unset=hand["unset"] if hand else f"{found.default!r} (the getter's default)",
            source=hand["source"] if hand else found.definition_source(),
            default=found.default,
            deprecated=(found.vllm or {}).get("deprecated"),
            read_by_vllm=read,
            inert=inert,
            effect=effect["note"] if effect else None,
            effect_source=effect["source"] if effect else None,
            locations=found.locations(),
            unset_value=_unset_value(hand, found.default),
            unset_unless=tuple((hand or {}).get("unset_unless", ())),
            getter=found.getter,
        )


class StackChoice(NamedTuple):
    """The stack one run uses and how it was chosen."""

    stack: Stack
    source: str  # "option" (--stack NAME), "auto" (--stack auto) or "profile"
    picked_by: str  # why, in words: "--stack auto: vllm-ascend 0.18.0 is the v0.18.0 release"

    def to_json(self) -> dict[str, str]:
        stack = self.stack
        return {
            "name": stack.name,
            "kind": stack.kind,
            "guide_revision": stack.guide_revision.value,
            "source": self.source,
            "picked_by": self.picked_by,
        }


def _flag(name: str, row: dict[str, Any]) -> Flag:
    if row.get("kind") not in FLAG_KINDS:
        raise StackError(f"flag {name}: unknown kind {row.get('kind')!r}")
    return Flag(
        name=name,
        kind=row["kind"],
        aliases=tuple(row.get("aliases", ())),
        default=row.get("default"),
        default_expr=row.get("default_expr"),
        deprecated=bool(row.get("deprecated", False)),
        source=row["source"],
        field=row.get("field"),
        field_source=row.get("field_source"),
    )


@cache
def env_meanings() -> Mapping[str, dict[str, Any]]:
    """The hand-written meanings of every variable the profiles and guide revisions export (env_meanings.toml)."""
    return _read_toml("env_meanings.toml")


def _unset_value(hand: dict[str, Any] | None, default: Any) -> str | None:
    if hand is not None and "unset_value" in hand:
        return str(hand["unset_value"])
    return None if default is None else str(default)


def _effect(hand: dict[str, Any] | None, stack: str) -> dict[str, Any] | None:
    effects = (hand or {}).get("effects", {})
    return effects.get(stack, effects.get("*"))


class _EnvFinding:
    """Where one variable appears in a stack's generated env tables."""

    def __init__(self, env: dict[str, Any], name: str) -> None:
        self.vllm = env["vllm"].get(name)
        self.ascend = env["vllm_ascend"].get(name)
        self.uses = env["vllm_ascend_uses"].get(name, [])
        self.ascend_direct = env["vllm_ascend_direct"].get(name, {})
        self.vllm_direct = env.get("vllm_direct", {}).get(name, {})

    @property
    def known(self) -> bool:
        return bool(self.vllm or self.ascend or self.ascend_direct or self.vllm_direct)

    @property
    def read(self) -> bool:
        """vllm reads every variable of its envs table on demand; vllm-ascend's table entries count only when used."""
        reads = self.ascend_direct.get("read") or self.vllm_direct.get("read")
        return bool(self.vllm or (self.ascend and self.uses) or reads)

    @property
    def reader(self) -> str:
        return "vllm" if self.vllm or self.vllm_direct else "vllm-ascend"

    @property
    def default(self) -> Any:
        row = self.vllm or self.ascend or {}
        return row.get("default")

    @property
    def getter(self) -> str | None:
        row = self.vllm or self.ascend or {}
        expr = row.get("expr")
        return expr if isinstance(expr, str) else None

    def definition_source(self) -> str:
        if self.vllm:
            return f"vllm: {self.vllm['source']}"
        if self.ascend:
            return f"vllm-ascend: {self.ascend['source']}"
        return "; ".join(self.locations())

    def generic_meaning(self) -> str:
        row = self.vllm or self.ascend
        if row:
            return f"read by {self.reader} through its envs table: {row['expr']}"
        return f"read or set directly by {self.reader} (os.environ)"

    def locations(self) -> tuple[str, ...]:
        out = [f"vllm: {self.vllm['source']} (defined)"] if self.vllm else []
        out += [f"vllm-ascend: {self.ascend['source']} (defined)"] if self.ascend else []
        out += [f"vllm-ascend: {where} (read)" for where in self.uses]
        for repo, sites in (("vllm", self.vllm_direct), ("vllm-ascend", self.ascend_direct)):
            out += [f"{repo}: {where} ({op})" for op, wheres in sorted(sites.items()) for where in wheres]
        return tuple(out)
