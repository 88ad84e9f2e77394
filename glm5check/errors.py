"""Errors that mean invalid usage or configuration: the CLI prints them as one line and exits 2."""


class ConfigError(Exception):
    """Base of every error that ends a run with exit code 2 (unknown profile, unreadable file, …)."""
