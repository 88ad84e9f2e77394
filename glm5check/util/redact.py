"""Redaction: secrets never leave the machine in a report, a snapshot or a comparison.

It works on tokens, not substrings:

- A *name* (an environment variable, a JSON, YAML or TOML key, a `name=value` assignment, a connection
  string's `AccountKey=`, a header, a flag) is split into words at `_`, `-`, `.` and camelCase. It is
  secret when one word is a secret word (token, secret, password, pwd, pass, credential, cookie, auth,
  signature, …), when its last word is `key`, or when a word such as api, access or private comes just
  before `key`. So `max_num_batched_tokens` (tokens) and `eos_token_id` (a token's id) are not secret,
  and `KEYTIMEOUT` is one word.
- A *flag*'s value is the shell word after it (every word up to the next flag for vLLM's multi-value
  `--api-key K1 K2`); `\\`-newline separates words and is never part of a value; quotes are kept, and an
  unquoted value becomes `'<redacted>'`, so a redacted launch script reads back as the same command.
- Known programs' secret options in command lines: `curl -u`, `mysql -p…`, `sshpass -p`, `redis-cli -a`,
  `mongosh -p`, `ldapsearch -w`.
- A URL loses its whole userinfo, up to the last `@` of its authority (`https://:tok@h`, `https://u:p@ss@h`).
- A value seen under a secret name is masked wherever else it appears as a whole token.

`--redact-hosts` replaces IPv4 and IPv6 addresses and the node's hostname, as whole tokens only, by
pseudonyms from a keyed hash (`--redact-salt`): the same address gets the same pseudonym on every node
of one ticket, and check ids that merely contain the hostname are never touched.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from glm5check.util.lazyre import lazy
from glm5check.util.numbers import is_whole

REDACTED = "<redacted>"
# Values shorter than this are not masked by value elsewhere ("1", "true" would wreck every text).
MIN_REMEMBERED_LENGTH = 6

# -- names ------------------------------------------------------------------------------------------------

SECRET_WORDS = frozenset(
    {"token", "secret", "secrets", "password", "passwords", "passwd", "passphrase", "pwd", "pass", "credential"}
    | {"credentials", "cookie", "auth", "authorization", "apikey", "accesskey", "privatekey", "authtoken"}
    | {"signature", "sig", "webhook", "jwt", "bearer"}
)
KEY_QUALIFIERS = frozenset({"api", "access", "private", "secret", "account", "encryption", "signing", "master"})
KEY_QUALIFIERS |= {"client", "ssh", "shared", "subscription", "service", "license"}
NOT_SECRET_NAMES = frozenset({"pwd", "oldpwd"})  # the shell's working folders
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def name_words(name: str) -> list[str]:
    """`HF_TOKEN` -> [hf, token]; `hubAuthToken` -> [hub, auth, token]; `--api-key` -> [api, key]."""
    return [word for word in _WORD_SPLIT.split(_CAMEL.sub("_", name).lower()) if word]


@lru_cache(maxsize=4096)  # a report asks about the same few keys thousands of times (~3k calls, ~60 names)
def is_secret_name(name: str) -> bool:
    words = name_words(name)
    if not words or "_".join(words) in NOT_SECRET_NAMES:
        return False
    if "token" in words and words[-1] in ("id", "ids", "type"):  # eos_token_id is part of every config
        return False
    if any(word in SECRET_WORDS for word in words):
        return True
    pairs = itertools.pairwise(words)
    return words[-1] == "key" or any(a in KEY_QUALIFIERS and b in ("key", "keys") for a, b in pairs)


# -- values remembered under secret names -----------------------------------------------------------------

# Every value seen under a secret name in this process (environment, profile, serve script).
_remembered: set[str] = set()


def remember(value: str) -> None:
    """Mask this value wherever it appears (as a whole token) from now on."""
    # Paths and numbers under secret-looking names (SSH_AUTH_SOCK, XDG_SESSION_ID) are not secrets, and
    # masking them everywhere would blank ordinary paths such as /usr/local out of every report.
    plain = value.startswith("/") or is_whole(value)
    if len(value) >= MIN_REMEMBERED_LENGTH and value != REDACTED and not plain:
        _remembered.add(value)


@lru_cache(maxsize=64)
def _values_pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(f"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")


def _mask_values(text: str, values: set[str]) -> str:
    present = tuple(sorted(v for v in values if v in text))
    return _values_pattern(present).sub(REDACTED, text) if present else text


# -- free text ------------------------------------------------------------------------------------------

_URL_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#@:]*(?::\S*)?)@(?=[^\s@]*(?:\s|$))"
)
_AUTH_HEADER = re.compile(
    r"(?i)\b(authorization\s*[:=]\s*(?:bearer\s+|basic\s+|token\s+)?|bearer\s+|basic\s+)"
    r"([A-Za-z0-9._~+/=-]{6,})"
)
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"
# name=value (shell, TOML, connection strings AccountKey=…;Password=…, query strings), name: value (YAML,
# headers) and "name": value (JSON). The name decides; the value ends at whitespace, ; & , or its quote.
# The value is a lookahead: a pair whose name is not secret consumes only its name, so that its value
# can be the name of the next pair ("log: api_key: K").
_ASSIGNMENT = re.compile(rf"(?<![\w.-])({_NAME})(\s*=\s*)(?=({_QUOTED}|[^\s;&\"',]+))")
_COLON = re.compile(rf"(?<![\w.-])({_NAME})(:[ \t]+)(?=({_QUOTED}|[^\s;&\"',{{}}\[\]]+))")
_JSON_PAIR = re.compile(rf"\"({_NAME})\"(\s*:\s*)(?=(\"(?:[^\"\\]|\\.)*\"|[^\s,}}\]]+))")
_TOKEN_SHAPES = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|glpat-[A-Za-z0-9_-]{12,}"
    r"|sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)


def _masked(value: str, bare: bool = False) -> str:
    """REDACTED in the quotes value had; an unquoted value becomes '<redacted>' so that redacted shell,
    TOML and YAML stay parseable (bare: inside a string already, no quotes added)."""
    if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
        return f"{value[0]}{REDACTED}{value[0]}"
    return REDACTED if bare else f"'{REDACTED}'"


# A value that is REDACTED already, or an authorization scheme whose credential _AUTH_HEADER masked.
_ALREADY_MASKED = frozenset({REDACTED, "Bearer", "bearer", "Basic", "basic", "Token", "token"})


def _named_values(text: str) -> str:
    """Values of secret names in name=value, name: value and "name": value pairs."""
    text = _mask_pairs(_JSON_PAIR, text, lambda m: is_secret_name(m.group(1)), json=True)
    text = _mask_pairs(_ASSIGNMENT, text, lambda m: is_secret_name(m.group(1)))
    return _mask_pairs(_COLON, text, lambda m: is_secret_name(m.group(1)) and not _prose(text, m))


def _mask_pairs(
    pattern: re.Pattern[str], text: str, secret: Callable[[re.Match[str]], bool], json: bool = False
) -> str:
    pieces: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        value = match.group(3)
        if match.start() < last or not secret(match) or value.strip("\"'") in _ALREADY_MASKED:
            continue
        inside = text[match.end() + len(value) : match.end() + len(value) + 1] in ("'", '"')  # a quoted header
        masked = f'"{REDACTED}"' if json and not value.startswith('"') else _masked(value, bare=inside)
        pieces += [text[last : match.end()], masked]
        last = match.end() + len(value)
    return "".join(pieces) + text[last:] if pieces else text


def _prose(text: str, match: re.Match[str]) -> bool:
    """`7 of 8 pass: npu.network`: a one-word name in the middle of a sentence (not a YAML entry, a
    header or a quoted pair) is secret only if it is one of SECRET_ALONE."""
    words = name_words(match.group(1))
    return not _entry_start(text, match.start()) and len(words) == 1 and words[0] not in SECRET_ALONE


# One-word names that are secret even in the middle of a sentence (see _prose).
SECRET_ALONE = frozenset({"password", "passwd", "passphrase", "secret", "token", "apikey", "credentials"})


def _entry_start(text: str, index: int) -> bool:
    """Whether a `name: value` at index starts an entry: a line (after indentation or a YAML `- `), a
    quoted string or a JSON-like pair."""
    line = text[text.rfind("\n", 0, index) + 1 : index]
    return not line.strip(" \t-") or line[-1:] in ("'", '"', "{", ",")


def redact_text(text: str, extra: Sequence[str] = ()) -> str:
    """Mask credentials that appear inside free text (command output, files, scripts, messages)."""
    if not text:
        return text
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _named_values(text)
    text = _shell_words(text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    return _mask_values(text, {*_remembered, *extra})


# -- shell words: flags and programs' secret options --------------------------------------------------------

# option -> how its value is given: "next" (the next word), "attached" (-pSECRET) or both.
PROGRAM_OPTIONS: dict[str, dict[str, str]] = {
    "curl": {"-u": "both", "--user": "next", "-U": "both", "--proxy-user": "next"},
    "sshpass": {"-p": "both"},
    "redis-cli": {"-a": "both"},
    "mongo": {"-p": "next"},
    "mongosh": {"-p": "next"},
    **{name: {"-p": "attached"} for name in ("mysql", "mysqldump", "mysqladmin", "mariadb", "mariadb-dump")},
    **{name: {"-w": "both"} for name in ("ldapsearch", "ldapmodify", "ldapadd", "ldapdelete", "ldapwhoami")},
}
# vLLM's --api-key takes one or more keys (vllm/entrypoints/openai/cli_args.py, 0.16.0: list[str]).
MULTI_VALUE_FLAGS = frozenset({("api", "key")})
_SHELL_WORD = re.compile(r"(?:[^\s\"'\\;|&]|\\.|\"(?:[^\"\\]|\\.)*\"|'[^']*'|[\"'])+|[;|&]+")
_QUOTED_PART = re.compile(_QUOTED)
_COMMAND_END = re.compile(r"(?<!\\)\n")
_COMMANDS = re.compile(r"(?<=\n)(?<!\\\n)")
_OPERATORS = frozenset({";", ";;", "&&", "||", "|", "&", "|&", "(", ")", "{", "}"})
_CANDIDATE = re.compile(
    r"-(?:[\w-]*(?:token|secret|pass|pwd|key|auth|cookie|credential|sig|jwt|bearer|webhook)|[upawU]\b)"
    r"|curl|sshpass|redis-cli|mongo|mysql|mariadb|ldap",
    re.IGNORECASE,
)


def _is_flag(word: str) -> bool:
    return word.startswith("-") and len(word) > 1 and not re.fullmatch(r"-\d+(\.\d+)?", word)


def is_secret_flag(flag: str) -> bool:
    """`--api-key`, `--api_key`, `--hf-token`, `--password`; not `--max-num-batched-tokens` or a
    boolean switch (`--no-…`, `--enable-…`, `--disable-…`)."""
    if not _is_flag(flag) or flag.lstrip("-").startswith(("no-", "no_", "enable", "disable")):
        return False
    return is_secret_name(flag.lstrip("-"))


class _Words:
    """Which words of one command are secret values: after a secret flag, or a known program's option."""

    def __init__(self) -> None:
        self.take = 0  # values still to mask (-1: up to the next flag)
        self.options: dict[str, str] = {}

    def end_of_command(self) -> None:
        self.take, self.options = 0, {}

    def judge(self, word: str) -> int | None:
        """None to keep the word, else how many of its leading characters to keep (the rest is a value)."""
        if self.take and not _is_flag(word) and word not in _OPERATORS:
            if self.take > 0:
                self.take -= 1
            return 0
        self.take = 0
        if word in _OPERATORS or word.startswith("#"):
            self.end_of_command()
            return None
        if _is_flag(word):
            return self._flag(word)
        self._program(word)
        return None

    def _flag(self, word: str) -> int | None:
        name, equals, _ = word.partition("=")
        if is_secret_flag(name):
            if equals:
                return len(name) + 1
            self.take = -1 if tuple(name_words(name)) in MULTI_VALUE_FLAGS else 1
            return None
        return self._option(word)

    def _option(self, word: str) -> int | None:
        """A known program's secret option: `-p` then a value, `-pVALUE`, or `--user=VALUE`."""
        for option, style in self.options.items():
            if word == option:
                self.take = 0 if style == "attached" else 1
                return None
            if word.startswith(option + "="):
                return len(option) + 1
            if word.startswith(option) and style != "next" and not option.startswith("--"):
                return len(option)
        return None

    def _program(self, word: str) -> None:
        program = posixpath.basename(word.strip("\"'"))
        if program in PROGRAM_OPTIONS:
            self.options = PROGRAM_OPTIONS[program]


