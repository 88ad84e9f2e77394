"""The engine: the check contract, the run context and fact cache, the registry and the runner.

It knows nothing about NPUs, vLLM or GLM-5.
"""
