"""`hftctl collect`: record public market data, directly from the exchange or from a connector."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hftctl import exchanges
from hftctl.errors import HftctlError
from hftctl.log import setup_logging


def command(
    source: str = typer.Argument(..., metavar="EXCHANGE|NAME",
                                 help=f"Exchange ({', '.join(exchanges.NAMES)}), or with --ipc the connector name."),
    symbols: list[str] = typer.Argument(..., metavar="SYMBOL...", help="Symbols to record, e.g. btcusdt ethusdt."),
    ipc: bool = typer.Option(False, "--ipc", help="Record what connector NAME publishes instead of connecting to the exchange."),
    out: Path = typer.Option(Path("./data"), "--out", "-o", help="Output directory."),
    compress: str = typer.Option("gzip", "--compress", help="gzip (.gz) or zstd (.zst)."),
    rotate: str = typer.Option("1h", "--rotate", envvar="HFTCTL_COLLECT_ROTATE",
                               help="New file every DURATION (e.g. 1h, 30m, 1d, never)."),
    snapshot_interval: str = typer.Option("0", "--snapshot-interval",
                                          help="Extra REST depth snapshot every DURATION; 0 = only at start, after reconnects and gaps (hftbacktest's behaviour)."),
    venue: Optional[str] = typer.Option(None, "--venue", help="mainnet (the default: the real market), testnet or demo: the exchange's official URLs for it. Public data moves no money: no --allow-mainnet needed."),
    streams: Optional[str] = typer.Option(None, "--streams", help="Optional streams to record too, comma-separated, e.g. markPrice,forceOrder,aggTrade or tickers,allLiquidation (each exchange's list: docs/collect.md)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML with venue, or stream_url / api_url (a connector config works)."),
    stream_url: Optional[str] = typer.Option(None, "--stream-url", help="Websocket base URL of the public streams instead of the venue's; for an exchange with stream routes, its root or any route."),
    rest_url: Optional[str] = typer.Option(None, "--rest-url", help="REST base URL for depth snapshots instead of the venue's."),
    stand_in: Optional[str] = typer.Option(None, "--stand-in", hidden=True, help="HOST:PORT (loopback only) serving the venue's URL set, e.g. hftctl sim: for tests."),
    allow_mainnet: bool = typer.Option(False, "--allow-mainnet", hidden=True, help="Accepted for old scripts; recording public data needs no permission."),
    flush_interval: float = typer.Option(1.0, "--flush-interval", help="Seconds between flushes to disk (<= 1)."),
    duration: Optional[str] = typer.Option(None, "--duration", help="Stop by itself after DURATION."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Live display (default: on a terminal)."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="debug, info, warning, error."),
) -> None:
    from hftctl.collector.main import collect
    from hftctl.collector.options import CollectOptions, check_symbols, parse_duration, parse_streams, resolve_venue
    setup_logging(log_level, "collect")
    if not 0 < flush_interval <= 1.0:
        raise HftctlError("--flush-interval must be in (0, 1] seconds")
    opts = CollectOptions(
        symbols=check_symbols(symbols), out=out, compress=compress,
        rotate_s=parse_duration(rotate, "--rotate"), flush_interval=flush_interval,
        duration=parse_duration(duration, "--duration") if duration else None, progress=progress,
        snapshot_interval=parse_duration(snapshot_interval, "--snapshot-interval"),
    )
    if ipc:
        if stream_url or rest_url or config or venue or streams or stand_in:
            raise HftctlError("--ipc records what the connector publishes; --venue, --streams, URL options "
                              "and --config do not apply")
        opts.ipc_name = source
    else:
        opts.exchange = source
        opts.venue = resolve_venue(source, venue, config, stream_url, rest_url, stand_in)
        opts.streams = parse_streams(streams)
        exchanges.get(source).collector().with_streams(opts.streams)    # one-line error for a wrong name
    collect(opts)
