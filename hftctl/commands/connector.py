"""`hftctl connector` (not built yet)."""

from __future__ import annotations

import typer

from hftctl.commands._common import not_implemented


def command(args: list[str] = typer.Argument(None, help="Arguments (not implemented yet).")) -> None:
    not_implemented("connector")
