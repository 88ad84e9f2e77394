"""Fault injection: every external command and every input file broken in every way, run end to end."""
