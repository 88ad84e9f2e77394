"""The architecture, enforced on the source: an AST scan of the shipped code (glm5check/ and checks/).

0. Layers: each package imports only the layers below it (LAYER_CONTRACT), and no module imports itself
   back through others, function-level (lazy) imports included: a cycle hidden by a lazy import is still
   a cycle.

1. Only the host layer (glm5check/host/) imports what reaches the machine or the network (subprocess,
   socket, psutil, gitpython, urllib.request, http.client, multiprocessing, ctypes). Everything else
   asks ctx.host, whose every call is bounded.
2. Outside the host layer nothing touches the filesystem directly (open(), Path.read_text/read_bytes/
   write_*, os.listdir/scandir/stat/walk, exists/is_file/is_dir, glob, tempfile, os.system/popen, …),
   except calls on a host object (`ctx.host.stat(…)`) and this allow-list, each for a reason that is not a
   probe of the machine being checked:
   - glm5check/host/pyinspect.py: the inventory script runs inside the *target* interpreter (sent with -c,
     itself bounded by the host's timeout), never in glm5check's process;
   - glm5check/console.py: opens /dev/null in place of a reader that went away;
   - glm5check/util/resources.py: reads files shipped in the package (built-in profiles, the inventory
     script's source, the demo snapshots' folders);
   - glm5check/commands/weights.py: `weights verify DIR` is a user's explicit request to read that folder
     (hashing goes through glm5check/host/hashing.py).
   - glm5check/util/entrypoints.py: reads the distributions' entry_points.txt and METADATA on glm5check's
     own sys.path, as importlib.metadata does, to find the check modules' entry points (not a probe).
   Files named on the command line are read through glm5check/host/inputs.py (regular files only, size
   capped), never with a bare open().
3. In the host layer every subprocess call passes a timeout (subprocess.run/call/check_* get timeout=;
   a Popen is waited with .wait(timeout=…) or .communicate(timeout=…) in the same function), every
   socket connection has a timeout, and every gitpython command gets kill_after_timeout=.

4. Text becomes a number only through glm5check/util/numbers.py and JSON becomes data only through
   glm5check/util/safejson.py (ALLOWED_NUMBER_CALLS lists the exceptions, each with its reason).

5. Only glm5check/console.py writes to the terminal (ALLOWED_TERMINAL_CALLS lists the exceptions).

6. Writes: nothing in the package writes, renames, removes or creates a file or folder (write_text,
   open(…, "w"), tarfile in a write mode, mkdir, tempfile, os.replace, shutil.rmtree, …) except
   glm5check/host/output.py, the atomic writer: every output appears whole or not at all
   (ALLOWED_WRITES lists the exceptions, each with its reason).

7. Processes: exactly one function starts a process, glm5check.host.live.run_process (its own session,
   a deadline, the group and everything holding its pipes killed at the end), and one forks this process,
   glm5check.host.forked._start (pure work on a second core: a deadline per result, the child killed and
   reaped on the way out, whatever it did not deliver done by the caller). Nothing else calls
   subprocess, os.system/popen/exec*/spawn*/fork, asyncio's subprocesses or pty, and nothing imports
   gitpython (which starts `git version` when imported).

8. Paths from data: a path is joined from a name that is not a literal (`os.path.join(root, name)`,
   `posixpath.join`, `Path.joinpath`) only in glm5check/host/paths.py, or with the name's components taken
   from `relative_parts(name)`, which refuses absolute names and `..`; ALLOWED_NAME_JOINS lists the joins
   whose names do not come from data, each with its reason. (`Path / name` is not scanned: a division
   cannot be told from a join by the syntax alone.)
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

SOURCE_ROOTS = (REPO / "glm5check", REPO / "checks")
HOST_LAYER = REPO / "glm5check" / "host"
IN_TARGET_INTERPRETER = {"glm5check/host/pyinspect.py"}

MACHINE_MODULES = {
    "subprocess",
    "socket",
    "psutil",
    "git",
    "urllib.request",
    "http.client",
    "requests",
    "multiprocessing",
    "ctypes",
    "asyncio.subprocess",
    "pty",
    "select",
}
FILESYSTEM_CALLS = {
    "open",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "listdir",
    "scandir",
    "stat",
    "lstat",
    "walk",
    "iterdir",
    "glob",
    "rglob",
    "exists",
    "lexists",
    "is_file",
    "is_dir",
    "is_symlink",
    "isfile",
    "isdir",
    "islink",
    "getsize",
    "getmtime",
    "statvfs",
    "readlink",
    "access",
    "mkdir",
    "makedirs",
    "unlink",
    "remove",
    "rmdir",
    "rmtree",
    "system",
    "popen",
    "TemporaryDirectory",
    "NamedTemporaryFile",
    "mkstemp",
    "mkdtemp",
    "chmod",
    "chown",
    "copyfile",
    "copytree",
    "symlink_to",
    "touch",
    "mkfifo",
    "execv",
    "execvp",
    "spawnv",
    "fork",
}
ALLOWED_FILESYSTEM_CALLS: dict[str, set[str]] = {
    "glm5check/console.py": {"open"},  # os.open(os.devnull): a reader that went away gets /dev/null
    "glm5check/util/resources.py": {"read_text", "iterdir", "is_file"},
    "glm5check/commands/weights.py": {"is_dir", "stat", "exists"},
    "glm5check/util/entrypoints.py": {"open", "listdir"},  # glm5check's own sys.path, as importlib.metadata
}
HOST_RECEIVERS = ("host", "live")  # ctx.host.stat(…), self.live.read_bytes(…): the bounded host API


def _relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            yield _relative(path), ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


SOURCES = dict(_sources())


def _imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _called_name(call: ast.Call) -> tuple[str | None, str]:
    """(receiver source or None, name) of a call: open(…) -> (None, "open"); p.read_text() -> ("p", …)."""
    if isinstance(call.func, ast.Name):
        return None, call.func.id
    if isinstance(call.func, ast.Attribute):
        return ast.unparse(call.func.value), call.func.attr
    return None, ""


def _machine_import_violations(name: str, tree: ast.Module) -> list[str]:
    return [
        f"{name}:{line} imports {module}"
        for line, module in _imports(tree)
        if module in MACHINE_MODULES or module.split(".")[0] in {"subprocess", "socket", "psutil", "git"}
    ]


def _filesystem_violations(name: str, tree: ast.Module) -> list[str]:
    allowed = ALLOWED_FILESYSTEM_CALLS.get(name, set())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        receiver, called = _called_name(node)
        if called not in FILESYSTEM_CALLS or called in allowed:
            continue
        if receiver is not None and receiver.split(".")[-1].endswith(HOST_RECEIVERS):
            continue
        found.append(f"{name}:{node.lineno} calls {ast.unparse(node.func)}()")
    return found


def _outside_host() -> list[str]:
    return [
        name
        for name in SOURCES
        if not name.startswith(_relative(HOST_LAYER) + "/") and name not in IN_TARGET_INTERPRETER
    ]


def test_the_scan_sees_the_code() -> None:
    assert "glm5check/host/live.py" in SOURCES and "checks/npu.py" in SOURCES
    assert len(_outside_host()) > 20


@pytest.mark.parametrize("name", _outside_host())
def test_only_the_host_layer_reaches_the_machine(name: str) -> None:
    assert not _machine_import_violations(name, SOURCES[name])


@pytest.mark.parametrize("name", _outside_host())
def test_only_the_host_layer_reads_files(name: str) -> None:
    assert not _filesystem_violations(name, SOURCES[name])


def test_the_allow_list_is_still_needed() -> None:
    """An allowed call that is no longer made is removed from the list, so the list stays honest."""
    stale = []
    for name, calls in ALLOWED_FILESYSTEM_CALLS.items():
        made = {_called_name(n)[1] for n in ast.walk(SOURCES[name]) if isinstance(n, ast.Call)}
        stale += [f"{name}: {call}" for call in calls - made]
    assert not stale


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _keywords(call: ast.Call) -> set[str | None]:
    return {k.arg for k in call.keywords}


def _unbounded_calls(name: str, tree: ast.Module) -> list[str]:
    problems: list[str] = []
    for scope in (*_functions(tree), tree):  # each function, then the module (calls outside functions)
        calls = [n for n in ast.walk(scope) if isinstance(n, ast.Call)]
        waited = any(_called_name(c)[1] in ("wait", "communicate") and "timeout" in _keywords(c) for c in calls)
        for call in calls:
            receiver, called = _called_name(call)
            where = f"{name}:{call.lineno} {ast.unparse(call.func)}()"
            if receiver == "subprocess" and called in ("run", "call", "check_call", "check_output"):
                if "timeout" not in _keywords(call):
                    problems.append(f"{where} has no timeout=")
            elif receiver == "subprocess" and called == "Popen" and not waited:
                problems.append(f"{where} is never waited with a timeout")
            elif receiver == "socket" and called == "create_connection" and "timeout" not in _keywords(call):
                problems.append(f"{where} has no timeout=")
            elif receiver is not None and receiver.endswith(".git") and "kill_after_timeout" not in _keywords(call):
                problems.append(f"{where} has no kill_after_timeout=")
    return sorted(set(problems), key=problems.index)


@pytest.mark.parametrize("name", [n for n in SOURCES if n.startswith(_relative(HOST_LAYER) + "/")])
def test_every_host_subprocess_and_socket_has_a_timeout(name: str) -> None:
    assert not _unbounded_calls(name, SOURCES[name])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import subprocess\nsubprocess.run(['ls'])\n", "has no timeout="),
        ("import subprocess\ndef f():\n    p = subprocess.Popen(['ls'])\n    p.wait()\n", "never waited"),
        ("import socket\nsocket.create_connection(('h', 1))\n", "has no timeout="),
        ("def f(repo):\n    repo.git.status()\n", "kill_after_timeout"),
    ],
)
def test_the_timeout_scan_finds_unbounded_calls(source: str, expected: str) -> None:
    problems = _unbounded_calls("example.py", ast.parse(source))
    assert problems and expected in problems[0]


def test_the_filesystem_scan_finds_direct_reads() -> None:
    tree = ast.parse("from pathlib import Path\nPath('/etc/x').read_text()\nopen('/x')\nctx.host.stat('/x')\n")
    assert len(_filesystem_violations("checks/example.py", tree)) == 2
    assert _machine_import_violations("checks/example.py", ast.parse("import psutil\n"))


# -- 0. layers ------------------------------------------------------------------------------------------

# What each layer may import (besides itself). Names are glm5check modules or packages; "*" is anything.
LAYER_CONTRACT: dict[str, set[str]] = {
    "errors": set(),
    "util": set(),
    "parsers": {"util", "errors"},
    "host": {"util", "errors"},
    "knowledge": {"parsers", "util", "errors"},
    "engine": {"host.base", "util", "errors"},
    "facts": {"engine", "host", "parsers", "knowledge", "util", "errors"},
    "checks": {"engine.check", "engine.context", "facts", "host.base", "knowledge", "parsers", "util", "errors"},
    "reports": {"util", "errors"},
    "reporting": {"engine", "facts", "knowledge", "reports", "util", "errors"},
    "remedy": {"engine", "facts", "host.base", "knowledge", "reports", "util", "errors"},
    "session": {
        "engine",
        "facts",
        "host",
        "knowledge",
        "parsers",
        "reporting",
        "remedy",
        "reports",
        "console",
        "util",
        "errors",
    },
    "console": {"util", "errors"},
    "commands": {"*"},
    "cluster": {"*"},  # the implementation of `glm5check cluster`: a command, in its own package
    "cli": {"*"},
    "api": {"*"},
    "testing": {"*"},
    "entry": {"cli", "util"},  # the console command: answers --version itself, hands the rest to the CLI
    "__main__": {"entry"},
    "__init__": set(),
    "schema": set(),
    "demo": set(),
}
# Nothing below the command line may reach up into it.
NEVER_IMPORTED = {"cli", "commands", "cluster"}
COMMAND_LINE = ("cli", "commands", "cluster")
# The public top, for plugins and their tests only: no module of glm5check imports it (testing may import api).
PUBLIC_TOP = ("api", "testing")


def _module_name(name: str) -> str:
    """glm5check/facts/net.py -> facts.net; checks/npu.py -> checks.npu; glm5check/__init__.py -> __init__."""
    path = name.removesuffix(".py").removesuffix("/__init__")
    if path == "glm5check":
        return "__init__"
    return path.removeprefix("glm5check/").replace("/", ".")


def _layer(module: str) -> str:
    return module.split(".")[0]


def _glm5check_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for line, module in _imports(tree):
        if module == "glm5check" or not module.startswith("glm5check."):
            continue
        yield line, module.removeprefix("glm5check.")


def _known(target: str) -> str:
    """The shipped module an import names (glm5check.facts.net.local_nics -> facts.net; a name of the
    package itself, such as glm5check.__version__, -> __init__)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or "__init__"


