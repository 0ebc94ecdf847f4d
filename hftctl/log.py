"""Logging set-up shared by every subcommand.

The level comes from ``--log-level`` or ``HFTCTL_LOG`` (debug, info, warning, error) so that
long-running processes started by scripts can be made verbose without editing the scripts.
The format mirrors the Rust stack's ``INFO connector: ...`` lines users already grep for.
"""

from __future__ import annotations

import logging
import os
import sys

from hftctl.errors import HftctlError

_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
           "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}


def setup_logging(level: str | None = None, component: str = "hftctl") -> None:
    name = (level or os.environ.get("HFTCTL_LOG") or "info").lower()
    if name not in _LEVELS:
        raise HftctlError(f"unknown log level {name!r} (use debug, info, warning or error)")
    logging.basicConfig(
        level=_LEVELS[name],
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s {component}: %(message)s",
        force=True,
    )
