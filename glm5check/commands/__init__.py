"""Subcommands that live in their own modules (registered lazily in glm5check.cli.LAZY_COMMANDS)."""
