"""The options every strategy command (``mm``, ``obi-mm``) shares: mode, simulated execution, output.

Declared once so the commands cannot drift apart in names, defaults or help text; each command
declares only its strategy's own parameters.
"""

from __future__ import annotations

import typer

DRY_RUN = typer.Option(False, "--dry-run", help="Live market data, simulated orders; nothing is sent.")
BACKTEST = typer.Option(None, "--backtest", help="Replay FILE.npz (hftctl convert output) instead.")
PLOT = typer.Option(None, "--plot", help="Backtest: write the equity curve PNG here.")
DURATION = typer.Option(None, "--duration", help="Seconds: stop live after this long / backtest only the first part of the data.")
LATENCY_MS = typer.Option(10.0, "--latency-ms", help="Simulated one-way order latency (backtest, dry run).")
MAKER_FEE = typer.Option(0.0002, "--maker-fee", help="Simulated maker fee rate (negative = rebate).")
TAKER_FEE = typer.Option(0.0005, "--taker-fee", help="Simulated taker fee rate.")
JSON_OUT = typer.Option(False, "--json", help="Backtest: print the result as JSON.")
CONNECT_TIMEOUT = typer.Option(5.0, "--connect-timeout", help="Seconds to wait for the connector to appear.")
LOG_LEVEL = typer.Option(None, "--log-level", help="debug, info, warning, error.")
