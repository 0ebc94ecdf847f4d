"""`hftctl obi-mm`: the order-book-imbalance market maker, live, dry-run or backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hftctl.bot.runner import check_mode, run_mode
from hftctl.bot.types import Instrument
from hftctl.log import setup_logging
from hftctl.strategies.obi_mm import ObiMarketMaker, load_obi_config

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "obi_mm.toml"


def command(
    config: Optional[Path] = typer.Option(None, "--config", help="TOML with \\[global], \\[params], \\[stop_loss] tables (default configs/obi_mm.toml)."),
    connector: str = typer.Option("bf", "--connector", help="Connector name."),
    symbol: str = typer.Option("btcusdt", "--symbol", help="Symbol, e.g. btcusdt."),
    tick_size: float = typer.Option(0.1, "--tick-size", help="Price step."),
    lot_size: float = typer.Option(0.001, "--lot-size", help="Quantity step."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Live market data, simulated orders; nothing is sent."),
    backtest: Optional[Path] = typer.Option(None, "--backtest", help="Replay FILE.npz (hftctl convert output) instead."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Backtest: write the equity curve PNG here."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Seconds: stop live after this long / backtest only the first part of the data."),
    latency_ms: float = typer.Option(10.0, "--latency-ms", help="Simulated one-way order latency (backtest, dry run)."),
    maker_fee: float = typer.Option(0.0002, "--maker-fee", help="Simulated maker fee rate (negative = rebate)."),
    taker_fee: float = typer.Option(0.0005, "--taker-fee", help="Simulated taker fee rate."),
    json_out: bool = typer.Option(False, "--json", help="Backtest: print the result as JSON."),
    connect_timeout: float = typer.Option(5.0, "--connect-timeout", help="Seconds to wait for the connector to appear."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="debug, info, warning, error."),
) -> None:
    setup_logging(log_level, "obi-mm")
    check_mode(dry_run, backtest, plot)
    cfg = load_obi_config(config or DEFAULT_CONFIG)
    instrument = Instrument(symbol, tick_size, lot_size, connector)
    code = run_mode(lambda bot, out: ObiMarketMaker(bot, cfg, connector=connector, symbol=symbol, out=out),
                    connector, instrument, name="obi-mm", backtest=backtest, dry_run=dry_run, plot=plot,
                    duration_s=duration, latency_ms=latency_ms, maker_fee=maker_fee, taker_fee=taker_fee,
                    as_json=json_out, connect_timeout=connect_timeout, out=typer.echo)
    raise typer.Exit(code)
