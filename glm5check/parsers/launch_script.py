"""Read a bash launch script (or one `vllm serve …` command line) without running any shell.

What is understood, exactly as bash would read it:
- comments (`#` at the start of a word, outside quotes), backslash-newline continuations, single and
  double quotes and backslash escapes (the joined command text is tokenised with `shlex`);
- `export NAME=value`, `export NAME`, plain `NAME=value` assignments, `unset NAME`, and `NAME=value`
  prefixes of a command; `$NAME` and `${NAME}` expanded from what the script itself assigned, in
  unquoted and double-quoted text (never inside single quotes);
- statements separated by `;`, `&&`, `||`, `|`, `&`, and redirections (`> log 2>&1`);
- the first `vllm serve MODEL --flag …` command (also behind `exec`, `nohup`, `env`, `time`), or
  `python -m vllm.entrypoints.openai.api_server …`.

Values only the running shell knows are kept as written, never guessed: a variable the script does not
set (it comes from the caller's environment), command substitution `$(…)` and backticks, `${NAME:-…}`
style operators, positional parameters. A variable assigned such a value is a `RuntimeValue` (its
template and the line that computes it), so that a check can say "set at run time by line N" and judge
what it gives on this host. `source`d files are listed (their variables are set at run time too);
control flow (`if`, `for`, functions: lines are read top to bottom) and unterminated quotes are reported.
Nothing here evaluates script text; the parser never raises.
"""

from __future__ import annotations

import bisect
import io
import re
import shlex
from dataclasses import dataclass, field
from typing import NamedTuple

from glm5check.util.lazyre import lazy
from glm5check.util.numbers import is_whole

