"""`hftctl sim`: a local exchange simulator speaking the real REST and websocket protocols."""

from __future__ import annotations

from pathlib import Path

import typer

from hftctl import exchanges
from hftctl.log import setup_logging


def command(
    exchange: str = typer.Option(None, help=f"Protocol to speak: {', '.join(exchanges.NAMES)} (default: the --replay recording's exchange, else {exchanges.DEFAULT})."),
    venue: str = typer.Option("testnet", help="The venue (mainnet, testnet, demo) whose host set the sim stands in for: its URL paths and the URLs in the ready file."),
    replay: list[Path] = typer.Option(None, help="Replay a recording (gzip/zstd collector format); repeat for more symbols."),
    speed: float = typer.Option(1.0, help="Replay speed multiplier (x real time)."),
    loop: bool = typer.Option(False, "--loop", help="Restart the replay at its end (sequence numbers keep increasing)."),
    seed: int = typer.Option(1, help="Seed of the synthetic market (used without --replay)."),
    config: Path = typer.Option(None, help="Sim config TOML: accounts, symbols, synthetic market, rate limits."),
    host: str = typer.Option("127.0.0.1", help="Listen address."),
    port: int = typer.Option(17001, help="Listen port (0: any free port; see --ready-file)."),
    ready_file: Path = typer.Option(None, help="Write {pid, host, port, rest_url, ws_url, control_url, connector_config, ...} here once listening (plus ws_root and per-route URLs where the exchange has routes)."),
    symbol: list[str] = typer.Option(None, help="Synthetic market symbols (default BTCUSDT, ETHUSDT)."),
    rate_limits: bool = typer.Option(None, "--rate-limits/--no-rate-limits", help="Enforce the exchange's request/order limits (default: config, on)."),
    ws_ping_interval: float = typer.Option(180.0, help="Seconds between the server's websocket pings."),
    drop_ws_every: float = typer.Option(0.0, help="Fault: drop every websocket connection every N seconds."),
    gap_every: int = typer.Option(0, help="Fault: skip a depth sequence number every N depth updates."),
    ws_delay_ms: float = typer.Option(0.0, help="Fault: delay every websocket message by this many ms."),
    rest_delay_ms: float = typer.Option(0.0, help="Fault: delay every REST response by this many ms."),
    rest_5xx_rate: float = typer.Option(0.0, help="Fault: fraction of REST calls answered 503."),
    rest_429_rate: float = typer.Option(0.0, help="Fault: fraction of REST calls answered 429 (-1003)."),
    clock_shift_ms: int = typer.Option(0, help="Fault: shift the server clock by this many ms."),
    unknown_after_exec_rate: float = typer.Option(0.0, help="Fault: fraction of order requests (new, cancel, amend) executed and then answered with the exchange's 'outcome unknown' error."),
    unknown_before_exec_rate: float = typer.Option(0.0, help="Fault: fraction of order requests answered with the 'outcome unknown' error without being executed."),
    legacy_ws_paths: bool = typer.Option(False, "--legacy-ws-paths", help="Also serve the exchange's retired websocket paths (USD-M: unrouted /ws and /stream, public streams only)."),
    log_level: str = typer.Option(None, help="debug, info, warning or error (default HFTCTL_LOG or info)."),
) -> None:
    from hftctl.sim.server import SimOptions, run
    setup_logging(log_level, "sim")
    faults = {"drop_ws_every_s": drop_ws_every, "gap_every": gap_every, "ws_delay_ms": ws_delay_ms,
              "rest_delay_ms": rest_delay_ms, "rest_5xx_rate": rest_5xx_rate,
              "rest_429_rate": rest_429_rate, "clock_shift_ms": clock_shift_ms,
              "unknown_after_exec_rate": unknown_after_exec_rate,
              "unknown_before_exec_rate": unknown_before_exec_rate}
    run(SimOptions(exchange=exchange, host=host, port=port, replay=list(replay or []), speed=speed,
                   loop=loop, seed=seed, config=config, ready_file=ready_file,
                   faults={k: v for k, v in faults.items() if v}, ws_ping_interval_s=ws_ping_interval,
                   rate_limits=rate_limits, symbols=[s.upper() for s in symbol] if symbol else None,
                   legacy_ws_paths=legacy_ws_paths, venue=venue))
