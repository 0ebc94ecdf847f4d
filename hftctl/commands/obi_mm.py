"""`hftctl obi-mm`: the order-book-imbalance market maker, live, dry-run or backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hftctl.commands import _bot_options as opt
from hftctl.log import setup_logging

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "obi_mm.toml"


def command(
    config: Optional[Path] = typer.Option(None, "--config", help="TOML with \\[global], \\[params], \\[stop_loss] tables (default configs/obi_mm.toml)."),
    connector: str = typer.Option("bf", "--connector", help="Connector name."),
    symbol: str = typer.Option("btcusdt", "--symbol", help="Symbol, e.g. btcusdt."),
    tick_size: float = typer.Option(0.1, "--tick-size", help="Price step."),
    lot_size: float = typer.Option(0.001, "--lot-size", help="Quantity step."),
    dry_run: bool = opt.DRY_RUN,
    backtest: Optional[Path] = opt.BACKTEST,
    plot: Optional[Path] = opt.PLOT,
    duration: Optional[float] = opt.DURATION,
    engine: Optional[str] = opt.ENGINE,
    latency_ms: Optional[float] = opt.LATENCY_MS,
    order_latency: Optional[str] = opt.ORDER_LATENCY,
    feed_latency_mul: Optional[float] = opt.FEED_LATENCY_MUL,
    queue_model: Optional[str] = opt.QUEUE_MODEL,
    queue_power: Optional[float] = opt.QUEUE_POWER,
    partial_fills: Optional[bool] = opt.PARTIAL_FILLS,
    maker_fee: Optional[float] = opt.MAKER_FEE,
    taker_fee: Optional[float] = opt.TAKER_FEE,
    json_out: bool = opt.JSON_OUT,
    connect_timeout: float = opt.CONNECT_TIMEOUT,
    log_level: Optional[str] = opt.LOG_LEVEL,
) -> None:
    from hftctl.bot.runner import check_mode, run_mode
    from hftctl.bot.settings import load_sim_settings
    from hftctl.bot.types import Instrument
    from hftctl.strategies.obi_mm import ObiMarketMaker, load_obi_config
    setup_logging(log_level, "obi-mm")
    check_mode(dry_run, backtest, plot, duration, connect_timeout)
    cfg = load_obi_config(config or DEFAULT_CONFIG)
    sim = load_sim_settings(config or DEFAULT_CONFIG, opt.sim_flags(locals()), backtest=backtest is not None)
    instrument = Instrument(symbol, tick_size, lot_size, connector)
    code = run_mode(lambda bot, out: ObiMarketMaker(bot, cfg, connector=connector, symbol=symbol, out=out),
                    connector, instrument, name="obi-mm", backtest=backtest, dry_run=dry_run, plot=plot,
                    duration_s=duration, sim=sim, as_json=json_out, connect_timeout=connect_timeout, out=typer.echo)
    raise typer.Exit(code)
