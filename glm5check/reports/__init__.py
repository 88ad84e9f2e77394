"""Reports: the same outcomes as a terminal table, a JSON document (with a shipped JSON Schema) or JUnit XML."""
