"""Stacks: the data files load with a source for every value, the pinned tables agree with the hand-written flag
table except the documented differences, every profile variable has a meaning, and the derivation script produces
the expected tables from a synthetic vLLM / vllm-ascend source tree (no network)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

from glm5check.errors import ConfigError
from glm5check.knowledge.launch_command import JSON_FLAGS
from glm5check.knowledge.stacks import (
    DEFAULT_STACK,
    PIN_NAMES,
    Default,
    EnvVar,
    Sourced,
    Stack,
    StackError,
    env_meanings,
    list_stacks,
    load_stack,
    release_stack_for,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCRIPT = REPO / "tools" / "derive_stack_tables.py"
STACKS_DIR = REPO / "glm5check" / "knowledge" / "stacks"
RELEASES = (
    *("v0.17.0rc1", "v0.18.0rc1", "v0.18.0", "v0.19.1rc1", "v0.20.2rc1"),
    *("v0.21.0rc1", "v0.22.1rc1", "v0.23.0rc1", "v0.23.0"),
)
PLAN_FIELDS = (
    *("tensor_parallel_size", "data_parallel_size", "data_parallel_size_local", "data_parallel_start_rank"),
    *("headless", "enable_expert_parallel", "quantization", "max_model_len", "max_num_seqs", "max_num_batched_tokens"),
    *("gpu_memory_utilization", "speculative_config", "enable_prefix_caching", "enable_chunked_prefill"),
    *("async_scheduling", "port", "host", "seed"),
)

# The pinned tables are read from the vllm 0.16.0 release (978a37c8 itself cannot be fetched). Every difference to
# the hand-written table serve.args used before (glm5check/knowledge/vllm_flags.py, removed when it switched to the
# stack tables), with why (docs/stacks.md, "The pinned stack against the hand-written table"):
ONLY_DERIVED = {
    # already in vllm 0.15.1, so at the pin too: the hand table missed them
    "--default-chat-template-kwargs": "0.15.1",
    "--enable-log-deltas": "0.15.1",
    "--enable-offline-docs": "0.15.1",
    "--ssl-ciphers": "0.15.1",
    # added in the 0.16 cycle; present in 0.16.0, not provably at v0.16.0rc1+3 commits
    "--disable-access-log-for-endpoints": "0.16 cycle",
    "--enable-flashinfer-autotune": "0.16 cycle",
    "--kernel-config": "0.16 cycle",
}
# -O is no argparse alias: FlexibleArgumentParser rewrites -O<n> itself (parser_aliases in the tables)
ALIAS_MOVED = {"--optimization-level": ("-O",)}
# vllm 0.16.0's SpeculativeMethod lacks these two, which arrived later: the hand table listed a later main
SPEC_ONLY_HAND = {"ngram_gpu", "qwen3_5_mtp"}


def value(stack: Stack, pin: str, key: str) -> str:
    """The value of one pin's key, which the test expects to be set."""
    found = stack.sourced(pin, key)
    assert found is not None, f"{stack.name}: {pin}.{key}"
    return found.value


def env(stack: Stack, name: str) -> EnvVar:
    found = stack.env_var(name)
    assert found is not None, f"{stack.name}: {name}"
    return found


def default(stack: Stack, field: str) -> Default:
    found = stack.default(field)
    assert found is not None, f"{stack.name}: {field}"
    return found


def all_sourced(obj: object) -> list[Sourced]:
    """Every Sourced value inside a (nested) dataclass, named tuple or mapping."""
    if isinstance(obj, Sourced):
        return [obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [s for f in dataclasses.fields(obj) for s in all_sourced(getattr(obj, f.name))]
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return [s for name in obj._fields for s in all_sourced(getattr(obj, name))]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in all_sourced(v)]
    return []


@pytest.mark.parametrize("name", list_stacks())
def test_every_stack_loads_with_a_source_for_every_value(name: str) -> None:
    stack = load_stack(name)
    assert stack.name == name and stack.kind in ("pinned", "release")
    for pin in ("vllm", "vllm_ascend", "transformers", "torch", "torch_npu", "triton_ascend", "cann", "python"):
        assert stack.pin(pin) is not None, pin
    assert set(stack.pins) <= set(PIN_NAMES) and set(stack.images) == {"a2", "a3"}
    values = all_sourced(stack)
    assert len(values) >= 12
    assert all(v.value and v.source.strip() for v in values)
    assert len(value(stack, "vllm_ascend", "commit")) == 40


