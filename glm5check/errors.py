"""Errors shared by every layer.

ConfigError means invalid usage or configuration: the CLI prints it as one line and exits 2.
ProbeFailed means the machine could not be read: the runner turns it into an ERROR result.
"""


class ConfigError(Exception):
    """Base of every error that ends a run with exit code 2 (unknown profile, unreadable file, …)."""


class ProbeFailed(Exception):
    """Raised by a fact provider when the machine could not be read; the runner turns it into an ERROR
    result whose message is the reason, with no traceback."""
