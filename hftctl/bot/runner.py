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

import numpy as np

from hftctl.bot.api import Bot
from hftctl.bot.models import ExecutionModel, require_finite
from hftctl.bot.settings import SimSettings
from hftctl.bot.types import Instrument
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)


class Strategy(Protocol):
    def banner(self) -> str: ...

    def run(self, stop: threading.Event | None = None, max_iterations: int | None = None) -> None: ...


Printer = Callable[[str], None]


def backtest_bot(data, instrument: Instrument, model: ExecutionModel | None = None, *,
                 engine: str = "auto", duration_s: float | None = None):
    """A backtest bot on the engine asked for: hftbacktest's when installed (``auto``, the
    default), else the built-in one. Returns (bot, note); the note says why the built-in
    engine ran when hftbacktest's was wanted but is missing."""
    from hftctl.bot import hbt_engine
    from hftctl.bot.backtest import BacktestBot, load_events

    if not isinstance(data, np.ndarray):
        data = load_events(data)
    duration_ns = None if duration_s is None else int(duration_s * 1e9)
    note = ""
    if engine == "hftbacktest" or (engine == "auto" and hbt_engine.available()):
        return hbt_engine.HbtBot(data, instrument, model, duration_ns=duration_ns), note
    if engine == "auto":
        note = f"hftbacktest is not installed: the built-in engine ran ({hbt_engine.INSTALL_HINT})"
        log.warning("%s", note)
    return BacktestBot(data, instrument, model, duration_ns=duration_ns), note


def run_backtest(make: Callable[[Bot], Strategy], data, instrument: Instrument, *,
                 model: ExecutionModel | None = None, engine: str = "auto", plot: str | Path | None = None,
                 duration_s: float | None = None, out: Printer = print, as_json: bool = False):
    """Replay ``data`` through the strategy, print the metrics, optionally plot equity."""
    from hftctl.bot.report import build_report, format_report, plot_equity

    bot, note = backtest_bot(data, instrument, model, engine=engine, duration_s=duration_s)
    try:
        strategy = make(bot)
        if not as_json:
            out(strategy.banner())
        started = time.perf_counter()
        with _progress(bot):
            strategy.run()
        report = build_report(bot, time.perf_counter() - started)
        out(report.to_json() if as_json else format_report(report, note))
        if plot is not None:
            path = plot_equity(bot, plot)
            if not as_json:
                out(f"Equity curve written to {path}")
    finally:
        bot.close()
    return report


@contextmanager
def _progress(bot):
    """A progress bar on stderr while a backtest runs, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(f"backtest ({bot.engine})"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("backtest", total=bot.progress()[1])
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
             duration_s: float | None, sim: SimSettings, as_json: bool, connect_timeout: float,
             out: Printer = print) -> int:
    """What every strategy command does after building its config: backtest or run live.

    ``make(bot, out)`` builds the strategy; in a backtest its own chatter is silenced so only the
    report is printed. Returns the exit code.
    """
    model = sim.model()
    if backtest is not None:
        run_backtest(lambda bot: make(bot, lambda _l: None), backtest, instrument, model=model,
                     engine=sim.engine, plot=plot, duration_s=duration_s, as_json=as_json, out=out)
        return 0
    return run_live(lambda bot: make(bot, out), connector, instrument, dry_run=dry_run, name=name,
                    duration_s=duration_s, out=out, model=model, connect_timeout=connect_timeout)


def check_mode(dry_run: bool, backtest: Path | None, plot: Path | None, duration: float | None,
               connect_timeout: float) -> None:
    """The mode flags every strategy command shares, checked before anything starts."""
    if dry_run and backtest is not None:
        raise HftctlError("--dry-run and --backtest are exclusive (a backtest never sends orders anyway)")
    if plot is not None and backtest is None:
        raise HftctlError("--plot only applies to --backtest")
    if duration is not None:
        require_finite("--duration", duration, 0.0, lo_open=True)
    require_finite("--connect-timeout", connect_timeout, 0.0, 3600.0, lo_open=True)
