"""The real launch command: `--serve-script FILE` / `--serve-cmd "vllm serve …"` as vLLM will read it.

`read_serve` reads the script (never runs it), finds its `vllm serve MODEL` command and records every
plan field the command gives (`given`, with the script line in `sources`); without a script or command
the profile's plan is the launch command (`profile_launch`). What the command leaves out takes vLLM's
default, not the profile's: glm5check.knowledge.plan resolves the effective plan. Flag values computed
at run time (`--data-parallel-address $local_ip`) are kept in `runtime_flags`, for the facts layer to
evaluate on this host. `problems` lists what vLLM would reject: values, flags the stack's vllm does not
know (with a did-you-mean), flags given twice. The flags, their kinds and the accepted speculative methods
and CUDA-graph modes are the stack's tables, generated from that vllm's own parser code (see
glm5check.knowledge.stacks). The `serve.args` check reports the problems; this module only reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from glm5check.errors import ConfigError
from glm5check.knowledge.limits import SERVE_RANGES
from glm5check.knowledge.profiles import Profile, ServePlan
from glm5check.knowledge.stacks import Stack, load_stack
from glm5check.parsers.launch_script import (
    ParsedScript,
    RuntimeValue,
    Word,
    parse_command,
    parse_script,
    show,
)
from glm5check.util import safejson
from glm5check.util.numbers import decimal, human_whole, whole

# Plan fields and the flag that sets each (the flag's kind decides how its value is read).
FIELD_FLAGS: dict[str, str] = {
    "tensor_parallel_size": "--tensor-parallel-size",
    "max_num_seqs": "--max-num-seqs",
    "max_model_len": "--max-model-len",
    "max_num_batched_tokens": "--max-num-batched-tokens",
    "gpu_memory_utilization": "--gpu-memory-utilization",
    "host": "--host",
    "port": "--port",
    "data_parallel_size": "--data-parallel-size",
    "data_parallel_size_local": "--data-parallel-size-local",
    "data_parallel_start_rank": "--data-parallel-start-rank",
    "data_parallel_rank": "--data-parallel-rank",
    "data_parallel_address": "--data-parallel-address",
    "data_parallel_rpc_port": "--data-parallel-rpc-port",
    "headless": "--headless",
    "enable_expert_parallel": "--enable-expert-parallel",
    "seed": "--seed",
    "served_model_name": "--served-model-name",
    "trust_remote_code": "--trust-remote-code",
    "quantization": "--quantization",
    "enable_chunked_prefill": "--enable-chunked-prefill",
    "enable_prefix_caching": "--enable-prefix-caching",
    "async_scheduling": "--async-scheduling",
    "enforce_eager": "--enforce-eager",
    "speculative_config": "--speculative-config",
    "compilation_config": "--compilation-config",
    "additional_config": "--additional-config",
    "kv_transfer_config": "--kv-transfer-config",
}
FLAG_FIELDS = {flag: name for name, flag in FIELD_FLAGS.items()}
_INT_FIELDS = frozenset(
    {
        "tensor_parallel_size",
        "max_num_seqs",
        "port",
        "data_parallel_size",
        "data_parallel_size_local",
        "data_parallel_start_rank",
        "data_parallel_rank",
        "data_parallel_rpc_port",
        "seed",
    }
)
_HUMAN_INT_FIELDS = frozenset({"max_model_len", "max_num_batched_tokens"})
# A port outside 1-65535 is given to the plan: net.ports judges it (vllm serve cannot listen on it).
_PORT_FIELDS = frozenset({"port", "data_parallel_rpc_port"})
_JSON_FIELDS = frozenset({"speculative_config", "compilation_config", "additional_config", "kv_transfer_config"})
# Flags whose value vLLM parses as a JSON object, so `--flag.key VALUE` sets one key (FlexibleArgumentParser). The
# stack tables record each flag's kind, not its value type: this list is read from vllm/engine/arg_utils.py
# (config-dataclass and dict fields, parsed with json.loads) and checked against every stack's flags by
# tests/test_stacks.py.
JSON_FLAGS = frozenset(
    {
        *("--speculative-config", "--compilation-config", "--additional-config", "--attention-config"),
        *("--kv-transfer-config", "--kv-events-config", "--ec-transfer-config", "--structured-outputs-config"),
        *("--profiler-config", "--eplb-config", "--weight-transfer-config", "--hf-overrides"),
        *("--override-generation-config", "--model-loader-extra-config", "--pooler-config"),
    }
)


class ServeInputError(ConfigError):
    """The serve script cannot be read or holds no `vllm serve` command (exit code 2)."""


class ServeProblem(NamedTuple):
    """Something wrong or unknowable in the launch command. kind: invalid-value, unknown-flag,
    unresolved, unsupported, duplicate, syntax."""

    kind: str
    message: str
    line: int | None = None
    flag: str | None = None
    suggestion: str | None = None


class ServeFlag(NamedTuple):
    """One flag of the command as written (flag canonicalised; value None for a bare flag)."""

    flag: str
    value: str | None
    line: int
    written: str
    unresolved: tuple[str, ...] = ()  # unknown parts of the value: it is computed at run time
    runtime: RuntimeValue | None = None  # the value as the script computes it, when unresolved


@dataclass(frozen=True)
class ServeInput:
    """The launch command as read: the plan fields it gives (`given`, each with its source), its
    environment, and what only the running shell knows (`runtime`, `runtime_flags`, `sourced`)."""

    given: dict[str, Any]
    sources: dict[str, str]  # where each given field comes from: "script line 29", "profile", …
    env: dict[str, str]
    model_path: str | None
    problems: tuple[ServeProblem, ...]
    origin: str = "profile"  # the script path, "--serve-cmd" or "profile"
    flags: tuple[ServeFlag, ...] = ()
    env_sources: dict[str, str] = field(default_factory=dict)
    unknown_env: tuple[str, ...] = ()  # exported, but to a value only the running shell knows
    runtime: dict[str, RuntimeValue] = field(default_factory=dict)  # script variables set at run time
    variables: dict[str, str] = field(default_factory=dict)  # every variable the script assigns, resolved
    runtime_flags: dict[str, RuntimeValue] = field(default_factory=dict)  # plan field (or "model") -> value
    sourced: tuple[tuple[str, int], ...] = ()  # (file, line) of each `source FILE`
    model_source: str = "profile"
    where: str = "profile"  # how a line of this command is named: "script line", "--serve-cmd line"

    @property
    def from_script(self) -> bool:
        return self.origin != "profile"

    def flag_values(self) -> dict[str, str | None]:
        """Every flag the command sets, last occurrence winning (as argparse does)."""
        return {item.flag: item.value for item in self.flags}


def profile_launch(profile: Profile) -> ServeInput:
    """The profile's own launch command: every serve value the profile sets, no exports."""
    given = {f.name: getattr(profile.serve, f.name) for f in fields(ServePlan)}
    given = {name: value for name, value in given.items() if value is not None}
    return ServeInput(given, dict.fromkeys(given, "profile"), {}, profile.model.path, ())


