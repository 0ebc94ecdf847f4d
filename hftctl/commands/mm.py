"""`hftctl mm`: the grid market maker, live, dry-run or backtest."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hftctl.commands import _bot_options as opt
from hftctl.log import setup_logging


def command(
    connector: Optional[str] = typer.Option(None, "--connector", help="Connector name (default bf)."),
    symbol: Optional[str] = typer.Option(None, "--symbol", help="Symbol, e.g. btcusdt."),
    tick_size: Optional[float] = typer.Option(None, "--tick-size", help="Price step (default 0.1)."),
    lot_size: Optional[float] = typer.Option(None, "--lot-size", help="Quantity step (default 0.001)."),
    half_spread: Optional[float] = typer.Option(None, "--half-spread", help="Fraction of mid (0.0005 = 0.05%)."),
    grid_interval: Optional[float] = typer.Option(None, "--grid-interval", help="Fraction of mid between grid levels."),
    grid_num: Optional[int] = typer.Option(None, "--grid-num", help="Quotes per side."),
    order_qty: Optional[float] = typer.Option(None, "--order-qty", help="Quantity per quote."),
    max_position: Optional[float] = typer.Option(None, "--max-position", help="Largest |position|."),
    skew: Optional[float] = typer.Option(None, "--skew", help="Quote shift per order_qty of position (default 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML with the same keys (configs/mm.toml); flags override it."),
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
    from hftctl.strategies.grid_mm import GridMarketMaker, load_grid_config
    setup_logging(log_level, "mm")
    check_mode(dry_run, backtest, plot, duration, connect_timeout)
    cfg = load_grid_config(config, dict(
        connector=connector, symbol=symbol, tick_size=tick_size, lot_size=lot_size,
        half_spread=half_spread, grid_interval=grid_interval, grid_num=grid_num,
        order_qty=order_qty, max_position=max_position, skew=skew))
    sim = load_sim_settings(config, opt.sim_flags(locals()), backtest=backtest is not None)
    instrument = Instrument(cfg.symbol, cfg.tick_size, cfg.lot_size, cfg.connector)
    code = run_mode(lambda bot, out: GridMarketMaker(bot, cfg, out=out), cfg.connector, instrument,
                    name="mm", backtest=backtest, dry_run=dry_run, plot=plot, duration_s=duration,
                    sim=sim, as_json=json_out,
                    connect_timeout=connect_timeout, out=typer.echo)
    raise typer.Exit(code)
