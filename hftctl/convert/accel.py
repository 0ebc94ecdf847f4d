"""The converter's optional C accelerator (``_scan.c``), or None.

The C scans accept only the plain layout exchanges write and hand anything else back, so both
paths give the same rows; the pure-Python one is what runs where no C compiler was available at
install time, or with ``HFTCTL_PURE_PYTHON=1`` (the tests compare the two this way).
"""

from __future__ import annotations

import logging
import os
from types import ModuleType

log = logging.getLogger(__name__)


def _load() -> ModuleType | None:
    if os.environ.get("HFTCTL_PURE_PYTHON", "") not in ("", "0"):
        log.debug("converter: pure-Python path (HFTCTL_PURE_PYTHON)")
        return None
    try:
        from hftctl.convert import _scan
    except ImportError as exc:
        log.debug("converter: C accelerator not built (%s); pure-Python path", exc)
        return None
    return _scan


# Looked up at call time (``accel.scan``), so a test can switch paths within one process.
scan: ModuleType | None = _load()