def read_serve(
    profile: Profile,
    script_text: str | None = None,
    command: str | None = None,
    script_name: str = "serve script",
    replayed: bool = False,
    stack: Stack | None = None,
) -> ServeInput:
    """The real launch command (a script's text, named script_name, or a command line; `replayed` when
    it comes from a snapshot) as `stack`'s vllm reads it (default: the profile's stack); without either the
    profile's; raises ServeInputError. Reading the script is the caller's job."""
    if script_text is not None and command is not None:
        raise ServeInputError("give either --serve-script or --serve-cmd, not both")
    if script_text is None and command is None:
        return profile_launch(profile)
    if script_text is not None:
        parsed, origin, where = parse_script(script_text), script_name, "script line"
    else:
        parsed, origin, where = parse_command(command or ""), "--serve-cmd", "--serve-cmd line"
    where = f"replayed {where}" if replayed else where
    if parsed.command is None:
        detail = next((p.message for p in parsed.problems if p.kind == "syntax"), "")
        raise ServeInputError(f"{origin}: no `vllm serve` command found" + (f" ({detail})" if detail else ""))
    return _build(parsed, origin, where, stack or load_stack(profile.stack))


def _build(parsed: ParsedScript, origin: str, where: str, stack: Stack) -> ServeInput:
    assert parsed.command is not None
    problems = [ServeProblem(p.kind, p.message, p.line) for p in parsed.problems]
    model, flags = _split_flags(parsed.command.words, problems, stack)
    given, sources, runtime_flags = _plan_values(flags, problems, where, stack)
    model_flag = next((f for f in reversed(flags) if f.flag == "--model"), None)
    if model_flag is not None:
        model = model_flag
    if model is not None and model.runtime is not None:
        runtime_flags["model"] = model.runtime
    env_sources = {name: f"{where} {line}" for name, line in parsed.export_lines.items()}
    for name in parsed.command.env:
        env_sources[name] = f"{where} {parsed.command.line}"
    return ServeInput(
        given=given,
        sources=sources,
        env=dict(parsed.exports),
        model_path=model.value if model else None,
        problems=tuple(problems),
        origin=origin,
        flags=tuple(flags),
        env_sources=env_sources,
        unknown_env=parsed.unknown_exports,
        runtime=dict(parsed.runtime),
        variables=dict(parsed.variables),
        runtime_flags=runtime_flags,
        sourced=parsed.sourced,
        model_source=f"{where} {model.line}" if model else "absent",
        where=where,
    )


