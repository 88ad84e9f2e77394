"""Redaction: secrets never leave the machine in a report, a snapshot or a comparison.

Values of variables whose names look secret, credentials inside URLs, bearer/basic authorization
headers, `--api-key`-style flag values, secret-named keys in JSON/YAML text and well-known token shapes
(hf_…, ghp_…, sk-…, AKIA…) are replaced by REDACTED. Every value seen under a secret name is also
remembered, so that the same value is masked wherever else it turns up (a result's expected value, a
message, a process's command line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from glm5check.util.lazyre import lazy

REDACTED = "<redacted>"
# Values shorter than this are not masked by value elsewhere ("1", "true" would wreck every text).
MIN_REMEMBERED_LENGTH = 6

# "TOKENS" counts tokens (max_num_batched_tokens, VLLM_MAX_TOKENS): not a secret.
_SECRET_NAME = lazy(
    r"TOKEN(?!S)|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|API_?KEY|ACCESS_?KEY|"
    r"(^|_)KEY($|_)|SIGNATURE|CERT_PASS|WEBHOOK",
    re.IGNORECASE,
)
# Variables whose names contain KEY-like words but hold no secret.
_NOT_SECRET = {"KEYTIMEOUT", "HCCL_BUFFSIZE"}

_URL_CREDENTIALS = lazy(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/@:]+(:[^\s/@]*)?)@")
_AUTH_HEADER = lazy(
    r"(?i)\b(authorization\s*[:=]\s*(?:bearer\s+|basic\s+|token\s+)?|bearer\s+|basic\s+)"
    r"([A-Za-z0-9._~+/=-]{6,})"
)
_SECRET_FLAG = lazy(
    r"(?i)(--?[a-z0-9-]*(?:api-key|token(?!s)|secret|password|passwd|credential)[a-z0-9-]*)(\s+|=)"
    r"(\"[^\"]*\"|'[^']*'|[^\s\"']+)"
)
_SECRET_FLAG_NAME = lazy(
    r"(?i)^--?[a-z0-9-]*(?:api-key|token(?!s)|secret|password|passwd|credential)[a-z0-9-]*$"
)
_SECRET_ASSIGN = lazy(
    r"(?i)\b([A-Z0-9_]*(?:TOKEN(?!S)|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|CREDENTIAL)[A-Z0-9_]*)"
    r"(\s*=\s*)"
    r"(?:\"[^\"]*\"|'[^']*'|[^\s;\"']+)"
)
# `"hub_auth_token": "…"` in JSON and `hf_token: …` at the start of a YAML line. A key ending in
# "tokens" counts tokens (max_num_batched_tokens) and is left alone, and so is a token id (every model's
# config.json has "eos_token_id": [...]; masking it would make the file unreadable JSON in a snapshot).
_SECRET_KEY = (
    r"[A-Za-z0-9_.-]*(?:token(?!s|_?ids?\b)|secret|passw(?:or)?d|api[_-]?key|access[_-]?key|credential|"
    r"cookie|"
    r"private[_-]?key)[A-Za-z0-9_.-]*"
)
_JSON_SECRET = lazy(rf"(?i)(\"{_SECRET_KEY}\"\s*:\s*)(\"(?:[^\"\\]|\\.)*\"|[^\s,}}\]]+)")
_YAML_SECRET = lazy(rf"(?im)^(\s*-?\s*{_SECRET_KEY}\s*:[ \t]*)(?!\s)([^\n#]+)")
_TOKEN_SHAPES = lazy(
    r"\b(?:hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|glpat-[A-Za-z0-9_-]{12,}"
    r"|sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"
)
_IPV4 = lazy(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")

# Every value seen under a secret name in this process (environment, profile, serve script).
_remembered: set[str] = set()


def is_secret_name(name: str) -> bool:
    return name.upper() not in _NOT_SECRET and bool(_SECRET_NAME.search(name))


def remember(value: str) -> None:
    """Mask this value wherever it appears from now on."""
    # Paths and numbers under secret-looking names (SSH_AUTH_SOCK, XDG_SESSION_ID) are not secrets, and
    # masking them everywhere would blank ordinary paths such as /usr/local out of every report.
    plain = value.startswith("/") or value.isdigit()
    if len(value) >= MIN_REMEMBERED_LENGTH and value != REDACTED and not plain:
        _remembered.add(value)


def _quoted(value: str) -> str:
    """REDACTED in the quotes value had, so redacted TOML, JSON and shell stay parseable."""
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{quote}{REDACTED}{quote}"


def redact_text(text: str, extra: Sequence[str] = ()) -> str:
    """Mask credentials that appear inside free text (command output, files, flags)."""
    if not text:
        return text
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _SECRET_FLAG.sub(lambda m: f"{m.group(1)}{m.group(2)}{_quoted(m.group(3))}", text)
    text = _SECRET_ASSIGN.sub(lambda m: f"{m.group(1)}{m.group(2)}{_quoted(m.group(0)[m.end(2) - m.start() :])}", text)
    text = _JSON_SECRET.sub(lambda m: f"{m.group(1)}{_quoted(m.group(2))}", text)
    text = _YAML_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    for value in sorted({*_remembered, *extra}, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


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


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line with the value after a secret flag (`--api-key VALUE`) and any secret text masked."""
    masked = []
    for index, word in enumerate(argv):
        after_flag = index > 0 and bool(_SECRET_FLAG_NAME.match(argv[index - 1]))
        masked.append(REDACTED if after_flag else redact_text(word))
    return masked


def redact_hosts(text: str, hostnames: tuple[str, ...] = ()) -> str:
    """--redact-hosts: also mask IPv4 addresses and the given hostnames."""
    text = _IPV4.sub("<ip>", text)
    for name in hostnames:
        if name:
            text = text.replace(name, "<host>")
    return text


def _secret_values(value: Any, key: str = "", found: set[str] | None = None) -> set[str]:
    """Values held under secret names anywhere in a structure; a result whose item is a secret name
    (env.vars[VLLM_API_KEY]) holds its secret in expected and observed."""
    found = set() if found is None else found
    if isinstance(value, dict):
        item = value.get("item")
        secret_item = isinstance(item, str) and is_secret_name(item)
        for k, v in value.items():
            held = is_secret_name(str(k)) or (secret_item and k in ("expected", "observed"))
            if isinstance(v, str) and held:
                if len(v) >= MIN_REMEMBERED_LENGTH and v != REDACTED and not v.startswith("/"):
                    found.add(v)
            else:
                _secret_values(v, str(k), found)
    elif isinstance(value, list):
        for v in value:
            _secret_values(v, key, found)
    return found


def redact_tree(value: Any, key: str = "") -> Any:
    """Redact a JSON-ready structure: secret-named keys lose their values, strings lose credentials, and
    a secret value found under one key is masked everywhere else in the structure too."""
    return _redact_tree(value, key, tuple(_secret_values(value, key)))


def _redact_tree(value: Any, key: str, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        item = value.get("item")
        secret_item = isinstance(item, str) and is_secret_name(item)
        return {
            k: REDACTED
            if secret_item and k in ("expected", "observed") and isinstance(v, str) and v
            else _redact_tree(v, str(k), secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_tree(v, key, secrets) for v in value]
    if isinstance(value, str):
        if key and is_secret_name(key) and value:
            return REDACTED
        return redact_text(value, secrets)
    return value
