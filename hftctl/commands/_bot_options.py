"""The options every strategy command (``mm``, ``obi-mm``) shares: mode, simulated execution, output.

Declared once so the commands cannot drift apart in names, defaults or help text; each command
declares only its strategy's own parameters. Simulated-execution options default to None so a
config file's ``[backtest]`` table can set them and a flag still wins (hftctl/bot/settings.py,
which also checks every value).
"""

from __future__ import annotations

import typer

DRY_RUN = typer.Option(False, "--dry-run", help="Live market data, simulated orders; nothing is sent.")
BACKTEST = typer.Option(None, "--backtest", help="Replay FILE.npz (hftctl convert output) instead.")
PLOT = typer.Option(None, "--plot", help="Backtest: write the equity curve PNG here.")
DURATION = typer.Option(None, "--duration", help="Seconds: stop live after this long / backtest only the first part of the data.")
ENGINE = typer.Option(None, "--engine", help="Backtest engine: auto (hftbacktest's if installed, else built-in; default), hftbacktest, builtin.")
LATENCY_MS = typer.Option(None, "--latency-ms", help="Constant one-way order latency, ms (default 10; backtest, dry run).")
ORDER_LATENCY = typer.Option(None, "--order-latency", help="Backtest: 'feed' (order latency = feed latency of the recording x --feed-latency-mul) or an order-latency FILE.npz (req_ts, exch_ts, resp_ts).")
FEED_LATENCY_MUL = typer.Option(None, "--feed-latency-mul", help="Backtest with --order-latency feed: multiplier of the feed latency, each way (default 1).")
QUEUE_MODEL = typer.Option(None, "--queue-model", help="Backtest queue position: risk-averse (default), power, power2, power3, log, log2 (hftbacktest's probabilistic models).")
QUEUE_POWER = typer.Option(None, "--queue-power", help="Exponent of the power queue models (default 2).")
PARTIAL_FILLS = typer.Option(None, "--partial-fills/--no-partial-fills", help="Backtest: hftbacktest's partial-fill exchange (default: no partial fills).")
MAKER_FEE = typer.Option(None, "--maker-fee", help="Simulated maker fee rate, fraction of traded value (default 0.0002; negative = rebate).")
TAKER_FEE = typer.Option(None, "--taker-fee", help="Simulated taker fee rate (default 0.0005).")
JSON_OUT = typer.Option(False, "--json", help="Backtest: print the result as JSON.")
CONNECT_TIMEOUT = typer.Option(5.0, "--connect-timeout", help="Seconds to wait for the connector to appear.")
LOG_LEVEL = typer.Option(None, "--log-level", help="debug, info, warning, error.")

SIM_FLAGS = ("engine", "latency_ms", "order_latency", "feed_latency_mul", "queue_model", "queue_power",
             "partial_fills", "maker_fee", "taker_fee")


def sim_flags(params: dict) -> dict:
    """The simulated-execution flags among a command's parameters (None: not given)."""
    return {k: params[k] for k in SIM_FLAGS}