def _split_flags(
    words: tuple[Word, ...], problems: list[ServeProblem], stack: Stack
) -> tuple[ServeFlag | None, list[ServeFlag]]:
    """argparse's reading of the command: the positional model, then flags with their values."""
    model: ServeFlag | None = None
    flags: list[ServeFlag] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        text = word.text
        if not text.startswith("-") or _is_number(text):
            if model is None:
                model = _flag("model", [word], word, text)
            else:
                problems.append(
                    ServeProblem(
                        "invalid-value",
                        f"line {word.line}: unexpected argument {show(text)!r} (vllm serve takes one model)",
                        word.line,
                    )
                )
            continue
        written, equals, after = text.partition("=")
        flag, inline = _canonical(written, after if equals else None, stack)
        kind = _kind(flag, stack)
        if kind is None:
            suggestion = stack.suggest_flag(written)
            hint = f"; did you mean {suggestion}?" if suggestion else ""
            problems.append(
                ServeProblem(
                    "unknown-flag",
                    f"line {word.line}: {written} is not a flag of {vllm_of(stack)}{hint}",
                    word.line,
                    written,
                    suggestion,
                )
            )
        taken: list[Word] = []
        if inline is None and kind in ("value", "optional", "list", None):
            taken = list(words[index : _value_end(words, index, kind)])
            index += len(taken)
            if not taken and kind == "value":
                problems.append(
                    ServeProblem("invalid-value", f"line {word.line}: {written} needs a value", word.line, flag)
                )
        elif inline is not None and kind in ("bool", "switch", "negated"):
            problems.append(
                ServeProblem(
                    "invalid-value",
                    f"line {word.line}: {written} takes no value (got {show(inline)!r})",
                    word.line,
                    flag,
                )
            )
        raw = " ".join(item.text for item in taken) if taken else inline
        flags.append(_flag(flag, taken or [word], word, raw, written))
    _report_duplicates(flags, problems, stack)
    return model, flags


def _flag(flag: str, value_words: list[Word], word: Word, raw: str | None, written: str | None = None) -> ServeFlag:
    """One flag (or the model, flag "model"): its value as shown, and how the script computes it when
    part of it is only known at run time."""
    unresolved = tuple(name for item in value_words for name in item.unresolved) if raw is not None else ()
    runtime = RuntimeValue(raw, value_words[0].line) if unresolved and raw is not None else None
    value = None if raw is None else show(raw)
    return ServeFlag(flag, value, word.line, written or flag, unresolved, runtime)