MODULES = {_module_name(name) for name in SOURCES}


def _allowed(importer: str, target: str) -> bool:
    if _layer(target) in PUBLIC_TOP and _layer(importer) not in PUBLIC_TOP:
        return False
    allowed = LAYER_CONTRACT[_layer(importer)]
    if _layer(target) == _layer(importer) or "*" in allowed or target == "__init__":
        return _layer(target) not in NEVER_IMPORTED or _layer(importer) in COMMAND_LINE
    return any(target == rule or target.startswith(rule + ".") for rule in allowed)


def _layer_violations() -> list[str]:
    problems = []
    for name, tree in SOURCES.items():
        importer = _module_name(name)
        for line, imported in _glm5check_imports(tree):
            target = _known(imported)
            if not _allowed(importer, target):
                problems.append(f"{name}:{line} ({_layer(importer)}) imports {target} ({_layer(target)})")
    return problems


def test_every_module_belongs_to_a_layer() -> None:
    assert {_layer(m) for m in MODULES} <= set(LAYER_CONTRACT)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    assert not _layer_violations()


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, tree in SOURCES.items():
        importer = _module_name(name)
        for _line, imported in _glm5check_imports(tree):
            target = _known(imported)
            if target != importer and not importer.startswith(target + "."):
                graph[importer].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_even_through_lazy_imports() -> None:
    assert not _cycles(_import_graph())


