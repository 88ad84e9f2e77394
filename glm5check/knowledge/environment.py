"""Which environment variables shape a GLM-5 launch (the ones a report keeps in `facts.env`)."""

from __future__ import annotations

import re

# HCCL, CANN/Ascend (ACL, ATB), vLLM and torch_npu settings, OpenMP, the launchers' rank variables and the model hubs.
_RELEVANT = re.compile(
    r"^(HCCL_|ASCEND_|VLLM_|GLOO_|TP_SOCKET|OMP_|PYTORCH_NPU|TASK_QUEUE|LD_LIBRARY_PATH$|PYTHONPATH$|CANN|"
    r"ATB_|ACL_|HF_|MODELSCOPE|TRANSFORMERS_|NPU_|RANK$|WORLD_SIZE$|MASTER_|SLURM_|OMPI_COMM)"
)


def relevant_env(env: dict[str, str], extra: tuple[str, ...] = ()) -> dict[str, str]:
    """The variables of env that shape a launch (plus the names in extra), sorted by name."""
    return {name: value for name, value in sorted(env.items()) if name in extra or _RELEVANT.match(name)}