def _value_end(words: tuple[Word, ...], start: int, kind: str | None) -> int:
    """Where a flag's values end: one word (every word up to the next flag for a list flag)."""
    end = start
    while end < len(words) and (not words[end].text.startswith("-") or _is_number(words[end].text)):
        end += 1
        if kind != "list":
            break
    return end


def vllm_of(stack: Stack) -> str:
    """How messages name the vllm whose flags are judged: "the pinned vllm", "vllm 0.18.0 (stack v0.18.0)"."""
    if stack.kind == "pinned":
        return "the pinned vllm"
    version = stack.sourced("vllm", "version")
    return f"vllm {version.value if version else '?'} (stack {stack.name})"


def _canonical(written: str, inline: str | None, stack: Stack) -> tuple[str, str | None]:
    """vLLM's spelling of a flag: `-O3` is `--optimization-level 3`; `-tp` is `--tensor-parallel-size`."""
    short = re.fullmatch(r"-O(\d+)", written)
    if short and inline is None:
        return stack.canonical_flag("-O"), short.group(1)
    base, dot, key = written.partition(".")
    flag = stack.canonical_flag(base)
    return (flag + dot + key if dot else flag), inline


def _kind(flag: str, stack: Stack) -> str | None:
    base, dot, _key = flag.partition(".")
    if dot:
        return "value" if base in JSON_FLAGS and stack.flag_kind(base) == "value" else None
    return stack.flag_kind(flag)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-\d+(\.\d+)?", text) is not None


def _report_duplicates(flags: list[ServeFlag], problems: list[ServeProblem], stack: Stack) -> None:
    seen: dict[str, ServeFlag] = {}
    for item in flags:
        base = _toggle_base(item.flag, stack)
        if base in seen:
            first = seen[base]
            problems.append(
                ServeProblem(
                    "duplicate",
                    f"line {item.line}: {item.written} repeats {first.written} "
                    f"(line {first.line}); vllm uses the last one",
                    item.line,
                    item.flag,
                )
            )
        seen[base] = item


def _toggle_base(flag: str, stack: Stack) -> str:
    return "--" + flag[5:] if flag.startswith("--no-") and stack.flag_kind(flag) == "negated" else flag


# ---------------------------------------------------------------------------------------------------
# Flag values -> plan fields.


def _plan_values(
    flags: list[ServeFlag], problems: list[ServeProblem], where: str, stack: Stack
) -> tuple[dict[str, Any], dict[str, str], dict[str, RuntimeValue]]:
    """The plan fields the flags give, where each comes from, and those computed at run time."""
    changes: dict[str, Any] = {}
    sources: dict[str, str] = {}
    runtime: dict[str, RuntimeValue] = {}
    for item in flags:
        base, dot, key = item.flag.partition(".")
        name = FLAG_FIELDS.get(_toggle_base(base, stack))
        if name is None:
            continue
        if item.runtime is not None:
            runtime[name] = item.runtime  # its value on this host is the facts layer's to find
            changes.pop(name, None)
            sources[name] = f"{where} {item.line}"
            continue
        runtime.pop(name, None)
        value: object
        if dot:
            value = _dotted(changes.get(name), key, item)
        elif item.flag.startswith("--no-"):
            value = False
        elif item.value is None and stack.flag_kind(item.flag) in ("bool", "switch"):
            value = True
        else:
            value = _convert(name, item, problems)
        if value is _INVALID:
            continue
        changes[name] = value
        sources[name] = f"{where} {item.line}"
    if "speculative_config" in changes:
        _check_speculative(changes["speculative_config"], sources["speculative_config"], problems, stack)
    if "compilation_config" in changes:
        _check_compilation(changes["compilation_config"], sources["compilation_config"], problems, stack)
    return changes, {name: sources[name] for name in changes}, runtime


def convert_value(name: str, text: str) -> Any:
    """A plan field's value from its text as vLLM would read it (a run-time value evaluated on this
    host), or None when vLLM would reject it."""
    problems: list[ServeProblem] = []
    value = _convert(name, ServeFlag(FIELD_FLAGS.get(name, name), text, 0, FIELD_FLAGS.get(name, name)), problems)
    return None if value is _INVALID else value


_INVALID = object()


