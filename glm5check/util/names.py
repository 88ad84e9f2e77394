"""Distribution and entry-point names as pip compares them (PEP 503): `Site_Checks` is `site-checks`.

(host/pyinspect.py keeps its own copy: it runs in the target interpreter, where glm5check is not imported.)
"""

from __future__ import annotations

import re


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip()).lower()
