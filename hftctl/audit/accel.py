"""The audit's optional C accelerator (``_fast.c``), or None: same results, found at call time
(``accel.fast``) so a test can compare both paths in one process. ``HFTCTL_PURE_PYTHON=1``
switches it off, as it does the converter's."""

from __future__ import annotations

import os
from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("HFTCTL_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from hftctl.audit import _fast
    except ImportError:
        return None
    return _fast


fast = _load()
