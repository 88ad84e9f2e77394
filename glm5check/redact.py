"""Redaction: secrets never leave the machine in a report, a snapshot or a comparison.

Values of variables whose names look secret, credentials inside URLs, bearer/basic authorization
headers and `--api-key`-style flag values are replaced by REDACTED.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "<redacted>"

_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|API_?KEY|ACCESS_?KEY|"
    r"(^|_)KEY($|_)|SIGNATURE|CERT_PASS|WEBHOOK",
    re.IGNORECASE,
)
# Variables whose names contain KEY-like words but hold no secret.
_NOT_SECRET = {"KEYTIMEOUT", "HCCL_BUFFSIZE"}

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/@:]+(:[^\s/@]*)?)@")
_AUTH_HEADER = re.compile(
    r"(?i)\b(authorization\s*[:=]\s*(?:bearer\s+|basic\s+|token\s+)?|bearer\s+|basic\s+)([A-Za-z0-9._~+/=-]{6,})"
)
_SECRET_FLAG = re.compile(
    r"(?i)(--?[a-z0-9-]*(?:api-key|token|secret|password|passwd|credential)[a-z0-9-]*)(\s+|=)(\"[^\"]*\"|'[^']*'|\S+)"
)
_SECRET_ASSIGN = re.compile(
    r"(?i)\b([A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|CREDENTIAL)[A-Z0-9_]*)\s*=\s*"
    r"(\"[^\"]*\"|'[^']*'|[^\s;]+)"
)
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")


def is_secret_name(name: str) -> bool:
    return name.upper() not in _NOT_SECRET and bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """Mask credentials that appear inside free text (command output, files, flags)."""
    if not text:
        return text
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _SECRET_FLAG.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _SECRET_ASSIGN.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def redact_value(name: str, value: str) -> str:
    return REDACTED if is_secret_name(name) and value else redact_text(value)


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    return {name: redact_value(name, value) for name, value in env.items()}


def redact_hosts(text: str, hostnames: tuple[str, ...] = ()) -> str:
    """--redact-hosts: also mask IPv4 addresses and the given hostnames."""
    text = _IPV4.sub("<ip>", text)
    for name in hostnames:
        if name:
            text = text.replace(name, "<host>")
    return text


def redact_tree(value: Any, key: str = "") -> Any:
    """Redact a JSON-ready structure: secret-named keys lose their values, strings lose credentials."""
    if isinstance(value, dict):
        return {k: redact_tree(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, key) for v in value]
    if isinstance(value, str):
        return redact_value(key, value) if key else redact_text(value)
    return value