def test_the_layer_scan_finds_violations_and_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert not _cycles({"a": {"b"}, "b": set()})
    assert not _allowed("engine.runner", "facts.context")
    assert not _allowed("checks.npu", "host.live")
    assert not _allowed("session", "cli")
    assert _allowed("checks.npu", "host.base") and _allowed("facts.net", "host.live")
    assert not _allowed("cli", "api") and not _allowed("checks.npu", "testing") and _allowed("testing", "api")


# -- 4. numbers and JSON from outside ------------------------------------------------------------------
# Text becomes a number only through glm5check/util/numbers.py (ASCII digits, a digit bound, a range) and
# JSON becomes data only through glm5check/util/safejson.py (size, depth, NaN, top-level type). Anywhere
# else int()/float() may only convert a computed number (an arithmetic expression), and these stay:
NUMBER_HELPERS = {"glm5check/util/numbers.py", "glm5check/util/safejson.py"}
ALLOWED_NUMBER_CALLS: dict[tuple[str, str], str] = {
    ("glm5check/parsers/safetensors.py", "int(start_text)"): "the compact-entry regex admits 1 to 19 ASCII "
    "digits only; it is the per-tensor hot path of every shard header",
    ("glm5check/parsers/safetensors.py", "int(end_text)"): "as int(start_text)",
    ("checks/env.py", "int(value.strip())"): "reproduces the int() with which vllm or vllm-ascend reads a "
    "variable at start-up (the stack names the getter), including what int() accepts and refuses",
    ("glm5check/host/pyinspect.py", "json.loads(direct_url)"): "runs inside the target interpreter as a "
    "standalone script, which cannot import glm5check",
}
TEXT_TO_NUMBER = {"int", "float"}
DIGIT_TESTS = {"isdigit", "isdecimal", "isnumeric"}
JSON_READERS = {"loads", "load"}