def _convert(name: str, item: ServeFlag, problems: list[ServeProblem]) -> Any:
    text = (item.value or "").strip()

    def invalid(reason: str) -> object:
        problems.append(
            ServeProblem("invalid-value", f"line {item.line}: {item.written} {text!r}: {reason}", item.line, item.flag)
        )
        return _INVALID

    if name in _INT_FIELDS:
        number = whole(text, signed=True)
        if number is None:
            return invalid("not a whole number (vllm would stop with `invalid int value`)")
        in_range = name in _PORT_FIELDS or SERVE_RANGES[name].admits(number)
        return number if in_range else invalid(SERVE_RANGES[name].requirement())
    if name in _HUMAN_INT_FIELDS:
        if name == "max_model_len" and text.lower() in ("auto", "-1"):
            problems.append(
                ServeProblem(
                    "unsupported",
                    f"line {item.line}: {item.written} {text}: vllm picks "
                    "the longest length that fits at start-up; glm5check keeps the "
                    "profile's value for its checks",
                    item.line,
                    item.flag,
                )
            )
            return _INVALID
        number = human_whole(text)
        if number is None:
            return invalid("not a whole number (such as 32768, 32k or 32K)")
        return number if SERVE_RANGES[name].admits(number) else invalid(SERVE_RANGES[name].requirement())
    if name == "gpu_memory_utilization":
        fraction = decimal(text)
        if fraction is None:
            return invalid("not a number")
        admitted = SERVE_RANGES[name].admits(fraction)
        return fraction if admitted else invalid("must be a fraction in (0, 1], such as 0.95")
    if name in _JSON_FIELDS:
        try:
            return safejson.loads(text, expect=dict)
        except safejson.JsonProblem as exc:
            if "not a JSON" in str(exc):
                return invalid("must be a JSON object such as '{\"key\": value}'")
            return invalid(f"not valid JSON ({exc})")
    if name == "served_model_name":
        return text.split()[0] if text.split() else text
    return text


def _dotted(current: Any, key: str, item: ServeFlag) -> dict[str, Any]:
    """`--compilation-config.cudagraph_mode FULL_DECODE_ONLY`: one key of a JSON flag (nested by dots)."""
    result = dict(current) if isinstance(current, dict) else {}
    raw = item.value or ""
    try:
        value: Any = safejson.loads(raw)
    except safejson.JsonProblem:  # a plain word: `--compilation-config.mode FULL`
        value = raw
    target = result
    parts = key.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {}) if isinstance(target.get(part, {}), dict) else {}
    target[parts[-1]] = value
    return result


def _check_speculative(spec: dict[str, Any], source: str, problems: list[ServeProblem], stack: Stack) -> None:

    method = spec.get("method")
    if method is not None and method not in stack.speculative_methods:
        import difflib  # only for a did-you-mean (start-up time)

        close = difflib.get_close_matches(str(method), sorted(stack.speculative_methods), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.append(
            ServeProblem(
                "invalid-value",
                f"{source}: --speculative-config method {method!r} is "
                f"not a speculative method of {vllm_of(stack)}{hint}",
                _line(source),
                "--speculative-config",
                close[0] if close else None,
            )
        )
    tokens = spec.get("num_speculative_tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0):
        problems.append(
            ServeProblem(
                "invalid-value",
                f"{source}: --speculative-config num_speculative_tokens {tokens!r} must be a whole number above 0",
                _line(source),
                "--speculative-config",
            )
        )


def _check_compilation(config: dict[str, Any], source: str, problems: list[ServeProblem], stack: Stack) -> None:
    mode = config.get("cudagraph_mode")
    if mode is not None and str(mode).upper() not in stack.cudagraph_modes:
        problems.append(
            ServeProblem(
                "invalid-value",
                f"{source}: --compilation-config cudagraph_mode {mode!r} "
                f"is not one of {', '.join(sorted(stack.cudagraph_modes))}",
                _line(source),
                "--compilation-config",
            )
        )


def _line(source: str) -> int | None:
    return whole(source.rsplit(" ", 1)[-1], digits=9)
