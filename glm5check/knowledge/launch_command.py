"""The real launch command: `--serve-script FILE` / `--serve-cmd "vllm serve …"` turned into a plan.

`read_serve` reads the script (never runs it), finds its `vllm serve MODEL` command, and overrides the
profile's serve plan with every flag the command sets (SPEC: its flags and exports override the
profile). `sources` says, per plan field, whether the value is the profile's or which script line set
it; `problems` lists what could not be read: unresolved variables, values vLLM would reject, flags the
pinned vllm does not know (with a did-you-mean), flags given twice. The `serve.args` check reports
them; this module only reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

from glm5check.errors import ConfigError
from glm5check.knowledge import vllm_flags
from glm5check.knowledge.profiles import Profile, ServePlan
from glm5check.parsers.launch_script import (
    ParsedScript,
    Word,
    parse_command,
    parse_script,
    show,
    unresolved_names,
)

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
    "speculative_config": "--speculative-config",
    "compilation_config": "--compilation-config",
    "additional_config": "--additional-config",
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
        "data_parallel_rpc_port",
        "seed",
    }
)
_HUMAN_INT_FIELDS = frozenset({"max_model_len", "max_num_batched_tokens"})
_JSON_FIELDS = frozenset({"speculative_config", "compilation_config", "additional_config"})

# What vLLM uses when a flag is absent, for the plan fields where that default is fixed (the others
# are derived at start-up from the model or the hardware). Used to warn about flags a script omits.
VLLM_DEFAULTS: dict[str, Any] = {
    "tensor_parallel_size": 1,
    "data_parallel_size": 1,
    "data_parallel_size_local": None,
    "data_parallel_start_rank": None,
    "data_parallel_address": None,
    "data_parallel_rpc_port": None,
    "port": 8000,
    "headless": False,
    "enable_expert_parallel": False,
    "trust_remote_code": False,
    "quantization": None,
    "gpu_memory_utilization": 0.9,
    "enable_chunked_prefill": None,
    "enable_prefix_caching": None,
    "async_scheduling": False,
    "speculative_config": None,
    "compilation_config": None,
    "additional_config": None,
}


class ServeInputError(ConfigError):
    """The serve script cannot be read or holds no `vllm serve` command (exit code 2)."""


@dataclass(frozen=True)
class ServeProblem:
    """Something wrong or unknowable in the launch command. kind: invalid-value, unknown-flag,
    unresolved, unsupported, duplicate, syntax."""

    kind: str
    message: str
    line: int | None = None
    flag: str | None = None
    suggestion: str | None = None


@dataclass(frozen=True)
class ServeFlag:
    """One flag of the command as written (flag canonicalised; value None for a bare flag)."""

    flag: str
    value: str | None
    line: int
    written: str
    unresolved: tuple[str, ...] = ()  # variables in the value the script does not set


@dataclass(frozen=True)
class ServeInput:
    plan: ServePlan
    env: dict[str, str]
    model_path: str | None
    sources: dict[str, str]
    problems: tuple[ServeProblem, ...]
    origin: str = "profile"  # the script path, "--serve-cmd" or "profile"
    flags: tuple[ServeFlag, ...] = ()
    env_sources: dict[str, str] = field(default_factory=dict)
    unknown_env: tuple[str, ...] = ()  # exported, but to a value only the running shell would know

    @property
    def from_script(self) -> bool:
        return self.origin != "profile"

    def flag_values(self) -> dict[str, str | None]:
        """Every flag the command sets, last occurrence winning (as argparse does)."""
        return {item.flag: item.value for item in self.flags}


def profile_launch(profile: Profile) -> ServeInput:
    """The profile's own launch command: its plan, every value from the profile, no exports."""
    sources = {f.name: "profile" for f in fields(ServePlan)}
    return ServeInput(profile.serve, {}, profile.model.path, sources, ())


def read_serve(
    profile: Profile, script_text: str | None = None, command: str | None = None, script_name: str = "serve script"
) -> ServeInput:
    """The plan and environment of the real launch command (a script's text, named script_name, or a
    command line), over the profile's; raises ServeInputError. Reading the script is the caller's job."""
    if script_text is not None and command is not None:
        raise ServeInputError("give either --serve-script or --serve-cmd, not both")
    if script_text is None and command is None:
        return profile_launch(profile)
    if script_text is not None:
        parsed, origin, where = parse_script(script_text), script_name, "serve script line"
    else:
        parsed, origin, where = parse_command(command or ""), "--serve-cmd", "--serve-cmd line"
    if parsed.command is None:
        detail = next((p.message for p in parsed.problems if p.kind == "syntax"), "")
        raise ServeInputError(f"{origin}: no `vllm serve` command found" + (f" ({detail})" if detail else ""))
    return _build(profile, parsed, origin, where)


