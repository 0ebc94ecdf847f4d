"""`hftctl connector NAME EXCHANGE CONFIG.toml`: bridge one exchange account and local bots."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hftctl import exchanges
from hftctl.log import setup_logging


def command(
    name: str = typer.Argument(..., help="Connector name; bots connect to it by this name (e.g. bf)."),
    exchange: str = typer.Argument(..., help=", ".join(exchanges.NAMES) + "."),
    config: Path = typer.Argument(..., help="TOML config (see configs/*.toml). Secrets may come from "
                                            "HFTCTL_API_KEY / HFTCTL_SECRET instead."),
    venue: Optional[str] = typer.Option(None, "--venue", help="testnet (the default), demo or mainnet: the exchange's official URLs, when the config names none (else its 'venue' key)."),
    allow_mainnet: bool = typer.Option(False, "--allow-mainnet", help="Permit real-money (mainnet) URLs and --venue mainnet."),
    stand_in: Optional[str] = typer.Option(None, "--stand-in", hidden=True, help="HOST:PORT (loopback only) serving the venue's URL set, e.g. hftctl sim: for tests."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="debug, info, warning, error (or HFTCTL_LOG)."),
) -> None:
    from hftctl.connector.run import run_connector
    setup_logging(log_level, "connector")
    run_connector(name, exchange, config, allow_mainnet, venue, stand_in)