def test_the_stacks_are_the_pin_and_every_glm5_release_of_the_matrix() -> None:
    assert list_stacks() == (DEFAULT_STACK, *RELEASES)
    files = {p.name.removesuffix(".toml") for p in STACKS_DIR.glob("*.toml")}
    assert files - {"defaults_rules", "env_meanings"} == set(list_stacks())
    assert {p.name.removesuffix(".tables.json") for p in STACKS_DIR.glob("*.tables.json")} == set(list_stacks())
    pinned = load_stack(DEFAULT_STACK)
    assert pinned.kind == "pinned" and value(pinned, "vllm", "target") == "empty"
    assert value(pinned, "vllm", "commit") == "978a37c82387ce4a40aaadddcdbaf4a06fc4d590"
    assert value(pinned, "vllm_ascend", "commit") == "ff3a50d011dcbea08f87ebed69ff1bf156dbb01e"
    assert value(pinned, "transformers", "install") == "git"
    for name in RELEASES:
        stack = load_stack(name)
        assert stack.kind == "release" and value(stack, "vllm_ascend", "tag") == name
        assert stack.images["a3"].value == f"quay.io/ascend/vllm-ascend:{name}-a3"
        assert value(stack, "transformers", "requirement") == ">=5.2.0"
        assert "versioning_policy.md" in (stack.sourced("vllm", "version") or Sourced("", "")).source


def test_release_rows_follow_the_matrix() -> None:
    row = load_stack("v0.18.0")
    assert value(row, "vllm", "version") == "0.18.0" and value(row, "torch_npu", "version") == "2.9.0.post1+git4c901a4"
    assert value(row, "mooncake", "version") == "v0.3.9" and value(row, "cann", "version") == "8.5.1"
    assert load_stack("v0.18.0rc1").pin("mooncake") is None
    assert value(load_stack("v0.23.0"), "python", "requirement") == ">=3.10,<3.13"
    assert release_stack_for("0.18.0") == "v0.18.0" and release_stack_for("v0.23.0rc1") == "v0.23.0rc1"
    assert release_stack_for("0.16.0rc1") is None and release_stack_for("0.14.0rc2.dev150+gff3a50d01") is None


@pytest.mark.parametrize("name", ["glm5-2027", "../glm5-2026-02", "", "v0.18.0/../x"])
def test_an_unknown_stack_is_a_config_error_that_names_the_known_ones(name: str) -> None:
    with pytest.raises(StackError) as info:
        load_stack(name)
    assert isinstance(info.value, ConfigError) and DEFAULT_STACK in str(info.value)


def test_a_near_miss_gets_a_did_you_mean() -> None:
    with pytest.raises(StackError, match=r"did you mean v0\.18\.0\?"):
        load_stack("v0.18.O")


@pytest.mark.parametrize("name", list_stacks())
def test_tables_load_and_every_row_has_a_source(name: str) -> None:
    stack = load_stack(name)
    assert stack.tables["stack"] == name and stack.tables["_generated"].endswith(f"derive_stack_tables.py {name}")
    assert len(stack.flags) > 200 and all(f.source and f.kind for f in stack.flags.values())
    assert {"ascend", "compressed-tensors"} <= stack.quantization_methods
    assert "deepseek_mtp" in stack.speculative_methods and "FULL_DECODE_ONLY" in stack.cudagraph_modes
    for field in PLAN_FIELDS:
        found = default(stack, field)
        assert found.rule and found.sources, field
        assert all(":" in s for s in found.sources)
    assert stack.default("no_such_field") is None


@pytest.mark.parametrize("name", list_stacks())
def test_generated_defaults_match_the_rules_file(name: str) -> None:
    rules = tomllib.loads((STACKS_DIR / "defaults_rules.toml").read_text("utf-8"))
    for field, entries in rules.items():
        rule = next(e for e in entries if name in e["stacks"] or "*" in e["stacks"])
        assert default(load_stack(name), field).rule == rule["rule"], f"{field}: regenerate {name} (docs/stacks.md)"