def _computed(argument: ast.expr) -> bool:
    """int(seconds * 1000), int(time.time()), int(math.ceil(x)): a number computed here, not text."""
    if isinstance(argument, ast.BinOp):
        return True
    return isinstance(argument, ast.Call) and (_called_name(argument)[0] or "") in ("time", "math")


def _bypass(call: ast.Call) -> str | None:
    """Which helper this call should have used, or None when it is not a reading of outside text."""
    receiver, called = _called_name(call)
    computed = len(call.args) == 1 and _computed(call.args[0])
    if receiver is None and called in TEXT_TO_NUMBER and call.args and not computed:
        return "use glm5check.util.numbers"
    if receiver is not None and called in DIGIT_TESTS:
        return "use glm5check.util.numbers"
    if (receiver == "json" and called in JSON_READERS) or called == "JSONDecoder":
        return "use glm5check.util.safejson"
    return None


def _number_violations(name: str, tree: ast.Module) -> list[str]:
    if name in NUMBER_HELPERS:
        return []
    found = []
    for node in ast.walk(tree):
        bad = _bypass(node) if isinstance(node, ast.Call) else None
        if bad and (name, ast.unparse(node)) not in ALLOWED_NUMBER_CALLS:
            found.append(f"{name}:{node.lineno} {ast.unparse(node)}: {bad}")
    return found