def _build(profile: Profile, parsed: ParsedScript, origin: str, where: str) -> ServeInput:
    assert parsed.command is not None
    problems = [ServeProblem(p.kind, p.message, p.line) for p in parsed.problems]
    model_path, flags = _split_flags(parsed.command.words, problems)
    changes, sources = _plan_changes(flags, problems, where)
    if "--model" in {f.flag for f in flags}:
        model_path = next(f.value for f in reversed(flags) if f.flag == "--model")
    plan = replace(profile.serve, **changes)
    all_sources = {f.name: sources.get(f.name, "profile") for f in fields(ServePlan)}
    env_sources = {name: f"{where} {line}" for name, line in parsed.export_lines.items()}
    for name in parsed.command.env:
        env_sources[name] = f"{where} {parsed.command.line}"
    return ServeInput(
        plan=plan,
        env=dict(parsed.exports),
        model_path=model_path,
        sources=all_sources,
        problems=tuple(problems),
        origin=origin,
        flags=tuple(flags),
        env_sources=env_sources,
        unknown_env=parsed.unknown_exports,
    )


def _split_flags(words: tuple[Word, ...], problems: list[ServeProblem]) -> tuple[str | None, list[ServeFlag]]:
    """argparse's reading of the command: the positional model, then flags with their values."""
    model: str | None = None
    flags: list[ServeFlag] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        text = word.text
        if not text.startswith("-") or _is_number(text):
            if model is None:
                model = show(text)
                _report_unresolved(word, "the model path", problems)
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
        flag, inline = _canonical(written, after if equals else None)
        kind = _kind(flag)
        if kind is None:
            suggestion = vllm_flags.suggest(vllm_flags.canonical(written))
            hint = f"; did you mean {suggestion}?" if suggestion else ""
            problems.append(
                ServeProblem(
                    "unknown-flag",
                    f"line {word.line}: {written} is not a flag of the pinned vllm{hint}",
                    word.line,
                    written,
                    suggestion,
                )
            )
        value: str | None = inline
        unresolved = unresolved_names(inline or "")
        if unresolved:
            _report_unresolved(word, written, problems)
        if inline is None and kind in ("value", "optional", "list", None):
            taken = words[index : _value_end(words, index, kind)]
            index += len(taken)
            for item in taken:
                _report_unresolved(item, written, problems)
            unresolved = tuple(name for item in taken for name in item.unresolved)
            if taken:
                value = " ".join(item.text for item in taken)
            elif kind == "value":
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
        flags.append(ServeFlag(flag, None if value is None else show(value), word.line, written, unresolved))
    _report_duplicates(flags, problems)
    return model, flags


def _value_end(words: tuple[Word, ...], start: int, kind: str | None) -> int:
    """Where a flag's values end: one word (every word up to the next flag for a list flag)."""
    end = start
    while end < len(words) and (not words[end].text.startswith("-") or _is_number(words[end].text)):
        end += 1
        if kind != "list":
            break
    return end


def _canonical(written: str, inline: str | None) -> tuple[str, str | None]:
    """vLLM's spelling of a flag: `-O3` is `--optimization-level 3`; `-tp` is `--tensor-parallel-size`."""
    short = re.fullmatch(r"-O(\d+)", written)
    if short and inline is None:
        return "--optimization-level", short.group(1)
    base, dot, key = written.partition(".")
    flag = vllm_flags.canonical(base)
    return (flag + dot + key if dot else flag), inline


def _kind(flag: str) -> str | None:
    base, dot, _key = flag.partition(".")
    if dot:
        return "value" if base in vllm_flags.JSON_FLAGS else None
    return vllm_flags.kind_of(flag)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-\d+(\.\d+)?", text) is not None


def _report_unresolved(word: Word, what: str, problems: list[ServeProblem]) -> None:
    for name in word.unresolved:
        label = name if name.startswith(("$", "`")) else "$" + name
        problems.append(
            ServeProblem(
                "unresolved",
                f"line {word.line}: {what} uses {label}, which the script "
                "does not set; its value is not known before launch",
                word.line,
                what,
            )
        )


def _report_duplicates(flags: list[ServeFlag], problems: list[ServeProblem]) -> None:
    seen: dict[str, ServeFlag] = {}
    for item in flags:
        base = _toggle_base(item.flag)
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


def _toggle_base(flag: str) -> str:
    return "--" + flag[5:] if flag.startswith("--no-") and vllm_flags.kind_of(flag) == "negated" else flag