def test_the_documented_differences_to_the_former_hand_written_table_hold() -> None:
    stack = load_stack(DEFAULT_STACK)
    assert set(ONLY_DERIVED) <= set(stack.flags)
    moved = {alias: flag for flag, aliases in ALIAS_MOVED.items() for alias in aliases}
    assert all(alias not in stack.flags[flag].aliases for alias, flag in moved.items())
    assert all(stack.canonical_flag(alias) == flag for alias, flag in moved.items())
    assert not SPEC_ONLY_HAND & stack.speculative_methods
    # they arrived after 0.16.0: qwen3_5_mtp in vllm 0.17.0, ngram_gpu in 0.18.0
    assert "qwen3_5_mtp" in load_stack("v0.17.0rc1").speculative_methods
    assert load_stack("v0.18.0").speculative_methods >= SPEC_ONLY_HAND


@pytest.mark.parametrize("name", list_stacks())
def test_the_json_valued_flags_are_value_flags_of_every_stack(name: str) -> None:
    """serve.args accepts `--flag.key VALUE` for JSON_FLAGS (launch_command.py): each is a value flag where the
    stack's vllm has it, and the three the guide's commands use exist everywhere."""
    stack = load_stack(name)
    assert {flag: stack.flags[flag].kind for flag in JSON_FLAGS if flag in stack.flags} == dict.fromkeys(
        (flag for flag in JSON_FLAGS if flag in stack.flags), "value"
    )
    assert {"--speculative-config", "--compilation-config", "--additional-config"} <= set(stack.flags)


def test_flag_spellings_resolve_like_vllms_parser() -> None:
    stack = load_stack(DEFAULT_STACK)
    assert stack.canonical_flag("--max_num_seqs") == "--max-num-seqs"
    assert stack.canonical_flag("-tp") == "--tensor-parallel-size" and stack.canonical_flag("-q") == "--quantization"
    assert stack.canonical_flag("-O3") == stack.canonical_flag("-O") == "--optimization-level"
    assert stack.canonical_flag("--compilation-config.cudagraph_mode") == "--compilation-config"
    assert stack.canonical_flag("--port=8077") == "--port"
    assert stack.flag_kind("--enable_expert_parallel") == "bool" and stack.flag_kind("--headless") == "switch"
    assert stack.flag_kind("--no-enable-prefix-caching") == "negated" and stack.flag_kind("--no-headless") is None
    assert stack.flag_kind("--api-key") == "list" and stack.flag_kind("--hf-token") == "optional"
    assert stack.flag_kind("--no-such-flag") is None
    assert stack.suggest_flag("--enable-expert-paralel") == "--enable-expert-parallel"
    assert stack.suggest_flag("--no-enable-prefix-cachin") == "--no-enable-prefix-caching"
    assert stack.suggest_flag("--zzzz") is None


def test_flags_differ_between_versions_as_vllm_changed_them() -> None:
    pinned, v17, v19, v20, v22 = (
        load_stack(n) for n in (DEFAULT_STACK, "v0.17.0rc1", "v0.19.1rc1", "v0.20.2rc1", "v0.22.1rc1")
    )
    assert pinned.flags["--disable-log-requests"].deprecated and "--disable-log-requests" not in v17.flags
    assert (
        pinned.flags["--gpu-memory-utilization"].default == 0.9
        and v20.flags["--gpu-memory-utilization"].default == 0.92
    )
    assert "--swap-space" in v17.flags and "--swap-space" not in load_stack("v0.18.0").flags
    assert v19.canonical_flag("-sc") == "--speculative-config" and pinned.canonical_flag("-sc") == "-sc"
    assert "--spec-method" in v22.flags and "--spec-method" not in v20.flags
    assert pinned.flags["--enable-prefix-caching"].default is None and pinned.flags["--max-num-seqs"].default is None


def test_defaults_record_the_start_up_rules() -> None:
    pinned, release = load_stack(DEFAULT_STACK), load_stack("v0.18.0")
    assert default(pinned, "max_num_seqs").glm5 == 256 and default(pinned, "max_num_batched_tokens").glm5 == 2048
    assert default(pinned, "async_scheduling").glm5 is True and default(pinned, "enable_prefix_caching").glm5 is True
    assert default(pinned, "max_model_len").glm5 == 202752
    assert "no auto-detection" in default(pinned, "quantization").rule
    assert "maybe_auto_detect_quantization" in default(release, "quantization").rule
    assert any("vllm_ascend/platform.py" in s for s in default(release, "quantization").sources)
    assert default(load_stack("v0.20.2rc1"), "gpu_memory_utilization").parser_default == 0.92


