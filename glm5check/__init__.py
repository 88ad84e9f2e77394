"""glm5check: preflight checks for serving GLM-5 with vLLM on Ascend NPUs."""

__version__ = "0.1.0"