def _shell_words(text: str, bare: bool = False) -> str:
    """Secret flag values and programs' secret options masked, word by word (see _Words), in the
    commands (lines, with their `\\`-newline continuations) that may hold one: a value never crosses
    the end of its command, and a 4 MiB output with one flag in it is read in milliseconds."""
    if not _CANDIDATE.search(text):
        return text
    return "".join(_command_words(part, bare) if _CANDIDATE.search(part) else part for part in _COMMANDS.split(text))


def _command_words(text: str, bare: bool) -> str:
    pieces: list[str] = []
    last = 0
    words = _Words()
    for match in _SHELL_WORD.finditer(text):
        gap = text[last : match.start()]
        if _COMMAND_END.search(gap):
            words.end_of_command()
        word = _QUOTED_PART.sub(_inside_quotes, match.group())
        keep = words.judge(word)
        pieces += [gap, word if keep is None else word[:keep] + _masked(word[keep:], bare)]
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def _inside_quotes(match: re.Match[str]) -> str:
    quoted = match.group()
    return quoted[0] + _shell_words(quoted[1:-1], bare=True) + quoted[0]


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line (one argument per item) with secret flag values, programs' secret options and any
    secret text inside an argument masked."""
    words = _Words()
    masked = []
    for word in argv:
        keep = words.judge(word)
        masked.append(redact_text(word) if keep is None else word[:keep] + REDACTED)
    return masked


# -- environments and structures ----------------------------------------------------------------------------


def redact_value(name: str, value: str) -> str:
    if is_secret_name(name) and value:
        remember(value)
        return REDACTED
    return redact_text(value)


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    for name, value in env.items():
        if is_secret_name(name) and value:
            remember(value)
    return {name: redact_value(name, value) for name, value in env.items()}


def _secret_values(value: Any, found: set[str]) -> set[str]:
    """Values held under secret names anywhere in a structure; a result whose item is a secret name
    (env.vars[VLLM_API_KEY]) holds its secret in expected and observed."""
    if isinstance(value, dict):
        item = value.get("item")
        secret_item = isinstance(item, str) and is_secret_name(item)
        for k, v in value.items():
            held = is_secret_name(str(k)) or (secret_item and k in ("expected", "observed"))
            if isinstance(v, str) and held:
                if len(v) >= MIN_REMEMBERED_LENGTH and v != REDACTED and not v.startswith("/"):
                    found.add(v)
            else:
                _secret_values(v, found)
    elif isinstance(value, list):
        for v in value:
            _secret_values(v, found)
    return found


def redact_tree(value: Any, key: str = "") -> Any:
    """Redact a JSON-ready structure: secret-named keys lose their values, strings lose credentials, a
    list of strings is read as a command line, and a secret value found under one key is masked
    everywhere else in the structure too."""
    return _Tree(tuple(_secret_values(value, set()))).redact(value, key)


class _Tree:
    """One structure's redaction: the values found under its secret names, and each string's redacted
    text, worked out once however often it appears (a report repeats half of its ~1000 strings)."""

    def __init__(self, found: tuple[str, ...]) -> None:
        self.found = found
        self.texts: dict[str, str] = {}

    def text(self, value: str) -> str:
        redacted = self.texts.get(value)
        if redacted is None:
            redacted = self.texts[value] = redact_text(value, self.found)
        return redacted

    def redact(self, value: Any, key: str) -> Any:
        if isinstance(value, dict):
            item = value.get("item")
            secret_item = isinstance(item, str) and is_secret_name(item)
            return {
                k: REDACTED
                if secret_item and k in ("expected", "observed") and isinstance(v, str) and v
                else self.redact(v, str(k))
                for k, v in value.items()
            }
        if isinstance(value, list):
            if value and all(isinstance(v, str) for v in value):
                return [redact_text(v, self.found) for v in redact_argv(value)]
            return [self.redact(v, key) for v in value]
        if isinstance(value, str):
            if key and is_secret_name(key) and value:
                return REDACTED
            return self.text(value)
        return value


# -- hosts ------------------------------------------------------------------------------------------------

_IPV4 = lazy(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w]|\.\d)")
_IPV6 = lazy(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w.]+)?(?![\w:])")
# Fields whose text is never an address: check ids and titles, versions (a driver's 24.1.0.3).
HOST_FREE_KEYS = frozenset({"id", "category", "title", "schema", "tool", "status"})


class HostRedactor:
    """--redact-hosts: addresses and the node's names become pseudonyms, the same for one salt on every
    node (HMAC-SHA256 of the address, keyed with the salt): IPv4 in 198.18.0.0/15, IPv6 in 2001:db8::/32
    (ranges that are never a real node's), hostnames `host-<hash>`. Loopback, unspecified and mask
    addresses are kept: they identify nobody."""

    def __init__(self, salt: str | None, hostnames: Sequence[str] = ()) -> None:
        import secrets  # here and in _digest: only --redact-hosts needs them (start-up time)

        self._key = (salt if salt is not None else secrets.token_hex(16)).encode()
        names = {n for h in hostnames if h for n in (h, h.split(".")[0]) if n}
        self._names = (
            re.compile(
                "|".join(
                    rf"(?<![\w.-]){re.escape(n)}(?![\w-])(?!\.[\w-])" for n in sorted(names, key=len, reverse=True)
                )
            )
            if names
            else None
        )

    def _digest(self, text: str) -> bytes:
        import hmac

        return hmac.new(self._key, text.encode(), hashlib.sha256).digest()

    def _address(self, match: re.Match[str]) -> str:
        text = match.group()
        try:
            address = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            return text
        if address.is_loopback or address.is_unspecified or text.startswith("255."):
            return text
        h = self._digest(str(address))
        if address.version == 4:
            return f"198.{18 + (h[0] & 1)}.{h[1]}.{h[2]}"
        return "2001:db8:" + ":".join(f"{int.from_bytes(h[i : i + 2], 'big'):x}" for i in range(0, 12, 2))

    def text(self, text: str) -> str:
        text = _IPV6.sub(self._address, _IPV4.sub(self._address, text))
        if self._names is None:
            return text
        return self._names.sub(lambda m: f"host-{self._digest(m.group().split('.')[0]).hex()[:8]}", text)

    def tree(self, value: Any, key: str = "") -> Any:
        if key in HOST_FREE_KEYS or key.endswith("version"):
            return value
        if isinstance(value, dict):
            return {k: self.tree(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v, key) for v in value]
        return self.text(value) if isinstance(value, str) else value
