"""Helpers shared by the command modules."""

from __future__ import annotations

from hftctl.errors import HftctlError


def not_implemented(name: str) -> None:
    """Refuse honestly: a subcommand that does not exist yet must not pretend to work."""
    raise HftctlError(f"hftctl {name}: not implemented yet")