def profile_variables() -> set[str]:
    names: set[str] = set()
    for path in sorted(REPO.glob("glm5check/knowledge/profiles/*.toml")):
        data = tomllib.loads(path.read_text("utf-8"))
        names |= set(data.get("env", {})) | set(data.get("node_env", {}))
    return names


@pytest.mark.parametrize("name", list_stacks())
def test_every_profile_variable_has_a_meaning_at_every_stack(name: str) -> None:
    stack = load_stack(name)
    assert len(profile_variables()) >= 11  # the four February profiles export eleven
    for var in sorted(profile_variables() | set(env_meanings())):
        found = env(stack, var)
        assert isinstance(found, EnvVar) and found.meaning and found.unset and found.source and found.reader, var


@pytest.mark.parametrize("name", list_stacks())
def test_hand_written_effects_agree_with_the_generated_tables(name: str) -> None:
    """A vllm-ascend variable called effective must be read at that stack; VLLM_USE_V1 is read at none."""
    stack = load_stack(name)
    for var, meaning in env_meanings().items():
        found = env(stack, var)
        if meaning["reader"] in ("vllm", "vllm-ascend") and found.effect is not None and not found.inert:
            assert found.read_by_vllm, f"{var} at {name}"
    assert env(stack, "VLLM_USE_V1").inert and not env(stack, "VLLM_USE_V1").read_by_vllm
    assert env(stack, "TP_SOCKET_IFNAME").inert and not env(stack, "HCCL_BUFFSIZE").inert


def test_environment_variables_follow_the_version() -> None:
    pinned, v17, v18 = (load_stack(n) for n in (DEFAULT_STACK, "v0.17.0rc1", "v0.18.0"))
    balance = "VLLM_ASCEND_BALANCE_SCHEDULING"
    assert env(pinned, balance).inert and "0.15.0" in str(env(pinned, balance).effect)
    assert env(v17, balance).inert and not env(v17, balance).read_by_vllm
    assert not env(v18, balance).inert and "ValueError" in str(env(v18, balance).effect)
    assert env(pinned, "HCCL_BUFFSIZE").unset.startswith("200")
    assert env(pinned, "VLLM_ASCEND_ENABLE_MLAPO").default == "1"
    omp = env(pinned, "OMP_NUM_THREADS")
    assert omp.read_by_vllm and any("multiproc_executor.py" in loc and "(write)" in loc for loc in omp.locations)
    assert env(pinned, "VLLM_NIXL_ABORT_REQUEST_TIMEOUT").read_by_vllm
    assert not env(load_stack("v0.22.1rc1"), "VLLM_NIXL_ABORT_REQUEST_TIMEOUT").read_by_vllm
    generic = env(pinned, "VLLM_ENGINE_ITERATION_TIMEOUT_S")
    assert generic.reader == "vllm" and generic.default == "60" and generic.source.startswith("vllm: vllm/envs.py:")
    assert pinned.env_var("NOT_A_VARIABLE_ANYONE_READS") is None


# --------------------------------------------------------------------------------------------- the extractor


