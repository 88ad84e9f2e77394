"""Built-in glm5check checks, one module per concern, loaded through the glm5check.checks entry points."""