def test_text_becomes_a_number_or_json_only_through_the_helpers() -> None:
    problems = [p for name, tree in SOURCES.items() for p in _number_violations(name, tree)]
    assert not problems, "\n".join(problems)


def test_the_number_allow_list_is_still_needed() -> None:
    made = {(name, ast.unparse(n)) for name, tree in SOURCES.items() for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert set(ALLOWED_NUMBER_CALLS) <= made, set(ALLOWED_NUMBER_CALLS) - made


def test_the_number_scan_finds_raw_conversions() -> None:
    source = "import json\nint(text)\nfloat(x)\nword.isdigit()\njson.loads(t)\njson.JSONDecoder().raw_decode(t)\n"
    assert len(_number_violations("checks/example.py", ast.parse(source))) == 5
    assert not _number_violations("checks/example.py", ast.parse("int(seconds * 1000)\n"))


# -- 5. the terminal ------------------------------------------------------------------------------------
# Everything printed goes through glm5check/console.py (printable text, an ASCII fallback, a closed reader
# is a quiet end), never print(), click.echo() or a write to sys.stdout/sys.stderr, except:
TERMINAL_WRITERS = {"glm5check/console.py"}
ALLOWED_TERMINAL_CALLS: dict[tuple[str, str], str] = {
    ("glm5check/host/pyinspect.py", "sys.stdout.write"): "runs inside the target interpreter; glm5check reads "
    "its output as data",
    ("glm5check/commands/weights.py", "click.progressbar"): "the hashing progress bar on stderr, only on a "
    "terminal; it shows glm5check's own counts",
    ("glm5check/entry.py", "sys.stdout.write"): "`--version` answers with the package's own ASCII version "
    "string before anything (the console included) is imported",
}
PRINTING = {"print", "echo", "secho", "progressbar", "write"}


def _terminal_violations(name: str, tree: ast.Module) -> list[str]:
    if name in TERMINAL_WRITERS:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        receiver, called = _called_name(node)
        direct = receiver is None and called == "print"
        via = receiver in ("click", "sys.stdout", "sys.stderr") and called in PRINTING
        label = ast.unparse(node.func)
        if (direct or via) and (name, label) not in ALLOWED_TERMINAL_CALLS:
            found.append(f"{name}:{node.lineno} {label}(): use glm5check.console")
    return found


def test_only_the_console_writes_to_the_terminal() -> None:
    problems = [p for name, tree in SOURCES.items() for p in _terminal_violations(name, tree)]
    assert not problems, "\n".join(problems)
    made = {
        (name, ast.unparse(n.func)) for name, tree in SOURCES.items() for n in ast.walk(tree) if isinstance(n, ast.Call)
    }
    assert set(ALLOWED_TERMINAL_CALLS) <= made


def test_the_terminal_scan_finds_direct_output() -> None:
    source = "import click, sys\nprint('x')\nclick.echo('x')\nsys.stderr.write('x')\nconsole.out('x')\n"
    assert len(_terminal_violations("glm5check/session.py", ast.parse(source))) == 3


# -- 6. writes ------------------------------------------------------------------------------------------

WRITER = "glm5check/host/output.py"
# Names that always write (whatever their receiver) and names that write only on these receivers
# (`replace` is also str.replace and dataclasses.replace; `remove` also list.remove).
WRITE_CALLS = {
    "write_text",
    "write_bytes",
    "mkdir",
    "makedirs",
    "mkdtemp",
    "mkstemp",
    "TemporaryDirectory",
    "NamedTemporaryFile",
    "TemporaryFile",
    "unlink",
    "rmtree",
    "rmdir",
    "chmod",
    "chown",
    "symlink_to",
    "hardlink_to",
    "touch",
    "mkfifo",
    "mknod",
    "copyfile",
    "copytree",
    "renames",
}
WRITE_CALLS_ON = {"os": {"rename", "replace", "remove", "link", "symlink", "truncate", "utime"},
                  "shutil": {"copy", "copy2", "move"}}  # fmt: skip
# Calls that open something with a mode: written when a string argument or mode= is a write mode.
OPENERS = {"open", "fdopen", "TarFile", "ZipFile", "GzipFile"}
_WRITE_MODE = __import__("re").compile(r"^[rwxabt+:|gzbz2xz]*[wxa+][rwxabt+:|gzbz2xz]*$")


# Modules whose open() takes (file, mode); on anything else (a Path) .open() takes the mode first.
MODULE_OPENERS = {None, "io", "os", "tarfile", "gzip", "bz2", "lzma", "zipfile", "codecs", "builtins"}


def _mode_strings(call: ast.Call, receiver: str | None) -> list[str]:
    if receiver == "os":  # os.open takes flags, scanned with WRITE_CALLS_ON
        return []
    position = 1 if receiver in MODULE_OPENERS else 0
    values = [*call.args[position : position + 1], *(k.value for k in call.keywords if k.arg == "mode")]
    return [v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)]