SYNTHETIC_VLLM = {
    "vllm/__init__.py": "",
    "vllm/config/__init__.py": """
        from vllm.config.model import ModelConfig, SubConfig
        from vllm.config.scheduler import SchedulerConfig
    """,
    "vllm/config/utils.py": """
        from pydantic.dataclasses import dataclass
        def config(cls):
            return dataclass(cls)
    """,
    "vllm/config/model.py": """
        from dataclasses import field
        from typing import Any, Literal
        from pydantic import Field
        from vllm.config.utils import config

        DType = Literal["auto", "bfloat16"]
        LIMIT = 7

        @config
        class SubConfig:
            size: int = 1

        @config
        class ModelConfig:
            model: str = "facebook/opt-125m"
            seed: int = 0
            dtype: DType = "auto"
            quantization: DType | str | None = None
            trust_remote_code: bool = False
            max_model_len: int | None = None
            served_model_name: list[str] | None = None
            pair: tuple[int, int] = (1, 2)
            hf_token: bool | str | None = None
            overrides: dict[str, Any] = field(default_factory=dict)
            sub: SubConfig = Field(default_factory=SubConfig)
            limit: int = LIMIT
    """,
    "vllm/config/scheduler.py": """
        from vllm.config.utils import config

        @config
        class SchedulerConfig:
            max_num_seqs: int = 128
            async_scheduling: bool | None = None
    """,
    "vllm/config/speculative.py": """
        from typing import Literal
        MTPModelTypes = Literal["deepseek_mtp", "mtp"]
        SpeculativeMethod = Literal["ngram", "eagle", MTPModelTypes]
    """,
    "vllm/config/compilation.py": """
        import enum
        class CUDAGraphMode(enum.Enum):
            NONE = 0
            FULL = 1
    """,
    "vllm/model_executor/layers/quantization/__init__.py": """
        from typing import Literal
        QuantizationMethods = Literal["fp8", "awq"]
    """,
    "vllm/engine/arg_utils.py": """
        import argparse
        from dataclasses import dataclass
        from typing import Annotated, Literal, Union, get_args, get_origin
        from vllm.config import ModelConfig, SchedulerConfig

        def get_type_hints(type_hint):
            if get_origin(type_hint) in (Union, Annotated):
                return set(get_args(type_hint))
            return {type_hint}

        def is_type(type_hint, type):
            return type_hint is type or get_origin(type_hint) is type

        def contains_type(type_hints, type):
            return any(is_type(t, type) for t in type_hints)

        def is_not_builtin(type_hint):
            return type_hint.__module__ != "builtins"

        def collection_to_kwargs(type_hints, type):
            return {"nargs": "+"}

        def get_type(type_hints, type):
            return next(t for t in type_hints if is_type(t, type))

        def _compute_kwargs(cls):
            kwargs = {}
            for field in fields(cls):
                type_hints = get_type_hints(field.type)
                dataclass_cls = None
                if dataclass_cls is not None:
                    def parse(val):
                        raise argparse.ArgumentTypeError(val)
                    kwargs[name]["type"] = parse
                elif type_hints == {bool, str, type(None)}:
                    kwargs[name]["nargs"] = "?"
                elif contains_type(type_hints, bool):
                    kwargs[name]["action"] = argparse.BooleanOptionalAction
                elif contains_type(type_hints, Literal):
                    kwargs[name].update(literal_to_kwargs(type_hints))
                elif contains_type(type_hints, tuple):
                    kwargs[name].update(collection_to_kwargs(type_hints, tuple))
                elif contains_type(type_hints, list):
                    kwargs[name].update(collection_to_kwargs(type_hints, list))
                elif contains_type(type_hints, int):
                    kwargs[name]["type"] = int
                elif contains_type(type_hints, dict):
                    kwargs[name]["type"] = dict
                elif contains_type(type_hints, str) or any(is_not_builtin(th) for th in type_hints):
                    kwargs[name]["type"] = str
                else:
                    raise ValueError(name)
            return kwargs

        def get_kwargs(cls):
            return _compute_kwargs(cls)

        @dataclass
        class EngineArgs:
            @staticmethod
            def add_cli_args(parser):
                model_kwargs = get_kwargs(ModelConfig)
                group = parser.add_argument_group(title="ModelConfig")
                group.add_argument("--model", **model_kwargs["model"])
                group.add_argument("--seed", **model_kwargs["seed"])
                group.add_argument("--dtype", **model_kwargs["dtype"])
                group.add_argument("--quantization", "-q", **model_kwargs["quantization"])
                group.add_argument("--trust-remote-code", **model_kwargs["trust_remote_code"])
                group.add_argument("--max-model-len", **model_kwargs["max_model_len"])
                group.add_argument("--served-model-name", **model_kwargs["served_model_name"])
                group.add_argument("--pair", **model_kwargs["pair"])
                group.add_argument("--hf-token", metavar=model_kwargs["hf_token"]["help"], **model_kwargs["hf_token"])
                group.add_argument("--hf-overrides", **model_kwargs["overrides"])
                group.add_argument("--sub-config", **model_kwargs["sub"])
                group.add_argument("--limit", **model_kwargs["limit"])
                scheduler_kwargs = get_kwargs(SchedulerConfig)
                parser.add_argument("--max-num-seqs", **{**scheduler_kwargs["max_num_seqs"], "default": None})
                parser.add_argument("--async-scheduling", **scheduler_kwargs["async_scheduling"])
                parser.add_argument("--enable-lora", action=argparse.BooleanOptionalAction)
                parser.add_argument("--disable-log-stats", action="store_true")
                parser.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
                return parser

        @dataclass
        class AsyncEngineArgs(EngineArgs):
            enable_log_requests: bool = False

            @staticmethod
            def add_cli_args(parser, async_args_only=False):
                if not async_args_only:
                    parser = EngineArgs.add_cli_args(parser)
                parser.add_argument(
                    "--disable-log-requests",
                    action=argparse.BooleanOptionalAction,
                    default=not AsyncEngineArgs.enable_log_requests,
                    deprecated=True,
                )
                return parser
    """,
    "vllm/entrypoints/openai/cli_args.py": """
        from vllm.config.utils import config
        from vllm.engine.arg_utils import AsyncEngineArgs

        @config
        class BaseFrontendArgs:
            api_key: list[str] | None = None
            middleware: list[str] = None

            @classmethod
            def _customize_cli_kwargs(cls, frontend_kwargs):
                frontend_kwargs["middleware"]["action"] = "append"
                return frontend_kwargs

            @classmethod
            def add_cli_args(cls, parser):
                from vllm.engine.arg_utils import get_kwargs
                frontend_kwargs = get_kwargs(cls)
                frontend_kwargs = cls._customize_cli_kwargs(frontend_kwargs)
                for key, value in frontend_kwargs.items():
                    extra_flags = value.pop("flags", [])
                    parser.add_argument(*extra_flags, f"--{key.replace('_', '-')}", **value)
                return parser

        @config
        class FrontendArgs(BaseFrontendArgs):
            host: str | None = None
            port: int = 8000

            @classmethod
            def _customize_cli_kwargs(cls, frontend_kwargs):
                frontend_kwargs = super()._customize_cli_kwargs(frontend_kwargs)
                if "nargs" in frontend_kwargs["middleware"]:
                    del frontend_kwargs["middleware"]["nargs"]
                return frontend_kwargs

        def make_arg_parser(parser):
            parser.add_argument("model_tag", type=str, nargs="?")
            parser.add_argument("--headless", action="store_true", default=False)
            parser = FrontendArgs.add_cli_args(parser)
            parser = AsyncEngineArgs.add_cli_args(parser)
            return parser
    """,
    "vllm/utils/argparse_utils.py": """
        def rewrite(args):
            out = []
            for arg in args:
                if arg.startswith("-O") and arg != "-O":
                    out += ["--optimization-level", arg[2:]]
            return out
    """,
    "vllm/envs.py": """
        import os
        environment_variables = {
            "VLLM_PORT": lambda: int(os.getenv("VLLM_PORT", "0")) or None,
            "VLLM_TARGET_DEVICE": lambda: os.getenv("VLLM_TARGET_DEVICE", "cuda").lower(),
            "VLLM_HOST_IP": lambda: os.environ.get("VLLM_HOST_IP"),
            "VLLM_OLD": deprecated_env("VLLM_OLD", "v9.10", "Use --new.", lambda: int(os.getenv("VLLM_OLD", "0"))),
            "VLLM_MODE": env_with_choices("VLLM_MODE", "fast", ["fast", "slow"]),
        }
    """,
    "vllm/v1/executor/multiproc_executor.py": """
        import os
        if "OMP_NUM_THREADS" not in os.environ:
            os.environ["OMP_NUM_THREADS"] = "1"
    """,
}

