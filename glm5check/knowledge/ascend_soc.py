"""Which Ascend device type a chip is, as vllm-ascend tells them apart at the pinned commit (ff3a50d).

vllm-ascend's setup.py writes `vllm_ascend/_build_info.py` (`__device_type__ = 'A2' | 'A3' | '_310P' |
'A5'`) from SOC_VERSION (the image sets it: `ENV SOC_VERSION=ascend910b1` in Dockerfile,
`ascend910_9391` in Dockerfile.a3), mapping it with SOC_TO_DEVICE below. At start-up
`vllm_ascend.utils.check_ascend_device_type()` (called by the worker, worker/worker.py:112) asserts that
this build type equals the type of the NPU torch_npu finds, else: "Current device type: … does not match
the installed version's device type: …, please check your installation package."
"""

from __future__ import annotations

import re

from glm5check.util.lazyre import lazy

# vllm-ascend ff3a50d setup.py gen_build_info(): SOC_VERSION -> device type.
SOC_TO_DEVICE = {
    "910b": "A2",
    "910c": "A3",
    "310p": "_310P",
    "ascend910b1": "A2",
    "ascend910b2": "A2",
    "ascend910b2c": "A2",
    "ascend910b3": "A2",
    "ascend910b4": "A2",
    "ascend910b4-1": "A2",
    "ascend910_9391": "A3",
    "ascend910_9381": "A3",
    "ascend910_9372": "A3",
    "ascend910_9392": "A3",
    "ascend910_9382": "A3",
    "ascend910_9362": "A3",
    "ascend310p1": "_310P",
    "ascend310p3": "_310P",
    "ascend310p5": "_310P",
    "ascend310p7": "_310P",
    "ascend310p3vir01": "_310P",
    "ascend310p3vir02": "_310P",
    "ascend310p3vir04": "_310P",
    "ascend310p3vir08": "_310P",
    "ascend910_9579": "A5",
}
DEVICE_WORDS = {"A2": "Atlas A2 (910B)", "A3": "Atlas A3 (910C)", "_310P": "310P", "A5": "A5"}
# The guide's images: quay.io/ascend/vllm-ascend:glm5 (A2) and :glm5-a3 (A3).
GUIDE_IMAGES = {"A2": "quay.io/ascend/vllm-ascend:glm5", "A3": "quay.io/ascend/vllm-ascend:glm5-a3"}

_BUILD_TYPE = lazy(r"""^\s*__device_type__\s*=\s*['"]([A-Za-z0-9_]+)['"]""", re.M)


def build_device_type(build_info: str | None) -> str | None:
    """`__device_type__` of a `_build_info.py` text; None when it has none."""
    match = _BUILD_TYPE.search(build_info or "")
    return match.group(1) if match and match.group(1) in DEVICE_WORDS else None


def soc_device_type(soc_version: str | None) -> str | None:
    return SOC_TO_DEVICE.get((soc_version or "").strip().lower())


def chip_device_type(name: str | None, has_phy_id: bool) -> str | None:
    """The device type of a chip as npu-smi names it: 910B* is A2; Ascend910 on a table with a Phy-ID
    column (two dies per NPU) or 910C is A3; 310P* is 310P; anything else is not known."""
    text = (name or "").strip()
    if re.match(r"^910B", text, re.I):
        return "A2"
    if re.match(r"^910C", text, re.I) or (text.lower() == "ascend910" and has_phy_id):
        return "A3"
    if re.match(r"^310P", text, re.I):
        return "_310P"
    return None