# ---------------------------------------------------------------------------------------------------
# Flag values -> plan fields.


def _plan_changes(
    flags: list[ServeFlag], problems: list[ServeProblem], where: str
) -> tuple[dict[str, Any], dict[str, str]]:
    changes: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for item in flags:
        base, dot, key = item.flag.partition(".")
        name = FLAG_FIELDS.get(_toggle_base(base))
        if name is None:
            continue
        if item.unresolved:
            continue  # already reported; the profile's value stays
        if dot:
            value = _dotted(changes.get(name), key, item)
        elif item.flag.startswith("--no-"):
            value = False
        elif item.value is None and vllm_flags.kind_of(item.flag) in ("bool", "switch"):
            value = True
        else:
            value = _convert(name, item, problems)
        if value is _INVALID:
            continue
        changes[name] = value
        sources[name] = f"{where} {item.line}"
    if "speculative_config" in changes:
        _check_speculative(changes["speculative_config"], sources["speculative_config"], problems)
    if "compilation_config" in changes:
        _check_compilation(changes["compilation_config"], sources["compilation_config"], problems)
    return changes, sources


_INVALID = object()


def _convert(name: str, item: ServeFlag, problems: list[ServeProblem]) -> Any:
    text = (item.value or "").strip()

    def invalid(reason: str) -> object:
        problems.append(
            ServeProblem("invalid-value", f"line {item.line}: {item.written} {text!r}: {reason}", item.line, item.flag)
        )
        return _INVALID

    if name in _INT_FIELDS:
        if not re.fullmatch(r"-?\d+", text):
            return invalid("not a whole number (vllm would stop with `invalid int value`)")
        return int(text)
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
        number = parse_human_int(text)
        return invalid("not a whole number (such as 32768, 32k or 32K)") if number is None else number
    if name == "gpu_memory_utilization":
        try:
            number = float(text)
        except ValueError:
            return invalid("not a number")
        if not 0 < number <= 1:
            return invalid("must be a fraction in (0, 1], such as 0.95")
        return number
    if name in _JSON_FIELDS:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return invalid(f"not valid JSON ({exc.msg} at character {exc.pos})")
        except RecursionError:
            return invalid("not valid JSON (nested too deep)")
        if not isinstance(value, dict):
            return invalid("must be a JSON object such as '{\"key\": value}'")
        return value
    if name == "served_model_name":
        return text.split()[0] if text.split() else text
    return text


def _dotted(current: Any, key: str, item: ServeFlag) -> dict[str, Any]:
    """`--compilation-config.cudagraph_mode FULL_DECODE_ONLY`: one key of a JSON flag (nested by dots)."""
    result = dict(current) if isinstance(current, dict) else {}
    raw = item.value or ""
    try:
        value: Any = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        value = raw
    target = result
    parts = key.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {}) if isinstance(target.get(part, {}), dict) else {}
    target[parts[-1]] = value
    return result


def _check_speculative(spec: dict[str, Any], source: str, problems: list[ServeProblem]) -> None:
    import difflib

    method = spec.get("method")
    if method is not None and method not in vllm_flags.SPECULATIVE_METHODS:
        close = difflib.get_close_matches(str(method), sorted(vllm_flags.SPECULATIVE_METHODS), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.append(
            ServeProblem(
                "invalid-value",
                f"{source}: --speculative-config method {method!r} is "
                f"not a speculative method of the pinned vllm{hint}",
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


def _check_compilation(config: dict[str, Any], source: str, problems: list[ServeProblem]) -> None:
    mode = config.get("cudagraph_mode")
    if mode is not None and str(mode).upper() not in vllm_flags.CUDAGRAPH_MODES:
        problems.append(
            ServeProblem(
                "invalid-value",
                f"{source}: --compilation-config cudagraph_mode {mode!r} "
                f"is not one of {', '.join(sorted(vllm_flags.CUDAGRAPH_MODES))}",
                _line(source),
                "--compilation-config",
            )
        )


def _line(source: str) -> int | None:
    tail = source.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else None


def parse_human_int(text: str) -> int | None:
    """vLLM's human-readable integers: 32768, 32k (= 32000), 32K (= 32768), 1.5m, 2G; None if not one."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGtT]?)", text.strip())
    if not match:
        return None
    number, suffix = match.groups()
    if not suffix:
        return int(number) if "." not in number and len(number) <= 18 else None
    power = "kmgt".index(suffix.lower()) + 1
    base = 1000 if suffix.islower() else 1024
    value = float(number) * base**power
    return int(value) if value.is_integer() else None