SYNTHETIC_ASCEND = {
    "vllm_ascend/__init__.py": "",
    "vllm_ascend/envs.py": """
        import os
        env_variables = {
            "VLLM_ASCEND_ENABLE_MLAPO": lambda: bool(int(os.getenv("VLLM_ASCEND_ENABLE_MLAPO", "1"))),
            "VLLM_ASCEND_UNUSED": lambda: os.getenv("VLLM_ASCEND_UNUSED", "x"),
        }
    """,
    "vllm_ascend/utils.py": """
        import os
        import vllm_ascend.envs as envs_ascend
        ASCEND_QUANTIZATION_METHOD = "ascend"
        def mlapo():
            return envs_ascend.VLLM_ASCEND_ENABLE_MLAPO and os.getenv("HCCL_OP_EXPANSION_MODE") == "AIV"
        os.environ["PYTORCH_NPU_ALLOC_CONF"] = "expandable_segments:True"
    """,
    "vllm_ascend/quantization/modelslim.py": """
        from vllm_ascend.utils import ASCEND_QUANTIZATION_METHOD
        @register_quantization_config(ASCEND_QUANTIZATION_METHOD)
        class AscendConfig:
            pass
    """,
}

EXPECTED_FLAGS = {
    "--api-key": {"kind": "list", "default": None, "field": "FrontendArgs.api_key"},
    "--async-scheduling": {"kind": "bool", "default": None, "field": "SchedulerConfig.async_scheduling"},
    "--disable-log-requests": {"kind": "bool", "default": True, "deprecated": True},
    "--disable-log-stats": {"kind": "switch", "default": False},
    "--dtype": {"kind": "value", "default": "auto", "field": "ModelConfig.dtype"},
    "--enable-lora": {"kind": "bool", "default": None},
    "--headless": {"kind": "switch", "default": False},
    "--hf-overrides": {"kind": "value", "default_expr": "factory dict", "field": "ModelConfig.overrides"},
    "--hf-token": {"kind": "optional", "default": None, "field": "ModelConfig.hf_token"},
    "--host": {"kind": "value", "default": None, "field": "FrontendArgs.host"},
    "--limit": {"kind": "value", "default": 7, "field": "ModelConfig.limit"},
    "--max-model-len": {"kind": "value", "default": None, "field": "ModelConfig.max_model_len"},
    "--max-num-seqs": {"kind": "value", "default": None, "field": "SchedulerConfig.max_num_seqs"},
    "--middleware": {"kind": "value", "default": None, "field": "FrontendArgs.middleware"},
    "--model": {"kind": "value", "default": "facebook/opt-125m", "field": "ModelConfig.model"},
    "--pair": {"kind": "list", "default_expr": "(1, 2)", "field": "ModelConfig.pair"},
    "--port": {"kind": "value", "default": 8000, "field": "FrontendArgs.port"},
    "--quantization": {"kind": "value", "aliases": ["-q"], "default": None, "field": "ModelConfig.quantization"},
    "--seed": {"kind": "value", "default": 0, "field": "ModelConfig.seed"},
    "--served-model-name": {"kind": "list", "default": None, "field": "ModelConfig.served_model_name"},
    "--sub-config": {"kind": "value", "default_expr": "factory SubConfig", "field": "ModelConfig.sub"},
    "--tensor-parallel-size": {"kind": "value", "aliases": ["-tp"], "default": 1},
    "--trust-remote-code": {"kind": "bool", "default": False, "field": "ModelConfig.trust_remote_code"},
}

