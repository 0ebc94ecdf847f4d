"""The converter's optional C accelerator (``_scan.c``), or None.

The C scans accept only the plain layout exchanges write and hand anything else back, so both
paths give the same rows; the pure-Python one is what runs where no C compiler was available at
install time, or with ``HFTCTL_PURE_PYTHON=1`` (the tests compare the two this way).
"""

from __future__ import annotations

import os
from types import ModuleType


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get("HFTCTL_PURE_PYTHON", "") not in ("", "0"):
        return None, "pure-Python parser (HFTCTL_PURE_PYTHON is set)"
    try:
        from hftctl.convert import _scan
    except ImportError as exc:
        return None, f"pure-Python parser (the C accelerator was not built: {exc})"
    return _scan, "C-accelerated parser"


# Looked up at call time (``accel.scan``), so a test can switch paths within one process.
scan, description = _load()