# Writes outside the writer, each for a reason: console.py opens /dev/null (O_WRONLY) as the new stdout
# when the reader of glm5check's output went away; forked.py opens /dev/null (O_RDWR) as the forked
# scan child's standard streams, so that nothing it might print reaches the terminal.
ALLOWED_WRITES = {("glm5check/console.py", "os.open"), ("glm5check/host/forked.py", "os.open")}


# os.open(path, flags) writes unless its flags are read-only ones spelled out (O_RDONLY and modifiers).
_OS_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND", "O_TMPFILE")


def _os_open_writes(call: ast.Call) -> bool:
    flags = ast.unparse(call.args[1]) if len(call.args) > 1 else ""
    return "O_RDONLY" not in flags or any(flag in flags for flag in _OS_WRITE_FLAGS)


def _opens_for_writing(call: ast.Call, receiver: str | None, called: str) -> bool:
    if receiver == "os" and called == "open":
        return _os_open_writes(call)
    return called in OPENERS and any(_WRITE_MODE.match(text) for text in _mode_strings(call, receiver))


def _write_violations(name: str, tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        receiver, called = _called_name(node)
        if (name, ast.unparse(node.func)) in ALLOWED_WRITES:
            continue
        where = f"{name}:{node.lineno} {ast.unparse(node.func)}()"
        if called in WRITE_CALLS or called in WRITE_CALLS_ON.get(receiver or "", ()):
            found.append(f"{where} writes")
        elif _opens_for_writing(node, receiver, called):
            found.append(f"{where} opens for writing")
    return found


@pytest.mark.parametrize("name", [n for n in SOURCES if n != WRITER])
def test_only_the_atomic_writer_writes(name: str) -> None:
    assert not _write_violations(name, SOURCES[name])


@pytest.mark.parametrize(
    "source",
    [
        "from pathlib import Path\nPath('x').write_text('y')\n",
        "open('x', 'w')\n",
        "open('x', mode='ab')\n",
        "import tarfile\ntarfile.open('x.tgz', 'w:gz')\n",
        "from pathlib import Path\nPath('x').open('xb')\n",
        "import os\nos.replace('a', 'b')\n",
        "import os\nos.open('x', os.O_WRONLY | os.O_CREAT)\n",
        "import os\nos.open('x', flags)\n",
        "import shutil\nshutil.rmtree('a')\n",
        "import tempfile\ntempfile.mkdtemp()\n",
        "from pathlib import Path\nPath('d').mkdir()\n",
    ],
)
def test_the_write_scan_finds_writes(source: str) -> None:
    assert _write_violations("glm5check/example.py", ast.parse(source))


def test_the_write_scan_leaves_reads_alone() -> None:
    source = "open('x')\nopen('x', 'rb')\n'a'.replace('a', 'b')\nimport dataclasses\ndataclasses.replace(x)\n"
    source += "import os\nos.open('x', os.O_RDONLY | os.O_NOFOLLOW)\n"
    assert not _write_violations("glm5check/example.py", ast.parse(source))


# -- 7. processes ---------------------------------------------------------------------------------------

RUNNER = ("glm5check/host/live.py", "run_process")
FORKER = ("glm5check/host/forked.py", "_start")
PROCESS_CALLS = {
    "subprocess": {"run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput"},
    "os": {"system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve", "execvp",
           "execvpe", "execl", "execle", "execlp", "execlpe", "spawnv", "spawnve", "spawnvp", "spawnl"},
    "asyncio": {"create_subprocess_exec", "create_subprocess_shell"},
    "pty": {"spawn", "fork"},
}  # fmt: skip


def _process_violations(name: str, tree: ast.Module) -> list[str]:
    allowed: set[int] = set()
    for where, function_name in (RUNNER, FORKER):
        if name == where:
            for function in _functions(tree):
                if function.name == function_name:
                    allowed |= {id(n) for n in ast.walk(function)}
    found = [f"{name}:{line} imports {module}" for line, module in _imports(tree) if module.split(".")[0] == "git"]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and id(node) not in allowed:
            receiver, called = _called_name(node)
            if called in PROCESS_CALLS.get(receiver or "", ()):
                found.append(f"{name}:{node.lineno} {ast.unparse(node.func)}() starts a process outside run_process")
    return found


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_process_starts_in_the_one_runner(name: str) -> None:
    assert not _process_violations(name, SOURCES[name])


def test_the_runner_exists_and_the_process_scan_finds_others() -> None:
    assert any(f.name == RUNNER[1] for f in _functions(SOURCES[RUNNER[0]]))
    assert any(f.name == FORKER[1] for f in _functions(SOURCES[FORKER[0]]))
    assert _process_violations("glm5check/host/x.py", ast.parse("import os\nos.fork()\n"))
    assert _process_violations("glm5check/host/x.py", ast.parse("import subprocess\nsubprocess.run(['ls'])\n"))
    assert _process_violations("glm5check/host/x.py", ast.parse("import os\nos.system('ls')\n"))
    assert _process_violations("glm5check/host/x.py", ast.parse("import git\n"))


# -- 8. paths from data ---------------------------------------------------------------------------------

CONFINER = "glm5check/host/paths.py"
PATH_JOINERS = {"os.path", "posixpath"}  # their join(); and .joinpath() on any receiver
# Joins of a name that is not a literal and does not come from data, each for its reason.
ALLOWED_NAME_JOINS = {
    ("glm5check/facts/weights_scan.py", "__init__"): "_JsonSource: the constant config, index and quant names",
    ("glm5check/facts/weights.py", "served_file_digests"): "names are single entries of the folder's listing",
    ("glm5check/host/live.py", "which"): "a tool's constant name in a folder of PATH (the live machine)",
    ("glm5check/host/pyinspect.py", "package_record"): "constant file names of PACKAGE_TEXTS / _PROBES",
    ("glm5check/host/snapshot_source.py", "names"): "entries os.walk found inside the snapshot folder",
    ("glm5check/host/scancache.py", "folder_identity"): "single entries of the scanned folder's listing",
    ("glm5check/host/scancache.py", "_entry"): "a SHA-256 hex digest computed here",
    ("glm5check/util/resources.py", "package_text"): "files shipped in glm5check, named by its own code",
    ("glm5check/util/entrypoints.py", "_read"): "an info folder os.listdir found on sys.path, a constant file",
}


def _is_join(call: ast.Call) -> bool:
    receiver, called = _called_name(call)
    return called == "joinpath" or (called == "join" and receiver in PATH_JOINERS)


def _confined_part(node: ast.expr) -> bool:
    """A literal, or *relative_parts(name) (components already refused when they leave the root)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    inner = node.value if isinstance(node, ast.Starred) else None
    return isinstance(inner, ast.Call) and _called_name(inner)[1] in {"relative_parts", "_checked"}


def _join_violations(name: str, tree: ast.Module) -> list[str]:
    if name == CONFINER:
        return []
    allowed = {id(n) for f in _functions(tree) if (name, f.name) in ALLOWED_NAME_JOINS for n in ast.walk(f)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and id(node) not in allowed and _is_join(node):
            names = node.args if _called_name(node)[1] == "joinpath" else node.args[1:]
            if not all(_confined_part(part) for part in names):
                found.append(f"{name}:{node.lineno} {ast.unparse(node)} joins a name not confined")
    return found


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_path_from_data_is_confined(name: str) -> None:
    assert not _join_violations(name, SOURCES[name])


def test_the_join_scan_finds_unconfined_names_and_its_exceptions_exist() -> None:
    def scan(body: str) -> list[str]:
        return _join_violations("glm5check/x.py", ast.parse(f"def f(root, name):\n    {body}\n"))

    assert scan("return os.path.join(root, name)")
    assert scan("return posixpath.join(root, 'a', name)")
    assert scan("return Path(root).joinpath(name)")
    assert not scan("return posixpath.join(root, 'config.json')")
    assert not scan("return Path(root).joinpath(*relative_parts(name))")
    for source, function in ALLOWED_NAME_JOINS:
        assert any(f.name == function for f in _functions(SOURCES[source])), (source, function)