SYNTHETIC_STACK = """
name = "synthetic"
kind = "release"
summary = "a synthetic tree"
guide_revision = "none"
guide_revision_source = "test"
[derive]
vllm = "9.9.9"
vllm_ascend = "v9.9.9"
"""

SYNTHETIC_RULES = """
[[max_num_seqs]]
stacks = ["*"]
flag = "--max-num-seqs"
rule = "SchedulerConfig default, then capped"
glm5 = 128
anchors = [{ repo = "vllm", file = "vllm/config/scheduler.py", pattern = 'max_num_seqs: int = ' }]
"""


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    return root


def derive(tmp_path: Path, *extra: str, vllm: dict[str, str] | None = None, rules: str = SYNTHETIC_RULES):
    stacks = tmp_path / "stacks"
    stacks.mkdir(exist_ok=True)
    (stacks / "synthetic.toml").write_text(SYNTHETIC_STACK, "utf-8")
    (stacks / "defaults_rules.toml").write_text(rules, "utf-8")
    vllm_src = write_tree(tmp_path / "vllm-src", vllm or SYNTHETIC_VLLM)
    ascend_src = write_tree(tmp_path / "ascend-src", SYNTHETIC_ASCEND)
    out = tmp_path / "synthetic.tables.json"
    args = ["synthetic", "--vllm-src", str(vllm_src), "--ascend-src", str(ascend_src), "--stacks-dir", str(stacks)]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--out", str(out), *extra], capture_output=True, text=True, timeout=60
    )
    return proc, (json.loads(out.read_text("utf-8")) if proc.returncode == 0 else None)


def test_the_extractor_derives_the_expected_flag_table_from_a_synthetic_tree(tmp_path: Path) -> None:
    proc, tables = derive(tmp_path, "--trust-helpers")
    assert proc.returncode == 0, proc.stderr
    assert "23 flags" in proc.stdout
    trimmed = {
        name: {k: v for k, v in row.items() if k not in ("source", "field_source")}
        for name, row in tables["flags"].items()
    }
    assert trimmed == EXPECTED_FLAGS
    assert tables["flags"]["--seed"]["source"].startswith("vllm/engine/arg_utils.py:")
    assert tables["flags"]["--seed"]["field_source"].startswith("vllm/config/model.py:")
    assert tables["positionals"] == ["model_tag"]
    assert tables["parser_aliases"]["-O"].startswith("--optimization-level (vllm/utils/argparse_utils.py:")


