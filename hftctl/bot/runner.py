"""Run a strategy in one of the three modes; what the ``mm`` and ``obi-mm`` commands call.

A strategy is any object with ``banner()``, ``run(stop)`` and ``shutdown()`` built from a bot by
a factory, so the same strategy code runs live, dry-run and in a backtest.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from hftctl.bot.api import Bot
from hftctl.bot.matching import ExecutionModel
from hftctl.bot.types import Instrument
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)


class Strategy(Protocol):
    def banner(self) -> str: ...

    def run(self, stop: threading.Event | None = None, max_iterations: int | None = None) -> None: ...


Printer = Callable[[str], None]


def run_backtest(make: Callable[[Bot], Strategy], data: str | Path, instrument: Instrument, *,
                 model: ExecutionModel | None = None, plot: str | Path | None = None,
                 duration_s: float | None = None, out: Printer = print, as_json: bool = False):
    """Replay ``data`` through the strategy, print the metrics, optionally plot equity."""
    from hftctl.bot.backtest import BacktestBot
    from hftctl.bot.report import build_report, format_report, plot_equity

    bot = BacktestBot(data, instrument, model,
                      duration_ns=None if duration_s is None else int(duration_s * 1e9))
    strategy = make(bot)
    if not as_json:
        out(strategy.banner())
    started = time.perf_counter()
    with _progress(bot):
        strategy.run()
    report = build_report(bot, time.perf_counter() - started)
    out(report.to_json() if as_json else format_report(report))
    if plot is not None:
        path = plot_equity(bot, plot)
        if not as_json:
            out(f"Equity curve written to {path}")
    return report


@contextmanager
def _progress(bot):
    """A progress bar on stderr while a backtest runs, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("backtest"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} events"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("backtest", total=bot.events_total)
        bot.on_progress = lambda done, total: progress.update(task, completed=done)
        try:
            yield
        finally:
            bot.on_progress = None


def open_transport(connector: str, name: str, timeout: float = 5.0):
    """The bot end of connector NAME's channels; attaching says Hello."""
    from hftctl.ipc.endpoint import BotEndpoint
    return BotEndpoint.attach(connector, bot_name=name, timeout=timeout)


def run_live(make: Callable[[Bot], Strategy], connector: str, instrument: Instrument, *,
             dry_run: bool = False, name: str = "bot", out: Printer = print,
             duration_s: float | None = None, transport=None,
             model: ExecutionModel | None = None, connect_timeout: float = 5.0) -> int:
    """Run against connector NAME until SIGINT/SIGTERM (or ``duration_s``); cancel on the way out.

    Returns the process exit code: 0 on a clean stop, 1 if the connector went away or orders
    could not be confirmed cancelled.
    """
    from hftctl.bot.live import LiveBot

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    timer = None
    if duration_s is not None:
        timer = threading.Timer(duration_s, stop.set)
        timer.daemon = True
        timer.start()
    if transport is None:
        transport = open_transport(connector, name, connect_timeout)
    bot = None
    left = 0
    try:
        kwargs = {"model": model} if model is not None else {}
        bot = LiveBot(transport, [instrument], name=name, dry_run=dry_run, **kwargs)
        strategy = make(bot)
        out(strategy.banner())
        if dry_run:
            out("DRY RUN: orders are simulated locally; nothing is sent to the exchange.")
        strategy.run(stop)
    finally:
        if timer is not None:
            timer.cancel()
        if bot is not None:
            left = bot.close()
        else:
            transport.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    acc = bot.account(0)
    out(f"Stopped. Position: {acc.position:.4f} | Trades: {acc.num_trades} | Open orders: {left}"
        + (" (virtual)" if dry_run else ""))
    if bot.error is not None:
        raise HftctlError(bot.error)
    return 1 if left else 0


def run_mode(make: Callable[[Bot, Printer], Strategy], connector: str, instrument: Instrument, *,
             name: str, backtest: Path | None, dry_run: bool, plot: Path | None,
             duration_s: float | None, latency_ms: float, maker_fee: float, taker_fee: float,
             as_json: bool, connect_timeout: float, out: Printer = print) -> int:
    """What every strategy command does after building its config: backtest or run live.

    ``make(bot, out)`` builds the strategy; in a backtest its own chatter is silenced so only the
    report is printed. Returns the exit code.
    """
    model = execution_model(latency_ms, maker_fee, taker_fee)
    if backtest is not None:
        run_backtest(lambda bot: make(bot, lambda _l: None), backtest, instrument, model=model,
                     plot=plot, duration_s=duration_s, as_json=as_json, out=out)
        return 0
    return run_live(lambda bot: make(bot, out), connector, instrument, dry_run=dry_run, name=name,
                    duration_s=duration_s, out=out, model=model, connect_timeout=connect_timeout)


def execution_model(latency_ms: float, maker_fee: float, taker_fee: float) -> ExecutionModel:
    """The simulated-execution model from command-line flags (backtest and dry run)."""
    if not latency_ms >= 0:
        raise HftctlError(f"--latency-ms must be >= 0, got {latency_ms}")
    ns = int(latency_ms * 1_000_000)
    return ExecutionModel(entry_latency_ns=ns, response_latency_ns=ns, maker_fee=maker_fee, taker_fee=taker_fee)


def check_mode(dry_run: bool, backtest: Path | None, plot: Path | None) -> None:
    if dry_run and backtest is not None:
        raise HftctlError("--dry-run and --backtest are exclusive (a backtest never sends orders anyway)")
    if plot is not None and backtest is None:
        raise HftctlError("--plot only applies to --backtest")
