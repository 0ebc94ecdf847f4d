"""`hftctl demo`: the whole stack offline for a bounded time, then convert and summarise."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hftctl.log import setup_logging


def command(
    seconds: float = typer.Option(60.0, "--seconds", help="How long to run the stack once it is up."),
    replay: Optional[Path] = typer.Option(None, "--replay", help="Replay this recording in the sim (looped) instead of a synthetic market."),
    speed: float = typer.Option(1.0, "--speed", help="Replay speed multiplier."),
    symbol: Optional[str] = typer.Option(None, "--symbol", help="Symbol to trade (default BTCUSDT, or the replay file's)."),
    out: Path = typer.Option(Path("hftctl-demo"), "--out", "-o", help="Directory for the run's recording, .npz and logs."),
    name: Optional[str] = typer.Option(None, "--name", help="Connector name (default demo<pid>)."),
    live: Optional[bool] = typer.Option(None, "--live/--no-live", help="Live status display (default: on a terminal)."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="debug, info, warning, error."),
) -> None:
    setup_logging(log_level or "warning", "demo")
    from hftctl.demo.run import run_demo
    from hftctl.demo.stack import DemoOptions
    from hftctl.ipc.segments import check_name

    opts = DemoOptions(seconds=seconds, out=out, replay=replay, speed=speed, symbol=symbol, live=live)
    if name is not None:
        opts.name = check_name(name)
    result = run_demo(opts)
    raise typer.Exit(130 if result.interrupted else 0)