def test_the_extractor_derives_environment_names_and_defaults(tmp_path: Path) -> None:
    _, tables = derive(tmp_path, "--trust-helpers")
    env = tables["env"]
    assert env["vllm"]["VLLM_TARGET_DEVICE"]["default"] == "cuda" and env["vllm"]["VLLM_HOST_IP"]["default"] is None
    assert env["vllm"]["VLLM_PORT"]["source"] == "vllm/envs.py:3"
    assert env["vllm"]["VLLM_OLD"]["default"] == "0" and env["vllm"]["VLLM_OLD"]["deprecated"] == "'v9.10' 'Use --new.'"
    assert env["vllm"]["VLLM_MODE"]["default"] == "fast" and "deprecated" not in env["vllm"]["VLLM_MODE"]
    assert env["vllm_direct"]["OMP_NUM_THREADS"] == {
        "read": ["vllm/v1/executor/multiproc_executor.py:2"],
        "write": ["vllm/v1/executor/multiproc_executor.py:3"],
    }
    assert env["vllm_ascend"]["VLLM_ASCEND_ENABLE_MLAPO"]["default"] == "1"
    assert env["vllm_ascend_uses"] == {"VLLM_ASCEND_ENABLE_MLAPO": ["vllm_ascend/utils.py:5"]}
    assert env["vllm_ascend_direct"]["HCCL_OP_EXPANSION_MODE"] == {"read": ["vllm_ascend/utils.py:5"]}
    assert env["vllm_ascend_direct"]["PYTORCH_NPU_ALLOC_CONF"] == {"write": ["vllm_ascend/utils.py:6"]}
    names = tables["names"]
    assert names["speculative_methods"]["values"] == ["deepseek_mtp", "eagle", "mtp", "ngram"]
    assert names["cudagraph_modes"]["values"] == ["NONE", "FULL"]
    assert names["quantization_methods"]["values"] == ["awq", "fp8"]
    assert names["quantization_methods_ascend"] == {"ascend": "vllm_ascend/quantization/modelslim.py:2"}
    row = tables["defaults"]["max_num_seqs"]
    assert row["sources"] == ["vllm: vllm/config/scheduler.py:5"] and row["glm5"] == 128
    assert row["parser_default"] is None and row["parser_default_source"] == "vllm/config/scheduler.py:5"


def test_the_extractor_refuses_type_helpers_it_does_not_reimplement(tmp_path: Path) -> None:
    proc, _ = derive(tmp_path)
    assert proc.returncode == 1 and "type helpers differ" in proc.stderr and "get_type_hints" in proc.stderr


def test_the_extractor_stops_on_an_anchor_that_no_longer_matches(tmp_path: Path) -> None:
    proc, _ = derive(tmp_path, "--trust-helpers", rules=SYNTHETIC_RULES.replace("max_num_seqs: int = ", "gone: "))
    assert proc.returncode == 1 and "no line matching 'gone: '" in proc.stderr


def test_the_extractor_stops_on_a_type_rule_it_does_not_know(tmp_path: Path) -> None:
    vllm = dict(SYNTHETIC_VLLM)
    vllm["vllm/engine/arg_utils.py"] = vllm["vllm/engine/arg_utils.py"].replace(
        "elif contains_type(type_hints, int):", "elif is_enum(type_hints):"
    )
    proc, _ = derive(tmp_path, "--trust-helpers", vllm=vllm)
    assert proc.returncode == 1 and "unknown condition in _compute_kwargs: is_enum(type_hints)" in proc.stderr


def test_what_runs_when_a_variable_is_unset() -> None:
    pinned = load_stack(DEFAULT_STACK)
    assert env(pinned, "HCCL_BUFFSIZE").unset_value == "200"  # HCCL's documented default
    assert env(pinned, "OMP_PROC_BIND").unset_unless == ("OMP_PLACES", "GOMP_CPU_AFFINITY")
    assert env(pinned, "VLLM_ASCEND_BALANCE_SCHEDULING").unset_value == "0"  # the getter's default
    assert "int(" in (env(pinned, "VLLM_ASCEND_BALANCE_SCHEDULING").getter or "")
    assert env(pinned, "HCCL_OP_EXPANSION_MODE").unset_value is None  # a per-product default: not one value
