"""Leaf helpers shared by every layer (units, redaction, bounded numbers, safe JSON); they import nothing
else of glm5check."""