_NAME = lazy(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = lazy(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
# Marks an expansion that could not be resolved; private-use code points never appear in real scripts.
_UNRESOLVED_OPEN = "\ue000"
_UNRESOLVED_CLOSE = "\ue001"
_UNRESOLVED = lazy(f"{_UNRESOLVED_OPEN}([^{_UNRESOLVED_CLOSE}]*){_UNRESOLVED_CLOSE}")
_CONTROL_WORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "function",
        "{",
        "}",
        "select",
    }
)
# Programs that start another one with its arguments (they may come before `vllm serve`).
_LAUNCHERS = frozenset(
    {"exec", "nohup", "time", "command", "builtin", "env", "sudo", "numactl", "taskset", "timeout", "stdbuf",
     "nice", "ionice", "setsid", "chrt", "unbuffer"}
)  # fmt: skip
_HEREDOC = lazy(r"(?<!<)<<(?!<)(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_API_SERVER_MODULES = frozenset({"vllm.entrypoints.openai.api_server"})
_MAX_STATEMENTS = 20000
# No launch command holds a word this long or expands to this much: beyond them a statement is reported,
# not read (a variable doubled 30 times would expand to a GiB; shlex takes quadratic time on one word).
MAX_WORD_CHARS = 64 * 1024
MAX_EXPANDED_CHARS = 1024 * 1024


class ScriptProblem(NamedTuple):
    """Something in the script that was not (or could not be) read. `kind`: unresolved, syntax,
    unsupported, duplicate."""

    kind: str
    message: str
    line: int | None = None
    name: str | None = None


class RuntimeValue(NamedTuple):
    """A value computed when the script runs. `template` is the value with each unknown part marked
    (`template_parts` splits it; `show` writes it back as in the script); `line` computes it."""

    template: str
    line: int

    @property
    def text(self) -> str:
        return show(self.template)

    @property
    def parts(self) -> tuple[str, ...]:
        return unresolved_names(self.template)


class Word(NamedTuple):
    """One word of the `vllm serve` command after expansion; `unresolved` names what could not be."""

    text: str
    line: int
    unresolved: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServeCommand:
    """A `vllm serve` (or api_server module) command found in a launch script."""

    line: int  # the line where the command starts
    program: str  # "vllm serve" or "python -m vllm.entrypoints.openai.api_server"
    words: tuple[Word, ...]  # everything after `serve` (or after the module name)
    env: dict[str, str] = field(default_factory=dict)  # NAME=value prefixes of the command itself


class ParsedScript(NamedTuple):
    variables: dict[str, str]  # every variable the script assigned, resolved
    exports: dict[str, str]  # the exported ones (those vllm serve would see)
    export_lines: dict[str, int]  # where each export got its value
    command: ServeCommand | None
    problems: tuple[ScriptProblem, ...]
    unknown_exports: tuple[str, ...] = ()  # exported with a value that cannot be known statically
    # Every variable whose value is computed at run time (exported or not: an export may copy it).
    runtime: dict[str, RuntimeValue] = field(default_factory=dict)
    sourced: tuple[tuple[str, int], ...] = ()  # (file, line) of each `source FILE` / `. FILE`


@dataclass
class _Statement:
    """One logical line of a script (continuations joined) and where its physical lines start."""

    text: str
    raw_lines: list[tuple[int, int]]  # (offset in text, physical line) where each segment starts
    starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Built once: a command of tens of thousands of continuation lines looks up a line per word.
        self.starts = [start for start, _ in self.raw_lines]

    def line_at(self, offset: int) -> int:
        index = max(0, bisect.bisect_right(self.starts, offset) - 1)
        return self.raw_lines[index][1]


# ---------------------------------------------------------------------------------------------------
# Pass 1: characters -> statements (comments dropped, continuations joined, quotes tracked).


class _Splitter:
    def __init__(self, text: str) -> None:
        self.text = text
        self.statements: list[_Statement] = []
        self.problems: list[ScriptProblem] = []
        self.line = 1
        self.heredocs: list[tuple[bool, str]] = []  # (<<- form, delimiter) still to skip
        self._reset()

    def _reset(self) -> None:
        self.out: list[str] = []
        self.segments: list[tuple[int, int]] = [(0, self.line)]

    def _flush(self) -> None:
        text = "".join(self.out)
        if text.strip():
            self.statements.append(_Statement(text, self.segments))
            self.heredocs.extend((m.group(1) == "-", m.group(3)) for m in _HEREDOC.finditer(text))
        self._reset()

    def _skip_heredocs(self, i: int) -> int:
        """Skip the bodies of here-documents opened on the line that just ended (text[i] is its newline):
        they are data for another program, not script lines."""
        while self.heredocs:
            strip_tabs, delimiter = self.heredocs.pop(0)
            while i < len(self.text):
                end = self.text.find("\n", i + 1)
                end = len(self.text) if end < 0 else end
                line = self.text[i + 1 : end]
                self.line += 1
                i = end
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        return i

    def _at_word_start(self) -> bool:
        return not self.out or self.out[-1] in " \t;&|()"

    def split(self) -> list[_Statement]:
        text, i, quote, quote_line = self.text, 0, "", 0
        while i < len(text):
            char = text[i]
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if quote == "'":
                self.out.append(char)
                quote = "" if char == "'" else quote
                self.line += char == "\n"
                i += 1
                continue
            if char == "\\" and nxt == "\n":  # continuation: bash drops both characters
                self.line += 1
                self.segments.append((len(self.out), self.line))
                i += 2
                continue
            if char == "\\" and nxt:
                self.out.append(char + nxt)
                self.line += nxt == "\n"
                i += 2
                continue
            if quote == '"':
                self.out.append(char)
                quote = "" if char == '"' else quote
                self.line += char == "\n"
                i += 1
                continue
            if char == "`" or (char == "$" and nxt == "("):
                i = self._copy_substitution(i)
                continue
            if char in "'\"":
                quote, quote_line = char, self.line
                self.out.append(char)
            elif char == "#" and self._at_word_start():
                end = text.find("\n", i)
                i = len(text) if end < 0 else end
                continue
            elif char == "\n":
                self._flush()
                i = self._skip_heredocs(i)
                self.line += 1
                self.segments = [(0, self.line)]
            elif char in ";|" or (char == "&" and self._ends_statement(i)):
                self._flush()
                i += 1 + (nxt == char)  # `&&`, `||`, `;;`
                continue
            else:
                self.out.append(char)
            i += 1
        if quote:
            self.problems.append(
                ScriptProblem("syntax", f"the {quote} quote opened on line {quote_line} is never closed", quote_line)
            )
        self._flush()
        return self.statements

    def _copy_substitution(self, start: int) -> int:
        """Copy a `$(…)` or backtick substitution whole: its `|` and `;` do not end our statement."""
        end = _substitution_end(self.text, start)
        chunk = self.text[start:end]
        self.out.append(chunk.replace("\\\n", ""))
        self.line += chunk.count("\n")
        return end

    def _ends_statement(self, i: int) -> bool:
        """`&` ends a statement unless it is part of a redirection such as `2>&1` or `&>`."""
        before = self.text[i - 1] if i else ""
        after = self.text[i + 1] if i + 1 < len(self.text) else ""
        return before not in "<>" and after != ">"


# ---------------------------------------------------------------------------------------------------
# Pass 2: expand $NAME / ${NAME} in one statement (quote-aware), keeping a map back to raw offsets.


@dataclass
class _Expansion:
    """A statement with its variables expanded, each character mapped back to the raw text."""

    text: str
    raw_offsets: list[int]  # raw offset for each character of text
    overflow: bool = False  # it grew beyond MAX_EXPANDED_CHARS and was cut off


def _expand(statement: str, variables: dict[str, str]) -> _Expansion:
    out: list[str] = []
    offsets: list[int] = []

    def emit(chunk: str, raw: int) -> None:
        out.append(chunk)
        offsets.extend([raw] * len(chunk))

    i, quote = 0, ""
    while i < len(statement):
        if len(offsets) > MAX_EXPANDED_CHARS:
            return _Expansion("".join(out), offsets, overflow=True)
        char = statement[i]
        if quote == "'":
            emit(char, i)
            quote = "" if char == "'" else quote
            i += 1
        elif char == "\\" and i + 1 < len(statement):
            emit(statement[i : i + 2], i)
            i += 2
        elif char in "'\"" and (not quote or quote == char):
            quote = "" if quote else char
            emit(char, i)
            i += 1
        elif char == "`" or (char == "$" and statement.startswith("$(", i)):
            end = _substitution_end(statement, i)
            emit(_quoted_marker(statement[i:end], quote), i)
            i = end
        elif char == "$":
            name, end = _parameter(statement, i)
            if name is None:
                emit(char, i)
                i += 1
                continue
            if name in variables:
                emit(_quoted_value(variables[name], quote), i)
            else:
                emit(_quoted_marker(name, quote), i)
            i = end
        else:
            emit(char, i)
            i += 1
    return _Expansion("".join(out), offsets)


def _parameter(text: str, start: int) -> tuple[str | None, int]:
    """The parameter named at text[start] == "$": ("NAME", end) for $NAME / ${NAME}; an operator form
    such as ${NAME:-x} or a special parameter ($1, $@) comes back verbatim so it is reported. Nothing
    after it is copied: a statement of many `$` stays linear."""
    after = start + 1
    if text.startswith("{", after):
        close = text.find("}", after)
        if close < 0:
            return text[after:], len(text)
        inner = text[after + 1 : close]
        return (inner if _NAME.fullmatch(inner) else "${" + inner + "}"), close + 1
    match = _NAME.match(text, after)
    if match:
        return match.group(0), match.end()
    if after < len(text) and text[after] in "0123456789@*#?$!-":
        return "$" + text[after], start + 2
    return None, start + 1


def _longest_word(text: str) -> int:
    """The length of the longest word shlex would read from text (quotes and backslashes as in posix
    mode), found in one pass: shlex itself takes quadratic time on a long word."""
    longest = length = 0
    quote = ""
    escaped = False
    for char in text:
        if escaped:
            escaped, length = False, length + 1
        elif char == "\\" and quote != "'":
            escaped, length = True, length + 1
        elif quote:
            quote = "" if char == quote else quote
            length += 1
        elif char in "'\"":
            quote, length = char, length + 1
        elif char.isspace():
            longest, length = max(longest, length), 0
        else:
            length += 1
    return max(longest, length)


def _substitution_end(text: str, start: int) -> int:
    """End offset of a `$(…)` or backtick command substitution starting at text[start]."""
    if text[start] == "`":
        close = text.find("`", start + 1)
        return len(text) if close < 0 else close + 1
    depth, i = 0, start + 1
    while i < len(text):
        depth += text[i] == "("
        depth -= text[i] == ")"
        if depth == 0:
            return i + 1
        i += 1
    return len(text)


def _quoted_value(value: str, quote: str) -> str:
    """A variable's value, written so that shlex reads it back as bash would: inside double quotes
    verbatim (escaped), unquoted split on whitespace into words whose characters are all literal."""
    if quote == '"':
        return re.sub(r'(["\\$`])', r"\\\1", value)
    return " ".join(shlex.quote(part) for part in value.split())


def _quoted_marker(name: str, quote: str) -> str:
    marker = f"{_UNRESOLVED_OPEN}{name}{_UNRESOLVED_CLOSE}"
    return marker if quote == '"' else shlex.quote(marker)


# ---------------------------------------------------------------------------------------------------
# Pass 3: statement -> words (shlex), then what the statement does.


def _words(statement: _Statement, expansion: _Expansion) -> tuple[list[Word], str | None]:
    stream = io.StringIO(expansion.text)  # kept to ask where the lexer is: tell() is a character offset
    lexer = shlex.shlex(stream, posix=True, punctuation_chars="<>&")
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[Word] = []
    ends: list[int] = []
    try:
        while (token := lexer.get_token()) is not None:
            end = min(stream.tell(), len(expansion.text)) - 1
            while end > 0 and expansion.text[end].isspace():
                end -= 1
            raw = expansion.raw_offsets[end] if expansion.raw_offsets else 0
            found = tuple(_UNRESOLVED.findall(token))
            words.append(Word(token, statement.line_at(raw), found))
            ends.append(end)
    except ValueError as exc:  # shlex: "No closing quotation" / "No escaped character"
        return words, str(exc)
    return _drop_redirections(words, ends), None


def _drop_redirections(words: list[Word], ends: list[int]) -> list[Word]:
    """Remove `> file`, `2>&1`, `&> file`, `< file`: an operator word, the word after it, and the file
    descriptor number written right against it."""
    kept: list[tuple[Word, int]] = []
    skip_next = False
    for word, end in zip(words, ends):
        if skip_next:
            skip_next = False
            continue
        if word.text and set(word.text) <= set("<>&"):
            start = end - len(word.text) + 1
            if kept and is_whole(kept[-1][0].text) and kept[-1][1] == start - 1:
                kept.pop()
            skip_next = True
            continue
        kept.append((word, end))
    return [word for word, _ in kept]


class _Reader:
    def __init__(self) -> None:
        self.variables: dict[str, str] = {}
        self.exported: set[str] = set()
        self.export_lines: dict[str, int] = {}
        self.problems: list[ScriptProblem] = []
        self.command: ServeCommand | None = None
        self.unresolved_exports: set[str] = set()
        self.runtime: dict[str, RuntimeValue] = {}
        self.command_runtime: set[str] = set()  # `A=$(…) vllm serve`: set at run time for the command only
        self.sourced: list[tuple[str, int]] = []
        self._warned_control = False

    def read(self, statements: list[_Statement]) -> None:
        for statement in statements[:_MAX_STATEMENTS]:
            expansion = _expand(statement.text, self.variables)
            first_line = statement.raw_lines[0][1]
            if self._too_big(expansion, first_line):
                continue
            words, error = _words(statement, expansion)
            if error:
                self.problems.append(ScriptProblem("syntax", f"line {first_line}: {error.lower()}", first_line))
                continue
            if words:
                self._statement(words, first_line)

    def _too_big(self, expansion: _Expansion, line: int) -> bool:
        if expansion.overflow:
            why = f"expands to more than {MAX_EXPANDED_CHARS // 1024} KiB"
        elif len(expansion.text) > MAX_WORD_CHARS and _longest_word(expansion.text) > MAX_WORD_CHARS:
            why = f"holds a word longer than {MAX_WORD_CHARS // 1024} KiB"
        else:
            return False
        self.problems.append(ScriptProblem("unsupported", f"line {line}: the statement {why}; it is not read", line))
        return True

    def _statement(self, words: list[Word], line: int) -> None:
        prefix: dict[str, Word] = {}
        index = 0
        while index < len(words) and (assignment := _assignment(words[index].text)):
            prefix[assignment[0]] = words[index]
            index += 1
        rest = words[index:]
        if not rest:
            for name, word in prefix.items():
                self._assign(name, word)
            return
        head = rest[0].text
        if head in ("export", "declare", "typeset", "readonly", "local"):
            self._export(rest, export=head == "export" or any(w.text == "-x" for w in rest[1:]))
        elif head == "unset":
            for word in rest[1:]:
                self.variables.pop(word.text, None)
                self.exported.discard(word.text)
        elif head in ("source", "."):
            target = show(rest[1].text) if len(rest) > 1 else ""
            self.sourced.append((target, line))
        elif head in _CONTROL_WORDS:
            if not self._warned_control:
                self._warned_control = True
                self.problems.append(
                    ScriptProblem(
                        "unsupported",
                        f"line {line}: `{head}` (control flow) is not followed; every line is read once, top to bottom",
                        line,
                        head,
                    )
                )
        else:
            self._maybe_serve(rest, prefix, line)

    def _assign(self, name: str, word: Word, export: bool = False) -> None:
        value = _assigned_value(word)
        if word.unresolved:
            self.variables.pop(name, None)
            self.runtime[name] = RuntimeValue(value, word.line)
            if export or name in self.exported:
                self.unresolved_exports.add(name)
                self.exported.add(name)
                self.export_lines[name] = word.line
            return
        self.variables[name] = value
        self.runtime.pop(name, None)
        self.unresolved_exports.discard(name)
        if export:
            self.exported.add(name)
        if name in self.exported:
            self.export_lines[name] = word.line

    def _export(self, words: list[Word], export: bool) -> None:
        for word in words[1:]:
            if word.text.startswith("-"):
                continue
            assignment = _assignment(word.text)
            if assignment:
                self._assign(assignment[0], word, export)
            elif export and _NAME.fullmatch(word.text):
                self.exported.add(word.text)
                if word.text in self.variables:
                    self.export_lines.setdefault(word.text, word.line)
                elif word.text in self.runtime:
                    self.unresolved_exports.add(word.text)
                    self.export_lines.setdefault(word.text, word.line)

    def _maybe_serve(self, words: list[Word], prefix: dict[str, Word], line: int) -> None:
        found = _find_serve(words)
        if found is None:
            return
        program, launcher, args = found
        if self.command is not None:
            self.problems.append(
                ScriptProblem(
                    "duplicate",
                    f"line {line}: a second `{program}` command; only the first (line {self.command.line}) is read",
                    line,
                )
            )
            return
        env: dict[str, str] = {}
        assignments = dict(prefix)
        for word in launcher[1:]:  # `env A=1 vllm serve …`
            assignment = _assignment(word.text)
            if assignment:
                assignments[assignment[0]] = word
        for name, word in assignments.items():
            value = _assigned_value(word)
            if word.unresolved:
                self.runtime[name] = RuntimeValue(value, word.line)
                self.command_runtime.add(name)
            else:
                env[name] = value
        self.command = ServeCommand(line, program, tuple(args), env)

    def result(self) -> ParsedScript:
        exports = {name: self.variables[name] for name in sorted(self.exported) if name in self.variables}
        if self.command:
            exports.update(self.command.env)
        unknown = (self.unresolved_exports & self.exported) | self.command_runtime
        return ParsedScript(
            variables=dict(self.variables),
            exports=exports,
            export_lines={name: line for name, line in self.export_lines.items() if name in set(exports) | unknown},
            command=self.command,
            problems=tuple(self.problems),
            unknown_exports=tuple(sorted(unknown - set(exports))),
            runtime=dict(self.runtime),
            sourced=tuple(self.sourced),
        )


def _assignment(text: str) -> tuple[str, str] | None:
    """(NAME, value) of a `NAME=value` word, else None."""
    match = _ASSIGNMENT.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None


def _assigned_value(word: Word) -> str:
    """The value of a word already known to be `NAME=value` (a name holds no "=", so the first one splits)."""
    return word.text.partition("=")[2]


def _find_serve(words: list[Word]) -> tuple[str, list[Word], list[Word]] | None:
    """(program, launcher words before it, its arguments) when the statement starts vLLM's server, either
    directly or through launchers such as `nohup`, `env A=1`, `numactl --cpunodebind=0`, `taskset -c 0-47`."""
    first = next((w.text for w in words if not _assignment(w.text)), "")
    for index, word in enumerate(words):
        if index and first.rsplit("/", 1)[-1] not in _LAUNCHERS:
            return None  # `echo vllm serve …` only mentions it
        program = word.text.rsplit("/", 1)[-1]
        if program == "vllm" and index + 1 < len(words) and words[index + 1].text == "serve":
            return "vllm serve", words[:index], words[index + 2 :]
        if re.fullmatch(r"python[0-9.]*", program):
            for position in range(index + 1, len(words) - 1):
                if words[position].text == "-m" and words[position + 1].text in _API_SERVER_MODULES:
                    return f"python -m {words[position + 1].text}", words[:index], words[position + 2 :]
                if not words[position].text.startswith("-"):
                    break
            return None
    return None


def template_parts(template: str) -> list[tuple[bool, str]]:
    """A runtime template as (unknown?, text) pieces: literal text, or the name of an unknown part
    (a variable name, `$(…)`, `${NAME:-…}`, `$1`)."""
    pieces: list[tuple[bool, str]] = []
    last = 0
    for match in _UNRESOLVED.finditer(template):
        if match.start() > last:
            pieces.append((False, template[last : match.start()]))
        pieces.append((True, match.group(1)))
        last = match.end()
    if last < len(template):
        pieces.append((False, template[last:]))
    return pieces


def unresolved_names(text: str) -> tuple[str, ...]:
    """Names of the unresolved expansions marked inside a word's text."""
    return tuple(_UNRESOLVED.findall(text))


def show(text: str) -> str:
    """A word's text for messages: unresolved expansions written back as `$NAME`."""
    return _UNRESOLVED.sub(lambda m: m.group(1) if m.group(1).startswith(("$", "`")) else "$" + m.group(1), text)


def parse_script(text: str) -> ParsedScript:
    """Read a launch script's exports, assignments and its `vllm serve` command. Never raises."""
    splitter = _Splitter(text.replace("\r\n", "\n"))
    statements = splitter.split()
    reader = _Reader()
    reader.problems.extend(splitter.problems)
    reader.read(statements)
    return reader.result()


def parse_command(command: str) -> ParsedScript:
    """Read one command line such as `vllm serve /models/x --tensor-parallel-size 8` (same rules)."""
    return parse_script(command)
